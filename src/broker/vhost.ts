/**
 * A virtual host: its exchanges, queues and bindings, with RabbitMQ's declare/delete/bind rules
 * and equivalence checks. Messages enter through `publish` (the publish operation, publish.ts),
 * which dead-lettering and delayed release use too.
 *
 * Every operation a client can run (declare, delete, bind, unbind, publish, get, consume, purge)
 * takes the caller's Access and asks it where rabbit_channel asks rabbit_access_control, in the
 * same order relative to the other checks, so a refusal comes first where RabbitMQ's does and
 * changes nothing (access-control.ts). The broker's own work (recovery, definitions import,
 * dead-lettering, vhost deletion) passes UNRESTRICTED.
 * Invariants: errors are AmqpErrors whose codes and texts match RabbitMQ's.
 */
import { AmqpError } from '../core/amqp-error.js';
import { EMPTY_TABLE, fieldString, tableGet, type FieldTable } from '../core/field-value.js';
import { ReplyCode } from '../core/reply-code.js';
import type { Access } from './access-control.js';
import { Binding, type Destination } from './binding.js';
import { Exchange } from './exchange.js';
import type { MemoryMeter } from './memory-meter.js';
import type { Message } from './message.js';
import type { Persistence } from './persistence.js';
import { Queue, type DeadLetterReason, type QueueHooks } from './queue.js';
import { isCycle, makeDeadLetter } from './dead-letter.js';
import {
  QUEUE_EQUIVALENCE_ARGS, assertArgs, assertField, checkReservedName, exchangeArgument, generateQueueName,
} from './declare-equivalence.js';
import type { DefinitionChange } from '../store/definition-changes.js';
import { bindingDefinition, bindingIsDurable, exchangeDefinition, queueDefinition } from './definitions-codec.js';
import { DelayedDelivery } from './delayed-delivery.js';
import { HalfMessages, type Decision, type DecisionOutcome } from './half-messages.js';
import { Publisher, PublishResult } from './publish.js';
import { applyQueuePolicy, matchingPolicy, type Policy, type PolicyResolver } from './policy.js';
import { parseQueueArguments, type QueueArguments } from './queue-arguments.js';
import { MessageStats, type BrokerStatistics, type QueueTypeName } from './statistics.js';
import { checkStreamName, parseStreamArguments } from './stream-arguments.js';
import { StreamQueue } from './stream-queue.js';
import { EXCHANGE_TYPES, headersMatchMode, unknownExchangeType } from './router.js';

export interface ExchangeDeclare {
  name: string;
  type: string;
  passive: boolean;
  durable: boolean;
  autoDelete: boolean;
  internal: boolean;
  args: FieldTable;
}

export interface QueueDeclare {
  name: string;
  passive: boolean;
  durable: boolean;
  exclusive: boolean;
  autoDelete: boolean;
  args: FieldTable;
  /** The declaring connection. */
  connectionId: number;
}

export interface DefinitionsListener {
  /**
   * A durable definition is about to change (called before the model changes): journal it, or
   * throw to refuse the change (it is then not applied).
   */
  definitionsChanged(change: DefinitionChange): void;
  /** A queue is gone (deleted, auto-deleted, exclusive owner closed). */
  queueDeleted?(q: Queue): void;
}

export class Vhost {
  readonly exchanges = new Map<string, Exchange>();
  readonly queues = new Map<string, Queue>();
  /** Bindings by destination (queue or exchange), for cleanup when the destination goes. */
  private readonly bindingsTo = new Map<Destination, Binding[]>();
  listener: DefinitionsListener | undefined;
  /** Runtime policies (the broker's PolicyStore); when unset, the constructor's static list applies. */
  policyResolver: PolicyResolver | undefined;
  /** The vhost's max-queues limit (rabbit_vhost_limit), read at each new queue; unset: none. */
  queueLimit: (() => number | undefined) | undefined;
  /** Message statistics of the vhost (its channels' publishes, deliveries, acks...). */
  readonly stats = new MessageStats();
  /** The broker's statistics (churn, dead-letter counters, deleted queues' counts); unset in bare unit tests. */
  statistics: BrokerStatistics | undefined;

  /** Messages waiting on x-delayed-message exchanges. */
  readonly delayed: DelayedDelivery<Exchange>;
  /** Rejected messages waiting for their next retry (x-retry-delays), by queue. */
  readonly retries: DelayedDelivery<Queue>;
  /** Half messages of x-transactional exchanges, waiting for their commit or rollback. */
  readonly halfMessages: HalfMessages;
  /** The publish operation of this vhost (see publish.ts). */
  readonly publisher: Publisher;
  /** Reused by dead-lettering and delayed release (their results are not reported anywhere). */
  private readonly internalResult = new PublishResult();

