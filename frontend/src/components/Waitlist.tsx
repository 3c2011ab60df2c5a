// The waitlist in the web app: joining a sold-out event's list and seeing one's place, the
// banner and checkout of an offer (the link of the email and of the banner), and the
// organizer's list with its on/off switch.
import { useCallback, useEffect, useId, useRef, useState, type FormEvent } from "react";
import { useNavigate } from "react-router";
import { ApiError, friendlyMessage } from "../api/client";
import { api } from "../api/endpoints";
import type { EventOut, Session } from "../api/types";
import { waitlistApi, type Waitlist, type WaitlistEntry } from "../api/waitlist";
import { formatClock, formatDateTime, plural } from "../lib/format";
import { useNow, usePoll } from "../lib/hooks";
import { useLive } from "../lib/live";
import { setSession, useSession } from "../lib/storage";
import {
  WAITLIST_PLACE_MS,
  WAITLIST_POLL_MS,
  getEntryToken,
  offerExpiresMs,
  offerFromMessage,
  placeText,
  setEntryToken,
  withOffer,
  type OfferMessage,
} from "../lib/waitlist";
import { AuthForm } from "./AuthForm";
import { ErrorBox, Loading, Notice } from "./ui";

const OPEN = new Set(["waiting", "offered"]);

/**
 * The sold-out event page's panel: join the waitlist, then one's place or one's offer. The offer
 * comes on a socket: a signed-in buyer's `/api/ws` (opened here), or, for an anonymous visitor on
 * the waiting room's page, that page's queue socket (`pushedOffer`, `socketOpen`). While no socket
 * is open the entry is read again every WAITLIST_POLL_MS (the fallback); while one is, only every
 * WAITLIST_PLACE_MS, for the place in line.
 */
export function WaitlistPanel({
  event,
  visitorToken = null,
  pushedOffer = null,
  socketOpen = false,
}: {
  event: EventOut;
  /** The waiting room's visitor token: an anonymous join names the visitor, called on the queue socket. */
  visitorToken?: string | null;
  pushedOffer?: OfferMessage | null;
  socketOpen?: boolean;
}) {
  const session = useSession();
  const [entryToken, setToken] = useState(() => getEntryToken(event.id));
  const [entry, setEntry] = useState<WaitlistEntry | null>(null);
  const [checked, setChecked] = useState(false);
  const entryRef = useRef(entry);
  entryRef.current = entry;

  const refresh = useCallback(async () => {
    if (!session && !entryToken) {
      setChecked(true);
      return;
    }
    try {
      setEntry(await waitlistApi.me(event.id, { token: session?.token, entryToken }));
    } catch (err) {
      if (err instanceof ApiError && (err.status === 404 || err.status === 403)) setEntry(null);
    } finally {
      setChecked(true);
    }
  }, [event.id, session, entryToken]);
  useEffect(() => {
    void refresh();
  }, [refresh]);

  const takeOffer = useCallback(
    (offer: OfferMessage) => {
      const next = withOffer(entryRef.current, offer);
      if (next) setEntry(next);
      else void refresh(); // another entry's offer (another tab joined): read ours
    },
    [refresh],
  );
  useEffect(() => {
    if (pushedOffer) takeOffer(pushedOffer);
  }, [pushedOffer, takeOffer]);

  const open = entry !== null && OPEN.has(entry.status);
  const customerSocket = useLive(
    session && open ? "/api/ws" : null,
    (data) => {
      const offer = offerFromMessage(data, event.id);
      if (offer) takeOffer(offer);
    },
    (reconnected) => {
      if (reconnected) void refresh(); // an offer may have come while the socket was down
    },
    undefined,
    session ? { token: session.token } : null,
  );
  const live = socketOpen || customerSocket === "open";
  usePoll(() => void refresh(), live ? WAITLIST_PLACE_MS : WAITLIST_POLL_MS, open);

  // An offer ends at its time: read how (used, or passed on) then.
  const endsAt = entry?.status === "offered" && entry.offer_expires_at ? Date.parse(entry.offer_expires_at) : null;
  useEffect(() => {
    if (endsAt === null) return;
    const timer = setTimeout(() => void refresh(), Math.max(0, endsAt - Date.now()) + 1500);
    return () => clearTimeout(timer);
  }, [endsAt, refresh]);

  if (!checked) return <Loading label="Checking the waitlist…" />;
  if (entry && entry.status === "offered" && entry.offer_token) {
    return <OfferBanner eventId={event.id} entry={entry} />;
  }
  if (entry && entry.status === "waiting") {
    return (
      <WaitingNotice
        entry={entry}
        onLeave={async () => {
          await waitlistApi.leave(event.id, { token: session?.token, entryToken });
          setEntryToken(event.id, null);
          setToken(null);
          setEntry(null);
        }}
      />
    );
  }
  return (
    <JoinForm
      event={event}
      session={session}
      visitorToken={visitorToken}
      onJoined={(joined) => {
        if (joined.entry_token) {
          setEntryToken(event.id, joined.entry_token);
          setToken(joined.entry_token);
        }
        setEntry(joined);
      }}
    />
  );
}

