/**
 * A dynamic shovel's definition (runtime parameter component `shovel`, RabbitMQ's
 * rabbit_shovel_parameters for AMQP 0-9-1 at both ends): validation with RabbitMQ's texts, then
 * parsing into the settings the worker runs with.
 *
 * Validation, as rabbit_shovel_parameters:validate/5 and rabbit_parameter_validation:proplist:
 * first the source checks ('src-exchange' xor 'src-queue'; no-ack with a numerical delete-after),
 * then the destination check ('dest-exchange' and 'dest-queue' not both), then every known key in
 * RabbitMQ's order (mandatory keys missing: `Key "dest-uri" not found in NAME`; a wrong type:
 * `prefetch-count should be a number, actually was <<"x">>`), the results of that pass reversed and
 * led by `Unrecognised terms [...] in NAME` when keys are left over, as the Erlang fold leaves them.
 * All errors are reported, one a line. Values are printed as Erlang prints them (`<<"x">>`).
 *
 * Defaults (parse): ack-mode on-confirm, prefetch 1000 (`src-prefetch-count`, else the deprecated
 * `prefetch-count`), reconnect-delay 5 s (RabbitMQ 3.10's ?DEFAULT_RECONNECT_DELAY), delete-after
 * never (`src-delete-after`, else `delete-after`), forward/timestamp headers off
 * (`dest-add-forward-headers`/`add-forward-headers`, `dest-add-timestamp-header`/`add-timestamp-header`).
 * A URI may be a list: connections rotate through it.
 */
import { invalid } from '../broker/control-error.js';
import type { JsonValue } from '../broker/definitions-control.js';
import { parseAmqpUri } from './amqp-uri.js';

export type AckMode = 'on-confirm' | 'on-publish' | 'no-ack';
export type DeleteAfter = 'never' | 'queue-length' | number;

export interface ShovelConfig {
  readonly srcUris: readonly string[];
  /** Exactly one of srcQueue / srcExchange. */
  readonly srcQueue: string | undefined;
  readonly srcExchange: string | undefined;
  /** Routing key of the source binding ('' by default). */
  readonly srcExchangeKey: string;
  readonly srcQueueArgs: { readonly [k: string]: JsonValue };
  readonly destUris: readonly string[];
  readonly destQueue: string | undefined;
  readonly destExchange: string | undefined;
  /** undefined: the message's own routing key. */
  readonly destExchangeKey: string | undefined;
  readonly destQueueArgs: { readonly [k: string]: JsonValue };
  readonly ackMode: AckMode;
  readonly prefetchCount: number;
  /** Seconds; 0 = do not reconnect (the shovel terminates on its first failure). */
  readonly reconnectDelay: number;
  readonly deleteAfter: DeleteAfter;
  readonly addForwardHeaders: boolean;
  readonly addTimestampHeader: boolean;
  /** dest-publish-properties: basic properties set on every message (JSON names, e.g. delivery_mode). */
  readonly publishProperties: { readonly [k: string]: JsonValue };
}

type Validator = (key: string, v: JsonValue) => string | undefined;
type Obj = { readonly [k: string]: JsonValue };

/** An Erlang term as ~p prints what RabbitMQ decoded from JSON (strings are binaries). */
export function erlangValue(v: JsonValue): string {
  if (v === null) return 'null';
  if (typeof v === 'string') return `<<${JSON.stringify(v)}>>`;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (Array.isArray(v)) return `[${v.map(erlangValue).join(',')}]`;
  const o = v as Obj;
  return `#{${Object.keys(o).sort().map((k) => `${erlangValue(k)} => ${erlangValue(o[k]!)}`).join(',')}}`;
}

const binary: Validator = (k, v) => (typeof v === 'string' ? undefined : `${k} should be binary, actually was ${erlangValue(v)}`);
const number: Validator = (k, v) => (typeof v === 'number' ? undefined : `${k} should be a number, actually was ${erlangValue(v)}`);
const boolean: Validator = (k, v) => (typeof v === 'boolean' ? undefined : `${k} should be boolean, actually was ${erlangValue(v)}`);
const enumOf = (values: readonly string[]): Validator => (k, v) =>
  (typeof v === 'string' && values.includes(v) ? undefined
    : `${k} should be one of [${values.map((x) => `<<"${x}">>`).join(',')}], actually was ${erlangValue(v)}`);
const object: Validator = (k, v) =>
  (typeof v === 'object' && v !== null && !Array.isArray(v) ? undefined : `${k} should be a map, actually was ${erlangValue(v)}`);
const deleteAfter: Validator = (k, v) =>
  (v === 'never' || v === 'queue-length' || (typeof v === 'number' && Number.isInteger(v) && v >= 0) ? undefined
    : `${k} should be a number greater than or equal to 0, "never" or "queue-length", actually was ${erlangValue(v)}`);

/** amqp_uri:parse on one URI or each of a list (rabbit_shovel_parameters:validate_uri). */
const uri: Validator = (k, v) => {
  const one = (u: JsonValue): string | undefined => {
    if (typeof u !== 'string') return `${k} should be binary, actually was ${erlangValue(u)}`;
    try {
      const ep = parseAmqpUri(u);
      void ep;
      return undefined;
    } catch (e) {
      return `"${u}" not a valid URI: ${e instanceof Error ? e.message : String(e)}`;
    }
  };
  if (typeof v === 'string') return one(v);
  if (!Array.isArray(v)) return `${k} should be list, actually was ${erlangValue(v)}`;
  for (const u of v) {
    const e = one(u);
    if (e !== undefined) return e;
  }
  return undefined;
};

