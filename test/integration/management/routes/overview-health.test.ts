/**
 * The node-level endpoints (/api/overview, /api/nodes, /api/whoami, /api/extensions), the health
 * checks, unknown paths and methods, and authentication and user tags as RabbitMQ applies them
 * (401 bodies, WWW-Authenticate, "Not management user", vhost visibility).
 */
import { describe, expect, it } from 'vitest';
import { useManagement } from '../api-client.js';

const m = useManagement();
const api = () => m.api();
const name = (p: string) => m.ctx.name(p);

describe('node endpoints', () => {
  it('overview carries what rabbitmqadmin and monitoring tools read', async () => {
    await api().put(`/api/queues/%2F/${name('oq')}`, {});
    const o = await api().obj('/api/overview');
    expect(o).toMatchObject({
      management_version: expect.any(String), rabbitmq_version: expect.any(String), product_name: expect.any(String),
      cluster_name: expect.any(String), node: expect.any(String), rates_mode: 'basic',
      queue_totals: { messages: expect.any(Number), messages_ready: expect.any(Number), messages_unacknowledged: expect.any(Number) },
      object_totals: { queues: expect.any(Number), exchanges: expect.any(Number), connections: 0, channels: 0, consumers: 0 },
    });
    const listeners = o['listeners'] as { protocol: string; port: number }[];
    expect(listeners).toContainEqual(expect.objectContaining({ protocol: 'amqp', port: m.ctx.port }));
    expect(listeners).toContainEqual(expect.objectContaining({ protocol: 'http', port: Number(new URL(api().base).port) }));
    const only = await api().obj('/api/overview?columns=rabbitmq_version,object_totals.queues');
    expect(Object.keys(only)).toEqual(['rabbitmq_version', 'object_totals']);
  });

  it('nodes, whoami, extensions', async () => {
    const nodes = await api().list('/api/nodes');
    expect(nodes).toHaveLength(1);
    const n = nodes[0]!;
    expect(n).toMatchObject({ name: expect.any(String), type: 'disc', running: true, mem_used: expect.any(Number), mem_alarm: false, disk_free_alarm: false });
    expect(await api().obj(`/api/nodes/${encodeURIComponent(String(n['name']))}`)).toMatchObject({ name: n['name'] });
    expect((await api().get('/api/nodes/nope@nowhere')).status).toBe(404);
    expect(await api().obj('/api/whoami')).toEqual({ name: 'guest', tags: ['administrator'] });
    expect(await api().json('/api/extensions')).toEqual([]);
  });

  it('unknown paths are 404, wrong methods 405, HEAD answers without a body', async () => {
    expect((await api().get('/api/foobar')).body).toEqual({ error: 'Object Not Found', reason: 'Not Found' });
    expect((await api().request('PATCH', '/api/queues')).status).toBe(405);
    expect((await api().post('/api/overview')).status).toBe(405);
    const head = await api().request('HEAD', '/api/overview');
    expect(head.status).toBe(200);
    expect(head.text).toBe('');
  });
});

describe('health checks', () => {
  it.each([
    ['alarms', { status: 'ok' }], ['local-alarms', { status: 'ok' }], ['virtual-hosts', { status: 'ok' }],
    ['node-is-quorum-critical', { status: 'ok', reason: 'single node cluster' }],
    ['node-is-mirror-sync-critical', { status: 'ok', reason: 'single node cluster' }],
    ['is-in-service', { status: 'ok' }], ['ready-to-serve-clients', { status: 'ok' }],
    ['protocol-listener/amqp', { status: 'ok', protocol: 'amqp' }], ['protocol-listener/amqp091', { status: 'ok', protocol: 'amqp' }],
    ['certificate-expiration/1/days', { status: 'ok' }],
  ])('%s', async (check, expected) => {
    const r = await api().get(`/api/health/checks/${check}`);
    expect(r.status).toBe(200);
    expect(r.body).toEqual(expected);
  });

  it('port and protocol listeners: 503 with the listeners there are, 400 for a bad port', async () => {
    expect(await api().obj(`/api/health/checks/port-listener/${m.ctx.port}`)).toEqual({ status: 'ok', port: m.ctx.port });
    const missing = await api().get('/api/health/checks/port-listener/1');
    expect(missing.status).toBe(503);
    expect(missing.body).toMatchObject({ status: 'failed', reason: 'No active listener', missing: 1, ports: expect.arrayContaining([m.ctx.port]) });
    expect((await api().get('/api/health/checks/port-listener/abc')).body).toEqual({ error: 'bad_request', reason: 'Invalid port' });
    const mqtt = await api().get('/api/health/checks/protocol-listener/mqtt');
    expect(mqtt.status).toBe(503);
    expect(mqtt.body).toMatchObject({ status: 'failed', reason: 'No active listener', missing: 'mqtt', protocols: expect.arrayContaining(['amqp', 'http']) });
  });

  it('alarms: 503 while the memory alarm is on', async () => {
    const meter = m.ctx.broker.warren!.broker.meter;
    const saved = meter.highWatermark;
    meter.highWatermark = 0;
    meter.add(1);
    try {
      const r = await api().get('/api/health/checks/alarms');
      expect(r.status).toBe(503);
      expect(r.body).toMatchObject({ status: 'failed', alarms: [{ resource: 'memory' }] });
    } finally {
      meter.highWatermark = saved;
      meter.sub(1);
    }
    expect((await api().get('/api/health/checks/alarms')).status).toBe(200);
  });
});

