/**
 * /api/policies, /api/operator-policies, /api/parameters, /api/global-parameters, /api/vhost-limits
 * and /api/cluster-name: set at runtime, validated with RabbitMQ's texts, applied at once to
 * existing queues and exchanges (observed over AMQP), removed again; nothing stored when refused.
 */
import { describe, expect, it } from 'vitest';
import { errorOf, useManagement } from '../api-client.js';

const m = useManagement();
const api = () => m.api();
const name = (p: string) => m.ctx.name(p);

describe('policies', () => {
  it('a policy set at runtime applies to an existing queue and goes when deleted', async () => {
    const q = name('pq');
    await api().put(`/api/queues/%2F/${q}`, {});
    const conn = await m.ctx.clients.connect();
    const ch = await conn.createConfirmChannel();
    const p = name('p');
    expect((await api().put(`/api/policies/%2F/${p}`, { pattern: `^${q}$`, definition: { 'max-length': 2 }, 'apply-to': 'queues', priority: 1 })).status).toBe(201);
    expect(await api().obj(`/api/policies/%2F/${p}`)).toEqual({
      vhost: '/', name: p, pattern: `^${q}$`, 'apply-to': 'queues', definition: { 'max-length': 2 }, priority: 1,
    });
    expect(await api().obj(`/api/queues/%2F/${q}`)).toMatchObject({ policy: p, effective_policy_definition: { 'max-length': 2 } });
    for (const b of ['1', '2', '3']) ch.sendToQueue(q, Buffer.from(b));
    await ch.waitForConfirms();
    expect((await api().obj(`/api/queues/%2F/${q}`))['messages']).toBe(2);
    expect((await api().delete(`/api/policies/%2F/${p}`)).status).toBe(204);
    ch.sendToQueue(q, Buffer.from('4'));
    await ch.waitForConfirms();
    expect(await api().obj(`/api/queues/%2F/${q}`)).toMatchObject({ messages: 3, policy: null, effective_policy_definition: {} });
    expect((await api().delete(`/api/policies/%2F/${p}`)).status).toBe(404);
  });

  it('alternate-exchange by policy on an existing exchange', async () => {
    const x = name('px');
    const ae = name('ae');
    const q = name('aeq');
    await api().put(`/api/exchanges/%2F/${x}`, { type: 'direct' });
    await api().put(`/api/exchanges/%2F/${ae}`, { type: 'fanout' });
    await api().put(`/api/queues/%2F/${q}`, {});
    await api().post(`/api/bindings/%2F/e/${ae}/q/${q}`, {});
    await api().put(`/api/policies/%2F/${name('aep')}`, { pattern: `^${x}$`, definition: { 'alternate-exchange': ae }, 'apply-to': 'exchanges' });
    const conn = await m.ctx.clients.connect();
    const ch = await conn.createConfirmChannel();
    ch.publish(x, 'nowhere', Buffer.from('m'));
    await ch.waitForConfirms();
    expect((await api().obj(`/api/queues/%2F/${q}`))['messages']).toBe(1);
    expect((await api().obj(`/api/exchanges/%2F/${x}`))['policy']).toEqual(expect.any(String));
  });

  it.each([
    [{ pattern: '^a', definition: { 'max-length': 'x' } }, 'Validation failed\n\n&lt;&lt;"x"&gt;&gt; is not a valid maximum length\n'],
    [{ pattern: '^a', definition: { bogus: 1, 'message-ttl': -1 } }, 'Validation failed\n\n-1 is not a valid message TTL\n'],
    [{ pattern: '^a', definition: { bogus: 1 } }, 'Validation failed\n\n[{&lt;&lt;"bogus"&gt;&gt;,1}] are not recognised policy settings\n'],
    [{ pattern: '^a', definition: {} }, 'Validation failed\n\nno policy provided\n'],
    [{ pattern: '^a', definition: { 'max-length': 1 }, 'apply-to': 'bogus' },
      "Validation failed\n\napply-to 'bogus' unrecognised; should be 'queues', 'exchanges' or 'all'\n"],
    [{ pattern: '^a', definition: { 'max-length': 1 }, priority: 'x' }, 'Validation failed\n\npriority should be a number, actually was &lt;&lt;"x"&gt;&gt;\n'],
    [{ definition: { 'max-length': 1 } }, '[{key_missing,pattern}]'],
    [{ pattern: '^a' }, '[{key_missing,definition}]'],
  ])('refuses %j', async (body, reason) => {
    const p = name('bad');
    const r = await api().put(`/api/policies/%2F/${p}`, body);
    expect(r.status).toBe(400);
    expect(errorOf(r)).toEqual({ error: 'bad_request', reason });
    expect((await api().get(`/api/policies/%2F/${p}`)).status).toBe(404);
  });

  it('unknown vhost: 404 vhost_not_found', async () => {
    const r = await api().put(`/api/policies/no-such-vhost/${name('p')}`, { pattern: '.*', definition: { 'max-length': 1 } });
    expect(r.status).toBe(404);
    expect(r.body).toEqual({ error: 'not_found', reason: 'vhost_not_found' });
  });

  it('operator policies merge in (the lower limit wins) and take only limits', async () => {
    const q = name('opq');
    await api().put(`/api/queues/%2F/${q}`, {});
    const p = name('p');
    const op = name('op');
    await api().put(`/api/policies/%2F/${p}`, { pattern: `^${q}$`, definition: { 'max-length': 10, 'dead-letter-exchange': 'dlx' } });
    expect((await api().put(`/api/operator-policies/%2F/${op}`, { pattern: `^${q}$`, definition: { 'max-length': 3, expires: 600000 }, 'apply-to': 'queues' })).status).toBe(201);
    expect(await api().obj(`/api/queues/%2F/${q}`)).toMatchObject({
      policy: p, operator_policy: op, effective_policy_definition: { 'max-length': 3, 'dead-letter-exchange': 'dlx', expires: 600000 },
    });
    expect((await api().list('/api/operator-policies/%2F')).map((x) => x['name'])).toContain(op);
    const bad = await api().put(`/api/operator-policies/%2F/${name('op')}`, { pattern: '.*', definition: { 'alternate-exchange': 'x' }, 'apply-to': 'exchanges' });
    expect(errorOf(bad).reason).toBe('Validation failed\n\n[{<<"alternate-exchange">>,<<"x">>}] are not recognised policy settings\n');
    // Operator policies are parameters of component operator_policy, as in RabbitMQ.
    expect((await api().list('/api/parameters/operator_policy/%2F')).map((x) => x['name'])).toContain(op);
    await api().delete(`/api/operator-policies/%2F/${op}`);
    await api().delete(`/api/policies/%2F/${p}`);
    expect((await api().obj(`/api/queues/%2F/${q}`))['effective_policy_definition']).toEqual({});
  });
});

