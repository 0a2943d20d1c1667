/**
 * Validation and parsing of queue.declare x-arguments, with RabbitMQ's rules and error texts
 * (rabbit_amqqueue:declare_args). Unknown arguments are accepted and ignored, as RabbitMQ does.
 * Invariant: a Queue is only created from arguments that passed `parseQueueArguments`.
 */
import { AmqpError } from '../core/amqp-error.js';
import { fieldIsInteger, fieldNumber, tableGet, type FieldTable, type FieldValue } from '../core/field-value.js';
import { ReplyCode } from '../core/reply-code.js';

export type Overflow = 'drop-head' | 'reject-publish' | 'reject-publish-dlx';
export type QueueType = 'classic' | 'quorum' | 'stream';

export interface QueueArguments {
  messageTtl: number | undefined;
  expires: number | undefined;
  maxLength: number | undefined;
  maxLengthBytes: number | undefined;
  overflow: Overflow;
  /** Whether x-overflow was given (an argument wins over a policy). */
  overflowDeclared: boolean;
  deadLetterExchange: string | undefined;
  deadLetterRoutingKey: string | undefined;
  maxPriority: number | undefined;
  singleActiveConsumer: boolean;
  queueType: QueueType;
  deliveryLimit: number | undefined;
  /**
   * Warren extension (delayed retries, README "Half messages and retries"): a message rejected or
   * nacked without requeue comes back after these delays (ms), one per retry, the last repeated.
   */
  retryDelays: readonly number[] | undefined;
  /** Retries before the message is dead-lettered (default: the number of delays). */
  retryLimit: number | undefined;
}

/** The largest single retry delay (ms): the same cap as a TTL. */
export const MAX_RETRY_DELAY = 315_360_000_000;

/**
 * The largest x-message-ttl, x-expires and per-message expiration RabbitMQ accepts (ms, 10 years:
 * rabbit_misc:check_expiry; RabbitMQ 3.10 answers 315360000001 with {value_too_large,...}). Larger
 * than a Node timer can hold: every timer that waits for one is a LongTimer.
 */
export const MAX_EXPIRY = 315_360_000_000;

const TYPE_NAMES: Record<FieldValue['type'], string> = {
  t: 'bool', b: 'byte', B: 'unsignedbyte', s: 'short', u: 'unsignedshort', I: 'signedint', i: 'unsignedint',
  l: 'long', f: 'float', d: 'double', D: 'decimal', S: 'longstr', x: 'binary', A: 'array', T: 'timestamp',
  F: 'table', V: 'void',
};

export function fieldTypeName(v: FieldValue): string {
  return TYPE_NAMES[v.type];
}

