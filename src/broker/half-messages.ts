/**
 * Half messages (Warren extension, issue 18; README "Half messages and retries"): the broker side
 * of a producer's local transaction, usable from any stock AMQP 0-9-1 client.
 *
 * An exchange of type x-transactional (its x-transactional-type names the routing type it wraps,
 * direct by default) keeps every message published to it as a HALF message, keyed by its message_id
 * (the transaction id), invisible to consumers. The producer then publishes a DECISION to the same
 * exchange: a message (normally empty) with the same message_id and the header
 * x-transaction = commit | rollback. Commit routes the kept message as if it had just been published
 * (the publish operation's release: mandatory returns, confirms, alternate exchanges, dead-lettering
 * and TTL of the queues all apply; the decision's mandatory flag and confirm speak for it); rollback
 * discards it.
 *
 * A publish this file cannot accept (no message_id, an unknown x-transaction value, a transaction
 * already pending, a decision for a transaction not pending) changes nothing and is answered on the
 * publishing channel without closing it: the publish is nacked in confirm mode and, when mandatory,
 * returned with a reply code and text in RabbitMQ's error form (404 NOT_FOUND for an unknown
 * transaction, 406 PRECONDITION_FAILED otherwise). A channel error was the other choice; it was not
 * taken because a late or repeated decision (a check-back answered twice, an operator who decided
 * first) is an ordinary race in this protocol, not a client bug, and must not kill the producer's
 * channel with its other work.
 *
 * Check-back: a half message undecided x-check-after ms after it was published (then again every
 * x-check-after ms) is asked about: a copy with the original properties and body, the headers
 * x-transaction = check, x-check-count and x-transaction-exchange, goes through the default exchange
 * to the producer's check queue (the message's reply_to, else the exchange's x-check-queue). After
 * x-check-limit unanswered checks it is rolled back, or dead-lettered to the exchange's
 * x-dead-letter-exchange when x-check-exhausted = dead-letter; never kept silently.
 *
 * Durability: a persistent message on a durable exchange is written to the store (one index per
 * exchange; the entry's expiresAt is the next check time, its tag the checks sent so far, rewritten
 * at each check) and confirmed after the fsync; decisions are durable when their confirm arrives.
 * Recovery reads each kept record once (the transaction id is in its properties). Others wait in
 * memory and are lost on restart, as transient messages are.
 *
 * Invariants: a transaction id is pending at most once per exchange; every pending message is in
 * exactly one of memory (msg set) or the store (storeSeq >= 0); the hot path of ordinary exchanges
 * never reaches this file (publish.ts tests Exchange.transactional, one boolean).
 */
import { fieldNumber, fieldString, fv, tableGet, type FieldEntry, type FieldTable } from '../core/field-value.js';
import { AmqpError } from '../core/amqp-error.js';
import { LongTimer } from '../core/long-timer.js';
import { ReplyCode } from '../core/reply-code.js';
import type { QueueIndex } from '../store/store.js';
import { makeDeadLetter } from './dead-letter.js';
import type { Exchange } from './exchange.js';
import type { MemoryMeter } from './memory-meter.js';
import type { Message } from './message.js';
import type { Persistence } from './persistence.js';
import type { PublishResult } from './publish.js';

/** The decision header and its values; check requests carry 'check'. */
export const TRANSACTION_HEADER = 'x-transaction';
/** Recent decisions remembered per vhost to tell "already committed" from "unknown". */
const REMEMBERED_DECISIONS = 10_000;
/** Checks due within this many ms of a timer firing are sent together. */
const CHECK_SLACK = 20;

export type Exhausted = 'rollback' | 'dead-letter';

/** An x-transactional exchange's arguments. */
export interface HalfSettings {
  checkAfter: number;
  checkLimit: number;
  exhausted: Exhausted;
  checkQueue: string | undefined;
  deadLetterExchange: string | undefined;
  deadLetterRoutingKey: string | undefined;
}

