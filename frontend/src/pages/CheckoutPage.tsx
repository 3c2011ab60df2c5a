import { useQueryClient } from "@tanstack/react-query";
import { useCallback, useEffect, useMemo, useState, type FormEvent } from "react";
import { ApiError, friendlyMessage } from "../api/client";
import { api } from "../api/endpoints";
import { tokeniseCard } from "../api/payments";
import type { Hold, Purchase } from "../api/types";
import { AuthForm } from "../components/AuthForm";
import { HoldCodeForm } from "../components/CodeInput";
import { ErrorBox, Loading, Notice, ProgressBar } from "../components/ui";
import { formatClock, formatDuration, formatMoney, plural, seatLabel } from "../lib/format";
import { extensionOffer, mergeHold } from "../lib/holds";
import { useCountdown, useLoad, useNow, useTitle } from "../lib/hooks";
import { useLive } from "../lib/live";
import { Link, useNavigate } from "react-router";
import { getVisitorToken, paymentKey, setSession, useSession } from "../lib/storage";
import { clock, queueAuth } from "../lib/waitingRoom";

export const TEST_CARDS = [
  { number: "4242424242424242", label: "Visa test card — payment succeeds" },
  { number: "4000000000000002", label: "Test card — payment is declined" },
];

type Outcome =
  | { kind: "paid"; purchases: Purchase[] }
  | { kind: "expired" }
  | { kind: "cancelled" }
  | { kind: "sold_out" };

export function CheckoutPage({ holdId }: { holdId: string }) {
  const session = useSession();
  useTitle(session ? undefined : "Checkout");
  if (!session) {
    return (
      <div className="narrow">
        <h1>Checkout</h1>
        <AuthForm initialMode="login" intro="Log in again to finish paying for your tickets." />
      </div>
    );
  }
  return <Checkout holdId={holdId} token={session.token} />;
}

