/**
 * The `warren` management commands run as a process against Warren (in-process, management API
 * and AMQP on ephemeral ports): the same scenarios as against the reference's API.
 */
import { describe } from 'vitest';
import { useBroker } from '../helpers/setup.js';
import { defineCliScenarios } from './cli-scenarios.js';

const ctx = useBroker({ managementPort: 0 });
const url = (): string => ctx.broker.warren!.managementUrl!;

describe('warren CLI against Warren', () => {
  defineCliScenarios(() => ({ url: url(), amqpPort: ctx.port }));
});
