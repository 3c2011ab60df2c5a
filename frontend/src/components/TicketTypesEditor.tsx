// The organizer's editor of an event's ticket types (docs/ticket-types.md): name, price,
// general admission (capacity) or seats (rows × seats), an optional sale window and limit.
import type { ReactNode } from "react";
import { NEW_TYPE, type TypeDraft } from "../lib/ticketTypes";

export function TicketTypesEditor({
  types,
  onChange,
  err,
  invalid,
}: {
  types: TypeDraft[];
  onChange: (types: TypeDraft[]) => void;
  err: (field: string) => ReactNode;
  invalid: (field: string) => Record<string, unknown>;
}) {
  const set = (i: number, patch: Partial<TypeDraft>) => onChange(types.map((t, j) => (j === i ? { ...t, ...patch } : t)));
  const input = (i: number, key: keyof TypeDraft, label: string, extra: Record<string, unknown> = {}) => {
    const field = `type-${i}-${key === "seatsPerRow" ? "seats" : key}`;
    return (
      <div className="field">
        <label htmlFor={`ev-${field}`}>{label}</label>
        <input
          id={`ev-${field}`}
          value={types[i]?.[key] ?? ""}
          onChange={(e) => set(i, { [key]: e.target.value })}
          {...extra}
          {...invalid(field)}
        />
        {err(field)}
      </div>
    );
  };
  return (
    <div className="span-2 sections-editor" data-testid="ticket-types-editor">
      {err("types")}
      {types.map((t, i) => (
        <fieldset key={i} className="section-draft">
          <legend>Ticket type {i + 1}</legend>
          {input(i, "name", "Name")}
          {input(i, "price", "Price", { inputMode: "decimal" })}
          <div className="field">
            <label htmlFor={`ev-type-${i}-seating`}>Sold as</label>
            <select
              id={`ev-type-${i}-seating`}
              value={t.seating}
              onChange={(e) => set(i, { seating: e.target.value as TypeDraft["seating"] })}
            >
              <option value="general">General admission</option>
              <option value="seated">Numbered seats</option>
            </select>
          </div>
          {t.seating === "general"
            ? input(i, "capacity", "Tickets", { inputMode: "numeric" })
            : (
              <>
                {input(i, "rows", "Rows", { inputMode: "numeric" })}
                {input(i, "seatsPerRow", "Seats per row", { inputMode: "numeric" })}
              </>
            )}
          {input(i, "opensAt", "On sale from (optional)", { type: "datetime-local" })}
          {input(i, "closesAt", "On sale until (optional)", { type: "datetime-local" })}
          {input(i, "limit", "Per person (optional)", { inputMode: "numeric", placeholder: "the event's" })}
          {types.length > 1 && (
            <button type="button" className="link-button" onClick={() => onChange(types.filter((_, j) => j !== i))}>
              Remove ticket type {i + 1}
            </button>
          )}
        </fieldset>
      ))}
      <button type="button" className="btn btn-small" onClick={() => onChange([...types, { ...NEW_TYPE }])}>
        Add a ticket type
      </button>
    </div>
  );
}
