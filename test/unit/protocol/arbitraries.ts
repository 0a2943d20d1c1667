/**
 * fast-check arbitraries for protocol tests: typed field values/tables, spec-driven method objects,
 * basic properties. Methods are derived from spec/amqp-0-9-1.json so every method is covered.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import type { FieldTable, FieldValue } from '../../../src/core/field-value.js';
import type { BasicProperties, Method } from '../../../src/protocol/generated/methods.js';

export const repoRoot = join(import.meta.dirname, '..', '..', '..');

export interface SpecField { name: string; type: string; reserved?: boolean; rabbitName?: string; tsName?: string; domain: string; default?: unknown }
export interface SpecMethod { name: string; id: number; synchronous: boolean; content: boolean; responses: string[]; fields: SpecField[] }
export interface SpecClass { name: string; id: number; methods: SpecMethod[]; properties?: { name: string; type: string }[] }
export interface Spec { classes: SpecClass[]; constants: { name: string; value: number }[]; replyCodes: { name: string; value: number; class: string }[] }

export const spec: Spec = JSON.parse(readFileSync(join(repoRoot, 'spec', 'amqp-0-9-1.json'), 'utf8')) as Spec;

export const camel = (s: string): string => s.replace(/-([a-z0-9])/g, (_m, c: string) => c.toUpperCase());
export const fieldProp = (f: SpecField): string => f.tsName ?? camel(f.name);

const TWO_63 = 2n ** 63n;

/** A number when safe, else the bigint (the decoder's normal form). */
const normal64 = (b: bigint): number | bigint => (b >= BigInt(Number.MIN_SAFE_INTEGER) && b <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(b) : b);

export const shortstrArb = fc.string({ unit: 'grapheme', maxLength: 40 }).filter((s) => Buffer.byteLength(s) <= 255);
export const keyArb = fc.oneof(
  fc.string({ unit: 'grapheme-ascii', maxLength: 20 }),
  fc.string({ unit: 'grapheme', maxLength: 8 }),
).filter((s) => Buffer.byteLength(s) <= 255);
export const bytesArb = fc.uint8Array({ maxLength: 40 }).map((a) => Buffer.from(a));
const float32Arb = fc.float({ noNaN: true });
const doubleArb = fc.double({ noNaN: true });

export const scalarValueArb: fc.Arbitrary<FieldValue> = fc.oneof(
  fc.boolean().map((v): FieldValue => ({ type: 't', value: v })),
  fc.integer({ min: -128, max: 127 }).map((v): FieldValue => ({ type: 'b', value: v })),
  fc.integer({ min: 0, max: 255 }).map((v): FieldValue => ({ type: 'B', value: v })),
  fc.integer({ min: -32768, max: 32767 }).map((v): FieldValue => ({ type: 's', value: v })),
  fc.integer({ min: 0, max: 65535 }).map((v): FieldValue => ({ type: 'u', value: v })),
  fc.integer({ min: -2147483648, max: 2147483647 }).map((v): FieldValue => ({ type: 'I', value: v })),
  fc.integer({ min: 0, max: 4294967295 }).map((v): FieldValue => ({ type: 'i', value: v })),
  fc.oneof(fc.bigInt(-TWO_63, TWO_63 - 1n), fc.maxSafeInteger().map(BigInt)).map((v): FieldValue => ({ type: 'l', value: normal64(v) })),
  fc.oneof(fc.bigInt(0n, 2n ** 64n - 1n), fc.maxSafeNat().map(BigInt)).map((v): FieldValue => ({ type: 'T', value: normal64(v) })),
  float32Arb.map((v): FieldValue => ({ type: 'f', value: v })),
  doubleArb.map((v): FieldValue => ({ type: 'd', value: v })),
  fc.record({ scale: fc.integer({ min: 0, max: 255 }), value: fc.integer({ min: 0, max: 4294967295 }) })
    .map((v): FieldValue => ({ type: 'D', scale: v.scale, value: v.value })),
  bytesArb.map((v): FieldValue => ({ type: 'S', value: v })),
  bytesArb.map((v): FieldValue => ({ type: 'x', value: v })),
  fc.constant<FieldValue>({ type: 'V' }),
);

