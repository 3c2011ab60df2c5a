// A WebSocket that comes back by itself. After every (re)connection `onOpen` runs, so a page can
// fetch what it missed while the socket was down ("catch up"), then apply pushed messages.
import { useEffect, useRef, useState } from "react";

export type SocketState = "connecting" | "open" | "reconnecting" | "stopped";

export interface LiveOptions {
  onMessage: (data: unknown) => void;
  onOpen?: (reconnected: boolean) => void;
  onState?: (state: SocketState) => void;
  /** Called when the server closes the socket; return false to stop reconnecting. */
  onClose?: (code: number) => boolean | void;
  minDelayMs?: number;
  maxDelayMs?: number;
  WebSocketImpl?: typeof WebSocket;
}

export class LiveSocket {
  private ws: WebSocket | null = null;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private attempts = 0;
  private openedOnce = false;
  private stopped = false;
  state: SocketState = "connecting";

  constructor(
    private readonly url: string,
    private readonly opts: LiveOptions,
  ) {}

  start(): void {
    this.stopped = false;
    if (typeof window !== "undefined") window.addEventListener("online", this.onOnline);
    this.connect();
  }

  stop(): void {
    this.stopped = true;
    if (typeof window !== "undefined") window.removeEventListener("online", this.onOnline);
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const ws = this.ws;
    this.ws = null;
    if (ws) {
      ws.onopen = ws.onclose = ws.onmessage = ws.onerror = null;
      try {
        ws.close(1000);
      } catch {
        /* already closed */
      }
    }
    this.setState("stopped");
  }

  /** Milliseconds before reconnection attempt `n` (1-based): doubling, capped, with jitter. */
  static delay(n: number, min = 500, max = 10_000, random: () => number = Math.random): number {
    const base = Math.min(max, min * 2 ** Math.max(0, n - 1));
    return Math.round(base * (0.75 + random() * 0.5));
  }

  private onOnline = () => {
    if (this.state === "reconnecting" && this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
      this.connect();
    }
  };

  private setState(state: SocketState): void {
    if (this.state === state) return;
    this.state = state;
    this.opts.onState?.(state);
  }

  private connect(): void {
    if (this.stopped) return;
    const Impl = this.opts.WebSocketImpl ?? WebSocket;
    let ws: WebSocket;
    try {
      ws = new Impl(this.url);
    } catch {
      this.scheduleReconnect();
      return;
    }
    this.ws = ws;
    ws.onopen = () => {
      this.attempts = 0;
      const reconnected = this.openedOnce;
      this.openedOnce = true;
      this.setState("open");
      this.opts.onOpen?.(reconnected);
    };
    ws.onmessage = (ev: MessageEvent) => {
      let data: unknown = ev.data;
      if (typeof ev.data === "string") {
        try {
          data = JSON.parse(ev.data);
        } catch {
          return;
        }
      }
      this.opts.onMessage(data);
    };
    ws.onerror = () => {
      /* onclose follows and schedules the reconnection */
    };
    ws.onclose = (ev: CloseEvent) => {
      if (this.ws === ws) this.ws = null;
      if (this.opts.onClose?.(ev.code) === false) {
        this.stopped = true;
        this.setState("stopped");
        return;
      }
      this.scheduleReconnect();
    };
  }

  private scheduleReconnect(): void {
    if (this.stopped) return;
    this.setState("reconnecting");
    this.attempts += 1;
    const wait = LiveSocket.delay(this.attempts, this.opts.minDelayMs, this.opts.maxDelayMs);
    this.timer = setTimeout(() => {
      this.timer = null;
      this.connect();
    }, wait);
  }
}

export function wsUrl(path: string): string {
  const { protocol, host } = window.location;
  return `${protocol === "https:" ? "wss" : "ws"}://${host}${path}`;
}

/**
 * Keep a live socket open while the component is mounted (and `path` is not null).
 * Handlers may change between renders without reconnecting.
 */
export function useLive(
  path: string | null,
  onMessage: (data: unknown) => void,
  onOpen?: (reconnected: boolean) => void,
  onClose?: (code: number) => boolean | void,
): SocketState {
  const handlers = useRef({ onMessage, onOpen, onClose });
  handlers.current = { onMessage, onOpen, onClose };
  const [state, setState] = useState<SocketState>("connecting");
  useEffect(() => {
    if (!path) {
      setState("stopped");
      return;
    }
    const socket = new LiveSocket(wsUrl(path), {
      onMessage: (d) => handlers.current.onMessage(d),
      onOpen: (r) => handlers.current.onOpen?.(r),
      onClose: (code) => handlers.current.onClose?.(code),
      onState: setState,
    });
    setState("connecting");
    socket.start();
    return () => socket.stop();
  }, [path]);
  return state;
}
