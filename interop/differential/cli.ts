/**
 * Command-line runner for the differential scenarios (outside vitest, for quick iteration):
 *
 *   npx tsx interop/differential/cli.ts [options] [name-substring ...]
 *     --self-check      compare the reference against itself (determinism check of the scenarios)
 *     --subject <url>   compare the reference against this broker instead of an in-process Warren
 *     --print           print the reference trace of every selected scenario
 *     --repeat <n>      play each comparison n times (with --self-check: flushes out flaky scenarios)
 *     --concurrency <n> scenarios in flight at once (default 4)
 *
 * Exit code 0 when every selected scenario matched, 1 otherwise, 2 when no reference is reachable.
 */
import { findReference, referenceCandidate, startWarrenSubject, type Subject } from './brokers.js';
import { formatTrace, runDifferential, runScenario, type DifferentialResult } from './run-scenario.js';
import { allScenarios } from './scenario-list.js';

interface CliOptions {
  selfCheck: boolean;
  subject: string | undefined;
  print: boolean;
  repeat: number;
  concurrency: number;
  filters: string[];
}

function parseArgs(argv: readonly string[]): CliOptions {
  const o: CliOptions = { selfCheck: process.env['DIFF_SELF_CHECK'] === '1', subject: undefined, print: false, repeat: 1, concurrency: 4, filters: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--self-check') o.selfCheck = true;
    else if (a === '--print') o.print = true;
    else if (a === '--subject') o.subject = argv[++i];
    else if (a === '--repeat') o.repeat = Number(argv[++i] ?? 1);
    else if (a === '--concurrency') o.concurrency = Number(argv[++i] ?? 4);
    else if (a !== undefined) o.filters.push(a);
  }
  return o;
}

async function main(): Promise<number> {
  const opts = parseArgs(process.argv.slice(2));
  const ref = await findReference();
  if (ref === undefined) {
    console.error(`no reference broker reachable at ${referenceCandidate()}`);
    return 2;
  }
  const selected = allScenarios.filter((s) => opts.filters.length === 0 || opts.filters.some((f) => s.name.includes(f)));
  if (opts.print) {
    for (const s of selected) {
      const run = await runScenario(s, ref);
      console.log(`=== ${s.name} (${run.durationMs} ms): ${s.description}\n${formatTrace(run.trace)}\n`);
    }
    return 0;
  }
  let broker: Subject | undefined;
  let subject = opts.subject;
  if (opts.selfCheck) subject = ref;
  if (subject === undefined) {
    broker = await startWarrenSubject();
    subject = broker.url;
  }
  const labels = opts.selfCheck ? { expected: 'reference run 1', actual: 'reference run 2' } : { expected: 'reference', actual: 'subject' };
  const started = Date.now();
  const failures: DifferentialResult[] = [];
  const queue = selected.flatMap((s) => Array.from({ length: opts.repeat }, () => s));
  const worker = async () => {
    for (let s = queue.shift(); s !== undefined; s = queue.shift()) {
      const r = await runDifferential(s, ref, subject, labels);
      console.log(`${r.equal ? 'ok  ' : 'FAIL'} ${s.name} (${r.expected.durationMs}/${r.actual.durationMs} ms)`);
      if (!r.equal) failures.push(r);
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.max(1, opts.concurrency) }, worker));
  } finally {
    await broker?.close();
  }
  for (const f of failures) console.log(`\n${f.report}`);
  console.log(`\n${selected.length * opts.repeat - failures.length}/${selected.length * opts.repeat} matched in ${Date.now() - started} ms`);
  return failures.length === 0 ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
