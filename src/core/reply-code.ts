/**
 * AMQP 0-9-1 reply codes (spec §1.9 "constants") and their soft/hard class.
 * Invariant: a hard error closes the connection; a soft error closes only the channel.
 */
export const ReplyCode = {
  REPLY_SUCCESS: 200,
  CONTENT_TOO_LARGE: 311,
  NO_ROUTE: 312,
  NO_CONSUMERS: 313,
  CONNECTION_FORCED: 320,
  INVALID_PATH: 402,
  ACCESS_REFUSED: 403,
  NOT_FOUND: 404,
  RESOURCE_LOCKED: 405,
  PRECONDITION_FAILED: 406,
  FRAME_ERROR: 501,
  SYNTAX_ERROR: 502,
  COMMAND_INVALID: 503,
  CHANNEL_ERROR: 504,
  UNEXPECTED_FRAME: 505,
  RESOURCE_ERROR: 506,
  NOT_ALLOWED: 530,
  NOT_IMPLEMENTED: 540,
  INTERNAL_ERROR: 541,
} as const;

export type ReplyCodeName = keyof typeof ReplyCode;
export type ReplyCodeValue = (typeof ReplyCode)[ReplyCodeName];

const NAMES = new Map<number, ReplyCodeName>(
  (Object.keys(ReplyCode) as ReplyCodeName[]).map((k) => [ReplyCode[k], k]),
);

/** Soft errors (channel-level) per the spec's constant classes; everything else is hard. */
const SOFT = new Set<number>([311, 312, 313, 403, 404, 405, 406]);

export function replyCodeName(code: number): string {
  return NAMES.get(code) ?? 'INTERNAL_ERROR';
}

export function isHardError(code: number): boolean {
  return !SOFT.has(code);
}
