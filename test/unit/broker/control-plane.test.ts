/**
 * The broker's control-plane state: vhost lifecycle (delete takes everything in the vhost with it),
 * users with tags and limits, permissions, runtime parameters with component validators, vhost
 * limits, and the definitions document that saves all of it (export -> import is the identity, and
 * a restart keeps a deleted default user/vhost deleted).
 */
import { UNRESTRICTED } from '../../../src/broker/access-control.js';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { Broker, DEFAULT_BROKER_CONFIG } from '../../../src/broker/broker.js';
import { ControlError, invalid } from '../../../src/broker/control-error.js';
import { exportDefinitions, importDefinitions } from '../../../src/broker/definitions-codec.js';
import { Persistence } from '../../../src/broker/persistence.js';
import { CONTENT_CODEC } from '../../../src/server/content-codec.js';
import { MemoryBackend, MemoryStore } from '../../../src/store/index.js';

const logger = pino({ level: 'silent' });

function broker(persistence?: Persistence): Broker {
  return new Broker({ ...DEFAULT_BROKER_CONFIG }, persistence);
}

function declareQueue(b: Broker, vhost: string, name: string, durable = true): void {
  b.vhosts.get(vhost)!.declareQueue({ name, passive: false, durable, exclusive: false, autoDelete: false, args: [], connectionId: -1 }, UNRESTRICTED);
}

describe('vhost lifecycle', () => {
  it('creates with metadata, grants the creator, updates, and deletes everything inside', () => {
    const b = broker();
    expect(b.putVhost('v1', { description: 'd', tags: ['a'], tracing: false }, 'guest')).toBe(true);
    expect(b.permissions.get('guest', 'v1')).toMatchObject({ configure: '.*', write: '.*', read: '.*' });
    expect(b.putVhost('v1', { description: 'd2', tags: [], tracing: false }, 'guest')).toBe(false);
    expect(b.vhostMetadata.get('v1')?.description).toBe('d2');
    declareQueue(b, 'v1', 'q');
    const v = b.vhosts.get('v1')!;
    v.declareExchange({ name: 'x', type: 'fanout', passive: false, durable: true, autoDelete: false, internal: false, args: [] }, UNRESTRICTED);
    v.bindQueue('q', 'x', '', [], -1, UNRESTRICTED);
    b.policies.put('policy', 'v1', 'p', { pattern: '.*', definition: { 'max-length': 1 }, priority: 0, 'apply-to': 'all' });
    b.limits.set('v1', 'max-queues', 3);
    const q = v.queues.get('q')!;
    expect(b.deleteVhost('v1')).toBe(true);
    expect(b.vhosts.has('v1')).toBe(false);
    expect(q.deleted).toBe(true);
    expect(b.policies.list('policy')).toEqual([]);
    expect(b.parameters.list()).toEqual([]);
    expect(b.permissions.list({ vhost: 'v1' })).toEqual([]);
    expect(b.deleteVhost('v1')).toBe(false);
  });

  it('closes the vhost\'s registered connections with a reason', () => {
    const b = broker();
    b.putVhost('v2', { description: '', tags: [], tracing: false });
    const closed: string[] = [];
    const conn = (id: number, vhost: string) => ({
      id,
      snapshot: () => ({ name: `c${id}`, vhost }) as never,
      channels: () => [],
      unackedFrom: () => [],
      close: (reason: string) => closed.push(`c${id}: ${reason}`),
    });
    b.connections.add(conn(1, 'v2'));
    b.connections.add(conn(2, '/'));
    b.deleteVhost('v2');
    expect(closed).toEqual(["c1: vhost 'v2' is deleted"]);
  });
});

