/**
 * Message statistics, as RabbitMQ's management plugin keeps them: per-object counters
 * (`MessageStats`: publish, confirm, deliver, ack, ... for queues, exchanges, channels,
 * connections and vhosts), churn counters for the whole broker (`ChurnStats`), and a coarse
 * sampler (`StatsSampler`, every 5 s as RabbitMQ's collect_statistics_interval) that turns the
 * counters into rates and keeps a short history per object for charts.
 *
 * Invariants (DESIGN.md, "Rules that keep it fast"):
 * - The hot path only does `stats.field++` on an object it already holds: no allocation, no Map
 *   lookup, no call. Everything else (sums, rates, history) happens at sample or read time.
 * - Counters only grow. When an object goes away its counts are folded into a parent (a closed
 *   channel into its connection, a deleted queue into the totals of its queue type) so totals
 *   never go down.
 * - The sampler allocates a history only for objects that have counted something (an idle
 *   queue costs nothing beyond its 13 counter fields), and keeps histories in a WeakMap, so a
 *   deleted object's history goes with it.
 */

/**
 * RabbitMQ's message_stats names, in the order `MessageStats.read` writes them. `deliver_get`
 * (deliver + deliver_no_ack + get + get_no_ack) is derived when rendering, as RabbitMQ does.
 */
export const MESSAGE_STAT_KEYS = [
  'publish', 'publish_in', 'publish_out', 'confirm', 'deliver', 'deliver_no_ack', 'get', 'get_no_ack',
  'get_empty', 'ack', 'redeliver', 'return_unroutable', 'drop_unroutable',
] as const;

export type MessageStatKey = (typeof MESSAGE_STAT_KEYS)[number];

/** Number of counters in `MessageStats` (the width of its part of a history sample). */
export const MESSAGE_STAT_COUNT = MESSAGE_STAT_KEYS.length;

/**
 * The counters of one object. Which fields an object uses follows RabbitMQ: exchanges count
 * `publishIn` (messages published into it) and `publishOut` (messages it routed to queues);
 * queues count `publish` (messages enqueued), deliveries, gets and acks; channels, connections and
 * vhosts count everything but publish_in/out. Fields are plain numbers (exact up to 2^53).
 */
export class MessageStats {
  /** Messages published (channel, connection, vhost) or enqueued (queue). */
  publish = 0;
  /** Exchange: messages published into it. */
  publishIn = 0;
  /** Exchange: messages routed from it, counted once per queue they reached. */
  publishOut = 0;
  /** Publisher confirms sent (basic.ack to the publisher). */
  confirm = 0;
  /** basic.deliver to a consumer in manual-ack mode. */
  deliver = 0;
  /** basic.deliver to a consumer in auto-ack mode. */
  deliverNoAck = 0;
  /** basic.get-ok in manual-ack mode. */
  get = 0;
  /** basic.get-ok in auto-ack mode. */
  getNoAck = 0;
  /** basic.get-empty. */
  getEmpty = 0;
  /** Deliveries acknowledged by consumers. */
  ack = 0;
  /** Deliveries (consume or get) with the redelivered flag. */
  redeliver = 0;
  /** Unroutable mandatory messages returned with basic.return. */
  returnUnroutable = 0;
  /** Unroutable non-mandatory messages dropped. */
  dropUnroutable = 0;

  /** Add another object's counts (folding a closed channel into its connection, ...). */
  add(o: MessageStats): void {
    this.publish += o.publish;
    this.publishIn += o.publishIn;
    this.publishOut += o.publishOut;
    this.confirm += o.confirm;
    this.deliver += o.deliver;
    this.deliverNoAck += o.deliverNoAck;
    this.get += o.get;
    this.getNoAck += o.getNoAck;
    this.getEmpty += o.getEmpty;
    this.ack += o.ack;
    this.redeliver += o.redeliver;
    this.returnUnroutable += o.returnUnroutable;
    this.dropUnroutable += o.dropUnroutable;
  }

  /** Set every counter to 0 (for a reused accumulator). */
  clear(): void {
    this.publish = this.publishIn = this.publishOut = this.confirm = this.deliver = this.deliverNoAck = 0;
    this.get = this.getNoAck = this.getEmpty = this.ack = this.redeliver = this.returnUnroutable = this.dropUnroutable = 0;
  }

