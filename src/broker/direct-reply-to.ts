/**
 * Direct reply-to (RabbitMQ's amq.rabbitmq.reply-to pseudo-queue): a requester consumes from
 * `amq.rabbitmq.reply-to` without a queue; its requests carry reply_to = amq.rabbitmq.reply-to.<token>
 * and a reply published to the default exchange with that routing key goes straight to the
 * requester's consumer. The broker keeps the tokens; the server's channel is the ReplyConsumer
 * (the broker never sees frames). One registry per broker: tokens are random and unique.
 */
import type { Message } from './message.js';

export const REPLY_TO_QUEUE = 'amq.rabbitmq.reply-to';
export const REPLY_TO_PREFIX = 'amq.rabbitmq.reply-to.';

/** What a direct reply-to consumer (a channel) implements. */
export interface ReplyConsumer {
  /** Deliver a reply (no ack, no queue). */
  deliverReply(msg: Message): void;
}

export class DirectReplyTo {
  private readonly consumers = new Map<string, ReplyConsumer>();

  register(token: string, consumer: ReplyConsumer): void {
    this.consumers.set(token, consumer);
  }

  unregister(token: string): void {
    this.consumers.delete(token);
  }

  /** Deliver a message routed to amq.rabbitmq.reply-to.<token>; false when no consumer waits for it. */
  deliver(routingKey: string, msg: Message): boolean {
    const c = this.consumers.get(routingKey.slice(REPLY_TO_PREFIX.length));
    if (c === undefined) return false;
    c.deliverReply(msg);
    return true;
  }
}
