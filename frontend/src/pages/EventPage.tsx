import { useCallback, useEffect, useRef, useState } from "react";
import { ApiError, friendlyMessage } from "../api/client";
import { api } from "../api/endpoints";
import type { EventOut, LiveMessage, PurchaseMessage, Seat } from "../api/types";
import { AuthForm } from "../components/AuthForm";
import type { CodeCheck } from "../api/codes";
import { CodeInput } from "../components/CodeInput";
import { QuickBuy } from "../components/QuickBuy";
import { WaitlistOffer, WaitlistPanel } from "../components/Waitlist";
import { offerFromSearch } from "../lib/waitlist";
import { SeatMap, seatIsFree } from "../components/SeatMap";
import { TicketTypePicker, pickType } from "../components/TicketTypePicker";
import { ErrorBox, EventLoadError, LiveIndicator, Loading, Notice, ProgressBar, StatusBadge } from "../components/ui";
import { codeDiscount, gaTickets } from "../lib/codes";
import { applyStock, hasWaitingRoom, isSeated, lowestPrice, purchaseLimit, ticketsOwned } from "../lib/events";
import { cancelPolicyText, formatDateTime, formatLongCountdown, formatMoney, plural, timeAgo } from "../lib/format";
import { useLoad, useNow, useTitle } from "../lib/hooks";
import { useLive } from "../lib/live";
import { Link, useLocation, useNavigate } from "react-router";
import { applySeatDelta, type SeatMapState } from "../lib/seats";
import { getAdmission, getVisitorToken, setAdmission, setIntent, setSession, useSession } from "../lib/storage";

const NO_SEATS: Seat[] = [];

export function EventPage({ eventId }: { eventId: string }) {
  const ev = useLoad("event", (signal) => api.event(eventId, signal), [eventId]);
  const event = ev.data;
  useTitle(event?.name ?? "Event");
  const seated = event ? isSeated(event) : false;
  // null until the seat map of a seated event is in; then kept current by `seats` deltas.
  const seats = useLoad<SeatMapState | null>(
    "seatmap",
    (signal) => (seated ? api.seatMap(eventId, signal) : Promise.resolve(null)),
    [eventId, seated],
  );
  const seatMap = useRef<SeatMapState | null>(null);
  seatMap.current = seats.data ?? null;
  const newestDelta = useRef(0); // a map that arrives older than a delta seen meanwhile is re-read
  const [buyers, setBuyers] = useState<PurchaseMessage[]>([]);

  // The whole map is re-read only on a version gap (or a reconnection), at most every 400 ms.
  const seatTimer = useRef<ReturnType<typeof setTimeout> | null>(null);
  const refreshSeats = useCallback(() => {
    if (!seated || seatTimer.current) return;
    seatTimer.current = setTimeout(() => {
      seatTimer.current = null;
      void seats.reload(true);
    }, 400);
  }, [seated, seats]);
  useEffect(() => () => {
    if (seatTimer.current) clearTimeout(seatTimer.current);
  }, []);
  useEffect(() => {
    if (seats.data && seats.data.version < newestDelta.current) refreshSeats();
  }, [seats.data, refreshSeats]);

  // Only for an event that exists: an unknown id gets its one 404 and no socket (that socket
  // used to be refused and reopened, re-reading the event, twice a second for ever).
  const live = useLive(
    event ? `/api/events/${encodeURIComponent(eventId)}/live` : null,
    (data) => {
      const msg = data as LiveMessage;
      if (msg?.type === "stock") {
        ev.setData((old) => (old ? applyStock(old, msg) : old));
      } else if (msg?.type === "seats") {
        newestDelta.current = Math.max(newestDelta.current, msg.version);
        if (!seatMap.current) return;
        const next = applySeatDelta(seatMap.current, msg);
        if (next === "reload") refreshSeats();
        else if (next !== seatMap.current) {
          seatMap.current = next;
          seats.setData(next);
        }
      } else if (msg?.type === "purchase") {
        setBuyers((list) => [msg, ...list].slice(0, 5));
      }
    },
    // The socket's first message is the current stock; after a reconnection also re-read
    // the event itself, which may have changed while the socket was down.
    (reconnected) => {
      if (reconnected) {
        void ev.reload(true);
        refreshSeats();
      }
    },
    (code) => code !== 4404 && code !== 1008,
  );

  if (ev.loading && !event) return <Loading label="Loading the event…" />;
  if (!event) {
    return <EventLoadError error={ev.error} title="We could not load this event" onRetry={() => void ev.reload()} />;
  }

  return (
    <article className="event-page">
      <nav aria-label="Breadcrumb" className="crumbs">
        <Link to="/">← All events</Link>
      </nav>
      <header className="event-header">
        <div className="card-top">
          <StatusBadge event={event} />
          {hasWaitingRoom(event) && <span className="tag">Waiting room</span>}
          <LiveIndicator state={live} />
        </div>
        <h1>{event.name}</h1>
        <p className="event-meta">
          <time dateTime={event.starts_at}>{formatDateTime(event.starts_at)}</time>
          {event.venue ? <> · {event.venue}</> : null}
        </p>
      </header>
      <div className={seated ? "event-layout seated" : "event-layout"}>
        {/* Until the seat map is in, the rest of the page waits, so nothing jumps down under it. */}
        {!(seated && !seats.data && !seats.error) && <div className="event-main">
          <Counters event={event} />
          {buyers.length > 0 && (
            <section className="panel" aria-labelledby="recent-title">
              <h2 id="recent-title">Just bought</h2>
              <ul className="feed compact" aria-live="polite">
                {buyers.map((b, i) => (
                  <li key={`${b.at}-${i}`}>
                    <strong>{b.buyer}</strong> bought {b.quantity && b.quantity > 1 ? `${b.quantity} tickets` : "a ticket"}
                    <span className="muted"> · {timeAgo(b.at)}</span>
                  </li>
                ))}
              </ul>
            </section>
          )}
          <Details event={event} />
        </div>}
        <div className="event-side">
          <BuyPanel
            event={event}
            seats={seats.data?.seats ?? NO_SEATS}
            seatsLoading={seated && seats.loading && !seats.data}
            seatsError={seats.error}
            reloadEvent={() => void ev.reload(true)}
            reloadSeats={() => void seats.reload(true)}
          />
        </div>
      </div>
    </article>
  );
}

