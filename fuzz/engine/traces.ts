/**
 * Valid AMQP 0-9-1 session traces, the fuzzer's raw material: a client's whole conversation as it
 * would send it pipelined (without waiting for answers): handshake, then a few blocks on a few
 * channels (queues, exchanges and bindings, publishes with properties and headers, gets, consumers
 * with acks/nacks/rejects, confirms, transactions, durable declarations), then connection.close.
 * Every name carries the connection's own prefix, exclusive or auto-delete or x-expires makes the
 * broker clean up after it (what a cut-short trace would leave is listed in `leftovers`), and
 * acknowledgements use multiple=true with tag 0, valid whenever the deliveries happen, so an
 * unmutated trace is answered without any error.
 */
import type { FieldTable } from '../../src/core/field-value.js';
import { tableFrom } from '../../src/core/field-value.js';
import * as W from '../../src/protocol/generated/methods.js';
import { encodeBasicProperties, type BasicProperties } from '../../src/protocol/generated/properties.js';
import { bodyFrame, contentHeader, heartbeatFrame, methodFrame, nestedTable, PROTOCOL_HEADER, type Frame } from './frames.js';
import type { Prng } from './prng.js';

export interface Trace {
  header: Buffer;
  frames: Frame[];
  /** Names of the blocks, for reports. */
  blocks: string[];
  /** Heartbeat (s) the trace asks for in tune-ok. */
  heartbeat: number;
  /** Exchanges and queues that outlive the connection if the trace is cut short (deleted after the campaign). */
  leftovers: { exchanges: string[]; queues: string[] };
}

interface Gen {
  rng: Prng;
  prefix: string;
  frames: Frame[];
  frameMax: number;
  counter: number;
  leftovers: { exchanges: string[]; queues: string[] };
  /** Channels in confirm or tx mode (a channel cannot switch from one to the other). */
  modes: Map<number, 'confirm' | 'tx'>;
}

const name = (g: Gen, kind: string): string => `${g.prefix}-${kind}${g.counter++}`;

function push(g: Gen, write: (w: import('../../src/protocol/frame-writer.js').FrameWriter) => void): void {
  g.frames.push(methodFrame(write));
}

function properties(g: Gen): Buffer {
  const r = g.rng;
  const p: BasicProperties = {};
  if (r.chance(0.5)) p.contentType = r.pick(['text/plain', 'application/json', 'application/octet-stream']);
  if (r.chance(0.3)) p.deliveryMode = r.pick([1, 2]);
  if (r.chance(0.2)) p.priority = r.int(0, 9);
  if (r.chance(0.2)) p.correlationId = `c${r.u32()}`;
  if (r.chance(0.2)) p.messageId = `m${r.u32()}`;
  if (r.chance(0.1)) p.timestamp = r.int(0, 2 ** 32);
  if (r.chance(0.1)) p.expiration = String(r.pick([0, 1, 60_000, 2 ** 31, 2 ** 32 - 1]));
  if (r.chance(0.4)) {
    p.headers = tableFrom({
      app: 'fuzz', n: r.int(-1000, 1000), flag: r.chance(0.5), list: [1, 'two', r.chance(0.5)], nested: { a: { b: r.u32() } },
    });
  }
  if (r.chance(0.03)) p.headers = nestedTable(r.int(10, 3000), r.chance(0.5));
  return encodeBasicProperties(p);
}

/** basic.publish + header + body frames (body cut to the frame size, sometimes into small frames). */
function publish(g: Gen, ch: number, exchange: string, routingKey: string, mandatory = false): void {
  const r = g.rng;
  const size = r.weighted([[6, r.int(0, 64)], [3, r.int(65, 5000)], [1, r.int(5001, 300_000)]] as const);
  const body = Buffer.alloc(size, r.u32() & 0xff);
  push(g, (w) => W.writeBasicPublish(w, ch, exchange, routingKey, mandatory, false));
  g.frames.push(contentHeader(ch, BigInt(size), properties(g)));
  const max = r.chance(0.2) ? r.int(1, 512) : g.frameMax - 8;
  for (let i = 0; i < size; i += max) g.frames.push(bodyFrame(ch, body.subarray(i, Math.min(size, i + max))));
}

// ---- blocks: each leaves its channel open and usable ------------------------------------------

/** Exclusive queue, publishes via the default exchange, basic.get with ack/nack/reject, purge, delete. */
function queueBlock(g: Gen, ch: number): void {
  const r = g.rng;
  const q = name(g, 'q');
  const args: FieldTable = r.chance(0.3) ? tableFrom({ 'x-max-length': r.int(1, 5), 'x-message-ttl': r.int(1000, 2 ** 32) }) : [];
  push(g, (w) => W.writeQueueDeclare(w, ch, q, false, false, true, false, false, args));
  const n = r.int(1, 4);
  for (let i = 0; i < n; i++) publish(g, ch, '', q);
  const gets = r.int(0, n);
  for (let i = 0; i < gets; i++) {
    const noAck = r.chance(0.5);
    push(g, (w) => W.writeBasicGet(w, ch, q, noAck));
  }
  // Settle whatever is outstanding with multiple=true and tag 0: valid however many gets found a
  // message (length limits and TTLs decide that), and whenever the deliveries happen.
  if (gets > 0 && r.chance(0.7)) {
    const how = r.int(0, 2);
    if (how === 0) push(g, (w) => W.writeBasicAck(w, ch, 0, true));
    else if (how === 1) push(g, (w) => W.writeBasicNack(w, ch, 0, true, r.chance(0.5)));
    else push(g, (w) => W.writeBasicRecover(w, ch, true));
  }
  if (r.chance(0.5)) push(g, (w) => W.writeQueuePurge(w, ch, q, false));
  if (r.chance(0.5)) push(g, (w) => W.writeQueueDelete(w, ch, q, false, false, false));
}

