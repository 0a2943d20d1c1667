/**
 * Overload scenarios (issue 10): a publisher at full speed with no in-flight cap, so it outruns its
 * consumers, against the same flow with the publisher held to what the consumers take (the
 * generator's in-flight cap: the "not overloaded" baseline). The question each answers: do the
 * consumers keep their speed while a publisher floods the broker, and does the queue stay bounded?
 *
 * Figures per scenario: publish and consume rates under overload, the consume rate without overload
 * and the ratio of the two, the backlog at the end of the window as the generator sees it (published x
 * fanout - consumed: queue depth plus what is in flight), the broker's RSS and data-directory size at
 * the end (the reference's /var/lib/rabbitmq is shared: its figure includes everyone's queues),
 * end-to-end latency percentiles and CPU.
 */
import type { ClientKind } from './client-adapter.js';
import { flowTasks, runTimed, withTopology, type FlowResult } from './load-generator.js';
import { duMb } from './peak-shaving.js';
import type { Metric, Scenario, ScenarioContext } from './scenarios.js';
import { defaultFlow, type FlowSpec, type Topology } from './workload.js';

const KiB = 1024;
const ACK: Partial<FlowSpec> = { autoAck: false, prefetch: 100, multiAckEvery: 1 };

interface Shape {
  readonly topo: Topology;
  readonly flow: FlowSpec;
}

/** 1 producer -> 1 queue (default exchange) -> 1 acking consumer. */
function single(prefix: string, size: number, delayMicros = 0): Shape {
  const q = `${prefix}-q`;
  return {
    topo: { exchange: undefined, queues: [{ name: q, durable: false }], bindings: [] },
    flow: { ...defaultFlow, ...ACK, messageSize: size, routingKeys: [q], consumerQueues: [q], consumerDelayMicros: delayMicros },
  };
}

/** 1 producer -> fanout or headers exchange -> 10 queues, an acking consumer each. */
function wide(prefix: string, kind: 'fanout' | 'headers', width: number, size: number): Shape {
  const ex = `${prefix}-x`;
  const queues = Array.from({ length: width }, (_, i) => `${prefix}-${i}`);
  const topo: Topology = {
    exchange: { name: ex, type: kind },
    queues: queues.map((name) => ({ name, durable: false })),
    bindings: queues.map((queue, i) => ({
      queue, key: '', args: kind === 'headers' ? { 'x-match': 'all', kind: 'bench', shard: i } : undefined,
    })),
  };
  const flow: FlowSpec = {
    ...defaultFlow, ...ACK, messageSize: size, consumers: width, exchange: ex, routingKeys: [''], consumerQueues: queues,
    headers: kind === 'headers' ? queues.map((_, i) => ({ kind: 'bench', shard: i })) : undefined,
    deliveriesPerPublish: kind === 'fanout' ? width : 1,
  };
  return { topo, flow };
}

async function measure(ctx: ScenarioContext, client: ClientKind, shape: Shape, capped: boolean): Promise<{ r: FlowResult; diskMb: number | undefined }> {
  const flow: FlowSpec = { ...shape.flow, maxInFlight: capped ? 2_000 * shape.flow.deliveriesPerPublish : 0 };
  const opts = {
    url: ctx.url, client, warmupMs: ctx.warmupMs, durationMs: ctx.durationMs, brokerPid: ctx.brokerPid, threadsPerRole: ctx.threadsPerRole,
  };
  return withTopology(ctx.url, shape.topo, async () => {
    const r = await runTimed(opts, flowTasks(flow, ctx.threadsPerRole));
    return { r, diskMb: duMb(ctx.dataDir) };
  });
}

function overload(name: string, description: string, build: (prefix: string) => Shape, client?: ClientKind): Scenario {
  return {
    name, description,
    async run(ctx) {
      const c = client ?? ctx.client;
      const base = await measure(ctx, c, build(`${ctx.prefix}-${name}-base`), true);
      const shape = build(`${ctx.prefix}-${name}`);
      const { r, diskMb } = await measure(ctx, c, shape, false);
      if (r.errors.length > 0 || base.r.errors.length > 0) console.error(`  errors: ${[...base.r.errors, ...r.errors].slice(0, 3).join(' | ')}`);
      const m: Metric[] = [
        { name: 'publish', value: r.publishRate, unit: 'msg/s', better: 'info' },
        { name: 'consume', value: r.consumeRate, unit: 'msg/s', better: 'higher' },
        { name: 'consume, not overloaded (publisher capped)', value: base.r.consumeRate, unit: 'msg/s', better: 'higher' },
        { name: 'consume overloaded / not overloaded', value: base.r.consumeRate > 0 ? r.consumeRate / base.r.consumeRate : undefined, unit: 'x', better: 'higher' },
        { name: 'backlog at end (published x fanout - consumed)', value: r.published * shape.flow.deliveriesPerPublish - r.consumed, unit: 'msgs', better: 'lower' },
        { name: 'broker RSS at end', value: r.brokerRssMb, unit: 'MiB', better: 'lower' },
        { name: 'data dir at end', value: diskMb, unit: 'MiB', better: 'info' },
      ];
      if (r.latency !== undefined) {
        m.push({ name: 'latency p50', value: r.latency.p50, unit: 'ms', better: 'lower' });
        m.push({ name: 'latency p99', value: r.latency.p99, unit: 'ms', better: 'lower' });
        m.push({ name: 'latency p99.9', value: r.latency.p999, unit: 'ms', better: 'lower' });
      }
      m.push({ name: 'broker cpu', value: r.brokerCpu, unit: 'cores', better: 'info' });
      m.push({ name: 'generator cpu', value: r.generatorCpu, unit: 'cores', better: 'info' });
      return m;
    },
  };
}

export const overloadScenarios: readonly Scenario[] = [
  overload('overload-16b', '1 producer at full speed -> 1 queue -> 1 consumer, manual ack prefetch 100, 16 B; vs the producer capped',
    (p) => single(p, 16)),
  overload('overload-1k', 'the same, 1 KiB', (p) => single(p, KiB)),
  overload('overload-1k-amqplib', 'the same, 1 KiB, amqplib as the client', (p) => single(p, KiB), 'amqplib'),
  overload('overload-fanout-10', '1 producer at full speed -> fanout -> 10 queues, 10 acking consumers (prefetch 100), 1 KiB',
    (p) => wide(p, 'fanout', 10, KiB)),
  overload('overload-headers-10', '1 producer at full speed -> headers exchange, 10 bindings -> 10 queues, 10 acking consumers, 1 KiB',
    (p) => wide(p, 'headers', 10, KiB)),
  overload('overload-slow-consumer', '1 producer at full speed -> 1 queue -> 1 slow consumer (1 ms per message, prefetch 100), 1 KiB',
    (p) => single(p, KiB, 1000)),
];
