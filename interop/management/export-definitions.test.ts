/**
 * Definitions round-trip with the reference broker's own tool: what `rabbitmqctl export_definitions`
 * writes imports into Warren (POST /api/definitions) and comes back out of Warren's export unchanged
 * (users with their password hashes, vhosts, permissions, topic permissions, parameters, policies,
 * queues, exchanges, bindings), users log in with their RabbitMQ password; and Warren's export
 * imports into RabbitMQ and comes back the same. Only this run's own vhost and user are compared
 * (the reference is shared); everything is removed afterwards. Skipped with the reason when
 * rabbitmqctl or the reference's management API is missing.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import amqp from 'amqplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uniqueName } from '../../test/helpers/broker.js';
import { referenceManagement } from '../../test/helpers/reference-plugins.js';
import { Api, useManagement, type Obj } from '../../test/integration/management/api-client.js';

const CTL = ['/usr/sbin/rabbitmqctl', '/usr/lib/rabbitmq/bin/rabbitmqctl'].find((p) => existsSync(p));
const m = useManagement();
let reference: Api | undefined;
let skip: string | undefined = CTL === undefined ? 'rabbitmqctl not installed' : undefined;
const V = uniqueName('defs-vh');
const V2 = uniqueName('defs-vh2');
const U = uniqueName('defs-u');

type Doc = Record<string, Obj[]>;
const LISTS = ['users', 'vhosts', 'permissions', 'topic_permissions', 'parameters', 'policies', 'queues', 'exchanges', 'bindings'];

function exportFromReference(): Promise<Doc> {
  return new Promise((resolve, reject) => {
    execFile(CTL!, ['export_definitions', '-', '--format', 'json'], { timeout: 60_000, maxBuffer: 64 << 20 }, (err, out) => {
      if (err !== null) reject(err);
      else resolve(JSON.parse(out) as Doc);
    });
  });
}

/** This run's part of a document (vhost `vhost`, user U), as written. */
function mine(doc: Doc, vhost: string): Doc {
  const out: Doc = {};
  for (const key of LISTS) {
    out[key] = (doc[key] ?? []).filter((i) => key === 'users' ? i['name'] === U : key === 'vhosts' ? i['name'] === vhost : i['vhost'] === vhost);
  }
  return out;
}

/** A document's lists in a comparable form, sorted. */
function comparable(doc: Doc): Doc {
  const out: Doc = {};
  for (const key of LISTS) out[key] = (doc[key] ?? []).map((i) => normalise(key, i)).sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));
  return out;
}

/**
 * The same data in either broker's form: keys sorted; a vhost by its name (rabbitmqctl adds its
 * limits, also exported as a vhost-limits parameter, and empty metadata); a definition given as
 * [key, value] pairs (rabbitmqctl's form for operator policies) as an object; a queue without the
 * `type` rabbitmqctl adds (its x-queue-type argument says it); an exchange's `internal` false when
 * rabbitmqctl leaves it out.
 */
function normalise(key: string, i: Obj): Obj {
  if (key === 'vhosts') return { name: i['name'] };
  const src: Obj = key === 'exchanges' ? { internal: false, ...i } : i;
  const o: Obj = {};
  for (const k of Object.keys(src).sort()) {
    if (key === 'queues' && k === 'type') continue;
    o[k] = k === 'value' ? normaliseValue(src[k]) : src[k];
  }
  return o;
}

function normaliseValue(v: unknown): unknown {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return v;
  const o = { ...(v as Obj) };
  if (Array.isArray(o['definition'])) o['definition'] = Object.fromEntries(o['definition'] as [string, unknown][]);
  return Object.fromEntries(Object.keys(o).sort().map((k) => [k, o[k]]));
}

function renameVhost(doc: Doc, from: string, to: string): Doc {
  const out: Doc = {};
  for (const key of LISTS) {
    out[key] = (doc[key] ?? []).map((i) => key === 'vhosts' ? { ...i, name: to } : key === 'users' ? i : { ...i, vhost: i['vhost'] === from ? to : i['vhost'] });
  }
  return out;
}

beforeAll(async () => {
  if (skip !== undefined) return;
  const r = await referenceManagement();
  if ('skip' in r) {
    skip = r.skip;
    return;
  }
  reference = new Api(r.url);
  const a = reference;
  await a.put(`/api/vhosts/${V}`, {});
  await a.put(`/api/users/${U}`, { password: 'round-trip', tags: 'management,policymaker' });
  await a.put(`/api/permissions/${V}/${U}`, { configure: '^cfg', write: '.*', read: '^r' });
  await a.put(`/api/topic-permissions/${V}/${U}`, { exchange: 'amq.topic', write: '^w', read: '.*' });
  await a.put(`/api/policies/${V}/p1`, { pattern: '^q', definition: { 'max-length': 7, 'dead-letter-exchange': 'dlx' }, priority: 2, 'apply-to': 'queues' });
  await a.put(`/api/operator-policies/${V}/op1`, { pattern: '^q', definition: { 'message-ttl': 60000 }, 'apply-to': 'queues' });
  await a.request('PUT', `/api/vhost-limits/${V}/max-queues`, { value: 50 });
  await a.put(`/api/queues/${V}/q1`, { durable: true, arguments: { 'x-max-priority': 5, 'x-queue-mode': 'lazy' } });
  await a.put(`/api/queues/${V}/qq`, { durable: true, arguments: { 'x-queue-type': 'quorum', 'x-delivery-limit': 3 } });
  await a.put(`/api/exchanges/${V}/x1`, { type: 'topic', durable: true, arguments: { 'alternate-exchange': 'ae' } });
  await a.put(`/api/exchanges/${V}/ae`, { type: 'fanout', durable: true });
  await a.post(`/api/bindings/${V}/e/x1/q/q1`, { routing_key: 'a.#', arguments: { k: 'v' } });
  await a.post(`/api/bindings/${V}/e/x1/e/ae`, { routing_key: 'r' });
}, 120_000);

afterAll(async () => {
  if (reference === undefined) return;
  await reference.delete(`/api/vhosts/${V}`);
  await reference.delete(`/api/vhosts/${V2}`);
  await reference.delete(`/api/users/${U}`);
});

describe('definitions round-trip with rabbitmqctl export_definitions', () => {
  it('RabbitMQ -> Warren -> RabbitMQ keeps everything', { timeout: 180_000 }, async () => {
    if (skip !== undefined) {
      console.warn(`skipped: ${skip}`);
      return;
    }
    const fromRabbit = mine(await exportFromReference(), V);
    expect(fromRabbit['queues']).toHaveLength(2);
    const warren = m.api();
    const imported = await warren.post('/api/definitions', fromRabbit);
    expect(imported.status, imported.text).toBe(204);
    const fromWarren = mine((await warren.json('/api/definitions')) as Doc, V);
    for (const key of LISTS) expect(comparable(fromWarren)[key], key).toEqual(comparable(fromRabbit)[key]);
    // The password hash came across: the user logs in to Warren with its RabbitMQ password.
    const conn = await amqp.connect(`${m.ctx.url.replace('guest:guest', `${U}:round-trip`)}/${encodeURIComponent(V)}`);
    await conn.close();
    // And back: Warren's export (under another vhost name) imports into RabbitMQ unchanged.
    expect((await reference!.post('/api/definitions', renameVhost(fromWarren, V, V2))).status).toBe(204);
    const again = comparable(mine(await exportFromReference(), V2));
    for (const key of LISTS) expect(again[key], key).toEqual(comparable(mine(renameVhost(fromWarren, V, V2), V2))[key]);
  });
});
