/**
 * `node dist/bench/perf.js`: the load generator as a stand-alone tool with PerfTest-style flags, for
 * one ad-hoc workload against any AMQP URL (Warren, RabbitMQ, LavinMQ). Declares its own uniquely
 * named exchange/queues, runs warm-up + measure, deletes everything, and prints the result as JSON.
 */
import { Command } from 'commander';
import type { ClientKind, HeaderTable } from './client-adapter.js';
import { findReferencePid } from './broker-process.js';
import { declareTopology, deleteTopology, flowTasks, runTimed } from './load-generator.js';
import { defaultFlow, type ExchangeKind, type FlowSpec, type Topology } from './workload.js';

interface PerfOptions {
  url: string; producers: string; consumers: string; size: string; rate: string; confirm: string;
  persistent?: boolean; autoack?: boolean; qos: string; multiAckEvery: string; type: string; queues: string;
  time: string; warmup: string; client: string; threads: string; brokerPid?: string; maxInFlight: string;
}

const program = new Command()
  .name('warren-perf')
  .description('PerfTest-style AMQP load generator; prints JSON')
  .option('--url <url>', 'broker URL', process.env['AMQP_URL'] ?? 'amqp://guest:guest@127.0.0.1:5672')
  .option('-x, --producers <n>', 'producers (one connection each)', '1')
  .option('-y, --consumers <n>', 'consumers (one connection each)', '1')
  .option('-s, --size <bytes>', 'message size (>= 8 carries a latency timestamp)', '16')
  .option('-r, --rate <msg/s>', 'rate per producer, 0 = unlimited', '0')
  .option('-c, --confirm <n>', 'publisher confirms with this many outstanding, 0 = off', '0')
  .option('-f, --persistent', 'persistent messages into durable queues')
  .option('-a, --autoack', 'auto-ack (default: manual ack)')
  .option('-q, --qos <n>', 'prefetch for manual-ack consumers', '100')
  .option('-A, --multi-ack-every <n>', 'ack with multiple=true every n messages', '1')
  .option('-t, --type <kind>', 'default | direct | fanout | topic | headers', 'default')
  .option('-u, --queues <n>', 'queues (fanout width / bindings, one per queue)', '1')
  .option('-z, --time <s>', 'measure seconds', '5')
  .option('--warmup <s>', 'warm-up seconds', '1')
  .option('--client <name>', 'cloudamqp | amqplib', 'cloudamqp')
  .option('--threads <n>', 'worker threads per role', '1')
  .option('--max-in-flight <n>', 'pause producers above this many unconsumed deliveries, 0 = off', '2000')
  .option('--broker-pid <pid>', 'sample this process for CPU/RSS (default: beam.smp if found)');

async function main(): Promise<void> {
  program.parse();
  const o = program.opts<PerfOptions>();
  const type = o.type as ExchangeKind | 'default';
  if (!['default', 'direct', 'fanout', 'topic', 'headers'].includes(type)) throw new Error(`unknown exchange type ${o.type}`);
  const n = Math.max(1, Number(o.queues));
  const prefix = `perf-${process.pid}-${Date.now().toString(36)}`;
  const durable = o.persistent === true;
  const queues = Array.from({ length: n }, (_, i) => `${prefix}-q${i}`);
  const exchange = type === 'default' ? undefined : { name: `${prefix}-x`, type };
  const keyOf = (i: number): string =>
    type === 'default' ? (queues[i] ?? '') : type === 'topic' ? `k${i}.x` : type === 'fanout' || type === 'headers' ? '' : `k${i}`;
  const topo: Topology = {
    exchange,
    queues: queues.map((name) => ({ name, durable })),
    bindings: type === 'default' ? [] : queues.map((queue, i) => ({
      queue,
      key: type === 'topic' ? `k${i}.*` : type === 'fanout' || type === 'headers' ? '' : `k${i}`,
      args: type === 'headers' ? { 'x-match': 'all', q: i } : undefined,
    })),
  };
  const headers: HeaderTable[] | undefined = type === 'headers' ? queues.map((_, i) => ({ q: i })) : undefined;
  const spec: FlowSpec = {
    ...defaultFlow,
    producers: Number(o.producers),
    consumers: Number(o.consumers),
    messageSize: Number(o.size),
    ratePerProducer: Number(o.rate),
    confirmWindow: Number(o.confirm),
    persistent: durable,
    autoAck: o.autoack === true,
    prefetch: Number(o.qos),
    multiAckEvery: Number(o.multiAckEvery),
    exchange: exchange?.name ?? '',
    routingKeys: type === 'fanout' || type === 'headers' ? [''] : queues.map((_, i) => keyOf(i)),
    headers,
    consumerQueues: queues,
    deliveriesPerPublish: type === 'fanout' ? n : 1,
    maxInFlight: Number(o.maxInFlight) * (type === 'fanout' ? n : 1),
  };
  if (spec.consumers > 0 && spec.consumers < n) console.error(`warning: ${n - spec.consumers} queue(s) have no consumer; the in-flight cap will throttle producers`);
  const brokerPid = o.brokerPid !== undefined ? Number(o.brokerPid) : findReferencePid();
  await declareTopology(o.url, topo);
  try {
    const result = await runTimed({
      url: o.url, client: o.client as ClientKind, warmupMs: Number(o.warmup) * 1000, durationMs: Number(o.time) * 1000,
      brokerPid, threadsPerRole: Number(o.threads),
    }, flowTasks(spec, Number(o.threads)));
    console.log(JSON.stringify({ settings: { ...o, url: undefined }, result }, null, 2));
  } finally {
    await deleteTopology(o.url, topo);
  }
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.stack ?? e.message : String(e));
  process.exitCode = 1;
});
