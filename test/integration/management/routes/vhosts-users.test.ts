/**
 * /api/vhosts, /api/users, /api/permissions, /api/topic-permissions and /api/user-limits: create,
 * update and delete, with what goes with a deleted vhost or user, logins of API-created users over
 * AMQP and HTTP, and RabbitMQ's answers to bad input. Permissions are stored and returned (they
 * are enforced from issue 13 on).
 */
import amqp from 'amqplib';
import { describe, expect, it } from 'vitest';
import { enc, useManagement, type Obj } from '../api-client.js';

const m = useManagement();
const api = () => m.api();
const name = (p: string) => m.ctx.name(p);

describe('vhosts', () => {
  it('create (creator gets permissions), update, use over AMQP, delete with everything inside', async () => {
    const v = name('vh');
    expect((await api().put(`/api/vhosts/${v}`, { description: 'd1', tags: 'a,b' })).status).toBe(201);
    expect(await api().obj(`/api/vhosts/${v}`)).toMatchObject({
      name: v, description: 'd1', tags: ['a', 'b'], metadata: { description: 'd1', tags: ['a', 'b'] }, tracing: false,
      messages: 0, cluster_state: expect.any(Object),
    });
    expect(await api().list(`/api/vhosts/${v}/permissions`)).toEqual([{ vhost: v, user: 'guest', configure: '.*', write: '.*', read: '.*' }]);
    expect((await api().put(`/api/vhosts/${v}`, { description: 'd2' })).status).toBe(204);
    expect((await api().obj(`/api/vhosts/${v}`))['description']).toBe('d2');
    await api().put(`/api/queues/${v}/q1`, { durable: true });
    const conn = await amqp.connect(`${m.ctx.url}/${enc(v)}`);
    const ch = await conn.createChannel();
    expect((await ch.checkQueue('q1')).queue).toBe('q1');
    await conn.close();
    expect((await api().delete(`/api/vhosts/${v}`)).status).toBe(204);
    expect((await api().get(`/api/vhosts/${v}`)).status).toBe(404);
    expect((await api().get(`/api/queues/${v}`)).status).toBe(404);
    expect(await api().list('/api/permissions')).not.toContainEqual(expect.objectContaining({ vhost: v }));
    expect((await api().delete(`/api/vhosts/${v}`)).status).toBe(404);
  });

  it('refuses bad JSON and creates nothing', async () => {
    const v = name('vh');
    expect((await api().put(`/api/vhosts/${v}`, '{bad')).body).toEqual({ error: 'bad_request', reason: 'not_json' });
    expect((await api().get(`/api/vhosts/${v}`)).status).toBe(404);
  });
});

