// Organizer pages ask for the ADMIN_TOKEN once and keep it in this browser.
import { useState, type FormEvent, type ReactNode } from "react";
import { ApiError, friendlyMessage } from "../api/client";
import { api } from "../api/endpoints";
import { setAdminToken, useAdminToken } from "../lib/storage";

export function AdminGate({ children }: { children: (token: string) => ReactNode }) {
  const token = useAdminToken();
  if (token) return <>{children(token)}</>;
  return <AdminLogin />;
}

function AdminLogin() {
  const [value, setValue] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  async function submit(e: FormEvent) {
    e.preventDefault();
    const token = value.trim();
    if (!token) return;
    setBusy(true);
    setError(null);
    try {
      await api.jobs(token);
      setAdminToken(token);
    } catch (err) {
      if (err instanceof ApiError && (err.status === 401 || err.status === 403)) {
        setError("This token was not accepted. Check the ADMIN_TOKEN printed when the server started.");
      } else if (err instanceof ApiError && err.status === 404) {
        setAdminToken(token); // this server has no job monitor; the token is checked on first use
      } else {
        setError(friendlyMessage(err));
      }
    } finally {
      setBusy(false);
    }
  }

  return (
    <section className="panel narrow" aria-labelledby="admin-title">
      <h2 id="admin-title">Organizer sign-in</h2>
      <p className="muted">
        Enter the organizer token (ADMIN_TOKEN). It is printed by the run command and kept in this browser until you sign
        out.
      </p>
      <form onSubmit={submit}>
        <div className="field">
          <label htmlFor="admin-token">Organizer token</label>
          <input
            id="admin-token"
            type="password"
            autoComplete="off"
            value={value}
            onChange={(e) => setValue(e.target.value)}
            required
          />
        </div>
        {error && (
          <p className="notice notice-error" role="alert">
            {error}
          </p>
        )}
        <button className="btn btn-primary" type="submit" disabled={busy}>
          {busy ? "Checking…" : "Continue"}
        </button>
      </form>
    </section>
  );
}

export function AdminSignOut() {
  return (
    <button type="button" className="link-button" onClick={() => setAdminToken(null)}>
      Forget the organizer token
    </button>
  );
}
