/**
 * A fuzzing campaign: start Warren as a child process (or use a broker already listening), start
 * the canary, measure the broker's resident memory at rest, then run fuzzed connections
 * (runFuzzConnection) `concurrency` at a time until the time is up; afterwards delete what
 * cut-short traces left behind, stop the canary, wait for the memory to come back, and stop the
 * broker with SIGTERM. Checks, each a failure in the report: the broker never exits on its own and
 * logs no error; the canary's checks; every fuzzed connection's checks; resident memory back under
 * baseline + allowance; a clean exit on SIGTERM.
 * Connection i of seed S is always the same bytes: `replay` runs just those indexes.
 */
import amqp from 'amqplib';
import { BrokerChild } from './broker-child.js';
import { Canary, type CanaryReport } from './canary.js';
import { DEFAULT_LIMITS, runFuzzConnection, type ConnectionLimits, type ConnectionResult } from './fuzz-connection.js';

export interface CampaignOptions {
  seconds: number;
  seed: number;
  concurrency: number;
  /** Fuzz a broker already listening on 127.0.0.1:port (no memory or exit checks). */
  port?: number;
  /** Start this build's CLI instead of this checkout's (dist/src/cli/main.js of another worktree). */
  cli?: string;
  /** Only these connection indexes (a failing seed's replay). */
  replay?: number[];
  limits?: ConnectionLimits;
  /** false: send the valid traces unmutated (checks that a broker answers them all without error). */
  mutations?: boolean;
  /** Resident memory may end this many bytes above the baseline (V8 keeps some heap it grew). */
  rssAllowance?: number;
  log?: (line: string) => void;
}

export interface Failure {
  index: number | undefined;
  what: string;
  mutations?: string[];
}

export interface CampaignReport {
  seed: number;
  seconds: number;
  connections: number;
  framesSent: number;
  bytesSent: number;
  outcomes: Record<string, number>;
  mutations: Record<string, number>;
  brokerCloses: Record<string, number>;
  canary: CanaryReport | undefined;
  rss: { baseline: number; peak: number; end: number } | undefined;
  failures: Failure[];
}

/**
 * Resident memory may end this far above the resting baseline. V8 keeps the heap it grew to under
 * load (a 2-minute run: baseline ~60 MiB, peak ~130, ~105-110 at rest afterwards and the same after
 * 10 minutes); a leak grows with the run and crosses it.
 */
export const RSS_ALLOWANCE = 80 * 1048576;

/** The name tag of a campaign's connections (queue and exchange names start with fz<tag>-<index>). */
export const runTagOf = (seed: number): string => (seed >>> 0).toString(36);

export async function runCampaign(o: CampaignOptions): Promise<CampaignReport> {
  const log = o.log ?? (() => undefined);
  const limits = o.limits ?? DEFAULT_LIMITS;
  const runTag = runTagOf(o.seed);
  const report: CampaignReport = {
    seed: o.seed, seconds: o.seconds, connections: 0, framesSent: 0, bytesSent: 0, outcomes: {}, mutations: {},
    brokerCloses: {}, canary: undefined, rss: undefined, failures: [],
  };
  const failures = report.failures;
  const failure = (f: Failure): void => {
    if (failures.length < 100) failures.push(f);
    log(`FAILURE ${f.index === undefined ? '' : `connection ${f.index}: `}${f.what}${f.mutations === undefined ? '' : ` [${f.mutations.join(', ')}]`}`);
  };
  const broker = o.port === undefined ? await BrokerChild.start(o.cli === undefined ? {} : { cli: o.cli }) : undefined;
  const port = o.port ?? broker!.port;
  const url = `amqp://guest:guest@127.0.0.1:${port}`;
  log(`fuzzing ${broker === undefined ? 'an external broker' : `Warren (pid ${broker.pid})`} on port ${port}, seed ${o.seed}, ${o.replay === undefined ? `${o.seconds} s` : `replay of ${o.replay.join(',')}`}`);
  const canary = new Canary(url, `fuzz-canary-${runTag}-${process.pid}`);
  const leftovers = { exchanges: new Set<string>(), queues: new Set<string>() };
  let peak = 0;
  const sampler = setInterval(() => { peak = Math.max(peak, broker?.rss() ?? 0); }, 250);
  try {
    await canary.start();
    await settle(1000);
    const baseline = await restingRss(broker);
    const deadline = Date.now() + o.seconds * 1000;
    const queue = o.replay === undefined ? undefined : [...o.replay];
    let next = 0;
    let lastLog = Date.now();
    const worker = async (): Promise<void> => {
      for (;;) {
        if (broker !== undefined && !broker.running) return;
        let index: number;
        if (queue !== undefined) {
          const i = queue.shift();
          if (i === undefined) return;
          index = i;
        } else {
          if (Date.now() >= deadline) return;
          index = next++;
        }
        const r = await runFuzzConnection(port, o.seed, index, runTag, limits, o.mutations ?? true);
        account(report, r);
        for (const x of r.leftovers.exchanges) leftovers.exchanges.add(x);
        for (const q of r.leftovers.queues) leftovers.queues.add(q);
        if (r.failure !== undefined) failure({ index, what: r.failure, mutations: r.mutations });
        if (Date.now() - lastLog > 10_000) {
          lastLog = Date.now();
          log(`${report.connections} connections, ${report.framesSent} frames, ${(report.bytesSent / 1048576).toFixed(1)} MiB sent, rss ${mib(broker?.rss())}`);
        }
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, o.concurrency) }, worker));
    log(`fuzzing done: ${report.connections} connections (the last ones ended ${Math.max(0, Date.now() - deadline)} ms after the deadline)`);
    if (broker !== undefined && !broker.running) {
      failure({ index: undefined, what: `the broker died: ${JSON.stringify(broker.exit)} ${broker.stderr.slice(-2000)}` });
      return report;
    }
    await deleteLeftovers(url, leftovers, failure);
    log(`deleted ${leftovers.exchanges.size} exchanges and ${leftovers.queues.size} queues cut-short traces may have left`);
    report.canary = await canary.stop(30_000);
    log(`canary stopped: ${JSON.stringify({ ...report.canary, problems: report.canary.problems.length })}`);
    for (const p of report.canary.problems) failure({ index: undefined, what: `canary: ${p}` });
    if (broker !== undefined && baseline !== undefined) {
      const allowance = o.rssAllowance ?? RSS_ALLOWANCE;
      const end = await rssBackUnder(broker, baseline + allowance, 30_000);
      report.rss = { baseline, peak, end };
      if (end > baseline + allowance) {
        failure({ index: undefined, what: `resident memory did not come back: ${mib(end)} after the run, baseline ${mib(baseline)} (+${mib(allowance)} allowed)` });
      }
    }
  } catch (e: unknown) {
    failure({ index: undefined, what: `campaign error: ${e instanceof Error ? e.stack ?? e.message : String(e)}` });
  } finally {
    clearInterval(sampler);
    if (broker !== undefined) {
      for (const e of broker.errors) failure({ index: undefined, what: `broker logged: ${e}` });
      const wasRunning = broker.running;
      const exit = await broker.stop();
      if (!wasRunning) failure({ index: undefined, what: `the broker exited on its own: ${JSON.stringify(exit)} ${broker.stderr.slice(-2000)}` });
      else if (exit.code !== 0) failure({ index: undefined, what: `SIGTERM after fuzzing: exit ${JSON.stringify(exit)} ${broker.stderr.slice(-2000)}` });
    }
  }
  return report;
}

