import { describe, expect, it } from "vitest";
import { ed25519 } from "@noble/curves/ed25519.js";
import { checkOffline, EMPTY_STATE, mergeKit, rememberOnline, verifyCode, type DoorState } from "./door";

const EVENT = "550e8400-e29b-41d4-a716-446655440004";
const PURCHASE = "0b1f6c2e-8d3a-4e5f-9a7b-1c2d3e4f5a6b";

function b64url(bytes: Uint8Array): string {
  return btoa(String.fromCharCode(...bytes)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function uuidBytes(id: string): Uint8Array {
  const hex = id.replace(/-/g, "");
  return Uint8Array.from({ length: 16 }, (_, i) => parseInt(hex.slice(i * 2, i * 2 + 2), 16));
}

// Signed exactly as reservations/etickets/codes.py signs (Ed25519 over "CP2.<payload>").
function sign(secret: Uint8Array, purchase: string, event: string, holder = "Ana Porta", seat = "Section A"): string {
  const text = new TextEncoder().encode(`${holder}\x1f${seat}`);
  const raw = new Uint8Array([...uuidBytes(purchase), ...uuidBytes(event), ...text]);
  const signed = `CP2.${b64url(raw)}`;
  return `${signed}.${b64url(ed25519.sign(new TextEncoder().encode(signed), secret))}`;
}

const secret = ed25519.utils.randomSecretKey();
const publicKey = b64url(ed25519.getPublicKey(secret));
const kitState: DoorState = mergeKit(EMPTY_STATE, {
  event_id: EVENT,
  algorithm: "Ed25519",
  key: publicKey,
  as_of: "2026-12-04T20:00:00Z",
  revoked: [],
});

describe("door: offline check", () => {
  it("reads a genuine code and refuses changed or foreign ones", () => {
    const code = sign(secret, PURCHASE, EVENT);
    expect(verifyCode(code, publicKey)).toEqual({ purchaseId: PURCHASE, eventId: EVENT, holder: "Ana Porta", seat: "Section A" });
    const [prefix, , signature] = code.split(".");
    const other = sign(secret, PURCHASE, EVENT, "Bruno").split(".")[1];
    expect(verifyCode(`${prefix}.${other}.${signature}`, publicKey)).toBeNull();
    expect(verifyCode(sign(ed25519.utils.randomSecretKey(), PURCHASE, EVENT), publicKey)).toBeNull();
    for (const bad of ["", "CP2", "CP2.x.y", "CP1.a.b", `${code}A`, "CP2.!!.??"]) expect(verifyCode(bad, publicKey)).toBeNull();
  });

  it("admits once, then refuses; refunded and wrong-event tickets are refused", () => {
    const code = sign(secret, PURCHASE, EVENT);
    const first = checkOffline(kitState, EVENT, code, "North", new Date("2026-12-04T21:00:00Z"))!;
    expect(first.result).toMatchObject({ result: "admitted", admitted: true, offline: true, holder: "Ana Porta" });
    expect(first.state.pending).toEqual([{ code, scanned_at: "2026-12-04T21:00:00.000Z" }]);
    const second = checkOffline(first.state, EVENT, code, "North")!;
    expect(second.result).toMatchObject({ result: "already_checked_in", door: "North", checked_in_at: "2026-12-04T21:00:00.000Z" });
    expect(second.state.pending).toHaveLength(1);

    const revoked = mergeKit(kitState, { event_id: EVENT, algorithm: "Ed25519", key: publicKey, as_of: "x", revoked: [{ id: PURCHASE, at: "y" }] });
    expect(checkOffline(revoked, EVENT, code, "North")!.result.result).toBe("refunded");
    const elsewhere = sign(secret, PURCHASE, "11111111-2222-4333-8444-555555555555");
    expect(checkOffline(kitState, EVENT, elsewhere, "North")!.result.result).toBe("wrong_event");
    expect(checkOffline(kitState, EVENT, code.slice(0, -4) + "AAAA", "North")!.result.result).toBe("forged");
    expect(checkOffline(EMPTY_STATE, EVENT, code, "North")).toBeNull(); // never online: no kit
  });

  it("remembers what the server admitted online", () => {
    const state = rememberOnline(kitState, {
      result: "admitted",
      admitted: true,
      ticket_id: PURCHASE,
      checked_in_at: "2026-12-04T21:00:00Z",
      door: "South",
    });
    const offline = checkOffline(state, EVENT, sign(secret, PURCHASE, EVENT), "North")!;
    expect(offline.result).toMatchObject({ result: "already_checked_in", door: "South" });
  });
});
