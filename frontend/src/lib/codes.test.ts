import { describe, expect, it } from "vitest";
import { ApiError } from "../api/client";
import { codeDiscount, codeDraftToBody, codeRefusal, describeCode, EMPTY_CODE_DRAFT, gaTickets, normalizeCode } from "./codes";

const pct = (percent_off: number, ticket_type: string | null = null) =>
  ({ kind: "discount", percent_off, amount_off_cents: null, ticket_type }) as const;
const amount = (amount_off_cents: number, ticket_type: string | null = null) =>
  ({ kind: "discount", percent_off: null, amount_off_cents, ticket_type }) as const;

describe("codes", () => {
  it("normalizes code text as the server does", () => {
    expect(normalizeCode("  summer-10 ")).toBe("SUMMER-10");
    expect(normalizeCode("ab")).toBeNull();
    expect(normalizeCode("has space")).toBeNull();
    expect(normalizeCode("\u00df\u00df\u00df")).toBeNull();
    expect(normalizeCode("x".repeat(33))).toBeNull();
  });

  it("computes the server's discount: half price first, percent rounded down, never below 0", () => {
    // 5001 with one half price: 2500 and 5001; 10% off: 250 + 500.
    expect(codeDiscount(gaTickets(5001, 2, 1), pct(10))).toBe(750);
    expect(codeDiscount(gaTickets(3000, 1, 0), amount(5000))).toBe(3000);
    expect(codeDiscount(gaTickets(3000, 2, 0), pct(100))).toBe(6000);
  });

  it("discounts only the code's ticket type", () => {
    const tickets = [
      { price_cents: 4000, ticket_type: "Pista" },
      { price_cents: 9000, ticket_type: "VIP" },
    ];
    expect(codeDiscount(tickets, amount(1000, "VIP"))).toBe(1000);
    expect(codeDiscount(gaTickets(4000, 1, 0), amount(1000, "VIP"))).toBe(0);
    expect(codeDiscount(tickets, { kind: "access", percent_off: null, amount_off_cents: null, ticket_type: null })).toBe(0);
  });

  it("describes what a code does", () => {
    expect(describeCode(pct(10))).toBe("10% off each ticket");
    expect(describeCode(amount(500, "VIP"))).toMatch(/5[.,]00 off each VIP ticket/);
    expect(describeCode({ kind: "access", percent_off: null, amount_off_cents: null, ticket_type: null })).toBe("Presale access");
  });

  it("says why a code was refused", () => {
    expect(codeRefusal(new ApiError(409, "code_exhausted", "x", "code"))).toMatch(/used up/);
    expect(codeRefusal(new ApiError(422, "code_not_valid_now", "This code was valid until 2026-01-01.", "code"))).toBe(
      "This code was valid until 2026-01-01.",
    );
    expect(codeRefusal(new ApiError(422, "code_unknown", "x", "code"))).toMatch(/no such code/);
    expect(codeRefusal(new ApiError(429, "rate_limited", "x"))).toMatch(/Too many/);
    expect(codeRefusal(new Error("boom"))).toMatch(/could not be checked/);
  });

  it("turns the organizer's form into the API's body", () => {
    expect(codeDraftToBody({ ...EMPTY_CODE_DRAFT, code: "ten", amount: "10%", max_uses: "100" })).toEqual({
      code: "TEN",
      kind: "discount",
      percent_off: 10,
      max_uses: 100,
    });
    expect(codeDraftToBody({ ...EMPTY_CODE_DRAFT, code: "five", amount: "5,50", ticket_type: " VIP " })).toEqual({
      code: "FIVE",
      kind: "discount",
      amount_off_cents: 550,
      ticket_type: "VIP",
    });
    expect(codeDraftToBody({ ...EMPTY_CODE_DRAFT, code: "fans", kind: "access", amount: "10%" })).toEqual({ code: "FANS", kind: "access" });
    expect(codeDraftToBody({ ...EMPTY_CODE_DRAFT, code: "x" })).toMatch(/3 to 32/);
    expect(codeDraftToBody({ ...EMPTY_CODE_DRAFT, code: "TEN", amount: "101%" })).toMatch(/1 to 100/);
    expect(codeDraftToBody({ ...EMPTY_CODE_DRAFT, code: "TEN", amount: "" })).toMatch(/percentage/);
    expect(codeDraftToBody({ ...EMPTY_CODE_DRAFT, code: "TEN", amount: "1", max_uses: "0" })).toMatch(/at least 1/);
  });
});
