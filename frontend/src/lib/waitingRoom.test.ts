import { describe, expect, it } from "vitest";
import type { QueueState } from "../api/types";
import { CLAIM_STALE_MS, TAB_ID, claimAdmission, readClaim } from "./tabs";
import {
  describeWait,
  formatEtaRange,
  isNext,
  mayJoinBySelf,
  queueAuth,
  turnTitle,
  updatedAgo,
} from "./waitingRoom";

const WAITING: QueueState = { status: "waiting", position: 4, eta_s: 100, eta_range_s: [80, 125], state: "open" };

describe("waiting room rules", () => {
  it("queues as the customer with the visitor's token, else as the visitor, else as a newcomer", () => {
    expect(queueAuth("cus", "vis")).toEqual({ token: "cus", headers: { "Visitor-Token": "vis" } });
    expect(queueAuth(null, "vis")).toEqual({ token: "vis" });
    expect(queueAuth(null, null)).toEqual({ token: null });
  });

  it("joins by itself only a visitor who never had a turn", () => {
    expect(mayJoinBySelf(null)).toBe(true);
    expect(mayJoinBySelf("waiting")).toBe(true);
    for (const s of ["admitted", "used", "expired", "sold_out"] as const) expect(mayJoinBySelf(s)).toBe(false);
  });

  it("says 'next' only when the line moves and a ticket can be had", () => {
    expect(isNext({ ...WAITING, position: 1 })).toBe(true);
    expect(isNext({ ...WAITING, position: 2 })).toBe(false);
    expect(isNext({ ...WAITING, position: 1, blocked: true })).toBe(false);
    expect(isNext({ ...WAITING, position: 1, state: "paused" })).toBe(false);
    expect(isNext({ ...WAITING, position: 1, state: "scheduled" })).toBe(false);
  });

  it("puts the wait in words: a range, or why there is none", () => {
    expect(formatEtaRange([80, 125])).toBe("1–2 min");
    expect(formatEtaRange([5, 8])).toBe("a few seconds");
    expect(formatEtaRange([40, 55])).toBe("under a minute");
    expect(formatEtaRange([4000, 5000])).toBe("up to 1 h 23 min");
    expect(formatEtaRange(null)).toBeNull();
    expect(describeWait(WAITING)).toBe("Estimated wait: 1–2 min");
    expect(describeWait({ ...WAITING, state: "paused", eta_s: null, eta_range_s: null })).toMatch(/resume/);
    expect(describeWait({ ...WAITING, blocked: true, eta_s: null, eta_range_s: null })).toMatch(/held by other buyers/);
    expect(describeWait({ ...WAITING, eta_s: null, eta_range_s: null })).toMatch(/Not enough admissions yet/);
    expect(describeWait({ ...WAITING, beyond_stock: true, eta_s: null, eta_range_s: null })).toMatch(
      /more people are ahead of you than there are tickets left/i,
    );
    expect(describeWait({ ...WAITING, state: "scheduled" }, 30)).toMatch(/when the sale opens/);
  });

  it("says how fresh the estimate is, and shows the turn in the tab's title", () => {
    expect(updatedAgo(10_000, 10_500)).toBe("updated just now");
    expect(updatedAgo(10_000, 22_000)).toBe("updated 12 s ago");
    expect(turnTitle("Gig", WAITING, null)).toBe("#4 in line · Gig");
    expect(turnTitle("Gig", { ...WAITING, status: "admitted" }, 95)).toBe("🎟 Your turn! 1:35 left · Gig");
  });
});

describe("tabs", () => {
  it("lets one tab claim an admission; a stale claim is free again", async () => {
    expect(await claimAdmission("e1", "adm-1", 1000)).toBe(true);
    expect(await claimAdmission("e1", "adm-1", 1000)).toBe(true); // this tab again (a reload)
    localStorage.setItem("crowdpass.claim.e1", JSON.stringify({ admission: "adm-1", tab: "other", at: 1000 }));
    expect(await claimAdmission("e1", "adm-1", 2000)).toBe(false);
    expect(await claimAdmission("e1", "adm-1", 1000 + CLAIM_STALE_MS + 1)).toBe(true);
    expect(readClaim("e1")?.tab).toBe(TAB_ID);
    expect(await claimAdmission("e1", "adm-2", 99_999)).toBe(true); // a new admission
  });
});
