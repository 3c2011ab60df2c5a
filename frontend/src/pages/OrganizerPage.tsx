import { useEffect, useState, type FormEvent } from "react";
import { ApiError, friendlyMessage } from "../api/client";
import { api } from "../api/endpoints";
import type { EventOut, LiveMessage, WaitingRoomPatch } from "../api/types";
import { AdminGate, AdminSignOut } from "../components/AdminGate";
import { WaitlistAdmin } from "../components/Waitlist";
import { ErrorBox, Loading, Notice, PageHeader, StatusBadge } from "../components/ui";
import { TicketTypesEditor } from "../components/TicketTypesEditor";
import { DraftError, draftToBody, EMPTY_DRAFT, type EventDraft, type SectionDraft } from "../lib/eventForm";
import { applyStock, hasWaitingRoom } from "../lib/events";
import { formatDateTime } from "../lib/format";
import { useLoad, usePoll, useTitle } from "../lib/hooks";
import { useLive } from "../lib/live";
import { Link } from "react-router";
import { setAdminToken } from "../lib/storage";

export function OrganizerPage() {
  useTitle("Organizer");
  return (
    <>
      <PageHeader title="Organizer">
        <p className="lead">Create events and steer their waiting rooms.</p>
      </PageHeader>
      <AdminGate>{(token) => <Organizer token={token} />}</AdminGate>
    </>
  );
}

/** One event of the organizer's list, its counters live from the event's socket. */
function OrganizerEventRow({ event }: { event: EventOut }) {
  const [e, setEvent] = useState(event);
  useEffect(() => setEvent(event), [event]);
  useLive(event.status === "closed" ? null : `/api/events/${encodeURIComponent(event.id)}/live`, (data) => {
    const msg = data as LiveMessage;
    if (msg?.type === "stock") setEvent((old) => applyStock(old, msg));
  });
  return (
    <li>
      <span>
        <Link to={`/events/${e.id}`}>{e.name}</Link>
        <span className="muted small block" aria-live="polite">
          {formatDateTime(e.starts_at)} · {e.sold.toLocaleString("en-US")} / {e.capacity.toLocaleString("en-US")} sold
        </span>
      </span>
      <span className="ticket-right">
        <StatusBadge event={e} />
        {hasWaitingRoom(e) && (
          <Link className="btn btn-small" to={`/organizer/events/${e.id}`}>
            Waiting room
          </Link>
        )}
      </span>
    </li>
  );
}

function Organizer({ token }: { token: string }) {
  const events = useLoad("events", (signal) => api.events(signal), [undefined]);
  // Each row follows its event live; the list itself (new events, status) every 30 s.
  usePoll(() => void events.reload(true), 30_000, !events.error);
  const [created, setCreated] = useState<EventOut | null>(null);
  return (
    <div className="organizer">
      <CreateEvent
        token={token}
        onCreated={(e) => {
          setCreated(e);
          void events.reload(true);
        }}
      />
      {created && (
        <Notice kind="success" role="status" title="Event created">
          <p>
            <Link to={`/events/${created.id}`}>{created.name}</Link> is published.{" "}
            {hasWaitingRoom(created) && <Link to={`/organizer/events/${created.id}`}>Open its waiting-room controls</Link>}
          </p>
        </Notice>
      )}
      <section className="panel" aria-labelledby="org-events">
        <h2 id="org-events">Events</h2>
        {events.loading && !events.data ? (
          <Loading />
        ) : !events.data ? (
          <ErrorBox error={events.error} onRetry={() => void events.reload()} />
        ) : (
          <ul className="org-list">
            {events.data.map((e) => (
              <OrganizerEventRow key={e.id} event={e} />
            ))}
          </ul>
        )}
      </section>
      <p>
        <AdminSignOut />
      </p>
    </div>
  );
}

