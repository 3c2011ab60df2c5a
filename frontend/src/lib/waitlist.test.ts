import { describe, expect, it } from "vitest";
import { offerExpiresMs, offerFromSearch, placeText } from "./waitlist";

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
});
