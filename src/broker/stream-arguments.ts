/**
 * Stream queues' declare, policy and consume rules over AMQP 0-9-1, with RabbitMQ's checks, order
 * and texts (rabbit_stream_queue, rabbit_amqqueue:check_max_age, rabbit_queue_type_util), verified
 * against RabbitMQ 3.10 where it has them and taken from 3.13 for filtering. Pure functions: the
 * vhost and the channel call them; nothing here touches a queue or a socket.
 *
 * Declare (x-queue-type=stream), in RabbitMQ's order:
 *   1. a server-named queue ('') is refused: "Cannot declare a server-named queue for type rabbit_stream_queue"
 *   2. argument types and values (x-max-age units Y M D h m s, x-max-length-bytes and
 *      x-stream-max-segment-size-bytes non-negative integers, ...)
 *   3. arguments that do not apply to streams: "invalid arg 'x-max-length' for queue 'q' in vhost '/'
 *      of queue type rabbit_stream_queue"
 *   4. durable and neither exclusive nor auto-delete: "invalid property 'auto-delete'|'exclusive-owner'|'non-durable' ..."
 *   5. x-stream-max-segment-size-bytes <= 3,000,000,000 and 16 <= x-stream-filter-size-bytes <= 255
 * Consume: unsupported consumer arguments, then x-stream-offset, then prefetch (406), no-ack (540),
 * global QoS (540). basic.get, queue.purge, basic.nack/reject: 540 NOT_IMPLEMENTED (connection).
 *
 * Where RabbitMQ crashes the connection with 541 INTERNAL_ERROR on bad input (x-max-age "h" or "",
 * x-stream-offset "foo", true or 2.5, recover on a stream channel), Warren answers 406 with the text
 * RabbitMQ uses for the same class of error instead (README: differences).
 */
import { AmqpError } from '../core/amqp-error.js';
import { fieldIsInteger, fieldNumber, tableGet, type FieldTable, type FieldValue } from '../core/field-value.js';
import { ReplyCode } from '../core/reply-code.js';
import { fieldTypeName } from './queue-arguments.js';

/** rabbit_stream_queue: ?MAX_STREAM_MAX_SEGMENT_SIZE. */
export const MAX_STREAM_SEGMENT_SIZE = 3_000_000_000;
/** RabbitMQ's default segment size (osiris), used when neither argument nor policy sets one. */
export const DEFAULT_STREAM_SEGMENT_SIZE = 500_000_000;

/** Arguments RabbitMQ knows (declare_args) that stream queues refuse (not in their queue_arguments). */
export const STREAM_UNSUPPORTED_ARGS = [
  'x-expires', 'x-message-ttl', 'x-dead-letter-exchange', 'x-dead-letter-routing-key', 'x-max-length',
  'x-max-in-memory-length', 'x-max-in-memory-bytes', 'x-max-priority', 'x-overflow', 'x-queue-mode',
  'x-single-active-consumer', 'x-quorum-initial-group-size', 'x-delivery-limit', 'x-queue-master-locator',
];
/** Arguments whose value must match on redeclare (with x-queue-type and x-max-length-bytes). */
export const STREAM_EQUIVALENCE_ARGS = [
  'x-max-age', 'x-stream-max-segment-size-bytes', 'x-initial-cluster-size', 'x-queue-leader-locator', 'x-stream-filter-size-bytes',
];
/** Consumer arguments RabbitMQ knows that stream queues refuse. */
const STREAM_UNSUPPORTED_CONSUMER_ARGS = ['x-priority', 'x-cancel-on-ha-failover'];

const UNIT_MS: Record<string, number> = { Y: 365 * 86_400_000, M: 30 * 86_400_000, D: 86_400_000, h: 3_600_000, m: 60_000, s: 1000 };

/**
 * rabbit_amqqueue:check_max_age: digits then one unit of Y M D h m s, value > 0 ("7D", "12h",
 * "30m", "10s"; "1.5h", "10 s", "0s", "10x" are invalid). Returns milliseconds or undefined.
 */
export function parseDuration(text: string): number | undefined {
  const m = /^([0-9]+)(Y|M|D|h|m|s)$/.exec(text);
  if (m === null) return undefined;
  const n = Number(m[1]);
  if (!(n > 0) || !Number.isSafeInteger(n * UNIT_MS[m[2]!]!)) return undefined;
  return n * UNIT_MS[m[2]!]!;
}

