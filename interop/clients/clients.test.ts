/**
 * Cross-language interop suite (issue 6): every stock client's scenario runs against Warren and against
 * the reference RabbitMQ; each trace must match the golden trace, Warren's must equal the reference's
 * (unless a known difference documented in interop/README.md), and a message published by each client
 * must reach every other client with body, properties and headers intact.
 * A client whose Debian package is missing FAILS when CI is set and is skipped (with the reason) locally.
 * INTEROP_TARGETS=reference|warren (comma list) restricts the brokers; INTEROP_CLIENTS=pika,go,... the clients.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import amqp from 'amqplib';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { referenceUrl, startTestBroker, uniqueName, type TestBroker } from '../../test/helpers/broker.js';
import { CLIENTS, MissingClient, STEPS, limited, runClient, type ClientSpec, type Command, type JsonObject, type RunResult } from './client-registry.js';
import { canonical, expectedReceipt, goldenTrace, isKnownDifference, traceByStep } from './trace-compare.js';

type Target = 'reference' | 'warren';
const TARGETS: Target[] = (process.env['INTEROP_TARGETS'] ?? 'reference,warren').split(',').map((s) => s.trim()).filter((s): s is Target => s === 'reference' || s === 'warren');
const ONLY = process.env['INTEROP_CLIENTS']?.split(',').map((s) => s.trim());
const SELECTED = CLIENTS.filter((c) => ONLY === undefined || ONLY.includes(c.name));
const IN_CI = Boolean(process.env['CI']);
const CONCURRENCY = 3;

const golden = goldenTrace();
const prepared = new Map<string, Command | Error>();
let buildDir = '';

interface TargetRun {
  url?: string;
  broker?: TestBroker;
  unavailable?: string;
  scenarios: Map<string, RunResult>;
  /** publisher -> consumer -> what the consumer printed for that publisher's message */
  exchange: Map<string, Map<string, JsonObject>>;
  sent: Map<string, JsonObject>;
  exchangeErrors: string[];
}
const runs = new Map<Target, TargetRun>();

beforeAll(async () => {
  buildDir = await mkdtemp(join(tmpdir(), 'warren-interop-'));
  await limited(2, SELECTED.map((c) => async () => {
    try {
      prepared.set(c.name, await c.prepare(buildDir));
    } catch (err: unknown) {
      prepared.set(c.name, err instanceof Error ? err : new Error(String(err)));
    }
  }));
}, 240_000);

afterAll(async () => {
  for (const run of runs.values()) await run.broker?.close();
  if (buildDir) await rm(buildDir, { recursive: true, force: true });
});

/** Skip locally / fail in CI when the client could not be prepared. */
function commandOrSkip(client: ClientSpec, skip: (note: string) => void): Command {
  const p = prepared.get(client.name);
  if (p === undefined) throw new Error(`${client.name} was not prepared`);
  if (p instanceof MissingClient) {
    if (IN_CI) throw new Error(`interop client ${client.name} is missing in CI: ${p.message}`);
    skip(`${client.name} missing: ${p.message}`);
  }
  if (p instanceof Error) throw p;
  return p;
}

function usable(c: ClientSpec): Command | undefined {
  const p = prepared.get(c.name);
  return p instanceof Error || p === undefined ? undefined : p;
}

async function openTarget(target: Target): Promise<TargetRun> {
  const run: TargetRun = { scenarios: new Map(), exchange: new Map(), sent: new Map(), exchangeErrors: [] };
  try {
    if (target === 'reference') {
      const url = await referenceUrl();
      if (url === undefined) run.unavailable = 'reference RabbitMQ not reachable (REFERENCE_AMQP_URL or 127.0.0.1:5672)';
      else run.url = url;
    } else {
      run.broker = await startTestBroker();
      run.url = run.broker.url;
    }
  } catch (err: unknown) {
    run.unavailable = `could not start Warren: ${err instanceof Error ? err.message : String(err)}`;
  }
  return run;
}

/** Fanout exchange per publisher, one queue per consumer bound to it: X -> every Y, pairwise. */
async function runExchange(run: TargetRun, url: string): Promise<void> {
  const parts = SELECTED.filter((c) => c.exchanges && usable(c) !== undefined);
  const conn = await amqp.connect(url);
  const ch = await conn.createChannel();
  const queues = new Map<string, Map<string, string>>(); // consumer -> publisher -> queue
  const exchanges = new Map<string, string>();
  try {
    for (const pub of parts) {
      const ex = uniqueName(`interop-x-${pub.name}`);
      exchanges.set(pub.name, ex);
      await ch.assertExchange(ex, 'fanout', { durable: false, autoDelete: false });
      for (const con of parts) {
        const q = uniqueName(`interop-q-${pub.name}-to-${con.name}`);
        await ch.assertQueue(q, { durable: false });
        await ch.bindQueue(q, ex, '');
        const m = queues.get(con.name) ?? new Map<string, string>();
        m.set(pub.name, q);
        queues.set(con.name, m);
      }
    }
    await limited(CONCURRENCY, parts.map((pub) => async () => {
      const r = await runClient(usable(pub) as Command, ['publish', url, exchanges.get(pub.name) ?? '']);
      const sent = r.lines.find((l) => 'sent' in l)?.['sent'];
      if (r.code !== 0 || sent === undefined || sent === null || typeof sent !== 'object' || Array.isArray(sent)) {
        run.exchangeErrors.push(`${pub.name} publish failed (exit ${r.code}): ${r.stdout}${r.stderr}`);
      } else run.sent.set(pub.name, sent);
    }));
    await limited(CONCURRENCY, parts.map((con) => async () => {
      const mine = queues.get(con.name) ?? new Map<string, string>();
      const byQueue = new Map([...mine].map(([p, q]) => [q, p]));
      const r = await runClient(usable(con) as Command, ['consume', url, ...[...mine].filter(([p]) => run.sent.has(p)).map(([, q]) => q)]);
      for (const l of r.lines) {
        const pub = byQueue.get(String(l['queue']));
        if (pub === undefined) continue;
        const m = run.exchange.get(pub) ?? new Map<string, JsonObject>();
        const rec = l['received'];
        m.set(con.name, rec !== undefined && rec !== null && typeof rec === 'object' && !Array.isArray(rec) ? rec : { error: String(l['error'] ?? 'no output') });
        run.exchange.set(pub, m);
      }
      if (r.code !== 0) run.exchangeErrors.push(`${con.name} consume exited ${r.code}: ${r.stderr.slice(0, 2000)}`);
    }));
  } finally {
    for (const m of queues.values()) for (const q of m.values()) await ch.deleteQueue(q);
    for (const ex of exchanges.values()) await ch.deleteExchange(ex);
    await conn.close();
  }
}