  /** Write the counters into `out` from `at`, in MESSAGE_STAT_KEYS order. */
  read(out: Float64Array, at: number): void {
    out[at] = this.publish;
    out[at + 1] = this.publishIn;
    out[at + 2] = this.publishOut;
    out[at + 3] = this.confirm;
    out[at + 4] = this.deliver;
    out[at + 5] = this.deliverNoAck;
    out[at + 6] = this.get;
    out[at + 7] = this.getNoAck;
    out[at + 8] = this.getEmpty;
    out[at + 9] = this.ack;
    out[at + 10] = this.redeliver;
    out[at + 11] = this.returnUnroutable;
    out[at + 12] = this.dropUnroutable;
  }

  /** One counter by its RabbitMQ name. */
  value(key: MessageStatKey): number {
    switch (key) {
      case 'publish': return this.publish;
      case 'publish_in': return this.publishIn;
      case 'publish_out': return this.publishOut;
      case 'confirm': return this.confirm;
      case 'deliver': return this.deliver;
      case 'deliver_no_ack': return this.deliverNoAck;
      case 'get': return this.get;
      case 'get_no_ack': return this.getNoAck;
      case 'get_empty': return this.getEmpty;
      case 'ack': return this.ack;
      case 'redeliver': return this.redeliver;
      case 'return_unroutable': return this.returnUnroutable;
      case 'drop_unroutable': return this.dropUnroutable;
    }
  }

  /** True while nothing has been counted (RabbitMQ then shows no message_stats at all). */
  isZero(): boolean {
    return this.publish === 0 && this.publishIn === 0 && this.publishOut === 0 && this.confirm === 0
      && this.deliver === 0 && this.deliverNoAck === 0 && this.get === 0 && this.getNoAck === 0
      && this.getEmpty === 0 && this.ack === 0 && this.redeliver === 0 && this.returnUnroutable === 0
      && this.dropUnroutable === 0;
  }
}

/**
 * Broker-wide churn counters (RabbitMQ's connection_churn_metrics and auth_attempt_metrics),
 * incremented where the event happens (connection accepted, channel opened, queue declared...).
 */
export class ChurnStats {
  connectionsOpened = 0;
  connectionsClosed = 0;
  channelsOpened = 0;
  channelsClosed = 0;
  /** queue.declare (and declares through the HTTP API), including redeclares of existing queues. */
  queuesDeclared = 0;
  queuesCreated = 0;
  queuesDeleted = 0;
  authAttempts = 0;
  authSucceeded = 0;
  authFailed = 0;
}

/** Why a message left a queue for its dead-letter exchange (RabbitMQ's reasons). */
export type DeadLetterReasonName = 'expired' | 'rejected' | 'maxlen' | 'delivery_limit';

/**
 * RabbitMQ's dead_letter_strategy label: `at_most_once` when a dead-letter exchange is set,
 * `disabled` when the message is dropped for want of one (`at_least_once` is a quorum-queue
 * mode Warren does not have, always 0).
 */
export type DeadLetterStrategy = 'at_most_once' | 'disabled' | 'at_least_once';

const DL_TYPES: readonly QueueTypeName[] = ['classic', 'quorum', 'stream'];
const DL_REASONS: readonly DeadLetterReasonName[] = ['expired', 'rejected', 'maxlen', 'delivery_limit'];
const DL_STRATEGIES: readonly DeadLetterStrategy[] = ['at_most_once', 'disabled', 'at_least_once'];

/**
 * Broker-wide counters with no per-object home, as RabbitMQ's rabbit_global_counters: messages
 * received on confirm-mode channels, and dead-lettered messages by queue type, reason and strategy.
 */
export class GlobalCounters {
  /** Messages published on channels in confirm mode. */
  receivedConfirm = 0;
  private readonly deadLettered = new Float64Array(DL_TYPES.length * DL_REASONS.length * DL_STRATEGIES.length);

  /** Count one dead-lettered (or, strategy `disabled`, dropped) message. */
  deadLetter(type: QueueTypeName, reason: DeadLetterReasonName, strategy: DeadLetterStrategy): void {
    this.deadLettered[dlIndex(type, reason, strategy)]!++;
  }

  deadLetteredCount(type: QueueTypeName, reason: DeadLetterReasonName, strategy: DeadLetterStrategy): number {
    return this.deadLettered[dlIndex(type, reason, strategy)]!;
  }
}

function dlIndex(type: QueueTypeName, reason: DeadLetterReasonName, strategy: DeadLetterStrategy): number {
  return (DL_TYPES.indexOf(type) * DL_REASONS.length + DL_REASONS.indexOf(reason)) * DL_STRATEGIES.length
    + DL_STRATEGIES.indexOf(strategy);
}

