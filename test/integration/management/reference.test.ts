/**
 * Differential: the same management API requests against Warren and against the reference
 * RabbitMQ's rabbitmq_management, comparing status codes, error bodies and the keys/values tools
 * read. Names are unique per run and everything created on the reference is deleted afterwards.
 * Skipped with the reason when the reference (or its management plugin) is not reachable; on a
 * local reference the test setup enables the plugin (rabbitmq-plugins enable rabbitmq_management).
 */
import amqp from 'amqplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { referenceUrl, uniqueName } from '../../helpers/broker.js';
import { referenceManagement } from '../../helpers/reference-plugins.js';
import { Api, enc, useManagement, type ApiResponse, type Obj } from './api-client.js';

const m = useManagement();
let reference: { api: Api; amqpUrl: string } | undefined;
let skip: string | undefined;

beforeAll(async () => {
  const r = await referenceManagement();
  const amqpUrl = await referenceUrl();
  if ('skip' in r || amqpUrl === undefined) {
    skip = 'skip' in r ? r.skip : 'no reference broker reachable';
    return;
  }
  reference = { api: new Api(r.url), amqpUrl };
}, 90_000);

interface Side {
  api: Api;
  amqpUrl: string;
  amqpPort: number;
  /** Cleanups registered by the scenario (the reference is shared). */
  cleanups: (() => Promise<unknown>)[];
}

type Outcome = Record<string, unknown>;

/** What a response shows: status, and the body for errors or the chosen keys for successes. */
function seen(r: ApiResponse, keys?: readonly string[]): unknown {
  if (r.status >= 400 || keys === undefined) return { status: r.status, body: r.body ?? null };
  const pick = (o: Obj) => Object.fromEntries(keys.filter((k) => k in o).map((k) => [k, o[k]]));
  return { status: r.status, body: Array.isArray(r.body) ? (r.body as Obj[]).map(pick) : pick(r.body as Obj) };
}

/**
 * GET `path` until `ready(body)` (the reference fills in a queue's fields and applies policies
 * asynchronously, within seconds; Warren answers at once). Polls, never sleeps a fixed time.
 */
async function settled(side: Side, path: string, ready: (body: Obj) => boolean): Promise<ApiResponse> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const r = await side.api.get(path);
    if (r.status !== 200 || ready(r.body as Obj) || Date.now() > deadline) return r;
    await new Promise((res) => setTimeout(res, 100));
  }
}

const hasKeys = (keys: readonly string[]) => (b: Obj) => keys.every((k) => k in b);

async function publishTo(side: Side, vhost: string, queue: string, bodies: string[], options: amqp.Options.Publish = {}): Promise<void> {
  const conn = await amqp.connect(`${side.amqpUrl}/${enc(vhost)}`);
  const ch = await conn.createConfirmChannel();
  for (const b of bodies) ch.sendToQueue(queue, Buffer.from(b), options);
  await ch.waitForConfirms();
  await conn.close();
}

/** Run `scenario` on Warren and on the reference with the same names; compare what each saw. */
async function compare(scenario: (side: Side, out: Outcome, n: Record<string, string>) => Promise<void>): Promise<void> {
  if (reference === undefined) {
    console.warn(`skipped: ${skip}`);
    return;
  }
  const names: Record<string, string> = new Proxy({}, {
    get: (t: Record<string, string>, k: string) => (t[k] ??= uniqueName(`mgmt-${k}`)),
  });
  const sides: Side[] = [
    { api: m.api(), amqpUrl: m.ctx.url, amqpPort: m.ctx.port, cleanups: [] },
    { api: reference.api, amqpUrl: reference.amqpUrl, amqpPort: Number(new URL(reference.amqpUrl).port || 5672), cleanups: [] },
  ];
  const outcomes: Outcome[] = [];
  for (const side of sides) {
    const out: Outcome = {};
    try {
      await scenario(side, out, names);
    } finally {
      for (const c of side.cleanups.reverse()) await c().catch(() => undefined);
    }
    outcomes.push(out);
  }
  const [warren, rabbit] = outcomes as [Outcome, Outcome];
  for (const label of Object.keys(rabbit)) expect(warren[label], label).toEqual(rabbit[label]);
  expect(Object.keys(warren)).toEqual(Object.keys(rabbit));
}

