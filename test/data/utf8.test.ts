import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checkUtf8, firstInvalidUtf8, utf8Check, Utf8Error } from '../../src/data/utf8.js';

/**
 * The same answer from the WHATWG decoder, strict: feeding it ever longer prefixes, the first that
 * fails ends in the bad byte, which is either a character of its own or breaks the one before it.
 */
function referenceFirstInvalid(bytes: Uint8Array): number {
  const decodes = (length: number, stream: boolean) => {
    try {
      new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(0, length), { stream });
      return true;
    } catch {
      return false;
    }
  };
  /** Where the character still incomplete at the end of the first `length` bytes starts. */
  const incompleteFrom = (length: number) => {
    let at = length - 1;
    while (at > 0 && (bytes[at]! & 0xc0) === 0x80) at--;
    return at;
  };
  for (let length = 1; length <= bytes.length; length++) {
    if (!decodes(length, true)) return decodes(length - 1, false) ? length - 1 : incompleteFrom(length - 1);
  }
  return decodes(bytes.length, false) ? -1 : incompleteFrom(bytes.length);
}

/** Passes `chunks` through utf8Check, resolving with what came out or rejecting with its error. */
async function throughCheck(chunks: Buffer[]): Promise<Buffer> {
  const out: Buffer[] = [];
  await pipeline(
    Readable.from(chunks),
    utf8Check(),
    new Writable({
      write(chunk: Buffer, _encoding, done) {
        out.push(chunk);
        done();
      },
    }),
  );
  return Buffer.concat(out);
}

describe('UTF-8 checks', () => {
  it('find the first byte that is not UTF-8 where the WHATWG decoder fails: overlongs, surrogates, beyond U+10FFFF, stray and cut-off bytes', () => {
    const cases: [number[], number][] = [
      [[0x61, 0x62], -1],
      [[0xc3, 0xa9], -1], // é
      [[0xf0, 0x9d, 0x84, 0x9e], -1], // 𝄞
      [[0x61, 0xe9, 0x62], 1], // Latin-1 é
      [[0xc0, 0xaf], 0], // overlong /
      [[0xe0, 0x80, 0xaf], 0], // overlong
      [[0xed, 0xa0, 0x80], 0], // a UTF-16 surrogate, U+D800
      [[0xf4, 0x90, 0x80, 0x80], 0], // U+110000
      [[0x61, 0x80], 1], // a continuation byte alone
      [[0x61, 0xe2, 0x82], 1], // € cut off
    ];
    for (const [bytes, at] of cases) {
      expect(firstInvalidUtf8(Uint8Array.from(bytes)), bytes.join(' ')).toBe(at);
      expect(referenceFirstInvalid(Uint8Array.from(bytes)), bytes.join(' ')).toBe(at);
    }
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 24 }), (bytes) => firstInvalidUtf8(bytes) === referenceFirstInvalid(bytes)),
      { numRuns: 2000 },
    );
  });

  it('name the line and offset of the first bad byte', () => {
    expect(() => checkUtf8(Buffer.from('fine\nfine too'))).not.toThrow();
    const error = (() => {
      try {
        checkUtf8(Buffer.concat([Buffer.from('one\ntwo\nthr'), Buffer.from([0xff])]));
      } catch (caught) {
        return caught as Utf8Error;
      }
    })();
    expect(error).toMatchObject({ offset: 11, line: 3 });
  });

  it('pass a stream through unchanged wherever its chunks split a character, and fail at the byte that is not UTF-8', async () => {
    const text = Buffer.from('id,name\n1,Zoë\n2,€uro 𝄞\n3,日本\n');
    for (let cut = 0; cut <= text.length; cut++) {
      for (let second = cut; second <= text.length; second += 3) {
        const chunks = [text.subarray(0, cut), text.subarray(cut, second), text.subarray(second)].filter((chunk) => chunk.length);
        expect((await throughCheck(chunks)).equals(text), `cut at ${cut} and ${second}`).toBe(true);
      }
    }
    const bad = Buffer.concat([text, Buffer.from('4,caf'), Buffer.from([0xe9]), Buffer.from('\n')]);
    for (let cut = 1; cut < bad.length; cut++) {
      await expect(throughCheck([bad.subarray(0, cut), bad.subarray(cut)]), `cut at ${cut}`).rejects.toMatchObject({ offset: text.length + 5, line: 5 });
    }
    // Ended inside a character: the last one is cut off.
    await expect(throughCheck([text, Buffer.from([0xe2, 0x82])])).rejects.toMatchObject({ offset: text.length, line: 5 });
  });
});
