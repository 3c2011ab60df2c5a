import { isValidElement, useCallback, useMemo, useRef, useState, type ReactNode } from "react";
import { ApiError } from "../api/client";
import { api } from "../api/endpoints";
import { AdminGate, AdminSignOut } from "../components/AdminGate";
import { ErrorBox, LiveIndicator, Loading, Notice, PageHeader } from "../components/ui";
import { formatDateTime, formatDuration, shortId, timeAgo } from "../lib/format";
import { useLoad, useNow, usePoll, useTitle } from "../lib/hooks";
import { setAdminToken } from "../lib/storage";

export function JobsPage() {
  useTitle("Job monitor");
  return (
    <>
      <PageHeader title="Job monitor">
        <p className="lead">Queues, jobs, failures, holds and the invariant check, refreshed every 2 seconds.</p>
      </PageHeader>
      <AdminGate>{(token) => <Jobs token={token} />}</AdminGate>
    </>
  );
}

interface JobRun {
  id: string;
  function: string;
  queue: string;
  status: string;
  tries: number;
  enqueued_at: string;
  started_at: string;
  finished_at: string;
  wait_s: number;
  run_s: number;
  error: string | null;
}

interface Overview {
  generated_at?: string;
  queues?: { name: string; queued: number; deferred: number; in_progress: number; oldest_queued_s: number | null }[];
  orders_undecided?: number;
  recent?: JobRun[];
  failures?: JobRun[];
  results_scanned?: number;
  crons?: { name: string; runs: number; failures: number; last: JobRun }[];
  holds?: {
    active: number;
    expiring_within_60s: number;
    soonest: { id: string; event_id: string; quantity: number; expires_at: string; seconds_left: number }[];
  };
  last_invariant_check?: { checked_at: string; ok: boolean; events: number; violations: unknown[] } | null;
  payments?: Payments | null;
  [key: string]: unknown;
}

/** The payment provider as the orders workers see it (docs/reliability.md). */
interface Payments {
  deadline_s: number;
  backoff_max_s: number;
  breaker_failures: number;
  breaker_cooldown_s: number;
  circuits: { process: string; state: string; since: string; failures: number; opened: number }[];
  orders_waiting: number;
  next_deadline: string | null;
}

const KNOWN = new Set([
  "generated_at",
  "queues",
  "orders_undecided",
  "recent",
  "failures",
  "results_scanned",
  "crons",
  "holds",
  "last_invariant_check",
  "payments",
]);