/** Parse and check an x-transactional exchange's arguments (406 with the argument named). */
export function parseHalfSettings(args: FieldTable): HalfSettings {
  const bad = (key: string, why: string): never => {
    throw new AmqpError(ReplyCode.PRECONDITION_FAILED, `Invalid argument, '${key}' ${why}`);
  };
  const int = (key: string, min: number, dflt: number): number => {
    const v = tableGet(args, key);
    if (v === undefined) return dflt;
    const n = fieldNumber(v);
    if (n === undefined || !Number.isInteger(n) || n < min) bad(key, `must be an integer >= ${min}`);
    return n!;
  };
  const str = (key: string): string | undefined => {
    const v = tableGet(args, key);
    if (v === undefined) return undefined;
    const s = fieldString(v);
    if (s === undefined) bad(key, 'must be a string');
    return s;
  };
  const exhausted = str('x-check-exhausted') ?? 'rollback';
  if (exhausted !== 'rollback' && exhausted !== 'dead-letter') bad('x-check-exhausted', "must be 'rollback' or 'dead-letter'");
  const s: HalfSettings = {
    checkAfter: int('x-check-after', 1, 60_000),
    checkLimit: int('x-check-limit', 0, 5),
    exhausted: exhausted as Exhausted,
    checkQueue: str('x-check-queue'),
    deadLetterExchange: str('x-dead-letter-exchange'),
    deadLetterRoutingKey: str('x-dead-letter-routing-key'),
  };
  if (s.exhausted === 'dead-letter' && s.deadLetterExchange === undefined) {
    bad('x-check-exhausted', "'dead-letter' needs 'x-dead-letter-exchange'");
  }
  return s;
}

interface Pending {
  readonly txId: string;
  readonly exchange: Exchange;
  /** In memory (not stored), else undefined. */
  msg: Message | undefined;
  readonly ref: number;
  readonly size: number;
  storeSeq: number;
  readonly publishedAt: number;
  readonly routingKey: string;
  readonly replyTo: string | undefined;
  readonly bodySize: number;
  checks: number;
  nextCheckAt: number;
  lastCheckAt: number;
}

/** One pending half message as the management API shows it. */
export interface HalfMessageInfo {
  transactionId: string;
  routingKey: string;
  publishedAt: number;
  checks: number;
  nextCheckAt: number;
  lastCheckAt: number | undefined;
  payloadBytes: number;
  durable: boolean;
  replyTo: string | undefined;
}

export type Decision = 'commit' | 'rollback';

/** What a decision did (operator routes report it). */
export type DecisionOutcome =
  | { readonly ok: true; readonly routed: boolean; readonly queues: number; readonly durableAt: number }
  | { readonly ok: false; readonly code: number; readonly text: string };

/** The vhost operations half messages need (kept as callbacks: no import of the vhost). */
export interface HalfMessageHooks {
  /** Route a committed message through its exchange now (Publisher.release). */
  release(x: Exchange, msg: Message, result: PublishResult): PublishResult;
  /** Publish a check request or a dead-lettered message (Publisher.publish, default or named exchange). */
  publishTo(exchange: string, msg: Message): void;
}

interface Book {
  readonly pending: Map<string, Pending>;
  index: QueueIndex | undefined;
}

export class HalfMessages {
  private readonly books = new Map<Exchange, Book>();
  private readonly decided = new Map<string, string>();
  private readonly timer = new LongTimer(() => this.fire());

  constructor(
    private readonly persistence: Persistence | undefined,
    private readonly hooks: HalfMessageHooks,
    private readonly meter?: MemoryMeter,
  ) {}

  /** Half messages pending in the vhost. */
  get size(): number {
    let n = 0;
    for (const b of this.books.values()) n += b.pending.size;
    return n;
  }

  /** Pending half messages of `x`. */
  count(x: Exchange): number {
    return this.books.get(x)?.pending.size ?? 0;
  }

