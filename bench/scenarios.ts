/**
 * The scenario catalogue: each scenario declares its topology, runs the generator against one broker
 * and returns named figures (with units and which direction is better) so run.ts can print Warren and
 * the reference side by side. Every queue/exchange name carries a per-run unique prefix (the reference
 * broker is shared with other users) and is deleted when the scenario ends, even on failure.
 */
import type { ClientKind, HeaderTable } from './client-adapter.js';
import {
  flowTasks, runCounted, runTcpLoopback, runTimed, withTopology,
  type FlowResult, type RunOptions,
} from './load-generator.js';
import { ProcessSampler } from './broker-process.js';
import { compareClients } from './client-compare.js';
import { definitionsChurn } from './definitions-churn.js';
import { peakShaving, type PeakKind } from './peak-shaving.js';
import { overloadScenarios } from './overload.js';
import { Counter, defaultFlow, type FlowSpec, type Topology } from './workload.js';

export interface Metric {
  readonly name: string;
  readonly value: number | undefined;
  readonly unit: 'msg/s' | 'B/s' | 'ms' | 'µs' | 'ops/s' | 'cores' | 'MiB' | 'conn/s' | 'x' | 'msgs';
  readonly better: 'higher' | 'lower' | 'info';
}

export interface ScenarioContext {
  readonly url: string;
  readonly client: ClientKind;
  readonly warmupMs: number;
  readonly durationMs: number;
  readonly brokerPid: number | undefined;
  readonly threadsPerRole: number;
  readonly quick: boolean;
  readonly backlogMessages: number;
  /** Messages in each peak-shaving burst. */
  readonly peakMessages: number;
  /** The broker's data directory, when the runner knows it (disk figures). */
  readonly dataDir: string | undefined;
  /** Unique per run and broker; prefix of every name the scenario declares. */
  readonly prefix: string;
}

export interface Scenario {
  readonly name: string;
  readonly description: string;
  /** Runs against a broker; undefined url scenarios (raw TCP) run once and are broker-independent. */
  readonly brokerIndependent?: boolean;
  run(ctx: ScenarioContext): Promise<Metric[]>;
}

export function runOptions(ctx: ScenarioContext): RunOptions {
  return {
    url: ctx.url, client: ctx.client, warmupMs: ctx.warmupMs, durationMs: ctx.durationMs,
    brokerPid: ctx.brokerPid, threadsPerRole: ctx.threadsPerRole,
  };
}

export function flowMetrics(r: FlowResult, bytes = false, fixedRate = false): Metric[] {
  // At a fixed offered rate the rates only show whether the broker kept up; latency is the figure.
  const rate = fixedRate ? 'info' : 'higher';
  const m: Metric[] = [
    { name: 'publish', value: r.publishRate, unit: 'msg/s', better: rate },
    { name: 'consume', value: r.consumeRate, unit: 'msg/s', better: rate },
  ];
  if (r.confirmRate > 0) m.push({ name: 'confirm', value: r.confirmRate, unit: 'msg/s', better: 'higher' });
  if (bytes) m.push({ name: 'consume bytes', value: r.consumeBytesRate, unit: 'B/s', better: 'higher' });
  if (r.latency !== undefined) {
    // Saturating runs keep the in-flight cap queued, so their latency is ~cap/rate: shown, not judged.
    const lat = fixedRate ? 'lower' : 'info';
    m.push({ name: 'latency p50', value: r.latency.p50, unit: 'ms', better: lat });
    m.push({ name: 'latency p99', value: r.latency.p99, unit: 'ms', better: lat });
    if (fixedRate) m.push({ name: 'latency p99.9', value: r.latency.p999, unit: 'ms', better: lat });
  }
  m.push(...cpuMetrics(r));
  // CPU per message is what a busy shared machine distorts least: a starved broker is slow but not costly.
  const perMessage = r.consumeRate > 0 ? r.consumeRate : r.publishRate;
  if (r.brokerCpu !== undefined && perMessage > 0) {
    m.push({ name: 'broker CPU per message', value: (r.brokerCpu * 1e6) / perMessage, unit: 'µs', better: 'lower' });
  }
  return m;
}

