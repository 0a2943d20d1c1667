/**
 * Cross-check against amqplib's own codec (node_modules/amqplib/lib/defs.js, generated from
 * RabbitMQ's spec JSON): for every method, our writer and amqplib's encoder produce identical
 * frames, and each side decodes the other's bytes; the same for basic properties with headers of
 * every type amqplib can express.
 */
import { createRequire } from 'node:module';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { FieldTable, FieldValue } from '../../../src/core/field-value.js';
import { FrameWriter } from '../../../src/protocol/frame-writer.js';
import {
  decodeBasicProperties, decodeMethod, encodeBasicProperties, writeMethod, type BasicProperties, type Method,
} from '../../../src/protocol/generated/methods.js';
import { allMethods, camel, fieldProp, repoRoot, reservedValue, scalarValueArb, shortstrArb, type SpecClass, type SpecField, type SpecMethod } from './arbitraries.js';

interface AmqplibDefs {
  encodeMethod(id: number, channel: number, fields: Record<string, unknown>): Buffer;
  decode(id: number, buf: Buffer): Record<string, unknown>;
  encodeProperties(classId: number, channel: number, size: number, fields: Record<string, unknown>): Buffer;
}
// amqplib's package.json does not export lib/defs.js; load it by path.
const defs = createRequire(import.meta.url)(join(repoRoot, 'node_modules', 'amqplib', 'lib', 'defs.js')) as AmqplibDefs;

type Plain = unknown;

/** Our typed value -> amqplib's notation ({'!': type, value} for anything but the obvious). */
function toAmqplib(v: FieldValue): Plain {
  switch (v.type) {
    case 't': return v.value;
    case 'b': return { '!': 'byte', value: v.value };
    case 'B': return { '!': 'unsignedbyte', value: v.value };
    case 's': return { '!': 'short', value: v.value };
    case 'u': return { '!': 'unsignedshort', value: v.value };
    case 'I': return { '!': 'int', value: v.value };
    case 'i': return { '!': 'unsignedint', value: v.value };
    case 'l': return { '!': 'long', value: v.value };
    case 'T': return { '!': 'timestamp', value: v.value };
    case 'f': return { '!': 'float', value: v.value };
    case 'd': return { '!': 'double', value: v.value };
    case 'D': return { '!': 'decimal', value: { places: v.scale, digits: v.value } };
    case 'S': return v.value.toString('utf8');
    case 'x': return v.value;
    case 'A': return v.value.map(toAmqplib);
    case 'F': return tableToAmqplib(v.value);
    case 'V': return null;
  }
}

function tableToAmqplib(t: FieldTable): Record<string, Plain> {
  const o: Record<string, Plain> = {};
  for (const e of t) o[e.key] = toAmqplib(e.value);
  return o;
}

// Tables amqplib can express: unique plain keys, UTF-8 long strings, 'T' within amqplib's Number() range.
const simpleKey = fc.stringMatching(/^[a-z][a-z0-9_.-]{0,12}$/);
const amqplibScalar = fc.oneof(
  scalarValueArb.filter((v) => v.type !== 'S' && v.type !== 'T' && !(v.type === 'l' && typeof v.value === 'bigint')),
  fc.string({ unit: 'grapheme', maxLength: 20 }).map((s): FieldValue => ({ type: 'S', value: Buffer.from(s) })),
  fc.maxSafeNat().map((n): FieldValue => ({ type: 'T', value: n })),
);
const amqplibTree = fc.letrec<{ value: FieldValue; table: FieldTable }>((tie) => ({
  value: fc.oneof({ depthSize: 'small' }, amqplibScalar,
    fc.array(tie('value'), { maxLength: 3 }).map((a): FieldValue => ({ type: 'A', value: a })),
    tie('table').map((t): FieldValue => ({ type: 'F', value: t }))),
  table: fc.uniqueArray(fc.record({ key: simpleKey, value: tie('value') }), { selector: (e) => e.key, maxLength: 5 }),
}));
const amqplibTable = amqplibTree.table;

function wire(f: SpecField): fc.Arbitrary<unknown> {
  switch (f.type) {
    case 'octet': return fc.integer({ min: 0, max: 255 });
    case 'short': return fc.integer({ min: 0, max: 65535 });
    case 'long': return fc.integer({ min: 0, max: 4294967295 });
    case 'longlong': case 'timestamp': return fc.maxSafeNat();
    case 'bit': return fc.boolean();
    case 'shortstr': return shortstrArb;
    case 'longstr': return fc.uint8Array({ maxLength: 30 }).map((a) => Buffer.from(a));
    case 'table': return amqplibTable;
    default: throw new Error(f.type);
  }
}

function methodPair(cls: SpecClass, m: SpecMethod): fc.Arbitrary<{ ours: Method; theirs: Record<string, unknown> }> {
  const rec: Record<string, fc.Arbitrary<unknown>> = {};
  for (const f of m.fields) rec[fieldProp(f)] = f.reserved ? fc.constant(reservedValue(f.type)) : wire(f);
  return fc.record(rec).map((fields) => {
    const theirs: Record<string, unknown> = {};
    for (const f of m.fields) {
      const v = fields[fieldProp(f)];
      theirs[camel(f.rabbitName ?? f.name)] = f.type === 'table' ? tableToAmqplib(v as FieldTable) : v;
    }
    const ours = { kind: `${cls.name}.${m.name}`, classId: cls.id, methodId: m.id, ...fields } as unknown as Method;
    return { ours, theirs };
  });
}