  storeKey(x: Exchange): string {
    return `\u0001half\u0000${x.vhost}\u0000${x.name}`;
  }

  /** A publish to an x-transactional exchange: a half message or a decision (see the header). */
  publish(x: Exchange, msg: Message, result: PublishResult): PublishResult {
    const id = msg.codec.identity(msg.properties);
    const txId = id.messageId;
    const where = `exchange '${x.name}' in vhost '${x.vhost}'`;
    const decision = msg.headersStart < 0 ? undefined : fieldString(tableGet(msg.headers() ?? [], TRANSACTION_HEADER));
    if (decision !== undefined) {
      if (decision !== 'commit' && decision !== 'rollback') {
        return refuse(result, ReplyCode.PRECONDITION_FAILED,
          `PRECONDITION_FAILED - invalid '${TRANSACTION_HEADER}' value '${decision}' (commit or rollback) on ${where}`);
      }
      if (txId === undefined || txId === '') {
        return refuse(result, ReplyCode.PRECONDITION_FAILED, `PRECONDITION_FAILED - a ${decision} on ${where} needs the transaction id in message_id`);
      }
      const out = this.decide(x, txId, decision, result);
      if (!out.ok) return refuse(result, out.code, out.text);
      return result;
    }
    if (txId === undefined || txId === '') {
      return refuse(result, ReplyCode.PRECONDITION_FAILED,
        `PRECONDITION_FAILED - a message published to transactional ${where} needs its transaction id in message_id`);
    }
    const book = this.book(x);
    if (book.pending.has(txId)) {
      return refuse(result, ReplyCode.PRECONDITION_FAILED, `PRECONDITION_FAILED - transaction '${txId}' is already pending on ${where}`);
    }
    const past = this.decided.get(decidedKey(x, txId));
    if (past !== undefined) {
      return refuse(result, ReplyCode.PRECONDITION_FAILED, `PRECONDITION_FAILED - transaction '${txId}' on ${where} was already ${past}`);
    }
    const settings = x.half!;
    const now = Date.now();
    const next = now + settings.checkAfter;
    const p = this.persistence;
    let pend: Pending;
    if (p !== undefined && x.durable && msg.persistent) {
      const index = (book.index ??= p.store.queue(this.storeKey(x)));
      const ref = p.record(msg);
      const seq = index.enqueue(ref, msg.storeSize, next, 0, msg.body.length);
      pend = newPending(txId, x, undefined, ref, msg.storeSize, seq, msg, id.replyTo, 0, next);
      result.durableAt = p.writePosition;
    } else {
      this.meter?.add(msg.memorySize);
      pend = newPending(txId, x, msg, -1, 0, -1, msg, id.replyTo, 0, next);
    }
    book.pending.set(txId, pend);
    result.routed = true;
    this.arm(next);
    return result;
  }

  /**
   * Commit or roll back a pending half message (the producer's decision, or an operator's through
   * the management API). Changes nothing when `txId` is not pending.
   */
  decide(x: Exchange, txId: string, decision: Decision, result: PublishResult): DecisionOutcome {
    const book = this.books.get(x);
    const pend = book?.pending.get(txId);
    const where = `exchange '${x.name}' in vhost '${x.vhost}'`;
    if (book === undefined || pend === undefined) {
      const past = this.decided.get(decidedKey(x, txId));
      return past !== undefined
        ? { ok: false, code: ReplyCode.PRECONDITION_FAILED, text: `PRECONDITION_FAILED - transaction '${txId}' on ${where} was already ${past}` }
        : { ok: false, code: ReplyCode.NOT_FOUND, text: `NOT_FOUND - no pending transaction '${txId}' on ${where}` };
    }
    const msg = this.take(book, pend);
    this.remember(x, txId, decision === 'commit' ? 'committed' : 'rolled back');
    const p = this.persistence;
    if (decision === 'commit' && msg !== undefined) {
      this.hooks.release(x, msg, result);
    } else {
      result.routed = true;
      result.refused = false;
      result.queues = 0;
    }
    // The settle (and the routed copies) are durable when the decision's confirm goes out.
    if (p !== undefined && pend.storeSeq >= 0) result.durableAt = p.writePosition;
    return { ok: true, routed: result.routed, queues: result.queues, durableAt: result.durableAt };
  }

