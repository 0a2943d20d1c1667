/**
 * Plays scenarios against brokers and compares the traces. One run = one fresh ScenarioContext with
 * its own run id; the scenario's exception (other than a harness timeout) and an overall time limit
 * become trace entries, so a broken broker yields a readable diff rather than a hang.
 * Cleanup always runs, on success and on failure.
 */
import type { Scenario } from './scenario.js';
import { ScenarioAbort, ScenarioContext, describeError } from './scenario-context.js';
import { compareTraces, normaliseTrace, renderTrace, type Trace } from './trace.js';

const CLEANUP_LIMIT_MS = 5000;

let runCounter = 0;

/** Unique per run and process (like test/helpers' uniqueName), short enough for 255-byte names. */
function nextRunId(): string {
  return `r${process.pid.toString(36)}${Date.now().toString(36)}${(runCounter++).toString(36)}`;
}

export interface ScenarioRun {
  readonly url: string;
  readonly trace: Trace;
  readonly durationMs: number;
}

export interface RunOptions {
  /** Overall limit for one run, ms (default 10 s). */
  readonly timeoutMs?: number;
  /** Timeout of each individual wait inside the scenario, ms (default 4 s). */
  readonly waitTimeoutMs?: number;
}

export async function runScenario(scenario: Scenario, url: string, options: RunOptions = {}): Promise<ScenarioRun> {
  const started = Date.now();
  const runId = nextRunId();
  const ctx = new ScenarioContext(url, runId, options.waitTimeoutMs ?? 4000);
  let timer: NodeJS.Timeout | undefined;
  const limit = options.timeoutMs ?? scenario.timeoutMs ?? 10_000;
  try {
    await Promise.race([
      scenario.run(ctx),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new ScenarioAbort(`scenario exceeded ${limit} ms`)), limit);
      }),
    ]);
  } catch (err) {
    if (err instanceof ScenarioAbort) ctx.record('scenario.aborted', err.message);
    else ctx.record('scenario.threw', describeError(err));
  } finally {
    clearTimeout(timer);
    // Cleanup talks to the broker too; a broker that stopped answering must not hang the run.
    let cleanupTimer: NodeJS.Timeout | undefined;
    await Promise.race([
      ctx.cleanup(),
      new Promise<void>((resolve) => {
        cleanupTimer = setTimeout(() => {
          ctx.record('cleanup.timed-out', `cleanup did not finish within ${CLEANUP_LIMIT_MS} ms`);
          resolve();
        }, CLEANUP_LIMIT_MS);
      }),
    ]);
    clearTimeout(cleanupTimer);
  }
  return { url, trace: normaliseTrace(ctx.trace, runId), durationMs: Date.now() - started };
}

export interface DifferentialResult {
  readonly scenario: string;
  readonly equal: boolean;
  readonly expected: ScenarioRun;
  readonly actual: ScenarioRun;
  /** Human-readable report: the diff plus both traces' context. */
  readonly report: string;
}

/** Plays the scenario against both brokers (concurrently: names never collide) and compares. */
export async function runDifferential(
  scenario: Scenario,
  referenceUrl: string,
  subjectUrl: string,
  labels = { expected: 'reference', actual: 'warren' },
  options: RunOptions = {},
): Promise<DifferentialResult> {
  const [expected, actual] = await Promise.all([runScenario(scenario, referenceUrl, options), runScenario(scenario, subjectUrl, options)]);
  const cmp = compareTraces(expected.trace, actual.trace, labels);
  const report = cmp.equal
    ? ''
    : [
        `scenario ${scenario.name}: ${scenario.description}`,
        `${labels.expected} (${redact(referenceUrl)}) and ${labels.actual} (${redact(subjectUrl)}) differ:`,
        cmp.diff,
      ].join('\n');
  return { scenario: scenario.name, equal: cmp.equal, expected, actual, report };
}

/** The trace as text, one event per line (for printing a single run). */
export function formatTrace(trace: Trace): string {
  return renderTrace(trace).join('\n');
}

function redact(url: string): string {
  try {
    const u = new URL(url);
    u.password = '';
    u.username = '';
    return `${u.host}`;
  } catch {
    return url;
  }
}
