// Organizer: edit, close, cancel an event, refund a ticket, the sales report; the dev mail page;
// password reset for customers.
import { useState, type FormEvent } from "react";
import { friendlyMessage } from "../api/client";
import { afterSale } from "../api/afterSale";
import { AdminGate } from "../components/AdminGate";
import { ErrorBox, Loading, PageHeader } from "../components/ui";
import { formatDateTime, formatMoney } from "../lib/format";
import { useLoad, useTitle } from "../lib/hooks";
import { Link } from "react-router";

export function EventManagePage({ eventId }: { eventId: string }) {
  useTitle("Manage event");
  return <AdminGate>{(token) => <Manage eventId={eventId} token={token} />}</AdminGate>;
}

function Manage({ eventId, token }: { eventId: string; token: string }) {
  const [version, setVersion] = useState(0);
  const report = useLoad("sales-report", () => afterSale.report(eventId, token), [eventId, token, version]);
  const [message, setMessage] = useState<string | null>(null);
  const [fields, setFields] = useState<Record<string, string>>({});
  const [refundId, setRefundId] = useState("");
  const [doorName, setDoorName] = useState("Main");
  const [doorToken, setDoorToken] = useState<string | null>(null);

  async function act(what: () => Promise<string>) {
    setMessage(null);
    try {
      setMessage(await what());
      setVersion((v) => v + 1);
    } catch (err) {
      setMessage(friendlyMessage(err));
    }
  }

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
      <section className="panel">
        <h2>Refund a ticket</h2>
        <form onSubmit={(e) => { e.preventDefault(); void act(async () => { const x = await afterSale.refundTicket(refundId.trim(), token); return `Refunded ${formatMoney(x.refund_cents)}.`; }); }}>
          <div className="field">
            <label htmlFor="refund-id">Ticket id</label>
            <input id="refund-id" value={refundId} onChange={(e) => setRefundId(e.target.value)} />
          </div>
          <button type="submit" className="btn">Refund</button>
        </form>
      </section>
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