  /** Snapshot of `x`'s pending half messages, oldest first. */
  list(x: Exchange): HalfMessageInfo[] {
    const book = this.books.get(x);
    if (book === undefined) return [];
    const out: HalfMessageInfo[] = [];
    for (const e of book.pending.values()) {
      out.push({
        transactionId: e.txId, routingKey: e.routingKey, publishedAt: e.publishedAt, checks: e.checks,
        nextCheckAt: e.nextCheckAt, lastCheckAt: e.lastCheckAt > 0 ? e.lastCheckAt : undefined,
        payloadBytes: e.bodySize, durable: e.storeSeq >= 0, replyTo: e.replyTo,
      });
    }
    out.sort((a, b) => a.publishedAt - b.publishedAt);
    return out;
  }

  /** After a restart: the half messages of durable exchange `x` kept in `index`. */
  recover(x: Exchange, index: QueueIndex): void {
    const p = this.persistence;
    if (p === undefined) return;
    const book = this.book(x);
    book.index = index;
    const now = Date.now();
    const c = index.cursor();
    while (c.next()) {
      let msg: Message;
      try {
        msg = p.load(c.ref, c.size).msg;
      } catch (err: unknown) {
        p.unreadable(index.name, c.seq, err);
        index.settle(c.seq);
        continue;
      }
      const id = msg.codec.identity(msg.properties);
      const txId = id.messageId ?? '';
      // A check rewritten just before a crash may have left its older entry: keep the newer one.
      const older = book.pending.get(txId);
      if (older !== undefined) index.settle(older.storeSeq);
      const next = Math.max(c.expiresAt, now);
      book.pending.set(txId, newPending(txId, x, undefined, c.ref, c.size, c.seq, msg, id.replyTo, c.tag, next));
      this.arm(next);
    }
  }

  /** Drop everything pending for a deleted exchange. */
  dropExchange(x: Exchange): void {
    const book = this.books.get(x);
    if (book === undefined) return;
    for (const e of book.pending.values()) if (e.msg !== undefined) this.meter?.sub(e.msg.memorySize);
    this.books.delete(x);
    if (book.index !== undefined) this.persistence?.store.deleteQueue(book.index.name);
  }

  stop(): void {
    this.timer.cancel();
  }

  // ---- internals ---------------------------------------------------------------------------

  private book(x: Exchange): Book {
    let b = this.books.get(x);
    if (b === undefined) this.books.set(x, (b = { pending: new Map(), index: undefined }));
    return b;
  }

  /** Remove a pending entry; returns its message (read back when stored; undefined if unreadable). */
  private take(book: Book, pend: Pending): Message | undefined {
    book.pending.delete(pend.txId);
    let msg = pend.msg;
    if (msg !== undefined) {
      this.meter?.sub(msg.memorySize);
    } else {
      msg = this.load(book, pend);
    }
    if (pend.storeSeq >= 0) book.index?.settle(pend.storeSeq);
    return msg;
  }

  private load(book: Book, pend: Pending): Message | undefined {
    const p = this.persistence;
    if (p === undefined) return undefined;
    try {
      return p.load(pend.ref, pend.size).msg;
    } catch (err: unknown) {
      p.unreadable(book.index?.name ?? 'half', pend.storeSeq, err);
      return undefined;
    }
  }

  private remember(x: Exchange, txId: string, what: string): void {
    const d = this.decided;
    if (d.size >= REMEMBERED_DECISIONS) d.delete(d.keys().next().value!);
    d.set(decidedKey(x, txId), what);
  }

