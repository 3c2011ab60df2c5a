// The buyer's choice of ticket type (docs/ticket-types.md): one radio per type with its
// price and what is left; a type that is sold out or not on sale now cannot be chosen.
import type { TicketTypeOut } from "../api/types";
import { formatDateTime, formatMoney } from "../lib/format";

export function typeNote(t: TicketTypeOut, now = Date.now()): string {
  if (t.available === 0) return "Sold out";
  if (!t.on_sale) {
    if (t.sales_open_at && Date.parse(t.sales_open_at) > now) return `On sale ${formatDateTime(t.sales_open_at)}`;
    return "Not on sale";
  }
  return `${t.available.toLocaleString("en-US")} left`;
}

/** The type to preselect: the chosen one while it can still be bought, else the first that can. */
export function pickType(types: TicketTypeOut[], chosen: string | null): string | null {
  const buyable = types.filter((t) => t.on_sale && t.available > 0);
  if (chosen && buyable.some((t) => t.name === chosen)) return chosen;
  return buyable[0]?.name ?? null;
}

export function TicketTypePicker({
  types,
  value,
  onChange,
}: {
  types: TicketTypeOut[];
  value: string | null;
  onChange: (name: string) => void;
}) {
  return (
    <fieldset className="field ticket-types" data-testid="ticket-types">
      <legend>Ticket type</legend>
      {types.map((t) => {
        const disabled = !t.on_sale || t.available === 0;
        const id = `type-${t.name.replace(/[^A-Za-z0-9_-]/g, "_")}`;
        return (
          <label key={t.name} htmlFor={id} className={disabled ? "type-option disabled" : "type-option"}>
            <input
              id={id}
              type="radio"
              name="ticket-type"
              value={t.name}
              checked={value === t.name}
              disabled={disabled}
              onChange={() => onChange(t.name)}
            />
            <span className="type-name">{t.name}</span>
            <span className="type-price">{formatMoney(t.price_cents)}</span>
            <span className="muted small type-left">
              {typeNote(t)}
              {t.max_per_customer ? ` · up to ${t.max_per_customer} per person` : ""}
            </span>
          </label>
        );
      })}
    </fieldset>
  );
}
