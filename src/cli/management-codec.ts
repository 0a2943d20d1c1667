/**
 * The management API's message codec, wired here because it needs protocol/ (which management may
 * not import): basic properties between their wire bytes and RabbitMQ's management JSON
 * (content_type, headers as plain JSON, delivery_mode, ...; absent properties left out).
 * Input to encodeProperties is validated by the publish route first.
 */
import { argsFromJson, argsToJson } from '../broker/definitions-codec.js';
import type { EncodedProperties, MessageCodec, PropertiesJson } from '../management/management-app.js';
import { newPropertyPeek, peekBasicProperties } from '../protocol/content-header.js';
import { decodeBasicProperties, encodeBasicProperties, type BasicProperties } from '../protocol/generated/properties.js';
import { CONTENT_CODEC } from '../server/content-codec.js';
import type { JsonArguments } from '../store/definitions.js';

/** JSON name -> BasicProperties field, in the spec's order. */
const NAMES: readonly (readonly [string, keyof BasicProperties])[] = [
  ['content_type', 'contentType'], ['content_encoding', 'contentEncoding'], ['headers', 'headers'],
  ['delivery_mode', 'deliveryMode'], ['priority', 'priority'], ['correlation_id', 'correlationId'],
  ['reply_to', 'replyTo'], ['expiration', 'expiration'], ['message_id', 'messageId'], ['timestamp', 'timestamp'],
  ['type', 'type'], ['user_id', 'userId'], ['app_id', 'appId'], ['cluster_id', 'clusterId'],
];

export const MANAGEMENT_CODEC: MessageCodec = {
  content: CONTENT_CODEC,

  propertiesToJson(properties: Buffer): PropertiesJson {
    const p = decodeBasicProperties(properties, 0, properties.length);
    const out: PropertiesJson = {};
    for (const [json, field] of NAMES) {
      const v = p[field];
      if (v === undefined) continue;
      out[json] = field === 'headers' ? argsToJson(p.headers!) : (v as string | number);
    }
    return out;
  },

  encodeProperties(json: PropertiesJson): EncodedProperties {
    const p: BasicProperties = {};
    for (const [name, field] of NAMES) {
      const v = json[name];
      if (v === undefined || v === null) continue;
      if (field === 'headers') p.headers = argsFromJson(v as JsonArguments);
      else (p as Record<string, unknown>)[field] = v;
    }
    const properties = encodeBasicProperties(p);
    const peek = newPropertyPeek();
    peekBasicProperties(properties, 0, properties.length, peek);
    return {
      properties, deliveryMode: peek.deliveryMode, priority: peek.priority, expiration: peek.expiration,
      headersStart: peek.headersStart, headersEnd: peek.headersEnd,
    };
  },
};
