import { ApiError } from "../api/client";
import { api } from "../api/endpoints";
import type { Purchase } from "../api/types";
import { AuthForm } from "../components/AuthForm";
import { ErrorBox, Loading, PageHeader } from "../components/ui";
import { formatDateTime, formatMoney, seatLabel } from "../lib/format";
import { useLoad, useTitle } from "../lib/hooks";
import { Link } from "react-router";
import { setSession, useSession } from "../lib/storage";
import { ETicketList } from "./ETicketsPage";

export function MyTicketsPage() {
  useTitle("My tickets");
  const session = useSession();
  if (!session) {
    return (
      <div className="narrow">
        <PageHeader title="My tickets" />
        <AuthForm initialMode="login" intro="Log in to see the tickets you bought." />
      </div>
    );
  }
  return <Tickets customerId={session.customer.id} token={session.token} />;
}

interface Group {
  eventId: string;
  eventName: string;
  items: Purchase[];
}

export function groupPurchases(purchases: Purchase[]): Group[] {
  const groups = new Map<string, Group>();
  for (const p of purchases) {
    const eventId = p.event?.id ?? p.event_id ?? "unknown";
    const eventName = p.event?.name ?? p.event_name ?? "Event";
    const g = groups.get(eventId) ?? { eventId, eventName, items: [] };
    g.items.push(p);
    groups.set(eventId, g);
  }
  return [...groups.values()];
}

function statusLabel(status: string | undefined): { text: string; cls: string } {
  const s = (status ?? "confirmed").toLowerCase();
  if (s === "confirmed" || s === "confirmada" || s === "booked" || s === "paid") return { text: "Confirmed", cls: "badge-ok" };
  if (s === "refunded" || s === "cancelled" || s === "canceled") return { text: "Refunded", cls: "badge-closed" };
  return { text: s.replace(/_/g, " "), cls: "badge-scheduled" };
}

function Tickets({ customerId, token }: { customerId: string; token: string }) {
  const me = useLoad("customer", () => api.customer(customerId, token), [customerId, token]);
  if (me.loading && !me.data) return <Loading label="Loading your tickets…" />;
  if (!me.data) {
    if (me.error instanceof ApiError && (me.error.status === 401 || me.error.status === 403)) {
      return (
        <ErrorBox title="Your session has ended">
          <p>Please log in again to see your tickets.</p>
          <button type="button" className="btn btn-primary" onClick={() => setSession(null)}>
            Log in again
          </button>
        </ErrorBox>
      );
    }
    return <ErrorBox title="We could not load your tickets" error={me.error} onRetry={() => void me.reload()} />;
  }
  const groups = groupPurchases(me.data.purchases ?? []);
  return (
    <>
      <PageHeader title="My tickets">
        <p className="lead">
          Signed in as <strong>{me.data.name}</strong> ({me.data.email}).
        </p>
      </PageHeader>
      <ETicketList token={token} />
      {groups.length === 0 ? (
        <div className="notice notice-info">
          <p className="notice-title">No tickets yet</p>
          <p>When you buy tickets they appear here, with their status.</p>
          <Link className="btn btn-primary" to="/">
            Find an event
          </Link>
        </div>
      ) : (
        <ul className="cards" aria-label="Tickets by event">
          {groups.map((g) => (
            <li key={g.eventId} className="card">
              <h2 className="card-title">
                {g.eventId !== "unknown" ? <Link to={`/events/${g.eventId}`}>{g.eventName}</Link> : g.eventName}
              </h2>
              <ul className="ticket-list">
                {g.items.map((p) => {
                  const st = statusLabel(p.status);
                  return (
                    <li key={p.id}>
                      <span>
                        {seatLabel({ section: p.section, row: p.row, number: p.number ?? p.seat })}
                        {p.half_price ? <span className="tag tag-small">Half price</span> : null}
                        <span className="muted small block">
                          Bought {formatDateTime(p.created_at ?? p.at ?? null)}
                        </span>
                      </span>
                      <span className="ticket-right">
                        <span className={`badge ${st.cls}`}>{st.text}</span>
                        {typeof p.price_cents === "number" && <span>{formatMoney(p.price_cents)}</span>}
                      </span>
                    </li>
                  );
                })}
              </ul>
            </li>
          ))}
        </ul>
      )}
    </>
  );
}
