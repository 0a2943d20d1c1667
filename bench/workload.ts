/**
 * The load generator's vocabulary: what a scenario declares (topology + flow, PerfTest-style knobs),
 * what each worker thread is told to run, and the shared-memory layout through which workers publish
 * their counters and the main thread drives the run phases. Everything here is plain data so it can
 * cross the worker_threads boundary by structured clone.
 */
import type { ClientKind, HeaderTable } from './client-adapter.js';

export type ExchangeKind = 'direct' | 'fanout' | 'topic' | 'headers';

export interface Topology {
  /** Undefined: publish through the default exchange (routing key = queue name). */
  readonly exchange: { readonly name: string; readonly type: ExchangeKind } | undefined;
  readonly queues: readonly { readonly name: string; readonly durable: boolean }[];
  readonly bindings: readonly { readonly queue: string; readonly key: string; readonly args: HeaderTable | undefined }[];
}

/** One producer/consumer workload, modelled on PerfTest / lavinmqperf options. */
export interface FlowSpec {
  readonly producers: number;
  readonly consumers: number;
  /** Body size in bytes; the first 8 bytes carry the publish timestamp when size >= 8. */
  readonly messageSize: number;
  /** Messages per second per producer; 0 = as fast as possible. */
  readonly ratePerProducer: number;
  /** Outstanding publisher confirms allowed per producer; 0 = no confirm mode. */
  readonly confirmWindow: number;
  readonly persistent: boolean;
  readonly autoAck: boolean;
  /** basic.qos per consumer channel (manual ack only); 0 = unlimited. */
  readonly prefetch: number;
  /** Ack with multiple=true every N deliveries (1 = ack each message). Must be <= prefetch. */
  readonly multiAckEvery: number;
  readonly exchange: string;
  /** Producers rotate through these routing keys. */
  readonly routingKeys: readonly string[];
  /** When set, producers rotate through these header tables (headers exchange). */
  readonly headers: readonly HeaderTable[] | undefined;
  /** Consumer i consumes consumerQueues[i % length]. */
  readonly consumerQueues: readonly string[];
  /** How many deliveries one publish yields (fanout width); used by the in-flight cap. */
  readonly deliveriesPerPublish: number;
  /**
   * Producers pause while (published x deliveriesPerPublish - consumed) exceeds this many deliveries,
   * so a fast publisher cannot pile an unbounded queue into either broker (we measure sustainable
   * throughput, and 1 MiB messages would otherwise exhaust memory). 0 = no cap.
   */
  readonly maxInFlight: number;
  /** Per producer; 0 = publish until told to stop. */
  readonly messagesPerProducer: number;
  /** Per consumer; 0 = consume until told to stop. */
  readonly messagesPerConsumer: number;
  /**
   * A slow consumer (manual ack only): each message takes this many microseconds to process, one at
   * a time; messages count as consumed (and are acked) when processed. 0 = no delay.
   */
  readonly consumerDelayMicros: number;
}

export type WorkerTask =
  | {
      readonly kind: 'flow';
      readonly spec: FlowSpec;
      readonly producerIds: readonly number[];
      readonly consumerIds: readonly number[];
    }
  | { readonly kind: 'connection-churn'; readonly concurrency: number }
  | { readonly kind: 'queue-churn'; readonly concurrency: number; readonly prefix: string }
  | { readonly kind: 'tcp-source'; readonly port: number; readonly chunkSize: number };

export interface WorkerConfig {
  readonly url: string;
  readonly client: ClientKind;
  /** This worker's counter slot in the shared buffer. */
  readonly slot: number;
  readonly shared: SharedArrayBuffer;
  readonly task: WorkerTask;
}

/** Messages a worker posts to the main thread. */
export type WorkerReport =
  | { readonly type: 'ready' }
  | { readonly type: 'done'; readonly histogram: string | undefined; readonly errors: readonly string[] }
  | { readonly type: 'error'; readonly message: string };

/** Messages the main thread posts to a worker. */
export type WorkerCommand = { readonly type: 'start' } | { readonly type: 'finish' };

// ---- shared memory: Int32 control word + Float64 counters per worker slot ----

export const Phase = { Setup: 0, Run: 1, Measure: 2, Stop: 3 } as const;

export const MAX_SLOTS = 64;
export const COUNTERS_PER_SLOT = 5;
export const Counter = { Published: 0, Confirmed: 1, Consumed: 2, Ops: 3, Bytes: 4 } as const;
export type Counter = (typeof Counter)[keyof typeof Counter];

const CONTROL_BYTES = 8;

export function createShared(): SharedArrayBuffer {
  return new SharedArrayBuffer(CONTROL_BYTES + MAX_SLOTS * COUNTERS_PER_SLOT * 8);
}

export function controlView(shared: SharedArrayBuffer): Int32Array {
  return new Int32Array(shared, 0, 2);
}

export function counterView(shared: SharedArrayBuffer): Float64Array {
  return new Float64Array(shared, CONTROL_BYTES, MAX_SLOTS * COUNTERS_PER_SLOT);
}

/** Sum of one counter over all slots. */
export function total(counters: Float64Array, which: Counter): number {
  let sum = 0;
  for (let s = 0; s < MAX_SLOTS; s++) sum += counters[s * COUNTERS_PER_SLOT + which] ?? 0;
  return sum;
}

export const defaultFlow: FlowSpec = {
  producers: 1,
  consumers: 1,
  messageSize: 16,
  ratePerProducer: 0,
  confirmWindow: 0,
  persistent: false,
  autoAck: true,
  prefetch: 0,
  multiAckEvery: 1,
  exchange: '',
  routingKeys: [],
  headers: undefined,
  consumerQueues: [],
  deliveriesPerPublish: 1,
  maxInFlight: 2_000,
  messagesPerProducer: 0,
  messagesPerConsumer: 0,
  consumerDelayMicros: 0,
};
