import { useCallback, useEffect, useMemo, useRef, useState, type FormEvent } from "react";
import type { QueueAuth } from "../api/endpoints";
import { ApiError, friendlyMessage } from "../api/client";
import { api } from "../api/endpoints";
import type { EventOut, QueueState } from "../api/types";
import { AuthForm } from "../components/AuthForm";
import { WaitlistPanel } from "../components/Waitlist";
import { ErrorBox, EventLoadError, LiveIndicator, Loading, Notice, ProgressBar } from "../components/ui";
import { isSeated } from "../lib/events";
import { formatDateTime, formatLongCountdown } from "../lib/format";
import { useLoad, useNow, usePoll, useTitle } from "../lib/hooks";
import { useLive } from "../lib/live";
import { offerFromMessage, type OfferMessage } from "../lib/waitlist";
import { Link, useNavigate } from "react-router";
import { sha256Hex, solveChallenge } from "../lib/sha256";
import {
  firstPosition,
  getIntent,
  getVisitorToken,
  setAdmission,
  setIntent,
  setSession,
  setVisitorToken,
  useSession,
} from "../lib/storage";
import { TAB_ID, claimAdmission, openChannel, readClaim, recordHold, tellTabs } from "../lib/tabs";
import {
  clock,
  describeWait,
  faviconHref,
  isNext,
  mayJoinBySelf,
  queueAuth,
  turnTitle,
  updatedAgo,
} from "../lib/waitingRoom";

type QueueMessage =
  | {
      type: "position";
      position: number | null;
      eta_s: number | null;
      eta_range_s?: [number, number] | null;
      rate?: number;
      blocked?: boolean;
      beyond_stock?: boolean;
      state?: QueueState["state"];
    }
  | { type: "admitted"; admission_token: string; admission_expires_at?: string }
  | { type: "done"; status: "used" | "expired" }
  | { type: "sold_out"; state?: QueueState["state"] };

/** Close codes of the queue socket after which reconnecting cannot help. */
const FINAL_CLOSE = new Set([1000, 4401, 4403, 4409]);
const ALERTS_KEY = "crowdpass.alerts";

export function WaitingRoomPage({ eventId }: { eventId: string }) {
  const session = useSession();
  const ev = useLoad("event", (signal) => api.event(eventId, signal), [eventId]);
  useTitle(ev.data ? undefined : "Waiting room");

  if (ev.loading && !ev.data) return <Loading label="Loading the waiting room…" />;
  if (!ev.data) {
    return <EventLoadError error={ev.error} title="We could not open the waiting room" onRetry={() => void ev.reload()} />;
  }
  return <Queue event={ev.data} customerToken={session?.token ?? null} />;
}

