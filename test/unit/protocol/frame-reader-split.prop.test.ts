/**
 * FrameReader on valid frame streams (property): split at every byte boundary and at random chunkings (with and
 * without bodyParts) the same frames come out; pieces of large straddling body frames are views of the chunks.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AmqpError } from '../../../src/core/amqp-error.js';
import { FRAME_BODY_PART, FrameReader, type FrameSink } from '../../../src/protocol/frame-reader.js';

interface Frame { type: number; channel: number; payload: Buffer }

function frameBytes(f: Frame, end = 0xce): Buffer {
  const b = Buffer.alloc(f.payload.length + 8);
  b[0] = f.type;
  b.writeUInt16BE(f.channel, 1);
  b.writeUInt32BE(f.payload.length, 3);
  f.payload.copy(b, 7);
  b[b.length - 1] = end;
  return b;
}

class Collect implements FrameSink {
  frames: Frame[] = [];
  onFrame(type: number, channel: number, payload: Buffer, start: number, end: number): void {
    this.frames.push({ type, channel, payload: Buffer.from(payload.subarray(start, end)) });
  }
}

const frameArb: fc.Arbitrary<Frame> = fc.oneof(
  fc.record({
    type: fc.constantFrom(1, 2, 3),
    channel: fc.integer({ min: 0, max: 65535 }),
    payload: fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a)),
  }),
  fc.constant({ type: 8, channel: 0, payload: Buffer.alloc(0) }),
);

function feed(reader: FrameReader, chunks: Buffer[]): Frame[] {
  const sink = new Collect();
  for (const c of chunks) reader.push(c, sink);
  return sink.frames;
}

function errorOf(fn: () => void): AmqpError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(AmqpError);
    return e as AmqpError;
  }
  throw new Error('expected an AmqpError');
}

describe('FrameReader (property)', () => {
  it('split at every byte boundary yields the same frames', () => {
    fc.assert(fc.property(fc.array(frameArb, { minLength: 1, maxLength: 4 }), (frames) => {
      const stream = Buffer.concat(frames.map((f) => frameBytes(f)));
      for (let i = 0; i <= stream.length; i++) {
        const reader = new FrameReader(4096);
        expect(feed(reader, [stream.subarray(0, i), stream.subarray(i)])).toEqual(frames);
        expect(reader.buffered).toBe(0);
      }
    }), { numRuns: 40 });
  });

  it('random chunkings (including 1-byte chunks) yield the same frames', () => {
    fc.assert(fc.property(fc.array(frameArb, { maxLength: 12 }), fc.array(fc.integer({ min: 1, max: 64 }), { minLength: 1, maxLength: 20 }),
      (frames, sizes) => {
        const stream = Buffer.concat(frames.map((f) => frameBytes(f)));
        const chunks: Buffer[] = [];
        for (let p = 0, i = 0; p < stream.length; i++) {
          const n = sizes[i % sizes.length]!;
          chunks.push(stream.subarray(p, p + n));
          p += n;
        }
        expect(feed(new FrameReader(0), chunks)).toEqual(frames);
        const singles = [...stream].map((b) => Buffer.from([b]));
        expect(feed(new FrameReader(4096), singles)).toEqual(frames);
      }), { numRuns: 100 });
  });
});

/** Sink for `bodyParts`: joins FRAME_BODY_PART pieces with the frame's final FRAME_BODY piece. */
class Reassemble implements FrameSink {
  frames: Frame[] = [];
  parts: Buffer[] = [];
  partChannel = -1;
  /** Buffers the pieces were views of. */
  views = new Set<ArrayBufferLike>();
  onFrame(type: number, channel: number, payload: Buffer, start: number, end: number): void {
    if (type === FRAME_BODY_PART || (type === 3 && this.parts.length > 0)) {
      if (this.partChannel !== -1 && this.partChannel !== channel) throw new Error('pieces of two frames interleaved');
      this.partChannel = channel;
      this.views.add(payload.buffer);
      this.parts.push(Buffer.from(payload.subarray(start, end)));
      if (type === FRAME_BODY_PART) return;
      this.frames.push({ type, channel, payload: Buffer.concat(this.parts) });
      this.parts = [];
      this.partChannel = -1;
      return;
    }
    this.frames.push({ type, channel, payload: Buffer.from(payload.subarray(start, end)) });
  }
}

/** Cheap deep equality for frame lists (toEqual on large Buffers is slow). */
function sameFrames(a: Frame[], b: Frame[]): boolean {
  return a.length === b.length && a.every((f, i) => f.type === b[i]!.type && f.channel === b[i]!.channel && f.payload.equals(b[i]!.payload));
}

const bigFrameArb: fc.Arbitrary<Frame> = fc.oneof(
  frameArb,
  fc.record({
    type: fc.constant(3),
    channel: fc.integer({ min: 0, max: 3 }),
    payload: fc.integer({ min: 4000, max: 6000 }).chain((n) => fc.integer({ min: 0, max: 255 }).map((v) => {
      const b = Buffer.alloc(n);
      for (let i = 0; i < n; i++) b[i] = (i * 31 + v) & 0xff;
      return b;
    })),
  }),
);

describe('FrameReader bodyParts (large straddling body frames passed on in pieces) (property)', () => {
  it('split at every byte boundary yields the same frames once pieces are joined', () => {
    fc.assert(fc.property(fc.array(bigFrameArb, { minLength: 1, maxLength: 3 }), (frames) => {
      const stream = Buffer.concat(frames.map((f) => frameBytes(f)));
      for (let i = 0; i <= stream.length; i++) {
        const reader = new FrameReader(16384, { bodyParts: true });
        const sink = new Reassemble();
        reader.push(stream.subarray(0, i), sink);
        reader.push(stream.subarray(i), sink);
        if (!sameFrames(sink.frames, frames) || sink.parts.length !== 0 || reader.buffered !== 0) {
          expect({ split: i, frames: sink.frames.length, parts: sink.parts.length, buffered: reader.buffered }).toBe('the same frames');
        }
      }
    }), { numRuns: 8 });
  });

  it('random chunkings (including tiny chunks) yield the same frames; pieces are views of the chunks', () => {
    fc.assert(fc.property(fc.array(bigFrameArb, { maxLength: 8 }), fc.array(fc.integer({ min: 1, max: 5000 }), { minLength: 1, maxLength: 20 }),
      (frames, sizes) => {
        const stream = Buffer.concat(frames.map((f) => frameBytes(f)));
        const chunks: Buffer[] = [];
        for (let p = 0, i = 0; p < stream.length; i++) {
          const n = sizes[i % sizes.length]!;
          chunks.push(Buffer.from(stream.subarray(p, p + n))); // own memory per chunk
          p += n;
        }
        const reader = new FrameReader(0, { bodyParts: true });
        const sink = new Reassemble();
        for (const c of chunks) reader.push(c, sink);
        expect(sameFrames(sink.frames, frames)).toBe(true);
        const chunkMemory = new Set(chunks.map((c) => c.buffer));
        for (const v of sink.views) expect(chunkMemory.has(v)).toBe(true);
      }), { numRuns: 60 });
  });
});