  constructor(readonly name: string, private readonly meter: MemoryMeter, private readonly persistence?: Persistence,
    private readonly policies: readonly Policy[] = []) {
    this.delayed = new DelayedDelivery<Exchange>(persistence, (x, msg) => { this.publisher.release(x, msg, this.internalResult); }, meter);
    // A retry goes back into its queue directly, with its original exchange and routing key.
    this.retries = new DelayedDelivery<Queue>(persistence, (q, msg) => { if (!q.deleted) q.enqueue(msg); }, meter, 'retry');
    this.halfMessages = new HalfMessages(persistence, {
      release: (x, msg, result) => this.publisher.release(x, msg, result),
      publishTo: (exchange, msg) => {
        const x = this.exchanges.get(exchange);
        if (x !== undefined) this.publisher.publish(x, msg, this.internalResult);
      },
    }, meter);
    this.publisher = new Publisher(this, persistence, this.delayed, this.halfMessages);
    this.addExchange(new Exchange('', name, 'direct', true, false, false, EMPTY_TABLE));
    for (const [n, t] of [['amq.direct', 'direct'], ['amq.fanout', 'fanout'], ['amq.topic', 'topic'],
      ['amq.headers', 'headers'], ['amq.match', 'headers']] as const) {
      this.addExchange(new Exchange(n, name, t, true, false, false, EMPTY_TABLE));
    }
    // RabbitMQ's firehose tracer exchange: exists in every vhost, internal (tracing is off).
    this.addExchange(new Exchange('amq.rabbitmq.trace', name, 'topic', true, false, true, EMPTY_TABLE));
  }

  // ---- exchanges ---------------------------------------------------------------------------

  /**
   * exchange.declare. rabbit_channel: a passive declare needs no permission; otherwise the type is
   * checked, then configure on the exchange (existing or not); a new one with an alternate-exchange
   * argument also needs read on itself and write on the alternate.
   */
  declareExchange(d: ExchangeDeclare, access: Access): Exchange {
    if (d.passive) {
      this.checkNotDefault(d.name);
      return this.exchangeOrThrow(d.name);
    }
    if (!EXCHANGE_TYPES.has(d.type)) {
      throw unknownExchangeType(d.type);
    }
    this.checkNotDefault(d.name);
    access.check('exchange', d.name, 'configure');
    let x = this.exchanges.get(d.name);
    if (x === undefined) {
      checkReservedName('exchange', d.name);
      const ae = exchangeArgument(d.args, 'alternate-exchange', `exchange '${d.name}' in vhost '${this.name}'`);
      if (ae !== undefined) {
        access.check('exchange', d.name, 'read');
        access.check('exchange', ae, 'write');
      }
      x = new Exchange(d.name, this.name, d.type, d.durable, d.autoDelete, d.internal, d.args);
      if (x.alternate === undefined) {
        const ae = this.policyResolver !== undefined ? this.policyResolver.alternateExchange(this.name, d.name)
          : matchingPolicy(this.policies, this.name, d.name, 'exchanges')?.definition['alternate-exchange'];
        if (typeof ae === 'string') x.alternate = ae;
      }
      if (x.durable) this.changed({ op: 'put', kind: 'exchanges', value: exchangeDefinition(x) });
      this.addExchange(x);
      return x;
    }
    assertField(this.name, x.type, d.type, 'type', 'exchange', d.name);
    assertField(this.name, x.durable, d.durable, 'durable', 'exchange', d.name);
    assertField(this.name, x.autoDelete, d.autoDelete, 'auto_delete', 'exchange', d.name);
    assertField(this.name, x.internal, d.internal, 'internal', 'exchange', d.name);
    assertArgs(this.name, x.args, d.args, ['alternate-exchange'], 'exchange', d.name);
    return x;
  }

  /** exchange.delete: the default and amq.* exchanges are refused before configure is checked (rabbit_channel). */
  deleteExchange(name: string, ifUnused: boolean, access: Access): void {
    this.checkNotDefault(name);
    if (name.startsWith('amq.')) {
      throw new AmqpError(ReplyCode.ACCESS_REFUSED, `deletion of system exchange '${name}' in vhost '${this.name}' not allowed`);
    }
    access.check('exchange', name, 'configure');
    const x = this.exchanges.get(name);
    if (x === undefined) return;
    if (ifUnused && x.bindings.length > 0) {
      throw new AmqpError(ReplyCode.PRECONDITION_FAILED, `exchange '${name}' in vhost '${this.name}' in use`);
    }
    this.removeExchange(x);
  }