function JoinForm({
  event,
  session,
  visitorToken,
  onJoined,
}: {
  event: EventOut;
  session: Session | null;
  visitorToken: string | null;
  onJoined: (entry: WaitlistEntry) => void;
}) {
  const id = useId();
  const max = Math.max(1, event.max_per_customer ?? 1);
  const [email, setEmail] = useState(session?.customer.email ?? "");
  const [quantity, setQuantity] = useState(1);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);

  async function submit(e: FormEvent) {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      onJoined(await waitlistApi.join(event.id, { email: email.trim(), quantity }, session?.token ?? visitorToken));
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  }

  return (
    <form className="waitlist-join" onSubmit={(e) => void submit(e)} aria-labelledby={`${id}-title`}>
      <p className="notice-title" id={`${id}-title`}>
        Join the waitlist
      </p>
      <p className="muted">
        When a ticket comes back, the first person on the list gets it, for a few minutes, by email
        {session || visitorToken ? " and on this page" : ""}.
      </p>
      <div className="field">
        <label htmlFor={`${id}-email`}>Email for the waitlist</label>
        <input
          id={`${id}-email`}
          type="email"
          required
          autoComplete="email"
          value={email}
          onChange={(e) => setEmail(e.target.value)}
        />
      </div>
      <div className="field">
        <label htmlFor={`${id}-qty`}>Tickets wanted</label>
        <select id={`${id}-qty`} value={quantity} onChange={(e) => setQuantity(Number(e.target.value))}>
          {Array.from({ length: max }, (_, i) => i + 1).map((n) => (
            <option key={n} value={n}>
              {n}
            </option>
          ))}
        </select>
      </div>
      {error ? <p className="error" role="alert">{friendlyMessage(error)}</p> : null}
      <button type="submit" className="btn btn-block" disabled={busy}>
        {busy ? "Joining…" : "Join the waitlist"}
      </button>
    </form>
  );
}

function WaitingNotice({ entry, onLeave }: { entry: WaitlistEntry; onLeave: () => Promise<void> }) {
  const [busy, setBusy] = useState(false);
  return (
    <Notice kind="info" role="status" title="You are on the waitlist">
      <p data-testid="waitlist-position">{entry.position ? placeText(entry.position) : "You are in line"}</p>
      <p className="muted">
        For {plural(entry.quantity, "ticket")}. We will email {entry.email} when one comes back; keep this page open to
        see it here at once.
      </p>
      <button
        type="button"
        className="btn btn-secondary"
        disabled={busy}
        onClick={() => {
          setBusy(true);
          void onLeave().finally(() => setBusy(false));
        }}
      >
        Leave the waitlist
      </button>
    </Notice>
  );
}

function OfferBanner({ eventId, entry }: { eventId: string; entry: WaitlistEntry }) {
  const navigate = useNavigate();
  const now = useNow(1000);
  const ends = entry.offer_expires_at ? Date.parse(entry.offer_expires_at) : now;
  const left = Math.max(0, Math.ceil((ends - now) / 1000));
  return (
    <Notice kind="success" role="alert" title="A ticket came back for you">
      <p>
        {plural(entry.offered_quantity ?? 1, "ticket")} kept for you for{" "}
        <strong data-testid="offer-countdown">{formatClock(left)}</strong>.
      </p>
      <button
        type="button"
        className="btn btn-block"
        onClick={() => navigate(`/events/${eventId}?offer=${encodeURIComponent(entry.offer_token ?? "")}`)}
      >
        Buy it now
      </button>
    </Notice>
  );
}