describe('authentication and tags', () => {
  it('no credentials: 401, empty body, WWW-Authenticate', async () => {
    const res = await fetch(`${api().base}/api/overview`);
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toBe('Basic realm="RabbitMQ Management"');
    expect(await res.text()).toBe('');
  });

  it('wrong password: Login failed', async () => {
    const r = await api().as('guest', 'nope').get('/api/overview');
    expect(r.status).toBe(401);
    expect(r.body).toEqual({ error: 'not_authorized', reason: 'Login failed' });
  });

  it('tags decide what a user may do, permissions which vhosts a management user sees', async () => {
    const none = name('none');
    const mgmt = name('mgmt');
    const mon = name('mon');
    const pol = name('pol');
    await api().put(`/api/users/${none}`, { password: 'pw', tags: '' });
    await api().put(`/api/users/${mgmt}`, { password: 'pw', tags: 'management' });
    await api().put(`/api/users/${mon}`, { password: 'pw', tags: ['monitoring'] });
    await api().put(`/api/users/${pol}`, { password: 'pw', tags: 'policymaker' });
    const as = (u: string) => api().as(u, 'pw');
    expect((await as(none).get('/api/whoami')).body).toEqual({ error: 'not_authorised', reason: 'Not management user' });
    expect((await as(mgmt).get('/api/users')).body).toEqual({ error: 'not_authorised', reason: 'Not administrator user' });
    expect((await as(mgmt).get('/api/nodes')).body).toEqual({ error: 'not_authorised', reason: 'Not monitor user' });
    expect((await as(mon).get('/api/nodes')).status).toBe(200);
    // A management user without permissions sees no vhost and may not look into one.
    expect(await as(mgmt).list('/api/vhosts')).toEqual([]);
    expect(await as(mgmt).list('/api/queues')).toEqual([]);
    expect((await as(mgmt).get('/api/queues/%2F')).body).toEqual({ error: 'not_authorised', reason: 'User not authorised to access virtual host' });
    await api().put(`/api/permissions/%2F/${mgmt}`, { configure: '.*', write: '.*', read: '.*' });
    expect((await as(mgmt).list('/api/vhosts')).map((v) => v['name'])).toEqual(['/']);
    expect((await as(mgmt).get('/api/queues/%2F')).status).toBe(200);
    // Monitoring users see every vhost.
    expect((await as(mon).list('/api/vhosts')).map((v) => v['name'])).toContain('/');
    // Policies need policymaker.
    const policy = { pattern: '^nothing$', definition: { 'max-length': 1 } };
    expect((await as(mgmt).put(`/api/policies/%2F/${name('p')}`, policy)).body).toEqual({ error: 'not_authorised', reason: 'Not policymaker user' });
    await api().put(`/api/permissions/%2F/${pol}`, { configure: '.*', write: '.*', read: '.*' });
    const p = name('p');
    expect((await as(pol).put(`/api/policies/%2F/${p}`, policy)).status).toBe(201);
    await api().delete(`/api/policies/%2F/${p}`);
    for (const u of [none, mgmt, mon, pol]) await api().delete(`/api/users/${u}`);
  });
});