function Checkout({ holdId, token }: { holdId: string; token: string }) {
  const navigate = useNavigate();
  const queryClient = useQueryClient();
  const [receivedAt, setReceivedAt] = useState(() => performance.now());
  const hold = useLoad("hold", async () => {
    const h = await api.hold(holdId, token);
    setReceivedAt(performance.now());
    return h;
  }, [holdId, token], { fresh: true });
  const h = hold.data;
  const ev = useLoad("checkout-event", (signal) => (h ? api.event(h.event_id, signal) : Promise.resolve(null)), [h?.event_id]);
  const left = useCountdown(h?.status === "active" ? h.seconds_left : null, receivedAt);
  // The last minute shows in the tab strip too: a buyer in another tab sees it coming.
  useTitle(left !== null && left > 0 && left <= 60 ? `⏰ ${formatClock(left)} left to pay` : "Checkout");
  const [outcome, setOutcome] = useState<Outcome | null>(null);
  const [card, setCard] = useState("");
  const [extending, setExtending] = useState(false);
  const [extendError, setExtendError] = useState<unknown>(null);
  const [paying, setPaying] = useState(false);
  const [payError, setPayError] = useState<unknown>(null);

  useEffect(() => {
    if (!h || outcome) return;
    if (h.status === "expired") setOutcome({ kind: "expired" });
    else if (h.status === "cancelled") setOutcome({ kind: "cancelled" });
    else if (h.status === "confirmed") setOutcome({ kind: "paid", purchases: [] });
  }, [h, outcome]);

  // Paid (here or in another tab): what the buyer owns changed, so "My tickets" and the
  // per-person limit on the event page read it again.
  const paid = outcome?.kind === "paid";
  useEffect(() => {
    if (paid) void queryClient.invalidateQueries({ queryKey: ["customer"] });
  }, [paid, queryClient]);

  // Time is up on this screen: the server decides, and returns the tickets to sale.
  useEffect(() => {
    if (left === 0 && !outcome && !paying) {
      setOutcome({ kind: "expired" });
      void hold.reload(true);
    }
  }, [left, outcome, paying, hold]);

  // Hold changes pushed by the server (e.g. expired, or paid in another tab).
  const onHoldMessage = useCallback(
    (data: unknown) => {
      const msg = data as { type?: string; hold?: Hold };
      if (msg?.type !== "hold" || msg.hold?.id !== holdId) return;
      const pushed = msg.hold;
      hold.setData((old) => mergeHold(old, pushed));
      setReceivedAt(performance.now());
    },
    [holdId, hold],
  );
  useLive(
    "/api/ws",
    onHoldMessage,
    (reconnected) => {
      if (reconnected) void hold.reload(true);
    },
    undefined,
    { token },
  );

  async function pay(e: FormEvent) {
    e.preventDefault();
    const number = card.replace(/\D/g, "");
    if (number.length < 12) {
      setPayError(new ApiError(400, "invalid_input", "Enter the card number (12 to 19 digits).", "card_number"));
      return;
    }
    setPaying(true);
    setPayError(null);
    try {
      // The card goes to the payment provider only; CrowdPass gets its payment method.
      const method = await tokeniseCard(number);
      // Same hold + same card = same key: pressing Pay again after a lost answer cannot pay twice.
      const res = await api.confirmHold(holdId, method.id, paymentKey(holdId, number), token);
      setOutcome({ kind: "paid", purchases: res.purchases ?? [] });
    } catch (err) {
      if (err instanceof ApiError) {
        if (err.code === "hold_expired" || err.status === 410) setOutcome({ kind: "expired" });
        else if (err.code === "sold_out") setOutcome({ kind: "sold_out" });
        else if (err.status === 401) setSession(null);
        else setPayError(err);
      } else setPayError(err);
    } finally {
      setPaying(false);
    }
  }

  async function extend() {
    setExtending(true);
    setExtendError(null);
    try {
      const longer = await api.extendHold(holdId, token);
      hold.setData(longer);
      setReceivedAt(performance.now());
    } catch (err) {
      if (err instanceof ApiError && err.status === 401) setSession(null);
      else setExtendError(err);
      void hold.reload(true); // whatever happened, show the hold as it is now
    } finally {
      setExtending(false);
    }
  }

  async function release() {
    try {
      await api.releaseHold(holdId, token);
    } catch {
      /* the hold expires by itself anyway */
    }
    navigate(h ? `/events/${h.event_id}` : "/");
  }

  if (hold.loading && !h) return <Loading label="Loading your checkout…" />;
  if (!h) {
    const missing = hold.error instanceof ApiError && (hold.error.status === 404 || hold.error.status === 403);
    return (
      <ErrorBox
        title={missing ? "We could not find this checkout" : "We could not load your checkout"}
        error={missing ? undefined : hold.error}
        onRetry={missing ? undefined : () => void hold.reload()}
      >
        {missing && <p>It may belong to another account, or the link is incomplete.</p>}
      </ErrorBox>
    );
  }

  const eventName = ev.data?.name ?? "your event";
  const eventLink = `/events/${h.event_id}`;

  if (outcome?.kind === "paid") {
    return (
      <div className="narrow">
        <h1>You are going!</h1>
        <Notice kind="success" role="alert" title="Payment accepted">
          <p>
            {plural(Math.max(outcome.purchases.length, h.tickets.length), "ticket")} for <strong>{eventName}</strong>{" "}
            {outcome.purchases.length > 1 || h.tickets.length > 1 ? "are" : "is"} yours. They are listed under My
            tickets.
          </p>
        </Notice>
        <TicketList hold={h} />
        <div className="actions">
          <Link className="btn btn-primary" to="/tickets">
            See my tickets
          </Link>
          <Link className="btn btn-ghost" to="/">
            More events
          </Link>
        </div>
      </div>
    );
  }
  if (outcome) {
    const text =
      outcome.kind === "expired"
        ? {
            title: "Time is up",
            body: "Your hold expired before the payment was made, so the tickets went back on sale. You have not been charged.",
          }
        : outcome.kind === "sold_out"
          ? { title: "Sold out", body: "The tickets are no longer available. You have not been charged." }
          : { title: "Tickets released", body: "You released these tickets; they are back on sale." };
    return (
      <div className="narrow">
        <h1>{text.title}</h1>
        <Notice kind="warning" role="alert">
          <p>{text.body}</p>
        </Notice>
        {outcome.kind === "expired" && ev.data?.waiting_room?.enabled && (
          <GraceOffer eventId={h.event_id} token={token} expired={h.status === "expired"} />
        )}
        <div className="actions">
          <Link className="btn btn-primary" to={eventLink}>
            {outcome.kind === "sold_out" ? "Back to the event" : "Try again"}
          </Link>
          <Link className="btn btn-ghost" to="/">
            Other events
          </Link>
        </div>
      </div>
    );
  }

  const ttl = Math.max(ev.data?.hold_ttl_s ?? 1, left ?? h.seconds_left, 1);
  const urgent = left !== null && left <= 60;
  const offer = extensionOffer(h, left);
  return (
    <div className="narrow checkout">
      <p className="eyebrow">
        <Link to={eventLink}>{eventName}</Link>
      </p>
      <h1>Checkout</h1>
      <section className={`panel timer-panel${urgent ? " urgent" : ""}`} aria-labelledby="timer-title">
        <h2 id="timer-title" className="timer-title">
          Your tickets are held for
        </h2>
        <p className="timer" role="timer" aria-live="off" data-testid="countdown">
          {formatClock(left ?? h.seconds_left)}
        </p>
        <ProgressBar value={left ?? h.seconds_left} max={ttl} label="Time left to pay" />
        {urgent && (
          <p className="small" role="alert">
            Less than a minute left: pay now to keep your tickets{offer > 0 ? ", or ask for more time (once)" : ""}.
          </p>
        )}
        {offer > 0 && (
          <button type="button" className="btn btn-block extend-btn" onClick={() => void extend()} disabled={extending}>
            {extending ? "Asking for more time…" : `Extend by ${formatDuration(offer)}`}
          </button>
        )}
        {h.extended_at && <p className="small muted">Extended once: this is all the time this hold gets.</p>}
        {extendError !== null && (
          <p className="small" role="alert">
            {friendlyMessage(extendError)}
          </p>
        )}
      </section>

      <TicketList hold={h} />
      {!h.code && <HoldCodeForm holdId={holdId} token={token} onApplied={(held) => hold.setData(held)} />}

      <section className="panel" aria-labelledby="pay-title">
        <h2 id="pay-title">Payment</h2>
        <form onSubmit={pay}>
          <div className="field">
            <label htmlFor="card">Card number</label>
            <input
              id="card"
              name="card_number"
              inputMode="numeric"
              autoComplete="cc-number"
              placeholder="4242 4242 4242 4242"
              value={card}
              onChange={(e) => setCard(e.target.value)}
              aria-describedby="card-hint"
              aria-invalid={payError instanceof ApiError && payError.field === "card_number" ? true : undefined}
              required
            />
            <p className="hint" id="card-hint">
              This is a test shop: no real money moves. Use a test card below.
            </p>
          </div>
          <div className="test-cards" role="group" aria-label="Test cards">
            {TEST_CARDS.map((c) => (
              <button key={c.number} type="button" className="chip" onClick={() => setCard(c.number)} title={c.label}>
                {c.number.replace(/(\d{4})(?=\d)/g, "$1 ")}
                <span className="chip-note">{c.number.endsWith("0002") ? "declines" : "succeeds"}</span>
              </button>
            ))}
          </div>
          {payError !== null && (
            <div className="notice notice-error" role="alert">
              <p className="notice-title">
                {payError instanceof ApiError && payError.code === "payment_declined" ? "Card declined" : "Payment not completed"}
              </p>
              <p>{friendlyMessage(payError)}</p>
              {payError instanceof ApiError && payError.retryable && (
                <p className="small">Pressing Pay again is safe: you will never be charged twice.</p>
              )}
            </div>
          )}
          <button type="submit" className="btn btn-primary btn-block btn-large" disabled={paying}>
            {paying ? "Paying…" : `Pay ${formatMoney(h.total_cents)}`}
          </button>
        </form>
        <button type="button" className="link-button release" onClick={() => void release()}>
          Release these tickets
        </button>
      </section>
    </div>
  );
}

