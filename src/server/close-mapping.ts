/**
 * Maps any thrown value to the AmqpError that closes a channel or connection. AmqpErrors pass
 * through; anything else is a bug: it becomes 541 INTERNAL_ERROR on that connection only, is
 * logged with its stack by the caller-supplied logger, and never takes the process down.
 * (Which close to send — channel for soft codes, connection for hard ones and channel 0 — is
 * decided in Connection.fail, the single caller.)
 */
import { AmqpError } from '../core/amqp-error.js';
import { ReplyCode } from '../core/reply-code.js';

export function toAmqpError(e: unknown, logInternal: (err: unknown) => void): AmqpError {
  if (e instanceof AmqpError) return e;
  logInternal(e);
  return new AmqpError(ReplyCode.INTERNAL_ERROR, 'internal error', 0, 0, true);
}

/**
 * RabbitMQ answers a method id it does not know by dropping the TCP connection without a
 * connection.close (its decoder crashes the reader); clients observe a lost connection, and so
 * do Warren's.
 */
export function dropsConnection(err: AmqpError): boolean {
  return err.code === ReplyCode.COMMAND_INVALID && err.text.startsWith('COMMAND_INVALID - unknown method');
}
