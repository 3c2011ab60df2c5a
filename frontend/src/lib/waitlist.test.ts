import { describe, expect, it } from "vitest";
import type { WaitlistEntry } from "../api/waitlist";
import { offerExpiresMs, offerFromMessage, offerFromSearch, placeText, withOffer } from "./waitlist";

function token(claims: object): string {
  const b64 = btoa(JSON.stringify(claims)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  return `eyJhbGciOiJIUzI1NiJ9.${b64}.sig`;
}

describe("waitlist", () => {
  it("reads the offer of a checkout link", () => {
    const t = token({ exp: 2_000_000_000 });
    expect(offerFromSearch(`?offer=${t}`)).toBe(t);
    expect(offerFromSearch("?offer=garbage")).toBeNull();
    expect(offerFromSearch("")).toBeNull();
  });
  it("reads when an offer ends", () => {
    expect(offerExpiresMs(token({ exp: 2_000_000_000 }))).toBe(2_000_000_000_000);
    expect(offerExpiresMs("a.b.c")).toBeNull();
  });
  it("says the place in line", () => {
    expect(placeText(1)).toBe("You are next in line");
    expect(placeText(2)).toBe("You are 2nd in line");
    expect(placeText(13)).toBe("You are 13th in line");
    expect(placeText(23)).toBe("You are 23rd in line");
  });
  it("reads an offer message of a socket, for this event only", () => {
    const msg = { type: "waitlist_offer", event_id: "e1", entry_id: "w1", offered_quantity: 2, offer_expires_at: "2999-01-01T00:00:00Z", offer_token: "a.b.c" };
    expect(offerFromMessage(msg, "e1")).toEqual(msg);
    expect(offerFromMessage(msg, "e2")).toBeNull();
    expect(offerFromMessage({ type: "order", event_id: "e1" }, "e1")).toBeNull();
    expect(offerFromMessage({ ...msg, offer_token: undefined }, "e1")).toBeNull();
    expect(offerFromMessage(null, "e1")).toBeNull();
    expect(offerFromMessage({ ...msg, offered_quantity: undefined }, "e1")!.offered_quantity).toBe(1);
  });
  it("puts an offer on its own entry only", () => {
    const entry = { id: "w1", event_id: "e1", status: "waiting", position: 2, quantity: 2 } as WaitlistEntry;
    const offer = offerFromMessage(
      { type: "waitlist_offer", event_id: "e1", entry_id: "w1", offered_quantity: 1, offer_expires_at: new Date(Date.now() + 60_000).toISOString(), offer_token: "a.b.c" },
      "e1",
    )!;
    const called = withOffer(entry, offer)!;
    expect(called.status).toBe("offered");
    expect(called.position).toBeNull();
    expect(called.offer_token).toBe("a.b.c");
    expect(called.offered_quantity).toBe(1);
    expect(called.seconds_left).toBeGreaterThan(55);
    expect(withOffer({ ...entry, id: "w2" }, offer)).toBeNull();
    expect(withOffer(null, offer)).toBeNull();
  });
});
