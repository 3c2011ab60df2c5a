import { useCallback, useEffect, useRef, useState } from "react";

export interface Loaded<T> {
  data: T | undefined;
  error: unknown;
  loading: boolean;
  /** Fetch again; `quiet` keeps the current data on screen while it loads. */
  reload: (quiet?: boolean) => Promise<void>;
  setData: (update: T | ((old: T | undefined) => T | undefined)) => void;
}

/** Load data for a page: loading and error states, reload, and no update after unmount. */
export function useLoad<T>(load: (signal: AbortSignal) => Promise<T>, deps: unknown[]): Loaded<T> {
  const [data, setDataState] = useState<T | undefined>(undefined);
  const [error, setError] = useState<unknown>(null);
  const [loading, setLoading] = useState(true);
  const loader = useRef(load);
  loader.current = load;
  const current = useRef<AbortController | null>(null);

  const reload = useCallback(async (quiet = false) => {
    current.current?.abort();
    const ctrl = new AbortController();
    current.current = ctrl;
    if (!quiet) setLoading(true);
    try {
      const value = await loader.current(ctrl.signal);
      if (ctrl.signal.aborted) return;
      setDataState(value);
      setError(null);
    } catch (err) {
      if (ctrl.signal.aborted || (err instanceof DOMException && err.name === "AbortError")) return;
      setError(err);
    } finally {
      if (!ctrl.signal.aborted) setLoading(false);
    }
  }, []);

  // On a change of `deps` the old data stays on screen until the new data arrives.
  useEffect(() => {
    void reload();
    return () => current.current?.abort();
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, deps);

  const setData = useCallback((update: T | ((old: T | undefined) => T | undefined)) => {
    setDataState((old) =>
      typeof update === "function" ? (update as (o: T | undefined) => T | undefined)(old) : update,
    );
  }, []);

  return { data, error, loading, reload, setData };
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
  return Math.max(0, Math.ceil((deadline - Math.max(now, receivedAt)) / 1000));
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
