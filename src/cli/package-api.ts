/**
 * The package's entry point (package.json "main" and "exports"): what a program or a test run that
 * embeds Warren imports. `startBroker` is the one to reach for in tests (README "Warren inside a
 * test run"); `startWarren` is the full composition root the `warren start` command uses.
 */
export { startBroker, type RunningBroker, type StartBrokerOptions } from './start-broker.js';
export { startWarren, WARREN_VERSION, type Warren, type WarrenOptions } from './warren.js';
export type { ResetResult } from '../broker/vhost-reset.js';
