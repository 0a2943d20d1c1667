/**
 * Inject (a Warren test endpoint, issue 14): put a message straight into one queue, with no exchange
 * and no routing: as if the default exchange had routed it there, but also into queues the default
 * exchange cannot reach by name alone (there are none today) and without any binding. The queue's own
 * rules apply exactly as for a routed message (length limits and overflow, TTL, priorities, streams,
 * paging, durability of a persistent message in a durable queue).
 * Permission: write on the queue (what a binding to it needs: injecting is routing to it).
 * Invariant: the same enqueue and statistics a routed publish makes; nothing else.
 */
import { AmqpError } from '../core/amqp-error.js';
import { ReplyCode } from '../core/reply-code.js';
import type { Access } from './access-control.js';
import type { Message } from './message.js';
import type { Persistence } from './persistence.js';
import { NOT_WRITTEN } from './publish.js';
import type { Vhost } from './vhost.js';

export interface InjectResult {
  /** False when the queue refused it (x-overflow reject-publish / reject-publish-dlx). */
  readonly enqueued: boolean;
  /** The store position to wait for before telling the caller (NOT_WRITTEN: nothing was written). */
  readonly durableAt: number;
}

export function injectMessage(v: Vhost, queue: string, msg: Message, access: Access, persistence: Persistence | undefined): InjectResult {
  access.check('queue', queue, 'write');
  const q = v.queueOrThrow(queue);
  if (q.deleted) throw new AmqpError(ReplyCode.NOT_FOUND, `no queue '${queue}' in vhost '${v.name}'`);
  const before = persistence === undefined ? 0 : persistence.writePosition;
  const enqueued = q.enqueue(msg);
  if (enqueued) q.stats.publish++;
  const durableAt = persistence !== undefined && persistence.writePosition !== before ? persistence.writePosition : NOT_WRITTEN;
  return { enqueued, durableAt };
}