describe('parameters, limits, global parameters, cluster name', () => {
  it('refuses parameters of components nobody registered', async () => {
    // (shovel is registered since issue 17: a component no plugin provides)
    const r = await api().put(`/api/parameters/no-such-plugin/%2F/${name('s')}`, { value: { 'src-uri': 'amqp://' } });
    expect(r.body).toEqual({ error: 'bad_request', reason: 'Validation failed\n\ncomponent no-such-plugin not found\n' });
    expect((await api().put('/api/parameters/shovel/%2F/x', {})).body).toEqual({ error: 'bad_request', reason: '[{key_missing,value}]' });
  });

  it('vhost limits: set one at a time, validated, listed as RabbitMQ lists them', async () => {
    const v = name('lv');
    await api().put(`/api/vhosts/${v}`, {});
    expect((await api().put(`/api/vhost-limits/${v}/max-connections`, { value: 10 })).status).toBe(204);
    expect((await api().put(`/api/vhost-limits/${v}/max-queues`, { value: 5 })).status).toBe(204);
    expect(await api().list(`/api/vhost-limits/${v}`)).toEqual([{ vhost: v, value: { 'max-connections': 10, 'max-queues': 5 } }]);
    expect((await api().put(`/api/vhost-limits/${v}/max-queues`, { value: 'x' })).body)
      .toEqual({ error: 'bad_request', reason: 'Validation failed\n\nmax-queues should be a number, actually was <<"x">>\n' });
    expect((await api().put(`/api/vhost-limits/${v}/bogus`, { value: 5 })).body)
      .toEqual({ error: 'bad_request', reason: 'Validation failed\n\nUnrecognised terms [{<<"bogus">>,5}] in limits\n' });
    expect(await api().list(`/api/parameters/vhost-limits/${v}`)).toEqual([
      { value: { 'max-connections': 10, 'max-queues': 5 }, vhost: v, component: 'vhost-limits', name: 'limits' },
    ]);
    expect((await api().delete(`/api/vhost-limits/${v}/max-queues`)).status).toBe(204);
    expect(await api().list(`/api/vhost-limits/${v}`)).toEqual([{ vhost: v, value: { 'max-connections': 10 } }]);
    expect((await api().put('/api/vhost-limits/no-such-vhost/max-queues', { value: 1 })).status).toBe(404);
    await api().delete(`/api/vhosts/${v}`);
    expect((await api().list('/api/vhost-limits')).filter((l) => l['vhost'] === v)).toEqual([]);
  });

  it('global parameters and the cluster name', async () => {
    const g = name('gp');
    expect((await api().put(`/api/global-parameters/${g}`, { value: { a: 1 } })).status).toBe(201);
    expect(await api().obj(`/api/global-parameters/${g}`)).toEqual({ name: g, value: { a: 1 } });
    expect((await api().delete(`/api/global-parameters/${g}`)).status).toBe(204);
    expect((await api().get(`/api/global-parameters/${g}`)).status).toBe(404);
    const before = (await api().obj('/api/cluster-name'))['name'];
    expect(typeof before).toBe('string');
    expect((await api().put('/api/cluster-name', { name: 'warren-test-cluster' })).status).toBe(204);
    expect(await api().obj('/api/cluster-name')).toEqual({ name: 'warren-test-cluster' });
    expect((await api().obj('/api/overview'))['cluster_name']).toBe('warren-test-cluster');
    expect((await api().put('/api/cluster-name', {})).status).toBe(400);
  });
});