/** The event page opened from an offer's link: the countdown, and buying what is kept. */
export function WaitlistOffer({ event, offerToken }: { event: EventOut; offerToken: string }) {
  const navigate = useNavigate();
  const session = useSession();
  const now = useNow(1000);
  const ends = offerExpiresMs(offerToken) ?? now;
  const left = Math.max(0, Math.ceil((ends - now) / 1000));
  const [quantity, setQuantity] = useState(1);
  const [askAuth, setAskAuth] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);

  // A signed-in holder's entry says how many tickets are kept.
  useEffect(() => {
    if (!session) return;
    waitlistApi
      .me(event.id, { token: session.token })
      .then((e) => setQuantity(Math.max(1, e.offered_quantity ?? 1)))
      .catch(() => undefined);
  }, [event.id, session]);

  async function buy(token = session?.token) {
    if (!token) {
      setAskAuth(true);
      return;
    }
    setBusy(true);
    setError(null);
    try {
      const hold = await api.createHold(event.id, { quantity }, token, offerToken);
      navigate(`/checkout/${hold.id}`);
    } catch (err) {
      if (err instanceof ApiError && err.status === 401) {
        setSession(null);
        setAskAuth(true);
      }
      setError(err);
    } finally {
      setBusy(false);
    }
  }

  if (left <= 0) {
    return (
      <section className="panel buy-panel" aria-labelledby="offer-title">
        <h2 id="offer-title">This offer has ended</h2>
        <Notice kind="warning" role="status">
          <p>The tickets kept for you went to the next person on the waitlist.</p>
        </Notice>
      </section>
    );
  }
  return (
    <section className="panel buy-panel" aria-labelledby="offer-title">
      <h2 id="offer-title">Your turn from the waitlist</h2>
      <Notice kind="success" role="status" title="A ticket is kept for you">
        <p>
          Buy within <strong data-testid="offer-countdown">{formatClock(left)}</strong>; after that it goes to the next
          in line.
        </p>
      </Notice>
      {askAuth && !session ? (
        <AuthForm intro="Sign in to buy the ticket kept for you." onDone={(s) => void buy(s.token)} />
      ) : (
        <button type="button" className="btn btn-block" disabled={busy} onClick={() => void buy()}>
          {busy ? "Keeping it…" : `Buy ${plural(quantity, "ticket")}`}
        </button>
      )}
      {error ? <p className="error" role="alert">{friendlyMessage(error)}</p> : null}
    </section>
  );
}

/** The organizer's view of an event's waitlist, with its on/off switch. */
export function WaitlistAdmin({ eventId, token }: { eventId: string; token: string }) {
  const [list, setList] = useState<Waitlist | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const load = useCallback(async () => {
    try {
      setList(await waitlistApi.list(eventId, token));
      setError(null);
    } catch (err) {
      setError(err);
    }
  }, [eventId, token]);
  useEffect(() => {
    void load();
  }, [load]);
  usePoll(() => void load(), 3000);

  async function toggle() {
    if (!list) return;
    setBusy(true);
    try {
      await waitlistApi.setEnabled(eventId, !list.enabled, token);
      await load();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  }

  return (
    <section className="panel" aria-labelledby="waitlist-title">
      <h2 id="waitlist-title">Waitlist</h2>
      {!list ? (
        error ? (
          <ErrorBox title="We could not load the waitlist" error={error} onRetry={() => void load()} />
        ) : (
          <Loading label="Loading the waitlist…" />
        )
      ) : (
        <>
          <p>
            <span data-testid="waitlist-state">{list.enabled ? "On" : "Off"}</span> · {list.waiting} waiting ·{" "}
            {list.offered} called · {plural(list.kept, "ticket")} kept for it{" "}
            <button type="button" className="btn btn-secondary" disabled={busy} onClick={() => void toggle()}>
              {list.enabled ? "Turn the waitlist off" : "Turn the waitlist on"}
            </button>
          </p>
          {!list.enabled && (
            <p className="muted">Off: nobody can join and no new offers are made; offers already made stay valid until they end.</p>
          )}
          {list.entries.length === 0 ? (
            <p className="muted">Nobody is on the waitlist.</p>
          ) : (
            <div className="table-wrap">
              <table>
                <thead>
                  <tr>
                    <th>#</th>
                    <th>Email</th>
                    <th>Tickets</th>
                    <th>Status</th>
                    <th>Called</th>
                    <th>Offer ends</th>
                  </tr>
                </thead>
                <tbody>
                  {list.entries.map((e) => (
                    <tr key={e.id}>
                      <td>{e.position ?? "—"}</td>
                      <td>{e.email}</td>
                      <td>{e.offered_quantity ?? e.quantity}</td>
                      <td>{e.status}</td>
                      <td>{e.offered_at ? formatDateTime(e.offered_at) : "—"}</td>
                      <td>{e.offer_expires_at ? formatDateTime(e.offer_expires_at) : "—"}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
        </>
      )}
    </section>
  );
}
