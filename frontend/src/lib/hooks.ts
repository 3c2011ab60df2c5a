import { keepPreviousData, useQuery, useQueryClient } from "@tanstack/react-query";
import { useCallback, useEffect, useRef, useState } from "react";
import { friendlyMessage } from "../api/client";

export interface Loaded<T> {
  data: T | undefined;
  error: unknown;
  loading: boolean;
  /** Fetch again; `quiet` keeps the current data on screen while it loads. */
  reload: (quiet?: boolean) => Promise<void>;
  setData: (update: T | ((old: T | undefined) => T | undefined)) => void;
}

/**
 * Load data for a page through TanStack Query: cached under `[key, ...deps]` (so the event page
 * and its waiting room share one read of the event), loading and error states, reload, and no
 * update after unmount. `key` names what `load` returns: one key, one kind of data.
 */
export function useLoad<T>(
  key: string,
  load: (signal: AbortSignal) => Promise<T>,
  deps: unknown[],
  { fresh = false }: { fresh?: boolean } = {},
): Loaded<T> {
  const client = useQueryClient();
  const loader = useRef(load);
  loader.current = load;
  const queryKey = useRef<unknown[]>([]);
  queryKey.current = [key, ...deps];
  const query = useQuery({
    queryKey: queryKey.current,
    // `fresh`: data that ages by itself (a hold's seconds left) is never shown from the cache.
    ...(fresh ? { gcTime: 0, staleTime: 0 } : {}),
    queryFn: ({ signal }) => loader.current(signal),
    // On a change of `deps` the old data stays on screen until the new data arrives.
    placeholderData: keepPreviousData,
  });
  const [reloading, setReloading] = useState(0);
  const { refetch } = query;

  const reload = useCallback(
    async (quiet = false) => {
      if (!quiet) setReloading((n) => n + 1);
      try {
        await refetch({ cancelRefetch: true });
      } finally {
        if (!quiet) setReloading((n) => n - 1);
      }
    },
    [refetch],
  );

  const setData = useCallback(
    (update: T | ((old: T | undefined) => T | undefined)) => {
      client.setQueryData<T>(queryKey.current, update as T | ((old: T | undefined) => T));
    },
    [client],
  );

  return {
    data: query.data,
    error: query.error ?? null,
    loading: query.isPending || (query.isFetching && (query.isPlaceholderData || reloading > 0)),
    reload,
    setData,
  };
}

/** The current time, refreshed every `everyMs`. */
export function useNow(everyMs = 1000): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const id = setInterval(() => setNow(Date.now()), everyMs);
    return () => clearInterval(id);
  }, [everyMs]);
  return now;
}

/**
 * Seconds left of a server-side countdown. `secondsLeft` is what the server said at `receivedAt`
 * (`performance.now()`): counting on the monotonic clock from there ignores a wrong or changing
 * device wall clock.
 */
export function useCountdown(secondsLeft: number | null | undefined, receivedAt: number): number | null {
  const [now, setNow] = useState(() => performance.now());
  useEffect(() => {
    const id = setInterval(() => setNow(performance.now()), 250);
    return () => clearInterval(id);
  }, []);
  if (typeof secondsLeft !== "number") return null;
  const deadline = receivedAt + secondsLeft * 1000;
  // Whole milliseconds first: (t + 120000) - t is 120000.00000001 for some t, which ceil
  // would show as 2:01.
  return Math.max(0, Math.ceil(Math.round(deadline - Math.max(now, receivedAt)) / 1000));
}

/** Run `tick` every `everyMs` while the page is visible (and `enabled`). */
export function usePoll(tick: () => void, everyMs: number, enabled = true): void {
  const fn = useRef(tick);
  fn.current = tick;
  useEffect(() => {
    if (!enabled) return;
    const id = setInterval(() => {
      if (typeof document === "undefined" || document.visibilityState !== "hidden") fn.current();
    }, everyMs);
    return () => clearInterval(id);
  }, [everyMs, enabled]);
}

/** Set document.title for the page; `undefined` leaves it to a component inside. */
export function useTitle(title: string | null | undefined): void {
  useEffect(() => {
    if (title === undefined) return;
    document.title = title ? `${title} · CrowdPass` : "CrowdPass · tickets";
  }, [title]);
}

/** An organizer panel's actions: `act` runs one and shows what it says in `message` (or why
 * it failed), then moves `version` on so the panel's reads load again (`refresh` alone). */
export function useActions() {
  const [version, setVersion] = useState(0);
  const [message, setMessage] = useState<string | null>(null);
  const refresh = useCallback(() => setVersion((v) => v + 1), []);
  const act = useCallback(
    async (what: () => Promise<string>) => {
      setMessage(null);
      try {
        setMessage(await what());
        refresh();
      } catch (err) {
        setMessage(friendlyMessage(err));
      }
    },
    [refresh],
  );
  return { version, message, setMessage, refresh, act };
}
