import { useCallback, useEffect, useRef, useState } from "react";
import { ApiError, friendlyMessage } from "../api/client";
import { api } from "../api/endpoints";
import type { EventOut, QueueState } from "../api/types";
import { AuthForm } from "../components/AuthForm";
import { ErrorBox, LiveIndicator, Loading, Notice, ProgressBar } from "../components/ui";
import { isSeated } from "../lib/events";
import { formatDateTime, formatEta, formatLongCountdown } from "../lib/format";
import { useLoad, useNow, usePoll, useTitle } from "../lib/hooks";
import { useLive } from "../lib/live";
import { href, navigate } from "../lib/router";
import { sha256Hex, solveChallenge } from "../lib/sha256";
import { firstPosition, getIntent, setAdmission, setIntent, setSession, useSession } from "../lib/storage";

type QueueMessage =
  | { type: "position"; position: number | null; eta_s: number | null; state?: QueueState["state"] }
  | { type: "admitted"; admission_token: string; admission_expires_at?: string }
  | { type: "sold_out"; state?: QueueState["state"] };

/** Close codes of the queue socket after which reconnecting cannot help. */
const FINAL_CLOSE = new Set([1000, 4401, 4403, 4409]);

export function WaitingRoomPage({ eventId }: { eventId: string }) {
  const session = useSession();
  const ev = useLoad((signal) => api.event(eventId, signal), [eventId]);
  useTitle(ev.data ? `Waiting room · ${ev.data.name}` : "Waiting room");

  if (!session) {
    return (
      <div className="narrow">
        <h1>Waiting room</h1>
        {ev.data && <p className="lead">{ev.data.name}</p>}
        <AuthForm intro="Sign in to take your place in the line. You keep it even if you reload the page." />
      </div>
    );
  }
  if (ev.loading && !ev.data) return <Loading label="Loading the waiting room…" />;
  if (!ev.data) {
    return <ErrorBox title="We could not open the waiting room" error={ev.error} onRetry={() => void ev.reload()} />;
  }
  return <Queue event={ev.data} token={session.token} customerId={session.customer.id} />;
}