describe('users and permissions', () => {
  it('put/delete users; deleting a user forgets its permissions', () => {
    const b = broker();
    expect(b.users.put('u', { password: 'pw' }, ['management'])).toBe(true);
    expect(b.users.authenticate('u', 'pw')?.tags).toEqual(['management']);
    expect(b.users.put('u', { passwordHash: '', hashingAlgorithm: 'rabbit_password_hashing_sha256' }, [])).toBe(false);
    expect(b.users.authenticate('u', '')).toBeUndefined();
    b.users.setLimits('u', { 'max-connections': 2 });
    b.permissions.set({ user: 'u', vhost: '/', configure: '^a', write: '.*', read: '' });
    b.permissions.setTopic({ user: 'u', vhost: '/', exchange: 'amq.topic', write: '.*', read: '.*' });
    expect(b.deleteUser('u')).toBe(true);
    expect(b.permissions.list({ user: 'u' })).toEqual([]);
    expect(b.permissions.listTopic({ user: 'u' })).toEqual([]);
  });

  it('refuses a permission regex that does not compile', () => {
    const b = broker();
    expect(() => b.permissions.set({ user: 'guest', vhost: '/', configure: '(', write: '', read: '' })).toThrow(ControlError);
  });

  it('a user with another hashing algorithm is kept but cannot log in yet', () => {
    const b = broker();
    b.users.put('h', { passwordHash: 'abcd', hashingAlgorithm: 'rabbit_password_hashing_sha512' }, []);
    expect(b.users.get('h')?.hashingAlgorithm).toBe('rabbit_password_hashing_sha512');
    expect(b.users.authenticate('h', 'x')).toBeUndefined();
  });
});

describe('runtime parameters', () => {
  it('refuses unknown components, validates through the owner, tells the owner', () => {
    const b = broker();
    expect(() => b.parameters.set('shovel', '/', 's', {})).toThrow('component shovel not found');
    const seen: unknown[] = [];
    b.parameters.registerComponent('shovel', {
      validate: (_v, _n, value) => { if (typeof value !== 'object') throw invalid('not a map'); },
      changed: (vhost, name, value) => seen.push([vhost, name, value]),
    });
    expect(() => b.parameters.set('shovel', '/', 's', 1)).toThrow('not a map');
    expect(b.parameters.set('shovel', '/', 's', { a: 1 })).toBe(true);
    expect(b.parameters.set('shovel', '/', 's', { a: 2 })).toBe(false);
    expect(b.parameters.clear('shovel', '/', 's')).toBe(true);
    expect(seen).toEqual([['/', 's', { a: 1 }], ['/', 's', { a: 2 }], ['/', 's', undefined]]);
  });

  it('replays restored parameters to a component registered later', () => {
    const b = broker();
    b.parameters.restore({ component: 'federation-upstream', vhost: '/', name: 'up', value: { uri: 'amqp://' } });
    const seen: string[] = [];
    b.parameters.registerComponent('federation-upstream', { validate: () => {}, changed: (_v, n) => seen.push(n) });
    expect(seen).toEqual(['up']);
  });

  it('vhost limits: one parameter per vhost, RabbitMQ texts', () => {
    const b = broker();
    b.limits.set('/', 'max-connections', 10);
    b.limits.set('/', 'max-queues', 5);
    expect(b.parameters.list('vhost-limits')).toEqual([{ component: 'vhost-limits', vhost: '/', name: 'limits', value: { 'max-connections': 10, 'max-queues': 5 } }]);
    expect(() => b.limits.set('/', 'max-queues', 'x')).toThrow('max-queues should be a number, actually was <<"x">>');
    expect(() => b.limits.set('/', 'bogus', 5)).toThrow('Unrecognised terms [{<<"bogus">>,5}] in limits');
    expect(b.limits.clear('/', 'max-queues')).toBe(true);
    expect(b.limits.of('/')).toEqual({ 'max-connections': 10 });
    b.limits.clear('/', 'max-connections');
    expect(b.parameters.list()).toEqual([]);
  });
});