/** An auto-delete exchange of a random type, a bound exclusive queue, routed publishes, unbind, delete. */
function exchangeBlock(g: Gen, ch: number): void {
  const r = g.rng;
  const x = name(g, 'x');
  const q = name(g, 'q');
  g.leftovers.exchanges.push(x);
  const type = r.pick(['direct', 'fanout', 'topic', 'headers']);
  push(g, (w) => W.writeExchangeDeclare(w, ch, x, type, false, false, true, false, false, []));
  push(g, (w) => W.writeQueueDeclare(w, ch, q, false, false, true, false, false, []));
  const bindArgs: FieldTable = type === 'headers' ? tableFrom({ 'x-match': r.pick(['all', 'any']), app: 'fuzz' }) : [];
  const key = type === 'topic' ? r.pick(['a.#', '*.b', '#', 'a.b']) : 'k';
  push(g, (w) => W.writeQueueBind(w, ch, q, x, key, false, bindArgs));
  if (r.chance(0.3)) {
    const x2 = name(g, 'x');
    g.leftovers.exchanges.push(x2);
    push(g, (w) => W.writeExchangeDeclare(w, ch, x2, 'fanout', false, false, true, false, false, []));
    push(g, (w) => W.writeExchangeBind(w, ch, x2, x, '#', false, []));
    publish(g, ch, x, 'a.b');
    push(g, (w) => W.writeExchangeUnbind(w, ch, x2, x, '#', false, []));
    // An auto-delete exchange goes when it loses its last binding as a source: x2 never had one.
    push(g, (w) => W.writeExchangeDelete(w, ch, x2, false, false));
  }
  const n = r.int(1, 3);
  for (let i = 0; i < n; i++) publish(g, ch, x, r.pick(['a.b', 'k', 'zz']), r.chance(0.3));
  push(g, (w) => W.writeQueueUnbind(w, ch, q, x, key, bindArgs));
  push(g, (w) => W.writeExchangeDelete(w, ch, x, false, false));
}

/** qos, a consumer, publishes delivered to it, acks/nacks/rejects of the right tags, cancel. */
function consumeBlock(g: Gen, ch: number): void {
  const r = g.rng;
  const q = name(g, 'q');
  const tag = name(g, 'ctag');
  push(g, (w) => W.writeQueueDeclare(w, ch, q, false, false, true, false, false, []));
  push(g, (w) => W.writeBasicQos(w, ch, 0, r.int(0, 10), false));
  const noAck = r.chance(0.3);
  push(g, (w) => W.writeBasicConsume(w, ch, q, tag, false, noAck, false, false, r.chance(0.2) ? tableFrom({ 'x-priority': r.int(-5, 5) }) : []));
  const n = r.int(1, 5);
  for (let i = 0; i < n; i++) publish(g, ch, '', q);
  // Deliveries may lag behind the frames that follow (a broker may deliver asynchronously, and a
  // prefetch limit holds some back): settle with multiple=true, tag 0 (everything outstanding).
  if (!noAck) {
    if (r.chance(0.5)) push(g, (w) => W.writeBasicAck(w, ch, 0, true));
    else push(g, (w) => W.writeBasicNack(w, ch, 0, true, r.chance(0.3)));
  }
  push(g, (w) => W.writeBasicCancel(w, ch, tag, false));
}

/** A confirm channel publishing (mandatory too), or a transaction committed or rolled back. */
function confirmTxBlock(g: Gen, ch: number, mode: 'confirm' | 'tx'): void {
  const r = g.rng;
  const q = name(g, 'q');
  push(g, (w) => W.writeQueueDeclare(w, ch, q, false, false, true, false, false, []));
  mode = g.modes.get(ch) ?? mode;
  g.modes.set(ch, mode);
  if (mode === 'confirm') push(g, (w) => W.writeConfirmSelect(w, ch, false));
  else push(g, (w) => W.writeTxSelect(w, ch));
  const n = r.int(1, 4);
  for (let i = 0; i < n; i++) publish(g, ch, r.chance(0.8) ? '' : 'amq.direct', r.chance(0.8) ? q : 'nowhere', r.chance(0.3));
  if (mode === 'tx') push(g, (w) => (r.chance(0.5) ? W.writeTxCommit(w, ch) : W.writeTxRollback(w, ch)));
}

