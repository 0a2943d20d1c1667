/**
 * Reset (a Warren test endpoint, issue 14): return a vhost to the state of a new one in one call, so
 * a test suite can start every test from nothing without restarting the broker. In order: its
 * connections are closed with 320 CONNECTION_FORCED ("vhost '/' is reset"; their exclusive queues go
 * with them, as on any close), then every queue is deleted (consumers cancelled, messages dropped),
 * every exchange but the default and amq.* ones, every binding left between those, and every policy
 * of the vhost. Users, permissions, limits, operator policies and other runtime parameters (shovels,
 * federation upstreams) stay: they are the broker's configuration, not a test's state.
 * Every deletion goes through the vhost's own operation, so durable ones are journaled as usual.
 */
import { UNRESTRICTED } from './access-control.js';
import type { Broker } from './broker.js';
import { Exchange } from './exchange.js';

export interface ResetResult {
  readonly connectionsClosed: number;
  readonly queuesDeleted: number;
  readonly messagesDeleted: number;
  readonly exchangesDeleted: number;
  readonly bindingsDeleted: number;
  readonly policiesDeleted: number;
}

/** The exchanges every vhost has: the default one and amq.*. */
export function isSystemExchange(name: string): boolean {
  return name === '' || name.startsWith('amq.');
}

/** Reset vhost `name` (which must exist). */
export function resetVhost(broker: Broker, name: string): ResetResult {
  const v = broker.vhosts.get(name);
  if (v === undefined) throw new Error(`no vhost '${name}'`);
  const connectionsClosed = broker.connections.closeWhere((c) => c.vhost === name, `vhost '${name}' is reset`);
  const explicitBindings = () => v.allBindings().filter((b) => b.source.name !== '').length;
  const bindingsBefore = explicitBindings();
  let queuesDeleted = 0;
  let messagesDeleted = 0;
  for (const q of [...v.queues.values()]) {
    messagesDeleted += q.messageCount;
    v.removeQueue(q);
    queuesDeleted++;
  }
  let exchangesDeleted = 0;
  for (const x of [...v.exchanges.values()]) {
    if (isSystemExchange(x.name) || x.deleted) continue;
    v.deleteExchange(x.name, false, UNRESTRICTED);
    exchangesDeleted++;
  }
  // What is left: bindings from one amq.* exchange to another.
  for (const b of v.allBindings()) {
    if (b.destination instanceof Exchange) v.unbindExchange(b.destination.name, b.source.name, b.routingKey, b.args, UNRESTRICTED);
  }
  const bindingsDeleted = bindingsBefore - explicitBindings();
  let policiesDeleted = 0;
  for (const p of broker.policies.list('policy', name)) if (broker.policies.delete('policy', name, p.name)) policiesDeleted++;
  return { connectionsClosed, queuesDeleted, messagesDeleted, exchangesDeleted, bindingsDeleted, policiesDeleted };
}
