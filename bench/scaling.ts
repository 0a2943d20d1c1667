/**
 * `node dist/bench/scaling.js`: the curves behind docs/scaling.md. One Warren child process, and for
 * each dimension a short sweep that records the broker's RSS, CPU (cores, from /proc) and end-to-end
 * latency: idle connections, empty queues, offered message rate (transient and persistent+confirms),
 * many slow publishers, and a persistent backlog. Cumulative sweeps (connections, queues, backlog)
 * keep what earlier steps created so each step adds to the previous one. Measured, never asserted;
 * prints one JSON document (and a markdown table with --markdown).
 *
 * Invariant: everything declared or opened is deleted/closed before the process exits; Warren is
 * stopped even on failure.
 */
import { Command } from 'commander';
import amqplib from 'amqplib';
import type { ChannelModel } from 'amqplib';
import { ProcessSampler, startWarrenProcess } from './broker-process.js';
import { declareTopology, deleteTopology, flowTasks, runCounted, runTimed, type RunOptions } from './load-generator.js';
import { Counter, defaultFlow, type FlowSpec, type Topology } from './workload.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface Row { readonly sweep: string; readonly x: number; readonly [k: string]: number | string | undefined }

const program = new Command()
  .name('warren-scaling')
  .option('--duration <s>', 'measure seconds per step', '2')
  .option('--connections <list>', 'cumulative idle connections', '1000,2000,4000,8000')
  .option('--queues <list>', 'cumulative empty queues', '10000,25000,50000,100000')
  .option('--rates <list>', 'offered msg/s (4 producers share it), 0 = unlimited', '5000,10000,20000,40000,80000,0')
  .option('--slow-publishers <list>', 'publisher connections at 10 msg/s each', '100,500,1000')
  .option('--backlog <list>', 'cumulative persistent 1 KiB messages', '250000,500000,1000000')
  .option('--only <list>', 'sweeps to run: connections,queues,rate,persistent,publishers,backlog')
  .option('--markdown', 'also print a markdown table');

function r1(n: number | undefined): number | undefined {
  return n === undefined ? undefined : Math.round(n * 100) / 100;
}

async function idleCpu(sampler: ProcessSampler, ms: number): Promise<number | undefined> {
  const a = sampler.cpuSeconds();
  await sleep(ms);
  const b = sampler.cpuSeconds();
  return a === undefined || b === undefined ? undefined : (b - a) / (ms / 1000);
}

async function sweepConnections(url: string, s: ProcessSampler, steps: number[], rows: Row[]): Promise<void> {
  const conns: ChannelModel[] = [];
  const base = s.rssMb();
  rows.push({ sweep: 'connections', x: 0, rssMb: r1(base), idleCpu: r1(await idleCpu(s, 2000)) });
  try {
    for (const target of steps) {
      const t0 = performance.now();
      while (conns.length < target) {
        const batch: Promise<ChannelModel>[] = [];
        for (let j = conns.length; j < Math.min(target, conns.length + 100); j++) batch.push(amqplib.connect(`${url}?heartbeat=60`));
        for (const c of await Promise.all(batch)) {
          c.on('error', () => {});
          // one channel each, as a real client holds
          await c.createChannel();
          conns.push(c);
        }
      }
      const openSeconds = (performance.now() - t0) / 1000;
      const prev = rows.at(-1)?.x ?? 0;
      await sleep(1000);
      rows.push({ sweep: 'connections', x: target, rssMb: r1(s.rssMb()), idleCpu: r1(await idleCpu(s, 2000)), openPerSec: Math.round((target - prev) / openSeconds) });
    }
  } finally {
    for (let i = 0; i < conns.length; i += 200) await Promise.all(conns.slice(i, i + 200).map((c) => c.close().catch(() => {})));
  }
}

