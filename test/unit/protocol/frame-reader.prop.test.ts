/**
 * FrameReader under mutation (issue 11): valid frame streams are damaged (bit flips, random bytes,
 * insertions and deletions, size fields set to edge values up to 2^32-1, bad frame-end octets,
 * unknown types) and fed split at EVERY byte boundary and at random chunkings, with and without
 * bodyParts. Properties: the reader throws nothing but AmqpError FRAME_ERROR; how the stream is
 * chunked never changes which frames come out, nor the error (code and text) that ends it; a size
 * beyond frameMax is refused as soon as the header is in, before any payload is buffered; and the
 * octets buffered for one frame never exceed frameMax.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AmqpError } from '../../../src/core/amqp-error.js';
import { ReplyCode } from '../../../src/core/reply-code.js';
import { FRAME_BODY_PART, FrameReader, type FrameSink } from '../../../src/protocol/frame-reader.js';

interface Frame { type: number; channel: number; payload: Buffer }

const FRAME_MAX = 4096;

function frameBytes(f: Frame): Buffer {
  const b = Buffer.alloc(f.payload.length + 8);
  b[0] = f.type;
  b.writeUInt16BE(f.channel, 1);
  b.writeUInt32BE(f.payload.length, 3);
  f.payload.copy(b, 7);
  b[b.length - 1] = 0xce;
  return b;
}

const frameArb: fc.Arbitrary<Frame> = fc.oneof(
  fc.record({
    type: fc.constantFrom(1, 2, 3),
    channel: fc.integer({ min: 0, max: 65535 }),
    payload: fc.oneof(
      fc.uint8Array({ maxLength: 40 }),
      fc.integer({ min: 4096 - 8, max: 4096 }).map((n) => new Uint8Array(n).fill(7)),
    ).map((a) => Buffer.from(a)),
  }),
  fc.constant({ type: 8, channel: 0, payload: Buffer.alloc(0) }),
);

const U32_EDGES = [0xffffffff, 0x80000000, 0x7fffffff, FRAME_MAX, FRAME_MAX + 1, FRAME_MAX - 8, 0];

type Edit =
  | { op: 'flip'; at: number; bit: number }
  | { op: 'set'; at: number; byte: number }
  | { op: 'insert'; at: number; bytes: Uint8Array }
  | { op: 'delete'; at: number; n: number }
  | { op: 'size'; frame: number; size: number }
  | { op: 'end'; frame: number; byte: number }
  | { op: 'type'; frame: number; type: number };

const editArb: fc.Arbitrary<Edit> = fc.oneof(
  fc.record({ op: fc.constant('flip' as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
  fc.record({ op: fc.constant('set' as const), at: fc.nat(), byte: fc.constantFrom(0, 0xff, 0xce, 1, 2, 3, 8) }),
  fc.record({ op: fc.constant('insert' as const), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 8 }) }),
  fc.record({ op: fc.constant('delete' as const), at: fc.nat(), n: fc.integer({ min: 1, max: 8 }) }),
  fc.record({ op: fc.constant('size' as const), frame: fc.nat(), size: fc.oneof(fc.constantFrom(...U32_EDGES), fc.integer({ min: 0, max: 0xffffffff })) }),
  fc.record({ op: fc.constant('end' as const), frame: fc.nat(), byte: fc.integer({ min: 0, max: 255 }).filter((b) => b !== 0xce) }),
  fc.record({ op: fc.constant('type' as const), frame: fc.nat(), type: fc.integer({ min: 0, max: 255 }) }),
);

/** Serialise frames and apply the edits (frame-relative edits use the frames' offsets). */
function damaged(frames: Frame[], edits: Edit[]): Buffer {
  const parts = frames.map(frameBytes);
  for (const e of edits) {
    if (e.op === 'size' || e.op === 'end' || e.op === 'type') {
      if (parts.length === 0) continue;
      const p = parts[e.frame % parts.length]!;
      if (e.op === 'size') p.writeUInt32BE(e.size >>> 0, 3);
      else if (e.op === 'end') p[p.length - 1] = e.byte;
      else p[0] = e.type;
    }
  }
  let b = Buffer.concat(parts);
  for (const e of edits) {
    if (b.length === 0) break;
    const i = 'at' in e ? e.at % b.length : 0;
    if (e.op === 'flip') b[i]! ^= 1 << e.bit;
    else if (e.op === 'set') b[i] = e.byte;
    else if (e.op === 'insert') b = Buffer.concat([b.subarray(0, i), Buffer.from(e.bytes), b.subarray(i)]);
    else if (e.op === 'delete') b = Buffer.concat([b.subarray(0, i), b.subarray(i + e.n)]);
  }
  return b;
}

