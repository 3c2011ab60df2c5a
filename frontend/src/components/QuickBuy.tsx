// "Buy now": one step for events sold through POST /api/orders. The order is accepted at once
// (202) and decided by a worker; the decision arrives over /api/ws (GET /api/orders/{id} when
// the socket opens or is down, so a decision made before it opened is not missed).
import { useCallback, useState, type FormEvent } from "react";
import { Link } from "react-router";
import { ApiError, friendlyMessage } from "../api/client";
import { api } from "../api/endpoints";
import { tokeniseCard } from "../api/payments";
import type { Order } from "../api/types";
import { formatMoney, plural } from "../lib/format";
import { usePoll } from "../lib/hooks";
import { useLive } from "../lib/live";
import { orderFromMessage, orderOutcome } from "../lib/orders";
import { forgetOrderKey, orderKey } from "../lib/storage";

interface Placed {
  id: string;
  quantity: number;
  card: string;
  keyEvent: string; // what the order's key was kept under: the event, and the type when chosen
}

export function QuickBuy({
  eventId,
  quantity,
  ticketType = null,
  token,
  onDecided,
}: {
  eventId: string;
  quantity: number;
  ticketType?: string | null; // the type chosen on the event page, sent with the order
  token: string;
  onDecided: () => void;
}) {
  const [card, setCard] = useState("");
  const [placed, setPlaced] = useState<Placed | null>(null);
  const [order, setOrder] = useState<Order | null>(null);
  const [notice, setNotice] = useState<string | null>(null); // the provider is slow: the place is kept
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const waiting = placed !== null && order === null;

  const decide = useCallback(
    (o: Order) => {
      if (!placed || o.id !== placed.id) return;
      if (o.status === "queued") {
        if (o.notice) setNotice(o.notice);
        return;
      }
      setOrder(o);
      forgetOrderKey(placed.keyEvent, placed.quantity, placed.card);
      onDecided();
    },
    [placed, onDecided],
  );
  const check = useCallback(() => {
    if (!placed) return;
    api.order(placed.id, token).then(decide, () => undefined);
  }, [placed, token, decide]);

  const socket = useLive(
    waiting ? "/api/ws" : null,
    (data) => {
      if (!placed) return;
      const o = orderFromMessage(data, placed.id);
      if (o) decide(o);
    },
    () => check(),
    undefined,
    { token },
  );
  usePoll(check, 3000, waiting && socket !== "open");

  async function submit(e: FormEvent) {
    e.preventDefault();
    const number = card.replace(/\D/g, "");
    if (number.length < 12) {
      setError(new ApiError(400, "invalid_input", "Enter the card number (12 to 19 digits).", "card_number"));
      return;
    }
    setBusy(true);
    setError(null);
    setOrder(null);
    setNotice(null);
    try {
      // Same event, quantity and card = same key until decided: a repeat after a lost answer finds the same order.
      const key = orderKey(ticketType ? `${eventId}.${ticketType}` : eventId, quantity, number);
      const method = await tokeniseCard(number); // the card goes to the payment provider only
      const body = { event_id: eventId, quantity, payment_method: method.id, ...(ticketType ? { ticket_type: ticketType } : {}) };
      const accepted = await api.placeOrder(body, key, token);
      setPlaced({ id: accepted.id, quantity, card: number, keyEvent: ticketType ? `${eventId}.${ticketType}` : eventId });
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  }

  const outcome = order ? orderOutcome(order) : null;
  return (
    <details className="quick-buy">
      <summary>Buy now in one step</summary>
      {outcome?.kind === "confirmed" ? (
        <div className="notice notice-success" role="status" data-testid="order-confirmed">
          <p className="notice-title">You are going!</p>
          <p>
            {plural(outcome.tickets, "ticket")} bought
            {outcome.totalCents !== null ? ` for ${formatMoney(outcome.totalCents)}` : ""}.{" "}
            <Link to="/tickets">See my tickets</Link>
          </p>
        </div>
      ) : (
        <form onSubmit={(e) => void submit(e)} noValidate>
          <p className="hint">Pay for {plural(quantity, "ticket")} at once, without holding them first.</p>
          <div className="field">
            <label htmlFor="quick-card">Card number</label>
            <input
              id="quick-card"
              inputMode="numeric"
              autoComplete="cc-number"
              value={card}
              onChange={(e) => setCard(e.target.value)}
              aria-invalid={error instanceof ApiError && error.field === "card_number" ? true : undefined}
              disabled={waiting}
            />
            <p className="hint">Test card: 4242 4242 4242 4242.</p>
          </div>
          {waiting && (
            <p className="notice notice-info" role="status" aria-live="polite">
              Order received — confirming your {plural(placed.quantity, "ticket")}…
              {notice && (
                <>
                  <br />
                  <span data-testid="order-notice">{notice}</span>
                </>
              )}
            </p>
          )}
          {outcome?.kind === "rejected" && (
            <div className="notice notice-error" role="alert">
              <p>{outcome.message}</p>
            </div>
          )}
          {error !== null && (
            <div className="notice notice-error" role="alert">
              <p>{friendlyMessage(error)}</p>
            </div>
          )}
          <button type="submit" className="btn btn-block" disabled={busy || waiting}>
            {busy || waiting ? "Buying…" : `Buy ${plural(quantity, "ticket")} now`}
          </button>
        </form>
      )}
    </details>
  );
}
