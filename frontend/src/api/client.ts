// A small fetch wrapper: JSON in and out, bearer tokens, and errors that carry the API's code.

export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly detail: string;
  readonly field?: string;

  constructor(status: number, code: string, detail: string, field?: string) {
    super(detail);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
    this.detail = detail;
    this.field = field;
  }

  /** Nothing reached the server, or the server failed: trying the same request again is sensible. */
  get retryable(): boolean {
    return this.status === 0 || this.status >= 500 || this.status === 429 || this.code === "request_in_progress";
  }
}

export interface RequestOptions {
  body?: unknown;
  token?: string | null;
  headers?: Record<string, string>;
  signal?: AbortSignal;
}

export async function request<T>(method: string, path: string, opts: RequestOptions = {}): Promise<T> {
  const headers: Record<string, string> = { Accept: "application/json", ...opts.headers };
  if (opts.body !== undefined) headers["Content-Type"] = "application/json";
  if (opts.token) headers.Authorization = `Bearer ${opts.token}`;
  let response: Response;
  try {
    response = await fetch(path, {
      method,
      headers,
      body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
      signal: opts.signal,
    });
  } catch (err) {
    if (err instanceof DOMException && err.name === "AbortError") throw err;
    throw new ApiError(0, "network", "We could not reach CrowdPass. Check your connection.");
  }
  const text = await response.text();
  let data: unknown = undefined;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = undefined;
    }
  }
  if (!response.ok) {
    const body = (data ?? {}) as { error?: unknown; detail?: unknown; field?: unknown };
    const code = typeof body.error === "string" ? body.error : statusCode(response.status);
    const detail = typeof body.detail === "string" ? body.detail : response.statusText || "Request failed";
    const field = typeof body.field === "string" ? body.field : undefined;
    throw new ApiError(response.status, code, detail, field);
  }
  return data as T;
}

function statusCode(status: number): string {
  if (status === 401) return "unauthorized";
  if (status === 403) return "forbidden";
  if (status === 404) return "not_found";
  if (status === 413) return "too_large";
  if (status === 429) return "rate_limited";
  if (status >= 500) return "server_error";
  return "bad_request";
}

/** Lists may come bare or wrapped ({items}, {events}, ...): accept both. */
export function asList<T>(data: unknown, ...keys: string[]): T[] {
  if (Array.isArray(data)) return data as T[];
  if (data && typeof data === "object") {
    for (const key of [...keys, "items", "results", "data"]) {
      const value = (data as Record<string, unknown>)[key];
      if (Array.isArray(value)) return value as T[];
    }
  }
  return [];
}

const MESSAGES: Record<string, string> = {
  network: "We could not reach CrowdPass. Check your connection and try again.",
  server_error: "Something went wrong on our side. Please try again in a moment.",
  internal_error: "Something went wrong on our side. Please try again in a moment.",
  busy: "We are very busy right now. Please try again in a few seconds.",
  rate_limited: "Too many requests at once. Wait a few seconds and try again.",
  unauthorized: "Please sign in again.",
  forbidden: "You are not allowed to do this.",
  not_found: "We could not find that. It may have been removed.",
  event_not_found: "This event does not exist (any more).",
  hold_not_found: "We could not find this checkout.",
  payload_too_large: "That is more than we can accept in one go.",
  sold_out: "Sold out: every ticket has been sold or is being paid for right now.",
  limit_reached: "You already hold or own as many tickets for this event as one person may buy.",
  seat_taken: "Someone just took one of those seats. Please pick another one.",
  not_on_sale: "This event is not on sale right now.",
  event_closed: "Sales for this event are closed.",
  admission_required: "This sale has a waiting room: join the line to get your turn.",
  not_in_queue: "You are not in this line any more. Join it again.",
  no_waiting_room: "This event has no waiting room: buy directly on its page.",
  pow_required: "Your browser could not finish the quick check. Reload the page to try again.",
  hold_not_extendable: "This hold cannot be given more time: it was extended once already, or it has ended.",
  payment_declined: "Your card was declined. Your tickets are still held: try another card.",
  payment_unavailable: "The payment service did not answer, and nothing was charged. Press Pay again.",
  request_in_progress: "Your payment is still being processed. Wait a moment, then press Pay again.",
  hold_expired: "Time ran out: your hold expired and the tickets went back on sale.",
  hold_not_active: "This hold is no longer active.",
  email_taken: "An account with this email already exists. Log in instead.",
  invalid_credentials: "Wrong email or password.",
  idempotency_key_reused: "This payment attempt was already used with other details. Reload the page and try again.",
};

/** A sentence a buyer understands, for any error a request can end with. */
export function friendlyMessage(err: unknown): string {
  if (err instanceof ApiError) {
    const known = MESSAGES[err.code];
    if (known) return known;
    if (err.status === 400 || err.status === 422) {
      return err.field ? `Please check “${err.field}”: ${err.detail}` : err.detail;
    }
    if (err.status === 409) return err.detail;
    if (err.status >= 500) return MESSAGES.server_error!;
    return err.detail || MESSAGES.server_error!;
  }
  return "Something unexpected happened. Please reload the page.";
}

/** A fresh idempotency key (UUID v4). */
export function newKey(): string {
  const c = globalThis.crypto;
  if (c && typeof c.randomUUID === "function") return c.randomUUID();
  const bytes = new Uint8Array(16);
  if (c && typeof c.getRandomValues === "function") c.getRandomValues(bytes);
  else for (let i = 0; i < 16; i++) bytes[i] = Math.floor(Math.random() * 256);
  bytes[6] = (bytes[6]! & 0x0f) | 0x40;
  bytes[8] = (bytes[8]! & 0x3f) | 0x80;
  const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
