/**
 * The `warren` management commands against the reference RabbitMQ's management API: they speak
 * RabbitMQ's API, so they must work there unchanged (skipped with the reason when the reference
 * or its management plugin is not reachable).
 */
import { describe } from 'vitest';
import { referenceManagement } from '../../helpers/reference-plugins.js';
import { defineCliScenarios } from './cli-scenarios.js';

const reference = await referenceManagement();
const skip = 'skip' in reference ? reference.skip : undefined;
if (skip !== undefined) console.warn(`CLI against the reference skipped: ${skip}`);

describe.skipIf(skip !== undefined)(`warren CLI against the reference's management API${skip === undefined ? '' : ` (skipped: ${skip})`}`, { timeout: 120_000 }, () => {
  defineCliScenarios(() => ({ url: 'url' in reference ? reference.url : '', amqpPort: Number(new URL(process.env['REFERENCE_AMQP_URL'] ?? 'amqp://127.0.0.1:5672').port || 5672) }));
});
