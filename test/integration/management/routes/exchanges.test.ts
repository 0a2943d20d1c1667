/**
 * /api/exchanges and /api/bindings: declare and delete exchanges (if-unused, reserved names, the
 * default exchange as amq.default), create, list, show and delete bindings by RabbitMQ's properties
 * key (quote_plus of the routing key, '~' for empty, Location header), and the binding lists of
 * exchanges and queues, with RabbitMQ's errors for bad input.
 */
import { describe, expect, it } from 'vitest';
import { enc, errorOf, useManagement, type Obj } from '../api-client.js';

const m = useManagement();
const api = () => m.api();
const name = (p = 'x') => m.ctx.name(p);

describe('exchanges', () => {
  it('declares (201/204), shows, refuses inequivalent and invalid declarations', async () => {
    const x = name();
    expect((await api().put(`/api/exchanges/%2F/${x}`, { type: 'topic', durable: true })).status).toBe(201);
    expect((await api().put(`/api/exchanges/%2F/${x}`, { type: 'topic', durable: 'true' })).status).toBe(204);
    const ineq = await api().put(`/api/exchanges/%2F/${x}`, { type: 'direct', durable: true });
    expect(ineq.body).toEqual({
      error: 'bad_request', reason: `inequivalent arg 'type' for exchange '${x}' in vhost '/': received 'direct' but current is 'topic'`,
    });
    expect(await api().obj(`/api/exchanges/%2F/${x}`)).toMatchObject({
      name: x, vhost: '/', type: 'topic', durable: true, auto_delete: false, internal: false, arguments: {}, incoming: [], outgoing: [],
    });
    const bogus = await api().put(`/api/exchanges/%2F/${name()}`, { type: 'bogus' });
    expect(bogus.body).toEqual({ error: 'bad_request', reason: "invalid exchange type 'bogus'" });
    expect((await api().put('/api/exchanges/%2F/amq.mine', { type: 'direct' })).status).toBe(401);
    expect((await api().put(`/api/exchanges/nope-vhost/${x}`, { type: 'direct' })).status).toBe(404);
    const defaults = await api().put(`/api/exchanges/%2F/${name()}`, {});
    expect(defaults.status).toBe(201);
  });

  it('the default exchange is amq.default in paths and "" in JSON', async () => {
    const d = await api().obj('/api/exchanges/%2F/amq.default');
    expect(d).toMatchObject({ name: '', type: 'direct', durable: true });
    const all = await api().list('/api/exchanges/%2F');
    expect(all.map((e) => e['name'])).toEqual(expect.arrayContaining(['', 'amq.direct', 'amq.fanout', 'amq.headers', 'amq.match', 'amq.topic']));
    expect((await api().delete('/api/exchanges/%2F/amq.direct')).status).toBe(401);
  });

  it('delete: if-unused, 404 when missing', async () => {
    const x = name();
    const q = name('q');
    await api().put(`/api/exchanges/%2F/${x}`, { type: 'fanout' });
    await api().put(`/api/queues/%2F/${q}`, {});
    await api().post(`/api/bindings/%2F/e/${x}/q/${q}`, {});
    const inUse = await api().delete(`/api/exchanges/%2F/${x}?if-unused=true`);
    expect(inUse.body).toEqual({ error: 'bad_request', reason: `exchange '${x}' in vhost '/' in use` });
    expect((await api().delete(`/api/exchanges/%2F/${x}`)).status).toBe(204);
    expect((await api().delete(`/api/exchanges/%2F/${x}`)).status).toBe(404);
    expect(await api().list(`/api/queues/%2F/${q}/bindings`)).toHaveLength(1);
  });
});