function Jobs({ token }: { token: string }) {
  const data = useLoad("jobs", (signal) => api.jobs(token, signal) as Promise<Overview>, [token]);
  const lastOk = useLastOk(data.data);
  const now = useNow(1000);
  usePoll(() => void data.reload(true), 2000, !(data.error instanceof ApiError && data.error.status === 401));
  const events = useLoad("events", (signal) => api.events(signal), [undefined]);
  // Event ids name their event; so do hold ids of the holds listed (a hold's expiry job carries its id).
  const soonest = data.data?.holds?.soonest;
  const names = useMemo(() => {
    const byId = new Map((events.data ?? []).map((e) => [e.id, e.name]));
    for (const h of soonest ?? []) {
      const name = byId.get(h.event_id);
      if (name) byId.set(h.id, name);
    }
    return byId;
  }, [events.data, soonest]);
  const eventOf = useCallback((text: string | undefined) => eventCell(names, text), [names]);

  if (data.loading && !data.data) return <Loading label="Loading the job monitor…" />;
  if (data.error instanceof ApiError && (data.error.status === 401 || data.error.status === 403)) {
    return (
      <ErrorBox title="The organizer token was refused">
        <button type="button" className="btn btn-primary" onClick={() => setAdminToken(null)}>
          Enter it again
        </button>
      </ErrorBox>
    );
  }
  if (!data.data) return <ErrorBox title="We could not load the job monitor" error={data.error} onRetry={() => void data.reload()} />;

  const o = data.data;
  const other = Object.entries(o).filter(([k]) => !KNOWN.has(k));
  return (
    <div className="jobs">
      <p className="muted small feed-status">
        <LiveIndicator state={data.error ? "reconnecting" : "open"} /> Updated {timeAgo(new Date(lastOk).toISOString(), now)}
        {data.error ? " — the last refresh failed; retrying." : ""}
      </p>
      <InvariantBanner value={o.last_invariant_check} />
      <section className="panel" aria-labelledby="jobs-now">
        <h2 id="jobs-now">Now</h2>
        <dl className="counters counters-4">
          <div>
            <dt>Orders undecided</dt>
            <dd>{num(o.orders_undecided)}</dd>
          </div>
          <div>
            <dt>Active holds</dt>
            <dd>{num(o.holds?.active)}</dd>
          </div>
          <div>
            <dt>Expiring in 60 s</dt>
            <dd>{num(o.holds?.expiring_within_60s)}</dd>
          </div>
          <div>
            <dt>Recent failures</dt>
            <dd>{num(o.failures?.length)}</dd>
          </div>
        </dl>
      </section>
      {o.payments && <PaymentsPanel value={o.payments} />}
      <section className="panel" aria-labelledby="jobs-queues">
        <h2 id="jobs-queues">Queues</h2>
        <Table
          rows={(o.queues ?? []).map((q) => ({
            Queue: q.name,
            Queued: q.queued,
            Deferred: q.deferred,
            "In progress": q.in_progress,
            "Oldest waiting": formatDuration(q.oldest_queued_s),
          }))}
        />
      </section>
      <section className="panel" aria-labelledby="jobs-failures">
        <h2 id="jobs-failures">Failures</h2>
        <Table
          rows={(o.failures ?? []).map((j) => ({
            Job: j.function,
            Event: eventOf(j.id),
            Queue: j.queue,
            Tries: j.tries,
            Finished: j.finished_at,
            Error: j.error ?? "—",
            Id: <IdCell id={j.id} what="job" />,
            __status: "failed",
          }))}
          empty="No failed job among the kept results."
        />
      </section>
      <section className="panel" aria-labelledby="jobs-holds">
        <h2 id="jobs-holds">Holds expiring soonest</h2>
        <Table
          rows={(o.holds?.soonest ?? []).map((h) => ({
            Hold: <IdCell id={h.id} what="hold" />,
            Event: eventOf(h.event_id),
            Tickets: h.quantity,
            "Time left": formatDuration(Math.max(0, h.seconds_left)),
          }))}
          empty="No active hold."
        />
      </section>
      <section className="panel" aria-labelledby="jobs-crons">
        <h2 id="jobs-crons">Cron runs</h2>
        <Table
          rows={(o.crons ?? []).map((c) => ({
            Cron: c.name,
            Runs: c.runs,
            Failures: c.failures,
            "Last run": c.last?.finished_at,
            "Last took": c.last ? formatDuration(c.last.run_s) : "—",
            __status: c.last?.status,
          }))}
          empty="No cron has run yet."
        />
      </section>
      <section className="panel" aria-labelledby="jobs-recent">
        <h2 id="jobs-recent">Recent jobs</h2>
        <Table
          rows={(o.recent ?? []).map((j) => ({
            Job: j.function,
            Event: eventOf(j.id),
            Status: j.status,
            Tries: j.tries,
            Waited: formatDuration(j.wait_s),
            Ran: formatDuration(j.run_s),
            Finished: j.finished_at,
            Id: <IdCell id={j.id} what="job" />,
            __status: j.status,
          }))}
          empty="No job has finished yet."
        />
        {typeof o.results_scanned === "number" && (
          <p className="muted small">From the last {num(o.results_scanned)} kept job results.</p>
        )}
      </section>
      {other.map(([key, value]) => (
        <section className="panel" key={key} aria-labelledby={`jobs-${key}`}>
          <h2 id={`jobs-${key}`}>{humanize(key)}</h2>
          <Value value={value} />
        </section>
      ))}
      <p>
        <AdminSignOut />
      </p>
    </div>
  );
}

function num(v: unknown): string {
  return typeof v === "number" ? v.toLocaleString("en-US") : "—";
}

/** When the data last changed, i.e. the time of the last successful refresh. */
function useLastOk(data: unknown): number {
  const ref = useRef<{ data: unknown; at: number }>({ data: undefined, at: Date.now() });
  if (data !== ref.current.data) ref.current = { data, at: Date.now() };
  return ref.current.at;
}

function InvariantBanner({ value }: { value: Overview["last_invariant_check"] }) {
  if (value === undefined) return null;
  if (value === null) {
    return (
      <Notice kind="info" title="Invariant check">
        <p>No check has run yet.</p>
      </Notice>
    );
  }
  return (
    <Notice
      kind={value.ok ? "success" : "error"}
      role="status"
      title={value.ok ? "Invariants hold" : `Invariant violated (${value.violations.length})`}
    >
      <p>
        sold + held + available = capacity, and nothing sold twice, checked for {num(value.events)} event
        {value.events === 1 ? "" : "s"} at {formatDateTime(value.checked_at)}.
      </p>
      {!value.ok && <Value value={value.violations} />}
    </Notice>
  );
}