/** The queue types RabbitMQ's global counters are labelled with. */
export type QueueTypeName = 'classic' | 'quorum' | 'stream';

/**
 * The statistics a broker owns: churn, the counts of objects that are gone (so totals never go
 * down), and the sampler. One per Broker (no singletons: tests run several brokers per process).
 */
export class BrokerStatistics {
  readonly churn = new ChurnStats();
  readonly global = new GlobalCounters();
  /** Counts of deleted vhosts: global totals are these plus every live vhost's. */
  readonly retiredVhosts = new MessageStats();
  /** Counts of deleted queues by queue type (Prometheus' global counters are per queue type). */
  readonly retiredQueues: Record<QueueTypeName, MessageStats> = {
    classic: new MessageStats(), quorum: new MessageStats(), stream: new MessageStats(),
  };
  readonly sampler: StatsSampler;

  constructor(samplerOptions: Partial<SamplerOptions> = {}) {
    this.sampler = new StatsSampler(samplerOptions);
  }

  /** Global message counts: retired vhosts plus the given live ones, into `out` (cleared first). */
  totals(vhosts: Iterable<{ readonly stats: MessageStats }>, out: MessageStats): MessageStats {
    out.clear();
    out.add(this.retiredVhosts);
    for (const v of vhosts) out.add(v.stats);
    return out;
  }
}

// ------------------------------------------------------------------------------------------------
// Sampling

/** One sample of a counter or gauge, as RabbitMQ's `*_details.samples` entries. */
export interface StatSample {
  sample: number;
  /** Milliseconds since the epoch. */
  timestamp: number;
}

/**
 * The recent samples of one object: `keep` rows of MESSAGE_STAT_COUNT counters followed by the
 * source's gauges (queue lengths), in a ring, newest last.
 */
export class StatsHistory {
  private readonly values: Float64Array;
  private readonly times: Float64Array;
  /** Samples recorded so far (the ring holds the last `keep`). */
  private recorded = 0;

  constructor(readonly keep: number, readonly width: number) {
    this.values = new Float64Array(keep * width);
    this.times = new Float64Array(keep);
  }

  /** Samples held (at most `keep`). */
  get length(): number {
    return this.recorded < this.keep ? this.recorded : this.keep;
  }

  /** Start a new sample at `time`; returns the offset in `row()` where its values go. */
  push(time: number): number {
    const slot = this.recorded % this.keep;
    this.recorded++;
    this.times[slot] = time;
    return slot * this.width;
  }

  /** The backing array `push` offsets point into. */
  row(): Float64Array {
    return this.values;
  }

  private slot(age: number): number {
    return (this.recorded - 1 - age) % this.keep;
  }

  /** Field `field` of the sample `age` steps back (0 = newest). */
  value(age: number, field: number): number {
    return this.values[this.slot(age) * this.width + field]!;
  }

  /** Time (ms) of the sample `age` steps back (0 = newest). */
  time(age: number): number {
    return this.times[this.slot(age)]!;
  }

  /** Per-second rate of change of `field` between the two newest samples (RabbitMQ's `rate`). */
  rate(field: number): number {
    if (this.length < 2) return 0;
    const dt = (this.time(0) - this.time(1)) / 1000;
    return dt > 0 ? (this.value(0, field) - this.value(1, field)) / dt : 0;
  }

  /**
   * RabbitMQ's `samples` for `?msg_rates_age=&msg_rates_incr=` (or lengths_age/incr): the value at
   * the newest sample's time, then incr earlier, ... back to age before it (newest first), each
   * taken from the latest sample at or before that time; times before the first sample are left out.
   */
  samples(field: number, ageMs: number, incrMs: number): StatSample[] {
    const out: StatSample[] = [];
    if (this.length === 0 || incrMs <= 0) return out;
    const oldest = this.time(this.length - 1);
    const now = this.time(0);
    let age = 0;
    for (let t = now; t >= now - ageMs && t >= oldest; t -= incrMs) {
      while (age < this.length - 1 && this.time(age) > t) age++;
      if (this.time(age) > t) break;
      out.push({ sample: this.value(age, field), timestamp: t });
    }
    return out;
  }
}