describe('bindings', () => {
  it('create with Location, list, show and delete by properties key', async () => {
    const x = name();
    const q = name('q');
    await api().put(`/api/exchanges/%2F/${x}`, { type: 'topic' });
    await api().put(`/api/queues/%2F/${q}`, {});
    const created = await api().post(`/api/bindings/%2F/e/${x}/q/${q}`, { routing_key: 'a b~c/ü#', arguments: {} });
    expect(created.status).toBe(201);
    expect(created.headers.get('location')).toBe(`${q}/a%2Bb%257Ec%252F%25C3%25BC%2523`);
    await api().post(`/api/bindings/%2F/e/${x}/q/${q}`, {});
    await api().post(`/api/bindings/%2F/e/${x}/q/${q}`, { routing_key: 'k', arguments: { x: 1 } });
    const listed = await api().list(`/api/bindings/%2F/e/${x}/q/${q}`);
    expect(listed.map((b) => [b['routing_key'], b['properties_key']])).toEqual([
      ['', '~'], ['a b~c/ü#', 'a+b%7Ec%2F%C3%BC%23'], ['k', expect.stringMatching(/^k~[A-Za-z0-9_-]{6}$/)],
    ]);
    const withArgs = listed[2]!;
    const shown = await api().obj(`/api/bindings/%2F/e/${x}/q/${q}/${enc(String(withArgs['properties_key']))}`);
    expect(shown).toEqual({ ...withArgs });
    expect(shown).toMatchObject({ source: x, vhost: '/', destination: q, destination_type: 'queue', arguments: { x: 1 } });
    expect((await api().delete(`/api/bindings/%2F/e/${x}/q/${q}/${enc('a+b%7Ec%2F%C3%BC%23')}`)).status).toBe(204);
    expect((await api().delete(`/api/bindings/%2F/e/${x}/q/${q}/~`)).status).toBe(204);
    expect((await api().delete(`/api/bindings/%2F/e/${x}/q/${q}/~`)).status).toBe(404);
    expect((await api().get(`/api/bindings/%2F/e/${x}/q/${q}/k~nothere`)).status).toBe(404);
    expect((await api().list(`/api/bindings/%2F/e/${x}/q/${q}`)).map((b) => b['routing_key'])).toEqual(['k']);
  });

  it('exchange-to-exchange bindings and the source/destination lists', async () => {
    const src = name('src');
    const dst = name('dst');
    await api().put(`/api/exchanges/%2F/${src}`, { type: 'direct' });
    await api().put(`/api/exchanges/%2F/${dst}`, { type: 'fanout' });
    expect((await api().post(`/api/bindings/%2F/e/${src}/e/${dst}`, { routing_key: 'r' })).status).toBe(201);
    const source = await api().list(`/api/exchanges/%2F/${src}/bindings/source`);
    expect(source).toEqual([{ source: src, vhost: '/', destination: dst, destination_type: 'exchange', routing_key: 'r', arguments: {}, properties_key: 'r' }]);
    expect(await api().list(`/api/exchanges/%2F/${dst}/bindings/destination`)).toEqual(source);
    expect((await api().delete(`/api/bindings/%2F/e/${src}/e/${dst}/r`)).status).toBe(204);
  });

  it('refuses bindings to or from what does not exist, and the default exchange', async () => {
    const x = name();
    const q = name('q');
    await api().put(`/api/exchanges/%2F/${x}`, { type: 'direct' });
    await api().put(`/api/queues/%2F/${q}`, {});
    const noQueue = await api().post(`/api/bindings/%2F/e/${x}/q/nope-queue`, { routing_key: 'k' });
    expect(noQueue.status).toBe(404);
    expect(noQueue.body).toEqual({ error: 'not_found', reason: "no queue 'nope-queue' in vhost '/'" });
    const noExchange = await api().post(`/api/bindings/%2F/e/nope-exchange/q/${q}`, { routing_key: 'k' });
    expect(errorOf(noExchange)).toEqual({ error: 'not_found', reason: "no exchange 'nope-exchange' in vhost '/'" });
    expect((await api().post(`/api/bindings/%2F/e/amq.default/q/${q}`, { routing_key: 'k' })).status).toBe(401);
    expect((await api().post(`/api/bindings/%2F/e/${x}/q/${q}`, '{bad')).status).toBe(400);
    expect((await api().get(`/api/bindings/%2F/e/${x}/q/nope-queue`)).status).toBe(404);
    // The default exchange's implicit binding is listed, as RabbitMQ lists it.
    const qb = await api().list(`/api/queues/%2F/${q}/bindings`);
    expect(qb).toEqual([{ source: '', vhost: '/', destination: q, destination_type: 'queue', routing_key: q, arguments: {}, properties_key: q }]);
    const all = (await api().list('/api/bindings/%2F')).filter((b: Obj) => b['destination'] === q);
    expect(all).toEqual(qb);
  });
});