/** Erlang-style rendering of a field value as RabbitMQ prints it in ~p texts ({longstr,<<"3">>}). */
export function erlangTerm(v: FieldValue): string {
  switch (v.type) {
    case 'S': {
      const b = v.value;
      const printable = b.every((c) => c >= 0x20 && c < 0x7f && c !== 0x22 && c !== 0x5c);
      return `{longstr,<<${printable ? `"${b.toString('latin1')}"` : [...b].join(',')}>>}`;
    }
    case 't': return `{bool,${String(v.value)}}`;
    case 'd': return `{double,${String(v.value)}}`;
    case 'f': return `{float,${String(v.value)}}`;
    case 'V': return '{void,undefined}';
    case 'T': return `{timestamp,${String(v.value)}}`;
    case 'F': return '{table,[...]}';
    case 'A': return '{array,[...]}';
    default: return `{${v.type},${String((v as { value: unknown }).value)}}`;
  }
}

function rs(queue: string, vhost: string): string {
  return `queue '${queue}' in vhost '${vhost}'`;
}

export interface StreamArguments {
  maxLengthBytes: number | undefined;
  /** x-max-age as declared ("7D") and in ms. */
  maxAge: string | undefined;
  maxAgeMs: number | undefined;
  maxSegmentSizeBytes: number | undefined;
  filterSizeBytes: number | undefined;
}

export interface StreamDeclare {
  name: string;
  durable: boolean;
  exclusive: boolean;
  autoDelete: boolean;
  args: FieldTable;
}

/** The server-named check, which RabbitMQ makes before any argument check. */
export function checkStreamName(name: string): void {
  if (name === '') {
    throw new AmqpError(ReplyCode.PRECONDITION_FAILED, 'Cannot declare a server-named queue for type rabbit_stream_queue');
  }
}

/**
 * Check a stream declare (after checkStreamName and the generic argument checks of
 * queue-arguments.ts) and return its settings. Throws RabbitMQ's 406s.
 */
export function parseStreamArguments(d: StreamDeclare, vhost: string): StreamArguments {
  const { args, name } = d;
  const invalid = (key: string, why: string): never => {
    throw new AmqpError(ReplyCode.PRECONDITION_FAILED, `invalid arg '${key}' for ${rs(name, vhost)}: ${why}`);
  };
  const nonNegative = (key: string): number | undefined => {
    const v = tableGet(args, key);
    if (v === undefined) return undefined;
    if (!fieldIsInteger(v)) return invalid(key, `"expected integer, got ${fieldTypeName(v)}"`);
    const n = fieldNumber(v)!;
    if (n < 0) return invalid(key, `{value_negative,${String((v as { value: number | bigint }).value)}}`);
    return n;
  };
  // 2. values (rabbit_amqqueue:declare_args)
  const maxLengthBytes = nonNegative('x-max-length-bytes');
  let maxAge: string | undefined;
  let maxAgeMs: number | undefined;
  const age = tableGet(args, 'x-max-age');
  if (age !== undefined) {
    if (age.type !== 'S') invalid('x-max-age', `{unacceptable_type,${fieldTypeName(age)}}`);
    maxAge = (age as { value: Buffer }).value.toString('utf8');
    maxAgeMs = parseDuration(maxAge);
    if (maxAgeMs === undefined) invalid('x-max-age', 'invalid_max_age');
  }
  const maxSegmentSizeBytes = nonNegative('x-stream-max-segment-size-bytes');
  const cluster = tableGet(args, 'x-initial-cluster-size');
  if (cluster !== undefined) {
    const n = nonNegative('x-initial-cluster-size');
    if (n === 0) invalid('x-initial-cluster-size', '{value_zero,0}');
  }
  const locator = tableGet(args, 'x-queue-leader-locator');
  if (locator !== undefined) {
    if (locator.type !== 'S') invalid('x-queue-leader-locator', `{unacceptable_type,${fieldTypeName(locator)}}`);
    const l = (locator as { value: Buffer }).value.toString('utf8');
    if (l !== 'client-local' && l !== 'random' && l !== 'least-leaders' && l !== 'balanced') invalid('x-queue-leader-locator', 'invalid_queue_locator_arg');
  }
  // 3. arguments of other queue types
  for (const key of STREAM_UNSUPPORTED_ARGS) {
    if (tableGet(args, key) !== undefined) {
      throw new AmqpError(ReplyCode.PRECONDITION_FAILED, `invalid arg '${key}' for ${rs(name, vhost)} of queue type rabbit_stream_queue`);
    }
  }
  // 4. properties (rabbit_queue_type_util:check_auto_delete, check_exclusive, check_non_durable)
  const bad = d.autoDelete ? 'auto-delete' : d.exclusive ? 'exclusive-owner' : !d.durable ? 'non-durable' : undefined;
  if (bad !== undefined) {
    throw new AmqpError(ReplyCode.PRECONDITION_FAILED, `invalid property '${bad}' for ${rs(name, vhost)}`);
  }
  // 5. stream limits (rabbit_stream_queue:check_max_segment_size_bytes, check_filter_size)
  if (maxSegmentSizeBytes !== undefined && maxSegmentSizeBytes > MAX_STREAM_SEGMENT_SIZE) {
    throw new AmqpError(ReplyCode.PRECONDITION_FAILED, 'Exceeded max value for x-stream-max-segment-size-bytes');
  }
  let filterSizeBytes: number | undefined;
  const fs = tableGet(args, 'x-stream-filter-size-bytes');
  if (fs !== undefined) {
    const n = fieldIsInteger(fs) ? fieldNumber(fs)! : NaN;
    if (!(n >= 16 && n <= 255)) throw new AmqpError(ReplyCode.PRECONDITION_FAILED, 'Invalid value for  x-stream-filter-size-bytes');
    filterSizeBytes = n;
  }
  return { maxLengthBytes, maxAge, maxAgeMs, maxSegmentSizeBytes, filterSizeBytes };
}

