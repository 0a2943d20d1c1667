/**
 * The inbound pipeline under mutation (issue 11): random command streams on a few channels (every
 * spec method, content with random properties and bodies cut into frames) are damaged and fed
 * through FrameReader (bodyParts on, as the server runs it) into one CommandAssembler per channel,
 * with the content properties decoded in full (headers tables included). Properties: nothing but
 * AmqpError is ever thrown; the chunking of the stream (every byte boundary for small streams,
 * random chunkings for large ones) never changes the sequence of commands and errors; a completed
 * body has exactly the size its header announced; a body-size above the limit is refused before
 * anything is allocated for it.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AmqpError } from '../../../src/core/amqp-error.js';
import { CommandAssembler, CONTENT, CONTENT_METHOD, METHOD } from '../../../src/protocol/command-assembler.js';
import { encodeFieldTable } from '../../../src/protocol/field-table.js';
import { FrameReader, type FrameSink } from '../../../src/protocol/frame-reader.js';
import { FrameWriter } from '../../../src/protocol/frame-writer.js';
import { methodHasContent, writeMethod, type Method } from '../../../src/protocol/generated/methods.js';
import { decodeBasicProperties, encodeBasicProperties } from '../../../src/protocol/generated/properties.js';
import { anyMethodArb, basicPropertiesArb, shortstrArb } from './arbitraries.js';
import { frameBytes, headerPayload } from './command-frames.js';

const MAX_BODY = 1 << 16;

interface Command { channel: number; method: Method; properties: Buffer; body: Buffer; cuts: number[] }

const publishArb: fc.Arbitrary<Method> = fc.record({ exchange: shortstrArb, routingKey: shortstrArb, mandatory: fc.boolean(), immediate: fc.boolean() })
  .map((f) => ({ kind: 'basic.publish', classId: 60, methodId: 40, reserved1: 0, ...f }) as Method);

const commandArb: fc.Arbitrary<Command> = fc.record({
  channel: fc.constantFrom(0, 1, 2, 3),
  // Half of the commands carry content: the header and body frames are where assembling happens.
  method: fc.oneof(anyMethodArb, publishArb),
  properties: basicPropertiesArb.map((p) => encodeBasicProperties(p)),
  body: fc.oneof(fc.uint8Array({ maxLength: 32 }), fc.integer({ min: 0, max: 9000 }).map((n) => new Uint8Array(n).fill(9))).map((a) => Buffer.from(a)),
  cuts: fc.array(fc.nat(), { maxLength: 3 }),
});

function encode(cmds: readonly Command[]): Buffer {
  const parts: Buffer[] = [];
  for (const c of cmds) {
    const w = new FrameWriter();
    try {
      writeMethod(w, c.channel, c.method);
    } catch {
      continue; // a value the encoder refuses (e.g. a key too long): not part of this stream
    }
    parts.push(w.peekPending());
    if (!methodHasContent(c.method.classId, c.method.methodId)) continue;
    parts.push(frameBytes(2, c.channel, headerPayload(c.method.classId, c.body.length, c.properties)));
    const cuts = [...new Set(c.cuts.map((x) => x % (c.body.length + 1)))].sort((a, b) => a - b);
    let from = 0;
    for (const cut of [...cuts, c.body.length]) {
      if (cut > from || (c.body.length === 0 && cut === 0)) parts.push(frameBytes(3, c.channel, c.body.subarray(from, cut)));
      from = cut;
    }
  }
  return Buffer.concat(parts);
}

type Edit = { op: 'flip' | 'set' | 'delete' | 'insert' | 'u32'; at: number; v: number };
const editArb: fc.Arbitrary<Edit> = fc.record({
  op: fc.constantFrom('flip', 'set', 'delete', 'insert', 'u32'),
  at: fc.nat(),
  v: fc.oneof(fc.integer({ min: 0, max: 255 }), fc.constantFrom(0xffffffff, 0x80000000, MAX_BODY + 1, 0)),
});

function damage(b: Buffer, edits: readonly Edit[]): Buffer {
  for (const e of edits) {
    if (b.length === 0) return b;
    const i = e.at % b.length;
    if (e.op === 'flip') b[i]! ^= 1 << (e.v & 7);
    else if (e.op === 'set') b[i] = e.v & 0xff;
    else if (e.op === 'delete') b = Buffer.concat([b.subarray(0, i), b.subarray(i + 1 + (e.v & 3))]);
    else if (e.op === 'insert') b = Buffer.concat([b.subarray(0, i), Buffer.from([e.v & 0xff]), b.subarray(i)]);
    else if (i + 4 <= b.length) b.writeUInt32BE(e.v >>> 0, i);
  }
  return b;
}

/**
 * Everything the pipeline reports, in order. A channel error resets that channel's assembler and
 * drops its frames from then on (as the server does until close-ok); a frame error ends the stream.
 */
