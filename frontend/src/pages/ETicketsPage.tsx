// "My tickets" with the e-tickets: QR code, download, printable page, cancel within the policy.
import { useEffect, useState } from "react";
import { friendlyMessage } from "../api/client";
import { afterSale, blobUrl, type ETicket } from "../api/afterSale";
import { ErrorBox, Loading } from "../components/ui";
import { cancelPolicyText, formatDateTime, formatMoney } from "../lib/format";
import { useLoad } from "../lib/hooks";

function QrImage({ ticket, token }: { ticket: ETicket; token: string }) {
  const [url, setUrl] = useState<string | null>(null);
  useEffect(() => {
    let made: string | null = null;
    blobUrl(ticket.qr_png, token)
      .then((u) => {
        made = u;
        setUrl(u);
      })
      .catch(() => setUrl(null));
    return () => {
      if (made) URL.revokeObjectURL(made);
    };
  }, [ticket.qr_png, token]);
  if (!url) return <div className="qr-placeholder">QR…</div>;
  return (
    <div className="qr">
      <img src={url} alt={`QR code of ticket ${ticket.id}`} width={180} height={180} data-testid="ticket-qr" />
      <a className="btn" href={url} download={`ticket-${ticket.id}.png`}>
        Download PNG
      </a>
    </div>
  );
}

async function openPage(ticket: ETicket, token: string) {
  const url = await blobUrl(ticket.page, token);
  window.open(url, "_blank", "noopener");
}

export function ETicketList({ token }: { token: string }) {
  const [version, setVersion] = useState(0);
  const tickets = useLoad("e-tickets", () => afterSale.myTickets(token), [token, version]);
  const [message, setMessage] = useState<string | null>(null);
  if (tickets.loading && !tickets.data) return <Loading label="Loading your e-tickets…" />;
  if (!tickets.data) return <ErrorBox title="Could not load your e-tickets">{friendlyMessage(tickets.error)}</ErrorBox>;
  if (tickets.data.length === 0) return null;

  async function cancel(ticket: ETicket) {
    const fee = ticket.cancel_fee_cents ?? 0;
    const terms = fee > 0
      ? `A fee of ${formatMoney(fee)} is kept: ${formatMoney(ticket.cancel_refund_cents ?? 0)} comes back to your card.`
      : `The full ${formatMoney(ticket.price_cents)} comes back to your card.`;
    if (!window.confirm(`Cancel your ticket for ${ticket.event_name}? ${terms}`)) return;
    try {
      const r = await afterSale.refundTicket(ticket.id, token);
      setMessage(`Cancelled: ${formatMoney(r.refund_cents)} refunded${r.fee_cents ? ` (fee ${formatMoney(r.fee_cents)})` : ""}.`);
      setVersion((v) => v + 1);
    } catch (err) {
      setMessage(friendlyMessage(err));
    }
  }

  return (
    <section className="panel" aria-labelledby="etickets-title">
      <h2 id="etickets-title">E-tickets</h2>
      {message && <p role="status">{message}</p>}
      <ul className="etickets">
        {tickets.data.map((t) => (
          <li key={t.id} className="eticket" data-testid="eticket" data-state={t.state}>
            <div>
              <h3>{t.event_name}</h3>
              <p>
                {t.venue} · {formatDateTime(t.starts_at)}
              </p>
              <p>
                <strong>{t.seat}</strong> · {t.holder} · {formatMoney(t.price_cents)}
              </p>
              <p className="muted">
                State: <span data-testid="eticket-state">{t.state.replace(/_/g, " ")}</span>
                {t.checked_in_at && ` at ${formatDateTime(t.checked_in_at)} (${t.checked_in_door})`}
              </p>
              {t.state === "valid" && (
                <p className="muted" data-testid="eticket-cancel-policy">
                  {cancelPolicyText(t.cancel_until, t.cancel_fee_cents ?? 0, t.cancellable ?? false)}
                </p>
              )}
              <details>
                <summary>Code</summary>
                <code className="code" data-testid="eticket-code">
                  {t.code}
                </code>
              </details>
              <div className="actions">
                <button type="button" className="btn" onClick={() => void openPage(t, token)}>
                  Printable ticket
                </button>
                {t.cancellable && (
                  <button type="button" className="btn" onClick={() => void cancel(t)}>
                    Cancel ticket
                    {t.cancel_fee_cents ? ` (fee ${formatMoney(t.cancel_fee_cents)})` : ""}
                  </button>
                )}
              </div>
            </div>
            {t.state !== "refunded" && <QrImage ticket={t} token={token} />}
          </li>
        ))}
      </ul>
    </section>
  );
}