function PaymentsPanel({ value }: { value: Payments }) {
  const away = value.circuits.filter((c) => c.state !== "closed");
  return (
    <section className="panel" aria-labelledby="jobs-payments">
      <h2 id="jobs-payments">Payment provider</h2>
      <p data-testid="payments-state">
        {away.length
          ? `Not answering: circuit ${away.map((c) => c.state.replace("_", " ")).join(", ")} since ${formatDateTime(away[0]!.since)}.`
          : "Answering (every circuit closed)."}{" "}
        {value.orders_waiting > 0
          ? `${num(value.orders_waiting)} order${value.orders_waiting === 1 ? "" : "s"} waiting with their tickets kept; the first is rejected at ${
              value.next_deadline ? formatDateTime(value.next_deadline) : "—"
            } if the provider is still away.`
          : "No order is waiting for it."}
      </p>
      <p className="muted small">
        Orders wait up to {formatDuration(value.deadline_s)} after acceptance (retried at most every{" "}
        {formatDuration(value.backoff_max_s)}); the circuit opens after {num(value.breaker_failures)} failed calls in a row
        and probes again after {formatDuration(value.breaker_cooldown_s)}.
      </p>
    </section>
  );
}

function humanize(key: string): string {
  const s = key.replace(/_/g, " ");
  return s.charAt(0).toUpperCase() + s.slice(1);
}

const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi;

/** The event a job or hold belongs to, by name, when `text` (an event id, or a job id that carries one) names a known event. */
function eventCell(names: Map<string, string>, text: string | undefined): ReactNode {
  for (const id of text?.match(UUID) ?? []) {
    const name = names.get(id.toLowerCase());
    if (name) return <span title={id}>{name}</span>;
  }
  // An event id the list does not know (yet): still there in full, to copy.
  return text && /^[0-9a-f-]{36}$/i.test(text) ? <IdCell id={text} what="event" /> : "—";
}

/** A long id, short on screen; the full id on hover (title) and one click away from the clipboard. */
export function IdCell({ id, what }: { id: string; what: string }) {
  const [copied, setCopied] = useState(false);
  const copy = () => {
    void navigator.clipboard?.writeText(id).then(
      () => {
        setCopied(true);
        setTimeout(() => setCopied(false), 1500);
      },
      () => undefined,
    );
  };
  return (
    <span className="id-cell">
      <code title={id}>{shortId(id)}</code>
      <button type="button" className="copy-id" onClick={copy} aria-label={`Copy ${what} id ${id}`} title={id}>
        {copied ? "Copied" : "Copy"}
      </button>
    </span>
  );
}

function cell(v: unknown): ReactNode {
  if (isValidElement(v)) return v;
  if (v === null || v === undefined) return "—";
  if (typeof v === "number") return v.toLocaleString("en-US", { maximumFractionDigits: 3 });
  if (typeof v === "boolean") return v ? "yes" : "no";
  if (typeof v === "string") {
    if (/^\d{4}-\d\d-\d\dT/.test(v)) return formatDateTime(v);
    return v;
  }
  return JSON.stringify(v);
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

function Table({ rows, keyName, empty = "None." }: { rows: Record<string, unknown>[]; keyName?: string; empty?: string }) {
  if (!rows.length) return <p className="muted">{empty}</p>;
  const cols = [...new Set(rows.flatMap((r) => Object.keys(r)))].filter((c) => !c.startsWith("__")).slice(0, 8);
  return (
    <div className="table-wrap" tabIndex={0} role="region" aria-label="Scrollable table">
      <table className="stack-on-phone">
        <thead>
          <tr>
            {keyName && <th scope="col">{keyName}</th>}
            {cols.map((c) => (
              <th key={c} scope="col">
                {humanize(c)}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {rows.map((r, i) => (
            <tr key={i} className={[r.__status, r.status].includes("failed") || r.ok === false ? "row-bad" : undefined}>
              {keyName && <th scope="row">{String(r.__key)}</th>}
              {cols.map((c) => (
                <td key={c} data-label={humanize(c)}>
                  {cell(r[c])}
                </td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

export function Value({ value }: { value: unknown }) {
  if (Array.isArray(value)) {
    if (!value.length) return <p className="muted">None.</p>;
    if (value.every(isRecord)) return <Table rows={value} />;
    return <p>{value.map((v) => String(cell(v))).join(", ")}</p>;
  }
  if (isRecord(value)) {
    const vals = Object.values(value);
    if (vals.length && vals.every(isRecord)) {
      const rows = Object.entries(value).map(([k, v]) => ({ ...(v as Record<string, unknown>), __key: k }));
      return <Table rows={rows} keyName="Name" />;
    }
    return (
      <dl className="details">
        {Object.entries(value).map(([k, v]) => (
          <div key={k}>
            <dt>{humanize(k)}</dt>
            <dd>{Array.isArray(v) || isRecord(v) ? <Value value={v} /> : cell(v)}</dd>
          </div>
        ))}
      </dl>
    );
  }
  return <p>{cell(value)}</p>;
}