function run(chunks: readonly Buffer[]): string[] {
  const out: string[] = [];
  const reader = new FrameReader(131072, { bodyParts: true });
  const assemblers = new Map<number, CommandAssembler>();
  const dead = new Set<number>();
  const sink: FrameSink = {
    onFrame(type, channel, payload, start, end) {
      if (type === 8 || dead.has(channel)) return;
      let a = assemblers.get(channel);
      if (a === undefined) assemblers.set(channel, (a = new CommandAssembler(MAX_BODY)));
      try {
        const r = a.push(type, payload, start, end);
        if (r === METHOD) out.push(`${channel} ${a.method!.kind}`);
        else if (r === CONTENT_METHOD) out.push(`${channel} ${a.method!.kind} (content)`);
        else if (r === CONTENT) {
          const props = decodeBasicProperties(a.properties, 0, a.properties.length);
          // Decoded headers re-encode (no lossy decode of any table that got through).
          if (props.headers !== undefined) encodeFieldTable(props.headers);
          out.push(`${channel} content ${a.body.length} ${a.body.toString('hex').slice(0, 16)} ${a.properties.toString('hex')}`);
          a.take();
        }
      } catch (e) {
        if (!(e instanceof AmqpError)) throw e;
        out.push(`${channel} error ${e.code} ${e.message}`);
        a.reset();
        dead.add(channel);
      }
    },
  };
  for (const c of chunks) {
    try {
      reader.push(c, sink);
    } catch (e) {
      if (!(e instanceof AmqpError)) throw e;
      out.push(`frame error ${e.code} ${e.message}`);
      return out;
    }
  }
  return out;
}

const split = (b: Buffer, cuts: readonly number[]): Buffer[] => {
  const at = [...new Set(cuts.map((c) => c % (b.length + 1)))].sort((x, y) => x - y);
  const out: Buffer[] = [];
  let from = 0;
  for (const c of [...at, b.length]) {
    if (c > from) out.push(b.subarray(from, c));
    from = c;
  }
  return out;
};

describe('frame reader + command assembler + property decoders under mutation', () => {
  it('small damaged streams split at every byte boundary: the same commands and errors', () => {
    fc.assert(fc.property(fc.array(commandArb, { maxLength: 4 }), fc.array(editArb, { maxLength: 3 }), (cmds, edits) => {
      const bytes = damage(encode(cmds.map((c) => ({ ...c, body: c.body.subarray(0, 40) }))), edits);
      fc.pre(bytes.length < 1500);
      const whole = run([bytes]);
      for (let i = 1; i < bytes.length; i++) expect(run([bytes.subarray(0, i), bytes.subarray(i)])).toEqual(whole);
    }), { numRuns: 150 });
  });

  it('large damaged streams in random chunks: the same commands and errors', () => {
    fc.assert(fc.property(fc.array(commandArb, { maxLength: 10 }), fc.array(editArb, { maxLength: 5 }), fc.array(fc.nat(), { maxLength: 40 }),
      (cmds, edits, cuts) => {
        const bytes = damage(encode(cmds), edits);
        expect(run(split(bytes, cuts))).toEqual(run([bytes]));
      }), { numRuns: 400 });
  });

  it('a body-size above the limit (up to 2^64-1) is a channel error before any body is allocated', () => {
    fc.assert(fc.property(fc.bigInt({ min: BigInt(MAX_BODY) + 1n, max: 2n ** 64n - 1n }), (size) => {
      const a = new CommandAssembler(MAX_BODY);
      const pub = new FrameWriter();
      writeMethod(pub, 1, { kind: 'basic.publish', classId: 60, methodId: 40, reserved1: 0, exchange: '', routingKey: 'k', mandatory: false, immediate: false });
      const m = pub.peekPending();
      expect(a.push(1, m, 7, m.length - 1)).toBe(CONTENT_METHOD);
      const h = headerPayload(60, 0, Buffer.from([0, 0]));
      h.writeBigUInt64BE(size, 4);
      expect(() => a.push(2, h, 0, h.length)).toThrow(AmqpError);
      expect(a.body.length).toBe(0);
    }), { numRuns: 200 });
  });
});
