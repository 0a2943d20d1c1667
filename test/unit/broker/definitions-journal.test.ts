/**
 * The broker side of the definitions journal (persistence.ts): every durable change of the model
 * (topology and control plane) is journaled as its own record and replayed after a crash, without
 * any snapshot being written; a change that cannot be stored is refused before it is applied; a
 * failed fsync fails only its waiters and the next change is saved; the journal is compacted into
 * the snapshot in the background once it outgrows it.
 */
import { UNRESTRICTED } from '../../../src/broker/access-control.js';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { AmqpError } from '../../../src/core/amqp-error.js';
import { Broker, DEFAULT_BROKER_CONFIG } from '../../../src/broker/broker.js';
import { Persistence } from '../../../src/broker/persistence.js';
import type { Vhost } from '../../../src/broker/vhost.js';
import { CONTENT_CODEC } from '../../../src/server/content-codec.js';
import { waitFor } from '../../helpers/broker.js';
import { FileStore, MemoryBackend, MemoryStore, nodeFileOps, type DefinitionChange, type FileOps, type Store } from '../../../src/store/index.js';

const logger = pino({ level: 'silent' });
const persistence = (store: Store) => new Persistence(store, { pagingThreshold: 1 << 30 }, CONTENT_CODEC, logger);

async function started(store: Store): Promise<{ b: Broker; p: Persistence; v: Vhost }> {
  const p = persistence(store);
  const b = new Broker({ ...DEFAULT_BROKER_CONFIG }, p);
  await b.recover(logger);
  return { b, p, v: b.vhosts.get('/')! };
}

const declare = (v: Vhost, name: string, durable = true) =>
  v.declareQueue({ name, passive: false, durable, exclusive: false, autoDelete: false, args: [], connectionId: -1 }, UNRESTRICTED);
const exchange = (v: Vhost, name: string) =>
  v.declareExchange({ name, type: 'topic', passive: false, durable: true, autoDelete: false, internal: false, args: [] }, UNRESTRICTED);

