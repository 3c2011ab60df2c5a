// Shapes of the public API (docs: /schema/swagger). Fields the contract leaves open are optional.

export type EventStatus = "scheduled" | "on_sale" | "sold_out" | "closed";

export interface Customer {
  id: string;
  name: string;
  email: string;
}

export interface Session {
  customer: Customer;
  token: string;
}

export interface SectionOut {
  name: string;
  price_cents: number;
  capacity?: number;
  rows?: number | null;
  seats_per_row?: number | null;
  available?: number;
}

/** A ticket type (docs/ticket-types.md): a section with its own price, window, limit and counters. */
export interface TicketTypeOut {
  name: string;
  kind: "general" | "seated";
  price_cents: number;
  capacity: number;
  available: number;
  held: number;
  sold: number;
  sales_open_at: string | null;
  sales_close_at: string | null;
  max_per_customer: number | null;
  on_sale: boolean;
}

export interface WaitingRoomInfo {
  enabled: boolean;
  admission_factor?: number;
  prequeue?: "fifo" | "lottery";
  max_admit_per_s?: number;
  paused?: boolean;
  commitment?: string | null;
  seed?: string | null;
}

export interface EventOut {
  id: string;
  name: string;
  venue?: string;
  starts_at: string;
  sales_open_at?: string | null;
  price_cents?: number;
  capacity: number;
  sold: number;
  held: number;
  available: number;
  status: EventStatus;
  seated?: boolean;
  sections?: SectionOut[] | null;
  ticket_types?: TicketTypeOut[] | null;
  max_per_customer?: number;
  hold_ttl_s?: number;
  half_price?: boolean;
  waiting_room?: WaitingRoomInfo | null;
  cancel_policy?: CancelPolicy | null;
  created_at?: string;
}

/** The organizer's cancel policy for buyers (null deadline: buyers cannot cancel). */
export interface CancelPolicy {
  buyer_cancel_until: string | null;
  fee_cents: number;
  open: boolean;
}

export type SeatStatus = "available" | "held" | "sold" | string;

export interface Seat {
  id: string;
  section: string;
  row: string;
  number: number;
  price_cents: number;
  status: SeatStatus;
}

/** `GET /api/events/{id}/seats?format=compact`: a status letter per seat (a, h, s). */
export interface SeatMapCompact {
  event_id: string;
  version: number;
  sections: {
    name: string | null;
    price_cents: number;
    rows: { label: string; numbers: number[]; ids: string[]; status: string }[];
  }[];
}

/** Seats changed from map version `since` to `version` (the event's live socket). */
export interface SeatsMessage {
  type: "seats";
  since: number;
  version: number;
  changes: { id: string; status: SeatStatus }[];
}

export interface Ticket {
  id: string;
  section?: string | null;
  row?: string | null;
  number?: number | null;
  price_cents?: number;
  half_price?: boolean;
}

export type HoldStatus = "active" | "confirmed" | "cancelled" | "expired";

export interface Hold {
  id: string;
  event_id: string;
  status: HoldStatus;
  expires_at: string;
  seconds_left: number;
  tickets: Ticket[];
  total_cents: number;
  quantity?: number;
  half_price?: number;
  extended_at?: string | null;
  /** Seconds `POST /api/holds/{id}/extend` would add now (0: not possible); null when not read. */
  extension_s?: number | null;
  /** The presale or discount code the hold carries, and what it took off `total_cents`. */
  code?: string | null;
  discount_cents?: number;
}

export interface Purchase {
  id: string;
  event_id?: string;
  event_name?: string;
  event?: { id: string; name: string };
  ticket_id?: string;
  price_cents?: number;
  half_price?: boolean;
  section?: string | null;
  row?: string | null;
  number?: number | null;
  seat?: number | null;
  status?: string;
  created_at?: string;
  at?: string;
}

export interface CustomerDetail extends Customer {
  purchases: Purchase[];
}

/** `used`: the admission was used by a hold (maybe in another tab); `expired`: it lapsed unused. */
export type QueueStatus = "waiting" | "admitted" | "sold_out" | "used" | "expired";

export interface QueueState {
  status: QueueStatus;
  /** People ahead plus one; null while a lottery pre-queue waits for its draw. */
  position: number | null;
  eta_s: number | null;
  /** [low, high] seconds: the honest form of `eta_s`. */
  eta_range_s?: [number, number] | null;
  /** Admissions per second, measured over the last 30 s. */
  rate?: number;
  /** Open, but every ticket left is held or promised: nobody moves until one comes back. */
  blocked?: boolean;
  /** More people are ahead than the tickets not yet held or promised can let in: no honest time. */
  beyond_stock?: boolean;
  done_at?: string | null;
  /** After the visitor's hold expired: until then they may come back once at the front of the line. */
  grace_until?: string | null;
  /** Only in the answer to an anonymous join: send it back as the bearer token. */
  visitor_token?: string | null;
  admission_token?: string | null;
  admission_expires_at?: string | null;
  state?: "scheduled" | "open" | "paused" | "sold_out" | "closed";
  prequeue?: "fifo" | "lottery";
  sales_open_at?: string | null;
  lottery_commitment?: string | null;
  lottery_seed?: string | null;
}

export interface PowChallenge {
  challenge: string;
  difficulty: number;
  visitor_token?: string | null;
  algorithm?: string;
  expires_at?: string;
}

export interface FeedItem {
  id?: string;
  buyer: string;
  at: string;
  event_id?: string;
  event_name?: string;
  event?: { id: string; name: string };
  quantity?: number;
}

export interface StockMessage {
  type: "stock";
  event_id?: string;
  sold: number;
  held: number;
  available: number;
  status: EventStatus;
  types?: { name: string; sold: number; held: number; available: number }[];
}

export interface PurchaseMessage {
  type: "purchase";
  buyer: string;
  at: string;
  event_id?: string;
  quantity?: number;
}

export type LiveMessage = StockMessage | PurchaseMessage | SeatsMessage;

export interface LotteryInfo {
  commitment: string;
  seed: string | null;
  revealed: boolean;
  participants: number;
}

export interface WaitingRoomStats {
  state?: string;
  waiting?: number;
  admitted_outstanding?: number;
  admissions_in_transit?: number;
  admitted_total?: number;
  rate?: number;
  paused?: boolean;
  admission_factor?: number;
  max_admit_per_s?: number;
  prequeue?: string;
  sales_open_at?: string | null;
  capacity?: number;
  sold?: number;
  held?: number;
  available?: number;
  admission_limit?: number;
  pow_difficulty?: number;
  lottery?: LotteryInfo | null;
  [key: string]: unknown;
}

export interface WaitingRoomPatch {
  paused?: boolean;
  admission_factor?: number;
  max_admit_per_s?: number;
  pow_difficulty?: number;
}

/** `POST /api/orders` answers 202 with this: the order exists and a worker decides it. */
export interface OrderAccepted {
  id: string;
  status: "queued";
  event_id: string;
  quantity: number;
}

/** An order as `GET /api/orders/{id}` and the `{"type": "order"}` message of `/api/ws` show it. */
export interface Order {
  id: string;
  status: "queued" | "confirmed" | "rejected";
  event_id: string;
  quantity: number;
  accepted_at?: string;
  decided_at?: string | null;
  reason?: "sold_out" | "limit_reached" | "payment_declined" | string | null;
  total_cents?: number | null;
  purchases?: { id: string; ticket_id: string; section?: string | null; row?: string | null; number?: number | null }[] | null;
  /** While queued and waiting for the payment provider: what to tell the buyer, and until when it is retried. */
  notice?: string | null;
  payment_deadline?: string | null;
}
