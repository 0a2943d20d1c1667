/**
 * /api/queues: declare, list (columns, sort, pagination), show, delete (if-empty, if-unused),
 * purge, get (every ackmode, auto/base64 encoding, truncate) and actions, with RabbitMQ's status
 * codes and error bodies for bad input — and nothing changed by a refused request. Messages are
 * published with amqplib: the HTTP door and the AMQP door see the same queues.
 */
import { describe, expect, it } from 'vitest';
import { enc, errorOf, useManagement, type Obj } from '../api-client.js';

const m = useManagement();
const api = () => m.api();
const name = (p = 'q') => m.ctx.name(p);

async function publish(queue: string, bodies: (string | Buffer)[], options: Record<string, unknown> = {}): Promise<void> {
  const conn = await m.ctx.clients.connect();
  const ch = await conn.createConfirmChannel();
  for (const b of bodies) ch.sendToQueue(queue, typeof b === 'string' ? Buffer.from(b) : b, options);
  await ch.waitForConfirms();
  await conn.close();
}

describe('PUT /api/queues/{vhost}/{name}', () => {
  it('creates (201), accepts an equivalent redeclare (204), refuses an inequivalent one (400)', async () => {
    const q = name();
    expect((await api().put(`/api/queues/%2F/${q}`, { durable: true, arguments: { 'x-max-length': 5 } })).status).toBe(201);
    expect((await api().put(`/api/queues/%2F/${q}`, { durable: 'true', arguments: { 'x-max-length': 5 } })).status).toBe(204);
    const r = await api().put(`/api/queues/%2F/${q}`, { durable: false });
    expect(r.status).toBe(400);
    expect(r.body).toEqual({
      error: 'bad_request',
      reason: `inequivalent arg 'durable' for queue '${q}' in vhost '/': received 'false' but current is 'true'`,
    });
    const shown = await api().obj(`/api/queues/%2F/${q}`);
    expect(shown).toMatchObject({ name: q, vhost: '/', durable: true, auto_delete: false, exclusive: false, arguments: { 'x-max-length': 5 } });
  });

  it('the queue is the one AMQP clients see', async () => {
    const q = name();
    await api().put(`/api/queues/%2F/${q}`, { durable: false, auto_delete: false });
    const conn = await m.ctx.clients.connect();
    const ch = await conn.createChannel();
    expect((await ch.checkQueue(q)).queue).toBe(q);
  });

  it.each([
    ['bad JSON', '{bad', 400, { error: 'bad_request', reason: 'not_json' }],
    ['a JSON array', '[]', 400, { error: 'bad_request', reason: 'not_json' }],
    ['a non-boolean durable', { durable: 'yes' }, 400, { error: 'bad_request', reason: ['not_boolean', 'yes'] }],
  ])('refuses %s and creates nothing', async (_what, body, status, expected) => {
    const q = name();
    const r = await api().put(`/api/queues/%2F/${q}`, body);
    expect(r.status).toBe(status);
    expect(r.body).toEqual(expected);
    expect((await api().get(`/api/queues/%2F/${q}`)).status).toBe(404);
  });

  it('refuses bad arguments with the AMQP reason, reserved names with 401, unknown vhosts with 404', async () => {
    const q = name();
    const bad = await api().put(`/api/queues/%2F/${q}`, { arguments: { 'x-max-length': 'x' } });
    expect(bad.status).toBe(400);
    expect(errorOf(bad).reason).toBe(`invalid arg 'x-max-length' for queue '${q}' in vhost '/': "expected integer, got longstr"`);
    const reserved = await api().put('/api/queues/%2F/amq.mine', {});
    expect(reserved.status).toBe(401);
    expect(reserved.body).toEqual({ error: 'not_authorised', reason: 'Access refused.' });
    const vhost = await api().put(`/api/queues/nope-vhost/${q}`, {});
    expect(vhost.status).toBe(404);
    expect(vhost.body).toEqual({ error: 'not_found', reason: 'vhost_not_found' });
    expect((await api().get(`/api/queues/%2F/${q}`)).status).toBe(404);
  });
});