describe('definitions journal: broker', () => {
  const dirs: string[] = [];
  afterEach(async () => { for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true }); });

  it('replays topology and control-plane changes after a crash (no snapshot written since start)', async () => {
    const backend = new MemoryBackend();
    const { b, v } = await started(new MemoryStore({ backend }));
    const snapshotAfterStart = backend.definitions;
    exchange(v, 'x');
    declare(v, 'q1');
    declare(v, 'q2');
    declare(v, 'transient', false);
    v.bindQueue('q1', 'x', 'a.#', [], -1, UNRESTRICTED);
    v.bindQueue('q2', 'x', 'b.*', [], -1, UNRESTRICTED);
    v.bindQueue('transient', 'x', 'c', [], -1, UNRESTRICTED);
    v.unbindQueue('q2', 'x', 'b.*', [], -1, UNRESTRICTED);
    v.deleteQueue('q1', false, false, -1, UNRESTRICTED);
    b.putVhost('v1', { description: 'd', tags: ['t'], tracing: false }, 'guest');
    b.users.put('admin', { password: 'pw' }, ['administrator']);
    b.permissions.set({ user: 'admin', vhost: 'v1', configure: '.*', write: '', read: '.*' });
    b.policies.put('policy', 'v1', 'p', { pattern: '^q', definition: { 'max-length': 2 }, priority: 1, 'apply-to': 'queues' });
    b.policies.put('operator', 'v1', 'op', { pattern: '.*', definition: { 'max-length': 5 }, priority: 0, 'apply-to': 'queues' });
    b.parameters.setGlobal('cluster_name', 'warren@test');
    b.deleteUser('guest');
    await b.afterDefinitionsSaved();
    expect(backend.definitions).toBe(snapshotAfterStart); // all of it is in the journal only

    const { b: b2, v: v2 } = await started(new MemoryStore({ backend }));
    expect([...v2.queues.keys()]).toEqual(['q2']);
    expect(v2.exchanges.get('x')?.bindings.map((x) => x.routingKey)).toEqual([]);
    expect(b2.vhostMetadata.get('v1')).toMatchObject({ description: 'd', tags: ['t'] });
    expect(b2.users.get('guest')).toBeUndefined();
    expect(b2.users.get('admin')?.tags).toEqual(['administrator']);
    expect(b2.permissions.get('admin', 'v1')).toMatchObject({ write: '', read: '.*' });
    expect(b2.permissions.list({ user: 'guest' })).toEqual([]);
    expect(b2.policies.get('policy', 'v1', 'p')).toMatchObject({ pattern: '^q', priority: 1, applyTo: 'queues' });
    expect(b2.policies.get('operator', 'v1', 'op')?.definition).toEqual({ 'max-length': 5 });
    expect(b2.parameters.getGlobal('cluster_name')?.value).toBe('warren@test');

    // deleting the vhost and the policy is journaled too
    b2.policies.delete('policy', 'v1', 'p');
    b2.deleteVhost('v1');
    await b2.afterDefinitionsSaved();
    const { b: b3 } = await started(new MemoryStore({ backend }));
    expect(b3.vhosts.has('v1')).toBe(false);
    expect(b3.policies.list('policy')).toEqual([]);
    expect(b3.permissions.list({ vhost: 'v1' })).toEqual([]);
  });

  it('refuses a change that cannot be stored before applying it', async () => {
    const store = new MemoryStore();
    const { p, v } = await started(store);
    const cyclic: Record<string, unknown> = {};
    cyclic['self'] = cyclic;
    const seq = store.writeSeq;
    expect(() => p.definitionsChanged({ op: 'put', kind: 'parameters', value: { component: 'c', vhost: '/', name: 'n', value: cyclic as never } }))
      .toThrow(AmqpError);
    try {
      p.definitionsChanged({ op: 'put', kind: 'parameters', value: { component: 'c', vhost: '/', name: 'n', value: cyclic as never } });
    } catch (e) {
      expect((e as AmqpError).code).toBe(406);
      expect((e as AmqpError).text).toMatch(/^PRECONDITION_FAILED - cannot store parameters entry 'n' in vhost '\/'/);
    }
    expect(store.writeSeq).toBe(seq);

    // The vhost asks before it changes anything: a refusal leaves the model as it was.
    exchange(v, 'x');
    declare(v, 'q');
    const refuse = (c: DefinitionChange): void => { throw new AmqpError(406, `cannot store ${c.kind}`); };
    v.listener = { definitionsChanged: refuse };
    expect(() => declare(v, 'q-new')).toThrow('cannot store queues');
    expect(v.queues.has('q-new')).toBe(false);
    expect(() => exchange(v, 'x-new')).toThrow('cannot store exchanges');
    expect(v.exchanges.has('x-new')).toBe(false);
    expect(() => v.bindQueue('q', 'x', 'k', [], -1, UNRESTRICTED)).toThrow('cannot store bindings');
    expect(v.exchanges.get('x')?.bindings).toEqual([]);
    expect(() => declare(v, 'transient-ok', false)).not.toThrow(); // nothing to store
  });

  it('a failed fsync fails that batch only; the next change is saved', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'warren-defs-'));
    dirs.push(dir);
    let failNext = false;
    const ops: FileOps = {
      ...nodeFileOps,
      fdatasync: (fd, cb) => {
        if (failNext) { failNext = false; setImmediate(cb, Object.assign(new Error('EIO: i/o error, fsync'), { code: 'EIO' })); return; }
        nodeFileOps.fdatasync(fd, cb);
      },
    };
    const store = await FileStore.open({ dir, fileOps: ops });
    const { p, v } = await started(store);
    failNext = true;
    declare(v, 'q1');
    const first = await new Promise<Error | null>((resolve) => p.afterDefinitionsSaved(resolve));
    expect(first?.message).toMatch(/EIO/);
    declare(v, 'q2');
    expect(p.definitionsPending).toBe(true);
    expect(await new Promise<Error | null>((resolve) => p.afterDefinitionsSaved(resolve))).toBeNull();
    expect(p.definitionsPending).toBe(false);
    await p.close();
    const { v: v2, p: p2 } = await started(await FileStore.open({ dir }));
    expect([...v2.queues.keys()].sort()).toEqual(['q1', 'q2']);
    await p2.close();
  });

  it('compacts the journal into the snapshot in the background once it outgrows it', async () => {
    const backend = new MemoryBackend();
    const store = new MemoryStore({ backend });
    const { b, v } = await started(store);
    exchange(v, 'x');
    for (let i = 0; i < 6000; i++) {
      declare(v, `queue-with-a-longer-name-${i}`);
      v.bindQueue(`queue-with-a-longer-name-${i}`, 'x', `key.${i}`, [], -1, UNRESTRICTED);
    }
    await b.afterDefinitionsSaved();
    await waitFor(() => store.definitionsSnapshotBytes > 1024 * 1024);
    expect(store.definitionsJournalBytes).toBeLessThan(store.definitionsSnapshotBytes);
    const { v: v2 } = await started(new MemoryStore({ backend }));
    expect(v2.queues.size).toBe(6000);
    expect(v2.exchanges.get('x')?.bindings).toHaveLength(6000);
  });
});