function Counters({ event }: { event: EventOut }) {
  return (
    <section className="panel counters-panel" aria-labelledby="avail-title">
      <h2 id="avail-title" className="sr-only">
        Availability
      </h2>
      <dl className="counters">
        <div>
          <dt>Available</dt>
          <dd data-testid="available">{event.available.toLocaleString("en-US")}</dd>
        </div>
        <div>
          <dt>Sold</dt>
          <dd data-testid="sold">{event.sold.toLocaleString("en-US")}</dd>
        </div>
        <div>
          <dt>Being paid</dt>
          <dd data-testid="held">{event.held.toLocaleString("en-US")}</dd>
        </div>
      </dl>
      <ProgressBar value={event.sold + event.held} max={event.capacity} label="Share of tickets sold or being paid" />
      <p className="muted small">
        {plural(event.capacity, "ticket")} in total. These numbers update live.
      </p>
    </section>
  );
}

function Details({ event }: { event: EventOut }) {
  const sections = event.sections ?? [];
  return (
    <section className="panel" aria-labelledby="details-title">
      <h2 id="details-title">Details</h2>
      <dl className="details">
        <div>
          <dt>When</dt>
          <dd>{formatDateTime(event.starts_at)}</dd>
        </div>
        {event.venue && (
          <div>
            <dt>Where</dt>
            <dd>{event.venue}</dd>
          </div>
        )}
        {event.sales_open_at && (
          <div>
            <dt>Sales open</dt>
            <dd>{formatDateTime(event.sales_open_at)}</dd>
          </div>
        )}
        <div>
          <dt>Price</dt>
          <dd>
            {sections.length > 0
              ? sections.map((s) => `${s.name} ${formatMoney(s.price_cents)}`).join(" · ")
              : formatMoney(lowestPrice(event))}
            {event.half_price ? " (half price available)" : ""}
          </dd>
        </div>
        <div>
          <dt>Per person</dt>
          <dd>up to {plural(event.max_per_customer ?? 1, "ticket")}</dd>
        </div>
        {event.cancel_policy && (
          <div>
            <dt>Cancellation</dt>
            <dd data-testid="cancel-policy">
              {cancelPolicyText(event.cancel_policy.buyer_cancel_until, event.cancel_policy.fee_cents, event.cancel_policy.open)}
            </dd>
          </div>
        )}
        {event.hold_ttl_s ? (
          <div>
            <dt>Time to pay</dt>
            <dd>{Math.round(event.hold_ttl_s / 60) >= 1 ? `${Math.round(event.hold_ttl_s / 60)} min` : `${event.hold_ttl_s} s`} after you pick</dd>
          </div>
        ) : null}
      </dl>
    </section>
  );
}

