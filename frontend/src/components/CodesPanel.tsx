// The organizer's codes of one event (docs/codes.md): each with its uses, uses in flight,
// revenue and discount given, a switch on/off, and a form to create one.
import { useState, type FormEvent } from "react";
import { friendlyMessage } from "../api/client";
import { codesApi } from "../api/codes";
import { codeDraftToBody, describeCode, EMPTY_CODE_DRAFT, type CodeDraft } from "../lib/codes";
import { formatDateTime, formatMoney } from "../lib/format";
import { useActions, useLoad } from "../lib/hooks";

export function CodesPanel({ eventId, token }: { eventId: string; token: string }) {
  const { version, message, setMessage, act } = useActions();
  const codes = useLoad("codes", () => codesApi.list(eventId, token), [eventId, token, version]);
  const [draft, setDraft] = useState<CodeDraft>(EMPTY_CODE_DRAFT);

  function create(e: FormEvent) {
    e.preventDefault();
    const body = codeDraftToBody(draft);
    if (typeof body === "string") {
      setMessage(body);
      return;
    }
    void act(async () => {
      const made = await codesApi.create(eventId, body, token);
      setDraft(EMPTY_CODE_DRAFT);
      return `Code ${made.code} created.`;
    });
  }

  const set = (k: keyof CodeDraft) => (e: { target: { value: string } }) => setDraft({ ...draft, [k]: e.target.value });
  const list = codes.data ?? [];
  return (
    <section className="panel" aria-labelledby="codes-title">
      <h2 id="codes-title">Codes</h2>
      {message && <p role="status" data-testid="codes-message">{message}</p>}
      {codes.error != null && !codes.data && <p role="alert">{friendlyMessage(codes.error)}</p>}
      {list.length > 0 ? (
        <table data-testid="codes-table">
          <thead>
            <tr>
              <th>Code</th><th>Does</th><th>Uses</th><th>In flight</th><th>Bought</th><th>Revenue</th><th>Discount given</th><th>Valid until</th><th />
            </tr>
          </thead>
          <tbody>
            {list.map((c) => (
              <tr key={c.id} className={c.active ? undefined : "muted"}>
                <td><code>{c.code}</code>{c.active ? "" : " (off)"}</td>
                <td>{describeCode(c)}</td>
                <td>{c.uses}{c.max_uses != null ? ` / ${c.max_uses}` : ""}</td>
                <td>{c.in_flight}</td>
                <td>{c.confirmed}</td>
                <td>{formatMoney(c.revenue_cents)}</td>
                <td>{formatMoney(c.discount_cents)}</td>
                <td>{c.valid_until ? formatDateTime(c.valid_until) : "—"}</td>
                <td>
                  <button
                    type="button"
                    className="btn btn-small"
                    onClick={() =>
                      void act(async () => {
                        await codesApi.update(eventId, c.code, { active: !c.active }, token);
                        return `Code ${c.code} switched ${c.active ? "off" : "on"}.`;
                      })
                    }
                  >
                    {c.active ? "Switch off" : "Switch on"}
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : (
        !codes.loading && <p className="muted">No codes yet.</p>
      )}
      <h3>New code</h3>
      <form onSubmit={create} className="code-form">
        <div className="field">
          <label htmlFor="code-text">Code</label>
          <input id="code-text" value={draft.code} onChange={set("code")} placeholder="SUMMER-10" maxLength={32} />
        </div>
        <div className="field">
          <label htmlFor="code-kind">Kind</label>
          <select id="code-kind" value={draft.kind} onChange={set("kind")}>
            <option value="discount">Discount</option>
            <option value="access">Presale access</option>
          </select>
        </div>
        {draft.kind === "discount" && (
          <div className="field">
            <label htmlFor="code-amount">Discount (10% or 5.00)</label>
            <input id="code-amount" value={draft.amount} onChange={set("amount")} />
          </div>
        )}
        <div className="field">
          <label htmlFor="code-type">Ticket type (empty: all)</label>
          <input id="code-type" value={draft.ticket_type} onChange={set("ticket_type")} />
        </div>
        <div className="field">
          <label htmlFor="code-max">Uses (empty: unlimited)</label>
          <input id="code-max" type="number" min={1} value={draft.max_uses} onChange={set("max_uses")} />
        </div>
        <div className="field">
          <label htmlFor="code-until">Valid until (optional)</label>
          <input id="code-until" type="datetime-local" value={draft.valid_until} onChange={set("valid_until")} />
        </div>
        <button type="submit" className="btn btn-primary">Create code</button>
      </form>
    </section>
  );
}
