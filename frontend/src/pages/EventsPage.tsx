import { useMemo, useState } from "react";
import { api } from "../api/endpoints";
import type { EventOut } from "../api/types";
import { ErrorBox, PageHeader, SkeletonCards, StatusBadge } from "../components/ui";
import { filterEvents, filterQuery, hasWaitingRoom, lowestPrice, NO_FILTER, type EventFilter } from "../lib/events";
import { formatDateTime, formatMoney } from "../lib/format";
import { useLoad, usePoll, useTitle } from "../lib/hooks";
import { Link } from "react-router";

export function EventsPage() {
  useTitle("Events");
  const [filter, setFilter] = useState<EventFilter>(NO_FILTER);
  const events = useLoad("events", (signal) => api.events(signal, filterQuery(filter)), [filter]);
  usePoll(() => void events.reload(true), 15_000, !events.error);
  const shown = useMemo(() => filterEvents(events.data ?? [], filter), [events.data, filter]);
  const filtered = filter.status !== "all" || filter.from !== "" || filter.to !== "";

  return (
    <>
      <PageHeader title="Events">
        <p className="lead">Tickets for the shows everyone wants, sold fairly: first come, first served.</p>
      </PageHeader>
      <form className="filters panel" aria-label="Filter events" onSubmit={(e) => e.preventDefault()}>
        <div className="field">
          <label htmlFor="f-status">Status</label>
          <select
            id="f-status"
            value={filter.status}
            onChange={(e) => setFilter({ ...filter, status: e.target.value as EventFilter["status"] })}
          >
            <option value="all">All events</option>
            <option value="on_sale">On sale</option>
            <option value="scheduled">Coming soon</option>
            <option value="sold_out">Sold out</option>
            <option value="closed">Closed</option>
          </select>
        </div>
        <div className="field">
          <label htmlFor="f-from">From</label>
          <input
            id="f-from"
            type="date"
            value={filter.from}
            max={filter.to || undefined}
            onChange={(e) => setFilter({ ...filter, from: e.target.value })}
          />
        </div>
        <div className="field">
          <label htmlFor="f-to">To</label>
          <input
            id="f-to"
            type="date"
            value={filter.to}
            min={filter.from || undefined}
            onChange={(e) => setFilter({ ...filter, to: e.target.value })}
          />
        </div>
        {filtered && (
          <button type="button" className="btn btn-ghost" onClick={() => setFilter(NO_FILTER)}>
            Clear filters
          </button>
        )}
      </form>

      {events.loading && !events.data ? (
        <>
          <p className="sr-only" role="status">
            Loading events…
          </p>
          <SkeletonCards />
        </>
      ) : events.error && !events.data ? (
        <ErrorBox title="We could not load the events" error={events.error} onRetry={() => void events.reload()} />
      ) : (
        <>
          <p className="muted" role="status" aria-live="polite">
            {shown.length === 0
              ? ""
              : `${shown.length} event${shown.length === 1 ? "" : "s"}${filtered ? " match your filters" : ""}`}
          </p>
          {shown.length === 0 ? (
            <div className="notice notice-info">
              <p className="notice-title">{filtered ? "No event matches these filters" : "No events yet"}</p>
              <p>
                {filtered
                  ? "Try another date range or status."
                  : "New events appear here as soon as an organizer publishes them."}
              </p>
              {filtered && (
                <button type="button" className="btn" onClick={() => setFilter(NO_FILTER)}>
                  Show all events
                </button>
              )}
            </div>
          ) : (
            <ul className="cards" aria-label="Events">
              {shown.map((e) => (
                <EventCard key={e.id} event={e} />
              ))}
            </ul>
          )}
        </>
      )}
    </>
  );
}

function EventCard({ event }: { event: EventOut }) {
  const price = lowestPrice(event);
  return (
    <li className={`card event-card status-${event.status}`}>
      <div className="card-top">
        <StatusBadge event={event} />
        {hasWaitingRoom(event) && <span className="tag">Waiting room</span>}
      </div>
      <h2 className="card-title">
        <Link to={`/events/${event.id}`} className="stretched">
          {event.name}
        </Link>
      </h2>
      <p className="card-meta">
        <time dateTime={event.starts_at}>{formatDateTime(event.starts_at)}</time>
        {event.venue ? <> · {event.venue}</> : null}
      </p>
      <p className="card-price">
        {(event.sections?.length ?? 0) > 1 ? "from " : ""}
        <strong>{formatMoney(price)}</strong>
      </p>
    </li>
  );
}
