/**
 * Differential test entry: every scenario is one test that plays the scenario against the
 * reference RabbitMQ and against Warren (in-process, port 0) and fails with a diff of the two
 * client-observed traces. Skipped, with a warning naming the URL, when no reference is reachable.
 * DIFF_SELF_CHECK=1 plays reference against reference instead (checks scenarios are deterministic).
 * DIFF_FILTER=<substring> runs only matching scenarios.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findReference, referenceCandidate, startWarrenSubject, type Subject } from './brokers.js';
import { runDifferential } from './run-scenario.js';
import { allScenarios } from './scenario-list.js';

const reference = await findReference();
const selfCheck = process.env['DIFF_SELF_CHECK'] === '1';
const filter = process.env['DIFF_FILTER'];
const scenarios = allScenarios.filter((s) => filter === undefined || s.name.includes(filter));

if (reference === undefined) {
  console.warn(`differential scenarios skipped: no reference broker at ${referenceCandidate()} (set REFERENCE_AMQP_URL)`);
}

describe('differential harness', () => {
  it('has uniquely named scenarios', () => {
    const names = allScenarios.map((s) => s.name);
    expect(new Set(names).size).toBe(names.length);
    expect(names.length).toBeGreaterThanOrEqual(40);
  });
});

describe.skipIf(reference === undefined)(selfCheck ? 'differential: reference vs reference' : 'differential: reference vs warren', () => {
  let subject: Subject | undefined;
  let startError: unknown;

  beforeAll(async () => {
    if (selfCheck) return;
    try {
      subject = await startWarrenSubject();
    } catch (err) {
      startError = err;
    }
  });

  afterAll(async () => {
    await subject?.close();
  });

  // Scenarios use unique names per run, so they can share both brokers concurrently.
  describe.concurrent.each(scenarios.map((s) => [s.name, s] as const))('%s', (_name, scenario) => {
    it(scenario.description, async () => {
      const ref = reference;
      if (ref === undefined) return;
      const subjectUrl = selfCheck ? ref : subject?.url;
      if (subjectUrl === undefined) throw new Error(`Warren did not start: ${String(startError)}`);
      const labels = selfCheck ? { expected: 'reference run 1', actual: 'reference run 2' } : { expected: 'reference', actual: 'warren' };
      const result = await runDifferential(scenario, ref, subjectUrl, labels);
      if (!result.equal) expect.fail(`\n${result.report}`);
    }, (scenario.timeoutMs ?? 10_000) + 15_000); // the run's own limit plus cleanup, so the run's abort (with its trace) wins
  });
});
