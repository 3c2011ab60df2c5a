// A WebSocket that comes back by itself. After every (re)connection `onOpen` runs, so a page can
// fetch what it missed while the socket was down ("catch up"), then apply pushed messages.
// A socket that needs a token opens with a one-use ticket (`POST /api/ws-tickets`, asked with the
// token in the Authorization header before every connection): the token never sits in a URL.
import { useEffect, useRef, useState } from "react";
import { ApiError } from "../api/client";
import { api, type QueueAuth } from "../api/endpoints";

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

  /** `url`: the socket's URL, or what makes a fresh one for every connection (a new ticket). */
  constructor(
    private readonly url: string | (() => Promise<string>),
    private readonly opts: LiveOptions,
  ) {}

  start(): void {
    this.stopped = false;
    if (typeof window !== "undefined") window.addEventListener("online", this.onOnline);
    void this.connect();
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
      void this.connect();
    }
  };

  private setState(state: SocketState): void {
    if (this.state === state) return;
    this.state = state;
    this.opts.onState?.(state);
  }

  private async connect(): Promise<void> {
    if (this.stopped) return;
    let url: string;
    try {
      url = typeof this.url === "string" ? this.url : await this.url();
    } catch (err) {
      if (this.stopped) return;
      // A refused ticket (a bad or expired token: 401, the wrong kind of token: 403) is what the
      // socket itself would have been closed with.
      const status = err instanceof ApiError ? err.status : 0;
      if ((status === 401 || status === 403) && this.opts.onClose?.(4000 + status) === false) {
        this.stopped = true;
        this.setState("stopped");
        return;
      }
      this.scheduleReconnect();
      return;
    }
    if (this.stopped) return;
    const Impl = this.opts.WebSocketImpl ?? WebSocket;
    let ws: WebSocket;
    try {
      ws = new Impl(url);
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
      void this.connect();
    }, wait);
  }
}

export function wsUrl(path: string): string {
  const { protocol, host } = window.location;
  return `${protocol === "https:" ? "wss" : "ws"}://${host}${path}`;
}

/** The URL of `path` with a fresh one-use ticket for the holder of `auth`. */
export async function ticketUrl(path: string, auth: QueueAuth): Promise<string> {
  const { ticket } = await api.wsTicket(auth);
  return wsUrl(`${path}${path.includes("?") ? "&" : "?"}ticket=${encodeURIComponent(ticket)}`);
}

/**
 * Keep a live socket open while the component is mounted (and `path` is not null). With `auth`
 * (a customer's or a visitor's token, maybe a `Visitor-Token` header), every connection opens with
 * a new ticket. Handlers may change between renders without reconnecting.
 */
export function useLive(
  path: string | null,
  onMessage: (data: unknown) => void,
  onOpen?: (reconnected: boolean) => void,
  onClose?: (code: number) => boolean | void,
  auth?: QueueAuth | null,
): SocketState {
  const handlers = useRef({ onMessage, onOpen, onClose });
  handlers.current = { onMessage, onOpen, onClose };
  const [state, setState] = useState<SocketState>("connecting");
  const token = auth?.token ?? null;
  const visitor = auth?.headers?.["Visitor-Token"] ?? null;
  useEffect(() => {
    if (!path) {
      setState("stopped");
      return;
    }
    const holder: QueueAuth | null = token
      ? { token, headers: visitor ? { "Visitor-Token": visitor } : {} }
      : null;
    const socket = new LiveSocket(holder ? () => ticketUrl(path, holder) : wsUrl(path), {
      onMessage: (d) => handlers.current.onMessage(d),
      onOpen: (r) => handlers.current.onOpen?.(r),
      onClose: (code) => handlers.current.onClose?.(code),
      onState: setState,
    });
    setState("connecting");
    socket.start();
    return () => socket.stop();
  }, [path, token, visitor]);
  return state;
}
