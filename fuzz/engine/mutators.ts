/**
 * Mutations of a valid trace: frame-level ones work on the frame list (wrong sizes, types,
 * channels, frame-end octets, body sizes, deep and huge tables, frames after close, floods, ...),
 * byte-level ones on the serialised stream (bit flips, truncation, random bytes, a damaged
 * protocol header). Each returns its label; a connection gets 1-3 of them (or none: 10% of traces
 * go unmutated, and must then be answered without any error).
 * All randomness comes from the connection's Prng: (seed, index) replays the same bytes.
 */
import { tableFrom, type FieldTable } from '../../src/core/field-value.js';
import * as W from '../../src/protocol/generated/methods.js';
import { encodeBasicProperties } from '../../src/protocol/generated/properties.js';
import {
  FRAME_BODY, FRAME_HEADER, FRAME_HEARTBEAT, FRAME_METHOD, bodyFrame, contentHeader, hugeTable, methodFrame, nestedTable,
  serialise, type Frame,
} from './frames.js';
import type { Prng } from './prng.js';
import type { Trace } from './traces.js';

type FrameMutation = (frames: Frame[], rng: Prng, ctx: MutationContext) => void;
type ByteMutation = (bytes: Buffer, rng: Prng) => Buffer;

interface MutationContext {
  prefix: string;
  /** Channels the trace opens (for frames that should land on a live channel). */
  channels: number[];
}

export interface Mutated {
  bytes: Buffer;
  mutations: string[];
  /** Frames in the trace after frame-level mutations (byte mutations may change how the broker splits them). */
  frames: number;
}

const U32_EDGES = [0xffffffff, 0x80000000, 0x7fffffff, 131072, 131073, 131064, 65536, 4096, 4095, 0];
const U64_EDGES = [2n ** 64n - 1n, 2n ** 63n, 2n ** 63n - 1n, 2n ** 53n, 2n ** 32n, 134217728n, 134217729n, 0n, 1n];

const at = (frames: Frame[], rng: Prng): number => rng.int(0, Math.max(0, frames.length - 1));
const beforeEnd = (frames: Frame[], rng: Prng): number => rng.int(Math.min(3, frames.length), Math.max(0, frames.length - 1));
const clone = (f: Frame): Frame => ({ ...f, payload: Buffer.from(f.payload) });
const indexes = (frames: Frame[], pred: (f: Frame) => boolean): number[] => frames.flatMap((f, i) => (pred(f) ? [i] : []));
const isMethod = (f: Frame, classId?: number, methodId?: number): boolean =>
  f.type === FRAME_METHOD && f.payload.length >= 4
  && (classId === undefined || f.payload.readUInt16BE(0) === classId) && (methodId === undefined || f.payload.readUInt16BE(2) === methodId);
/** Insert many frames without spreading them into one call (argument lists have a limit). */
function insertMany(fs: Frame[], at: number, extra: readonly Frame[]): void {
  const tail = fs.splice(at);
  for (const f of extra) fs.push(f);
  for (const f of tail) fs.push(f);
}
const liveChannel = (ctx: MutationContext, rng: Prng): number => (ctx.channels.length > 0 ? rng.pick(ctx.channels) : 1);

function deepArgs(rng: Prng): FieldTable {
  return nestedTable(rng.weighted([[3, rng.int(100, 3000)], [3, rng.int(3000, 10_000)], [1, rng.int(10_000, 30_000)]] as const), rng.chance(0.3));
}

