// The card number never reaches CrowdPass: the page sends it straight to the payment provider
// (`POST {payments_url}/v1/payment_methods`, allowed by the provider's CORS and the page's
// Content-Security-Policy), which keeps it and answers a payment method id (`pm_...`). Orders
// and hold confirms carry only that id. The provider's URL comes from `GET /api/config`.
import { ApiError, request } from "./client";
import { rememberPaymentMethod, rememberedPaymentMethod } from "../lib/storage";

export interface PaymentMethod {
  id: string;
  brand: string;
  last4: string;
}

let provider: Promise<string> | null = null;

/** The provider's base URL, asked once per page view (again after a failure). */
function providerUrl(): Promise<string> {
  provider ??= request<{ payments_url: string }>("GET", "/api/config").then(
    (c) => c.payments_url.replace(/\/+$/, ""),
    (err: unknown) => {
      provider = null;
      throw err;
    },
  );
  return provider;
}

/**
 * The payment method of this card: tokenised at the provider on first use, then the same one
 * again (kept by a fingerprint of the card, never the number), so pressing Pay again after a
 * lost answer repeats the same request under the same Idempotency-Key.
 */
export async function tokeniseCard(cardNumber: string): Promise<PaymentMethod> {
  const known = rememberedPaymentMethod(cardNumber);
  if (known) return known;
  const base = await providerUrl();
  let method: PaymentMethod;
  try {
    method = await request<PaymentMethod>("POST", `${base}/v1/payment_methods`, { body: { card_number: cardNumber } });
  } catch (err) {
    if (err instanceof ApiError && (err.status === 0 || err.status >= 500)) {
      throw new ApiError(err.status, "payment_unavailable", "The payment service did not answer.");
    }
    throw err;
  }
  rememberPaymentMethod(cardNumber, method);
  return method;
}

/** Forget the provider's URL (tests: each renders a fresh page). */
export function forgetProvider(): void {
  provider = null;
}