describe('GET /api/queues', () => {
  it('shows counts and the fields tools read', async () => {
    const q = name();
    await api().put(`/api/queues/%2F/${q}`, { durable: true });
    await publish(q, ['a', 'b', 'c']);
    const shown = await api().obj(`/api/queues/%2F/${q}`);
    expect(shown).toMatchObject({
      messages: 3, messages_ready: 3, messages_unacknowledged: 0, consumers: 0, state: 'running', type: 'classic',
      message_bytes: 3, message_bytes_ready: 3, message_bytes_unacknowledged: 0, idle_since: expect.stringMatching(/^\d{4}-\d\d-\d\dT.*\+00:00$/),
      policy: null, operator_policy: null, effective_policy_definition: {}, consumer_details: [], node: expect.any(String),
      messages_details: { rate: 0 },
    });
    // Counted on the publish path (src/broker/statistics.ts); rates come from the 5 s sampler.
    expect(shown['message_stats']).toMatchObject({ publish: 3, publish_details: { rate: expect.any(Number) }, deliver_get: 0 });
    const listed = (await api().list('/api/queues/%2F')).find((x) => x['name'] === q);
    expect(listed?.['messages']).toBe(3);
    expect((await api().get(`/api/queues/%2F/${name('missing')}`)).status).toBe(404);
    expect((await api().get('/api/queues/nope-vhost')).status).toBe(404);
  });

  it('columns, sort, sort_reverse, name filter and pagination', async () => {
    const prefix = name('page');
    for (const s of ['c', 'a', 'b']) await api().put(`/api/queues/%2F/${prefix}-${s}`, {});
    const cols = await api().list(`/api/queues/%2F?columns=name,arguments.x&sort=name&sort_reverse=true`);
    const mine = cols.filter((x) => String(x['name']).startsWith(prefix));
    expect(mine).toEqual([
      { name: `${prefix}-c`, arguments: {} }, { name: `${prefix}-b`, arguments: {} }, { name: `${prefix}-a`, arguments: {} },
    ]);
    const page = await api().obj(`/api/queues/%2F?page=1&page_size=2&name=${prefix}&columns=name`);
    expect(page).toMatchObject({ filtered_count: 3, item_count: 2, page: 1, page_count: 2, page_size: 2, items: [{ name: `${prefix}-a` }, { name: `${prefix}-b` }] });
    const regex = await api().obj(`/api/queues?page=1&name=${enc(`^${prefix}-[ab]$`)}&use_regex=true&columns=name`);
    expect(regex['items']).toEqual([{ name: `${prefix}-a` }, { name: `${prefix}-b` }]);
    const out = await api().get(`/api/queues/%2F?page=5&page_size=2&name=${prefix}`);
    expect(out.status).toBe(400);
    expect(out.body).toEqual({ error: 'page_out_of_range', reason: 'Page out of range, page: 5 page size: 2, len: 3' });
    const zero = await api().get('/api/queues?page=0&page_size=2');
    expect(zero.body).toEqual({ error: 'invalid_pagination_parameters', reason: 'Invalid pagination parameters: page number 0, page size 2' });
    expect((await api().get('/api/queues?page=1&page_size=501')).status).toBe(400);
    expect((await api().get('/api/queues?page=x')).body).toEqual({ error: 'bad_request', reason: 'Pagination parameters are invalid' });
  });
});

describe('DELETE /api/queues/{vhost}/{name}', () => {
  it('honours if-empty and if-unused, 404 when missing', async () => {
    const q = name();
    await api().put(`/api/queues/%2F/${q}`, {});
    await publish(q, ['x']);
    const notEmpty = await api().delete(`/api/queues/%2F/${q}?if-empty=true`);
    expect(notEmpty.status).toBe(400);
    expect(notEmpty.body).toEqual({ error: 'bad_request', reason: `queue '${q}' in vhost '/' not empty` });
    const conn = await m.ctx.clients.connect();
    const ch = await conn.createChannel();
    await ch.consume(q, () => {}, { noAck: true });
    const inUse = await api().delete(`/api/queues/%2F/${q}?if-unused=true`);
    expect(inUse.body).toEqual({ error: 'bad_request', reason: `queue '${q}' in vhost '/' in use` });
    expect((await api().delete(`/api/queues/%2F/${q}`)).status).toBe(204);
    expect((await api().get(`/api/queues/%2F/${q}`)).status).toBe(404);
    expect((await api().delete(`/api/queues/%2F/${q}`)).status).toBe(404);
  });

  it('deletes an exclusive queue of another connection, as RabbitMQ\'s management does', async () => {
    const conn = await m.ctx.clients.connect();
    const ch = await conn.createChannel();
    const { queue } = await ch.assertQueue('', { exclusive: true });
    expect((await api().obj(`/api/queues/%2F/${enc(queue)}`))['exclusive']).toBe(true);
    expect((await api().delete(`/api/queues/%2F/${enc(queue)}`)).status).toBe(204);
  });
});