const FRAME_MUTATIONS: readonly (readonly [number, string, FrameMutation])[] = [
  [6, 'bit-flip-payload', (fs, r) => {
    const f = fs[at(fs, r)];
    if (f === undefined || f.payload.length === 0) return;
    for (let k = r.int(1, 8); k > 0; k--) f.payload[r.int(0, f.payload.length - 1)]! ^= 1 << r.int(0, 7);
  }],
  [3, 'drop-frame', (fs, r) => { fs.splice(at(fs, r), 1); }],
  [3, 'duplicate-frame', (fs, r) => { const i = at(fs, r); if (fs[i] !== undefined) fs.splice(i, 0, clone(fs[i]!)); }],
  [2, 'swap-frames', (fs, r) => {
    const i = at(fs, r);
    const j = Math.min(fs.length - 1, i + r.int(1, 3));
    if (i !== j) [fs[i], fs[j]] = [fs[j]!, fs[i]!];
  }],
  [4, 'wrong-channel', (fs, r) => {
    const f = fs[at(fs, r)];
    if (f !== undefined) f.channel = r.pick([0, 0, 65535, f.channel + 1, Math.max(0, f.channel - 1), r.int(0, 65535), 2048]);
  }],
  [3, 'wrong-type', (fs, r) => {
    const f = fs[at(fs, r)];
    if (f !== undefined) f.type = r.pick([0, 4, 5, 7, 9, 0x41, 0xff, FRAME_METHOD, FRAME_HEADER, FRAME_BODY, FRAME_HEARTBEAT, r.int(0, 255)]);
  }],
  [3, 'bad-frame-end', (fs, r) => {
    const f = fs[at(fs, r)];
    const end = r.pick([0x00, 0xcd, 0xcf, 0xff, r.int(0, 255)]);
    if (f !== undefined) f.endOverride = end === 0xce ? 0 : end;
  }],
  [3, 'size-mismatch', (fs, r) => {
    const f = fs[at(fs, r)];
    if (f !== undefined) f.sizeOverride = Math.max(0, f.payload.length + r.pick([-16, -4, -1, 1, 2, 7, 8, 100, r.int(-200, 200)]));
  }],
  [3, 'size-huge', (fs, r) => {
    const f = fs[at(fs, r)];
    if (f !== undefined) f.sizeOverride = r.chance(0.7) ? r.pick(U32_EDGES) : r.int(0, 0xffffffff);
  }],
  [4, 'body-size', (fs, r) => {
    const hs = indexes(fs, (f) => f.type === FRAME_HEADER && f.payload.length >= 12);
    if (hs.length === 0) return;
    const f = fs[r.pick(hs)]!;
    const real = f.payload.readBigUInt64BE(4);
    f.payload.writeBigUInt64BE(r.chance(0.5) ? r.pick(U64_EDGES) : BigInt.asUintN(64, real + BigInt(r.int(-100, 100))), 4);
  }],
  [2, 'extra-body', (fs, r) => {
    const bs = indexes(fs, (f) => f.type === FRAME_BODY || f.type === FRAME_HEADER);
    if (bs.length === 0) return;
    const i = r.pick(bs);
    fs.splice(i + 1, 0, bodyFrame(fs[i]!.channel, r.bytes(r.int(0, 300))));
  }],
  [2, 'content-out-of-place', (fs, r, ctx) => {
    const ch = r.chance(0.5) ? liveChannel(ctx, r) : r.int(0, 3);
    const f = r.chance(0.5) ? contentHeader(ch, BigInt(r.int(0, 10)), Buffer.from([0, 0])) : bodyFrame(ch, r.bytes(r.int(0, 20)));
    fs.splice(beforeEnd(fs, r), 0, f);
  }],
  [2, 'interleave-content', (fs, r, ctx) => {
    const hs = indexes(fs, (f) => f.type === FRAME_HEADER);
    if (hs.length === 0) return;
    const ch = r.chance(0.7) ? fs[r.pick(hs)]!.channel : liveChannel(ctx, r);
    fs.splice(r.pick(hs) + r.int(0, 1), 0, methodFrame((w) => W.writeBasicQos(w, ch, 0, 1, false)));
  }],
  [4, 'deep-table', (fs, r, ctx) => {
    const ch = liveChannel(ctx, r);
    const args = deepArgs(r);
    const q = `${ctx.prefix}-deep${r.u32()}`;
    const f = r.weighted([
      [3, () => methodFrame((w) => W.writeQueueDeclare(w, ch, q, false, r.chance(0.5), !r.chance(0.5), true, false, [...tableFrom({ 'x-expires': 1000 }), ...args]))],
      [1, () => methodFrame((w) => W.writeExchangeDeclare(w, ch, 'amq.headers', 'headers', true, false, false, false, false, args))],
      [2, () => methodFrame((w) => W.writeQueueBind(w, ch, q, 'amq.match', '', false, args))],
      [2, () => contentHeader(ch, 0n, encodeBasicProperties({ headers: args }))],
      [1, () => methodFrame((w) => W.writeConnectionStartOk(w, 0, args, 'PLAIN', Buffer.from('\0guest\0guest'), 'en_US'))],
    ] as const)();
    const i = beforeEnd(fs, r);
    if (f.type === FRAME_HEADER) fs.splice(i, 0, methodFrame((w) => W.writeBasicPublish(w, ch, 'amq.headers', '', false, false)), f);
    else fs.splice(i, 0, f);
  }],
  [2, 'huge-table', (fs, r, ctx) => {
    const ch = liveChannel(ctx, r);
    const t = hugeTable(r.pick([1000, 60_000, 130_000, 131_100, 200_000]));
    const f = r.chance(0.5)
      ? methodFrame((w) => W.writeQueueDeclare(w, ch, `${ctx.prefix}-huge${r.u32()}`, false, false, true, false, false, t))
      : contentHeader(ch, 0n, encodeBasicProperties({ headers: t }));
    const i = beforeEnd(fs, r);
    if (f.type === FRAME_HEADER) fs.splice(i, 0, methodFrame((w) => W.writeBasicPublish(w, ch, '', 'nowhere', false, false)), f);
    else fs.splice(i, 0, f);
  }],
  [4, 'field-length', (fs, r) => {
    // Overwrite what may be a length field (shortstr octet, longstr/table u32) inside a method or header.
    const ms = indexes(fs, (f) => (f.type === FRAME_METHOD || f.type === FRAME_HEADER) && f.payload.length > 8);
    if (ms.length === 0) return;
    const f = fs[r.pick(ms)]!;
    const p = r.int(4, f.payload.length - 1);
    if (r.chance(0.3) || p + 4 > f.payload.length) f.payload[p] = r.pick([255, 254, 0, r.int(0, 255)]);
    else f.payload.writeUInt32BE(r.pick(U32_EDGES), p);
  }],
  [2, 'truncate-payload', (fs, r) => {
    const f = fs[at(fs, r)];
    if (f !== undefined && f.payload.length > 0) f.payload = f.payload.subarray(0, r.int(0, f.payload.length - 1));
  }],
  [3, 'frames-after-close', (fs, r) => {
    const cs = indexes(fs, (f) => isMethod(f, 20, 40) || isMethod(f, 10, 50));
    if (cs.length === 0) return;
    const i = r.pick(cs);
    const extra = Array.from({ length: r.int(1, 6) }, () => clone(fs[at(fs, r)]!));
    if (r.chance(0.3)) extra.push(methodFrame((w) => W.writeConnectionClose(w, 0, 200, 'again', 0, 0)));
    insertMany(fs, i + 1, extra);
  }],
  [2, 'early-close', (fs, r, ctx) => {
    const f = r.chance(0.5)
      ? methodFrame((w) => W.writeConnectionClose(w, 0, r.pick([200, 320, 541, 0, 65535]), 'early', r.int(0, 90), r.int(0, 100)))
      : methodFrame((w) => W.writeChannelClose(w, liveChannel(ctx, r), 200, 'early', 0, 0));
    fs.splice(r.int(0, fs.length), 0, f);
  }],
  [2, 'close-ok-unsolicited', (fs, r, ctx) => {
    const f = r.chance(0.5) ? methodFrame((w) => W.writeConnectionCloseOk(w, 0)) : methodFrame((w) => W.writeChannelCloseOk(w, liveChannel(ctx, r)));
    fs.splice(r.int(0, fs.length), 0, f);
  }],
  [2, 'heartbeat-odd', (fs, r) => {
    fs.splice(r.int(0, fs.length), 0, { type: FRAME_HEARTBEAT, channel: r.pick([0, 1, 65535]), payload: r.bytes(r.pick([0, 1, 8, 100])) });
  }],
  [3, 'garbage-frame', (fs, r) => {
    fs.splice(r.int(0, fs.length), 0, { type: r.int(0, 255), channel: r.int(0, 65535), payload: r.bytes(r.skewed(2000)) });
  }],
  [3, 'method-ids', (fs, r) => {
    const ms = indexes(fs, (f) => isMethod(f));
    if (ms.length === 0) return;
    const f = fs[r.pick(ms)]!;
    const ids = [[10, 11], [10, 31], [10, 40], [10, 50], [10, 51], [10, 60], [20, 10], [20, 20], [20, 40], [40, 10], [50, 10], [50, 20],
      [60, 10], [60, 20], [60, 40], [60, 70], [60, 80], [60, 120], [85, 10], [90, 10], [90, 20], [30, 10], [0, 0], [65535, 65535]];
    const [c, m] = r.chance(0.8) ? r.pick(ids) : [r.int(0, 200), r.int(0, 200)];
    f.payload.writeUInt16BE(c!, 0);
    f.payload.writeUInt16BE(m!, 2);
  }],
  [3, 'handshake-values', (fs, r) => {
    const f = fs.find((x) => isMethod(x, 10, 31));
    const s = fs.find((x) => isMethod(x, 10, 11));
    const o = fs.find((x) => isMethod(x, 10, 40));
    const which = r.int(0, 3);
    if (which === 0 && f !== undefined && f.payload.length >= 12) {
      f.payload.writeUInt16BE(r.pick([0, 1, 65535, r.int(0, 65535)]), 4);
      f.payload.writeUInt32BE(r.pick([0, 1, 4095, 4096, 131073, 0xffffffff, r.int(0, 0xffffffff)]), 6);
      f.payload.writeUInt16BE(r.pick([0, 1, 65535, r.int(0, 65535)]), 10);
    } else if (which === 1 && s !== undefined) {
      const i = fs.indexOf(s);
      const mech = r.pick(['plain', 'EXTERNAL', '', 'PLAIN', 'AMQPLAIN', 'X'.repeat(255)]);
      const resp = r.pick([Buffer.from('admin\0guest\0guest'), Buffer.from('guest\0guest\0guest'), Buffer.from('\0guest'), Buffer.alloc(0), r.bytes(20)]);
      fs[i] = methodFrame((w) => W.writeConnectionStartOk(w, 0, [], mech, resp, 'en_US'));
    } else if (which === 2 && o !== undefined) {
      const i = fs.indexOf(o);
      fs[i] = methodFrame((w) => W.writeConnectionOpen(w, 0, r.pick(['', 'nope', '/x', '\u0000', 'é'.repeat(100)])));
    } else {
      // Handshake methods out of order, repeated, or missing.
      const hs = indexes(fs, (x) => isMethod(x, 10));
      if (hs.length >= 2) {
        const i = r.pick(hs);
        if (r.chance(0.5)) fs.splice(i, 1);
        else fs.splice(r.pick(hs), 0, clone(fs[i]!));
      }
    }
  }],
  [2, 'channel-churn', (fs, r) => {
    // Open (and maybe close) many channels, past channel_max sometimes; reuse numbers.
    const n = r.int(10, 3000);
    const extra: Frame[] = [];
    for (let k = 0; k < n; k++) {
      const ch = r.chance(0.9) ? (k % 2100) + 1 : r.int(0, 65535);
      extra.push(methodFrame((w) => W.writeChannelOpen(w, ch)));
      if (r.chance(0.5)) extra.push(methodFrame((w) => W.writeChannelClose(w, ch, 200, '', 0, 0)));
    }
    insertMany(fs, beforeEnd(fs, r), extra);
  }],
  [2, 'flood', (fs, r, ctx) => {
    // Many small frames in one go (the broker must bound what it holds, answer or close).
    const ch = liveChannel(ctx, r);
    const one = r.chance(0.6) ? methodFrame((w) => W.writeBasicQos(w, ch, 0, 1, false)) : { type: FRAME_HEARTBEAT, channel: 0, payload: Buffer.alloc(0) };
    const extra: Frame[] = Array.from({ length: r.int(100, 20_000) }, () => one);
    if (r.chance(0.5)) extra.unshift(methodFrame((w) => W.writeQueueDeclare(w, ch, `${ctx.prefix}-fq${r.u32()}`, false, true, false, false, false, tableFrom({ 'x-expires': 1000 }))));
    insertMany(fs, beforeEnd(fs, r), extra);
  }],
  [1, 'big-flood', (fs, r, ctx) => {
    // Hundreds of thousands of small frames in one write behind durable declares (issue 11: held
    // frames must be bounded and every one answered or the connection closed).
    const ch = liveChannel(ctx, r);
    const extra: Frame[] = [];
    for (let k = 0; k < 2; k++) {
      extra.push(methodFrame((w) => W.writeQueueDeclare(w, ch, `${ctx.prefix}-bf${k}`, false, true, false, false, false, tableFrom({ 'x-expires': 2000 }))));
    }
    const qos = methodFrame((w) => W.writeBasicQos(w, ch, 0, 1, false));
    for (let k = r.int(100_000, 400_000); k > 0; k--) extra.push(qos);
    insertMany(fs, beforeEnd(fs, r), extra);
  }],
];