function cpuMetrics(r: { generatorCpu: number; brokerCpu: number | undefined; errors: readonly string[] }): Metric[] {
  if (r.errors.length > 0) console.error(`  errors: ${r.errors.slice(0, 3).join(' | ')}`);
  return [
    { name: 'broker cpu', value: r.brokerCpu, unit: 'cores', better: 'info' },
    { name: 'generator cpu', value: r.generatorCpu, unit: 'cores', better: 'info' },
  ];
}

function perOp(r: FlowResult): Metric[] {
  if (r.brokerCpu === undefined || r.opsRate <= 0) return [];
  return [{ name: 'broker CPU per operation', value: (r.brokerCpu * 1e6) / r.opsRate, unit: 'µs', better: 'lower' }];
}

/** A queue-per-consumer flow through the default exchange or a declared exchange. */
function simpleFlow(name: string, description: string, spec: Partial<FlowSpec>, durable = false): Scenario {
  const fixedRate = (spec.ratePerProducer ?? 0) > 0;
  return {
    name, description,
    async run(ctx) {
      const q = `${ctx.prefix}-${name}`;
      const topo: Topology = { exchange: undefined, queues: [{ name: q, durable }], bindings: [] };
      const flow: FlowSpec = { ...defaultFlow, routingKeys: [q], consumerQueues: [q], ...spec };
      return withTopology(ctx.url, topo, async () =>
        flowMetrics(await runTimed(runOptions(ctx), flowTasks(flow, ctx.threadsPerRole)), flow.messageSize >= 65536, fixedRate));
    },
  };
}

const manualAck: Partial<FlowSpec> = { autoAck: false, prefetch: 100, multiAckEvery: 1 };
const KiB = 1024;
const MiB = 1024 * 1024;

function fanout(width: number, persistent = false): Scenario {
  return {
    name: persistent ? `fanout-${width}-persistent` : `fanout-${width}`,
    description: persistent
      ? `1 producer -> fanout exchange -> ${width} durable queues, persistent 1 KiB with confirms (window 1000), 1 consumer each, auto-ack`
      : `1 producer -> fanout exchange -> ${width} queues, 1 consumer each, 16 B, auto-ack`,
    async run(ctx) {
      const ex = `${ctx.prefix}-fanout${persistent ? 'p' : ''}`;
      const queues = Array.from({ length: width }, (_, i) => `${ctx.prefix}-fanout${persistent ? 'p' : ''}-${i}`);
      const topo: Topology = {
        exchange: { name: ex, type: 'fanout' },
        queues: queues.map((name) => ({ name, durable: persistent })),
        bindings: queues.map((queue) => ({ queue, key: '', args: undefined })),
      };
      const flow: FlowSpec = {
        ...defaultFlow, consumers: width, exchange: ex, routingKeys: [''], consumerQueues: queues,
        deliveriesPerPublish: width, maxInFlight: 2_000 * width,
        ...(persistent ? { messageSize: KiB, persistent: true, confirmWindow: 1000 } : {}),
      };
      return withTopology(ctx.url, topo, async () => flowMetrics(await runTimed(runOptions(ctx), flowTasks(flow, ctx.threadsPerRole))));
    },
  };
}

function headersExchange(bindings: number): Scenario {
  return {
    name: `headers-${bindings}`,
    description: `1 producer -> headers exchange with ${bindings} bindings (x-match all, 2 keys) -> ${bindings} queues; each message matches one`,
    async run(ctx) {
      const ex = `${ctx.prefix}-headers`;
      const queues = Array.from({ length: bindings }, (_, i) => `${ctx.prefix}-headers-${i}`);
      const tables: HeaderTable[] = queues.map((_, i) => ({ kind: 'bench', shard: i }));
      const topo: Topology = {
        exchange: { name: ex, type: 'headers' },
        queues: queues.map((name) => ({ name, durable: false })),
        bindings: queues.map((queue, i) => ({ queue, key: '', args: { 'x-match': 'all', kind: 'bench', shard: i } })),
      };
      const flow: FlowSpec = {
        ...defaultFlow, consumers: bindings, exchange: ex, routingKeys: [''], headers: tables, consumerQueues: queues,
      };
      return withTopology(ctx.url, topo, async () => flowMetrics(await runTimed(runOptions(ctx), flowTasks(flow, ctx.threadsPerRole))));
    },
  };
}