function BuyPanel({
  event,
  seats,
  seatsLoading,
  seatsError,
  reloadEvent,
  reloadSeats,
}: {
  event: EventOut;
  seats: Seat[];
  seatsLoading: boolean;
  seatsError: unknown;
  reloadEvent: () => void;
  reloadSeats: () => void;
}) {
  const navigate = useNavigate();
  const { search } = useLocation();
  const session = useSession();
  const max = Math.max(1, event.max_per_customer ?? 1);
  // What the buyer already owns counts towards the per-person limit (shared with "My tickets").
  const account = useLoad(
    "customer",
    () => (session ? api.customer(session.customer.id, session.token) : Promise.resolve(null)),
    [session?.customer.id, session?.token],
  );
  const owned = account.data ? ticketsOwned(account.data.purchases ?? [], event.id) : 0;
  // Ticket types: the buyer picks one (components/TicketTypePicker) when the event has a
  // general-admission type; a seated type then shows its own seats. A purely seated event
  // keeps its whole map.
  const allTypes = event.ticket_types ?? [];
  const types = allTypes.some((t) => t.kind === "general") ? allTypes : [];
  const [typeName, setTypeName] = useState<string | null>(null);
  const ticketType = types.find((t) => t.name === pickType(types, typeName)) ?? null;
  const seated = ticketType ? ticketType.kind === "seated" : isSeated(event);
  const shownSeats = ticketType?.kind === "seated" ? seats.filter((s) => s.section === ticketType.name) : seats;
  const limit = ticketType
    ? purchaseLimit(Math.min(max, ticketType.max_per_customer ?? max), owned, ticketType.available)
    : purchaseLimit(max, owned, event.available);
  const [quantity, setQuantity] = useState(1);
  useEffect(() => {
    if (limit.choices.length && quantity > limit.choices.length) setQuantity(limit.choices.length);
  }, [limit.choices.length, quantity]);
  const [half, setHalf] = useState(0);
  const [code, setCode] = useState<CodeCheck | null>(null);
  const [selected, setSelected] = useState<string[]>([]);
  const [askAuth, setAskAuth] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const now = useNow(event.status === "scheduled" ? 1000 : 60_000);
  const opensIn = event.sales_open_at ? Math.ceil((Date.parse(event.sales_open_at) - now) / 1000) : 0;
  const waitingRoom = hasWaitingRoom(event);
  const admission = getAdmission(event.id);
  const mayPick = !waitingRoom || admission !== null || code?.presale === true;

  // A selected seat someone else just took is dropped from the selection.
  useEffect(() => {
    setSelected((sel) => {
      const kept = sel.filter((id) => seats.some((s) => s.id === id && seatIsFree(s)));
      return kept.length === sel.length ? sel : kept;
    });
  }, [seats]);

  // When the opening time passes, fetch the new status.
  useEffect(() => {
    if (event.status === "scheduled" && opensIn === 0) reloadEvent();
  }, [event.status, opensIn, reloadEvent]);

  const toggleSeat = useCallback(
    (seat: Seat) => setSelected((sel) => (sel.includes(seat.id) ? sel.filter((s) => s !== seat.id) : [...sel, seat.id])),
    [],
  );
  const count = seated ? selected.length : quantity;
  useEffect(() => {
    if (half > count) setHalf(count);
  }, [count, half]);

  const unitPrice = ticketType?.price_cents ?? lowestPrice(event) ?? 0;
  const seatTotal = shownSeats.filter((s) => selected.includes(s.id)).reduce((sum, s) => sum + s.price_cents, 0);
  const fullTotal = seated ? seatTotal : unitPrice * quantity;
  const chosen = seats.filter((s) => selected.includes(s.id));
  const priced = seated
    ? chosen.map((s, i) => ({ price_cents: i < half ? Math.floor(s.price_cents / 2) : s.price_cents, ticket_type: s.section }))
    : gaTickets(unitPrice, quantity, half);
  const discount = code ? codeDiscount(priced, code) : 0;
  const estimate = (seated ? fullTotal : fullTotal - Math.floor((unitPrice * half) / 2)) - discount;
  const presale = code?.presale === true;

  async function buy(token = session?.token) {
    setError(null);
    const intent = { quantity: count || 1, half_price: half, ...(ticketType ? { ticket_type: ticketType.name } : {}) };
    if (waitingRoom && !admission && !presale) {
      // Anyone may queue; signing in waits until it is their turn.
      setIntent(event.id, intent);
      navigate(`/events/${event.id}/queue`);
      return;
    }
    if (!token) {
      setAskAuth(true);
      return;
    }
    setBusy(true);
    try {
      const extra = {
        ...(ticketType ? { ticket_type: ticketType.name } : {}),
        ...(half ? { half_price: half } : {}),
        ...(code ? { code: code.code } : {}),
      };
      const body = seated ? { seat_ids: selected, ...extra } : { quantity, ...extra };
      const hold = await api.createHold(event.id, body, token, admission?.token, getVisitorToken());
      if (admission) setAdmission(event.id, null);
      navigate(`/checkout/${hold.id}`);
    } catch (err) {
      if (err instanceof ApiError) {
        if (err.status === 401) {
          setSession(null);
          setAskAuth(true);
        } else if (err.code === "admission_required") {
          setAdmission(event.id, null);
          setIntent(event.id, intent);
          navigate(`/events/${event.id}/queue`);
          return;
        } else if (err.code === "seat_taken") {
          setSelected([]);
          reloadSeats();
        } else if (err.code === "sold_out") {
          reloadEvent();
        } else if (err.code === "limit_reached") {
          void account.reload(true); // what the buyer owns may have changed in another tab
        } else if (err.code.startsWith("code_")) {
          setCode(null); // refused at the hold (used up meanwhile, …): the reason shows below
        }
      }
      setError(err);
    } finally {
      setBusy(false);
    }
  }

  const offer = offerFromSearch(search);
  if (offer) return <WaitlistOffer event={event} offerToken={offer} />;
  if (event.status === "sold_out") {
    return (
      <section className="panel buy-panel" aria-labelledby="buy-title">
        <h2 id="buy-title">Sold out</h2>
        <Notice kind="warning" role="status" title="Every ticket is taken">
          <p>
            All tickets are sold or being paid for right now. If someone does not pay in time, their tickets come back on
            sale and this page shows it at once.
          </p>
        </Notice>
        <WaitlistPanel event={event} />
        <Link className="btn btn-block" to="/">
          See other events
        </Link>
      </section>
    );
  }
  if (event.status === "closed") {
    return (
      <section className="panel buy-panel" aria-labelledby="buy-title">
        <h2 id="buy-title">Sales closed</h2>
        <p>Tickets for this event are no longer sold here.</p>
        <Link className="btn btn-block" to="/">
          See other events
        </Link>
      </section>
    );
  }

  if (seated && seatsLoading) {
    // Nothing under the map until it is in: the page does not jump when it arrives.
    return (
      <section className="panel buy-panel" aria-labelledby="buy-title">
        <h2 id="buy-title">Buy tickets</h2>
        <Loading label="Loading the seat map…" />
      </section>
    );
  }

  const scheduled = event.status === "scheduled";
  const canBuy = !scheduled || waitingRoom || presale;
  const label = waitingRoom && !admission && !presale
    ? scheduled
      ? "Join the waiting room"
      : "Get in line"
    : seated
      ? `Hold ${selected.length ? plural(selected.length, "seat") : "seats"}`
      : `Buy ${plural(quantity, "ticket")}`;

  return (
    <section className="panel buy-panel" aria-labelledby="buy-title">
      <h2 id="buy-title">{waitingRoom && !admission ? "Get tickets" : "Buy tickets"}</h2>
      {scheduled && opensIn > 0 && (
        <Notice kind="info" role="status" title="Sales open soon">
          <p>
            Opens in <strong className="countdown">{formatLongCountdown(opensIn)}</strong>
            {waitingRoom ? ". Join the waiting room now to be in the line when it opens." : "."}
          </p>
        </Notice>
      )}
      {waitingRoom && !admission && !scheduled && (
        <p className="muted">
          So many people want these tickets that a waiting room keeps it fair: you get your turn in the order you
          arrived.
        </p>
      )}
      {admission && (
        <Notice kind="success" role="status" title="It is your turn">
          <p>Pick your {seated ? "seats" : "tickets"} now.</p>
        </Notice>
      )}

      {types.length > 0 && (
        <TicketTypePicker
          types={types}
          value={ticketType?.name ?? null}
          onChange={(name) => {
            setTypeName(name);
            setSelected([]); // seats of another type are not this type's
          }}
        />
      )}
      {seated ? (
        seatsError && !seats.length ? (
          <ErrorBox title="We could not load the seats" error={seatsError} onRetry={reloadSeats} />
        ) : (
          mayPick && (
            <SeatMap seats={shownSeats} selected={selected} max={Math.max(1, limit.left)} onToggle={toggleSeat} />
          )
        )
      ) : (
        <>
        <div className="field">
          <label htmlFor="qty">Tickets</label>
          <select id="qty" value={quantity} onChange={(e) => setQuantity(Number(e.target.value))}>
            {(limit.choices.length ? limit.choices : [1]).map((n) => (
              <option key={n} value={n}>
                {n}
              </option>
            ))}
          </select>
          {max > 1 && (
            <p className="hint">
              Up to {max} per person{owned > 0 && limit.left > 0 ? `; you already own ${owned}, so up to ${limit.left} more` : ""}.
            </p>
          )}
        </div>
        </>
      )}

      {event.half_price && (
        <div className="field">
          <label htmlFor="half">Half-price tickets</label>
          <select id="half" value={half} onChange={(e) => setHalf(Number(e.target.value))} aria-describedby="half-hint">
            {Array.from({ length: Math.max(1, count) + 1 }, (_, i) => i)
              .filter((n) => n <= Math.max(count, 1))
              .map((n) => (
                <option key={n} value={n}>
                  {n}
                </option>
              ))}
          </select>
          <p className="hint" id="half-hint">
            Students, seniors and people with disabilities pay half. Bring proof to the door.
          </p>
        </div>
      )}

      <CodeInput eventId={event.id} applied={code} discountCents={discount} onApplied={setCode} />

      {(!seated || selected.length > 0) && mayPick && (
        <p className="total">
          Total <strong>{formatMoney(estimate)}</strong>
        </p>
      )}

      {session && limit.left === 0 && (
        <Notice kind="info" role="status" title="You have your tickets">
          <p>
            You already own {plural(owned, "ticket")} for this event, as many as one person may buy.{" "}
            <Link to="/tickets">See my tickets</Link>
          </p>
        </Notice>
      )}

      {error !== null && (
        <div className="notice notice-error" role="alert">
          <p>
            {error instanceof ApiError && error.code === "limit_reached" && limit.left > 0
              ? `One person may have ${max} tickets for this event and you already hold or own ${max - limit.left}: choose at most ${limit.left}.`
              : friendlyMessage(error)}
          </p>
          {error instanceof ApiError && error.code === "limit_reached" && (
            <Link to="/tickets">See my tickets</Link>
          )}
        </div>
      )}

      {askAuth && !session ? (
        <AuthForm
          intro="Create an account or log in to continue. Your choice stays selected."
          onDone={(s) => {
            setAskAuth(false);
            void buy(s.token);
          }}
        />
      ) : (
        <button
          type="button"
          className="btn btn-primary btn-block btn-large"
          disabled={busy || !canBuy || (session !== null && limit.left === 0) || (seated && mayPick && selected.length === 0) || (types.length > 0 && !ticketType)}
          onClick={() => void buy()}
        >
          {busy ? "Holding your tickets…" : label}
        </button>
      )}
      {!seated && !waitingRoom && (types.length === 0 || ticketType) && event.status === "on_sale" && session && limit.left > 0 && (
        <QuickBuy
          eventId={event.id}
          quantity={quantity}
          ticketType={ticketType?.name ?? null}
          token={session.token}
          onDecided={() => {
            void account.reload(true);
            reloadEvent();
          }}
        />
      )}
      {seated && mayPick && selected.length === 0 && !askAuth && (
        <p className="hint center">Choose up to {plural(Math.max(1, limit.left), "seat")} on the map.</p>
      )}
    </section>
  );
}
