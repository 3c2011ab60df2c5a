// One-step purchases (POST /api/orders): what a decided order means to the buyer.
import type { Order } from "../api/types";

export type OrderOutcome =
  | { kind: "waiting" }
  | { kind: "confirmed"; tickets: number; totalCents: number | null }
  | { kind: "rejected"; message: string; retry: boolean };

const REASONS: Record<string, { message: string; retry: boolean }> = {
  sold_out: { message: "Sold out: the last tickets went to other buyers. Your card was not charged.", retry: false },
  limit_reached: {
    message: "You already own as many tickets for this event as one person may buy. Your card was not charged.",
    retry: false,
  },
  payment_declined: { message: "Your card was declined and no ticket was bought: try another card.", retry: true },
};

export function orderOutcome(order: Pick<Order, "status" | "reason" | "quantity" | "purchases" | "total_cents">): OrderOutcome {
  if (order.status === "confirmed") {
    return { kind: "confirmed", tickets: order.purchases?.length || order.quantity, totalCents: order.total_cents ?? null };
  }
  if (order.status === "rejected") {
    const why = REASONS[order.reason ?? ""] ?? { message: "The order could not be completed. Your card was not charged.", retry: true };
    return { kind: "rejected", ...why };
  }
  return { kind: "waiting" };
}

/** The order a `/api/ws` message announces, when it is `{"type": "order", order}` for `orderId`. */
export function orderFromMessage(data: unknown, orderId: string): Order | null {
  const msg = data as { type?: string; order?: Order } | null;
  return msg?.type === "order" && msg.order?.id === orderId ? msg.order : null;
}