/** A durable queue that expires by itself (x-expires), persistent publishes, sometimes deeply nested arguments. */
function durableBlock(g: Gen, ch: number): void {
  const r = g.rng;
  const q = name(g, 'dq');
  g.leftovers.queues.push(q);
  const args: FieldTable = [
    ...tableFrom({ 'x-expires': r.int(500, 3000) }),
    ...(r.chance(0.3) ? nestedTable(r.int(100, 8000), r.chance(0.3)) : []),
  ];
  push(g, (w) => W.writeQueueDeclare(w, ch, q, false, true, false, false, false, args));
  const n = r.int(0, 3);
  for (let i = 0; i < n; i++) publish(g, ch, '', q);
  if (r.chance(0.5)) push(g, (w) => W.writeQueueDelete(w, ch, q, false, false, false));
}

/** channel.flow, heartbeats, basic.recover-async... the rarer methods. */
function miscBlock(g: Gen, ch: number): void {
  const r = g.rng;
  if (r.chance(0.5)) push(g, (w) => W.writeChannelFlow(w, ch, true));
  if (r.chance(0.5)) g.frames.push(heartbeatFrame());
  push(g, (w) => W.writeExchangeDeclare(w, ch, 'amq.direct', 'direct', true, false, false, false, false, []));
  // requeue=false is 540 NOT_IMPLEMENTED on RabbitMQ: a valid trace asks for requeue=true.
  if (r.chance(0.5)) push(g, (w) => W.writeBasicRecover(w, ch, true));
}

const BLOCKS: readonly (readonly [number, string, (g: Gen, ch: number) => void])[] = [
  [4, 'queue', queueBlock],
  [3, 'exchange', exchangeBlock],
  [3, 'consume', consumeBlock],
  [2, 'confirm', (g, ch) => confirmTxBlock(g, ch, 'confirm')],
  [2, 'tx', (g, ch) => confirmTxBlock(g, ch, 'tx')],
  [1, 'durable', durableBlock],
  [1, 'misc', miscBlock],
];

/** One valid trace for a connection whose names start with `prefix`. */
export function validTrace(rng: Prng, prefix: string): Trace {
  const g: Gen = { rng, prefix, frames: [], frameMax: 131072, counter: 0, leftovers: { exchanges: [], queues: [] }, modes: new Map() };
  const heartbeat = rng.weighted([[6, rng.int(1, 3)], [1, 0], [1, 60]] as const);
  const amqplain = rng.chance(0.3);
  push(g, (w) => W.writeConnectionStartOk(w, 0, tableFrom({
    product: 'warren-fuzz', capabilities: { authentication_failure_close: true, consumer_cancel_notify: true, 'basic.nack': true, publisher_confirms: true },
  }), amqplain ? 'AMQPLAIN' : 'PLAIN', amqplain ? amqplainResponse() : Buffer.from('\0guest\0guest'), 'en_US'));
  // RabbitMQ refuses channel_max 0 and frame_max 0 or below 4096 in tune-ok: a valid trace never sends them.
  const channelMax = rng.pick([2047, 16, 100]);
  push(g, (w) => W.writeConnectionTuneOk(w, 0, channelMax, 131072, heartbeat));
  push(g, (w) => W.writeConnectionOpen(w, 0, '/'));
  const blocks: string[] = [];
  const channels = rng.int(1, 3);
  const used = new Set<number>();
  for (let c = 1; c <= channels; c++) {
    let ch = rng.chance(0.8) ? c : rng.int(4, channelMax);
    while (used.has(ch)) ch = rng.int(1, channelMax);
    used.add(ch);
    push(g, (w) => W.writeChannelOpen(w, ch));
    const n = rng.int(1, 3);
    let committing = false;
    for (let i = 0; i < n && !committing; i++) {
      const [, label, block] = rng.weighted(BLOCKS.map((b) => [b[0], b] as const));
      blocks.push(label);
      block(g, ch);
      // RabbitMQ answers anything sent on a channel before tx.commit-ok/rollback-ok with 504
      // "unexpected command while processing 'tx.commit'" (3.10 even crashes the channel on a
      // pipelined basic.consume): nothing more goes on a channel after its commit or rollback.
      committing = g.modes.get(ch) === 'tx';
    }
    if (!committing && rng.chance(0.7)) push(g, (w) => W.writeChannelClose(w, ch, 200, 'bye', 0, 0));
  }
  push(g, (w) => W.writeConnectionClose(w, 0, 200, 'done', 0, 0));
  return { header: PROTOCOL_HEADER, frames: g.frames, blocks, heartbeat, leftovers: g.leftovers };
}

/** AMQPLAIN response: LOGIN and PASSWORD long strings, table without its length prefix. */
function amqplainResponse(): Buffer {
  const parts: Buffer[] = [];
  for (const [k, v] of [['LOGIN', 'guest'], ['PASSWORD', 'guest']] as const) {
    const s = Buffer.from(v);
    const head = Buffer.alloc(1 + k.length + 1 + 4);
    head[0] = k.length;
    head.write(k, 1, 'latin1');
    head[1 + k.length] = 0x53;
    head.writeUInt32BE(s.length, 2 + k.length);
    parts.push(head, s);
  }
  return Buffer.concat(parts);
}