function CreateEvent({ token, onCreated }: { token: string; onCreated: (e: EventOut) => void }) {
  const [d, setD] = useState<EventDraft>(EMPTY_DRAFT);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<{ field?: string; message: string } | null>(null);
  const set = <K extends keyof EventDraft>(k: K, v: EventDraft[K]) => setD((old) => ({ ...old, [k]: v }));
  const setSection = (i: number, patch: Partial<SectionDraft>) =>
    setD((old) => ({ ...old, sections: old.sections.map((s, j) => (j === i ? { ...s, ...patch } : s)) }));

  async function submit(e: FormEvent) {
    e.preventDefault();
    setError(null);
    let body: Record<string, unknown>;
    try {
      body = draftToBody(d);
    } catch (err) {
      if (err instanceof DraftError) {
        setError({ field: err.field, message: err.message });
        document.getElementById(`ev-${err.field}`)?.focus();
        return;
      }
      throw err;
    }
    setBusy(true);
    try {
      const created = await api.createEvent(body, token);
      setD(EMPTY_DRAFT);
      onCreated(created);
    } catch (err) {
      if (err instanceof ApiError && err.status === 401) setAdminToken(null);
      setError({ field: err instanceof ApiError ? err.field : undefined, message: friendlyMessage(err) });
    } finally {
      setBusy(false);
    }
  }

  const err = (field: string) =>
    error?.field === field ? (
      <p className="field-error" id={`ev-${field}-error`}>
        {error.message}
      </p>
    ) : null;
  const invalid = (field: string) =>
    error?.field === field ? { "aria-invalid": true, "aria-describedby": `ev-${field}-error` } : {};

  return (
    <section className="panel" aria-labelledby="create-title">
      <h2 id="create-title">New event</h2>
      <form onSubmit={submit} className="grid-form">
        <div className="field span-2">
          <label htmlFor="ev-name">Name</label>
          <input id="ev-name" value={d.name} maxLength={200} onChange={(e) => set("name", e.target.value)} {...invalid("name")} />
          {err("name")}
        </div>
        <div className="field span-2">
          <label htmlFor="ev-venue">Venue</label>
          <input id="ev-venue" value={d.venue} maxLength={200} onChange={(e) => set("venue", e.target.value)} />
        </div>
        <div className="field">
          <label htmlFor="ev-startsAt">Starts at</label>
          <input
            id="ev-startsAt"
            type="datetime-local"
            value={d.startsAt}
            onChange={(e) => set("startsAt", e.target.value)}
            {...invalid("startsAt")}
          />
          {err("startsAt")}
        </div>
        <div className="field">
          <label htmlFor="ev-salesOpenAt">Sales open at (optional)</label>
          <input
            id="ev-salesOpenAt"
            type="datetime-local"
            value={d.salesOpenAt}
            onChange={(e) => set("salesOpenAt", e.target.value)}
            aria-describedby="ev-sales-hint"
            {...invalid("salesOpenAt")}
          />
          <p className="hint" id="ev-sales-hint">
            Empty: on sale at once.
          </p>
          {err("salesOpenAt")}
        </div>
        <fieldset className="field span-2">
          <legend>Seating</legend>
          <div className="radio-row">
            <label>
              <input type="radio" name="kind" checked={d.kind === "ga"} onChange={() => set("kind", "ga")} /> General
              admission
            </label>
            <label>
              <input type="radio" name="kind" checked={d.kind === "seated"} onChange={() => set("kind", "seated")} />{" "}
              Seated (sections and rows)
            </label>
            <label>
              <input type="radio" name="kind" checked={d.kind === "types"} onChange={() => set("kind", "types")} />{" "}
              Ticket types (e.g. Pista and VIP)
            </label>
          </div>
        </fieldset>
        {d.kind === "types" ? (
          <TicketTypesEditor types={d.types} onChange={(types) => set("types", types)} err={err} invalid={invalid} />
        ) : d.kind === "ga" ? (
          <>
            <div className="field">
              <label htmlFor="ev-price">Price</label>
              <input id="ev-price" inputMode="decimal" value={d.price} onChange={(e) => set("price", e.target.value)} {...invalid("price")} />
              {err("price")}
            </div>
            <div className="field">
              <label htmlFor="ev-capacity">Capacity</label>
              <input
                id="ev-capacity"
                inputMode="numeric"
                value={d.capacity}
                onChange={(e) => set("capacity", e.target.value)}
                {...invalid("capacity")}
              />
              {err("capacity")}
            </div>
          </>
        ) : (
          <div className="span-2 sections-editor">
            {d.sections.map((s, i) => (
              <fieldset key={i} className="section-draft">
                <legend>Section {i + 1}</legend>
                <div className="field">
                  <label htmlFor={`ev-section-${i}-name`}>Name</label>
                  <input id={`ev-section-${i}-name`} value={s.name} onChange={(e) => setSection(i, { name: e.target.value })} {...invalid(`section-${i}-name`)} />
                  {err(`section-${i}-name`)}
                </div>
                <div className="field">
                  <label htmlFor={`ev-section-${i}-price`}>Price</label>
                  <input id={`ev-section-${i}-price`} inputMode="decimal" value={s.price} onChange={(e) => setSection(i, { price: e.target.value })} {...invalid(`section-${i}-price`)} />
                  {err(`section-${i}-price`)}
                </div>
                <div className="field">
                  <label htmlFor={`ev-section-${i}-rows`}>Rows</label>
                  <input id={`ev-section-${i}-rows`} inputMode="numeric" value={s.rows} onChange={(e) => setSection(i, { rows: e.target.value })} {...invalid(`section-${i}-rows`)} />
                  {err(`section-${i}-rows`)}
                </div>
                <div className="field">
                  <label htmlFor={`ev-section-${i}-seats`}>Seats per row</label>
                  <input id={`ev-section-${i}-seats`} inputMode="numeric" value={s.seatsPerRow} onChange={(e) => setSection(i, { seatsPerRow: e.target.value })} {...invalid(`section-${i}-seats`)} />
                  {err(`section-${i}-seats`)}
                </div>
                {d.sections.length > 1 && (
                  <button
                    type="button"
                    className="link-button"
                    onClick={() => setD((old) => ({ ...old, sections: old.sections.filter((_, j) => j !== i) }))}
                  >
                    Remove section {i + 1}
                  </button>
                )}
              </fieldset>
            ))}
            <button
              type="button"
              className="btn btn-small"
              onClick={() =>
                setD((old) => ({ ...old, sections: [...old.sections, { name: "", price: "", rows: "5", seatsPerRow: "10" }] }))
              }
            >
              Add a section
            </button>
          </div>
        )}
        <div className="field">
          <label htmlFor="ev-maxPerCustomer">Tickets per person</label>
          <input id="ev-maxPerCustomer" inputMode="numeric" value={d.maxPerCustomer} onChange={(e) => set("maxPerCustomer", e.target.value)} {...invalid("maxPerCustomer")} />
          {err("maxPerCustomer")}
        </div>
        <div className="field">
          <label htmlFor="ev-holdTtl">Time to pay (seconds)</label>
          <input id="ev-holdTtl" inputMode="numeric" value={d.holdTtl} onChange={(e) => set("holdTtl", e.target.value)} {...invalid("holdTtl")} />
          {err("holdTtl")}
        </div>
        <div className="field">
          <label htmlFor="ev-holdExtension">Extra time, once per hold (seconds)</label>
          <input
            id="ev-holdExtension"
            inputMode="numeric"
            value={d.holdExtension}
            placeholder="same as time to pay"
            onChange={(e) => set("holdExtension", e.target.value)}
            aria-describedby="ev-holdExtension-hint"
            {...invalid("holdExtension")}
          />
          <p className="hint" id="ev-holdExtension-hint">
            A buyer may extend a hold once in its last minute. Empty: as long as the time to pay; 0: no extension.
          </p>
          {err("holdExtension")}
        </div>
        <div className="field span-2 checkbox">
          <label>
            <input type="checkbox" checked={d.halfPrice} onChange={(e) => set("halfPrice", e.target.checked)} /> Offer half-price
            tickets
          </label>
        </div>
        <fieldset className="field span-2">
          <legend>Waiting room</legend>
          <label className="checkbox">
            <input type="checkbox" checked={d.waitingRoom} onChange={(e) => set("waitingRoom", e.target.checked)} /> Put buyers
            in a waiting room
          </label>
          {d.waitingRoom && (
            <div className="grid-form inner">
              <div className="field">
                <label htmlFor="ev-admissionFactor">Admission factor</label>
                <input id="ev-admissionFactor" inputMode="decimal" value={d.admissionFactor} onChange={(e) => set("admissionFactor", e.target.value)} aria-describedby="ev-af-hint" />
                <p className="hint" id="ev-af-hint">
                  People let in at once per ticket left (1.0 = one each).
                </p>
              </div>
              <div className="field">
                <label htmlFor="ev-prequeue">Before the opening</label>
                <select id="ev-prequeue" value={d.prequeue} onChange={(e) => set("prequeue", e.target.value as EventDraft["prequeue"])}>
                  <option value="fifo">First come, first served</option>
                  <option value="lottery">Lottery among early arrivals</option>
                </select>
              </div>
            </div>
          )}
        </fieldset>
        {error && !error.field && (
          <p className="notice notice-error span-2" role="alert">
            {error.message}
          </p>
        )}
        {error?.field && !document.getElementById(`ev-${error.field}`) && (
          <p className="notice notice-error span-2" role="alert">
            {error.field}: {error.message}
          </p>
        )}
        <div className="span-2">
          <button className="btn btn-primary" type="submit" disabled={busy}>
            {busy ? "Creating…" : "Create event"}
          </button>
        </div>
      </form>
    </section>
  );
}