function Queue({ event, token, customerId }: { event: EventOut; token: string; customerId: string }) {
  const [state, setState] = useState<QueueState | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [solving, setSolving] = useState(false);
  const [advancing, setAdvancing] = useState(false);
  const [advanceError, setAdvanceError] = useState<unknown>(null);
  const advanced = useRef(false);
  const now = useNow(1000);

  const apply = useCallback((next: QueueState) => {
    setState((old) => ({ ...old, ...next }));
    setError(null);
  }, []);

  const fail = useCallback((err: unknown) => {
    if (err instanceof ApiError && err.status === 401) setSession(null);
    setError(err);
  }, []);

  // Join (or find again) our place: joining twice returns the same place, so a reload keeps it.
  // When the event asks for a proof of work, solve the server's challenge first.
  const join = useCallback(async () => {
    try {
      apply(await api.joinQueue(event.id, token));
    } catch (err) {
      if (!(err instanceof ApiError && err.code === "pow_required")) return fail(err);
      try {
        setSolving(true);
        const ch = await api.queueChallenge(event.id, token);
        const nonce = await solveChallenge(ch.challenge, ch.difficulty);
        apply(await api.joinQueue(event.id, token, { pow_challenge: ch.challenge, pow_nonce: nonce }));
      } catch (err2) {
        fail(err2);
      } finally {
        setSolving(false);
      }
    }
  }, [apply, fail, event.id, token]);

  const catchUp = useCallback(async () => {
    try {
      apply(await api.queueMe(event.id, token));
    } catch (err) {
      if (err instanceof ApiError && err.status === 404) await join();
      else fail(err);
    }
  }, [apply, fail, event.id, token, join]);

  useEffect(() => {
    void join();
  }, [join]);

  const live = useLive(
    state ? `/api/events/${encodeURIComponent(event.id)}/queue/ws?token=${encodeURIComponent(token)}` : null,
    (data) => {
      const msg = data as QueueMessage;
      if (msg?.type === "position") {
        setState((s) => ({
          ...(s ?? { status: "waiting" }),
          status: "waiting",
          position: msg.position,
          eta_s: msg.eta_s,
          ...(msg.state ? { state: msg.state } : {}),
        }));
      } else if (msg?.type === "admitted") {
        setState((s) => ({
          ...(s ?? { position: 0, eta_s: 0 }),
          status: "admitted",
          admission_token: msg.admission_token,
          admission_expires_at: msg.admission_expires_at,
        }));
      } else if (msg?.type === "sold_out") {
        setState((s) => ({ ...(s ?? { position: null, eta_s: null }), status: "sold_out" }));
      }
    },
    (reconnected) => {
      // The opening message repeats the place; after a drop, also fetch it (catch up).
      if (reconnected) void catchUp();
    },
    (code) => {
      if (code === 4404) void join();
      if (FINAL_CLOSE.has(code)) {
        void catchUp();
        return false;
      }
      return true;
    },
  );

  // Without a live socket, ask every few seconds; with one, now and then as a safety net.
  usePoll(() => void catchUp(), live === "open" ? 15_000 : 3_000, state?.status === "waiting");

  // Admitted: take the tickets and go to the checkout by ourselves.
  useEffect(() => {
    if (state?.status !== "admitted" || !state.admission_token || advanced.current) return;
    advanced.current = true;
    setAdmission(event.id, { token: state.admission_token, expires_at: state.admission_expires_at });
    if (isSeated(event)) {
      navigate(`/events/${event.id}`, { replace: true });
      return;
    }
    const intent = getIntent(event.id) ?? { quantity: 1, half_price: 0 };
    setAdvancing(true);
    api
      .createHold(
        event.id,
        { quantity: intent.quantity, ...(intent.half_price ? { half_price: intent.half_price } : {}) },
        token,
        state.admission_token,
      )
      .then((hold) => {
        setAdmission(event.id, null);
        setIntent(event.id, null);
        navigate(`/checkout/${hold.id}`, { replace: true });
      })
      .catch((err: unknown) => {
        setAdvancing(false);
        if (err instanceof ApiError && err.code === "sold_out") {
          setState((s) => (s ? { ...s, status: "sold_out" } : s));
        } else {
          setAdvanceError(err);
        }
      });
  }, [state, event, token]);

  async function leave() {
    try {
      await api.leaveQueue(event.id, token);
    } catch {
      /* leaving is best effort: an unused place expires by itself */
    }
    setIntent(event.id, null);
    navigate(`/events/${event.id}`);
  }

  const opensAt = state?.sales_open_at ?? event.sales_open_at ?? null;
  const opensIn = opensAt ? Math.ceil((Date.parse(opensAt) - now) / 1000) : 0;
  const lottery = (state?.prequeue ?? event.waiting_room?.prequeue) === "lottery";

  if (error && !state) {
    return (
      <ErrorBox title="We could not take your place in line" error={error} onRetry={() => void join()}>
        {error instanceof ApiError && error.status === 401 && <p>Please sign in again to rejoin.</p>}
      </ErrorBox>
    );
  }
  if (!state) {
    return <Loading label={solving ? "Checking your browser (a short puzzle that keeps bots out)…" : "Taking your place in line…"} />;
  }

  if (state.status === "sold_out") {
    return (
      <div className="narrow sold-out-page">
        <p className="eyebrow">{event.name}</p>
        <h1>Sold out</h1>
        <Notice kind="warning" role="alert" title="Every ticket has been sold">
          <p>
            We are sorry: the tickets ran out before your turn came. You have not been charged. If a buyer does not pay in
            time their tickets return to sale, and the event page shows it at once.
          </p>
        </Notice>
        <div className="actions">
          <a className="btn btn-primary" href={href("/")}>
            Find another event
          </a>
          <a className="btn btn-ghost" href={href(`/events/${event.id}`)}>
            Back to the event
          </a>
        </div>
      </div>
    );
  }

  const position = state.position;
  const first = state.status === "waiting" && position ? firstPosition(event.id, position) : (position ?? 0);
  const ahead = Math.max(0, (position ?? 1) - 1);
  const paused = state.state === "paused";

  return (
    <div className="narrow waiting-room">
      <p className="eyebrow">
        <a href={href(`/events/${event.id}`)}>{event.name}</a> · {formatDateTime(event.starts_at)}
      </p>
      <div className="wr-header">
        <h1>Waiting room</h1>
        <LiveIndicator state={live} />
      </div>

      {state.status === "admitted" ? (
        <Notice kind="success" role="alert" title="It is your turn!">
          {advanceError ? (
            <>
              <p>{friendlyMessage(advanceError)}</p>
              <a className="btn btn-primary" href={href(`/events/${event.id}`)}>
                Choose tickets
              </a>
            </>
          ) : (
            <p>{advancing ? "Holding your tickets and opening the checkout…" : "Opening the checkout…"}</p>
          )}
        </Notice>
      ) : (
        <>
          {opensIn > 0 && (
            <section className="panel prequeue" aria-labelledby="pq-title">
              <h2 id="pq-title">The sale opens in</h2>
              <p className="big-countdown" role="timer" aria-live="off">
                {formatLongCountdown(opensIn)}
              </p>
              <p className="muted">
                {lottery
                  ? "Everyone who joins before the opening gets a place drawn by lot when the sale opens. Joining earlier than others does not matter, so there is no need to hurry or refresh."
                  : "You are in the line. When the sale opens, people are let in in the order they joined."}
              </p>
            </section>
          )}
          {paused && (
            <Notice kind="info" role="status" title="The line is paused for a moment">
              <p>The organizer paused admissions. You keep your place; the line moves again shortly.</p>
            </Notice>
          )}
          <section className="panel position-panel" aria-labelledby="pos-title">
            <h2 id="pos-title" className="sr-only">
              Your place
            </h2>
            {position === null ? (
              <p className="position-text">Your place will be drawn when the sale opens.</p>
            ) : (
              <>
                <p className="position-label">Your place in line</p>
                <p className="position" data-testid="position">
                  {position.toLocaleString("en-US")}
                </p>
                <p className="muted" aria-live="polite">
                  {ahead === 0
                    ? "You are next."
                    : `${ahead.toLocaleString("en-US")} ${ahead === 1 ? "person" : "people"} ahead of you.`}{" "}
                  Estimated wait:{" "}
                  <strong>{paused && state.eta_s === null ? "until the line moves again" : formatEta(state.eta_s)}</strong>
                </p>
                <ProgressBar value={first - position + 1} max={first} label="Progress towards your turn" />
              </>
            )}
            <p className="small">
              Keep this page open: it moves on to the checkout by itself when it is your turn. You can reload or come back
              later — you keep your place.
            </p>
          </section>
        </>
      )}

      {lottery && (
        <LotteryInfo commitment={state.lottery_commitment ?? null} seed={state.lottery_seed ?? null} customerId={customerId} />
      )}

      {error !== null && (
        <Notice kind="warning" role="status">
          <p>{friendlyMessage(error)} We keep trying.</p>
        </Notice>
      )}

      {state.status === "waiting" && (
        <button type="button" className="btn btn-ghost" onClick={() => void leave()}>
          Leave the line
        </button>
      )}
    </div>
  );
}

