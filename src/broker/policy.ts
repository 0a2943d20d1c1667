/**
 * Policies: a name, a regex pattern matched against queue or
 * exchange names, what they apply to, a priority, and a definition with RabbitMQ's keys
 * (message-ttl, expires, max-length, max-length-bytes, overflow, dead-letter-exchange,
 * dead-letter-routing-key, delivery-limit, alternate-exchange; Warren's retry-delays, retry-limit). The highest-priority matching
 * policy applies. Precedence as in RabbitMQ: for the numeric limits (message-ttl, expires,
 * max-length, max-length-bytes, delivery-limit) the lower of argument and policy wins; for the
 * others the queue's own argument wins over the policy.
 */
import type { JsonValue } from '../store/definitions.js';
import { retryDelaysValue, type QueueArguments } from './queue-arguments.js';

/** A definition value: RabbitMQ's keys take strings and numbers; some (ha-params) lists. */
export type PolicyValue = JsonValue;

export interface Policy {
  name: string;
  /** Regular expression (RabbitMQ syntax is close to JS for common patterns). */
  pattern: string;
  applyTo: 'queues' | 'exchanges' | 'all';
  priority: number;
  definition: Readonly<Record<string, PolicyValue>>;
  /** Virtual host, default '/'. */
  vhost?: string;
}

/**
 * What a vhost asks when it declares a queue or an exchange: the effective settings under the
 * runtime policies (PolicyStore implements it, with operator policies merged in).
 */
export interface PolicyResolver {
  queueSettings(vhost: string, queue: string, declared: QueueArguments): QueueArguments;
  /** The definition applied to a queue (streams read max-age, max-length-bytes, ... from it). */
  queueDefinition(vhost: string, queue: string): Readonly<Record<string, unknown>> | undefined;
  alternateExchange(vhost: string, exchange: string): string | undefined;
}

export function matchingPolicy(policies: readonly Policy[], vhost: string, name: string,
  kind: 'queues' | 'exchanges'): Policy | undefined {
  let best: Policy | undefined;
  for (const p of policies) {
    if ((p.vhost ?? '/') !== vhost) continue;
    if (p.applyTo !== 'all' && p.applyTo !== kind) continue;
    if (!new RegExp(p.pattern).test(name)) continue;
    if (best === undefined || p.priority > best.priority) best = p;
  }
  return best;
}

function num(def: Readonly<Record<string, PolicyValue>>, key: string): number | undefined {
  const v = def[key];
  return typeof v === 'number' && Number.isInteger(v) && v >= 0 ? v : undefined;
}

function str(def: Readonly<Record<string, PolicyValue>>, key: string): string | undefined {
  const v = def[key];
  return typeof v === 'string' ? v : undefined;
}

function lower(a: number | undefined, b: number | undefined): number | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return Math.min(a, b);
}

/** Queue settings from its arguments merged with a policy. */
export function applyQueuePolicy(args: QueueArguments, policy: Policy | undefined): QueueArguments {
  if (policy === undefined) return args;
  const d = policy.definition;
  const overflow = str(d, 'overflow');
  return {
    ...args,
    messageTtl: lower(args.messageTtl, num(d, 'message-ttl')),
    expires: lower(args.expires, num(d, 'expires')),
    maxLength: lower(args.maxLength, num(d, 'max-length')),
    maxLengthBytes: lower(args.maxLengthBytes, num(d, 'max-length-bytes')),
    deliveryLimit: lower(args.deliveryLimit, num(d, 'delivery-limit')),
    overflow: args.overflowDeclared ? args.overflow
      : overflow === 'reject-publish' || overflow === 'reject-publish-dlx' || overflow === 'drop-head' ? overflow : args.overflow,
    deadLetterExchange: args.deadLetterExchange ?? str(d, 'dead-letter-exchange'),
    deadLetterRoutingKey: args.deadLetterRoutingKey ?? str(d, 'dead-letter-routing-key'),
    // Warren's delayed retries: the queue's own arguments win, as for the dead-letter settings.
    retryDelays: args.retryDelays ?? retryDelaysValue(d['retry-delays']),
    retryLimit: args.retryLimit ?? num(d, 'retry-limit'),
  };
}