/**
 * After a hold of a waiting-room sale expired: one return to the front of the line, within the
 * grace window the server offers (`grace_until`). Asked once the server has expired the hold (the
 * offer comes with the expiry), with two more looks a second apart in case it is a moment late.
 */
function GraceOffer({ eventId, token, expired }: { eventId: string; token: string; expired: boolean }) {
  const navigate = useNavigate();
  const auth = useMemo(() => queueAuth(token, getVisitorToken()), [token]);
  const [until, setUntil] = useState<number | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const now = useNow(1000);

  useEffect(() => {
    if (!expired) return;
    let stop = false;
    let tries = 0;
    const look = async () => {
      try {
        const place = await api.queueMe(eventId, auth);
        if (stop) return;
        if (place.grace_until) {
          setUntil(Date.parse(place.grace_until));
          return;
        }
      } catch {
        /* no record of a place: no offer */
      }
      if (!stop && ++tries < 3) setTimeout(() => void look(), 1000);
    };
    void look();
    return () => {
      stop = true;
    };
  }, [expired, eventId, auth]);

  async function comeBack() {
    setBusy(true);
    setError(null);
    try {
      await api.returnToQueue(eventId, auth);
      navigate(`/events/${eventId}/queue`);
    } catch (err) {
      setError(err);
      setBusy(false);
    }
  }

  const left = until === null ? 0 : Math.max(0, Math.ceil((until - now) / 1000));
  if (until === null || (left === 0 && error === null)) return null;
  return (
    <section className="panel grace" aria-labelledby="grace-title" data-testid="grace">
      <h2 id="grace-title">Still want them?</h2>
      <p>
        You can go back to the front of the line, once, for the next <strong role="timer">{clock(left)}</strong>. You
        are let in as soon as a ticket is free.
      </p>
      {error !== null && (
        <p className="small" role="alert">
          {friendlyMessage(error)}
        </p>
      )}
      <button type="button" className="btn btn-primary btn-block" onClick={() => void comeBack()} disabled={busy}>
        {busy ? "Taking your place…" : "Back to the front of the line"}
      </button>
    </section>
  );
}

function TicketList({ hold }: { hold: Hold }) {
  return (
    <section className="panel" aria-labelledby="tickets-title">
      <h2 id="tickets-title">Your tickets</h2>
      <ul className="ticket-list">
        {hold.tickets.map((t, i) => (
          <li key={t.id ?? i}>
            <span>
              {seatLabel(t)}
              {t.half_price ? <span className="tag tag-small">Half price</span> : null}
            </span>
            {typeof t.price_cents === "number" && <span>{formatMoney(t.price_cents)}</span>}
          </li>
        ))}
      </ul>
      {hold.code && (
        <p className="small" data-testid="hold-code">
          Code <strong>{hold.code}</strong>
          {hold.discount_cents ? `: −${formatMoney(hold.discount_cents)}` : ""}
        </p>
      )}
      <p className="total">
        Total <strong>{formatMoney(hold.total_cents)}</strong>
      </p>
    </section>
  );
}
