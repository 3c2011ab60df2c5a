import { describe, expect, it } from "vitest";
import { fakeFetch } from "../test/fakes";
import { ApiError } from "./client";
import { tokeniseCard } from "./payments";

const PAYMENTS = "http://pay.test";

describe("tokeniseCard", () => {
  it("sends the card to the provider named by /api/config, once per card", async () => {
    const { calls } = fakeFetch({
      "GET /api/config": { body: { payments_url: `${PAYMENTS}/` } },
      [`POST ${PAYMENTS}/v1/payment_methods`]: [
        { status: 201, body: { id: "pm_a", brand: "visa", last4: "4242" } },
        { status: 201, body: { id: "pm_b", brand: "mastercard", last4: "4444" } },
      ],
    });
    expect((await tokeniseCard("4242424242424242")).id).toBe("pm_a");
    expect((await tokeniseCard("4242424242424242")).id).toBe("pm_a"); // the same card: the same method
    expect((await tokeniseCard("5555555555554444")).id).toBe("pm_b");
    expect(calls.filter((c) => c.url === "/api/config")).toHaveLength(1);
    expect(calls.filter((c) => c.url.startsWith(PAYMENTS)).map((c) => c.body)).toEqual([
      { card_number: "4242424242424242" },
      { card_number: "5555555555554444" },
    ]);
    // What the browser keeps names the method, never the number.
    const kept = Object.keys(localStorage).map((k) => `${k}=${localStorage.getItem(k)}`).join("\n");
    expect(kept).toContain("pm_a");
    expect(kept).not.toContain("4242424242424242");
  });

  it("passes the provider's refusal of a bad number on, naming the field", async () => {
    fakeFetch({
      "GET /api/config": { body: { payments_url: PAYMENTS } },
      [`POST ${PAYMENTS}/v1/payment_methods`]: {
        status: 400,
        body: { error: "invalid_input", detail: "12 to 19 digits", field: "card_number" },
      },
    });
    const err = await tokeniseCard("123456789012").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect((err as ApiError).field).toBe("card_number");
  });

  it("says the payment service did not answer when the provider is down", async () => {
    fakeFetch({
      "GET /api/config": { body: { payments_url: PAYMENTS } },
      [`POST ${PAYMENTS}/v1/payment_methods`]: { status: 503, body: { error: "provider_unavailable", detail: "x" } },
    });
    const err = (await tokeniseCard("4242424242424242").catch((e: unknown) => e)) as ApiError;
    expect([err.code, err.retryable]).toEqual(["payment_unavailable", true]);
  });
});
