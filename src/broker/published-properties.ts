/**
 * What a publisher may put in a message's properties, checked before the message enters the
 * publish operation, whichever door it comes through (basic.publish, the management API's publish):
 * rabbit_channel:check_user_id_header (user_id must be the publisher's own user) and
 * rabbit_basic:parse_expiration (a non-negative integer in decimal), with RabbitMQ's texts.
 */
import { AmqpError } from '../core/amqp-error.js';
import { ReplyCode } from '../core/reply-code.js';

export function checkPublishedProperties(userId: string | undefined, expiration: string | undefined, user: string): void {
  if (userId !== undefined && userId !== user) {
    throw new AmqpError(ReplyCode.PRECONDITION_FAILED, `user_id property set to '${userId}' but authenticated user was '${user}'`);
  }
  if (expiration !== undefined) checkExpiration(expiration);
}

export function checkExpiration(value: string): void {
  if (!/^[+-]?\d+$/.test(value)) {
    throw new AmqpError(ReplyCode.PRECONDITION_FAILED, `invalid expiration '${value}': no_integer`);
  }
  const n = Number(value);
  if (n < 0) throw new AmqpError(ReplyCode.PRECONDITION_FAILED, `invalid expiration '${value}': {value_negative,${n}}`);
}
