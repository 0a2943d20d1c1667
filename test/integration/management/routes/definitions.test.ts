/**
 * /api/definitions: export in RabbitMQ's shape (global and per vhost), import through the broker's
 * validated operations (existing objects untouched, bad documents refused with RabbitMQ's reasons,
 * nothing half-applied by a parse error), and durability: everything changed through the API is
 * there after a restart, as the same change made over AMQP would be.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startTestBroker, type TestBroker } from '../../../helpers/broker.js';
import { Api, errorOf, useManagement, type Obj } from '../api-client.js';

const m = useManagement();
const api = () => m.api();
const name = (p: string) => m.ctx.name(p);

describe('export', () => {
  it('has RabbitMQ\'s keys; transient queues and exchanges are listed, exclusive and built-in ones are not', async () => {
    const q = name('dq');
    const tq = name('tq');
    const x = name('dx');
    await api().put(`/api/queues/%2F/${q}`, { durable: true, arguments: { 'x-max-length': 3 } });
    await api().put(`/api/queues/%2F/${tq}`, { durable: false });
    await api().put(`/api/exchanges/%2F/${x}`, { type: 'topic', durable: true });
    await api().post(`/api/bindings/%2F/e/${x}/q/${q}`, { routing_key: 'a.#' });
    const doc = await api().obj('/api/definitions');
    expect(Object.keys(doc)).toEqual(['rabbit_version', 'rabbitmq_version', 'product_name', 'product_version', 'users', 'vhosts',
      'permissions', 'topic_permissions', 'parameters', 'global_parameters', 'policies', 'queues', 'exchanges', 'bindings']);
    expect(doc['queues']).toEqual(expect.arrayContaining([
      { name: q, vhost: '/', durable: true, auto_delete: false, arguments: { 'x-max-length': 3 } },
      { name: tq, vhost: '/', durable: false, auto_delete: false, arguments: {} },
    ]));
    expect((doc['exchanges'] as Obj[]).map((e) => e['name'])).toEqual([x]);
    expect(doc['bindings']).toEqual([{ source: x, vhost: '/', destination: q, destination_type: 'queue', routing_key: 'a.#', arguments: {} }]);
    const one = await api().obj('/api/definitions/%2F');
    expect(Object.keys(one)).toEqual(['rabbit_version', 'parameters', 'policies', 'queues', 'exchanges', 'bindings']);
    expect(one['queues']).toContainEqual({ name: q, durable: true, auto_delete: false, arguments: { 'x-max-length': 3 } });
    expect((await api().get('/api/definitions/no-such-vhost')).status).toBe(404);
  });
});

describe('import', () => {
  it('creates vhosts, users, permissions, policies, queues, exchanges and bindings', async () => {
    const v = name('iv');
    const u = name('iu');
    const doc = {
      vhosts: [{ name: v }],
      users: [{ name: u, password_hash: '', hashing_algorithm: 'rabbit_password_hashing_sha256', tags: 'management' }],
      permissions: [{ user: u, vhost: v, configure: '.*', write: '.*', read: '.*' }],
      policies: [{ vhost: v, name: 'p', pattern: '^q', 'apply-to': 'queues', definition: { 'max-length': 4 }, priority: 0 }],
      parameters: [{ vhost: v, component: 'vhost-limits', name: 'limits', value: { 'max-queues': 9 } }],
      queues: [{ name: 'q1', vhost: v, durable: true, auto_delete: false, arguments: {} }],
      exchanges: [{ name: 'x1', vhost: v, type: 'fanout', durable: true, auto_delete: false, internal: false, arguments: {} }],
      bindings: [{ source: 'x1', vhost: v, destination: 'q1', destination_type: 'queue', routing_key: '', arguments: {} }],
    };
    expect((await api().post('/api/definitions', doc)).status).toBe(204);
    expect(await api().obj(`/api/queues/${v}/q1`)).toMatchObject({ durable: true, policy: 'p', effective_policy_definition: { 'max-length': 4 } });
    expect(await api().list(`/api/vhost-limits/${v}`)).toEqual([{ vhost: v, value: { 'max-queues': 9 } }]);
    expect((await api().list(`/api/bindings/${v}/e/x1/q/q1`))).toHaveLength(1);
    expect((await api().obj(`/api/users/${u}`))['tags']).toEqual(['management']);
    // Importing again leaves existing objects as they are (RabbitMQ does not redeclare them).
    const changed = { queues: [{ name: 'q1', vhost: v, durable: false, auto_delete: false, arguments: { 'x-max-length': 1 } }] };
    expect((await api().post('/api/definitions', changed)).status).toBe(204);
    expect((await api().obj(`/api/queues/${v}/q1`))['durable']).toBe(true);
    // A vhost's own export imports into another vhost.
    const v2 = name('iv2');
    await api().put(`/api/vhosts/${v2}`, {});
    const part = await api().obj(`/api/definitions/${v}`);
    expect((await api().post(`/api/definitions/${v2}`, part)).status).toBe(204);
    expect((await api().list(`/api/queues/${v2}`)).map((q) => q['name'])).toEqual(['q1']);
    expect((await api().list(`/api/policies/${v2}`)).map((p) => p['name'])).toEqual(['p']);
    await api().delete(`/api/vhosts/${v}`);
    await api().delete(`/api/vhosts/${v2}`);
    await api().delete(`/api/users/${u}`);
  });

  it('refuses what RabbitMQ refuses', async () => {
    const q = name('rq');
    expect((await api().post('/api/definitions', 'nojson')).body).toEqual({ error: 'bad_request', reason: 'failed_to_parse_json' });
    expect((await api().post('/api/definitions', '[]')).body).toEqual({ error: 'bad_request', reason: 'failed_to_parse_json' });
    const noVhost = await api().post('/api/definitions', { queues: [{ name: q, vhost: 'no-such-vhost', durable: true, auto_delete: false, arguments: {} }] });
    expect(noVhost.body).toEqual({ error: 'bad_request', reason: ['no_such_vhost', 'no-such-vhost'] });
    const badPolicy = await api().post('/api/definitions', {
      policies: [{ vhost: '/', name: name('bp'), pattern: '.*', 'apply-to': 'all', definition: { bogus: 1 }, priority: 0 }],
    });
    expect(badPolicy.status).toBe(400);
    expect(String(errorOf(badPolicy).reason)).toContain('are not recognised policy settings');
    const badArg = await api().post('/api/definitions', { queues: [{ name: q, vhost: '/', durable: true, auto_delete: false, arguments: { 'x-max-length': 'x' } }] });
    expect(badArg.status).toBe(400);
    expect((await api().get(`/api/queues/%2F/${q}`)).status).toBe(404);
  });
});

describe('durability of API changes', () => {
  let dataDir: string | undefined;
  let broker: TestBroker | undefined;
  afterAll(async () => {
    await broker?.close();
    if (dataDir !== undefined) await rm(dataDir, { recursive: true, force: true });
  });

  it('every change survives a restart', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'warren-mgmt-'));
    dataDir = dir;
    const start = async () => {
      broker = await startTestBroker({ dataDir: dir, managementPort: 0 });
      return new Api(broker.warren!.managementUrl!);
    };
    let a = await start();
    await a.put('/api/vhosts/dv', { description: 'kept' });
    await a.put('/api/users/du', { password: 'pw', tags: 'monitoring' });
    await a.put('/api/permissions/dv/du', { configure: '', write: '.*', read: '.*' });
    await a.put('/api/topic-permissions/dv/du', { exchange: 'amq.topic', write: '^a', read: '.*' });
    await a.put('/api/policies/dv/dp', { pattern: '^q', definition: { 'message-ttl': 1000 } });
    await a.put('/api/operator-policies/dv/dop', { pattern: '^q', definition: { 'max-length': 7 } });
    await a.put('/api/vhost-limits/dv/max-connections', { value: 3 });
    await a.put('/api/user-limits/du/max-channels', { value: 2 });
    await a.put('/api/global-parameters/dg', { value: 'g' });
    await a.put('/api/queues/dv/q1', { durable: true });
    await a.put('/api/queues/dv/gone', { durable: true });
    await a.delete('/api/queues/dv/gone');
    await a.put('/api/exchanges/dv/x1', { type: 'topic', durable: true });
    await a.post('/api/bindings/dv/e/x1/q/q1', { routing_key: 'k' });
    await a.put('/api/users/admin', { password: 'pw', tags: 'administrator' });
    await a.delete('/api/users/guest');
    const before = await a.as('admin', 'pw').obj('/api/definitions');
    await broker!.close();
    a = (await start()).as('admin', 'pw');
    const after = await a.obj('/api/definitions');
    expect(after).toEqual(before);
    expect(await a.obj('/api/queues/dv/q1')).toMatchObject({ policy: 'dp', operator_policy: 'dop', effective_policy_definition: { 'message-ttl': 1000, 'max-length': 7 } });
    expect((await a.as('guest', 'guest').get('/api/whoami')).status).toBe(401);
    expect((await a.obj('/api/vhosts/dv'))['description']).toBe('kept');
  });
});
