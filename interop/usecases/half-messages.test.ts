/**
 * Use cases of Warren's half messages and delayed retries (issue 18), each driven by three stock
 * clients unchanged: amqplib (Node), pika (Python, python3-pika) and amqp091-go (Go,
 * golang-github-rabbitmq-amqp091-go-dev). The programs are interop/usecases/clients/*; each speaks
 * the same JSON config and prints one JSON line per step.
 *
 * 1. A payment service publishes "payment succeeded" as a half message to an x-transactional fanout
 *    exchange feeding billing, benefits and notification; its local transaction commits, so it
 *    commits the message: each service gets it once, and a repeated commit is refused (nack/return).
 * 2. The local transaction fails: rollback; nobody gets anything.
 * 3. The producer crashes between the half message and its decision (the process exits): nothing is
 *    delivered; the restarted service answers the broker's check requests from its database
 *    (commit for one transaction, unknown -> rollback for another), and only the committed payment
 *    reaches the three services.
 * 4. A retry-with-back-off worker: a queue with x-retry-delays and a dead-letter queue; a job that
 *    fails twice succeeds on its second retry, a poison job is dead-lettered after its last retry.
 *
 * Warren only: the reference RabbitMQ has neither feature. A missing client fails in CI and is
 * skipped locally with the package names.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import amqp, { type Channel, type ChannelModel } from 'amqplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exec, MissingClient, need, prepareOrSkip, runClient, type Command, type JsonObject } from '../clients/client-registry.js';
import { startTestBroker, uniqueName, waitFor, type TestBroker } from '../../test/helpers/broker.js';

const here = dirname(fileURLToPath(import.meta.url));
/** Check-back period of the payments exchange (short: the crash case waits for one check). */
const CHECK_AFTER = 300;

interface UseCaseClient {
  readonly name: string;
  readonly packages: readonly string[];
  prepare(buildDir: string): Promise<Command>;
}

const CLIENTS: readonly UseCaseClient[] = [
  {
    name: 'amqplib', packages: [],
    async prepare() {
      return { file: process.execPath, args: ['--import', 'tsx', join(here, 'clients', 'node', 'payment-client.ts')], cwd: here };
    },
  },
  {
    name: 'pika', packages: ['python3-pika'],
    async prepare() {
      await need('/usr/bin/python3', this.packages);
      const r = await exec('/usr/bin/python3', ['-c', 'import pika']);
      if (!r.ok) throw new MissingClient('python3 cannot import pika (install Debian package python3-pika)');
      return { file: '/usr/bin/python3', args: [join(here, 'clients', 'python', 'payment_client.py')], cwd: here };
    },
  },
  {
    name: 'amqp091-go', packages: ['golang-go', 'golang-github-rabbitmq-amqp091-go-dev'],
    async prepare(buildDir) {
      await need('/usr/bin/go', this.packages);
      await need('/usr/share/gocode/src/github.com/rabbitmq/amqp091-go/connection.go', this.packages);
      const out = join(buildDir, 'payment-go');
      const r = await exec('/usr/bin/go', ['build', '-o', out, join(here, 'clients', 'go', 'main.go')]);
      if (!r.ok) throw new Error(`go build failed:\n${r.out}`);
      return { file: out, args: [], cwd: here };
    },
  },
];

const SERVICES = ['billing', 'benefits', 'notification'] as const;

let broker: TestBroker;
let buildDir: string;
let conn: ChannelModel;
let ch: Channel;
beforeAll(async () => {
  buildDir = await mkdtemp(join(tmpdir(), 'warren-usecase-half-'));
  broker = await startTestBroker({ managementPort: 0 });
  conn = await amqp.connect(broker.url);
  ch = await conn.createChannel();
}, 60_000);
afterAll(async () => {
  await conn?.close().catch(() => undefined);
  await broker?.close();
  await rm(buildDir, { recursive: true, force: true });
});