  private arm(at: number): void {
    if (this.timer.armed && this.timer.at <= at) return;
    this.timer.fireAt(at);
  }

  /** Send the checks that are due; resolve the half messages whose checks ran out. */
  private fire(): void {
    const now = Date.now();
    let next = Infinity;
    for (const [x, book] of this.books) {
      const settings = x.half!;
      for (const pend of [...book.pending.values()]) {
        if (pend.nextCheckAt > now + CHECK_SLACK) {
          next = Math.min(next, pend.nextCheckAt);
          continue;
        }
        if (pend.checks >= settings.checkLimit) {
          this.exhaust(x, book, pend, settings);
          continue;
        }
        this.check(x, book, pend, settings, now);
        next = Math.min(next, pend.nextCheckAt);
      }
    }
    if (next !== Infinity) this.timer.fireAt(next);
  }

  private check(x: Exchange, book: Book, pend: Pending, settings: HalfSettings, now: number): void {
    pend.checks++;
    pend.lastCheckAt = now;
    pend.nextCheckAt = now + settings.checkAfter;
    if (pend.storeSeq >= 0 && book.index !== undefined) {
      // The check count and the next check time survive a restart: the entry is rewritten.
      const seq = book.index.enqueue(pend.ref, pend.size, pend.nextCheckAt, pend.checks, pend.bodySize);
      book.index.settle(pend.storeSeq);
      pend.storeSeq = seq;
    }
    const queue = pend.replyTo ?? settings.checkQueue;
    if (queue === undefined || queue === '') return;
    const msg = pend.msg ?? this.load(book, pend);
    if (msg === undefined) return;
    const headers: FieldEntry[] = (msg.headers() ?? []).filter((h) => h.key !== TRANSACTION_HEADER && h.key !== 'x-check-count'
      && h.key !== 'x-transaction-exchange');
    headers.push({ key: TRANSACTION_HEADER, value: fv.str('check') });
    headers.push({ key: 'x-check-count', value: fv.long(pend.checks) });
    headers.push({ key: 'x-transaction-exchange', value: fv.str(x.name) });
    this.hooks.publishTo('', msg.withChanges({ headers, dropExpiration: true }, '', queue));
  }

  /** x-check-limit checks went unanswered: roll back, or dead-letter (x-check-exhausted). */
  private exhaust(x: Exchange, book: Book, pend: Pending, settings: HalfSettings): void {
    const msg = this.take(book, pend);
    if (settings.exhausted === 'dead-letter' && msg !== undefined) {
      this.remember(x, pend.txId, `dead-lettered after ${pend.checks} unanswered checks`);
      const dl = makeDeadLetter(msg, x.name, 'unresolved', settings.deadLetterExchange!, settings.deadLetterRoutingKey,
        Math.floor(Date.now() / 1000));
      this.hooks.publishTo(settings.deadLetterExchange!, dl.msg);
      return;
    }
    this.remember(x, pend.txId, `rolled back after ${pend.checks} unanswered checks`);
  }
}

function newPending(txId: string, x: Exchange, inMemory: Message | undefined, ref: number, size: number, storeSeq: number,
  msg: Message, replyTo: string | undefined, checks: number, next: number): Pending {
  return {
    txId, exchange: x, msg: inMemory, ref, size, storeSeq, publishedAt: msg.publishedAt, routingKey: msg.routingKey,
    replyTo, bodySize: msg.body.length, checks, nextCheckAt: next, lastCheckAt: 0,
  };
}

function decidedKey(x: Exchange, txId: string): string {
  return `${x.name}\u0000${txId}`;
}

/** Answer a publish this file refuses: nacked, returned (when mandatory) with `code` and `text`. */
function refuse(result: PublishResult, code: number, text: string): PublishResult {
  result.routed = false;
  result.refused = true;
  result.returnCode = code;
  result.returnText = text;
  return result;
}
