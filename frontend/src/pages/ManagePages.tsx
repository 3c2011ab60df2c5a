// Organizer: edit, close, cancel an event, its purchases with a Refund button each, the sales
// report; the dev mail page; password reset for customers.
import { useState, type FormEvent } from "react";
import { friendlyMessage } from "../api/client";
import { afterSale, type EventPurchase } from "../api/afterSale";
import { AdminGate } from "../components/AdminGate";
import { CodesPanel } from "../components/CodesPanel";
import { ErrorBox, Loading, PageHeader } from "../components/ui";
import { formatDateTime, formatMoney } from "../lib/format";
import { useActions, useLoad, useTitle } from "../lib/hooks";
import { Link } from "react-router";

export function EventManagePage({ eventId }: { eventId: string }) {
  useTitle("Manage event");
  return <AdminGate>{(token) => <Manage eventId={eventId} token={token} />}</AdminGate>;
}

function Manage({ eventId, token }: { eventId: string; token: string }) {
  const { version, message, setMessage, refresh, act } = useActions();
  const report = useLoad("sales-report", () => afterSale.report(eventId, token), [eventId, token, version]);
  const [fields, setFields] = useState<Record<string, string>>({});
  const [doorName, setDoorName] = useState("Main");
  const [doorToken, setDoorToken] = useState<string | null>(null);

  function save(e: FormEvent) {
    e.preventDefault();
    const body: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(fields)) {
      if (v === "") continue;
      body[k] = ["capacity", "price_cents", "max_per_customer", "hold_ttl_s", "cancel_fee_cents"].includes(k)
        ? Number(v)
        : k.endsWith("_at") || k === "buyer_cancel_until"
          ? new Date(v).toISOString()
          : v;
    }
    void act(async () => {
      await afterSale.updateEvent(eventId, body, token);
      return "Saved.";
    });
  }

  const field = (name: string, label: string, type = "text") => (
    <div className="field" key={name}>
      <label htmlFor={`f-${name}`}>{label}</label>
      <input id={`f-${name}`} type={type} value={fields[name] ?? ""} onChange={(e) => setFields({ ...fields, [name]: e.target.value })} />
    </div>
  );

  async function downloadCsv() {
    const response = await fetch(`/api/events/${encodeURIComponent(eventId)}/report.csv`, {
      headers: { Authorization: `Bearer ${token}` },
    });
    const url = URL.createObjectURL(await response.blob());
    const a = document.createElement("a");
    a.href = url;
    a.download = `report-${eventId}.csv`;
    a.click();
    URL.revokeObjectURL(url);
  }

  const r = report.data;
  return (
    <div>
      <PageHeader title={r ? `Manage: ${r.name}` : "Manage event"}>
        <Link to={`/door/${eventId}`}>Door page</Link>
      </PageHeader>
      {message && <p role="status" data-testid="manage-message">{message}</p>}
      {report.loading && !r && <Loading />}
      {report.error != null && !r && <ErrorBox title="Could not load the report">{friendlyMessage(report.error)}</ErrorBox>}
      {r && (
        <section className="panel" aria-labelledby="report-title">
          <h2 id="report-title">Sales report {r.cancelled && "(cancelled)"}</h2>
          <p data-testid="report-totals">
            Sold {r.sold} of {r.capacity} · held {r.held} · available {r.available} · revenue {formatMoney(r.revenue_cents)} ·
            refunds {r.refunds} ({formatMoney(r.refunded_cents)}) · checked in {r.checked_in}
          </p>
          <table>
            <thead>
              <tr><th>Section</th><th>Capacity</th><th>Sold</th><th>Held</th><th>Revenue</th><th>Refunds</th><th>Checked in</th></tr>
            </thead>
            <tbody>
              {r.by_section.map((s) => (
                <tr key={s.section}>
                  <td>{s.section || "General admission"}</td><td>{s.capacity}</td><td>{s.sold}</td><td>{s.held}</td>
                  <td>{formatMoney(s.revenue_cents)}</td><td>{s.refunds}</td><td>{s.checked_in}</td>
                </tr>
              ))}
            </tbody>
          </table>
          <h3>Over time</h3>
          <ul>
            {r.over_time.map((b) => (
              <li key={b.at}>{formatDateTime(b.at)}: sold {b.sold}, refunded {b.refunded}, {formatMoney(b.revenue_cents)}</li>
            ))}
          </ul>
          <button type="button" className="btn" onClick={() => void downloadCsv()}>Download CSV</button>
        </section>
      )}
      <section className="panel">
        <h2>Edit</h2>
        <form onSubmit={save}>
          {field("name", "Name")}
          {field("venue", "Venue")}
          {field("starts_at", "Starts at", "datetime-local")}
          {field("capacity", "Capacity (before the first sale)", "number")}
          {field("price_cents", "Price in cents (before the first sale)", "number")}
          {field("max_per_customer", "Tickets per customer", "number")}
          {field("hold_ttl_s", "Hold time (s)", "number")}
          {field("buyer_cancel_until", "Buyers may cancel until", "datetime-local")}
          {field("cancel_fee_cents", "Cancellation fee (cents)", "number")}
          <button type="submit" className="btn btn-primary">Save</button>
        </form>
        <div className="actions">
          <button type="button" className="btn" onClick={() => void act(async () => (await afterSale.updateEvent(eventId, { closed: true }, token), "Sales closed."))}>
            Close sales
          </button>
          <button type="button" className="btn" onClick={() => void act(async () => (await afterSale.updateEvent(eventId, { closed: false }, token), "Sales reopened."))}>
            Reopen sales
          </button>
          <button
            type="button"
            className="btn btn-danger"
            onClick={() => {
              if (window.confirm("Cancel this event and refund every ticket?"))
                void act(async () => `Cancelled: ${(await afterSale.cancelEvent(eventId, token)).purchases_to_refund} purchase(s) being refunded.`);
            }}
          >
            Cancel event
          </button>
        </div>
      </section>
      <CodesPanel eventId={eventId} token={token} />
      <PurchaseList eventId={eventId} token={token} version={version} onRefunded={(text) => { setMessage(text); refresh(); }} />
      <section className="panel">
        <h2>Door staff</h2>
        <div className="field">
          <label htmlFor="door-token-name">Door</label>
          <input id="door-token-name" value={doorName} onChange={(e) => setDoorName(e.target.value)} />
        </div>
        <button type="button" className="btn" onClick={() => void afterSale.doorToken(eventId, doorName, token).then((t) => setDoorToken(t.token), (err) => setMessage(friendlyMessage(err)))}>
          Mint a door token
        </button>
        {doorToken && <code className="code" data-testid="door-token">{doorToken}</code>}
      </section>
    </div>
  );
}

