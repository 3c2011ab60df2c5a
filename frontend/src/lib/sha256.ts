// SHA-256 for the waiting room: solving join challenges and checking the lottery. @noble/hashes
// (audited, synchronous, and available on plain-HTTP pages, where crypto.subtle is not).
import { sha256 as nobleSha256 } from "@noble/hashes/sha2.js";
import { bytesToHex, utf8ToBytes } from "@noble/hashes/utils.js";

export function sha256(text: string): Uint8Array {
  return nobleSha256(utf8ToBytes(text));
}

export function sha256Hex(text: string): string {
  return bytesToHex(sha256(text));
}

export function leadingZeroBits(bytes: Uint8Array): number {
  let bits = 0;
  for (const byte of bytes) {
    if (byte === 0) {
      bits += 8;
      continue;
    }
    return bits + Math.clz32(byte) - 24;
  }
  return bits;
}

/**
 * Find a nonce such that SHA-256(challenge + nonce) starts with `difficulty` zero bits
 * (the waiting room's join challenge). Works in slices so the page stays responsive.
 */
export async function solveChallenge(
  challenge: string,
  difficulty: number,
  signal?: AbortSignal,
  sliceSize = 4000,
): Promise<string> {
  for (let i = 0; ; ) {
    const end = i + sliceSize;
    for (; i < end; i++) {
      const nonce = i.toString(16);
      if (leadingZeroBits(sha256(challenge + nonce)) >= difficulty) return nonce;
    }
    if (signal?.aborted) throw new DOMException("aborted", "AbortError");
    await new Promise((r) => setTimeout(r, 0));
  }
}