describe('users', () => {
  it('create with password and tags, log in over HTTP and AMQP, update, delete', async () => {
    const u = name('user');
    expect((await api().put(`/api/users/${u}`, { password: 'pw1', tags: 'management,policymaker' })).status).toBe(201);
    expect(await api().obj(`/api/users/${u}`)).toMatchObject({
      name: u, hashing_algorithm: 'rabbit_password_hashing_sha256', tags: ['management', 'policymaker'], limits: {},
      password_hash: expect.stringMatching(/^[A-Za-z0-9+/]{48}$/),
    });
    expect(await api().as(u, 'pw1').obj('/api/whoami')).toEqual({ name: u, tags: ['management', 'policymaker'] });
    expect((await api().as(u, 'wrong').get('/api/whoami')).body).toEqual({ error: 'not_authorized', reason: 'Login failed' });
    await api().put(`/api/permissions/%2F/${u}`, { configure: '.*', write: '.*', read: '.*' });
    const conn = await amqp.connect(m.ctx.url.replace('guest:guest', `${u}:pw1`));
    await conn.close();
    expect((await api().put(`/api/users/${u}`, { password: 'pw2', tags: ['monitoring'] })).status).toBe(204);
    expect((await api().as(u, 'pw2').obj('/api/whoami'))['tags']).toEqual(['monitoring']);
    expect((await api().delete(`/api/users/${u}`)).status).toBe(204);
    expect(await api().list('/api/permissions')).not.toContainEqual(expect.objectContaining({ user: u }));
    expect((await api().delete(`/api/users/${u}`)).status).toBe(404);
  });

  it('password_hash import (RabbitMQ\'s sha256 scheme), passwordless users, bulk delete, without-permissions', async () => {
    const u = name('hashed');
    // RabbitMQ's sha256 scheme: base64(salt ++ sha256(salt ++ "guest")), salt 0x908DC60A.
    const hash = 'kI3GCrswBLNZQzHJJ95QLoyfAVooYhnvf7jbqiW9BjOYUloe';
    expect((await api().put(`/api/users/${u}`, { password_hash: hash, tags: 'management' })).status).toBe(201);
    expect((await api().obj(`/api/users/${u}`))['password_hash']).toBe(hash);
    expect((await api().as(u, 'guest').get('/api/whoami')).status).toBe(200);
    const nopw = name('nopw');
    expect((await api().put(`/api/users/${nopw}`, { tags: 'administrator' })).status).toBe(201);
    expect((await api().as(nopw, '').get('/api/whoami')).status).toBe(401);
    const without = (await api().list('/api/users/without-permissions')).map((x) => x['name']);
    expect(without).toEqual(expect.arrayContaining([u, nopw]));
    const bulk = await api().post('/api/users/bulk-delete', { users: [u, 'no-such-user-here'] });
    expect(bulk.body).toEqual({ error: 'bad_request', reason: ['no_such_user', 'no-such-user-here'] });
    expect((await api().get(`/api/users/${u}`)).status).toBe(200);
    expect((await api().post('/api/users/bulk-delete', { users: [u, nopw] })).status).toBe(204);
    expect((await api().get(`/api/users/${u}`)).status).toBe(404);
  });

  it('refuses a user without tags, bad JSON', async () => {
    const u = name('user');
    expect((await api().put(`/api/users/${u}`, { password: 'x' })).body).toEqual({ error: 'bad_request', reason: 'tags_not_present' });
    expect((await api().put(`/api/users/${u}`, 'nojson')).body).toEqual({ error: 'bad_request', reason: 'not_json' });
    expect((await api().get(`/api/users/${u}`)).status).toBe(404);
  });

  it('user limits', async () => {
    const u = name('limited');
    await api().put(`/api/users/${u}`, { password: 'x', tags: '' });
    expect((await api().put(`/api/user-limits/${u}/max-connections`, { value: 10 })).status).toBe(204);
    expect(await api().list(`/api/user-limits/${u}`)).toEqual([{ user: u, value: { 'max-connections': 10 } }]);
    const bad = await api().put(`/api/user-limits/${u}/max-connections`, { value: 'x' });
    expect(bad.body).toEqual({ error: 'bad_request', reason: 'Validation failed\n\nmax-connections should be a number, actually was <<"x">>\n' });
    expect((await api().delete(`/api/user-limits/${u}/max-connections`)).status).toBe(204);
    expect(await api().list(`/api/user-limits/${u}`)).toEqual([]);
    await api().delete(`/api/users/${u}`);
  });
});

describe('permissions', () => {
  it('set, show, list by user and vhost, delete; RabbitMQ\'s errors', async () => {
    const u = name('perm');
    await api().put(`/api/users/${u}`, { password: 'x', tags: '' });
    expect((await api().put(`/api/permissions/%2F/${u}`, { configure: '^a', write: '.*', read: '' })).status).toBe(201);
    expect((await api().put(`/api/permissions/%2F/${u}`, { configure: '^b', write: '.*', read: '' })).status).toBe(204);
    const p = { user: u, vhost: '/', configure: '^b', write: '.*', read: '' };
    expect(await api().obj(`/api/permissions/%2F/${u}`)).toEqual(p);
    expect(await api().list(`/api/users/${u}/permissions`)).toEqual([p]);
    expect((await api().put(`/api/permissions/%2F/${u}`, { configure: '.*', write: '.*' })).body)
      .toEqual({ error: 'bad_request', reason: '[{key_missing,read}]' });
    expect((await api().put(`/api/permissions/%2F/${u}`, { configure: '(', write: '', read: '' })).status).toBe(400);
    expect((await api().put('/api/permissions/%2F/no-such-user', { configure: '', write: '', read: '' })).body)
      .toEqual({ error: 'bad_request', reason: 'vhost_or_user_not_found' });
    expect((await api().put(`/api/permissions/no-such-vhost/${u}`, { configure: '', write: '', read: '' })).status).toBe(400);
    expect((await api().obj(`/api/permissions/%2F/${u}`))['configure']).toBe('^b');
    expect((await api().put(`/api/topic-permissions/%2F/${u}`, { exchange: 'amq.topic', write: '^a', read: '.*' })).status).toBe(201);
    const tp = { user: u, vhost: '/', exchange: 'amq.topic', write: '^a', read: '.*' };
    expect(await api().list(`/api/topic-permissions/%2F/${u}`)).toEqual([tp]);
    expect((await api().list('/api/topic-permissions')).filter((x: Obj) => x['user'] === u)).toEqual([tp]);
    expect((await api().delete(`/api/topic-permissions/%2F/${u}`)).status).toBe(204);
    expect((await api().delete(`/api/permissions/%2F/${u}`)).status).toBe(204);
    expect((await api().get(`/api/permissions/%2F/${u}`)).status).toBe(404);
    await api().delete(`/api/users/${u}`);
  });
});