const PURCHASES_PER_PAGE = 20;

/** The event's purchases, searchable and paginated, with a Refund button on each. */
function PurchaseList({
  eventId,
  token,
  version,
  onRefunded,
}: {
  eventId: string;
  token: string;
  version: number;
  onRefunded: (message: string) => void;
}) {
  const [search, setSearch] = useState("");
  const [query, setQuery] = useState("");
  const [page, setPage] = useState(1);
  const [error, setError] = useState<string | null>(null);
  const list = useLoad(
    "event-purchases",
    () => afterSale.eventPurchases(eventId, { q: query, page, limit: PURCHASES_PER_PAGE }, token),
    [eventId, token, query, page, version],
  );
  const data = list.data;
  const pages = data ? Math.max(1, Math.ceil(data.total / data.limit)) : 1;

  async function refund(p: EventPurchase) {
    if (!window.confirm(`Refund ${p.buyer_name}'s ticket (${p.seat}) in full, ${formatMoney(p.price_cents)}? The ticket goes back on sale.`)) return;
    setError(null);
    try {
      const r = await afterSale.refundTicket(p.id, token);
      onRefunded(`Refunded ${formatMoney(r.refund_cents)} to ${p.buyer_name}.`);
    } catch (err) {
      setError(friendlyMessage(err));
    }
  }

  return (
    <section className="panel" aria-labelledby="purchases-title">
      <h2 id="purchases-title">Purchases</h2>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          setPage(1);
          setQuery(search);
        }}
      >
        <div className="field">
          <label htmlFor="purchase-search">Search by buyer email, name, ticket id or code</label>
          <input id="purchase-search" value={search} onChange={(e) => setSearch(e.target.value)} />
        </div>
        <button type="submit" className="btn">Search</button>
      </form>
      {error && <p role="alert">{error}</p>}
      {list.error != null && <ErrorBox title="Could not load the purchases">{friendlyMessage(list.error)}</ErrorBox>}
      {list.loading && !data && <Loading />}
      {data && (
        <>
          <p className="muted" data-testid="purchases-count">
            {data.total} purchase(s){query ? ` matching “${query}”` : ""} · page {data.page} of {pages}
          </p>
          <table>
            <thead>
              <tr><th>Buyer</th><th>Email</th><th>Seat</th><th>Price</th><th>Bought</th><th>State</th><th /></tr>
            </thead>
            <tbody>
              {data.items.map((p) => (
                <tr key={p.id} data-testid="purchase-row" data-id={p.id}>
                  <td>{p.buyer_name}</td>
                  <td>{p.buyer_email}</td>
                  <td>{p.seat}</td>
                  <td>{formatMoney(p.price_cents)}</td>
                  <td>{formatDateTime(p.purchased_at)}</td>
                  <td data-testid="purchase-state">
                    {p.state.replace(/_/g, " ")}
                    {p.refunded_at && ` (${formatMoney(p.refund_cents)} back)`}
                  </td>
                  <td>
                    {p.state !== "refunded" && (
                      <button type="button" className="btn" onClick={() => void refund(p)}>
                        Refund
                      </button>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          <div className="actions">
            <button type="button" className="btn" disabled={page <= 1} onClick={() => setPage((n) => n - 1)}>
              Previous page
            </button>
            <button type="button" className="btn" disabled={page >= pages} onClick={() => setPage((n) => n + 1)}>
              Next page
            </button>
          </div>
        </>
      )}
    </section>
  );
}

export function DevMailPage() {
  useTitle("Sent mail");
  return <AdminGate>{(token) => <Mailbox token={token} />}</AdminGate>;
}

function Mailbox({ token }: { token: string }) {
  const [version, setVersion] = useState(0);
  const mail = useLoad("dev-mail", () => afterSale.devMail(token), [token, version]);
  return (
    <div>
      <PageHeader title="Sent mail (development)">
        <button type="button" className="btn" onClick={() => setVersion((v) => v + 1)}>Refresh</button>
      </PageHeader>
      {mail.error != null && !mail.data && <ErrorBox title="No mail sink">{friendlyMessage(mail.error)}</ErrorBox>}
      <ul className="mailbox">
        {(mail.data ?? []).map((m) => (
          <li key={m.id} className="panel" data-testid="mail" data-kind={m.kind}>
            <h3>{m.subject}</h3>
            <p className="muted">To {m.to} · {m.date} · {m.kind}</p>
            <pre className="mail-text">{m.text}</pre>
            {m.attachments.map((a, i) => <span key={i} className="badge">{a.filename}</span>)}
          </li>
        ))}
      </ul>
    </div>
  );
}

export function ResetPasswordPage({ token }: { token: string | null }) {
  useTitle("Reset password");
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [message, setMessage] = useState<string | null>(null);
  async function submit(e: FormEvent) {
    e.preventDefault();
    try {
      if (token) {
        await afterSale.confirmReset(token, password);
        setMessage("Your password is changed: log in with it.");
      } else {
        await afterSale.askReset(email);
        setMessage("If this address has an account, a reset link is on its way.");
      }
    } catch (err) {
      setMessage(friendlyMessage(err));
    }
  }
  return (
    <div className="narrow">
      <PageHeader title="Reset password" />
      <form onSubmit={submit}>
        {token ? (
          <div className="field">
            <label htmlFor="new-password">New password</label>
            <input id="new-password" type="password" minLength={8} value={password} onChange={(e) => setPassword(e.target.value)} />
          </div>
        ) : (
          <div className="field">
            <label htmlFor="reset-email">Email</label>
            <input id="reset-email" type="email" value={email} onChange={(e) => setEmail(e.target.value)} />
          </div>
        )}
        <button type="submit" className="btn btn-primary">{token ? "Set password" : "Send reset link"}</button>
      </form>
      {message && <p role="status">{message}</p>}
    </div>
  );
}
