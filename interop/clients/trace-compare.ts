/**
 * Pure helpers that turn client output into comparable observations: the golden scenario trace, the
 * per-client decoding quirks of the cross-language message (what a stock client is known to turn a
 * field-table value into, independent of the broker) and the allowlist of known Warren/RabbitMQ
 * differences. Invariant: every allowlisted difference names the README section that documents it.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Json, JsonObject } from './client-registry.js';

const here = dirname(fileURLToPath(import.meta.url));

/** Deterministic JSON: object keys sorted, so deep-equal is string-equal. */
export function canonical(v: Json): string {
  if (v === null || typeof v !== 'object') return JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  return `{${Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${canonical(v[k] ?? null)}`).join(',')}}`;
}

/** The golden trace (observed on RabbitMQ 3.10 by every client), step name -> observation. */
export function goldenTrace(): Map<string, JsonObject> {
  const raw = JSON.parse(readFileSync(join(here, 'expected-trace.json'), 'utf8')) as JsonObject[];
  return new Map(raw.map((o) => [String(o['step']), withoutStep(o)]));
}

export function withoutStep(o: JsonObject): JsonObject {
  const { step: _step, ...rest } = o;
  return rest;
}

/** A client's scenario output as step -> observation (the final "done" line dropped). */
export function traceByStep(lines: readonly JsonObject[]): Map<string, JsonObject> {
  const out = new Map<string, JsonObject>();
  for (const l of lines) {
    const s = l['step'];
    if (typeof s === 'string' && s !== 'done') out.set(s, withoutStep(l));
  }
  return out;
}

/**
 * The wire type each publisher gives each top-level canonical header (what its encoder picks for the
 * value; nested table/array members are small positive ints and strings, which every client decodes).
 */
export const WIRE_TYPES: Readonly<Record<string, Readonly<Record<string, string>>>> = {
  pika: { int: 'I', neg: 'I', big: 'l', dec: 'D' },
  kombu: { int: 'I', neg: 'I', big: 'l', double: 'd', dec: 'D' },
  go: { int: 'I', neg: 'I', big: 'l', double: 'd', float: 'f', i8: 'b', i16: 's', dec: 'D' },
  bunny: { int: 'l', neg: 'l', big: 'l', double: 'd' },
  java: { int: 'I', neg: 'I', big: 'l', double: 'd', float: 'f', i8: 'b', i16: 's', dec: 'D' },
  'rabbitmq-c': { int: 'I', neg: 'I', big: 'l', double: 'd', float: 'f', i8: 'b', i16: 's', dec: 'D' },
  amqplib: { int: 'b', neg: 'b', big: 'l', double: 'd', float: 'f', i8: 'b', i16: 's', dec: 'D' },
  cloudamqp: { int: 'I', neg: 'I', big: 'l', bigint: 'l', float: 'f' },
};

/**
 * A stock client's own decoding of a field value, the same whatever the broker (each one observed on
 * RabbitMQ 3.10 and traced to the client's decoder). Applied to the publisher's "sent" headers to
 * predict what that consumer prints; README lists them under "Client decoding quirks".
 */
export interface DecodingQuirk {
  readonly consumer: string;
  /** wire type the quirk concerns; '*' for a quirk on a header key */
  readonly wireType: string;
  readonly key?: string;
  readonly why: string;
  apply(value: Json): Json;
}

const unsigned = (bits: number) => (v: Json): Json => (typeof v === 'number' && v < 0 ? 2 ** bits + v : v);

/** A float32 written big-endian and read back little-endian (amq-protocol unpacks 'f' in host order). */
function byteSwappedFloat(v: Json): Json {
  if (typeof v !== 'number') return v;
  const b = Buffer.alloc(4);
  b.writeFloatBE(v);
  return b.readFloatLE();
}

export const DECODING_QUIRKS: readonly DecodingQuirk[] = [
  { consumer: 'pika', wireType: 'd', why: "pika 1.2 decodes 'd' through long(): the fraction is lost", apply: (v) => (typeof v === 'number' ? Math.trunc(v) : v) },
  { consumer: 'pika', wireType: 'f', why: "pika 1.2 decodes 'f' through long(): the fraction is lost", apply: (v) => (typeof v === 'number' ? Math.trunc(v) : v) },
  { consumer: 'pika', wireType: 'b', why: "pika 1.2 decodes 'b' (signed 8-bit) as unsigned", apply: unsigned(8) },
  { consumer: 'pika', wireType: 'l', why: "pika 1.2 decodes 'l' (signed 64-bit) as unsigned", apply: unsigned(64) },
  { consumer: 'kombu', wireType: 'b', why: "py-amqp 5.1 decodes 'b' (signed 8-bit) as unsigned", apply: unsigned(8) },
  { consumer: 'kombu', wireType: 'l', why: "py-amqp 5.1 decodes 'l' (signed 64-bit) as unsigned", apply: unsigned(64) },
  { consumer: 'bunny', wireType: 'b', why: "amq-protocol 2.3 decodes 'b' (signed 8-bit) as unsigned", apply: unsigned(8) },
  { consumer: 'bunny', wireType: 'I', why: "amq-protocol 2.3 decodes 'I' (signed 32-bit) as unsigned", apply: unsigned(32) },
  { consumer: 'bunny', wireType: 'f', why: "amq-protocol 2.3 decodes 'f' in host (little-endian) byte order", apply: byteSwappedFloat },
  {
    consumer: 'bunny', wireType: '*', key: 'array', why: 'amq-protocol 2.3 stops decoding a field array 4 bytes early: a short last element is lost',
    apply: (v) => (Array.isArray(v) && typeof v[v.length - 1] === 'boolean' ? v.slice(0, -1) : v),
  },
  {
    consumer: 'cloudamqp', wireType: 'D', why: "@cloudamqp/amqp-client decodes 'D' (decimal) into a JS number",
    apply: (v) => (v !== null && typeof v === 'object' && !Array.isArray(v) && typeof v['$dec'] === 'string' ? Number(v['$dec']) : v),
  },
];

/**
 * Wire types a stock client cannot decode at all: its receipt of a message carrying one is an error.
 * py-amqp (kombu) reads 's' as a short string, the pre-errata 0-9-1 meaning, where RabbitMQ and the
 * other clients use it for a signed 16-bit integer.
 */
export const UNDECODABLE: Readonly<Record<string, readonly string[]>> = { kombu: ['s'] };

/** What `consumer` should print for a message `publisher` sent (its "sent" JSON). */
export function expectedReceipt(sent: JsonObject, publisher: string, consumer: string): JsonObject {
  const bad = UNDECODABLE[consumer] ?? [];
  if (Object.values(WIRE_TYPES[publisher] ?? {}).some((t) => bad.includes(t))) return { error: 'undecodable' };
  const headers = sent['headers'];
  if (headers === null || typeof headers !== 'object' || Array.isArray(headers)) return sent;
  const types = WIRE_TYPES[publisher] ?? {};
  const h: JsonObject = {};
  for (const [k, v] of Object.entries(headers)) {
    const t = types[k];
    h[k] = DECODING_QUIRKS
      .filter((q) => q.consumer === consumer && (q.wireType === t || (q.wireType === '*' && q.key === k)))
      .reduce((acc, q) => q.apply(acc), v);
  }
  return { ...sent, headers: h };
}

/**
 * Known differences between what clients observe on Warren and on RabbitMQ. A differing step/pair is a
 * test failure unless it is listed here, and every entry points at README's known-differences section.
 */
export interface KnownDifference {
  /** client name, or '*' for all */
  readonly client: string;
  /** scenario step, or 'exchange' for the cross-language message exchange */
  readonly step: string;
  readonly readme: string;
  readonly why: string;
}

export const KNOWN_DIFFERENCES: readonly KnownDifference[] = [];

export function isKnownDifference(client: string, step: string): KnownDifference | undefined {
  return KNOWN_DIFFERENCES.find((d) => (d.client === '*' || d.client === client) && d.step === step);
}