const QUEUE_KEYS = ['name', 'vhost', 'durable', 'auto_delete', 'exclusive', 'arguments', 'policy', 'operator_policy',
  'effective_policy_definition', 'state', 'type', 'consumers', 'messages', 'messages_ready', 'messages_unacknowledged',
  'message_bytes', 'message_bytes_ready', 'message_bytes_unacknowledged'];
const EXCHANGE_KEYS = ['name', 'vhost', 'type', 'durable', 'auto_delete', 'internal', 'arguments'];
const BINDING_KEYS = ['source', 'vhost', 'destination', 'destination_type', 'routing_key', 'arguments', 'properties_key'];

// Each case drives both brokers' APIs and the reference's rabbitmqctl: generous on a loaded machine.
describe('management API: Warren against the reference', { timeout: 120_000 }, () => {
  afterAll(() => {
    if (skip !== undefined) console.warn(`reference management differential skipped: ${skip}`);
  });

  it('queues: declare, redeclare, show, refusals, delete conditions, purge, get', async () => {
    await compare(async (s, out, n) => {
      const q = `/api/queues/%2F/${n['q']}`;
      s.cleanups.push(() => s.api.delete(q));
      out['create'] = seen(await s.api.put(q, { durable: true, arguments: { 'x-max-length': 5 } }));
      out['again'] = seen(await s.api.put(q, { durable: 'true', arguments: { 'x-max-length': 5 } }));
      out['inequivalent'] = seen(await s.api.put(q, { durable: false }));
      out['bad json'] = seen(await s.api.put(q, '{bad'));
      out['not boolean'] = seen(await s.api.put(q, { durable: 'yes' }));
      out['bad argument'] = seen(await s.api.put(q, { arguments: { 'x-max-length': 'x' } }));
      out['reserved'] = seen(await s.api.put('/api/queues/%2F/amq.mgmt-reserved', {}));
      out['no vhost'] = seen(await s.api.put(`/api/queues/${n['novhost']}/${n['q']}`, {}));
      out['show'] = seen(await settled(s, q, hasKeys(QUEUE_KEYS)), QUEUE_KEYS);
      out['missing'] = seen(await s.api.get(`/api/queues/%2F/${n['missing']}`));
      await publishTo(s, '/', n['q']!, ['one', 'two'], { headers: { h: 'v', n: 1 }, contentType: 'text/plain', priority: 3 });
      out['counts'] = seen(await settled(s, q, (b) => b['messages'] === 2 && b['message_bytes'] === 6),
        ['messages', 'messages_ready', 'messages_unacknowledged', 'message_bytes', 'message_bytes_ready', 'message_bytes_unacknowledged']);
      out['not empty'] = seen(await s.api.delete(`${q}?if-empty=true`));
      out['get'] = seen(await s.api.post(`${q}/get`, { count: 5, ackmode: 'ack_requeue_true', encoding: 'auto', truncate: 2 }));
      out['get again (redelivered)'] = seen(await s.api.post(`${q}/get`, { count: '1', ackmode: 'ack_requeue_false', encoding: 'base64' }));
      out['get missing ackmode'] = seen(await s.api.post(`${q}/get`, { count: 1, encoding: 'auto' }));
      out['get bad encoding'] = seen(await s.api.post(`${q}/get`, { count: 1, ackmode: 'ack_requeue_true', encoding: 'x' }));
      out['get bad count'] = seen(await s.api.post(`${q}/get`, { count: 'x', ackmode: 'ack_requeue_true', encoding: 'auto' }));
      out['purge'] = seen(await s.api.delete(`${q}/contents`));
      out['purge missing'] = seen(await s.api.delete(`/api/queues/%2F/${n['missing']}/contents`));
      out['action sync'] = seen(await s.api.post(`${q}/actions`, { action: 'sync' }));
      out['action bogus'] = seen(await s.api.post(`${q}/actions`, { action: 'bogus' }));
      out['bindings'] = seen(await s.api.get(`${q}/bindings`), BINDING_KEYS);
      out['delete'] = seen(await s.api.delete(q));
      out['delete again'] = seen(await s.api.delete(q));
    });
  });

  it('lists: columns, sort, pagination and its errors', async () => {
    await compare(async (s, out, n) => {
      for (const x of ['c', 'a', 'b']) {
        await s.api.put(`/api/queues/%2F/${n['list']}-${x}`, {});
        s.cleanups.push(() => s.api.delete(`/api/queues/%2F/${n['list']}-${x}`));
      }
      const mine = (r: ApiResponse) => ({ status: r.status, body: (r.body as Obj[]).filter((i) => String(i['name']).startsWith(n['list']!)) });
      out['columns+sort'] = mine(await s.api.get('/api/queues/%2F?columns=name,durable,arguments.x&sort=name&sort_reverse=true'));
      const page = await s.api.get(`/api/queues?page=1&page_size=2&name=${n['list']}&columns=name,vhost`);
      const { total_count: _t, ...rest } = page.body as Obj;
      out['page'] = { status: page.status, body: rest };
      out['page out of range'] = seen(await s.api.get(`/api/queues?page=5&page_size=2&name=${n['list']}`));
      out['page 0'] = seen(await s.api.get('/api/queues?page=0&page_size=2'));
      out['page size 600'] = seen(await s.api.get('/api/queues?page=1&page_size=600'));
      out['page x'] = seen(await s.api.get('/api/queues?page=x'));
    });
  });

  it('exchanges and bindings', async () => {
    await compare(async (s, out, n) => {
      const x = `/api/exchanges/%2F/${n['x']}`;
      const q = `/api/queues/%2F/${n['bq']}`;
      s.cleanups.push(() => s.api.delete(x), () => s.api.delete(q), () => s.api.delete(`/api/exchanges/%2F/${n['x2']}`));
      out['create'] = seen(await s.api.put(x, { type: 'topic', durable: false }));
      out['again'] = seen(await s.api.put(x, { type: 'topic' }));
      out['inequivalent'] = seen(await s.api.put(x, { type: 'direct' }));
      // A type name that is no Erlang atom: RabbitMQ then says "unknown" (README: known differences).
      out['bogus type'] = seen(await s.api.put(`/api/exchanges/%2F/${n['bogus']}`, { type: n['bogus-type'] }));
      out['reserved'] = seen(await s.api.put('/api/exchanges/%2F/amq.mgmt-reserved', { type: 'direct' }));
      out['show'] = seen(await s.api.get(x), EXCHANGE_KEYS);
      out['default'] = seen(await s.api.get('/api/exchanges/%2F/amq.default'), EXCHANGE_KEYS);
      await s.api.put(q, {});
      const bind = await s.api.post(`/api/bindings/%2F/e/${n['x']}/q/${n['bq']}`, { routing_key: 'a b~c/ü#', arguments: {} });
      out['bind'] = { status: bind.status, location: bind.headers.get('location') };
      out['bind empty key'] = seen(await s.api.post(`/api/bindings/%2F/e/${n['x']}/q/${n['bq']}`, {}));
      out['bind missing queue'] = seen(await s.api.post(`/api/bindings/%2F/e/${n['x']}/q/${n['missing']}`, { routing_key: 'k' }));
      out['bind missing exchange'] = seen(await s.api.post(`/api/bindings/%2F/e/${n['missing']}/q/${n['bq']}`, { routing_key: 'k' }));
      out['bindings'] = seen(await s.api.get(`/api/bindings/%2F/e/${n['x']}/q/${n['bq']}`), BINDING_KEYS);
      out['source'] = seen(await s.api.get(`${x}/bindings/source`), BINDING_KEYS);
      out['queue bindings'] = seen(await s.api.get(`${q}/bindings`), BINDING_KEYS);
      await s.api.put(`/api/exchanges/%2F/${n['x2']}`, { type: 'fanout' });
      out['e2e'] = seen(await s.api.post(`/api/bindings/%2F/e/${n['x']}/e/${n['x2']}`, { routing_key: 'r' }));
      out['destination'] = seen(await s.api.get(`/api/exchanges/%2F/${n['x2']}/bindings/destination`), BINDING_KEYS);
      const pub = (body: unknown, exchange = n['x']!) => s.api.post(`/api/exchanges/%2F/${exchange}/publish`, body);
      const msg = { properties: { content_type: 'text/plain', headers: { k: 'v' }, delivery_mode: 2 }, routing_key: 'a b~c/ü#', payload: 'hi', payload_encoding: 'string' };
      out['publish routed'] = seen(await pub(msg));
      out['publish unrouted'] = seen(await pub({ ...msg, routing_key: 'nowhere' }));
      out['publish default'] = seen(await pub({ ...msg, routing_key: n['bq'], payload: 'AAEC', payload_encoding: 'base64' }, 'amq.default'));
      out['publish no exchange'] = seen(await pub(msg, n['missing']!));
      out['publish user_id'] = seen(await pub({ ...msg, properties: { user_id: 'bob' } }));
      out['publish expiration'] = seen(await pub({ ...msg, properties: { expiration: 'abc' } }));
      out['publish bad encoding'] = seen(await pub({ ...msg, payload_encoding: 'weird' }));
      out['publish bad base64'] = seen(await pub({ ...msg, payload: '!!!', payload_encoding: 'base64' }));
      out['publish bad property'] = seen(await pub({ ...msg, properties: { priority: 'x' } }));
      out['publish no properties'] = seen(await pub({ routing_key: 'k', payload: 'p', payload_encoding: 'string' }));
      out['get published'] = seen(await s.api.post(`${q}/get`, { count: 5, ackmode: 'ack_requeue_false', encoding: 'auto' }));
      s.cleanups.push(() => s.api.delete('/api/queues/%2F/aliveness-test'));
      out['aliveness'] = seen(await s.api.get('/api/aliveness-test/%2F'));
      out['in use'] = seen(await s.api.delete(`${x}?if-unused=true`));
      out['unbind'] = seen(await s.api.delete(`/api/bindings/%2F/e/${n['x']}/q/${n['bq']}/~`));
      out['unbind again'] = seen(await s.api.delete(`/api/bindings/%2F/e/${n['x']}/q/${n['bq']}/~`));
      out['unbind quoted'] = seen(await s.api.delete(`/api/bindings/%2F/e/${n['x']}/q/${n['bq']}/${enc('a+b%7Ec%2F%C3%BC%23')}`));
      out['delete system'] = seen(await s.api.delete('/api/exchanges/%2F/amq.direct'));
      out['delete'] = seen(await s.api.delete(x));
      out['delete again'] = seen(await s.api.delete(x));
    });
  });

  it('vhosts, users, permissions, limits', async () => {
    await compare(async (s, out, n) => {
      const vh = `/api/vhosts/${n['vh']}`;
      const user = `/api/users/${n['user']}`;
      s.cleanups.push(() => s.api.delete(vh), () => s.api.delete(user));
      out['vhost create'] = seen(await s.api.put(vh, { description: 'd', tags: 'a,b' }));
      out['vhost show'] = seen(await s.api.get(vh), ['name', 'description', 'tags', 'metadata', 'tracing']);
      out['vhost update'] = seen(await s.api.put(vh, { description: 'e' }));
      out['vhost permissions'] = seen(await s.api.get(`${vh}/permissions`));
      out['user no tags'] = seen(await s.api.put(user, { password: 'x' }));
      out['user create'] = seen(await s.api.put(user, { password: 'pw', tags: 'management' }));
      out['user show'] = seen(await s.api.get(user), ['name', 'tags', 'hashing_algorithm', 'limits']);
      out['user login'] = seen(await s.api.as(n['user']!, 'pw').get('/api/whoami'));
      out['user no vhost access'] = seen(await s.api.as(n['user']!, 'pw').get(`/api/queues/${n['vh']}`));
      out['user not admin'] = seen(await s.api.as(n['user']!, 'pw').get('/api/users'));
      out['user not monitor'] = seen(await s.api.as(n['user']!, 'pw').get('/api/nodes'));
      out['perm missing key'] = seen(await s.api.put(`/api/permissions/${n['vh']}/${n['user']}`, { configure: '.*', write: '.*' }));
      out['perm no user'] = seen(await s.api.put(`/api/permissions/${n['vh']}/${n['nouser']}`, { configure: '', write: '', read: '' }));
      out['perm set'] = seen(await s.api.put(`/api/permissions/${n['vh']}/${n['user']}`, { configure: '^a', write: '.*', read: '' }));
      out['perm again'] = seen(await s.api.put(`/api/permissions/${n['vh']}/${n['user']}`, { configure: '^b', write: '.*', read: '' }));
      out['perm show'] = seen(await s.api.get(`/api/permissions/${n['vh']}/${n['user']}`));
      out['user vhost access'] = seen(await s.api.as(n['user']!, 'pw').get(`/api/vhosts`), ['name']);
      out['topic set'] = seen(await s.api.put(`/api/topic-permissions/${n['vh']}/${n['user']}`, { exchange: 'amq.topic', write: '^a', read: '.*' }));
      out['topic show'] = seen(await s.api.get(`/api/topic-permissions/${n['vh']}/${n['user']}`));
      out['limit set'] = seen(await s.api.request('PUT', `/api/vhost-limits/${n['vh']}/max-queues`, { value: 5 }));
      out['limit bad'] = seen(await s.api.request('PUT', `/api/vhost-limits/${n['vh']}/max-queues`, { value: 'x' }));
      out['limit unknown'] = seen(await s.api.request('PUT', `/api/vhost-limits/${n['vh']}/bogus`, { value: 5 }));
      out['limits'] = seen(await s.api.get(`/api/vhost-limits/${n['vh']}`));
      out['user delete'] = seen(await s.api.delete(user));
      out['user delete again'] = seen(await s.api.delete(user));
      out['vhost delete'] = seen(await s.api.delete(vh));
      out['vhost delete again'] = seen(await s.api.delete(vh));
    });
  });

  it('policies, operator policies and parameters', async () => {
    await compare(async (s, out, n) => {
      const p = `/api/policies/%2F/${n['p']}`;
      const q = `/api/queues/%2F/${n['pq']}`;
      s.cleanups.push(() => s.api.delete(p), () => s.api.delete(q), () => s.api.delete(`/api/operator-policies/%2F/${n['op']}`));
      await s.api.put(q, {});
      out['set'] = seen(await s.api.put(p, { pattern: `^${n['pq']}$`, definition: { 'max-length': 2 }, 'apply-to': 'queues', priority: 1 }));
      out['show'] = seen(await s.api.get(p));
      out['applied'] = seen(await settled(s, q, (b) => b['policy'] === n['p']), ['policy', 'effective_policy_definition']);
      out['unknown key'] = seen(await s.api.put(`/api/policies/%2F/${n['bad']}`, { pattern: '^a', definition: { bogus: 1 } }));
      out['empty'] = seen(await s.api.put(`/api/policies/%2F/${n['bad']}`, { pattern: '^a', definition: {} }));
      out['apply-to'] = seen(await s.api.put(`/api/policies/%2F/${n['bad']}`, { pattern: '^a', definition: { 'max-length': 1 }, 'apply-to': 'bogus' }));
      out['no pattern'] = seen(await s.api.put(`/api/policies/%2F/${n['bad']}`, { definition: { 'max-length': 1 } }));
      out['no vhost'] = seen(await s.api.put(`/api/policies/${n['novh']}/${n['bad']}`, { pattern: '.*', definition: { 'max-length': 1 } }));
      out['operator'] = seen(await s.api.put(`/api/operator-policies/%2F/${n['op']}`, { pattern: `^${n['pq']}$`, definition: { 'max-length': 1 }, 'apply-to': 'queues' }));
      out['operator applied'] = seen(await settled(s, q, (b) => b['operator_policy'] === n['op']),
        ['policy', 'operator_policy', 'effective_policy_definition']);
      out['operator bad key'] = seen(await s.api.put(`/api/operator-policies/%2F/${n['bad']}`, { pattern: '.*', definition: { 'alternate-exchange': 'x' } }));
      out['component'] = seen(await s.api.put(`/api/parameters/no-such-component/%2F/${n['bad']}`, { value: { a: 1 } }));
      out['delete'] = seen(await s.api.delete(p));
      out['delete again'] = seen(await s.api.delete(p));
    });
  });

  it('connections, channels, consumers, and closing a connection', async () => {
    await compare(async (s, out, n) => {
      const conn = await amqp.connect(s.amqpUrl, { clientProperties: { connection_name: n['conn'] } });
      conn.on('error', () => {});
      const closed = new Promise<string | undefined>((resolve) => conn.on('close', (e?: Error) => resolve(e?.message)));
      s.cleanups.push(() => conn.close());
      const ch = await conn.createChannel();
      await ch.prefetch(7);
      const { queue } = await ch.assertQueue(n['cq']!, { exclusive: true });
      await ch.consume(queue, () => {}, { consumerTag: n['ctag']!, arguments: { 'x-priority': 2 } });
      const cc = await conn.createConfirmChannel();
      await cc.prefetch(3, true);
      const found = await settled(s, '/api/connections', (b) => (b as unknown as Obj[]).some((c) => c['user_provided_name'] === n['conn']
        && c['channels'] === 2));
      const c = (found.body as Obj[]).find((x) => x['user_provided_name'] === n['conn'])!;
      const pick = (o: Obj, keys: string[]) => Object.fromEntries(keys.map((k) => [k, o[k]]));
      out['connection'] = pick(c, ['user', 'vhost', 'protocol', 'auth_mechanism', 'channels', 'state', 'ssl', 'type', 'peer_host',
        'user_provided_name', 'frame_max', 'channel_max']);
      out['connection name form'] = /^127\.0\.0\.1:\d+ -> 127\.0\.0\.1:\d+$/.test(String(c['name']));
      const cname = enc(String(c['name']));
      const chans = await settled(s, `/api/connections/${cname}/channels`, (b) => (b as unknown as Obj[]).length === 2);
      out['channels'] = (chans.body as Obj[]).map((x) => pick(x, ['number', 'prefetch_count', 'global_prefetch_count', 'confirm',
        'transactional', 'consumer_count', 'messages_unacknowledged', 'user', 'vhost', 'state']));
      const consumers = await settled(s, '/api/consumers/%2F', (b) => (b as unknown as Obj[]).some((x) => x['consumer_tag'] === n['ctag']));
      const mine = (consumers.body as Obj[]).filter((x) => x['consumer_tag'] === n['ctag']);
      out['consumers'] = mine.map((x) => ({ ...pick(x, ['consumer_tag', 'queue', 'ack_required', 'exclusive', 'active', 'activity_status', 'arguments', 'prefetch_count']),
        channel: pick(x['channel_details'] as Obj, ['number', 'user', 'peer_host']) }));
      out['close'] = seen(await s.api.delete(`/api/connections/${cname}`, { 'X-Reason': 'bye now' }));
      out['closed with'] = await closed;
      out['close again'] = seen(await s.api.delete(`/api/connections/${cname}`));
    });
  });

  it('definitions, health checks, node endpoints, errors and auth', async () => {
    await compare(async (s, out, n) => {
      s.cleanups.push(() => s.api.delete(`/api/vhosts/${n['dv']}`));
      const doc = {
        vhosts: [{ name: n['dv'] }],
        queues: [{ name: 'q1', vhost: n['dv'], durable: true, auto_delete: false, arguments: { 'x-max-length': 3 } }],
        exchanges: [{ name: 'x1', vhost: n['dv'], type: 'fanout', durable: true, auto_delete: false, internal: false, arguments: {} }],
        bindings: [{ source: 'x1', vhost: n['dv'], destination: 'q1', destination_type: 'queue', routing_key: 'k', arguments: {} }],
        policies: [{ vhost: n['dv'], name: 'p', pattern: '^q', 'apply-to': 'queues', definition: { 'message-ttl': 1000 }, priority: 0 }],
      };
      out['import'] = seen(await s.api.post('/api/definitions', doc));
      const exported = await s.api.get(`/api/definitions/${n['dv']}`);
      const { rabbit_version: _v, ...part } = exported.body as Obj;
      out['export vhost'] = { status: exported.status, body: part };
      out['import bad json'] = seen(await s.api.post('/api/definitions', 'nojson'));
      out['import no vhost'] = seen(await s.api.post('/api/definitions', { queues: [{ name: 'q', vhost: n['novh'], durable: true, auto_delete: false, arguments: {} }] }));
      for (const check of ['alarms', 'local-alarms', 'virtual-hosts', 'node-is-quorum-critical', 'node-is-mirror-sync-critical',
        'protocol-listener/amqp', 'protocol-listener/amqp091', 'port-listener/abc']) {
        out[`health ${check}`] = seen(await s.api.get(`/api/health/checks/${check}`));
      }
      const port = await s.api.get(`/api/health/checks/port-listener/${s.amqpPort}`);
      out['health port-listener AMQP'] = { status: port.status, body: { ...(port.body as Obj), port: port.status === 200 ? 'AMQP' : undefined } };
      const noListener = await s.api.get('/api/health/checks/protocol-listener/mqtt');
      out['health no listener'] = { status: noListener.status, body: { ...(noListener.body as Obj), protocols: undefined } };
      out['whoami'] = seen(await s.api.get('/api/whoami'));
      out['extensions type'] = Array.isArray((await s.api.get('/api/extensions')).body);
      out['overview'] = seen(await s.api.get('/api/overview'), ['rates_mode', 'sample_retention_policies']);
      out['unknown path'] = seen(await s.api.get('/api/no-such-thing'));
      out['wrong method'] = (await s.api.request('PATCH', '/api/queues')).status;
      out['post overview'] = (await s.api.post('/api/overview')).status;
      out['login failed'] = seen(await s.api.as('guest', 'wrong-password').get('/api/overview'));
      const anonymous = await fetch(`${s.api.base}/api/overview`);
      out['no credentials'] = { status: anonymous.status, auth: anonymous.headers.get('www-authenticate'), body: await anonymous.text() };
    });
  });
});