describe('DELETE .../contents and POST .../get', () => {
  it('purges', async () => {
    const q = name();
    await api().put(`/api/queues/%2F/${q}`, {});
    await publish(q, ['1', '2']);
    expect((await api().delete(`/api/queues/%2F/${q}/contents`)).status).toBe(204);
    expect((await api().obj(`/api/queues/%2F/${q}`))['messages']).toBe(0);
    expect((await api().delete(`/api/queues/%2F/${name('missing')}/contents`)).status).toBe(404);
  });

  it('ack_requeue_true peeks: messages stay, come back redelivered, in order', async () => {
    const q = name();
    await api().put(`/api/queues/%2F/${q}`, {});
    await publish(q, ['first', 'second', 'third'], { headers: { h: 1 }, contentType: 'text/plain', deliveryMode: 2 });
    const r = await api().post(`/api/queues/%2F/${q}/get`, { count: 2, ackmode: 'ack_requeue_true', encoding: 'auto', truncate: 3 });
    expect(r.status).toBe(200);
    expect(r.body).toEqual([
      {
        payload_bytes: 5, redelivered: false, exchange: '', routing_key: q, message_count: 2,
        properties: { content_type: 'text/plain', headers: { h: 1 }, delivery_mode: 2 }, payload: 'fir', payload_encoding: 'string',
      },
      {
        payload_bytes: 6, redelivered: false, exchange: '', routing_key: q, message_count: 1,
        properties: { content_type: 'text/plain', headers: { h: 1 }, delivery_mode: 2 }, payload: 'sec', payload_encoding: 'string',
      },
    ]);
    const again = (await api().post(`/api/queues/%2F/${q}/get`, { count: '5', ackmode: 'ack_requeue_false', encoding: 'auto' })).body as Obj[];
    expect(again.map((x) => [x['payload'], x['redelivered']])).toEqual([['first', true], ['second', true], ['third', false]]);
    expect((await api().obj(`/api/queues/%2F/${q}`))['messages']).toBe(0);
  });

  it('base64 and auto encodings; reject_requeue_false dead-letters', async () => {
    const q = name();
    const dlq = name('dlq');
    await api().put(`/api/queues/%2F/${dlq}`, {});
    await api().put(`/api/queues/%2F/${q}`, { arguments: { 'x-dead-letter-exchange': '', 'x-dead-letter-routing-key': dlq } });
    await publish(q, [Buffer.from([0xff, 0xfe, 1]), 'text']);
    const r = (await api().post(`/api/queues/%2F/${q}/get`, { count: 2, ackmode: 'reject_requeue_false', encoding: 'auto' })).body as Obj[];
    expect(r.map((x) => [x['payload'], x['payload_encoding']])).toEqual([['//4B', 'base64'], ['text', 'string']]);
    expect((await api().obj(`/api/queues/%2F/${dlq}`))['messages']).toBe(2);
    const b64 = (await api().post(`/api/queues/%2F/${dlq}/get`, { count: 1, ackmode: 'reject_requeue_true', encoding: 'base64' })).body as Obj[];
    expect(b64[0]?.['payload']).toBe('//4B');
    expect((await api().obj(`/api/queues/%2F/${dlq}`))['messages']).toBe(2);
  });

  it('refuses bad get requests with RabbitMQ\'s reasons', async () => {
    const q = name();
    await api().put(`/api/queues/%2F/${q}`, {});
    await publish(q, ['keep']);
    const cases: [unknown, unknown][] = [
      [{ count: 1, encoding: 'auto' }, '[{key_missing,ackmode}]'],
      [{ count: 'x', ackmode: 'ack_requeue_true', encoding: 'auto' }, ['not_integer', 'x']],
      [{ count: 1, ackmode: 'ack_requeue_true', encoding: 'weird' }, 'Unsupported encoding. Please use auto or base64.'],
      ['{bad', 'not_json'],
    ];
    for (const [body, reason] of cases) {
      const r = await api().post(`/api/queues/%2F/${q}/get`, body);
      expect(r.status).toBe(400);
      expect(errorOf(r).reason).toEqual(reason);
    }
    expect((await api().post(`/api/queues/%2F/${name('missing')}/get`, { count: 1, ackmode: 'ack_requeue_true', encoding: 'auto' })).status).toBe(404);
    expect((await api().obj(`/api/queues/%2F/${q}`))['messages']).toBe(1);
  });

  it('actions: sync is accepted, unknown actions are refused', async () => {
    const q = name();
    await api().put(`/api/queues/%2F/${q}`, {});
    expect((await api().post(`/api/queues/%2F/${q}/actions`, { action: 'sync' })).status).toBe(204);
    const bad = await api().post(`/api/queues/%2F/${q}/actions`, { action: 'bogus' });
    expect(bad.body).toEqual({ error: 'bad_request', reason: ['unknown', 'bogus'] });
  });
});