  exchangeOrThrow(name: string): Exchange {
    const x = this.exchanges.get(name);
    if (x === undefined) throw new AmqpError(ReplyCode.NOT_FOUND, `no exchange '${name}' in vhost '${this.name}'`);
    return x;
  }

  /**
   * The exchange a basic.publish names, in rabbit_channel's order: write on it (the default
   * exchange as amq.default), 404 if missing, 403 if internal, then the topic permission of the
   * routing key on a topic exchange. The channel calls it when the method arrives, so a refused
   * publish never has its content buffered.
   */
  exchangeForPublish(name: string, routingKey: string, access: Access): Exchange {
    access.check('exchange', name, 'write');
    const x = this.exchangeOrThrow(name);
    if (x.internal) {
      throw new AmqpError(ReplyCode.ACCESS_REFUSED, `cannot publish to internal exchange '${name}' in vhost '${this.name}'`);
    }
    access.checkTopic(x, routingKey, 'write');
    return x;
  }

  private addExchange(x: Exchange): void {
    this.exchanges.set(x.name, x);
  }

  private removeExchange(x: Exchange): void {
    x.deleted = true;
    if (x.delayed) this.delayed.dropExchange(x);
    if (x.transactional) this.halfMessages.dropExchange(x);
    this.exchanges.delete(x.name);
    for (const b of x.bindings.slice()) this.dropBinding(b, false);
    for (const b of (this.bindingsTo.get(x) ?? []).slice()) this.dropBinding(b, true);
    this.bindingsTo.delete(x);
    if (x.durable) this.changed({ op: 'delete', kind: 'exchanges', value: { vhost: this.name, name: x.name } });
  }

  // ---- queues ------------------------------------------------------------------------------

  /**
   * queue.declare; returns the queue (created or existing). rabbit_channel: a passive declare needs
   * no permission; otherwise configure on the queue's name (a server-named queue's generated
   * amq.gen-... name), existing or not; a new queue is then checked against the vhost's max-queues
   * limit, and one with x-dead-letter-exchange needs read on itself and write on that exchange.
   */
  declareQueue(d: QueueDeclare, access: Access): Queue {
    const churn = this.statistics?.churn;
    if (churn !== undefined && !d.passive) churn.queuesDeclared++;
    if (d.passive) {
      const q = this.queueOrThrow(d.name);
      this.checkExclusiveAccess(q, d.connectionId);
      q.touch();
      return q;
    }
    const streamType = fieldString(tableGet(d.args, 'x-queue-type')) === 'stream';
    if (streamType) checkStreamName(d.name);
    const name = d.name === '' ? generateQueueName() : d.name;
    checkReservedName('queue', d.name);
    access.check('queue', name, 'configure');
    const existing = this.queues.get(name);
    const durable = d.durable && !d.exclusive;
    if (existing !== undefined) {
      // rabbit_amqqueue:assert_equivalence: exclusive owner (strict), durable, auto_delete, args.
      if (existing.options.exclusiveOwner !== (d.exclusive ? d.connectionId : -1)) this.lockedError(existing);
      assertField(this.name, existing.durable, durable, 'durable', 'queue', name);
      assertField(this.name, existing.autoDelete, d.autoDelete, 'auto_delete', 'queue', name);
      assertArgs(this.name, existing.options.arguments, d.args, QUEUE_EQUIVALENCE_ARGS, 'queue', name);
      existing.touch();
      return existing;
    }
    if (!access.internal) this.checkQueueLimit(name);
    const dlx = exchangeArgument(d.args, 'x-dead-letter-exchange', `queue '${name}' in vhost '${this.name}'`);
    if (dlx !== undefined) {
      access.check('queue', name, 'read');
      access.check('exchange', dlx, 'write');
    }
    const declared = parseQueueArguments(d.args, name, this.name);
    if (declared.queueType === 'quorum') {
      // Quorum queues are always durable, never exclusive or auto-delete (rabbit_quorum_queue).
      const bad = d.exclusive ? 'exclusive-owner' : !durable ? 'non-durable' : d.autoDelete ? 'auto-delete' : undefined;
      if (bad !== undefined) {
        throw new AmqpError(ReplyCode.PRECONDITION_FAILED, `invalid property '${bad}' for queue '${name}' in vhost '${this.name}'`);
      }
    }
    if (declared.queueType === 'stream') return this.declareStream(d, name, declared);
    const settings = this.policyResolver !== undefined ? this.policyResolver.queueSettings(this.name, name, declared)
      : applyQueuePolicy(declared, matchingPolicy(this.policies, this.name, name, 'queues'));
    if (durable) this.changed({ op: 'put', kind: 'queues', value: queueDefinition(this.name, name, true, d.autoDelete, d.args) });
    const q = new Queue(name, this.name, {
      durable,
      exclusiveOwner: d.exclusive ? d.connectionId : -1,
      autoDelete: d.autoDelete,
      arguments: d.args,
      settings,
    }, this.meter, this.persistence);
    q.hooks = this.queueHooks;
    this.queues.set(name, q);
    if (churn !== undefined) churn.queuesCreated++;
    return q;
  }