function topicExchange(bindings: number, queueCount: number): Scenario {
  return {
    name: `topic-${bindings}`,
    description: `1 producer -> topic exchange with ${bindings} bindings (mixed * and # patterns) over ${queueCount} queues; each key matches one binding`,
    async run(ctx) {
      const ex = `${ctx.prefix}-topic`;
      const queues = Array.from({ length: queueCount }, (_, i) => `${ctx.prefix}-topic-${i}`);
      const topo: Topology = {
        exchange: { name: ex, type: 'topic' },
        queues: queues.map((name) => ({ name, durable: false })),
        bindings: Array.from({ length: bindings }, (_, j) => ({
          queue: queues[j % queueCount] ?? '',
          key: j % 2 === 0 ? `stock.${j}.*` : `stock.${j}.#`,
          args: undefined,
        })),
      };
      const keys = Array.from({ length: bindings }, (_, j) => `stock.${j}.nyse`);
      const flow: FlowSpec = { ...defaultFlow, consumers: queueCount, exchange: ex, routingKeys: keys, consumerQueues: queues };
      return withTopology(ctx.url, topo, async () => flowMetrics(await runTimed(runOptions(ctx), flowTasks(flow, ctx.threadsPerRole))));
    },
  };
}

function manyConnections(connections: number, ratePerConnection: number): Scenario {
  return {
    name: `connections-${connections}`,
    description: `${connections} producer connections at ${ratePerConnection} msg/s each (${connections * ratePerConnection} msg/s) -> 1 queue -> 1 consumer; latency under load`,
    async run(ctx) {
      const q = `${ctx.prefix}-conns`;
      const topo: Topology = { exchange: undefined, queues: [{ name: q, durable: false }], bindings: [] };
      const flow: FlowSpec = {
        ...defaultFlow, producers: connections, ratePerProducer: ratePerConnection, routingKeys: [q], consumerQueues: [q],
        ...manualAck,
      };
      // Two producer threads: 500 connections' heartbeats and timers are a real load on one thread.
      return withTopology(ctx.url, topo, async () =>
        flowMetrics(await runTimed(runOptions(ctx), flowTasks(flow, Math.max(2, ctx.threadsPerRole))), false, true));
    },
  };
}