describe('cross-check with amqplib defs', () => {
  for (const { cls, m } of allMethods) {
    it(`${cls.name}.${m.name}: identical frames both ways`, () => {
      const id = cls.id * 65536 + m.id;
      fc.assert(fc.property(methodPair(cls, m), fc.integer({ min: 0, max: 65535 }), ({ ours, theirs }, channel) => {
        const theirBytes = defs.encodeMethod(id, channel, theirs);
        const w = new FrameWriter(32);
        writeMethod(w, channel, ours);
        const ourBytes = w.peekPending();
        expect(ourBytes.equals(theirBytes)).toBe(true);
        // ours decodes amqplib's bytes
        const payload = theirBytes.subarray(7, theirBytes.length - 1);
        expect(decodeMethod(payload, 0, payload.length)).toEqual(ours);
        // amqplib decodes ours to what it decodes from its own bytes
        expect(defs.decode(id, ourBytes.subarray(11, ourBytes.length - 1))).toEqual(defs.decode(id, payload.subarray(4)));
      }), { numRuns: 25 });
    });
  }

  const propsArb: fc.Arbitrary<BasicProperties> = fc.record({
    contentType: shortstrArb, contentEncoding: shortstrArb, headers: amqplibTable,
    deliveryMode: fc.integer({ min: 0, max: 255 }), priority: fc.integer({ min: 0, max: 255 }),
    correlationId: shortstrArb, replyTo: shortstrArb, expiration: shortstrArb, messageId: shortstrArb,
    timestamp: fc.maxSafeNat(), type: shortstrArb, userId: shortstrArb, appId: shortstrArb, clusterId: shortstrArb,
  }, { requiredKeys: [] });

  it('basic properties: identical header frames, each decodes the other', () => {
    fc.assert(fc.property(propsArb, fc.maxSafeNat(), (p, size) => {
      const theirs: Record<string, unknown> = { ...p };
      if (p.headers !== undefined) theirs['headers'] = tableToAmqplib(p.headers);
      const theirFrame = defs.encodeProperties(60, 3, size, theirs);
      const props = encodeBasicProperties(p);
      const w = new FrameWriter(32);
      w.writeContentHeader(3, 60, size, props, 0, props.length);
      const ourFrame = w.peekPending();
      expect(ourFrame.equals(theirFrame)).toBe(true);
      const theirProps = theirFrame.subarray(19, theirFrame.length - 1);
      expect(decodeBasicProperties(theirProps, 0, theirProps.length)).toEqual({
        contentType: p.contentType, contentEncoding: p.contentEncoding, headers: p.headers, deliveryMode: p.deliveryMode,
        priority: p.priority, correlationId: p.correlationId, replyTo: p.replyTo, expiration: p.expiration,
        messageId: p.messageId, timestamp: p.timestamp, type: p.type, userId: p.userId, appId: p.appId, clusterId: p.clusterId,
      });
    }), { numRuns: 200 });
  });

  it('headers with every amqplib-expressible type, fixed example', () => {
    const headers = {
      str: 'héllo', bool: true, byte: { '!': 'byte', value: -5 }, ubyte: { '!': 'unsignedbyte', value: 200 },
      short: { '!': 'short', value: -300 }, ushort: { '!': 'unsignedshort', value: 60000 }, int: { '!': 'int', value: -70000 },
      uint: { '!': 'unsignedint', value: 4000000000 }, long: { '!': 'long', value: 2 ** 40 }, ts: { '!': 'timestamp', value: 1700000000 },
      float: { '!': 'float', value: 1.25 }, double: 3.5, dec: { '!': 'decimal', value: { places: 3, digits: 12345 } },
      bin: Buffer.from([1, 2, 3]), arr: [1, 'two', [true], { nested: null }], tbl: { a: { b: { c: 'deep' } } }, nil: null,
    };
    const frame = defs.encodeProperties(60, 1, 10, { headers, deliveryMode: 2 });
    const props = frame.subarray(19, frame.length - 1);
    const d = decodeBasicProperties(props, 0, props.length);
    expect(d.deliveryMode).toBe(2);
    expect(d.headers!.map((e) => [e.key, e.value.type])).toEqual([
      ['str', 'S'], ['bool', 't'], ['byte', 'b'], ['ubyte', 'B'], ['short', 's'], ['ushort', 'u'], ['int', 'I'], ['uint', 'i'],
      ['long', 'l'], ['ts', 'T'], ['float', 'f'], ['double', 'd'], ['dec', 'D'], ['bin', 'x'], ['arr', 'A'], ['tbl', 'F'], ['nil', 'V'],
    ]);
    expect(encodeBasicProperties(d).equals(props)).toBe(true);
  });
});