const tree = fc.letrec<{ value: FieldValue; table: FieldTable }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    scalarValueArb,
    fc.array(tie('value'), { maxLength: 4 }).map((a): FieldValue => ({ type: 'A', value: a })),
    tie('table').map((t): FieldValue => ({ type: 'F', value: t })),
  ),
  table: fc.array(fc.record({ key: keyArb, value: tie('value') }), { maxLength: 5 }),
}));

/** Tables with any types, nesting, duplicate keys and unicode keys. */
export const fieldTableArb: fc.Arbitrary<FieldTable> = tree.table;
export const fieldValueArb: fc.Arbitrary<FieldValue> = tree.value;

function wireArb(type: string): fc.Arbitrary<unknown> {
  switch (type) {
    case 'octet': return fc.integer({ min: 0, max: 255 });
    case 'short': return fc.integer({ min: 0, max: 65535 });
    case 'long': return fc.integer({ min: 0, max: 4294967295 });
    case 'longlong': case 'timestamp': return fc.maxSafeNat();
    case 'bit': return fc.boolean();
    case 'shortstr': return shortstrArb;
    case 'longstr': return bytesArb;
    case 'table': return fieldTableArb;
    default: throw new Error(`unknown type ${type}`);
  }
}

export function reservedValue(type: string): unknown {
  switch (type) {
    case 'bit': return false;
    case 'shortstr': return '';
    case 'longstr': return Buffer.alloc(0);
    case 'table': return [];
    default: return 0;
  }
}

export const allMethods: { cls: SpecClass; m: SpecMethod }[] = spec.classes.flatMap((cls) => cls.methods.map((m) => ({ cls, m })));

/** An arbitrary decoded-method object for one spec method (reserved fields at their zero value). */
export function methodArb(cls: SpecClass, m: SpecMethod): fc.Arbitrary<Method> {
  const rec: Record<string, fc.Arbitrary<unknown>> = {};
  for (const f of m.fields) rec[fieldProp(f)] = f.reserved ? fc.constant(reservedValue(f.type)) : wireArb(f.type);
  return fc.record(rec).map((fields) => ({ kind: `${cls.name}.${m.name}`, classId: cls.id, methodId: m.id, ...fields }) as unknown as Method);
}

export const anyMethodArb: fc.Arbitrary<Method> = fc.oneof(...allMethods.map(({ cls, m }) => methodArb(cls, m)));

export const basicPropertiesArb: fc.Arbitrary<BasicProperties> = fc.record({
  contentType: shortstrArb,
  contentEncoding: shortstrArb,
  headers: fieldTableArb,
  deliveryMode: fc.integer({ min: 0, max: 255 }),
  priority: fc.integer({ min: 0, max: 255 }),
  correlationId: shortstrArb,
  replyTo: shortstrArb,
  expiration: shortstrArb,
  messageId: shortstrArb,
  timestamp: fc.maxSafeNat(),
  type: shortstrArb,
  userId: shortstrArb,
  appId: shortstrArb,
  clusterId: shortstrArb,
}, { requiredKeys: [] });

/** The decoder's form of properties: all 14 keys present, undefined when absent. */
export function fullProperties(p: BasicProperties): BasicProperties {
  return {
    contentType: p.contentType, contentEncoding: p.contentEncoding, headers: p.headers, deliveryMode: p.deliveryMode,
    priority: p.priority, correlationId: p.correlationId, replyTo: p.replyTo, expiration: p.expiration,
    messageId: p.messageId, timestamp: p.timestamp, type: p.type, userId: p.userId, appId: p.appId, clusterId: p.clusterId,
  };
}