const backlog: Scenario = {
  name: 'backlog',
  description: 'N persistent 16 B messages into a durable queue (confirms, window 1000), then drained (manual ack, prefetch 1000, multi-ack every 100)',
  async run(ctx) {
    const q = `${ctx.prefix}-backlog`;
    const n = ctx.backlogMessages;
    const topo: Topology = { exchange: undefined, queues: [{ name: q, durable: true }], bindings: [] };
    const flow: FlowSpec = {
      ...defaultFlow, consumers: 0, persistent: true, confirmWindow: 1000, messagesPerProducer: n,
      routingKeys: [q], consumerQueues: [q], maxInFlight: 0,
    };
    const drain: FlowSpec = {
      ...defaultFlow, producers: 0, autoAck: false, prefetch: 1000, multiAckEvery: 100, messagesPerConsumer: n,
      routingKeys: [q], consumerQueues: [q],
    };
    const opts = runOptions(ctx);
    const timeout = Math.max(120_000, n / 2); // >= 2000 msg/s or give up
    return withTopology(ctx.url, topo, async () => {
      const rssEmpty = ctx.brokerPid === undefined ? undefined : new ProcessSampler(ctx.brokerPid).rssMb();
      const pub = await runCounted(opts, flowTasks(flow, 1), Counter.Confirmed, n, timeout);
      const rssFull = pub.brokerRssMb;
      const con = await runCounted(opts, flowTasks(drain, 1), Counter.Consumed, n, timeout);
      return [
        { name: `publish ${n} (confirmed)`, value: pub.rate, unit: 'msg/s', better: 'higher' },
        { name: `drain ${n}`, value: con.rate, unit: 'msg/s', better: 'higher' },
        { name: 'broker RSS with backlog', value: rssFull, unit: 'MiB', better: 'lower' },
        { name: 'broker CPU per message (publish + drain)', value: pub.brokerCpu === undefined || con.brokerCpu === undefined ? undefined
          : ((pub.brokerCpu * pub.seconds + con.brokerCpu * con.seconds) * 1e6) / n, unit: 'µs', better: 'lower' },
        { name: 'broker RSS growth for backlog', value: rssFull === undefined || rssEmpty === undefined ? undefined : rssFull - rssEmpty, unit: 'MiB', better: 'lower' },
        ...cpuMetrics({ generatorCpu: (pub.generatorCpu * pub.seconds + con.generatorCpu * con.seconds) / (pub.seconds + con.seconds),
          brokerCpu: pub.brokerCpu === undefined || con.brokerCpu === undefined ? undefined
            : (pub.brokerCpu * pub.seconds + con.brokerCpu * con.seconds) / (pub.seconds + con.seconds),
          errors: [...pub.errors, ...con.errors] }),
      ];
    });
  },
};

const connectionChurn: Scenario = {
  name: 'connection-churn',
  description: 'open connection + channel, close; 8 concurrent loops',
  async run(ctx) {
    const r = await runTimed(runOptions(ctx), [{ kind: 'connection-churn', concurrency: 8 }]);
    return [{ name: 'connections', value: r.opsRate, unit: 'conn/s', better: 'higher' }, ...cpuMetrics(r), ...perOp(r)];
  },
};

const queueChurn: Scenario = {
  name: 'queue-churn',
  description: 'queue.declare + queue.delete of a fresh transient queue; 8 channels on one connection',
  async run(ctx) {
    const r = await runTimed(runOptions(ctx), [{ kind: 'queue-churn', concurrency: 8, prefix: `${ctx.prefix}-churn` }]);
    return [{ name: 'declare+delete', value: r.opsRate, unit: 'ops/s', better: 'higher' }, ...cpuMetrics(r), ...perOp(r)];
  },
};

const durableChurn: Scenario = {
  name: 'durable-churn',
  description: 'N durable queues (10,000; quick 1,000) declared + bound one by one (each waits for its -ok), then deleted; by 1 client, then by 10 clients in parallel',
  async run(ctx) {
    const n = ctx.quick ? 1000 : 10_000;
    const r = await definitionsChurn(ctx.url, ctx.brokerPid, ctx.prefix, n);
    return [
      { name: 'declare+bind, 1 client', value: r.declareBind1, unit: 'ops/s', better: 'higher' },
      { name: 'delete, 1 client', value: r.delete1, unit: 'ops/s', better: 'higher' },
      { name: 'broker CPU per operation, 1 client', value: r.cpuPerOp1, unit: 'µs', better: 'lower' },
      { name: 'declare+bind, 10 clients', value: r.declareBind10, unit: 'ops/s', better: 'higher' },
      { name: 'delete, 10 clients', value: r.delete10, unit: 'ops/s', better: 'higher' },
      { name: 'broker CPU per operation, 10 clients', value: r.cpuPerOp10, unit: 'µs', better: 'lower' },
    ];
  },
};