function stepsOf(c: ClientSpec): readonly string[] {
  return c.steps ?? STEPS;
}

for (const target of TARGETS) {
  describe(`interop clients against ${target}`, () => {
    beforeAll(async () => {
      const run = await openTarget(target);
      runs.set(target, run);
      const url = run.url;
      if (url === undefined) return;
      await limited(CONCURRENCY, SELECTED.map((c) => async () => {
        const cmd = usable(c);
        if (cmd !== undefined) run.scenarios.set(c.name, await runClient(cmd, ['scenario', url]));
      }));
      await runExchange(run, url);
    }, 300_000);

    for (const client of SELECTED) {
      test(`${client.name} (${client.language}) scenario`, (ctx) => {
        const cmd = commandOrSkip(client, (note) => ctx.skip(note));
        void cmd;
        const run = runs.get(target);
        if (run?.unavailable !== undefined) {
          if (target === 'warren') throw new Error(run.unavailable);
          ctx.skip(run.unavailable);
        }
        const r = run?.scenarios.get(client.name);
        expect(r, 'scenario did not run').toBeDefined();
        const trace = traceByStep(r?.lines ?? []);
        for (const step of stepsOf(client)) {
          const got = trace.get(step);
          const want = golden.get(step);
          expect(got, `${client.name}: step ${step} missing; stderr:\n${r?.stderr ?? ''}`).toBeDefined();
          expect(canonical(got ?? null), `${client.name} step ${step} on ${target}`).toBe(canonical(want ?? null));
        }
        expect(r?.code, `${client.name} exit code; stderr:\n${r?.stderr ?? ''}`).toBe(0);
      });
    }

    test('cross-language message exchange (every publisher -> every consumer)', (ctx) => {
      const run = runs.get(target);
      if (run?.unavailable !== undefined) {
        if (target === 'warren') throw new Error(run.unavailable);
        ctx.skip(run.unavailable);
      }
      const parts = SELECTED.filter((c) => c.exchanges && usable(c) !== undefined);
      if (parts.length < 2) ctx.skip('fewer than two clients available');
      const problems: string[] = [...(run?.exchangeErrors ?? [])];
      for (const pub of parts) {
        const sent = run?.sent.get(pub.name);
        if (sent === undefined) continue;
        for (const con of parts) {
          const got = run?.exchange.get(pub.name)?.get(con.name);
          const full = expectedReceipt(sent, pub.name, con.name);
          const want = con.bodyOnly ? { body_hex: full['body_hex'] ?? null } : full;
          if (got === undefined) problems.push(`${pub.name} -> ${con.name}: nothing received`);
          else if (canonical(got) !== canonical(want)) problems.push(`${pub.name} -> ${con.name}:\n  sent ${canonical(want)}\n  got  ${canonical(got)}`);
        }
      }
      expect(problems.join('\n')).toBe('');
    });
  });
}

if (TARGETS.includes('reference') && TARGETS.includes('warren')) {
  describe('what clients observe: Warren vs reference', () => {
    for (const client of SELECTED) {
      test(`${client.name} sees the same on Warren as on RabbitMQ`, (ctx) => {
        commandOrSkip(client, (note) => ctx.skip(note));
        const ref = runs.get('reference');
        const war = runs.get('warren');
        if (ref?.unavailable !== undefined) ctx.skip(ref.unavailable);
        if (war?.unavailable !== undefined) throw new Error(war.unavailable);
        const a = traceByStep(ref?.scenarios.get(client.name)?.lines ?? []);
        const b = traceByStep(war?.scenarios.get(client.name)?.lines ?? []);
        const diffs: string[] = [];
        for (const step of stepsOf(client)) {
          const x = canonical(a.get(step) ?? null);
          const y = canonical(b.get(step) ?? null);
          if (x !== y && isKnownDifference(client.name, step) === undefined) diffs.push(`${step}:\n  reference ${x}\n  warren    ${y}`);
        }
        for (const [pub, byConsumer] of ref?.exchange ?? []) {
          const x = canonical(byConsumer.get(client.name) ?? null);
          const y = canonical(war?.exchange.get(pub)?.get(client.name) ?? null);
          if (x !== y && isKnownDifference(client.name, 'exchange') === undefined) diffs.push(`message from ${pub}:\n  reference ${x}\n  warren    ${y}`);
        }
        expect(diffs.join('\n')).toBe('');
      });
    }
  });
}
