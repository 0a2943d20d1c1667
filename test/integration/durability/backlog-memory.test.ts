/**
 * A backlog far beyond the queue memory budget, issue 3 ("queue contents beyond a configurable
 * memory budget stay on disk and are read back in order when consumers catch up ... keeps the
 * broker's resident memory bounded"; "disk use follows the live backlog"): publish
 * WARREN_BACKLOG_MESSAGES (default 200k) persistent 1 KiB messages with confirms to one durable
 * queue with --queue-memory-budget 4 MiB, watching the broker's VmRSS; drain them all in order
 * with manual acks after a kill -9 (recovery must not read the bodies into memory: RSS checked right
 * after the restart); the data dir shrinks back once drained.
 * The RSS bound is generous on purpose (half the backlog's bytes plus 96 MiB over the idle broker):
 * a broker holding the backlog in memory needs more than the backlog's bytes.
 * Skipped when this build has no --queue-memory-budget.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { hasFlag, killAllBrokers } from './helpers/broker-process.js';
import { getAll, isIntact, makeBody, parseBody, watch } from './helpers/amqp-session.js';
import { diskUsage } from './helpers/data-files.js';
import { Harness } from './helpers/harness.js';
import { waitFor } from '../../helpers/broker.js';

const N = Number(process.env['WARREN_BACKLOG_MESSAGES'] ?? 200_000);
const BODY = 1024;
const MIB = 1024 * 1024;
const BUDGET = 4 * MIB;
const WINDOW = 500;
const skip = hasFlag('--queue-memory-budget') ? undefined : 'this build has no --queue-memory-budget';

describe.skipIf(skip !== undefined)(`a ${N}-message backlog with --queue-memory-budget ${BUDGET}${skip === undefined ? '' : ` (skipped: ${skip})`}`, () => {
  const h = new Harness({ queueMemoryBudget: BUDGET, segmentSize: MIB });
  afterAll(async () => {
    await h.cleanup();
    await killAllBrokers();
  });

  it('keeps the broker RSS bounded, drains everything in order, and gives the disk space back', async () => {
    let b = await h.start();
    const ch = await h.session.confirmChannel();
    await ch.assertQueue('backlog', { durable: true });
    const baseline = b.rssBytes();
    let peak = baseline;
    const sample = (): void => {
      try {
        if (b.running) peak = Math.max(peak, b.rssBytes());
      } catch {
        // the process is exiting (the kill -9 below): /proc has no VmRSS for it any more
      }
    };
    const sampler = setInterval(sample, 100);
    try {
      // Publish, a window of confirms at a time; bodies are built from a template (only the header differs).
      const template = makeBody('backlog', 0, BODY);
      for (let seq = 0; seq < N; seq += WINDOW) {
        for (let s = seq; s < Math.min(seq + WINDOW, N); s++) {
          const body = s % 97 === 0 ? makeBody('backlog', s, BODY) : withHeader(template, s);
          ch.sendToQueue('backlog', body, { persistent: true });
        }
        await ch.waitForConfirms();
        sample();
      }
      const peakDisk = await diskUsage(h.dataDir);
      expect(peakDisk, 'the backlog is on disk').toBeGreaterThan(N * BODY * 0.9);
      expect((await ch.checkQueue('backlog')).messageCount).toBe(N);

      // kill -9 with the whole backlog on disk: the restart must not read every body into memory.
      await h.restart('SIGKILL');
      b = h.broker;
      const afterRecovery = b.rssBytes();
      sample();
      expect(afterRecovery - baseline, `RSS right after recovering ${N} messages: ${(afterRecovery / MIB).toFixed(0)} MiB`)
        .toBeLessThan(N * BODY * 0.5 + 96 * MIB);
      expect((await (await h.session.channel()).checkQueue('backlog')).messageCount).toBe(N);

      // Drain in order with manual acks.
      const consumer = await h.session.channel();
      await consumer.prefetch(1000);
      let next = 0;
      const problems: string[] = [];
      await new Promise<void>((resolve, reject) => {
        consumer.on('close', () => reject(new Error(`consumer channel closed at ${next}\n${b.tail(10)}`)));
        void consumer.consume('backlog', (m) => {
          if (m === null) return reject(new Error('consumer cancelled'));
          const seq = parseBody(m.content)?.seq;
          if (seq !== next && problems.length < 10) problems.push(`expected #${next}, got #${String(seq)}`);
          if (seq !== undefined && seq % 97 === 0 && !isIntact(m.content) && problems.length < 10) problems.push(`#${seq} corrupt`);
          next++;
          if (next % 200 === 0 || next === N) consumer.ack(m, true);
          if (next % 5000 === 0) sample();
          if (next === N) resolve();
        }, { noAck: false }).catch(reject);
      });
      expect(problems).toEqual([]);
      expect(watch(consumer).closed).toBe(false);
      sample();
      const growth = peak - baseline;
      const bound = N * BODY * 0.5 + 96 * MIB;
      if (process.env['WARREN_DURABILITY_VERBOSE'] === '1') {
        console.log(`backlog ${N}: idle RSS ${(baseline / MIB).toFixed(0)} MiB, peak ${(peak / MIB).toFixed(0)} MiB, `
          + `after recovery ${(afterRecovery / MIB).toFixed(0)} MiB, disk peak ${(peakDisk / MIB).toFixed(0)} MiB`);
      }
      expect(growth, `RSS grew ${(growth / MIB).toFixed(0)} MiB over ${(baseline / MIB).toFixed(0)} MiB idle; bound ${(bound / MIB).toFixed(0)} MiB`)
        .toBeLessThan(bound);

      // Disk space comes back (segment deletion may run in the background: poll).
      await h.syncBarrier();
      await waitFor(async () => (await diskUsage(h.dataDir)) < peakDisk * 0.1, 60_000, 200).catch(async () => {
        throw new Error(`data dir still ${await diskUsage(h.dataDir)} bytes after draining (peak ${peakDisk})`);
      });
    } finally {
      clearInterval(sampler);
    }
  }, 600_000);

  it('transient messages paged out under the budget are readable in order, and gone after a restart', async () => {
    const n = Math.max(1000, Math.min(Math.floor(N / 10), 20_000)); // 20 MiB: five times the budget
    if (!h.started || !h.broker.running) await h.start(); // this test also runs alone (-t)
    const ch = await h.session.confirmChannel();
    await ch.assertQueue('paged-transient', { durable: true });
    const template = makeBody('paged-transient', 0, BODY);
    for (let seq = 0; seq < n; seq += WINDOW) {
      for (let s = seq; s < Math.min(seq + WINDOW, n); s++) ch.sendToQueue('paged-transient', withHeader(template, s, 'paged-transient'));
      await ch.waitForConfirms();
    }
    // Read the first half back in order (paged in from disk), leaving the rest.
    const reader = await h.session.channel();
    for (let s = 0; s < n / 2; s++) {
      const m = await reader.get('paged-transient', { noAck: true });
      expect(m === false ? undefined : parseBody(m.content)?.seq).toBe(s);
    }
    await h.restart('SIGTERM');
    const after = await h.session.channel();
    // RabbitMQ: transient messages are gone at boot, so the count says 0 before anything is read.
    const count = (await after.checkQueue('paged-transient')).messageCount;
    const delivered = await getAll(after, 'paged-transient', 'ack');
    expect(delivered.length, 'transient messages delivered after the restart').toBe(0);
    expect(count, 'queue.declare-ok message_count right after the restart').toBe(0);
  }, 300_000);
});

/** A copy of the template body carrying the header of `seq` (same length, filler not checked). */
function withHeader(template: Buffer, seq: number, tag = 'backlog'): Buffer {
  const out = Buffer.from(template);
  const head = Buffer.from(`${tag}#${seq}|`, 'latin1');
  head.copy(out, 0);
  return out;
}
