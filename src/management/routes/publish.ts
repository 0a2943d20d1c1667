/**
 * POST /api/exchanges/{vhost}/{name}/publish and GET /api/aliveness-test/{vhost}: messages enter
 * through the broker's one publish operation (Vhost.publish, the one basic.publish uses), after the
 * same checks a channel makes (the exchange exists and is not internal, user_id, expiration). As
 * RabbitMQ's management publishes on an internal channel in confirm mode with mandatory set, the
 * answer {"routed": bool} comes once a persistent message is on disk, and AMQP errors read as
 * "<code> <TEXT> - <detail>" with 400.
 */
import { Message } from '../../broker/message.js';
import { AmqpError } from '../../core/amqp-error.js';
import { ReplyCode } from '../../core/reply-code.js';
import { checkPublishedProperties } from '../../broker/published-properties.js';
import { NOT_WRITTEN, PublishResult } from '../../broker/publish.js';
import type { Vhost } from '../../broker/vhost.js';
import { badRequest, fromChannelError, notAuthorised, notFound } from '../http-error.js';
import type { PropertiesJson } from '../management-app.js';
import { ok } from '../reply.js';
import { requireKeys, str, type JsonObject } from '../request-values.js';
import type { RouteContext, Router } from '../router.js';
import { exchangeName } from './bindings.js';

const STRING_PROPS = ['content_type', 'content_encoding', 'correlation_id', 'reply_to', 'expiration', 'message_id', 'type',
  'user_id', 'app_id', 'cluster_id'];
const OCTET_PROPS = ['delivery_mode', 'priority'];

/** rabbit_mgmt_format's checks on the `properties` object (RabbitMQ's reasons; unknown keys ignored). */
export function properties(v: unknown): PropertiesJson {
  if (v === undefined || v === null) return {};
  if (typeof v !== 'object' || Array.isArray(v)) throw badRequest(['not_json_object', 'properties']);
  const p = v as JsonObject;
  const out: PropertiesJson = {};
  for (const k of STRING_PROPS) {
    const x = p[k];
    if (x === undefined || x === null) continue;
    if (typeof x !== 'string') throw badRequest(['not_string', k]);
    out[k] = x;
  }
  for (const k of [...OCTET_PROPS, 'timestamp']) {
    const x = p[k];
    if (x === undefined || x === null) continue;
    const octet = OCTET_PROPS.includes(k);
    if (typeof x !== 'number' || !Number.isSafeInteger(x) || x < 0 || (octet && x > 255)) throw badRequest(['not_int', k]);
    out[k] = x;
  }
  const h = p['headers'];
  if (h !== undefined && h !== null) {
    if (typeof h !== 'object' || Array.isArray(h)) throw badRequest(['not_table', 'headers']);
    out['headers'] = h;
  }
  return out;
}

export function payload(body: JsonObject): Buffer {
  const text = str(body['payload'], '');
  const encoding = str(body['payload_encoding'], '');
  if (encoding === 'string') return Buffer.from(text, 'utf8');
  if (encoding !== 'base64') throw badRequest(['unsupported_encoding', encoding]);
  if (text.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(text)) throw badRequest(['not_base64', text]);
  return Buffer.from(text, 'base64');
}

/** rabbit_channel:check_msg_size (it comes first, as on the API's internal channel). */
export function checkMessageSize(ctx: RouteContext, body: Buffer): void {
  const max = ctx.app.node.maxMessageSize;
  if (max !== undefined && body.length > max) {
    throw new AmqpError(ReplyCode.PRECONDITION_FAILED, `message size ${body.length} is larger than configured max size ${max}`);
  }
}

/** The message as a channel builds it from a publish (user_id and expiration checked as there). */
export function buildMessage(ctx: RouteContext, exchange: string, routingKey: string, props: PropertiesJson, body: Buffer,
  checkUserId = true): Message {
  const app = ctx.app;
  const e = app.codec.encodeProperties(props);
  // A restored snapshot carries user_id as it was published: it was checked then.
  checkPublishedProperties(checkUserId ? props['user_id'] as string | undefined : undefined, e.expiration, ctx.user.name,
    () => ctx.user.tags.includes('impersonator'));
  return new Message(exchange, routingKey, e.properties, body, e.deliveryMode, e.priority, e.expiration, e.headersStart,
    e.headersEnd, app.codec.content, Date.now());
}

/** Build the message as a channel would and run the publish operation; true when routed. */
async function publish(ctx: RouteContext, v: Vhost, exchange: string, routingKey: string, props: PropertiesJson, body: Buffer): Promise<boolean> {
  const app = ctx.app;
  let routed: boolean;
  let durableAt: number;
  try {
    checkMessageSize(ctx, body);
    const x = v.exchangeForPublish(exchange, routingKey, app.access(ctx.user, v.name));
    const msg = buildMessage(ctx, x.name, routingKey, props, body);
    const result = v.publish(x, msg, new PublishResult());
    routed = result.routed;
    durableAt = result.durableAt;
  } catch (err: unknown) {
    throw fromChannelError(err) ?? err;
  }
  if (durableAt !== NOT_WRITTEN) {
    // As a publisher confirm: answer once the message is on disk.
    await new Promise<void>((resolve, reject) => app.broker.whenDurable({
      onDurable: (_seq, err) => (err === null ? resolve() : reject(err)),
    }));
  }
  return routed;
}

const ALIVENESS_QUEUE = 'aliveness-test';
const ALIVENESS_PAYLOAD = 'test_message';

export function publishRoutes(r: Router): void {
  r.post('/api/exchanges/:vhost/:name/publish', 'management', async (ctx) => {
    const v = ctx.app.broker.vhosts.get(ctx.params['vhost']!);
    // RabbitMQ publishes through an AMQP connection of the user's into the vhost: a missing vhost,
    // or one the user has no permissions in (an administrator may get this far), refuses it.
    if (v === undefined || !ctx.app.canOpenVhost(ctx.user, v.name)) throw notAuthorised('Access refused.');
    const body = await ctx.body();
    requireKeys(body, ['routing_key', 'properties', 'payload', 'payload_encoding']);
    const props = properties(body['properties']);
    const routed = await publish(ctx, v, exchangeName(ctx.params['name']!), str(body['routing_key'], ''), props, payload(body));
    return ok({ routed });
  });

  /**
   * RabbitMQ's aliveness test: declare the vhost's aliveness-test queue, publish a message to it
   * through the default exchange and get it back.
   */
  r.get('/api/aliveness-test/:vhost', 'management', async (ctx) => {
    const v = ctx.app.broker.vhosts.get(ctx.params['vhost']!);
    if (v === undefined) throw notFound();
    const q = v.declareQueue({
      name: ALIVENESS_QUEUE, passive: false, durable: false, exclusive: false, autoDelete: false, args: [], connectionId: -1,
    }, ctx.app.access(ctx.user, v.name));
    await publish(ctx, v, '', ALIVENESS_QUEUE, {}, Buffer.from(ALIVENESS_PAYLOAD));
    const e = q.get(true);
    if (e === undefined || e.msg.body.toString() !== ALIVENESS_PAYLOAD) {
      return { status: 503, body: { status: 'failed', reason: 'the test message did not come back' } };
    }
    return ok({ status: 'ok' });
  });
}