function account(report: CampaignReport, r: ConnectionResult): void {
  report.connections++;
  report.framesSent += r.framesSent;
  report.bytesSent += r.bytesSent;
  inc(report.outcomes, r.outcome);
  for (const m of r.mutations.length === 0 ? ['(none)'] : r.mutations) inc(report.mutations, m);
  if (r.brokerClose !== undefined) inc(report.brokerCloses, String(r.brokerClose.code));
  for (const c of r.channelCloses) inc(report.brokerCloses, `channel ${c}`);
}

function inc(rec: Record<string, number>, key: string): void {
  rec[key] = (rec[key] ?? 0) + 1;
}

const settle = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const mib = (b: number | undefined): string => (b === undefined ? '?' : `${(b / 1048576).toFixed(1)} MiB`);

/** The lowest of a few samples: what the broker holds at rest with the canary running. */
async function restingRss(broker: BrokerChild | undefined): Promise<number | undefined> {
  if (broker === undefined) return undefined;
  let low = Infinity;
  for (let i = 0; i < 5; i++) {
    low = Math.min(low, broker.rss() ?? Infinity);
    await settle(200);
  }
  return low === Infinity ? undefined : low;
}

async function rssBackUnder(broker: BrokerChild, limit: number, ms: number): Promise<number> {
  const deadline = Date.now() + ms;
  let rss = broker.rss() ?? 0;
  while (rss > limit && Date.now() < deadline) {
    await settle(500);
    rss = broker.rss() ?? 0;
  }
  return rss;
}

/** Delete exchanges and durable queues that cut-short traces may have left (missing ones are fine). */
async function deleteLeftovers(url: string, left: { exchanges: Set<string>; queues: Set<string> },
  failure: (f: Failure) => void): Promise<void> {
  const conn = await amqp.connect(url);
  conn.on('error', () => undefined);
  try {
    let ch = await conn.createChannel();
    ch.on('error', () => undefined);
    const items: [string, string][] = [...[...left.exchanges].map((n) => ['x', n] as [string, string]), ...[...left.queues].map((n) => ['q', n] as [string, string])];
    for (const [kind, name] of items) {
      try {
        if (kind === 'x') await ch.deleteExchange(name);
        else await ch.deleteQueue(name);
      } catch {
        // e.g. 405 for an exclusive queue of a connection still closing: use a fresh channel.
        ch = await conn.createChannel();
        ch.on('error', () => undefined);
      }
    }
  } catch (e: unknown) {
    failure({ index: undefined, what: `cleanup: ${e instanceof Error ? e.message : String(e)}` });
  } finally {
    await conn.close().catch(() => undefined);
  }
}