async function sweepQueues(url: string, s: ProcessSampler, prefix: string, steps: number[], rows: Row[]): Promise<void> {
  const conn = await amqplib.connect(url);
  conn.on('error', () => {});
  const ch = await conn.createChannel();
  let made = 0;
  rows.push({ sweep: 'queues', x: 0, rssMb: r1(s.rssMb()) });
  try {
    for (const target of steps) {
      const t0 = performance.now();
      const prev = made;
      for (; made < target; made += 500) {
        const names: Promise<unknown>[] = [];
        for (let i = made; i < Math.min(target, made + 500); i++) names.push(ch.assertQueue(`${prefix}-q${i}`, { durable: false }));
        await Promise.all(names);
      }
      made = target;
      const declareSeconds = (performance.now() - t0) / 1000;
      await sleep(1000);
      // A 1 -> 1 flow through one extra queue while the others sit idle: does routing/delivery cost move?
      const q = `${prefix}-probe`;
      const topo: Topology = { exchange: undefined, queues: [{ name: q, durable: false }], bindings: [] };
      await declareTopology(url, topo);
      const spec: FlowSpec = { ...defaultFlow, routingKeys: [q], consumerQueues: [q] };
      const r = await runTimed({ ...opts(url, s), durationMs: 2000 }, flowTasks(spec, 1));
      await deleteTopology(url, topo);
      rows.push({
        sweep: 'queues', x: target, rssMb: r1(s.rssMb()), idleCpu: r1(await idleCpu(s, 2000)), declarePerSec: Math.round((target - prev) / declareSeconds),
        probeMsgPerSec: Math.round(r.consumeRate), probeCpuUsPerMsg: r.brokerCpu === undefined ? undefined : r1((r.brokerCpu / r.consumeRate) * 1e6),
      });
    }
  } finally {
    for (let i = 0; i < made; i += 500) {
      const dels: Promise<unknown>[] = [];
      for (let j = i; j < Math.min(made, i + 500); j++) dels.push(ch.deleteQueue(`${prefix}-q${j}`));
      await Promise.all(dels);
    }
    await conn.close();
  }
}

let durationMs = 2000;
function opts(url: string, s: ProcessSampler): RunOptions {
  return { url, client: 'cloudamqp', warmupMs: 500, durationMs, brokerPid: s.pid, threadsPerRole: 1 };
}

async function sweepRate(url: string, s: ProcessSampler, prefix: string, steps: number[], persistent: boolean, rows: Row[]): Promise<void> {
  const q = `${prefix}-${persistent ? 'p' : 't'}rate`;
  const topo: Topology = { exchange: undefined, queues: [{ name: q, durable: persistent }], bindings: [] };
  await declareTopology(url, topo);
  try {
    for (const rate of steps) {
      const spec: FlowSpec = {
        ...defaultFlow, producers: 4, consumers: 1, messageSize: persistent ? 1024 : 16, ratePerProducer: rate / 4,
        persistent, confirmWindow: persistent ? 500 : 0, autoAck: !persistent, prefetch: persistent ? 200 : 0, multiAckEvery: persistent ? 50 : 1,
        routingKeys: [q], consumerQueues: [q],
      };
      const r = await runTimed(opts(url, s), flowTasks(spec, 1));
      rows.push({
        sweep: persistent ? 'rate-persistent' : 'rate', x: rate, consumed: Math.round(r.consumeRate), brokerCpu: r1(r.brokerCpu), generatorCpu: r1(r.generatorCpu),
        cpuUsPerMsg: r.brokerCpu === undefined || r.consumeRate === 0 ? undefined : r1((r.brokerCpu / r.consumeRate) * 1e6),
        p50ms: r1(r.latency?.p50), p99ms: r1(r.latency?.p99), rssMb: r1(r.brokerRssMb), errors: r.errors.length > 0 ? r.errors.join('; ').slice(0, 200) : undefined,
      });
    }
  } finally {
    await deleteTopology(url, topo);
  }
}

async function sweepPublishers(url: string, s: ProcessSampler, prefix: string, steps: number[], rows: Row[]): Promise<void> {
  const q = `${prefix}-many`;
  const topo: Topology = { exchange: undefined, queues: [{ name: q, durable: false }], bindings: [] };
  await declareTopology(url, topo);
  try {
    for (const n of steps) {
      const spec: FlowSpec = { ...defaultFlow, producers: n, consumers: 1, ratePerProducer: 10, routingKeys: [q], consumerQueues: [q] };
      const r = await runTimed({ ...opts(url, s), warmupMs: 1500, threadsPerRole: 2 }, flowTasks(spec, 2));
      rows.push({
        sweep: 'publishers', x: n, consumed: Math.round(r.consumeRate), brokerCpu: r1(r.brokerCpu),
        cpuUsPerMsg: r.brokerCpu === undefined || r.consumeRate === 0 ? undefined : r1((r.brokerCpu / r.consumeRate) * 1e6),
        p50ms: r1(r.latency?.p50), p99ms: r1(r.latency?.p99), rssMb: r1(r.brokerRssMb),
      });
    }
  } finally {
    await deleteTopology(url, topo);
  }
}

