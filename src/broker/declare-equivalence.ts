/**
 * What a redeclare must match and what a declare may name, as RabbitMQ checks them: the
 * equivalence of an existing exchange's or queue's fields and arguments
 * (rabbit_misc:assert_field_equivalence / assert_args_equivalence, with their 406 texts), arguments
 * that name an exchange (rabbit_misc:r_arg), the reserved 'amq.' prefix and server-generated queue
 * names. Pure functions: they throw AmqpErrors and change nothing.
 */
import { randomBytes } from 'node:crypto';
import { AmqpError } from '../core/amqp-error.js';
import { fieldEquals, tableGet, type FieldTable, type FieldValue } from '../core/field-value.js';
import { ReplyCode } from '../core/reply-code.js';
import { fieldTypeName } from './queue-arguments.js';
import { STREAM_EQUIVALENCE_ARGS } from './stream-arguments.js';

/** Queue arguments whose values must match on redeclare (rabbit_amqqueue's equivalence list). */
export const QUEUE_EQUIVALENCE_ARGS = [
  'x-expires', 'x-message-ttl', 'x-dead-letter-exchange', 'x-dead-letter-routing-key', 'x-max-length',
  'x-max-length-bytes', 'x-max-in-memory-length', 'x-max-in-memory-bytes', 'x-max-priority', 'x-overflow',
  'x-queue-mode', 'x-single-active-consumer', 'x-queue-type', 'x-queue-master-locator', 'x-delivery-limit',
  'x-retry-delays', 'x-retry-limit',
  ...STREAM_EQUIVALENCE_ARGS,
];

/** rabbit_misc:assert_field_equivalence: 406 naming the field, what was received and what is. */
export function assertField(vhost: string, current: string | boolean, received: string | boolean, field: string, kind: string,
  name: string): void {
  if (current === received) return;
  throw new AmqpError(ReplyCode.PRECONDITION_FAILED,
    `inequivalent arg '${field}' for ${kind} '${name}' in vhost '${vhost}': received '${String(received)}' but current is '${String(current)}'`);
}

/** rabbit_misc:assert_args_equivalence: numeric types are interchangeable, values must match. */
export function assertArgs(vhost: string, current: FieldTable, received: FieldTable, keys: readonly string[], kind: string,
  name: string): void {
  for (const key of keys) {
    const c = current.find((e) => e.key === key)?.value;
    const r = received.find((e) => e.key === key)?.value;
    if (c === undefined && r === undefined) continue;
    if (c !== undefined && r !== undefined) {
      if (argsEquivalent(c, r)) continue;
      throw new AmqpError(ReplyCode.PRECONDITION_FAILED,
        `inequivalent arg '${key}' for ${kind} '${name}' in vhost '${vhost}': received '${shownValue(r)}' but current is '${shownValue(c)}'`);
    }
    throw new AmqpError(ReplyCode.PRECONDITION_FAILED,
      `inequivalent arg '${key}' for ${kind} '${name}' in vhost '${vhost}': received ${describeArg(r)} but current is ${describeArg(c)}`);
  }
}

/**
 * An argument naming an exchange (alternate-exchange, x-dead-letter-exchange), as rabbit_misc:r_arg
 * reads it: a long string, else 406 naming the type it has.
 */
export function exchangeArgument(args: FieldTable, key: string, where: string): string | undefined {
  const v = tableGet(args, key);
  if (v === undefined) return undefined;
  if (v.type !== 'S') throw new AmqpError(ReplyCode.PRECONDITION_FAILED, `invalid type '${fieldTypeName(v)}' for arg '${key}' in ${where}`);
  return v.value.toString('utf8');
}

export function checkReservedName(kind: 'exchange' | 'queue', name: string): void {
  if (name.startsWith('amq.')) {
    throw new AmqpError(ReplyCode.ACCESS_REFUSED, `${kind} name '${name}' contains reserved prefix 'amq.*'`);
  }
}

/** Server-named queues look like RabbitMQ's: "amq.gen-" + 22 URL-safe base64 characters. */
export function generateQueueName(): string {
  return 'amq.gen-' + randomBytes(16).toString('base64url').slice(0, 22);
}

function describeArg(v: FieldValue | undefined): string {
  if (v === undefined) return 'none';
  return `the value '${shownValue(v)}' of type '${fieldTypeName(v)}'`;
}

function shownValue(v: FieldValue): string {
  switch (v.type) {
    case 'S': return v.value.toString('utf8');
    case 'V': return 'undefined';
    case 'A': case 'F': case 'x': return '...';
    default: return String(v.value);
  }
}

const INTEGER_TYPES = new Set(['b', 'B', 's', 'u', 'I', 'i', 'l', 'T']);

function argsEquivalent(a: FieldValue, b: FieldValue): boolean {
  if (INTEGER_TYPES.has(a.type) && INTEGER_TYPES.has(b.type)) {
    return BigInt((a as { value: number | bigint }).value) === BigInt((b as { value: number | bigint }).value);
  }
  return fieldEquals(a, b);
}
