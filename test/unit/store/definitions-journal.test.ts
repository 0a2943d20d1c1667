/**
 * The definitions journal (definitions-journal.ts) on both stores and its file-only rules: changes
 * replay over the snapshot across restarts, one fsync covers a burst of changes, a torn or corrupt
 * tail is cut with a warning, compaction starts a new generation and drops the old journal once the
 * snapshot is durable, a crash between the two is harmless (replay is idempotent), a snapshot placed
 * by a user replaces the state (stale journals deleted), write errors reach the waiters and are
 * retried, and a change nested 8,000 levels deep is stored.
 */
import { copyFile, mkdtemp, readdir, readFile, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { encodeDefinitionChange, type DefinitionChange } from '../../../src/store/definition-changes.js';
import { emptyDefinitions, type Definitions, type QueueDefinition } from '../../../src/store/definitions.js';
import { nodeFileOps, type FileOps } from '../../../src/store/file-ops.js';
import { FileStore } from '../../../src/store/file-store.js';
import { MemoryBackend, MemoryStore } from '../../../src/store/memory-store.js';
import type { Store, StoreLogger } from '../../../src/store/store.js';

const queue = (name: string, args: QueueDefinition['arguments'] = {}): QueueDefinition =>
  ({ name, vhost: '/', durable: true, auto_delete: false, arguments: args });
const putQueue = (name: string, args?: QueueDefinition['arguments']): DefinitionChange => ({ op: 'put', kind: 'queues', value: queue(name, args) });
const delQueue = (name: string): DefinitionChange => ({ op: 'delete', kind: 'queues', value: { vhost: '/', name } });
const bind = (q: string, op: 'put' | 'delete' = 'put'): DefinitionChange => ({
  op, kind: 'bindings',
  value: { source: 'x', vhost: '/', destination: q, destination_type: 'queue', routing_key: q, arguments: { a: [1, { b: 'c' }] } },
});

function append(s: Store, ...changes: DefinitionChange[]): void {
  for (const c of changes) s.appendDefinitionChange(encodeDefinitionChange(c));
}

function synced(s: Store): Promise<void> {
  return new Promise((resolve, reject) => s.afterSync((err) => (err ? reject(err) : resolve())));
}

const names = (d: Definitions | undefined): string[] => (d?.queues ?? []).map((q) => q.name);

class Captured implements StoreLogger {
  readonly warnings: Array<{ obj: object; msg: string }> = [];
  info(): void {}
  warn(obj: object, msg: string): void { this.warnings.push({ obj, msg }); }
}

function nested(depth: number): QueueDefinition['arguments'] {
  const root: Record<string, unknown> = {};
  let cur = root;
  for (let i = 0; i < depth; i++) {
    const next: Record<string, unknown> = {};
    cur['a'] = next;
    cur = next;
  }
  cur['leaf'] = true;
  return root as QueueDefinition['arguments'];
}

function depthOf(v: unknown): number {
  let d = 0;
  let cur = v as Record<string, unknown> | undefined;
  while (cur !== undefined && typeof cur['a'] === 'object') { d++; cur = cur['a'] as Record<string, unknown>; }
  return d;
}

const kinds: Array<[string, () => Promise<{ open(): Promise<Store>; cleanup(): Promise<void> }>]> = [
  ['memory', async () => {
    const backend = new MemoryBackend();
    return { open: () => MemoryStore.open({ backend }), cleanup: async () => {} };
  }],
  ['file', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'warren-journal-'));
    return { open: () => FileStore.open({ dir }), cleanup: () => rm(dir, { recursive: true, force: true }) };
  }],
];

