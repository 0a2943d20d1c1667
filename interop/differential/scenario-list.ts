/**
 * Every differential scenario, in a stable order (the vitest entry and the CLI both read this).
 * Names are unique; a test checks that.
 */
import type { Scenario } from './scenario.js';
import { exchangeScenarios } from './scenarios/exchange-scenarios.js';
import { queueScenarios } from './scenarios/queue-scenarios.js';

export const allScenarios: readonly Scenario[] = [...queueScenarios, ...exchangeScenarios];