export function parseQueueArguments(args: FieldTable, queue: string, vhost: string): QueueArguments {
  const where = `for queue '${queue}' in vhost '${vhost}'`;
  const invalid = (key: string, why: string): never => {
    throw new AmqpError(ReplyCode.PRECONDITION_FAILED, `invalid arg '${key}' ${where}: ${why}`);
  };
  const int = (key: string, rule: 'non-negative' | 'positive', max = Infinity): number | undefined => {
    const v = tableGet(args, key);
    if (v === undefined) return undefined;
    if (!fieldIsInteger(v)) return invalid(key, `"expected integer, got ${fieldTypeName(v)}"`);
    const n = fieldNumber(v)!;
    // The exact wire value in texts (a 64-bit bigint may not survive the conversion to a number).
    const exact = String((v as { value: number | bigint }).value);
    if (rule === 'positive' && n === 0) return invalid(key, `{value_zero,0}`);
    if (n < 0) return invalid(key, `{value_negative,${exact}}`);
    if (n > max) return invalid(key, `{value_too_large,${exact}}`);
    return n;
  };
  const str = (key: string): string | undefined => {
    const v = tableGet(args, key);
    if (v === undefined) return undefined;
    if (v.type !== 'S') {
      throw new AmqpError(ReplyCode.PRECONDITION_FAILED,
        `invalid type '${fieldTypeName(v)}' for arg '${key}' in queue '${queue}' in vhost '${vhost}'`);
    }
    return v.value.toString('utf8');
  };

  const maxPriority = int('x-max-priority', 'non-negative');
  if (maxPriority !== undefined && maxPriority > 255) invalid('x-max-priority', `{max_value_exceeded,${maxPriority}}`);
  const overflowValue = tableGet(args, 'x-overflow');
  if (overflowValue !== undefined && overflowValue.type !== 'S') invalid('x-overflow', `{unacceptable_type,${fieldTypeName(overflowValue)}}`);
  const overflowRaw = str('x-overflow');
  if (overflowRaw !== undefined && overflowRaw !== 'drop-head' && overflowRaw !== 'reject-publish' && overflowRaw !== 'reject-publish-dlx') {
    invalid('x-overflow', 'invalid_overflow');
  }
  const typeRaw = str('x-queue-type');
  if (typeRaw !== undefined && typeRaw !== 'classic' && typeRaw !== 'quorum' && typeRaw !== 'stream') {
    invalid('x-queue-type', `"unsupported queue type '${typeRaw}'"`);
  }
  const sac = tableGet(args, 'x-single-active-consumer');
  if (sac !== undefined && sac.type !== 't') invalid('x-single-active-consumer', `{unacceptable_type,${fieldTypeName(sac)}}`);
  const mode = str('x-queue-mode');
  if (mode !== undefined && mode !== 'default' && mode !== 'lazy') invalid('x-queue-mode', `"unsupported queue mode '${mode}'"`);

  if (tableGet(args, 'x-dead-letter-routing-key') !== undefined && tableGet(args, 'x-dead-letter-exchange') === undefined) {
    str('x-dead-letter-routing-key');
    invalid('x-dead-letter-routing-key', 'routing_key_but_no_dlx_defined');
  }
  // Arguments RabbitMQ knows but the chosen queue type does not support (rabbit_queue_type).
  const type = typeRaw ?? 'classic';
  // Streams check theirs after every value check (stream-arguments.ts), as RabbitMQ orders them.
  const unsupported = type === 'classic' ? CLASSIC_UNSUPPORTED : type === 'quorum' ? QUORUM_UNSUPPORTED : [];
  for (const key of unsupported) {
    if (tableGet(args, key) !== undefined) {
      throw new AmqpError(ReplyCode.PRECONDITION_FAILED,
        `invalid arg '${key}' for queue '${queue}' in vhost '${vhost}' of queue type rabbit_${type}_queue`);
    }
  }

  return {
    messageTtl: int('x-message-ttl', 'non-negative', MAX_EXPIRY),
    expires: int('x-expires', 'positive', MAX_EXPIRY),
    maxLength: int('x-max-length', 'non-negative'),
    maxLengthBytes: int('x-max-length-bytes', 'non-negative'),
    overflow: (overflowRaw as Overflow | undefined) ?? 'drop-head',
    overflowDeclared: overflowRaw !== undefined,
    deadLetterExchange: str('x-dead-letter-exchange'),
    deadLetterRoutingKey: str('x-dead-letter-routing-key'),
    maxPriority,
    singleActiveConsumer: sac !== undefined && sac.type === 't' && sac.value,
    queueType: (typeRaw as QueueType | undefined) ?? 'classic',
    deliveryLimit: int('x-delivery-limit', 'non-negative'),
    retryDelays: retryDelaysArgument(tableGet(args, 'x-retry-delays'), (why) => invalid('x-retry-delays', why)),
    retryLimit: int('x-retry-limit', 'non-negative'),
  };
}

/**
 * x-retry-delays: a non-empty array of non-negative integers (ms), each at most MAX_RETRY_DELAY.
 * (A policy's retry-delays is the same list in JSON: see retryDelaysValue.)
 */
function retryDelaysArgument(v: FieldValue | undefined, invalid: (why: string) => never): number[] | undefined {
  if (v === undefined) return undefined;
  if (v.type !== 'A') return invalid(`{unacceptable_type,${fieldTypeName(v)}}`);
  const out: number[] = [];
  for (const e of v.value) {
    if (!fieldIsInteger(e)) return invalid(`"expected a list of integers, got ${fieldTypeName(e)}"`);
    const n = fieldNumber(e)!;
    if (n < 0 || n > MAX_RETRY_DELAY) return invalid(`{value_out_of_range,${n}}`);
    out.push(n);
  }
  if (out.length === 0) return invalid('empty_list');
  return out;
}

/** A policy's retry-delays (JSON): the list, or undefined when it is not a valid one. */
export function retryDelaysValue(v: unknown): number[] | undefined {
  if (!Array.isArray(v) || v.length === 0) return undefined;
  for (const n of v) if (typeof n !== 'number' || !Number.isInteger(n) || n < 0 || n > MAX_RETRY_DELAY) return undefined;
  return v as number[];
}

const CLASSIC_UNSUPPORTED = ['x-delivery-limit', 'x-quorum-initial-group-size', 'x-max-age', 'x-stream-max-segment-size-bytes'];
const QUORUM_UNSUPPORTED = ['x-max-priority', 'x-queue-mode', 'x-queue-master-locator', 'x-max-age', 'x-stream-max-segment-size-bytes'];