function Queue({ event, customerToken }: { event: EventOut; customerToken: string | null }) {
  const navigate = useNavigate();
  const [visitorToken, setVisitor] = useState<string | null>(() => getVisitorToken());
  const auth = useMemo(() => queueAuth(customerToken, visitorToken), [customerToken, visitorToken]);
  const [state, setState] = useState<QueueState | null>(null);
  const [updatedAt, setUpdatedAt] = useState<number | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [solving, setSolving] = useState(false);
  const [advancing, setAdvancing] = useState(false);
  const [advanceError, setAdvanceError] = useState<unknown>(null);
  // Which tab of this browser takes the admission: this one, or another (then `otherHold` may
  // name the hold it made).
  const [owner, setOwner] = useState<"this" | "other" | null>(null);
  const [otherHold, setOtherHold] = useState<string | null>(() => readClaim(event.id)?.holdId ?? null);
  const [alerts, setAlerts] = useState<boolean>(() => localStorage.getItem(ALERTS_KEY) === "1");
  // A waitlist offer the queue socket brought (the visitor joined the sold-out event's waitlist).
  const [offer, setOffer] = useState<OfferMessage | null>(null);
  const lastStatus = useRef<QueueState["status"] | null>(null);
  const claimedFor = useRef<string | null>(null);
  const heldFor = useRef<string | null>(null);
  const now = useNow(1000);

  const apply = useCallback((next: Partial<QueueState>) => {
    if (next.visitor_token) {
      setVisitorToken(next.visitor_token);
      setVisitor(next.visitor_token);
    }
    if (next.status) lastStatus.current = next.status;
    setState((old) => ({ ...(old ?? { status: "waiting", position: null, eta_s: null }), ...next }));
    setUpdatedAt(Date.now());
    setError(null);
  }, []);

  const fail = useCallback((err: unknown) => {
    if (err instanceof ApiError && err.status === 401) {
      // A stale customer session or visitor token: drop it; the next join starts afresh.
      if (customerToken) setSession(null);
      else {
        setVisitorToken(null);
        setVisitor(null);
      }
    }
    setError(err);
  }, [customerToken]);

  // Take our place, or find it again: a join returns the place the visitor (or customer) has, and
  // after a used or expired admission the server says so instead of placing us at the back. Only
  // `again` (the visitor's own click) takes a new place. With a proof of work, solve it first.
  const join = useCallback(
    async (again = false) => {
      const body = again ? { again: true } : undefined;
      try {
        apply(await api.joinQueue(event.id, auth, body));
      } catch (err) {
        if (!(err instanceof ApiError && err.code === "pow_required")) return fail(err);
        try {
          setSolving(true);
          const ch = await api.queueChallenge(event.id, auth);
          let proofAuth = auth;
          if (ch.visitor_token) {
            setVisitorToken(ch.visitor_token);
            setVisitor(ch.visitor_token);
            proofAuth = queueAuth(customerToken, ch.visitor_token);
          }
          const nonce = await solveChallenge(ch.challenge, ch.difficulty);
          apply(await api.joinQueue(event.id, proofAuth, { pow_challenge: ch.challenge, pow_nonce: nonce, ...body }));
        } catch (err2) {
          fail(err2);
        } finally {
          setSolving(false);
        }
      }
    },
    // `auth` changes when the first join hands out the visitor token: no second join for that.
    // eslint-disable-next-line react-hooks/exhaustive-deps
    [apply, fail, event.id, customerToken, visitorToken === null],
  );

  const catchUp = useCallback(async () => {
    try {
      apply(await api.queueMe(event.id, auth));
    } catch (err) {
      if (err instanceof ApiError && err.status === 404) {
        // No place: take one only if we never had a turn (the page never re-joins by itself
        // after an admission, in this tab or another).
        if (mayJoinBySelf(lastStatus.current)) await join();
        else setState((s) => (s ? { ...s, status: "expired", position: null } : s));
      } else fail(err);
    }
  }, [apply, fail, event.id, auth, join]);

  const started = useRef(false);
  useEffect(() => {
    if (started.current) return;
    started.current = true;
    void join();
  }, [join]);

  // The other tabs of this browser: where the tickets went, or that the visitor left the line.
  useEffect(
    () =>
      openChannel(event.id, (msg) => {
        if (msg.type === "hold") setOtherHold(msg.holdId);
        if (msg.type === "left") navigate(`/events/${event.id}`);
        if (msg.type === "joined") void catchUp();
      }),
    [event.id, catchUp],
  );

  const listening = state !== null && (state.status === "waiting" || state.status === "sold_out");
  const live = useLive(
    listening && auth.token ? `/api/events/${encodeURIComponent(event.id)}/queue/ws` : null,
    (data) => {
      const msg = data as QueueMessage;
      if (msg?.type === "position") {
        apply({
          status: "waiting",
          position: msg.position,
          eta_s: msg.eta_s,
          eta_range_s: msg.eta_range_s ?? null,
          rate: msg.rate ?? 0,
          blocked: msg.blocked ?? false,
          beyond_stock: msg.beyond_stock ?? false,
          ...(msg.state ? { state: msg.state } : {}),
        });
      } else if (msg?.type === "admitted") {
        apply({
          status: "admitted",
          position: 0,
          eta_s: 0,
          admission_token: msg.admission_token,
          admission_expires_at: msg.admission_expires_at,
        });
      } else if (msg?.type === "done") {
        apply({ status: msg.status, position: null, eta_s: null });
      } else if (msg?.type === "sold_out") {
        apply({ status: "sold_out", ...(msg.state ? { state: msg.state } : {}) });
      } else {
        const called = offerFromMessage(data, event.id);
        if (called) setOffer(called);
      }
    },
    (reconnected) => {
      // The opening message repeats the place; after a drop, also fetch it (catch up).
      if (reconnected) void catchUp();
    },
    (code) => {
      if (code === 4404 || FINAL_CLOSE.has(code)) {
        void catchUp();
        return false;
      }
      return true;
    },
    auth,
  );

  // Without a live socket, ask every few seconds; with one, now and then as a safety net.
  usePoll(() => void catchUp(), live === "open" ? 15_000 : 3_000, state?.status === "waiting");

  // Admitted: one tab of the browser takes the tickets (the one in front goes first).
  const admissionToken = state?.status === "admitted" ? (state.admission_token ?? null) : null;
  useEffect(() => {
    if (!admissionToken || claimedFor.current === admissionToken) return;
    let cancelled = false;
    const hidden = typeof document !== "undefined" && document.visibilityState === "hidden";
    const timer = setTimeout(
      () => {
        if (cancelled) return;
        claimedFor.current = admissionToken;
        void claimAdmission(event.id, admissionToken).then((mine) => {
          if (cancelled) return;
          setOwner(mine ? "this" : "other");
          if (mine && localStorage.getItem(ALERTS_KEY) === "1") announceTurn(event.name);
        });
      },
      hidden ? 400 : 0,
    );
    return () => {
      cancelled = true;
      clearTimeout(timer);
    };
  }, [admissionToken, event.id, event.name]);

  // This tab's admission, and someone signed in: hold the chosen tickets and open the checkout.
  useEffect(() => {
    if (owner !== "this" || !admissionToken || !customerToken || heldFor.current === admissionToken) return;
    heldFor.current = admissionToken;
    setAdmission(event.id, { token: admissionToken, expires_at: state?.admission_expires_at });
    if (isSeated(event)) {
      navigate(`/events/${event.id}`, { replace: true });
      return;
    }
    const intent = getIntent(event.id) ?? { quantity: 1, half_price: 0 };
    setAdvancing(true);
    tellTabs(event.id, { type: "holding", tab: TAB_ID });
    api
      .createHold(
        event.id,
        {
          quantity: intent.quantity,
          ...(intent.ticket_type ? { ticket_type: intent.ticket_type } : {}),
          ...(intent.half_price ? { half_price: intent.half_price } : {}),
        },
        customerToken,
        admissionToken,
        visitorToken,
      )
      .then((hold) => {
        recordHold(event.id, admissionToken, hold.id);
        setAdmission(event.id, null);
        setIntent(event.id, null);
        navigate(`/checkout/${hold.id}`, { replace: true });
      })
      .catch((err: unknown) => {
        setAdvancing(false);
        if (err instanceof ApiError && err.code === "sold_out") {
          setState((s) => (s ? { ...s, status: "sold_out" } : s));
        } else if (err instanceof ApiError && err.code === "admission_required") {
          void catchUp(); // used meanwhile (another device), or expired: the server says which
        } else {
          setAdvanceError(err);
        }
      });
  }, [owner, admissionToken, customerToken, visitorToken, event, state?.admission_expires_at, catchUp]);

  const expiresAt = state?.admission_expires_at ? Date.parse(state.admission_expires_at) : null;
  const turnLeft = admissionToken && expiresAt ? Math.max(0, Math.ceil((expiresAt - now) / 1000)) : null;
  useTitle(turnTitle(event.name, state, turnLeft));
  useFavicon(state?.status === "admitted");

  async function leave() {
    try {
      await api.leaveQueue(event.id, auth);
    } catch {
      /* leaving is best effort: an unused place expires by itself */
    }
    setIntent(event.id, null);
    tellTabs(event.id, { type: "left", tab: TAB_ID });
    navigate(`/events/${event.id}`);
  }

  async function joinAgain() {
    lastStatus.current = null;
    setOwner(null);
    await join(true);
    tellTabs(event.id, { type: "joined", tab: TAB_ID });
  }

  function toggleAlerts(on: boolean) {
    setAlerts(on);
    localStorage.setItem(ALERTS_KEY, on ? "1" : "0");
    if (on && typeof Notification !== "undefined" && Notification.permission === "default") {
      void Notification.requestPermission();
    }
    if (on) beep(); // a sample, and browsers only allow sound after a click
  }

  const opensAt = state?.sales_open_at ?? event.sales_open_at ?? null;
  const opensIn = opensAt ? Math.ceil((Date.parse(opensAt) - now) / 1000) : 0;
  const lottery = (state?.prequeue ?? event.waiting_room?.prequeue) === "lottery";

  if (error && !state) {
    return <ErrorBox title="We could not take your place in line" error={error} onRetry={() => void join()} />;
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
        <WaitlistPanel
          event={event}
          visitorToken={customerToken ? null : visitorToken}
          pushedOffer={offer}
          socketOpen={live === "open"}
        />
        <div className="actions">
          <Link className="btn btn-primary" to="/">
            Find another event
          </Link>
          <Link className="btn btn-ghost" to={`/events/${event.id}`}>
            Back to the event
          </Link>
        </div>
      </div>
    );
  }

  const position = state.position;
  const first = state.status === "waiting" && position ? firstPosition(event.id, position) : (position ?? 0);
  const ahead = Math.max(0, (position ?? 1) - 1);
  const paused = state.state === "paused";
  const elsewhere = owner === "other" || state.status === "used";

  return (
    <div className="narrow waiting-room">
      <p className="eyebrow">
        <Link to={`/events/${event.id}`}>{event.name}</Link> · {formatDateTime(event.starts_at)}
      </p>
      <div className="wr-header">
        <h1>Waiting room</h1>
        {state.status === "waiting" && <LiveIndicator state={live} />}
      </div>

      {elsewhere ? (
        <Notice kind="info" role="alert" title="Your tickets are being bought in another tab">
          <p data-testid="elsewhere">
            Your turn came and was taken in another tab or window of this browser (or on another device). There is one
            place per person, so this tab has left the line.
          </p>
          <div className="actions">
            {otherHold && (
              <Link className="btn btn-primary" to={`/checkout/${otherHold}`}>
                Go to the checkout
              </Link>
            )}
            <Link className="btn btn-ghost" to="/tickets">
              My tickets
            </Link>
            <button type="button" className="btn btn-ghost" onClick={() => void joinAgain()}>
              Join the line again
            </button>
          </div>
        </Notice>
      ) : state.status === "expired" ? (
        <Notice kind="warning" role="alert" title="Your turn has passed">
          <p data-testid="turn-passed">
            Your turn came, but the tickets were not taken in time, so it went to the next person in line.
          </p>
          <button type="button" className="btn btn-primary" onClick={() => void joinAgain()}>
            Join the line again
          </button>
        </Notice>
      ) : state.status === "admitted" ? (
        <Notice kind="success" role="alert" title="It is your turn!">
          {turnLeft !== null && (
            <p role="timer" aria-live="off" data-testid="turn-left">
              Your turn is kept for <strong>{clock(turnLeft)}</strong>.
            </p>
          )}
          {!customerToken ? (
            <AuthForm intro="Sign in or create an account to buy. Your turn is kept while you do." />
          ) : advanceError ? (
            <>
              <p>{friendlyMessage(advanceError)}</p>
              <Link className="btn btn-primary" to={`/events/${event.id}`}>
                Choose tickets
              </Link>
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
                  {isNext(state)
                    ? "You are next."
                    : ahead === 0
                      ? "Nobody is ahead of you."
                      : `${ahead.toLocaleString("en-US")} ${ahead === 1 ? "person" : "people"} ahead of you.`}{" "}
                  <strong data-testid="wait">{describeWait(state, opensIn)}</strong>
                  {updatedAt !== null && <span className="small"> · {updatedAgo(updatedAt, now)}</span>}
                </p>
                <ProgressBar value={first - position + 1} max={first} label="Progress towards your turn" />
              </>
            )}
            <p className="small">
              Keep this page open, in any tab: it moves on to the checkout by itself when it is your turn. You can reload,
              open it in another tab or come back later — you keep your place. You sign in only when it is your turn.
            </p>
            <label className="check">
              <input type="checkbox" checked={alerts} onChange={(e) => toggleAlerts(e.target.checked)} /> Alert me with a
              sound and a notification when it is my turn
            </label>
            <TurnEmailForm eventId={event.id} auth={auth} />
          </section>
        </>
      )}

      {lottery && (
        <LotteryInfo
          commitment={state.lottery_commitment ?? null}
          seed={state.lottery_seed ?? null}
          customerId={visitorId(visitorToken) ?? ""}
        />
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

/** Optional: an address the server emails "your turn" to, for a visitor who closes the page. */
function TurnEmailForm({ eventId, auth }: { eventId: string; auth: QueueAuth }) {
  const [email, setEmail] = useState("");
  const [saved, setSaved] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);

  async function save(e: FormEvent) {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const kept = await api.setQueueEmail(eventId, email.trim() || null, auth);
      setSaved(kept.email);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  }

  if (saved) {
    return (
      <p className="small" role="status" data-testid="turn-email-saved">
        We will email <strong>{saved}</strong> when it is your turn.{" "}
        <button type="button" className="link-button" onClick={() => setSaved(null)}>
          Change
        </button>
      </p>
    );
  }
  return (
    <form className="turn-email" onSubmit={save}>
      <label htmlFor="turn-email">Email me when it is my turn (optional)</label>
      <div className="inline-field">
        <input
          id="turn-email"
          type="email"
          autoComplete="email"
          placeholder="you@example.com"
          value={email}
          onChange={(e) => setEmail(e.target.value)}
          aria-invalid={error instanceof ApiError && error.field === "email" ? true : undefined}
        />
        <button type="submit" className="btn" disabled={busy || !email.trim()}>
          {busy ? "Saving…" : "Email me"}
        </button>
      </div>
      {error !== null && (
        <p className="small" role="alert">
          {friendlyMessage(error)}
        </p>
      )}
    </form>
  );
}

/** The visitor id inside a visitor token (the lottery draw is made for it); null when unreadable. */
function visitorId(token: string | null): string | null {
  try {
    const payload = token?.split(".")[1];
    if (!payload) return null;
    const claims = JSON.parse(atob(payload.replace(/-/g, "+").replace(/_/g, "/"))) as { sub?: unknown };
    return typeof claims.sub === "string" ? claims.sub : null;
  } catch {
    return null;
  }
}

/** The page's favicon turns green with a dot while it is the visitor's turn. */
function useFavicon(turn: boolean): void {
  useEffect(() => {
    const link = document.querySelector<HTMLLinkElement>("link[rel='icon']");
    if (!link || !turn) return;
    const before = link.href;
    link.href = faviconHref(true);
    return () => {
      link.href = before;
    };
  }, [turn]);
}

function beep(): void {
  try {
    const Ctx = window.AudioContext ?? (window as unknown as { webkitAudioContext?: typeof AudioContext }).webkitAudioContext;
    if (!Ctx) return;
    const ctx = new Ctx();
    const osc = ctx.createOscillator();
    const gain = ctx.createGain();
    osc.frequency.value = 880;
    gain.gain.value = 0.1;
    osc.connect(gain).connect(ctx.destination);
    osc.start();
    osc.stop(ctx.currentTime + 0.3);
    osc.onended = () => void ctx.close();
  } catch {
    /* no sound: the title, favicon and notification still say it */
  }
}

function announceTurn(eventName: string): void {
  beep();
  if (typeof Notification !== "undefined" && Notification.permission === "granted") {
    try {
      new Notification("It is your turn!", { body: `${eventName}: your tickets are waiting. Your turn is kept for 2 minutes.` });
    } catch {
      /* some browsers only notify from a service worker: the title and favicon still change */
    }
  }
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