/** Settings in effect: for streams RabbitMQ lets the policy win over the argument (policy_precedence). */
export interface StreamSettingsInEffect {
  maxBytes: number | undefined;
  maxAgeMs: number | undefined;
  maxSegmentBytes: number;
  filterBytes: number | undefined;
}

export type PolicyDefinition = Readonly<Record<string, unknown>>;

/** Apply a policy's max-age, max-length-bytes, stream-max-segment-size-bytes (and stream-filter-size-bytes). */
export function streamSettings(a: StreamArguments, policy: PolicyDefinition | undefined): StreamSettingsInEffect {
  const num = (key: string): number | undefined => {
    const v = policy?.[key];
    return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 ? v : undefined;
  };
  const ageText = policy?.['max-age'];
  const policyAge = typeof ageText === 'string' ? parseDuration(ageText) : undefined;
  const filter = num('stream-filter-size-bytes');
  return {
    maxBytes: num('max-length-bytes') ?? a.maxLengthBytes,
    maxAgeMs: policyAge ?? a.maxAgeMs,
    maxSegmentBytes: Math.min(num('stream-max-segment-size-bytes') ?? a.maxSegmentSizeBytes ?? DEFAULT_STREAM_SEGMENT_SIZE, MAX_STREAM_SEGMENT_SIZE),
    filterBytes: filter !== undefined && filter >= 16 && filter <= 255 ? filter : a.filterSizeBytes,
  };
}

// ------------------------------------------------------------------------------------------------
// Consume

/** Where a consumer starts. `tracked` (Warren): resume after the offset stored for its name. */
export type StreamOffsetSpec =
  | { kind: 'first' }
  | { kind: 'last' }
  | { kind: 'next' }
  | { kind: 'offset'; offset: number }
  /** Warren: x-stream-offset < 0 means "the last -n messages". */
  | { kind: 'tail'; count: number }
  | { kind: 'timestamp'; ms: number };

export interface StreamConsumerArguments {
  offset: StreamOffsetSpec;
  /** x-stream-filter values (undefined: no filtering). */
  filter: string[] | undefined;
  matchUnfiltered: boolean;
  /** Warren (as LavinMQ): store this consumer's offset server-side under its consumer tag. */
  trackOffsets: boolean;
}

/**
 * x-stream-offset as rabbit_stream_queue:parse_offset_arg reads it: "first" | "last" | "next",
 * an integer offset, an AMQP timestamp (seconds) or an interval string ("1h": now minus it).
 * Returns undefined when invalid.
 */