  /** x-queue-type=stream (stream-arguments.ts has RabbitMQ's checks, stream-queue.ts the queue). */
  private declareStream(d: QueueDeclare, name: string, declared: QueueArguments): Queue {
    const sa = parseStreamArguments({ name, durable: d.durable, exclusive: d.exclusive, autoDelete: d.autoDelete, args: d.args }, this.name);
    if (this.persistence === undefined) throw new AmqpError(ReplyCode.INTERNAL_ERROR, 'streams need a store');
    const policy = this.policyResolver !== undefined ? this.policyResolver.queueDefinition(this.name, name)
      : matchingPolicy(this.policies, this.name, name, 'queues')?.definition;
    this.changed({ op: 'put', kind: 'queues', value: queueDefinition(this.name, name, true, false, d.args) });
    const q = new StreamQueue(name, this.name, { durable: true, exclusiveOwner: -1, autoDelete: false, arguments: d.args, settings: declared },
      sa, this.meter, this.persistence, policy);
    q.hooks = this.queueHooks;
    this.queues.set(name, q);
    const churn = this.statistics?.churn;
    if (churn !== undefined) churn.queuesCreated++;
    return q;
  }

  /** What queues call back into: dead letters, x-expires, auto-delete. */
  private readonly queueHooks: QueueHooks = {
    retry: (q, msg, delay) => {
      // Lanes group equal delays: the retry copy counts its delay from now.
      msg.publishedAt = Date.now();
      this.retries.schedule(q, msg, msg.publishedAt + delay);
    },
    deadLetter: (q, msg, reason) => this.deadLetter(q, msg, reason),
    deadLettered: (q, reason, toExchange) => {
      this.statistics?.global.deadLetter(queueTypeOf(q), reason, toExchange ? 'at_most_once' : 'disabled');
    },
    expire: (q) => { this.removeQueue(q); },
    unused: (q) => { this.removeQueue(q); },
  };

  /**
   * Republish a message that left `q` (rejected, expired, over its length limit, past its
   * delivery limit) to the queue's dead-letter exchange, with RabbitMQ's x-death bookkeeping.
   * A missing dead-letter exchange drops the message silently, as in RabbitMQ.
   */
  private deadLetter(q: Queue, msg: Message, reason: DeadLetterReason): void {
    const s = q.settings;
    if (s.deadLetterExchange === undefined) return;
    const x = this.exchanges.get(s.deadLetterExchange);
    if (x === undefined) return;
    const dl = makeDeadLetter(msg, q.name, reason, s.deadLetterExchange, s.deadLetterRoutingKey, Math.floor(Date.now() / 1000));
    // The dead-lettered message keeps CC (unless a dead-letter routing key replaces it), so the
    // publish operation routes it on dl.routingKeys; automatic cycles are left out per target.
    const filter = reason === 'rejected' ? undefined : (t: Queue) => !isCycle(t.name, dl.deaths);
    this.publisher.publish(x, dl.msg, this.internalResult, filter);
  }

  queueOrThrow(name: string): Queue {
    const q = this.queues.get(name);
    if (q === undefined) throw new AmqpError(ReplyCode.NOT_FOUND, `no queue '${name}' in vhost '${this.name}'`);
    return q;
  }

  /**
   * The queue of a basic.get, basic.consume or queue.purge: read on it first (rabbit_channel
   * checks before looking the queue up), then 404 if missing, 405 if exclusive to another connection.
   */
  queueForRead(name: string, connectionId: number, access: Access): Queue {
    access.check('queue', name, 'read');
    return this.queueFor(name, connectionId);
  }

