// Test doubles for the browser's network: a scripted fetch and a WebSocket the test drives.
import { vi } from "vitest";

export class FakeWebSocket {
  static instances: FakeWebSocket[] = [];
  onopen: ((ev: Event) => void) | null = null;
  onclose: ((ev: CloseEvent) => void) | null = null;
  onmessage: ((ev: MessageEvent) => void) | null = null;
  onerror: ((ev: Event) => void) | null = null;
  closed = false;

  constructor(readonly url: string) {
    FakeWebSocket.instances.push(this);
  }

  open(): void {
    this.onopen?.(new Event("open"));
  }

  receive(data: unknown): void {
    this.onmessage?.(new MessageEvent("message", { data: JSON.stringify(data) }));
  }

  drop(code = 1006): void {
    this.closed = true;
    this.onclose?.(new CloseEvent("close", { code }));
  }

  close(): void {
    this.closed = true;
  }

  send(): void {}
}

export interface Call {
  method: string;
  url: string;
  headers: Record<string, string>;
  body: unknown;
}

type Reply = { status?: number; body?: unknown } | ((call: Call) => { status?: number; body?: unknown });

/** A fetch that answers from a table of "METHOD /path" → reply, recording every call. */
export function fakeFetch(routes: Record<string, Reply | Reply[]>): { calls: Call[] } {
  const calls: Call[] = [];
  const queues = new Map<string, Reply[]>();
  for (const [k, v] of Object.entries(routes)) queues.set(k, Array.isArray(v) ? [...v] : [v]);
  vi.stubGlobal(
    "fetch",
    vi.fn(async (url: string, init: RequestInit = {}) => {
      const method = (init.method ?? "GET").toUpperCase();
      const path = url.split("?")[0]!;
      const call: Call = {
        method,
        url,
        headers: (init.headers ?? {}) as Record<string, string>,
        body: typeof init.body === "string" ? JSON.parse(init.body) : undefined,
      };
      calls.push(call);
      const queue = queues.get(`${method} ${path}`);
      if (!queue || !queue.length) return new Response(JSON.stringify({ error: "not_found", detail: "no route" }), { status: 404 });
      const reply = queue.length > 1 ? queue.shift()! : queue[0]!;
      const r = typeof reply === "function" ? reply(call) : reply;
      return new Response(r.body === undefined ? null : JSON.stringify(r.body), { status: r.status ?? 200 });
    }),
  );
  return { calls };
}
