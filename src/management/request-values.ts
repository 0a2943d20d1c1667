/**
 * Reading request bodies and query values the way RabbitMQ's management API does
 * (rabbit_mgmt_util): JSON bodies (anything that does not parse is 400 "not_json"), booleans given
 * as true or "true" (rabbitmqadmin sends strings), integers given as numbers or digit strings, and
 * RabbitMQ's error reasons for each (`["not_boolean","yes"]`, `[{key_missing,ackmode}]`, ...).
 */
import type { IncomingMessage } from 'node:http';
import type { JsonValue } from '../broker/definitions-control.js';
import { badRequest, HttpError } from './http-error.js';

export type JsonObject = { [key: string]: JsonValue };

/** Largest body accepted (definitions uploads can be large; RabbitMQ's default limit is 20 MiB). */
export const MAX_BODY_BYTES = 20 * 1024 * 1024;

/** Read the whole body (bounded). */
export function readBody(req: IncomingMessage, limit = MAX_BODY_BYTES): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        reject(new HttpError(413, 'bad_request', 'request entity too large'));
        req.destroy();
        return;
      }
      parts.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(parts)));
    req.on('error', reject);
    // A client that goes away mid-body: nothing to answer, but do not leave the request pending.
    req.on('close', () => { if (!req.complete) reject(new HttpError(400, 'bad_request', 'request aborted')); });
  });
}

/**
 * A body that must be a JSON object. An empty body reads as {} (RabbitMQ treats a PUT without a
 * body as no properties); anything else that is not a JSON object is "not_json".
 */
export function parseJsonObject(raw: Buffer): JsonObject {
  const text = raw.toString('utf8');
  if (text.trim() === '') return {};
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    throw badRequest('not_json');
  }
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw badRequest('not_json');
  return v as JsonObject;
}

/** RabbitMQ's key_missing reason for required body keys. */
export function requireKeys(body: JsonObject, keys: readonly string[]): void {
  for (const k of keys) if (!(k in body)) throw badRequest(`[{key_missing,${k}}]`);
}

/** rabbit_mgmt_util:parse_bool: true/false or their strings; undefined (absent) gives `dflt`. */
export function bool(v: JsonValue | undefined, dflt: boolean): boolean {
  if (v === undefined || v === null) return dflt;
  if (v === true || v === 'true') return true;
  if (v === false || v === 'false') return false;
  throw badRequest(['not_boolean', typeof v === 'string' ? v : JSON.stringify(v)]);
}

/** rabbit_mgmt_util:parse_int: an integer or a string of one. */
export function int(v: JsonValue | undefined, dflt: number): number {
  if (v === undefined || v === null) return dflt;
  if (typeof v === 'number' && Number.isInteger(v)) return v;
  if (typeof v === 'string' && /^-?\d+$/.test(v.trim())) return Number(v);
  throw badRequest(['not_integer', typeof v === 'string' ? v : JSON.stringify(v)]);
}

/** A string field (names, patterns); numbers are accepted as their text, as Erlang's binaries are. */
export function str(v: JsonValue | undefined, dflt: string): string {
  if (v === undefined || v === null) return dflt;
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  throw badRequest(['not_string', JSON.stringify(v)]);
}

/** An object field (arguments, definition, properties): absent is {}. */
export function obj(v: JsonValue | undefined, key: string): JsonObject {
  if (v === undefined || v === null) return {};
  if (typeof v === 'object' && !Array.isArray(v)) return v as JsonObject;
  if (typeof v === 'string' && v.trim() === '') return {};
  throw badRequest(['not_json_object', key]);
}

/** A query flag (`?if-unused=true`). */
export function queryFlag(q: URLSearchParams, key: string): boolean {
  const v = q.get(key);
  return v === 'true';
}