  /** rabbit_vhost_limit:is_over_queue_limit: one more queue must not take the count past max-queues. */
  private checkQueueLimit(name: string): void {
    const limit = this.queueLimit?.();
    if (limit === undefined || this.queues.size + 1 <= limit) return;
    throw new AmqpError(ReplyCode.PRECONDITION_FAILED,
      `cannot declare queue '${name}': queue limit in vhost '${this.name}' (${limit}) is reached`);
  }

  /** A queue usable by this connection: 404 if missing, 405 if exclusive to another connection. */
  queueFor(name: string, connectionId: number): Queue {
    const q = this.queueOrThrow(name);
    this.checkExclusiveAccess(q, connectionId);
    return q;
  }

  checkExclusiveAccess(q: Queue, connectionId: number): void {
    if (q.options.exclusiveOwner >= 0 && q.options.exclusiveOwner !== connectionId) this.lockedError(q);
  }

  private lockedError(q: Queue): never {
    throw new AmqpError(ReplyCode.RESOURCE_LOCKED,
      `cannot obtain exclusive access to locked queue '${q.name}' in vhost '${this.name}'. It could be originally ` +
      'declared on another connection or the exclusive property value does not match that of the original declaration.');
  }

  /**
   * queue.delete; returns the number of ready messages deleted. Missing queue: 0 (idempotent).
   * Configure on the queue is checked first, whether it exists or not (rabbit_channel).
   */
  deleteQueue(name: string, ifUnused: boolean, ifEmpty: boolean, connectionId: number, access: Access): number {
    access.check('queue', name, 'configure');
    const q = this.queues.get(name);
    if (q === undefined) return 0;
    this.checkExclusiveAccess(q, connectionId);
    if (ifUnused && q.consumerCount > 0) {
      throw new AmqpError(ReplyCode.PRECONDITION_FAILED, `queue '${name}' in vhost '${this.name}' in use`);
    }
    if (ifEmpty && q.messageCount > 0) {
      throw new AmqpError(ReplyCode.PRECONDITION_FAILED, `queue '${name}' in vhost '${this.name}' not empty`);
    }
    return this.removeQueue(q);
  }

  removeQueue(q: Queue): number {
    if (q.deleted || this.queues.get(q.name) !== q) return 0;
    this.queues.delete(q.name);
    for (const b of (this.bindingsTo.get(q) ?? []).slice()) this.dropBinding(b, true);
    this.bindingsTo.delete(q);
    const n = q.destroy();
    if (this.retries.holds(q)) this.retries.dropExchange(q);
    const st = this.statistics;
    if (st !== undefined) {
      // Its counts stay in the totals (Prometheus' global counters never go down).
      st.retiredQueues[queueTypeOf(q)].add(q.stats);
      st.churn.queuesDeleted++;
    }
    this.listener?.queueDeleted?.(q);
    if (q.durable) this.changed({ op: 'delete', kind: 'queues', value: { vhost: this.name, name: q.name } });
    return n;
  }

  /** Exclusive queues die with their connection. */
  dropExclusiveQueues(connectionId: number): void {
    for (const q of [...this.queues.values()]) {
      if (q.options.exclusiveOwner === connectionId) this.removeQueue(q);
    }
  }

  // ---- bindings ----------------------------------------------------------------------------

  /**
   * rabbit_channel:binding_action, for queue.bind/unbind and exchange.bind/unbind: write on the
   * destination, the default exchange refused on either side, read on the source, and on a topic
   * source the read topic permission of the routing key; all before anything is looked up.
   */
  private checkBinding(kind: 'queue' | 'exchange', destination: string, source: string, routingKey: string, access: Access): void {
    access.check(kind, destination, 'write');
    if (kind === 'exchange') this.checkNotDefault(destination);
    this.checkNotDefault(source);
    access.check('exchange', source, 'read');
    const x = this.exchanges.get(source);
    if (x !== undefined) access.checkTopic(x, routingKey, 'read');
  }

  bindQueue(queueName: string, exchangeName: string, routingKey: string, args: FieldTable, connectionId: number, access: Access): void {
    this.checkBinding('queue', queueName, exchangeName, routingKey, access);
    const x = this.exchangeOrThrow(exchangeName);
    const q = this.queueFor(queueName, connectionId);
    this.addBinding(x, q, routingKey, args, q.durable && x.durable);
  }