describe.each(kinds)('definitions journal: %s store', (_kind, make) => {
  const cleanups: Array<() => Promise<void>> = [];
  afterEach(async () => { for (const c of cleanups.splice(0)) await c(); });

  async function harness(): Promise<{ open(): Promise<Store> }> {
    const h = await make();
    const opened: Store[] = [];
    cleanups.push(async () => { for (const s of opened) await s.close().catch(() => undefined); await h.cleanup(); });
    return { open: async () => { const s = await h.open(); opened.push(s); return s; } };
  }

  it('replays changes over the snapshot after a restart (clean or not)', async () => {
    const h = await harness();
    const s = await h.open();
    expect(await s.loadDefinitions()).toBeUndefined();
    await s.saveDefinitions({ ...emptyDefinitions(), product_name: 'Warren', queues: [queue('q1'), queue('q2')] });
    append(s, putQueue('q3'), bind('q3'), delQueue('q1'), putQueue('q2', { 'x-max-length': 5 }), bind('q2'), bind('q2', 'delete'));
    await synced(s);
    const s2 = await h.open(); // no close: an unclean stop
    const d = await s2.loadDefinitions();
    expect(d?.product_name).toBe('Warren');
    expect(names(d)).toEqual(['q2', 'q3']);
    expect(d?.queues[0]?.arguments).toEqual({ 'x-max-length': 5 });
    expect(d?.bindings.map((b) => b.destination)).toEqual(['q3']);
  });

  it('changes made after a compaction stay on top of the new snapshot', async () => {
    const h = await harness();
    const s = await h.open();
    append(s, putQueue('a'), putQueue('b'));
    const saving = s.saveDefinitions({ ...emptyDefinitions(), queues: [queue('a'), queue('b')] });
    append(s, putQueue('c'), delQueue('a'));
    await saving;
    await synced(s);
    expect(names(await s.loadDefinitions())).toEqual(['b', 'c']);
    await s.close();
    expect(names(await (await h.open()).loadDefinitions())).toEqual(['b', 'c']);
  });

  it('one sync makes a burst of changes durable', async () => {
    const h = await harness();
    const s = await h.open();
    const before = s.stats().syncs;
    for (let i = 0; i < 1000; i++) append(s, putQueue(`q${i}`));
    await synced(s);
    expect(s.stats().syncs - before).toBeLessThanOrEqual(2);
    expect(s.durableSeq).toBe(s.writeSeq);
    expect(s.definitionsJournalBytes).toBeGreaterThan(1000 * 40);
    expect((await (await h.open()).loadDefinitions())?.queues).toHaveLength(1000);
  });

  it('stores a change whose arguments nest 8,000 levels deep', async () => {
    const h = await harness();
    const s = await h.open();
    append(s, putQueue('deep', nested(8000)));
    await synced(s);
    const d = await (await h.open()).loadDefinitions();
    expect(depthOf(d?.queues[0]?.arguments)).toBe(8000);
    // and through a compaction snapshot as well
    const s3 = await h.open();
    await s3.saveDefinitions(d!);
    expect(depthOf((await (await h.open()).loadDefinitions())?.queues[0]?.arguments)).toBe(8000);
  });

  it('deleting a vhost removes what it held; deleting a user its permissions', async () => {
    const h = await harness();
    const s = await h.open();
    append(s,
      { op: 'put', kind: 'vhosts', value: { name: 'v' } },
      { op: 'put', kind: 'users', value: { name: 'u', password_hash: '', hashing_algorithm: 'x', tags: [] } },
      { op: 'put', kind: 'permissions', value: { user: 'u', vhost: 'v', configure: '.*', write: '.*', read: '.*' } },
      { op: 'put', kind: 'permissions', value: { user: 'u', vhost: '/', configure: '.*', write: '.*', read: '.*' } },
      { op: 'put', kind: 'queues', value: { ...queue('inv'), vhost: 'v' } },
      { op: 'put', kind: 'policies', value: { vhost: 'v', name: 'p', pattern: '.*', 'apply-to': 'all', priority: 0, definition: { 'max-length': 1 } } },
      putQueue('keep'),
      { op: 'delete', kind: 'vhosts', value: { name: 'v' } },
    );
    let d = await s.loadDefinitions();
    expect(d?.vhosts).toEqual([]);
    expect(names(d)).toEqual(['keep']);
    expect(d?.policies).toEqual([]);
    expect(d?.permissions.map((p) => p.vhost)).toEqual(['/']);
    append(s, { op: 'delete', kind: 'users', value: { name: 'u' } });
    d = await s.loadDefinitions();
    expect(d?.users).toEqual([]);
    expect(d?.permissions).toEqual([]);
  });
});