const BYTE_MUTATIONS: readonly (readonly [number, string, ByteMutation])[] = [
  [5, 'bit-flips', (b, r) => {
    for (let k = r.int(1, 16); k > 0; k--) b[r.int(0, b.length - 1)]! ^= 1 << r.int(0, 7);
    return b;
  }],
  [4, 'truncate-stream', (b, r) => b.subarray(0, r.int(0, b.length - 1))],
  [3, 'byte-set', (b, r) => {
    for (let k = r.int(1, 8); k > 0; k--) b[r.int(0, b.length - 1)] = r.pick([0x00, 0xff, 0xce, 0x7f, 0x80, r.int(0, 255)]);
    return b;
  }],
  [2, 'insert-bytes', (b, r) => {
    const i = r.int(0, b.length);
    return Buffer.concat([b.subarray(0, i), r.bytes(r.int(1, 16)), b.subarray(i)]);
  }],
  [2, 'protocol-header', (b, r) => {
    const headers = [
      Buffer.from('AMQP\x01\x01\x00\x09', 'latin1'), Buffer.from('AMQP\x00\x00\x09\x00', 'latin1'), Buffer.from('AMQP\x00\x01\x00\x00', 'latin1'),
      Buffer.from('HTTP/1.1', 'latin1'), Buffer.from('AMQP', 'latin1'), Buffer.alloc(8), Buffer.from('AMQP\x03\x01\x00\x00', 'latin1'),
    ];
    return Buffer.concat([r.pick(headers), b.subarray(8)]);
  }],
];

/** Mutate a trace (in place) and serialise it. */
export function mutate(trace: Trace, rng: Prng, prefix: string, enabled = true): Mutated {
  const frames = trace.frames;
  const channels = [...new Set(indexes(frames, (f) => isMethod(f, 20, 10)).map((i) => frames[i]!.channel))];
  const ctx: MutationContext = { prefix, channels };
  const mutations: string[] = [];
  const count = rng.weighted([[1, 0], [5, 1], [3, 2], [1, 3]] as const) * (enabled ? 1 : 0);
  const byteLevel: ByteMutation[] = [];
  for (let k = 0; k < count; k++) {
    if (rng.chance(0.75)) {
      const [, label, m] = rng.weighted(FRAME_MUTATIONS.map((x) => [x[0], x] as const));
      m(frames, rng, ctx);
      mutations.push(label);
    } else {
      const [, label, m] = rng.weighted(BYTE_MUTATIONS.map((x) => [x[0], x] as const));
      byteLevel.push(m);
      mutations.push(label);
    }
  }
  let bytes = serialise(trace.header, frames);
  for (const m of byteLevel) if (bytes.length > 0) bytes = m(bytes, rng);
  return { bytes, mutations, frames: frames.length };
}
