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
      onApplied(await codesApi.check(eventId, code));
    } catch (err) {
      onApplied(null);
      setReason(codeRefusal(err));
    } finally {
      setBusy(false);
    }
  }

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
    <form className="field code-input" onSubmit={(e) => void apply(e)}>
      <label htmlFor="code">Have a code?</label>
      <div className="row">
        <input
          id="code"
          value={text}
          autoComplete="off"
          autoCapitalize="characters"
          maxLength={64}
          placeholder="PRESALE or discount code"
          aria-describedby={reason ? "code-reason" : undefined}
          onChange={(e) => setText(e.target.value)}
        />
        <button type="submit" className="btn" disabled={busy || !text.trim()}>
          {busy ? "Checking…" : "Apply"}
        </button>
      </div>
      {reason && (
        <p className="hint error" id="code-reason" role="alert">
          {reason}
        </p>
      )}
    </form>
  );
}

/** The checkout's "Have a discount code?": applies it to the hold (before paying). */
export function HoldCodeForm({ holdId, token, onApplied }: { holdId: string; token: string; onApplied: (hold: Hold) => void }) {
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
      onApplied(await codesApi.applyToHold(holdId, code, token));
    } catch (err) {
      setReason(codeRefusal(err));
    } finally {
      setBusy(false);
    }
  }

  return (
    <form className="field code-input" onSubmit={(e) => void apply(e)}>
      <label htmlFor="hold-code-text">Have a discount code?</label>
      <div className="row">
        <input
          id="hold-code-text"
          value={text}
          autoComplete="off"
          autoCapitalize="characters"
          maxLength={64}
          aria-describedby={reason ? "hold-code-reason" : undefined}
          onChange={(e) => setText(e.target.value)}
        />
        <button type="submit" className="btn" disabled={busy || !text.trim()}>
          {busy ? "Applying…" : "Apply"}
        </button>
      </div>
      {reason && (
        <p className="hint error" id="hold-code-reason" role="alert">
          {reason}
        </p>
      )}
    </form>
  );
}