export function OrganizerEventPage({ eventId }: { eventId: string }) {
  useTitle("Waiting room controls");
  return (
    <>
      <nav aria-label="Breadcrumb" className="crumbs">
        <Link to={"/organizer"}>← Organizer</Link> ·{" "}
        <Link to={`/organizer/events/${eventId}/manage`}>Edit, refunds, report</Link> ·{" "}
        <Link to={`/door/${eventId}`}>Door</Link>
      </nav>
      <AdminGate>
        {(token) => (
          <>
            <WaitingRoomControls eventId={eventId} token={token} />
            <WaitlistAdmin eventId={eventId} token={token} />
          </>
        )}
      </AdminGate>
    </>
  );
}

function WaitingRoomControls({ eventId, token }: { eventId: string; token: string }) {
  const ev = useLoad("event", (signal) => api.event(eventId, signal), [eventId]);
  const stats = useLoad("waiting-room", () => api.waitingRoom(eventId, token), [eventId, token]);
  usePoll(() => {
    void stats.reload(true);
    void ev.reload(true);
  }, 2000);
  const [factor, setFactor] = useState("");
  const [rate, setRate] = useState("");
  const [pow, setPow] = useState("");
  const [busy, setBusy] = useState(false);
  const [msg, setMsg] = useState<{ kind: "success" | "error"; text: string } | null>(null);

  async function patch(body: WaitingRoomPatch) {
    setBusy(true);
    setMsg(null);
    try {
      const next = await api.patchWaitingRoom(eventId, body, token);
      if (next && typeof next === "object") stats.setData((old) => ({ ...old, ...next }));
      setMsg({ kind: "success", text: "Saved." });
      setFactor("");
      setRate("");
      setPow("");
      void stats.reload(true);
    } catch (err) {
      if (err instanceof ApiError && err.status === 401) setAdminToken(null);
      setMsg({ kind: "error", text: friendlyMessage(err) });
    } finally {
      setBusy(false);
    }
  }

  const s = stats.data;
  const paused = Boolean(s?.paused ?? ev.data?.waiting_room?.paused);
  return (
    <>
      <PageHeader title={ev.data ? `Waiting room · ${ev.data.name}` : "Waiting room"}>
        {ev.data && (
          <p className="lead">
            <StatusBadge event={ev.data} /> {ev.data.sold.toLocaleString("en-US")} sold · {ev.data.held.toLocaleString("en-US")}{" "}
            being paid · {ev.data.available.toLocaleString("en-US")} left
          </p>
        )}
      </PageHeader>
      {stats.loading && !s ? (
        <Loading label="Loading the waiting room…" />
      ) : !s ? (
        <ErrorBox title="We could not load the waiting room" error={stats.error} onRetry={() => void stats.reload()} />
      ) : (
        <>
          <section className="panel" aria-labelledby="wr-stats">
            <h2 id="wr-stats">Right now</h2>
            <dl className="counters counters-4">
              <div>
                <dt>Waiting</dt>
                <dd>{num(s.waiting)}</dd>
              </div>
              <div>
                <dt>Let in, not yet bought</dt>
                <dd>{num(s.admitted_outstanding)}</dd>
              </div>
              <div>
                <dt>Let in so far</dt>
                <dd>{num(s.admitted_total)}</dd>
              </div>
              <div>
                <dt>Admissions per second</dt>
                <dd>{typeof s.rate === "number" ? s.rate.toLocaleString("en-US", { maximumFractionDigits: 1 }) : "—"}</dd>
              </div>
            </dl>
            <p className="muted small">
              State: <strong>{String(s.state ?? "—")}</strong> · admission limit {num(s.admission_limit)} · in transit{" "}
              {num(s.admissions_in_transit)}. Refreshes every 2 seconds.
            </p>
          </section>
          <section className="panel" aria-labelledby="wr-controls">
            <h2 id="wr-controls">Controls</h2>
            <p>
              The line is <strong>{paused ? "paused" : "moving"}</strong>.{" "}
              <button type="button" className="btn" disabled={busy} onClick={() => void patch({ paused: !paused })}>
                {paused ? "Resume admissions" : "Pause admissions"}
              </button>
            </p>
            <form
              className="grid-form"
              onSubmit={(e) => {
                e.preventDefault();
                const body: WaitingRoomPatch = {};
                if (factor) body.admission_factor = Number(factor);
                if (rate) body.max_admit_per_s = Number(rate);
                if (pow) body.pow_difficulty = Number(pow);
                if (Object.keys(body).length) void patch(body);
              }}
            >
              <div className="field">
                <label htmlFor="wr-factor">Admission factor</label>
                <input
                  id="wr-factor"
                  inputMode="decimal"
                  placeholder={String(s.admission_factor ?? ev.data?.waiting_room?.admission_factor ?? "1.0")}
                  value={factor}
                  onChange={(e) => setFactor(e.target.value)}
                />
              </div>
              <div className="field">
                <label htmlFor="wr-rate">Most admissions per second</label>
                <input
                  id="wr-rate"
                  inputMode="numeric"
                  placeholder={String(s.max_admit_per_s ?? "")}
                  value={rate}
                  onChange={(e) => setRate(e.target.value)}
                />
              </div>
              <div className="field">
                <label htmlFor="wr-pow">Join puzzle difficulty (bits)</label>
                <input
                  id="wr-pow"
                  inputMode="numeric"
                  placeholder={String(s.pow_difficulty ?? 0)}
                  value={pow}
                  onChange={(e) => setPow(e.target.value)}
                  aria-describedby="wr-pow-hint"
                />
                <p className="hint" id="wr-pow-hint">
                  0 = off. Each extra bit doubles the work a browser (or a bot) does to join.
                </p>
              </div>
              <div className="span-2">
                <button type="submit" className="btn btn-primary" disabled={busy || (!factor && !rate && !pow)}>
                  Save
                </button>
              </div>
            </form>
            {msg && (
              <p className={`notice notice-${msg.kind}`} role={msg.kind === "error" ? "alert" : "status"}>
                {msg.text}
              </p>
            )}
          </section>
          {(s.lottery || s.prequeue === "lottery") && (
            <section className="panel" aria-labelledby="wr-lottery">
              <h2 id="wr-lottery">Lottery</h2>
              <dl className="details mono">
                <div>
                  <dt>Commitment</dt>
                  <dd>{s.lottery?.commitment ?? "—"}</dd>
                </div>
                <div>
                  <dt>Seed</dt>
                  <dd>{s.lottery?.seed ?? "revealed when the sale opens"}</dd>
                </div>
                <div>
                  <dt>Early arrivals</dt>
                  <dd>{num(s.lottery?.participants)}</dd>
                </div>
              </dl>
              <p className="small">
                <a href={`/api/events/${encodeURIComponent(eventId)}/waiting-room/lottery`}>Published draws (JSON)</a>
              </p>
            </section>
          )}
          <OtherStats stats={s} />
        </>
      )}
    </>
  );
}

const SHOWN = new Set([
  "event_id",
  "sales_open_at",
  "capacity",
  "sold",
  "held",
  "available",
  "state",
  "admission_limit",
  "admissions_in_transit",
  "pow_difficulty",
  "lottery",
  "waiting",
  "admitted_outstanding",
  "admitted_total",
  "rate",
  "paused",
  "admission_factor",
  "max_admit_per_s",
  "commitment",
  "seed",
  "prequeue",
]);

function OtherStats({ stats }: { stats: Record<string, unknown> }) {
  const rest = Object.entries(stats).filter(([k, v]) => !SHOWN.has(k) && (typeof v !== "object" || v === null));
  if (!rest.length) return null;
  return (
    <section className="panel" aria-labelledby="wr-more">
      <h2 id="wr-more">More</h2>
      <dl className="details">
        {rest.map(([k, v]) => (
          <div key={k}>
            <dt>{k.replace(/_/g, " ")}</dt>
            <dd>{String(v)}</dd>
          </div>
        ))}
      </dl>
    </section>
  );
}

function num(v: unknown): string {
  return typeof v === "number" ? v.toLocaleString("en-US") : "—";
}
