import { fireEvent, screen, waitFor } from "@testing-library/react";
import { useState } from "react";
import { describe, expect, it } from "vitest";
import type { CodeCheck } from "../api/codes";
import { fakeFetch } from "../test/fakes";
import { renderPage } from "../test/render";
import { CodeInput, HoldCodeForm } from "./CodeInput";
import { CodesPanel } from "./CodesPanel";

const EVENT = "11111111-1111-1111-1111-111111111111";

function Harness() {
  const [code, setCode] = useState<CodeCheck | null>(null);
  return <CodeInput eventId={EVENT} applied={code} discountCents={code ? 500 : 0} onApplied={setCode} />;
}

describe("CodeInput", () => {
  it("checks a code and shows what it does, then removes it", async () => {
    const { calls } = fakeFetch({
      [`GET /api/events/${EVENT}/codes/SUMMER-10/check`]: {
        body: { code: "SUMMER-10", kind: "discount", percent_off: 10, amount_off_cents: null, ticket_type: null, presale: false },
      },
    });
    renderPage(<Harness />);
    fireEvent.change(screen.getByLabelText("Have a code?"), { target: { value: " summer-10" } });
    fireEvent.click(screen.getByRole("button", { name: "Apply" }));
    const applied = await screen.findByTestId("code-applied");
    expect(applied.textContent).toMatch(/SUMMER-10: 10% off each ticket/);
    expect(applied.textContent).toMatch(/5[.,]00/);
    expect(calls).toHaveLength(1);
    fireEvent.click(screen.getByRole("button", { name: "Remove code" }));
    expect(screen.getByLabelText("Have a code?")).toBeTruthy();
  });

  it("shows why a code was refused, and checks nothing for text that is never a code", async () => {
    const { calls } = fakeFetch({
      [`GET /api/events/${EVENT}/codes/GONE/check`]: {
        status: 409,
        body: { error: "code_exhausted", detail: "used", field: "code" },
      },
    });
    renderPage(<Harness />);
    const input = screen.getByLabelText("Have a code?");
    fireEvent.change(input, { target: { value: "a b" } });
    fireEvent.click(screen.getByRole("button", { name: "Apply" }));
    expect((await screen.findByRole("alert")).textContent).toMatch(/3 to 32/);
    expect(calls).toHaveLength(0);
    fireEvent.change(input, { target: { value: "gone" } });
    fireEvent.click(screen.getByRole("button", { name: "Apply" }));
    await waitFor(() => expect(screen.getByRole("alert").textContent).toMatch(/used up/));
    expect(screen.queryByTestId("code-applied")).toBeNull();
  });
});

describe("CodesPanel", () => {
  it("lists codes with their uses and revenue and creates one", async () => {
    const listed = {
      id: "c1",
      event_id: EVENT,
      code: "TEN",
      kind: "discount",
      percent_off: 10,
      amount_off_cents: null,
      ticket_type: null,
      max_uses: 100,
      valid_from: null,
      valid_until: null,
      active: true,
      created_at: "2026-12-04T00:00:00Z",
      uses: 7,
      confirmed: 5,
      in_flight: 2,
      revenue_cents: 22500,
      discount_cents: 2500,
    };
    const { calls } = fakeFetch({
      [`GET /api/events/${EVENT}/codes`]: { body: [listed] },
      [`POST /api/events/${EVENT}/codes`]: { status: 201, body: { ...listed, id: "c2", code: "VIP5" } },
    });
    renderPage(<CodesPanel eventId={EVENT} token="admin" />);
    const table = await screen.findByTestId("codes-table");
    expect(table.textContent).toMatch(/TEN/);
    expect(table.textContent).toMatch(/7 \/ 100/);
    expect(table.textContent).toMatch(/225[.,]00/);
    fireEvent.change(screen.getByLabelText("Code"), { target: { value: "vip5" } });
    fireEvent.change(screen.getByLabelText("Discount (10% or 5.00)"), { target: { value: "5.00" } });
    fireEvent.change(screen.getByLabelText("Ticket type (empty: all)"), { target: { value: "VIP" } });
    fireEvent.click(screen.getByRole("button", { name: "Create code" }));
    expect((await screen.findByTestId("codes-message")).textContent).toBe("Code VIP5 created.");
    const post = calls.find((c) => c.method === "POST")!;
    expect(post.body).toEqual({ code: "VIP5", kind: "discount", amount_off_cents: 500, ticket_type: "VIP" });
    expect(post.headers.Authorization).toBe("Bearer admin");
  });
});

describe("HoldCodeForm", () => {
  it("applies a code to the hold and hands back the repriced hold, or says why not", async () => {
    const repriced = {
      id: "h1",
      event_id: "e1",
      status: "active",
      expires_at: "2030-01-01T00:05:00Z",
      seconds_left: 120,
      tickets: [{ id: "t1", section: null, row: null, number: null, price_cents: 4500, half_price: false }],
      total_cents: 4500,
      code: "TEN",
      discount_cents: 500,
    };
    const { calls } = fakeFetch({
      "POST /api/holds/h1/code": [
        { status: 409, body: { error: "code_too_late", detail: "late", field: "code" } },
        { status: 200, body: repriced },
      ],
    });
    const got: unknown[] = [];
    renderPage(<HoldCodeForm holdId="h1" token="tok" onApplied={(h) => got.push(h)} />);
    fireEvent.change(screen.getByLabelText("Have a discount code?"), { target: { value: "ten" } });
    fireEvent.click(screen.getByRole("button", { name: "Apply" }));
    expect((await screen.findByRole("alert")).textContent).toMatch(/before paying/);
    fireEvent.click(screen.getByRole("button", { name: "Apply" }));
    await waitFor(() => expect(got).toEqual([repriced]));
    expect(calls.map((c) => c.body)).toEqual([{ code: "TEN" }, { code: "TEN" }]);
    expect(calls[0]!.headers.Authorization).toBe("Bearer tok");
  });
});