describe('definitions document', () => {
  function populated(): Broker {
    const b = broker();
    b.putVhost('v1', { description: 'about', tags: ['t'], tracing: false }, 'guest');
    b.users.put('u', { password: 'pw' }, ['monitoring', 'policymaker']);
    b.users.setLimits('u', { 'max-channels': 4 });
    b.permissions.set({ user: 'u', vhost: 'v1', configure: '', write: '.*', read: '.*' });
    b.permissions.setTopic({ user: 'u', vhost: 'v1', exchange: 'amq.topic', write: '^a', read: '.*' });
    b.policies.put('policy', 'v1', 'p', { pattern: '^q', definition: { 'max-length': 1 }, priority: 3, 'apply-to': 'queues' });
    b.policies.put('operator', 'v1', 'op', { pattern: '.*', definition: { expires: 1000 }, priority: 0, 'apply-to': 'all' });
    b.limits.set('v1', 'max-queues', 7);
    b.parameters.setGlobal('cluster_name', 'warren@test');
    declareQueue(b, 'v1', 'q1');
    declareQueue(b, 'v1', 'transient', false);
    return b;
  }

  it('round-trips through export and import', () => {
    const a = populated();
    const doc = exportDefinitions(a);
    expect(doc.queues.map((q) => q.name)).toEqual(['q1']);
    expect(exportDefinitions(a, { includeTransient: true }).queues.map((q) => q.name)).toEqual(['q1', 'transient']);
    expect(doc.parameters).toEqual(expect.arrayContaining([
      { value: { pattern: '.*', definition: { expires: 1000 }, priority: 0, 'apply-to': 'all' }, vhost: 'v1', component: 'operator_policy', name: 'op' },
      { value: { 'max-queues': 7 }, vhost: 'v1', component: 'vhost-limits', name: 'limits' },
    ]));
    expect(doc.policies).toEqual([{ vhost: 'v1', name: 'p', pattern: '^q', 'apply-to': 'queues', definition: { 'max-length': 1 }, priority: 3 }]);
    const b = new Broker({ ...DEFAULT_BROKER_CONFIG, defaultUser: undefined });
    b.deleteVhost('/');
    importDefinitions(b, JSON.parse(JSON.stringify(doc)));
    expect(exportDefinitions(b)).toEqual(doc);
    expect(b.vhosts.get('v1')!.queues.get('q1')!.settings.maxLength).toBe(1);
  });

  it('apply mode validates and leaves existing queues alone', () => {
    const b = populated();
    const doc = exportDefinitions(b, { includeTransient: true });
    expect(() => importDefinitions(b, doc, 'apply')).not.toThrow();
    const bad = { ...doc, policies: [{ vhost: 'v1', name: 'bad', pattern: '.*', 'apply-to': 'all', definition: { bogus: 1 }, priority: 0 }] };
    expect(() => importDefinitions(b, bad, 'apply')).toThrow('are not recognised policy settings');
  });

  it('a restart keeps a deleted default user and vhost deleted, and restores everything else', async () => {
    const backend = new MemoryBackend();
    const open = () => new Persistence(new MemoryStore({ backend }), { pagingThreshold: 1 << 30 }, CONTENT_CODEC, logger);
    const p1 = open();
    const a = broker(p1);
    await a.recover(logger);
    a.putVhost('v1', { description: '', tags: [], tracing: false });
    a.users.put('admin', { password: 'pw' }, ['administrator']);
    a.deleteUser('guest');
    a.deleteVhost('/');
    a.policies.put('policy', 'v1', 'p', { pattern: '.*', definition: { 'max-length': 2 }, priority: 0, 'apply-to': 'all' });
    await a.afterDefinitionsSaved();
    await p1.close();
    const b = broker(open());
    await b.recover(logger);
    expect(b.users.get('guest')).toBeUndefined();
    expect([...b.vhosts.keys()]).toEqual(['v1']);
    expect(b.policies.get('policy', 'v1', 'p')?.definition).toEqual({ 'max-length': 2 });
  });
});
