/**
 * The shape of one differential scenario: a named script played against a broker through a
 * ScenarioContext. A scenario never hardcodes the expected outcome: whatever the reference broker
 * observes is the expectation, so a scenario must be deterministic against the reference itself
 * (checked by DIFF_SELF_CHECK=1).
 */
import type { ScenarioContext } from './scenario-context.js';

export interface Scenario {
  /** Unique, kebab-case; also the vitest test name. */
  readonly name: string;
  /** One line: what the scenario checks. */
  readonly description: string;
  /** Overall time limit of one run, ms, for the few bulk scenarios (default: the runner's 10 s). */
  readonly timeoutMs?: number;
  run(ctx: ScenarioContext): Promise<void>;
}

/** Helper so scenario files read as a list of plain objects with checked types. */
export function scenario(name: string, description: string, run: (ctx: ScenarioContext) => Promise<void>, options: { readonly timeoutMs?: number } = {}): Scenario {
  return { name, description, run, ...options };
}