  /** RabbitMQ 3.x answers unbind-ok even when the binding, queue or exchange does not exist. */
  unbindQueue(queueName: string, exchangeName: string, routingKey: string, args: FieldTable, connectionId: number,
    access: Access): void {
    this.checkBinding('queue', queueName, exchangeName, routingKey, access);
    const x = this.exchanges.get(exchangeName);
    const q = this.queues.get(queueName);
    if (x === undefined || q === undefined) return;
    this.checkExclusiveAccess(q, connectionId);
    const b = x.findBinding(q, routingKey, args);
    if (b !== undefined) this.dropBinding(b, true);
  }

  bindExchange(destination: string, source: string, routingKey: string, args: FieldTable, access: Access): void {
    this.checkBinding('exchange', destination, source, routingKey, access);
    const src = this.exchangeOrThrow(source);
    const dst = this.exchangeOrThrow(destination);
    this.addBinding(src, dst, routingKey, args, src.durable && dst.durable);
  }

  unbindExchange(destination: string, source: string, routingKey: string, args: FieldTable, access: Access): void {
    this.checkBinding('exchange', destination, source, routingKey, access);
    const src = this.exchanges.get(source);
    const dst = this.exchanges.get(destination);
    if (src === undefined || dst === undefined) return;
    const b = src.findBinding(dst, routingKey, args);
    if (b !== undefined) this.dropBinding(b, true);
  }

  private addBinding(x: Exchange, dest: Destination, routingKey: string, args: FieldTable, durable: boolean): void {
    if (x.findBinding(dest, routingKey, args) !== undefined) return;
    if (x.type === 'headers') headersMatchMode(args);
    if (durable) this.changed({ op: 'put', kind: 'bindings', value: bindingDefinition(this.name, x.name, dest, routingKey, args) });
    const b = new Binding(x, dest, routingKey, args);
    x.addBinding(b);
    let list = this.bindingsTo.get(dest);
    if (list === undefined) this.bindingsTo.set(dest, (list = []));
    list.push(b);
  }

  /** Remove a binding; an auto-delete source exchange left without bindings goes too. */
  private dropBinding(b: Binding, fromSourceSide: boolean): void {
    const x = b.source;
    if (bindingIsDurable(b)) {
      this.changed({ op: 'delete', kind: 'bindings', value: bindingDefinition(this.name, x.name, b.destination, b.routingKey, b.args) });
    }
    x.removeBinding(b);
    const list = this.bindingsTo.get(b.destination);
    if (list !== undefined) {
      const i = list.indexOf(b);
      if (i >= 0) list.splice(i, 1);
    }
    if (fromSourceSide && x.autoDelete && x.bindings.length === 0 && !x.deleted) this.removeExchange(x);
  }

  /** Every binding, for definitions export and management. */
  allBindings(): Binding[] {
    const out: Binding[] = [];
    // No spread: an exchange may hold more bindings than a call takes arguments.
    for (const x of this.exchanges.values()) for (const b of x.bindings) out.push(b);
    return out;
  }

  // ---- publishing ----------------------------------------------------------------------------

  /** Publish a complete message to exchange `x` (see publish.ts); `result` is filled in and returned. */
  publish(x: Exchange, msg: Message, result: PublishResult): PublishResult {
    return this.publisher.publish(x, msg, result);
  }

  /**
   * An operator's (management API's) commit or rollback of a pending half message: the same
   * decision a producer publishes (half-messages.ts), without a channel. 404 when no such
   * x-transactional exchange exists.
   */
  decideHalfMessage(exchange: string, txId: string, decision: Decision): DecisionOutcome {
    const x = this.exchangeOrThrow(exchange);
    if (!x.transactional) {
      throw new AmqpError(ReplyCode.NOT_FOUND, `exchange '${exchange}' in vhost '${this.name}' is not of type x-transactional`);
    }
    return this.halfMessages.decide(x, txId, decision, new PublishResult());
  }

  // ---- equivalence helpers -----------------------------------------------------------------

  private checkNotDefault(name: string): void {
    if (name === '') throw new AmqpError(ReplyCode.ACCESS_REFUSED, 'operation not permitted on the default exchange');
  }

  /** Journal a durable change before applying it (throws, and nothing is applied, if it cannot be stored). */
  private changed(change: DefinitionChange): void {
    this.listener?.definitionsChanged(change);
  }
}

/** The queue type RabbitMQ's statistics label a queue with. */
export function queueTypeOf(q: Queue): QueueTypeName {
  return q.settings.queueType;
}