describe('definitions journal: file rules', () => {
  const dirs: string[] = [];
  const stores: Store[] = [];
  afterEach(async () => {
    for (const s of stores.splice(0)) await s.close().catch(() => undefined);
    for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
  });

  async function dir(): Promise<string> {
    const d = await mkdtemp(path.join(tmpdir(), 'warren-journal-'));
    dirs.push(d);
    return d;
  }

  async function open(d: string, logger?: StoreLogger, fileOps?: FileOps): Promise<FileStore> {
    const s = await FileStore.open({ dir: d, ...(logger === undefined ? {} : { logger }), ...(fileOps === undefined ? {} : { fileOps }) });
    stores.push(s);
    return s;
  }

  const journals = async (d: string): Promise<string[]> => (await readdir(d)).filter((f) => f.endsWith('.journal')).sort();

  it('cuts a torn tail at the last complete record, with a warning', async () => {
    const d = await dir();
    const s = await open(d);
    append(s, putQueue('a'), putQueue('b'), putQueue('c'));
    await synced(s);
    const [j] = await journals(d);
    const file = path.join(d, j!);
    const size = (await stat(file)).size;
    await truncate(file, size - 5); // the third record loses its last bytes
    const log = new Captured();
    const s2 = await open(d, log);
    expect(names(await s2.loadDefinitions())).toEqual(['a', 'b']);
    expect(log.warnings.map((w) => w.msg)).toContain('store: torn or corrupt tail of the definitions journal cut off');
    expect(log.warnings[0]?.obj).toMatchObject({ keptRecords: 2, reason: 'incomplete record' });
    // new records go after the cut, and the next start sees them
    append(s2, putQueue('d'));
    await synced(s2);
    expect(names(await (await open(d)).loadDefinitions())).toEqual(['a', 'b', 'd']);
  });

  it('a corrupt record ends the journal there (checksum)', async () => {
    const d = await dir();
    const s = await open(d);
    append(s, putQueue('a'), putQueue('bbbb'), putQueue('c'));
    await synced(s);
    const file = path.join(d, (await journals(d))[0]!);
    const bytes = await readFile(file);
    bytes[bytes.indexOf('bbbb')] = 0x7a; // 'zbbb': same length, wrong CRC
    await writeFile(file, bytes);
    const log = new Captured();
    const s2 = await open(d, log);
    expect(names(await s2.loadDefinitions())).toEqual(['a']);
    expect(log.warnings[0]?.obj).toMatchObject({ keptRecords: 1, reason: 'checksum mismatch' });
  });

  it('a journal with a bad header is deleted', async () => {
    const d = await dir();
    await writeFile(path.join(d, 'definitions.1.journal'), Buffer.from('not a journal at all'));
    const log = new Captured();
    const s = await open(d, log);
    expect(await s.loadDefinitions()).toBeUndefined();
    expect(await journals(d)).toEqual([]);
    expect(log.warnings.map((w) => w.msg)).toContain('store: definitions journal with a missing or bad header deleted');
  });

  it('compaction writes the snapshot with its generation and deletes the journal it covers', async () => {
    const d = await dir();
    const s = await open(d);
    append(s, putQueue('a'), putQueue('b'));
    await synced(s);
    expect(await journals(d)).toEqual(['definitions.1.journal']);
    await s.saveDefinitions({ ...emptyDefinitions(), queues: [queue('a'), queue('b')] });
    await s.close();
    const snap = JSON.parse(await readFile(path.join(d, 'definitions.json'), 'utf8')) as Record<string, unknown>;
    expect(snap['warren_journal']).toBe(2);
    expect(await journals(d)).toEqual([]);
    expect(s.definitionsJournalBytes).toBe(0);
    const s2 = await open(d);
    append(s2, putQueue('c'));
    await synced(s2);
    expect(await journals(d)).toEqual(['definitions.2.journal']);
    expect(names(await (await open(d)).loadDefinitions())).toEqual(['a', 'b', 'c']);
  });

  it('a crash between the snapshot rename and the journal deletion is harmless', async () => {
    const d = await dir();
    const s = await open(d);
    append(s, putQueue('a'), putQueue('b'), bind('b'), delQueue('a'), putQueue('a'));
    await synced(s);
    const j = path.join(d, (await journals(d))[0]!);
    await copyFile(j, `${j}.saved`);
    const doc = await s.loadDefinitions();
    await s.saveDefinitions(doc!);
    append(s, delQueue('b'), bind('b', 'delete'));
    await synced(s);
    await copyFile(`${j}.saved`, j); // the old journal is back, as if never deleted
    await rm(`${j}.saved`);
    const d2 = await (await open(d)).loadDefinitions();
    expect(names(d2)).toEqual(['a']);
    expect(d2?.bindings).toEqual([]);
    expect(await journals(d)).toEqual(['definitions.2.journal']); // the covered one was deleted at open
  });

  it('a definitions.json placed without a generation replaces the state: older journals are dropped', async () => {
    const d = await dir();
    const s = await open(d);
    append(s, putQueue('old'));
    await synced(s);
    await s.close();
    const imported = { ...emptyDefinitions(), rabbit_version: '3.10.25', queues: [queue('imported')] };
    await writeFile(path.join(d, 'definitions.json'), JSON.stringify(imported));
    const log = new Captured();
    const s2 = await open(d, log);
    expect(names(await s2.loadDefinitions())).toEqual(['imported']);
    expect(log.warnings.map((w) => w.msg)).toContain('store: definitions.json has no journal generation (imported): older definitions journal deleted');
    const snap = JSON.parse(await readFile(path.join(d, 'definitions.json'), 'utf8')) as Record<string, unknown>;
    expect(snap['rabbit_version']).toBe('3.10.25');
    expect(typeof snap['warren_journal']).toBe('number');
    append(s2, putQueue('later'));
    await synced(s2);
    expect(names(await (await open(d)).loadDefinitions())).toEqual(['imported', 'later']);
  });

  it('a failed journal write fails that batch, keeps the bytes and succeeds on retry', async () => {
    const d = await dir();
    let failWrites = false;
    const ops: FileOps = {
      ...nodeFileOps,
      writeSync: (fd, b, o, l, p) => {
        if (failWrites) throw Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' });
        return nodeFileOps.writeSync(fd, b, o, l, p);
      },
    };
    const s = await open(d, undefined, ops);
    failWrites = true;
    append(s, putQueue('a'));
    await expect(synced(s)).rejects.toThrow(/ENOSPC/);
    failWrites = false;
    append(s, putQueue('b'));
    await synced(s);
    expect(names(await (await open(d)).loadDefinitions())).toEqual(['a', 'b']);
  });
});
