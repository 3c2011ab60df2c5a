// Small building blocks shared by the pages.
import type { ReactNode } from "react";
import { ApiError, friendlyMessage } from "../api/client";
import type { EventOut, EventStatus } from "../api/types";
import type { SocketState } from "../lib/live";
import { Link } from "react-router";

export function Loading({ label = "Loading…" }: { label?: string }) {
  return (
    <div className="loading" role="status" aria-live="polite">
      <span className="spinner" aria-hidden="true" />
      <span>{label}</span>
    </div>
  );
}

export function SkeletonCards({ count = 3 }: { count?: number }) {
  return (
    <div className="cards" aria-hidden="true">
      {Array.from({ length: count }, (_, i) => (
        <div key={i} className="card skeleton" />
      ))}
    </div>
  );
}

/** An error with a sentence people understand and at least one way forward. */
export function ErrorBox({
  error,
  title = "Something went wrong",
  onRetry,
  children,
}: {
  error?: unknown;
  title?: string;
  onRetry?: () => void;
  children?: ReactNode;
}) {
  return (
    <div className="notice notice-error" role="alert">
      <p className="notice-title">{title}</p>
      {error !== undefined && error !== null && <p>{friendlyMessage(error)}</p>}
      {children}
      <div className="actions">
        {onRetry && (
          <button type="button" className="btn" onClick={onRetry}>
            Try again
          </button>
        )}
        <Link className="btn btn-ghost" to="/">
          All events
        </Link>
      </div>
    </div>
  );
}

/** An event that could not be loaded: "does not exist" for a 404 (no retry), else the error. */
export function EventLoadError({ error, title, onRetry }: { error: unknown; title: string; onRetry: () => void }) {
  const missing = error instanceof ApiError && error.status === 404;
  return (
    <ErrorBox
      title={missing ? "This event does not exist" : title}
      error={missing ? undefined : error}
      onRetry={missing ? undefined : onRetry}
    >
      {missing && <p>The link may be wrong, or the event was removed.</p>}
    </ErrorBox>
  );
}

export function Notice({
  kind = "info",
  title,
  children,
  role,
}: {
  kind?: "info" | "success" | "warning" | "error";
  title?: string;
  children?: ReactNode;
  role?: "status" | "alert";
}) {
  return (
    <div className={`notice notice-${kind}`} role={role}>
      {title && <p className="notice-title">{title}</p>}
      {children}
    </div>
  );
}

const STATUS_TEXT: Record<EventStatus, string> = {
  on_sale: "On sale",
  sold_out: "Sold out",
  scheduled: "Coming soon",
  closed: "Closed",
};

export function StatusBadge({ event }: { event: Pick<EventOut, "status" | "available" | "capacity"> }) {
  const { status, available, capacity } = event;
  if (status === "on_sale") {
    const few = capacity > 0 && available <= Math.max(5, capacity * 0.1);
    return (
      <span className={`badge ${few ? "badge-few" : "badge-ok"}`}>
        {few ? `Only ${available.toLocaleString("en-US")} left` : `${available.toLocaleString("en-US")} available`}
      </span>
    );
  }
  return <span className={`badge badge-${status}`}>{STATUS_TEXT[status] ?? status}</span>;
}

export function statusText(status: EventStatus): string {
  return STATUS_TEXT[status] ?? status;
}

export function ProgressBar({ value, max, label }: { value: number; max: number; label: string }) {
  const pct = max > 0 ? Math.min(100, Math.max(0, (value / max) * 100)) : 0;
  return (
    <div
      className="progress"
      role="progressbar"
      aria-label={label}
      aria-valuemin={0}
      aria-valuemax={100}
      aria-valuenow={Math.round(pct)}
    >
      <div className="progress-fill" style={{ width: `${pct}%` }} />
    </div>
  );
}

export function LiveIndicator({ state }: { state: SocketState }) {
  const text =
    state === "open" ? "Live" : state === "stopped" ? "Offline" : state === "connecting" ? "Connecting…" : "Reconnecting…";
  return (
    <span className={`live live-${state}`} role="status" title="Updates arrive without reloading the page">
      <span className="live-dot" aria-hidden="true" />
      {text}
    </span>
  );
}

export function PageHeader({ title, children }: { title: string; children?: ReactNode }) {
  return (
    <div className="page-header">
      <h1>{title}</h1>
      {children}
    </div>
  );
}
