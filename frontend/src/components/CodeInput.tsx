// "Have a code?" on the event page: checks a presale or discount code before the hold and
// shows what it does, or why it was refused (docs/codes.md). The hold carries the code.
import { useState, type FormEvent } from "react";
import { codesApi, type CodeCheck } from "../api/codes";
import type { Hold } from "../api/types";
import { codeRefusal, describeCode, normalizeCode } from "../lib/codes";
import { formatMoney } from "../lib/format";

export function CodeInput({
  eventId,
  applied,
  discountCents,
  onApplied,
}: {
  eventId: string;
  applied: CodeCheck | null;
  discountCents: number;
  onApplied: (code: CodeCheck | null) => void;
}) {
  if (applied) {
    return (
      <div className="notice notice-success code-applied" role="status" data-testid="code-applied">
        <p>
          Code <strong>{applied.code}</strong>: {describeCode(applied)}
          {discountCents > 0 && <> (−{formatMoney(discountCents)})</>}
          {applied.presale && " — you may buy before the sale opens."}
        </p>
        <button type="button" className="btn btn-link" onClick={() => onApplied(null)}>
          Remove code
        </button>
      </div>
    );
  }
  return (
    <CodeForm
      id="code"
      label="Have a code?"
      placeholder="PRESALE or discount code"
      busyLabel="Checking…"
      submit={async (code) => onApplied(await codesApi.check(eventId, code))}
      onRefused={() => onApplied(null)}
    />
  );
}

/** The checkout's "Have a discount code?": applies it to the hold (before paying). */
export function HoldCodeForm({ holdId, token, onApplied }: { holdId: string; token: string; onApplied: (hold: Hold) => void }) {
  return (
    <CodeForm
      id="hold-code-text"
      label="Have a discount code?"
      busyLabel="Applying…"
      submit={async (code) => onApplied(await codesApi.applyToHold(holdId, code, token))}
    />
  );
}

/** A code's text field: checks its shape, then `submit`s it, showing why it was refused. */
function CodeForm({
  id,
  label,
  placeholder,
  busyLabel,
  submit,
  onRefused,
}: {
  id: string;
  label: string;
  placeholder?: string;
  busyLabel: string;
  submit: (code: string) => Promise<void>;
  onRefused?: () => void;
}) {
  const [text, setText] = useState("");
  const [busy, setBusy] = useState(false);
  const [reason, setReason] = useState<string | null>(null);

  async function apply(e: FormEvent) {
    e.preventDefault();
    setReason(null);
    const code = normalizeCode(text);
    if (!code) {
      setReason("A code is 3 to 32 letters, digits, '-' or '_'.");
      return;
    }
    setBusy(true);
    try {
      await submit(code);
    } catch (err) {
      onRefused?.();
      setReason(codeRefusal(err));
    } finally {
      setBusy(false);
    }
  }

  return (
    <form className="field code-input" onSubmit={(e) => void apply(e)}>
      <label htmlFor={id}>{label}</label>
      <div className="row">
        <input
          id={id}
          value={text}
          autoComplete="off"
          autoCapitalize="characters"
          maxLength={64}
          placeholder={placeholder}
          aria-describedby={reason ? `${id}-reason` : undefined}
          onChange={(e) => setText(e.target.value)}
        />
        <button type="submit" className="btn" disabled={busy || !text.trim()}>
          {busy ? busyLabel : "Apply"}
        </button>
      </div>
      {reason && (
        <p className="hint error" id={`${id}-reason`} role="alert">
          {reason}
        </p>
      )}
    </form>
  );
}
