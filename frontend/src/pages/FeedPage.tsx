import { useCallback, useEffect, useRef, useState } from "react";
import { api } from "../api/endpoints";
import type { FeedItem } from "../api/types";
import { ErrorBox, LiveIndicator, Loading, PageHeader } from "../components/ui";
import { groupFeed } from "../lib/events";
import { timeAgo } from "../lib/format";
import { useLoad, useNow, usePoll, useTitle } from "../lib/hooks";
import { useLive, type SocketState } from "../lib/live";
import { Link } from "react-router";

/** How many on-sale events the feed listens to live; the rest arrive with the periodic refresh. */
const MAX_LIVE_EVENTS = 12;

export function FeedPage() {
  useTitle("Live feed");
  const feed = useLoad("feed", (signal) => api.feed(30, signal), []);
  const events = useLoad("events", (signal) => api.events(signal), [undefined]);
  const now = useNow(5000);

  // A purchase message on any live event triggers one quiet refresh (coalesced).
  const pending = useRef<ReturnType<typeof setTimeout> | null>(null);
  const refresh = useCallback(() => {
    if (pending.current) return;
    pending.current = setTimeout(() => {
      pending.current = null;
      void feed.reload(true);
    }, 150);
  }, [feed]);
  useEffect(() => () => {
    if (pending.current) clearTimeout(pending.current);
  }, []);
  usePoll(() => void feed.reload(true), 5_000);
  usePoll(() => void events.reload(true), 30_000);

  // The newest events on sale are the busy ones: follow those live.
  const liveIds = (events.data ?? [])
    .filter((e) => e.status === "on_sale")
    .sort((a, b) => (b.created_at ?? "").localeCompare(a.created_at ?? ""))
    .slice(0, MAX_LIVE_EVENTS)
    .map((e) => e.id);
  const names = new Map((events.data ?? []).map((e) => [e.id, e.name]));
  const [sockets, setSockets] = useState<Record<string, SocketState>>({});
  const onState = useCallback((id: string, state: SocketState | null) => {
    setSockets((old) => {
      const next = { ...old };
      if (state === null) delete next[id];
      else next[id] = state;
      return next;
    });
  }, []);
  const states = Object.values(sockets);
  const overall: SocketState | null = states.length
    ? states.some((s) => s === "open")
      ? "open"
      : "reconnecting"
    : null;

  return (
    <>
      <PageHeader title="Live feed">
        <p className="lead">Tickets being bought right now, across every event.</p>
      </PageHeader>
      {liveIds.map((id) => (
        <EventListener key={id} eventId={id} onPurchase={refresh} onState={onState} />
      ))}
      <p className="muted small feed-status">
        {overall ? (
          <>
            <LiveIndicator state={overall} /> Following {liveIds.length} event{liveIds.length === 1 ? "" : "s"} on sale
            live; everything else refreshes every few seconds.
          </>
        ) : events.data ? (
          "Refreshes every few seconds."
        ) : (
          <LiveIndicator state="connecting" />
        )}
      </p>
      {feed.loading && !feed.data ? (
        <Loading label="Loading recent purchases…" />
      ) : feed.error && !feed.data ? (
        <ErrorBox title="We could not load the feed" error={feed.error} onRetry={() => void feed.reload()} />
      ) : (feed.data ?? []).length === 0 ? (
        <div className="notice notice-info">
          <p className="notice-title">No purchases yet</p>
          <p>As soon as someone buys a ticket, it shows up here.</p>
          <Link className="btn" to="/">
            Browse events
          </Link>
        </div>
      ) : (
        <ol className="feed panel" aria-label="Recent purchases" aria-live="polite" data-testid="feed">
          {groupFeed(feed.data ?? []).map((item, i) => (
            <FeedRow key={item.id ?? `${item.at}-${i}`} item={item} names={names} now={now} />
          ))}
        </ol>
      )}
    </>
  );
}

function FeedRow({ item, names, now }: { item: FeedItem; names: Map<string, string>; now: number }) {
  const eventId = item.event?.id ?? item.event_id;
  const eventName = item.event?.name ?? item.event_name ?? (eventId ? names.get(eventId) : undefined);
  const qty = item.quantity ?? 1;
  return (
    <li>
      <span className="avatar" aria-hidden="true">
        {item.buyer.slice(0, 1).toUpperCase()}
      </span>
      <span className="feed-text">
        <strong>{item.buyer}</strong> bought {qty > 1 ? `${qty} tickets` : "a ticket"}
        {eventName && (
          <>
            {" "}
            for {eventId ? <Link to={`/events/${eventId}`}>{eventName}</Link> : eventName}
          </>
        )}
      </span>
      <time className="muted small" dateTime={item.at}>
        {timeAgo(item.at, now)}
      </time>
    </li>
  );
}

function EventListener({
  eventId,
  onPurchase,
  onState,
}: {
  eventId: string;
  onPurchase: () => void;
  onState: (id: string, state: SocketState | null) => void;
}) {
  const sold = useRef<number | null>(null);
  const state = useLive(
    `/api/events/${encodeURIComponent(eventId)}/live`,
    (data) => {
      const msg = data as { type?: string; sold?: number };
      if (msg?.type === "purchase") onPurchase();
      else if (msg?.type === "stock" && typeof msg.sold === "number") {
        // More tickets sold than last time: someone bought, even if no purchase message came.
        if (sold.current !== null && msg.sold > sold.current) onPurchase();
        sold.current = msg.sold;
      }
    },
    (reconnected) => {
      if (reconnected) onPurchase();
    },
  );
  useEffect(() => {
    onState(eventId, state);
  }, [eventId, state, onState]);
  useEffect(() => () => onState(eventId, null), [eventId, onState]);
  return null;
}