/** Drain a queue (basic.get) and return the message ids found. */
async function ids(queue: string): Promise<string[]> {
  const out: string[] = [];
  for (;;) {
    const m = await ch.get(queue, { noAck: true });
    if (m === false) return out;
    out.push(String(m.properties.messageId));
  }
}

async function pending(exchange: string): Promise<string[]> {
  const res = await fetch(`${broker.warren!.managementUrl}/api/exchanges/%2F/${exchange}/half-messages`, {
    headers: { authorization: `Basic ${Buffer.from('guest:guest').toString('base64')}` },
  });
  return ((await res.json()) as { transaction_id: string }[]).map((r) => r.transaction_id);
}

const steps = (lines: readonly JsonObject[]) => lines.map((l) => l['step']);

describe.each(CLIENTS)('half messages and retries with $name', (client) => {
  let cmd: Command | undefined;
  let skipReason: string | undefined;
  const exchange = uniqueName(`payments-${client.name}`);
  const checkQueue = uniqueName(`payment-checks-${client.name}`);
  const queues = Object.fromEntries(SERVICES.map((s) => [s, uniqueName(`${s}-${client.name}`)])) as Record<typeof SERVICES[number], string>;
  const base = { exchange, routing_key: 'payment.succeeded', check_queue: checkQueue };
  const run = async (cfg: Record<string, unknown>) => {
    const r = await runClient(cmd!, [JSON.stringify({ url: broker.url, ...base, ...cfg })], 90_000);
    return { ...r, steps: steps(r.lines) };
  };

  beforeAll(async () => {
    const p = await prepareOrSkip(client.name, () => client.prepare(buildDir));
    if (!('cmd' in p)) {
      skipReason = p.skipReason;
      return;
    }
    cmd = p.cmd;
    await ch.assertExchange(exchange, 'x-transactional', { durable: true, arguments: {
      'x-transactional-type': 'fanout', 'x-check-after': CHECK_AFTER, 'x-check-limit': 5 } });
    await ch.assertQueue(checkQueue, { durable: true });
    for (const q of Object.values(queues)) {
      await ch.assertQueue(q, { durable: true });
      await ch.bindQueue(q, exchange, '');
    }
  }, 120_000);
  afterAll(async () => {
    if (cmd === undefined) return;
    for (const q of [checkQueue, ...Object.values(queues)]) await ch.deleteQueue(q);
    await ch.deleteExchange(exchange);
  });

  it('payment committed: billing, benefits and notification each get it once; a repeated commit is refused', async (t) => {
    if (cmd === undefined) return t.skip(skipReason);
    const txid = `${client.name}-pay-1`;
    const r = await run({ mode: 'pay', txid, local_tx_ok: true, payment: { order: 1, amount: 4200 } });
    expect(r.steps, r.stderr).toEqual(['half', 'commit', 'repeat', 'done']);
    expect(r.lines[1]!['refused']).toBeNull();
    expect(r.lines[2]!['refused']).toBeTruthy(); // nacked / returned: "was already committed"
    for (const s of SERVICES) expect(await waitFor(async () => { const got = await ids(queues[s]); return got.length > 0 ? got : undefined; })).toEqual([txid]);
    expect(r.code).toBe(0);
  });

  it('local transaction failed: rolled back, nobody gets the payment', async (t) => {
    if (cmd === undefined) return t.skip(skipReason);
    const txid = `${client.name}-pay-2`;
    const r = await run({ mode: 'pay', txid, local_tx_ok: false, payment: { order: 2, amount: 1 } });
    expect(r.steps, r.stderr).toEqual(['half', 'rollback', 'repeat', 'done']);
    expect(r.lines[1]!['refused']).toBeNull();
    expect(r.lines[2]!['refused']).toBeTruthy();
    for (const s of SERVICES) expect(await ids(queues[s])).toEqual([]);
    expect(await pending(exchange)).toEqual([]);
  });

  it('producer crashes between the half message and its decision: check-back resolves it from the service database', async (t) => {
    if (cmd === undefined) return t.skip(skipReason);
    const committed = `${client.name}-crash-committed`;
    const lost = `${client.name}-crash-rolled-back`;
    // Checks of the earlier payments, sent before their decisions on a slow machine, are stale.
    await ch.purgeQueue(checkQueue);
    for (const txid of [committed, lost]) {
      const r = await run({ mode: 'crash', txid, payment: { order: txid } });
      expect(r.steps, r.stderr).toEqual(['half']);
      expect(r.code).toBe(3);
    }
    expect((await pending(exchange)).sort()).toEqual([committed, lost].sort());
    for (const s of SERVICES) expect(await ids(queues[s])).toEqual([]);
    // The restarted service: its database says the first transaction committed, the second is unknown.
    const r = await run({ mode: 'checker', db: { [committed]: 'commit' }, expect: 2 });
    expect(r.steps.at(-1), r.stderr).toBe('done');
    const answers = r.lines.filter((l) => l['step'] === 'answered');
    // Checks repeat every CHECK_AFTER ms: the first answer per transaction decides it, a later
    // answer to an earlier check of the same transaction is refused ("was already committed").
    const first = new Map<unknown, JsonObject>();
    for (const a of answers) {
      if (!first.has(a['txid'])) first.set(a['txid'], a);
      else expect(a['refused']).toBeTruthy();
    }
    expect(Object.fromEntries([...first].map(([k, v]) => [k, v['decision']]))).toEqual({ [committed]: 'commit', [lost]: 'rollback' });
    for (const a of first.values()) {
      expect(a['refused']).toBeNull();
      expect(Number(a['check'])).toBeGreaterThanOrEqual(1);
    }
    for (const s of SERVICES) expect(await waitFor(async () => { const got = await ids(queues[s]); return got.length > 0 ? got : undefined; })).toEqual([committed]);
    expect(await pending(exchange)).toEqual([]);
    await ch.purgeQueue(checkQueue); // later checks of the same transactions, sent before the answers
  });

  it('retry-with-back-off worker: a flaky job succeeds on its second retry, a poison job is dead-lettered', async (t) => {
    if (cmd === undefined) return t.skip(skipReason);
    const jobs = uniqueName(`jobs-${client.name}`);
    const failed = uniqueName(`jobs-failed-${client.name}`);
    await ch.assertQueue(failed, { durable: true });
    await ch.assertQueue(jobs, { durable: true, arguments: {
      'x-retry-delays': [100, 300], 'x-dead-letter-exchange': '', 'x-dead-letter-routing-key': failed } });
    try {
      ch.sendToQueue(jobs, Buffer.from('job-1'), { persistent: true });
      ch.sendToQueue(jobs, Buffer.from('poison-1'), { persistent: true });
      const r = await run({ mode: 'worker', queue: jobs, fail_times: 2, attempts: 6 });
      expect(r.steps, r.stderr).toEqual(['attempt', 'attempt', 'attempt', 'attempt', 'attempt', 'attempt', 'done']);
      for (const job of ['job-1', 'poison-1']) {
        const attempts = r.lines.filter((l) => l['job'] === job);
        expect(attempts.map((a) => Number(a['retry']))).toEqual([0, 1, 2]);
        expect(attempts.map((a) => a['ok'])).toEqual(job === 'job-1' ? [false, false, true] : [false, false, false]);
        const at = attempts.map((a) => Number(a['at']));
        // Lower bounds only (coarse clock, loaded machine): each retry waited its delay.
        expect(at[1]! - at[0]!).toBeGreaterThanOrEqual(80);
        expect(at[2]! - at[1]!).toBeGreaterThanOrEqual(250);
      }
      const dead = await waitFor(async () => (await ch.get(failed, { noAck: true })) || undefined);
      expect(dead!.content.toString()).toBe('poison-1');
      expect(dead!.properties.headers?.['x-retry-count']).toBe(2);
      expect(await ch.get(failed)).toBe(false);
    } finally {
      await ch.deleteQueue(jobs);
      await ch.deleteQueue(failed);
    }
  });
});