/** Where the sampler finds objects of one kind and their counters. */
export interface SampleSource<T extends object = object> {
  /** Live objects of this kind, read at every tick. */
  objects(): Iterable<T>;
  /** An object's message counters (may be a reused accumulator filled for the call). */
  stats(obj: T): MessageStats;
  /** Gauges sampled with each object (e.g. queue lengths), written after the counters. */
  readonly gauges?: readonly string[];
  readGauges?(obj: T, out: Float64Array, at: number): void;
  /** Samples kept per object (default: the sampler's `keep`). */
  readonly keep?: number;
}

export interface SamplerOptions {
  /** Milliseconds between samples (RabbitMQ's collect_statistics_interval: 5000). */
  intervalMs: number;
  /** Samples kept per object unless its source says otherwise (12 x 5 s: the last minute). */
  keep: number;
  now: () => number;
}

const DEFAULT_SAMPLER: SamplerOptions = { intervalMs: 5000, keep: 12, now: Date.now };

interface RegisteredSource {
  readonly source: SampleSource<object>;
  readonly width: number;
  readonly keep: number;
  /** Index of a gauge by name, for readers. */
  readonly gaugeIndex: ReadonlyMap<string, number>;
}

/**
 * Samples every registered source at a fixed interval (a timer that does not keep the process
 * alive). Not on the hot path: one tick walks every object once and copies its counters.
 */
export class StatsSampler {
  readonly options: SamplerOptions;
  private readonly sources: RegisteredSource[] = [];
  private readonly histories = new WeakMap<object, StatsHistory>();
  private readonly sourceOf = new WeakMap<StatsHistory, RegisteredSource>();
  private timer: NodeJS.Timeout | undefined;
  /** Time of the previous tick (-1 before the first). */
  private lastTick = -1;

  constructor(options: Partial<SamplerOptions> = {}) {
    this.options = { ...DEFAULT_SAMPLER, ...options };
  }

  /** Follow one kind of object. Gauges, if any, follow the counters in each sample. */
  addSource<T extends object>(source: SampleSource<T>): void {
    const gauges = source.gauges ?? [];
    this.sources.push({
      source: source as unknown as SampleSource<object>,
      width: MESSAGE_STAT_COUNT + gauges.length,
      keep: source.keep ?? this.options.keep,
      gaugeIndex: new Map(gauges.map((g, i) => [g, MESSAGE_STAT_COUNT + i])),
    });
  }

  start(): void {
    if (this.timer !== undefined) return;
    this.timer = setInterval(() => this.sample(), this.options.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Take one sample of every object now (the timer calls this; tests may too). */
  sample(now = this.options.now()): void {
    for (const reg of this.sources) {
      const src = reg.source;
      for (const obj of src.objects()) {
        const stats = src.stats(obj);
        let h = this.histories.get(obj);
        if (h === undefined) {
          if (stats.isZero() && !this.hasNonZeroGauge(reg, obj)) continue;
          h = new StatsHistory(reg.keep, reg.width);
          this.histories.set(obj, h);
          this.sourceOf.set(h, reg);
          if (this.lastTick >= 0 && this.lastTick < now) {
            // Counters started at 0: record that at the previous tick so the first rate is right;
            // gauges repeat their current value (their earlier history is unknown).
            const at = h.push(this.lastTick);
            if (src.readGauges !== undefined) src.readGauges(obj, h.row(), at + MESSAGE_STAT_COUNT);
          }
        }
        const at = h.push(now);
        stats.read(h.row(), at);
        if (src.readGauges !== undefined) src.readGauges(obj, h.row(), at + MESSAGE_STAT_COUNT);
      }
    }
    this.lastTick = now;
  }

  private readonly scratch = new Float64Array(16);

  private hasNonZeroGauge(reg: RegisteredSource, obj: object): boolean {
    const src = reg.source;
    const n = reg.width - MESSAGE_STAT_COUNT;
    if (n === 0 || src.readGauges === undefined) return false;
    const buf = n <= this.scratch.length ? this.scratch : new Float64Array(n);
    src.readGauges(obj, buf, 0);
    for (let i = 0; i < n; i++) if (buf[i] !== 0) return true;
    return false;
  }

  /** The object's history, or undefined if it has not counted anything yet. */
  history(obj: object): StatsHistory | undefined {
    return this.histories.get(obj);
  }

  /** Field index of a gauge in `obj`'s history (undefined if the source has no such gauge). */
  gaugeField(h: StatsHistory, gauge: string): number | undefined {
    return this.sourceOf.get(h)?.gaugeIndex.get(gauge);
  }
}

/** Field index of a counter in a history row. */
export function counterField(key: MessageStatKey): number {
  return MESSAGE_STAT_KEYS.indexOf(key);
}