export function parseStreamOffset(v: FieldValue | undefined, nowMs: number): StreamOffsetSpec | undefined {
  if (v === undefined) return { kind: 'next' };
  if (v.type === 'S') {
    const s = v.value.toString('utf8');
    if (s === 'first' || s === 'last' || s === 'next') return { kind: s };
    const ms = parseDuration(s);
    return ms === undefined ? undefined : { kind: 'timestamp', ms: nowMs - ms };
  }
  if (v.type === 'T') return { kind: 'timestamp', ms: Number(v.value) * 1000 };
  if (v.type === 'V') return { kind: 'first' }; // LavinMQ: null = from the start, tracked
  if (fieldIsInteger(v)) {
    const n = fieldNumber(v)!;
    return n < 0 ? { kind: 'tail', count: -n } : { kind: 'offset', offset: n };
  }
  return undefined;
}

/** Consumer arguments of a stream consumer, checked in RabbitMQ's order (before the QoS checks). */
export function parseStreamConsumerArguments(args: FieldTable, queue: string, vhost: string, nowMs: number): StreamConsumerArguments {
  for (const key of STREAM_UNSUPPORTED_CONSUMER_ARGS) {
    if (tableGet(args, key) !== undefined) {
      throw new AmqpError(ReplyCode.PRECONDITION_FAILED, `invalid arg '${key}' for ${rs(queue, vhost)} of queue type rabbit_stream_queue`);
    }
  }
  const raw = tableGet(args, 'x-stream-offset');
  const offset = parseStreamOffset(raw, nowMs);
  if (offset === undefined) {
    throw new AmqpError(ReplyCode.PRECONDITION_FAILED,
      `invalid arg 'x-stream-offset' for ${rs(queue, vhost)}: {invalid_stream_offset_arg,${erlangTerm(raw!)}}`);
  }
  // rabbit_stream_queue:filter_spec: a string or an array of strings (other elements ignored)
  let filter: string[] | undefined;
  const f = tableGet(args, 'x-stream-filter');
  if (f !== undefined && f.type === 'S') filter = [f.value.toString('utf8')];
  else if (f !== undefined && f.type === 'A') {
    filter = [];
    for (const e of f.value) if (e.type === 'S') filter.push(e.value.toString('utf8'));
  }
  const mu = tableGet(args, 'x-stream-match-unfiltered');
  const tracking = tableGet(args, 'x-stream-automatic-offset-tracking');
  return {
    offset,
    filter,
    matchUnfiltered: filter !== undefined && mu !== undefined && mu.type === 't' && mu.value,
    trackOffsets: (tracking !== undefined && tracking.type === 't' && tracking.value) || raw?.type === 'V',
  };
}

/** RabbitMQ's refusals of a stream consume, in order: prefetch not set, no-ack, global QoS. */
export function checkStreamConsume(queue: string, vhost: string, noAck: boolean, prefetch: number, globalPrefetch: number): void {
  if (prefetch === 0) {
    // RabbitMQ 3.10's text, quotes included ("for '~s'" around rabbit_misc:rs/1).
    throw new AmqpError(ReplyCode.PRECONDITION_FAILED, `consumer prefetch count is not set for '${rs(queue, vhost)}'`);
  }
  if (noAck) throw streamNotImplemented(`automatic acknowledgement not supported by stream queues ${rs(queue, vhost)}`);
  if (globalPrefetch > 0) throw streamNotImplemented(`${rs(queue, vhost)} does not support global qos`);
}

function streamNotImplemented(text: string): AmqpError {
  return new AmqpError(ReplyCode.NOT_IMPLEMENTED, text);
}

/** basic.get on a stream (540, closes the connection as in RabbitMQ). */
export function streamGetRefused(queue: string, vhost: string): AmqpError {
  return streamNotImplemented(`basic.get not supported by stream queues ${rs(queue, vhost)}`);
}

/** queue.purge on a stream. */
export function streamPurgeRefused(queue: string, vhost: string): AmqpError {
  return streamNotImplemented(`queue.purge not supported by stream queues ${rs(queue, vhost)}`);
}

/** basic.nack / basic.reject of a stream delivery. */
export function streamRejectRefused(queue: string, vhost: string): AmqpError {
  return streamNotImplemented(`basic.nack and basic.reject not supported by stream queues ${rs(queue, vhost)}`);
}
