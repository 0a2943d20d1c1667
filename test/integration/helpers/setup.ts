/**
 * Per-file broker lifecycle for the integration suites: one broker per test file (Warren in-process
 * on port 0, or the reference RabbitMQ with WARREN_TEST_TARGET=reference), a fresh Clients per test,
 * and afterEach closing every amqplib / amqp-client / raw connection the test opened (no leaks).
 */
import { afterAll, afterEach, beforeAll, beforeEach } from 'vitest';
import { startTestBroker, uniqueName, waitFor, type TestBroker } from '../../helpers/broker.js';
import type { WarrenOptions } from '../../../src/cli/warren.js';
import { Clients } from './clients.js';
import { closeAllRaw } from './raw-amqp.js';

export interface BrokerContext {
  readonly broker: TestBroker;
  readonly clients: Clients;
  readonly url: string;
  readonly port: number;
  readonly isReference: boolean;
  /** A unique name (queues, exchanges): the reference broker is shared between suites. */
  name(prefix?: string): string;
}

export function useBroker(options: WarrenOptions = {}): BrokerContext {
  let broker: TestBroker | undefined;
  let clients: Clients | undefined;
  beforeAll(async () => {
    broker = await startTestBroker(options);
  });
  afterAll(async () => {
    await broker?.close();
  });
  beforeEach(() => {
    clients = new Clients(() => ctx.url);
  });
  afterEach(async () => {
    await clients?.closeAll();
    closeAllRaw();
    // No leaks: once every client is gone, Warren must have dropped every connection (and with them
    // their channels, consumers and heartbeat timers). The reference cannot be inspected this way.
    const listener = broker?.warren?.listener;
    if (listener !== undefined) {
      await waitFor(() => listener.connections.size === 0, 5000).catch(() => {
        throw new Error(`leak: ${listener.connections.size} connection(s) still open on the broker after the test closed its clients`);
      });
    }
  });
  const need = <T>(v: T | undefined, what: string): T => {
    if (v === undefined) throw new Error(`${what} is not ready (used outside a test?)`);
    return v;
  };
  const ctx: BrokerContext = {
    get broker() { return need(broker, 'broker'); },
    get clients() { return need(clients, 'clients'); },
    get url() { return need(broker, 'broker').url; },
    get port() { return need(broker, 'broker').port; },
    get isReference() { return need(broker, 'broker').isReference; },
    name: (prefix = 'it') => uniqueName(prefix),
  };
  return ctx;
}
