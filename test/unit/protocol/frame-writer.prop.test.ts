/**
 * Property tests (fast-check) of the FrameWriter: random frames and bodies of every size decode
 * back to what was written.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FrameReader } from '../../../src/protocol/frame-reader.js';
import { FrameWriter } from '../../../src/protocol/frame-writer.js';
import { decodeMethod, encodeBasicProperties, writeBasicDeliver } from '../../../src/protocol/generated/methods.js';
import { readContentHeader, newContentHeaderView } from '../../../src/protocol/content-header.js';

interface F { type: number; channel: number; payload: Buffer }

function parse(bytes: Buffer): F[] {
  const out: F[] = [];
  new FrameReader(0).push(bytes, { onFrame: (type, channel, p, s, e) => { out.push({ type, channel, payload: Buffer.from(p.subarray(s, e)) }); } });
  return out;
}

class Sink {
  chunks: Buffer[] = [];
  result = true;
  write(c: Buffer): boolean {
    this.chunks.push(c);
    return this.result;
  }
  get bytes(): Buffer {
    return Buffer.concat(this.chunks);
  }
}

describe('FrameWriter (property)', () => {
  it('writes content header and splits the body at frameMax - 8', () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: 20000 }), fc.integer({ min: 4096, max: 9000 }), (size, frameMax) => {
      const w = new FrameWriter(1024);
      w.frameMax = frameMax;
      const body = Buffer.alloc(size);
      for (let i = 0; i < size; i++) body[i] = i & 0xff;
      const props = encodeBasicProperties({ deliveryMode: 2, contentType: 'text/plain' });
      const padded = Buffer.concat([Buffer.from([7, 7]), props, Buffer.from([7])]);
      writeBasicDeliver(w, 5, 'c', 1, false, 'x', 'k');
      w.writeContent(5, 60, size, padded, 2, 2 + props.length, body);
      const frames = parse(w.peekPending());
      expect(frames[0]!.type).toBe(1);
      expect(decodeMethod(frames[0]!.payload, 0, frames[0]!.payload.length).kind).toBe('basic.deliver');
      expect(frames[1]!.type).toBe(2);
      const view = newContentHeaderView();
      readContentHeader(frames[1]!.payload, 0, frames[1]!.payload.length, view);
      expect(view.classId).toBe(60);
      expect(view.bodySize).toBe(size);
      expect(frames[1]!.payload.subarray(view.propsStart, view.propsEnd).equals(props)).toBe(true);
      const bodies = frames.slice(2);
      expect(bodies.length).toBe(Math.ceil(size / (frameMax - 8)));
      for (const b of bodies) {
        expect(b.type).toBe(3);
        expect(b.channel).toBe(5);
        expect(b.payload.length).toBeLessThanOrEqual(frameMax - 8);
      }
      expect(Buffer.concat(bodies.map((b) => b.payload)).equals(body)).toBe(true);
    }), { numRuns: 60 });
  });

  it('on refill keeps a large unflushed run as a segment (no copy) and moves only the frame being built', () => {
    fc.assert(fc.property(fc.array(fc.integer({ min: 0, max: 3000 }), { minLength: 1, maxLength: 120 }),
      fc.integer({ min: 1, max: 7 }), (sizes, flushEvery) => {
        const w = new FrameWriter(1024);
        const sink = new Sink();
        const snapshots: Buffer[] = [];
        const flush = (): void => {
          const before = sink.chunks.length;
          w.flushTo(sink);
          for (let i = before; i < sink.chunks.length; i++) snapshots.push(Buffer.from(sink.chunks[i]!));
        };
        sizes.forEach((n, i) => {
          // Method frames built field by field (beginMethod/endFrame) with long routing keys and raw frames.
          writeBasicDeliver(w, 1, `c${i}`, i + 1, false, 'ex', 'k'.repeat(n % 250));
          w.writeFrame(3, 1, Buffer.alloc(n, i & 0xff));
          if (i % flushEvery === 0) flush();
        });
        flush();
        sink.chunks.forEach((c, i) => expect(c.equals(snapshots[i]!)).toBe(true));
        const frames = parse(sink.bytes);
        expect(frames).toHaveLength(sizes.length * 2);
        sizes.forEach((n, i) => {
          const m = frames[2 * i]!;
          expect(decodeMethod(m.payload, 0, m.payload.length)).toMatchObject({ consumerTag: `c${i}`, routingKey: 'k'.repeat(n % 250) });
          expect(frames[2 * i + 1]!.payload.equals(Buffer.alloc(n, i & 0xff))).toBe(true);
        });
      }), { numRuns: 80 });
  });
});
