/**
 * Robustness: decoders fed random or mutated bytes either succeed or throw AmqpError — never a
 * RangeError/TypeError that would surface as 541 INTERNAL_ERROR — and never read outside [start, end).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AmqpError } from '../../../src/core/amqp-error.js';
import { newContentHeaderView, newPropertyPeek, peekBasicProperties, readContentHeader } from '../../../src/protocol/content-header.js';
import { decodeFieldTable } from '../../../src/protocol/field-table.js';
import { FrameWriter } from '../../../src/protocol/frame-writer.js';
import { decodeBasicProperties, decodeMethod, encodeBasicProperties, writeMethod } from '../../../src/protocol/generated/methods.js';
import { anyMethodArb, basicPropertiesArb, fieldTableArb } from './arbitraries.js';
import { encodeFieldTable } from '../../../src/protocol/field-table.js';

function onlyAmqpErrors(fn: () => void): void {
  try {
    fn();
  } catch (e) {
    if (!(e instanceof AmqpError)) throw e;
  }
}

/** Flip, drop or insert bytes of a valid encoding; then surround it with bytes the decoder must not read. */
const mutate = (valid: Buffer, edits: { at: number; op: number; byte: number }[]): Buffer => {
  let b = Buffer.from(valid);
  for (const { at, op, byte } of edits) {
    const i = b.length === 0 ? 0 : at % b.length;
    if (op === 0) b[i] = byte;
    else if (op === 1) b = Buffer.concat([b.subarray(0, i), b.subarray(i + 1)]);
    else b = Buffer.concat([b.subarray(0, i), Buffer.from([byte]), b.subarray(i)]);
  }
  return b;
};
const editsArb = fc.array(fc.record({ at: fc.nat(), op: fc.integer({ min: 0, max: 2 }), byte: fc.integer({ min: 0, max: 255 }) }), { minLength: 1, maxLength: 4 });

/** Decode buf with guard bytes around it: a decoder reading outside its range would see 0xff junk. */
function guarded(buf: Buffer, decode: (b: Buffer, s: number, e: number) => void): void {
  const g = Buffer.concat([Buffer.alloc(4, 0xff), buf, Buffer.alloc(4, 0xff)]);
  onlyAmqpErrors(() => decode(g, 4, 4 + buf.length));
}

describe('decoder robustness', () => {
  it('decodeMethod on random payloads', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 64 }), fc.integer({ min: 0, max: 13 }), (a, pick) => {
      const b = Buffer.from(a);
      // steer the first 4 octets to real ids half of the time
      const ids = [[10, 10], [10, 11], [10, 50], [20, 10], [40, 10], [50, 10], [50, 20], [60, 40], [60, 60], [60, 80], [60, 120], [85, 10], [90, 10], [60, 10]];
      if (b.length >= 4 && pick % 2 === 0) {
        const [c, m] = ids[pick]!;
        b.writeUInt16BE(c!, 0);
        b.writeUInt16BE(m!, 2);
      }
      guarded(b, decodeMethod);
    }), { numRuns: 2000 });
  });

  it('decodeMethod on mutated valid methods', () => {
    fc.assert(fc.property(anyMethodArb, editsArb, (m, edits) => {
      const w = new FrameWriter();
      writeMethod(w, 1, m);
      const f = w.peekPending();
      guarded(mutate(f.subarray(7, f.length - 1), edits), decodeMethod);
    }), { numRuns: 1000 });
  });

  it('properties and tables on mutated valid encodings', () => {
    fc.assert(fc.property(basicPropertiesArb, editsArb, (p, edits) => {
      const b = mutate(encodeBasicProperties(p), edits);
      guarded(b, decodeBasicProperties);
      guarded(b, (x, s, e) => peekBasicProperties(x, s, e, newPropertyPeek()));
      guarded(b, (x, s, e) => readContentHeader(x, s, e, newContentHeaderView()));
    }), { numRuns: 500 });
    fc.assert(fc.property(fieldTableArb, editsArb, (t, edits) => {
      guarded(mutate(encodeFieldTable(t).subarray(4), edits), decodeFieldTable);
    }), { numRuns: 500 });
  });

  it('peek and full decode agree on which inputs are malformed', () => {
    fc.assert(fc.property(basicPropertiesArb, editsArb, (p, edits) => {
      const b = mutate(encodeBasicProperties(p), edits);
      let full = true;
      let peek = true;
      try { decodeBasicProperties(b, 0, b.length); } catch { full = false; }
      try { peekBasicProperties(b, 0, b.length, newPropertyPeek()); } catch { peek = false; }
      // peek does not decode the headers table, so it may accept what the full decoder refuses
      if (peek === false) expect(full).toBe(false);
    }), { numRuns: 500 });
  });
});
