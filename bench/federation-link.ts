/**
 * `node dist/bench/federation-link.js [messages] [size]`: what a federation link costs per message.
 * Two Warrens in this process (central and edge, memory stores); N messages published with confirms
 * to a fanout exchange on central, consumed from a queue bound to the same exchange on the edge,
 * which federates it from central (ack-mode on-confirm). The same publisher/consumer run once
 * against central alone is the baseline; the difference in process CPU per message is the link's
 * cost (both brokers' side of it: the upstream queue, the link's consume, ack and local publish).
 * Measured, never asserted; prints JSON.
 */
import amqplib from 'amqplib';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startWarren, type Warren } from '../src/cli/warren.js';

const N = Number(process.argv[2] ?? 100_000);
const SIZE = Number(process.argv[3] ?? 256);

async function broker(name: string): Promise<{ w: Warren; dir: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'warren-fedbench-'));
  const w = await startWarren({ host: '127.0.0.1', port: 0, dataDir: dir, storeKind: 'memory', logLevel: 'silent', server: { clusterName: name } });
  return { w, dir };
}

/** Publish N to `pubUrl`'s exchange x (confirm window 1000), consume from q on `subUrl`; seconds and CPU seconds. */
async function run(pubUrl: string, subUrl: string, x: string, q: string): Promise<{ seconds: number; cpu: number }> {
  const pc = await amqplib.connect(pubUrl);
  const sc = await amqplib.connect(subUrl);
  const ch = await pc.createConfirmChannel();
  const sub = await sc.createChannel();
  await sub.prefetch(1000);
  let got = 0;
  let done!: () => void;
  const all = new Promise<void>((r) => { done = r; });
  await sub.consume(q, (m) => {
    if (m === null) return;
    if (++got % 100 === 0 || got === N) sub.ack(m, true);
    if (got === N) done();
  });
  const body = Buffer.alloc(SIZE, 1);
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  let inFlight = 0;
  for (let i = 0; i < N; i++) {
    while (inFlight >= 1000) await new Promise((r) => setImmediate(r));
    inFlight++;
    ch.publish(x, '', body, {}, () => { inFlight--; });
  }
  await all;
  const seconds = (performance.now() - t0) / 1000;
  const c = process.cpuUsage(cpu0);
  await pc.close();
  await sc.close();
  return { seconds, cpu: (c.user + c.system) / 1e6 };
}

async function main(): Promise<void> {
  const central = await broker('bench-central');
  const edge = await broker('bench-edge');
  try {
    const cc = await amqplib.connect(central.w.url);
    const ec = await amqplib.connect(edge.w.url);
    const cch = await cc.createChannel();
    const ech = await ec.createChannel();
    await cch.assertExchange('fx', 'fanout', { durable: false });
    await cch.assertQueue('base', { durable: false });
    await cch.bindQueue('base', 'fx', '');
    const baseline = await run(central.w.url, central.w.url, 'fx', 'base');
    await cch.deleteQueue('base');

    await ech.assertExchange('fx', 'fanout', { durable: false });
    await ech.assertQueue('sink', { durable: false });
    await ech.bindQueue('sink', 'fx', '');
    edge.w.broker.parameters.set('federation-upstream', '/', 'central', { uri: central.w.url });
    edge.w.broker.policies.put('policy', '/', 'fed', { pattern: '^fx$', definition: { 'federation-upstream': 'central' }, priority: 0, 'apply-to': 'exchanges' });
    // Wait until the link's queue is bound upstream.
    for (let i = 0; i < 600; i++) {
      const x = central.w.broker.vhosts.get('/')?.exchanges.get('fx');
      if (x !== undefined && x.bindings.length > 0) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    const federated = await run(central.w.url, edge.w.url, 'fx', 'sink');
    await cc.close();
    await ec.close();
    const per = (r: { seconds: number; cpu: number }) => ({ msgPerSec: Math.round(N / r.seconds), cpuUsPerMsg: Math.round((r.cpu / N) * 1e7) / 10 });
    console.log(JSON.stringify({
      date: new Date().toISOString(), messages: N, size: SIZE,
      baseline: per(baseline), federated: per(federated),
      linkCpuUsPerMsg: Math.round(((federated.cpu - baseline.cpu) / N) * 1e7) / 10,
    }, null, 1));
  } finally {
    await edge.w.close();
    await central.w.close();
    await rm(edge.dir, { recursive: true, force: true });
    await rm(central.dir, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.stack ?? e.message : String(e));
  process.exitCode = 1;
});