/** What a reader makes of the chunks: the complete frames, then the error that stopped it (or the octets still buffered). */
function run(chunks: readonly Buffer[], bodyParts: boolean): { frames: string[]; end: string; maxBuffered: number } {
  const reader = new FrameReader(FRAME_MAX, { bodyParts });
  const frames: string[] = [];
  let pieces: Buffer[] = [];
  const sink: FrameSink = {
    onFrame(type, channel, payload, start, end) {
      // Pieces of a large body frame count only once the final FRAME_BODY piece (after the frame-end check) arrives.
      if (type === FRAME_BODY_PART) { pieces.push(Buffer.from(payload.subarray(start, end))); return; }
      const whole = Buffer.concat([...pieces, payload.subarray(start, end)]);
      pieces = [];
      frames.push(`${type}/${channel}/${whole.toString('hex')}`);
    },
  };
  let maxBuffered = 0;
  for (const c of chunks) {
    try {
      reader.push(c, sink);
    } catch (e) {
      if (!(e instanceof AmqpError)) throw e;
      expect(e.code).toBe(ReplyCode.FRAME_ERROR);
      return { frames, end: `${e.code} ${e.message}`, maxBuffered };
    }
    maxBuffered = Math.max(maxBuffered, reader.buffered);
  }
  return { frames, end: `buffered ${reader.buffered}`, maxBuffered };
}

const split = (b: Buffer, cuts: readonly number[]): Buffer[] => {
  const at = [...new Set(cuts.map((c) => c % (b.length + 1)))].sort((x, y) => x - y);
  const out: Buffer[] = [];
  let from = 0;
  for (const c of [...at, b.length]) {
    out.push(b.subarray(from, c));
    from = c;
  }
  return out.filter((c) => c.length > 0);
};

describe('FrameReader under mutation', () => {
  it('split at every byte boundary: the same frames and the same error as in one chunk', () => {
    fc.assert(fc.property(fc.array(frameArb, { maxLength: 6 }), fc.array(editArb, { minLength: 1, maxLength: 4 }), fc.boolean(),
      (frames, edits, bodyParts) => {
        const bytes = damaged(frames.filter((f) => f.payload.length < 200), edits);
        const whole = run([bytes], bodyParts);
        for (let i = 1; i < bytes.length; i++) {
          expect(run([bytes.subarray(0, i), bytes.subarray(i)], bodyParts)).toEqual({ ...whole, maxBuffered: expect.any(Number) });
        }
        expect(run([...bytes].map((x) => Buffer.from([x])), bodyParts).end).toBe(whole.end);
      }), { numRuns: 300 });
  });

  it('random chunkings of large damaged streams: the same outcome; never more than frameMax octets held', () => {
    fc.assert(fc.property(fc.array(frameArb, { maxLength: 12 }), fc.array(editArb, { minLength: 1, maxLength: 6 }),
      fc.array(fc.nat(), { maxLength: 30 }), fc.boolean(), (frames, edits, cuts, bodyParts) => {
        const bytes = damaged(frames, edits);
        const whole = run([bytes], bodyParts);
        const chunked = run(split(bytes, cuts), bodyParts);
        expect(chunked.frames).toEqual(whole.frames);
        expect(chunked.end).toBe(whole.end);
        expect(chunked.maxBuffered).toBeLessThanOrEqual(FRAME_MAX + 7);
      }), { numRuns: 500 });
  });

  it('a size field above frameMax (up to 2^32-1) is refused once the 7 header octets are in, whatever follows', () => {
    fc.assert(fc.property(fc.integer({ min: FRAME_MAX + 1, max: 0xffffffff }), fc.integer({ min: 0, max: 255 }), fc.nat(20),
      (size, type, extra) => {
        const head = Buffer.alloc(7 + extra, 0x61);
        head[0] = type;
        head.writeUInt16BE(1, 1);
        head.writeUInt32BE(size, 3);
        const r = run([head.subarray(0, 7)], false);
        expect(r.end).toBe(`501 FRAME_ERROR - type ${type}, all octets = <<>>: {frame_too_large,${size},${FRAME_MAX - 8}}`);
        expect(r.maxBuffered).toBe(0);
      }), { numRuns: 300 });
  });
});
