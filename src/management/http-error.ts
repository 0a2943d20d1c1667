/**
 * The management API's errors, shaped as RabbitMQ's (rabbit_mgmt_util): a status code and a JSON
 * body `{"error": ..., "reason": ...}`, e.g. 404 `{"error":"Object Not Found","reason":"Not Found"}`.
 * Routes throw them; the server writes them in one place. Broker errors (AmqpError, ControlError)
 * are mapped here too, as RabbitMQ maps the AMQP errors of the operation behind a request.
 */
import { AmqpError } from '../core/amqp-error.js';
import { ReplyCode, replyCodeName } from '../core/reply-code.js';
import { ControlError } from '../broker/control-error.js';

/** What `reason` may hold: RabbitMQ sometimes answers with an Erlang tuple rendered as a list. */
export type Reason = string | readonly (string | number)[];

export class HttpError extends Error {
  constructor(
    readonly status: number,
    /** The `error` field; undefined for statuses RabbitMQ answers with an empty body (405, 415). */
    readonly error: string | undefined,
    readonly reason: Reason = '',
  ) {
    super(typeof reason === 'string' ? reason : JSON.stringify(reason));
    this.name = 'HttpError';
  }
}

export const notFound = (): HttpError => new HttpError(404, 'Object Not Found', 'Not Found');
export const badRequest = (reason: Reason): HttpError => new HttpError(400, 'bad_request', reason);
export const notAuthorised = (reason: string): HttpError => new HttpError(401, 'not_authorised', reason);
export const methodNotAllowed = (): HttpError => new HttpError(405, undefined);
/** RabbitMQ's policy/parameter validation failures. */
export const validationFailed = (reason: string): HttpError => badRequest(`Validation failed\n\n${reason}\n`);

/**
 * An error from a broker operation run for a request (rabbit_mgmt_util's direct_request): AMQP
 * NOT_FOUND -> 404 not_found with the text, ACCESS_REFUSED -> 401 "Access refused.", any other
 * AMQP error -> 400 with the text; control-plane validation -> 400 "Validation failed".
 */
export function fromBrokerError(e: unknown): HttpError | undefined {
  if (e instanceof HttpError) return e;
  if (e instanceof AmqpError) {
    const detail = amqpDetail(e);
    if (e.code === ReplyCode.NOT_FOUND) return new HttpError(404, 'not_found', detail);
    if (e.code === ReplyCode.ACCESS_REFUSED) return notAuthorised('Access refused.');
    return badRequest(detail);
  }
  if (e instanceof ControlError) {
    return e.kind === 'invalid' ? validationFailed(e.reason) : new HttpError(404, 'not_found', e.reason);
  }
  return undefined;
}

/**
 * The error of an operation RabbitMQ runs on an internal AMQP channel (publish, get): 400 with
 * "<code> <TEXT> - <detail>" as its reason (e.g. "404 NOT_FOUND - no exchange 'x' in vhost '/'").
 */
export function fromChannelError(e: unknown): HttpError | undefined {
  if (e instanceof AmqpError) return badRequest(`${e.code} ${e.text}`);
  return fromBrokerError(e);
}

/**
 * The error of a synchronous call on the API's internal AMQP channel (basic.get), as
 * rabbit_mgmt_util:with_channel maps the channel's close: 404 -> 404 not_found, 403 -> 401
 * not_authorised, each with the full reply text; anything else as fromChannelError.
 */
export function fromChannelCallError(e: unknown): HttpError | undefined {
  if (e instanceof AmqpError && e.code === ReplyCode.NOT_FOUND) return new HttpError(404, 'not_found', e.text);
  if (e instanceof AmqpError && e.code === ReplyCode.ACCESS_REFUSED) return notAuthorised(e.text);
  return fromChannelError(e);
}

/** The reply text without its "CODE_NAME - " prefix (RabbitMQ's reasons carry the bare text). */
export function amqpDetail(e: AmqpError): string {
  const prefix = `${replyCodeName(e.code)} - `;
  return e.text.startsWith(prefix) ? e.text.slice(prefix.length) : e.text;
}