function peak(kind: PeakKind): Scenario {
  return {
    name: `peak-${kind}`,
    description: kind === 'priority'
      ? 'burst of N persistent 1 KiB messages (confirms) into an x-max-priority 10 queue (priorities 0-9) with a slow consumer, then drained'
      : 'burst of N persistent 1 KiB messages (confirms) into a queue with x-message-ttl 1 h + x-max-length N + a DLX, slow consumer, then drained',
    async run(ctx) {
      const n = ctx.peakMessages;
      const r = await peakShaving(ctx.url, ctx.brokerPid, ctx.dataDir, ctx.prefix, kind, n);
      return [
        { name: `publish ${n} (confirmed)`, value: r.publishRate, unit: 'msg/s', better: 'higher' },
        { name: 'drain', value: r.drainRate, unit: 'msg/s', better: 'higher' },
        { name: 'broker peak RSS', value: r.peakRssMb, unit: 'MiB', better: 'lower' },
        { name: 'broker RSS growth', value: r.rssGrowthMb, unit: 'MiB', better: 'lower' },
        { name: 'disk growth with the backlog', value: r.diskMb, unit: 'MiB', better: 'info' },
      ];
    },
  };
}

const tcpLoopback: Scenario = {
  name: 'tcp-loopback',
  description: 'raw loopback TCP, one socket pair, 1 MiB writes (the ceiling for 1 MiB messages)',
  brokerIndependent: true,
  async run(ctx) {
    const r = await runTcpLoopback({ warmupMs: ctx.warmupMs, durationMs: ctx.durationMs }, MiB);
    return [{ name: 'bytes', value: r.consumeBytesRate, unit: 'B/s', better: 'higher' },
      { name: 'generator cpu', value: r.generatorCpu, unit: 'cores', better: 'info' }];
  },
};

const generatorCeiling: Scenario = {
  name: 'generator-ceiling',
  description: 'the generator alone against a do-nothing fake broker: the most one producer / consumer thread can drive',
  brokerIndependent: true,
  async run(ctx) {
    const figures = await compareClients([ctx.client], ctx.warmupMs, ctx.durationMs);
    return figures.flatMap((f): Metric[] => [
      { name: f.mode, value: f.rate, unit: 'msg/s', better: 'info' },
      { name: `${f.mode}: generator CPU per message`, value: f.cpuMicrosPerMessage, unit: 'µs', better: 'info' },
    ]);
  },
};

export const scenarios: readonly Scenario[] = [
  simpleFlow('1p1c-16b-autoack', '1 producer -> 1 queue -> 1 consumer, 16 B, auto-ack', {}),
  simpleFlow('1p1c-16b-ack', '1 producer -> 1 queue -> 1 consumer, 16 B, manual ack, prefetch 100', manualAck),
  simpleFlow('1p1c-1k-autoack', '1 producer -> 1 queue -> 1 consumer, 1 KiB, auto-ack', { messageSize: KiB }),
  simpleFlow('1p1c-1k-ack', '1 producer -> 1 queue -> 1 consumer, 1 KiB, manual ack, prefetch 100', { messageSize: KiB, ...manualAck }),
  simpleFlow('persistent-confirm', 'durable queue, persistent 1 KiB, confirms (window 1000), manual ack prefetch 100',
    { messageSize: KiB, persistent: true, confirmWindow: 1000, ...manualAck }, true),
  simpleFlow('persistent-confirm-10p', '10 producers -> durable queue, persistent 1 KiB, confirms (window 1000 each), manual ack prefetch 100',
    { producers: 10, messageSize: KiB, persistent: true, confirmWindow: 1000, maxInFlight: 20_000, ...manualAck }, true),
  fanout(10, true),
  simpleFlow('1p1c-16b-rate10k', '1 producer at a fixed 10,000 msg/s -> 1 consumer, 16 B, manual ack prefetch 100: latency without queueing',
    { ratePerProducer: 10_000, ...manualAck }),
  fanout(10),
  headersExchange(10),
  topicExchange(1000, 10),
  manyConnections(500, 10),
  backlog,
  connectionChurn,
  queueChurn,
  durableChurn,
  peak('ttl-maxlen-dlx'),
  peak('priority'),
  simpleFlow('1mib', '1 producer -> 1 queue -> 1 consumer, 1 MiB, manual ack, prefetch 10', {
    messageSize: MiB, autoAck: false, prefetch: 10, multiAckEvery: 1, maxInFlight: 64,
  }),
  ...overloadScenarios,
  tcpLoopback,
  generatorCeiling,
];
