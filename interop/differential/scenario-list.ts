/**
 * Every differential scenario, in a stable order (the vitest entry and the CLI both read this).
 * Names are unique; the vitest entry checks that.
 */
import type { Scenario } from './scenario.js';
import { ackScenarios } from './scenarios/ack-scenarios.js';
import { channelScenarios } from './scenarios/channel-scenarios.js';
import { consumerScenarios } from './scenarios/consumer-scenarios.js';
import { exchangeScenarios } from './scenarios/exchange-scenarios.js';
import { extensionScenarios } from './scenarios/extension-scenarios.js';
import { publishScenarios } from './scenarios/publish-scenarios.js';
import { queueScenarios } from './scenarios/queue-scenarios.js';
import { streamScenarios } from './scenarios/stream-scenarios.js';

export const allScenarios: readonly Scenario[] = [
  ...queueScenarios,
  ...exchangeScenarios,
  ...publishScenarios,
  ...ackScenarios,
  ...consumerScenarios,
  ...channelScenarios,
  ...extensionScenarios,
  ...streamScenarios,
];
