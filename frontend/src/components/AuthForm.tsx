// Sign up or log in without leaving the page the buyer is on.
import { useId, useState, type FormEvent } from "react";
import { ApiError, friendlyMessage } from "../api/client";
import { api } from "../api/endpoints";
import type { Session } from "../api/types";
import { setSession } from "../lib/storage";

type Mode = "signup" | "login";

export function AuthForm({
  onDone,
  intro = "Sign in to buy tickets. It takes a few seconds.",
  initialMode = "signup",
}: {
  onDone?: (session: Session) => void;
  intro?: string;
  initialMode?: Mode;
}) {
  const [mode, setMode] = useState<Mode>(initialMode);
  const [name, setName] = useState("");
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const id = useId();

  async function submit(e: FormEvent) {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const session =
        mode === "signup"
          ? await api.signUp({ name: name.trim(), email: email.trim(), password })
          : await api.logIn({ email: email.trim(), password });
      setSession(session);
      onDone?.(session);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  }

  const fieldError = (field: string) =>
    error instanceof ApiError && error.field === field ? friendlyMessage(error) : null;
  const generalError = error && !(error instanceof ApiError && error.field) ? friendlyMessage(error) : null;
  const emailTaken = error instanceof ApiError && (error.code === "email_taken" || error.status === 409);

  return (
    <section className="auth panel" aria-labelledby={`${id}-title`}>
      <h2 id={`${id}-title`}>{mode === "signup" ? "Create your account" : "Log in"}</h2>
      <p className="muted">{intro}</p>
      <div className="tabs" role="group" aria-label="Account">
        <button
          type="button"
          className={mode === "signup" ? "tab tab-active" : "tab"}
          aria-pressed={mode === "signup"}
          onClick={() => {
            setMode("signup");
            setError(null);
          }}
        >
          Create account
        </button>
        <button
          type="button"
          className={mode === "login" ? "tab tab-active" : "tab"}
          aria-pressed={mode === "login"}
          onClick={() => {
            setMode("login");
            setError(null);
          }}
        >
          Log in
        </button>
      </div>
      <form onSubmit={submit} noValidate={false}>
        {mode === "signup" && (
          <div className="field">
            <label htmlFor={`${id}-name`}>Your name</label>
            <input
              id={`${id}-name`}
              name="name"
              autoComplete="name"
              required
              maxLength={200}
              value={name}
              onChange={(e) => setName(e.target.value)}
              aria-invalid={fieldError("name") ? true : undefined}
            />
            {fieldError("name") && <p className="field-error">{fieldError("name")}</p>}
          </div>
        )}
        <div className="field">
          <label htmlFor={`${id}-email`}>Email</label>
          <input
            id={`${id}-email`}
            name="email"
            type="email"
            autoComplete="email"
            required
            value={email}
            onChange={(e) => setEmail(e.target.value)}
            aria-invalid={fieldError("email") ? true : undefined}
          />
          {fieldError("email") && <p className="field-error">{fieldError("email")}</p>}
        </div>
        <div className="field">
          <label htmlFor={`${id}-password`}>Password</label>
          <input
            id={`${id}-password`}
            name="password"
            type="password"
            autoComplete={mode === "signup" ? "new-password" : "current-password"}
            required
            minLength={mode === "signup" ? 8 : undefined}
            value={password}
            onChange={(e) => setPassword(e.target.value)}
            aria-invalid={fieldError("password") ? true : undefined}
            aria-describedby={mode === "signup" ? `${id}-pw-hint` : undefined}
          />
          {mode === "signup" && (
            <p className="hint" id={`${id}-pw-hint`}>
              At least 8 characters.
            </p>
          )}
          {fieldError("password") && <p className="field-error">{fieldError("password")}</p>}
        </div>
        {generalError && (
          <div className="notice notice-error" role="alert">
            <p>{generalError}</p>
            {emailTaken && mode === "signup" && (
              <button type="button" className="btn btn-ghost" onClick={() => setMode("login")}>
                Log in instead
              </button>
            )}
          </div>
        )}
        <button type="submit" className="btn btn-primary btn-block" disabled={busy}>
          {busy ? "One moment…" : mode === "signup" ? "Create account and continue" : "Log in and continue"}
        </button>
      </form>
    </section>
  );
}