async function sweepBacklog(url: string, s: ProcessSampler, prefix: string, steps: number[], rows: Row[]): Promise<void> {
  const q = `${prefix}-backlog`;
  const topo: Topology = { exchange: undefined, queues: [{ name: q, durable: true }], bindings: [] };
  await declareTopology(url, topo);
  let have = 0;
  rows.push({ sweep: 'backlog', x: 0, rssMb: r1(s.rssMb()) });
  try {
    for (const target of steps) {
      const n = target - have;
      const flow: FlowSpec = {
        ...defaultFlow, consumers: 0, messageSize: 1024, persistent: true, confirmWindow: 1000, messagesPerProducer: n,
        routingKeys: [q], consumerQueues: [q], maxInFlight: 0,
      };
      const pub = await runCounted(opts(url, s), flowTasks(flow, 1), Counter.Confirmed, n, 600_000);
      have = target;
      await sleep(1000);
      // latency of a light 1 -> 1 flow through another queue while the backlog sits there
      const p = `${prefix}-beside`;
      const t2: Topology = { exchange: undefined, queues: [{ name: p, durable: false }], bindings: [] };
      await declareTopology(url, t2);
      const side = await runTimed(opts(url, s), flowTasks({ ...defaultFlow, ratePerProducer: 5000, routingKeys: [p], consumerQueues: [p] }, 1));
      await deleteTopology(url, t2);
      rows.push({
        sweep: 'backlog', x: target, rssMb: r1(s.rssMb()), publishPerSec: Math.round(pub.rate), brokerCpu: r1(pub.brokerCpu),
        cpuUsPerMsg: pub.brokerCpu === undefined ? undefined : r1((pub.brokerCpu / pub.rate) * 1e6), idleCpu: r1(await idleCpu(s, 2000)),
        besideP99ms: r1(side.latency?.p99),
      });
    }
    const drain: FlowSpec = {
      ...defaultFlow, producers: 0, autoAck: false, prefetch: 1000, multiAckEvery: 100, messagesPerConsumer: have, routingKeys: [q], consumerQueues: [q],
    };
    const con = await runCounted(opts(url, s), flowTasks(drain, 1), Counter.Consumed, have, 600_000);
    await sleep(1000);
    rows.push({ sweep: 'backlog-drained', x: have, drainPerSec: Math.round(con.rate), brokerCpu: r1(con.brokerCpu), rssMb: r1(s.rssMb()) });
  } finally {
    await deleteTopology(url, topo);
  }
}

function markdown(rows: Row[]): string {
  const bySweep = new Map<string, Row[]>();
  for (const r of rows) bySweep.set(r.sweep, [...(bySweep.get(r.sweep) ?? []), r]);
  const out: string[] = [];
  for (const [sweep, rs] of bySweep) {
    const cols = [...new Set(rs.flatMap((r) => Object.keys(r)))].filter((k) => k !== 'sweep');
    out.push(`\n### ${sweep}\n`, `| ${cols.join(' | ')} |`, `| ${cols.map(() => '---:').join(' | ')} |`);
    for (const r of rs) out.push(`| ${cols.map((c) => String(r[c] ?? '')).join(' | ')} |`);
  }
  return out.join('\n');
}

async function main(): Promise<void> {
  program.parse();
  const o = program.opts<Record<string, string | boolean | undefined>>();
  const list = (k: string): number[] => String(o[k]).split(',').map(Number);
  durationMs = Number(o['duration']) * 1000;
  const only = o['only'] === undefined ? undefined : new Set(String(o['only']).split(','));
  const want = (k: string): boolean => only === undefined || only.has(k);
  const w = await startWarrenProcess();
  const s = new ProcessSampler(w.pid);
  const prefix = `scale-${process.pid}-${Date.now().toString(36)}`;
  const rows: Row[] = [];
  const t0 = Date.now();
  try {
    if (want('connections')) await sweepConnections(w.url, s, list('connections'), rows);
    if (want('queues')) await sweepQueues(w.url, s, prefix, list('queues'), rows);
    if (want('rate')) await sweepRate(w.url, s, prefix, list('rates'), false, rows);
    if (want('persistent')) await sweepRate(w.url, s, prefix, list('rates').map((r) => (r === 0 ? 0 : r / 4)), true, rows);
    if (want('publishers')) await sweepPublishers(w.url, s, prefix, list('slowPublishers'), rows);
    if (want('backlog')) await sweepBacklog(w.url, s, prefix, list('backlog'), rows);
  } finally {
    const hwm = s.hwmMb();
    await w.stop();
    console.log(JSON.stringify({ date: new Date().toISOString(), seconds: (Date.now() - t0) / 1000, peakRssMb: hwm, rows }, null, 1));
    if (o['markdown'] === true) console.log(markdown(rows));
  }
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.stack ?? e.message : String(e));
  process.exitCode = 1;
});