export function LotteryInfo({
  commitment,
  seed,
  customerId,
}: {
  commitment: string | null;
  seed: string | null;
  customerId: string;
}) {
  const verified = commitment && seed ? sha256Hex(seed) === commitment : null;
  const draw = seed ? sha256Hex(`${seed}:${customerId}`).slice(0, 13) : null;
  return (
    <section className="panel lottery" aria-labelledby="lottery-title">
      <h2 id="lottery-title">How the draw stays fair</h2>
      <p>
        Before the sale opens we publish a <em>commitment</em>: the SHA-256 fingerprint of a secret random number, the{" "}
        <em>seed</em>. At the opening we reveal the seed. Everyone who joined early gets a draw, SHA-256 of the seed followed
        by “:” and their customer id, and the line is sorted by the draws. Anyone can check that the fingerprint of the
        revealed seed equals the commitment, so nobody could choose the order after seeing who joined.
      </p>
      <dl className="details mono">
        <div>
          <dt>Commitment</dt>
          <dd data-testid="commitment">{commitment ?? "published before the sale opens"}</dd>
        </div>
        <div>
          <dt>Seed</dt>
          <dd data-testid="seed">{seed ?? "revealed when the sale opens"}</dd>
        </div>
        {draw && (
          <div>
            <dt>Your draw</dt>
            <dd>{draw}</dd>
          </div>
        )}
      </dl>
      {verified !== null && (
        <p className={verified ? "verify-ok" : "verify-bad"} role="status">
          {verified
            ? "✓ Checked in your browser: SHA-256(seed) equals the commitment."
            : "✗ SHA-256(seed) does not match the commitment."}
        </p>
      )}
    </section>
  );
}
