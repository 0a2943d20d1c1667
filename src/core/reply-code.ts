/**
 * AMQP 0-9-1 reply codes (spec §1.9 "constants") and their soft/hard class. The codes themselves
 * are generated from spec/amqp-0-9-1.json (core/generated/reply-codes.ts); this module adds the
 * names RabbitMQ prints and the class test.
 * Invariant: a hard error closes the connection; a soft error closes only the channel.
 */
import { ReplyCode, SOFT_ERROR_CODES } from './generated/reply-codes.js';

export { ReplyCode };

export type ReplyCodeName = keyof typeof ReplyCode;

const NAMES = new Map<number, ReplyCodeName>(
  (Object.keys(ReplyCode) as ReplyCodeName[]).map((k) => [ReplyCode[k], k]),
);

const SOFT = new Set<number>(SOFT_ERROR_CODES);

export function replyCodeName(code: number): string {
  return NAMES.get(code) ?? 'INTERNAL_ERROR';
}

export function isHardError(code: number): boolean {
  return !SOFT.has(code);
}
