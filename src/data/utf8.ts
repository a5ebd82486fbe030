// Strict UTF-8 for everything clients and files send: a byte that is not UTF-8 is an error naming
// where it is, never a replacement character. Decoded leniently, a Latin-1 "é" and "è" both became
// U+FFFD, so two different lead ids were stored as one lead.
import { isUtf8 } from 'node:buffer';
import { Transform } from 'node:stream';

/** Where a byte that is not UTF-8 was found: its offset and the line it is on (1-based). */
export class Utf8Error extends Error {
  constructor(
    readonly offset: number,
    readonly line: number,
  ) {
    super(`byte ${offset} is not UTF-8: send UTF-8 text (a file saved as Latin-1 or Windows-1252 must be converted first)`);
    this.name = 'Utf8Error';
  }
}

/** The offset of the first byte that does not start a well-formed UTF-8 character (RFC 3629), or -1. */
export function firstInvalidUtf8(bytes: Uint8Array): number {
  let i = 0;
  while (i < bytes.length) {
    const lead = bytes[i]!;
    if (lead < 0x80) {
      i++;
      continue;
    }
    const follow = lead >= 0xc2 && lead <= 0xdf ? 1 : lead >= 0xe0 && lead <= 0xef ? 2 : lead >= 0xf0 && lead <= 0xf4 ? 3 : 0;
    if (follow === 0 || i + follow >= bytes.length) return i;
    // The second byte's range rules out overlong forms, surrogates and code points past U+10FFFF.
    const second = bytes[i + 1]!;
    const low = lead === 0xe0 ? 0xa0 : lead === 0xf0 ? 0x90 : 0x80;
    const high = lead === 0xed ? 0x9f : lead === 0xf4 ? 0x8f : 0xbf;
    if (second < low || second > high) return i;
    for (let k = 2; k <= follow; k++) if ((bytes[i + k]! & 0xc0) !== 0x80) return i;
    i += follow + 1;
  }
  return -1;
}

function countLines(bytes: Uint8Array, end: number): number {
  let lines = 0;
  for (let at = bytes.indexOf(0x0a); at !== -1 && at < end; at = bytes.indexOf(0x0a, at + 1)) lines++;
  return lines;
}

/**
 * Throws a Utf8Error unless `bytes` is UTF-8, placed after `before` bytes and lines already read;
 * isUtf8 is Node's SIMD check, the byte-by-byte scan runs only to say where.
 */
export function checkUtf8(bytes: Uint8Array, before = { offset: 0, lines: 0 }): void {
  if (isUtf8(bytes)) return;
  const at = firstInvalidUtf8(bytes);
  throw new Utf8Error(before.offset + at, before.lines + countLines(bytes, at) + 1);
}

/** How many bytes of `bytes` end on a whole character: the rest (at most 3) may be completed by the next chunk. */
function wholeCharacters(bytes: Buffer): number {
  for (let back = 1; back <= Math.min(3, bytes.length); back++) {
    const byte = bytes[bytes.length - back]!;
    if ((byte & 0xc0) === 0x80) continue; // a continuation byte: look further back for its lead
    const length = byte >= 0xf0 ? 4 : byte >= 0xe0 ? 3 : byte >= 0xc0 ? 2 : 1;
    return length > back ? bytes.length - back : bytes.length;
  }
  return bytes.length;
}

/**
 * Passes a byte stream through unchanged, failing with a Utf8Error at the first byte that is not
 * UTF-8. A character split between two chunks is checked once the second arrives.
 */
export function utf8Check(): Transform {
  let carry: Buffer = Buffer.alloc(0);
  const read = { offset: 0, lines: 0 };
  return new Transform({
    transform(chunk: Buffer, _encoding, done) {
      const bytes = carry.length ? Buffer.concat([carry, chunk]) : chunk;
      const whole = wholeCharacters(bytes);
      const checked = bytes.subarray(0, whole);
      try {
        checkUtf8(checked, read);
      } catch (error) {
        return done(error as Utf8Error);
      }
      read.lines += countLines(checked, checked.length);
      read.offset += whole;
      carry = Buffer.from(bytes.subarray(whole));
      done(null, chunk);
    },
    flush(done) {
      // The stream ended inside a character.
      done(carry.length ? new Utf8Error(read.offset, read.lines + 1) : null);
    },
  });
}