const protocol: Validator = (k, v) => {
  const e = enumOf(['amqp10', 'amqp091'])(k, v);
  if (e !== undefined) return e;
  return v === 'amqp10' ? `${k} amqp10 is not supported by Warren (AMQP 0-9-1 shovels only)` : undefined;
};

/** [key, validator, mandatory] in RabbitMQ's order (shovel, source, destination validations). */
const CONSTRAINTS: readonly (readonly [string, Validator, boolean])[] = [
  ['reconnect-delay', number, false],
  ['ack-mode', enumOf(['no-ack', 'on-publish', 'on-confirm']), false],
  ['src-protocol', protocol, false],
  ['dest-protocol', protocol, false],
  ['src-uri', uri, true],
  ['src-exchange', binary, false],
  ['src-exchange-key', binary, false],
  ['src-queue', binary, false],
  ['src-queue-args', object, false],
  ['prefetch-count', number, false],
  ['src-prefetch-count', number, false],
  ['delete-after', deleteAfter, false],
  ['src-delete-after', deleteAfter, false],
  ['dest-uri', uri, true],
  ['dest-exchange', binary, false],
  ['dest-exchange-key', binary, false],
  ['dest-queue', binary, false],
  ['dest-queue-args', object, false],
  ['add-forward-headers', boolean, false],
  ['add-timestamp-header', boolean, false],
  ['dest-add-forward-headers', boolean, false],
  ['dest-add-timestamp-header', boolean, false],
  ['publish-properties', object, false],
  ['dest-publish-properties', object, false],
];

/** Every reason the value is refused, in RabbitMQ's order; empty when it is valid. */
export function shovelErrors(name: string, value: JsonValue): string[] {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return [`shovel definition should be a map, actually was ${erlangValue(value)}`];
  }
  const def = value as Obj;
  const errors: string[] = [];
  const has = (k: string): boolean => def[k] !== undefined;
  if (!has('src-exchange') && !has('src-queue')) errors.push("Must specify 'src-exchange' or 'src-queue'");
  else if (has('src-exchange') && has('src-queue')) errors.push("Cannot specify 'src-exchange' and 'src-queue'");
  const da = def['src-delete-after'] ?? def['delete-after'];
  if (typeof da === 'number' && Number.isInteger(da) && def['ack-mode'] === 'no-ack') {
    errors.push("Cannot specify 'no-ack' and numerical 'delete-after'");
  }
  if (has('dest-exchange') && has('dest-queue')) errors.push("Cannot specify 'dest-exchange' and 'dest-queue'");
  const results: string[] = [];
  const left = new Set(Object.keys(def));
  for (const [key, check, mandatory] of CONSTRAINTS) {
    if (!left.has(key)) {
      if (mandatory) results.unshift(`Key "${key}" not found in ${name}`);
      continue;
    }
    left.delete(key);
    const e = check(key, def[key]!);
    if (e !== undefined) results.unshift(e);
  }
  if (left.size > 0) {
    const terms = [...left].sort().map((k) => `{${erlangValue(k)},${erlangValue(def[k]!)}}`);
    results.unshift(`Unrecognised terms [${terms.join(',')}] in ${name}`);
  }
  return [...errors, ...results];
}

/** ParameterComponent.validate: throws `invalid` with every reason, one a line. */
export function validateShovel(name: string, value: JsonValue): void {
  const errors = shovelErrors(name, value);
  if (errors.length > 0) throw invalid(errors.join('\n'));
}

const uris = (v: JsonValue | undefined): string[] => (typeof v === 'string' ? [v] : Array.isArray(v) ? v.filter((u): u is string => typeof u === 'string') : []);
const str = (v: JsonValue | undefined): string | undefined => (typeof v === 'string' ? v : undefined);
const obj = (v: JsonValue | undefined): Obj => (typeof v === 'object' && v !== null && !Array.isArray(v) ? v as Obj : {});
const bool = (v: JsonValue | undefined, fallback: boolean): boolean => (typeof v === 'boolean' ? v : fallback);

/** A validated value as the worker's settings (rabbit_shovel_parameters:parse). */
export function parseShovel(value: JsonValue): ShovelConfig {
  const d = obj(value);
  const num = (k: string): number | undefined => (typeof d[k] === 'number' ? d[k] as number : undefined);
  const da = d['src-delete-after'] ?? d['delete-after'];
  return {
    srcUris: uris(d['src-uri']),
    srcQueue: str(d['src-queue']),
    srcExchange: str(d['src-exchange']),
    srcExchangeKey: str(d['src-exchange-key']) ?? '',
    srcQueueArgs: obj(d['src-queue-args']),
    destUris: uris(d['dest-uri']),
    destQueue: str(d['dest-queue']),
    destExchange: str(d['dest-exchange']),
    destExchangeKey: str(d['dest-exchange-key']),
    destQueueArgs: obj(d['dest-queue-args']),
    ackMode: (str(d['ack-mode']) ?? 'on-confirm') as AckMode,
    prefetchCount: num('src-prefetch-count') ?? num('prefetch-count') ?? 1000,
    reconnectDelay: num('reconnect-delay') ?? 5,
    deleteAfter: da === 'queue-length' ? 'queue-length' : typeof da === 'number' ? da : 'never',
    addForwardHeaders: bool(d['dest-add-forward-headers'], bool(d['add-forward-headers'], false)),
    addTimestampHeader: bool(d['dest-add-timestamp-header'], bool(d['add-timestamp-header'], false)),
    publishProperties: obj(d['dest-publish-properties'] ?? d['publish-properties']),
  };
}
