/**
 * One fuzzed connection: build the trace of (campaign seed, index), mutate it, send it over a
 * fresh socket in seeded chunks with small pauses, answer the broker's connection.close (and most
 * channel.closes) as a client would, then make sure the broker answers: if the socket is still
 * open once everything is sent, complete the frame the broker is in the middle of (StreamTracker)
 * and send connection.close; the broker must then close the connection within the limit.
 * Failures: no answer in time, a 541 INTERNAL_ERROR (an exception that was not an AMQP error),
 * a socket error other than a reset, or an unmutated trace that is refused in any way.
 */
import net from 'node:net';
import { FrameWriter } from '../../src/protocol/frame-writer.js';
import { writeConnectionClose } from '../../src/protocol/generated/methods.js';
import { mutate } from './mutators.js';
import { connectionSeed, Prng } from './prng.js';
import { StreamTracker } from './stream-tracker.js';
import { validTrace, type Trace } from './traces.js';

export interface ConnectionLimits {
  /** After the probe (or the trace's own connection.close), the broker must close within this (ms). */
  answerMs: number;
  /** When no probe can be sent: the broker's handshake timeout or heartbeat must close it within this (ms). */
  silentMs: number;
  /** Largest completion sent to reach a frame boundary before the probe. */
  maxCompletion: number;
  connectMs: number;
}

export const DEFAULT_LIMITS: ConnectionLimits = { answerMs: 15_000, silentMs: 15_000, maxCompletion: 1 << 20, connectMs: 10_000 };

export interface BrokerClose {
  code: number;
  text: string;
  classId: number;
  methodId: number;
}

export interface ConnectionResult {
  index: number;
  seed: number;
  mutations: string[];
  blocks: string[];
  framesSent: number;
  bytesSent: number;
  /** How the connection ended: the broker closed it ('closed'), after our probe ('probed'), or it could not be checked. */
  outcome: 'closed' | 'probed' | 'unchecked';
  brokerClose: BrokerClose | undefined;
  channelCloses: number[];
  failure: string | undefined;
  leftovers: { exchanges: string[]; queues: string[] };
  ms: number;
}

/** The trace of connection `index` (its blocks, mutations and the bytes it sends), without sending it. */
export function connectionTrace(seed: number, index: number, runTag: string, mutations = true): {
  rng: Prng; blocks: string[]; mutations: string[]; bytes: Buffer; leftovers: Trace['leftovers'];
} {
  const rng = new Prng(connectionSeed(seed, index));
  const prefix = `fz${runTag}-${index}`;
  const trace = validTrace(rng, prefix);
  const mutated = mutate(trace, rng, prefix, mutations);
  return { rng, blocks: trace.blocks, mutations: mutated.mutations, bytes: mutated.bytes, leftovers: trace.leftovers };
}

/** Replay connection `index` of the campaign seeded `seed` against 127.0.0.1:port. */
export async function runFuzzConnection(port: number, seed: number, index: number, runTag: string,
  limits: ConnectionLimits = DEFAULT_LIMITS, mutations = true): Promise<ConnectionResult> {
  const started = Date.now();
  // The rest of the connection's randomness (chunking, pauses, answers) continues the same Prng.
  const { rng, ...mutated } = connectionTrace(seed, index, runTag, mutations);
  const result: ConnectionResult = {
    index, seed, mutations: mutated.mutations, blocks: mutated.blocks, framesSent: 0, bytesSent: 0, outcome: 'closed',
    brokerClose: undefined, channelCloses: [], failure: undefined, leftovers: mutated.leftovers, ms: 0,
  };
  const fail = (why: string): void => { result.failure ??= why; };
  const tracker = new StreamTracker();
  const conn = await connect(port, limits.connectMs).catch((e: unknown) => {
    fail(`connect: ${e instanceof Error ? e.message : String(e)}`);
    return undefined;
  });
  if (conn === undefined) return finish(result, started);
  const { socket } = conn;
  // The client's answers to the broker's closes go out only between two frames of the stream.
  const replies: Buffer[] = [];
  let sending = true;
  // After the broker's close-ok the client ends its side (BrokerReader): nothing more is written.
  const write = (b: Buffer): void => {
    if (!socket.destroyed && !socket.writableEnded) socket.write(b);
  };
  const flushReplies = (): void => {
    if (replies.length > 0 && tracker.atBoundary) write(Buffer.concat(replies.splice(0)));
  };
  const reader = new BrokerReader(socket, rng.u32(), (b) => {
    replies.push(b);
    if (!sending) flushReplies();
  });
  try {
    // Send the stream in seeded chunks: all at once, large pieces, or tiny ones (every straddle).
    const bytes = mutated.bytes;
    const style = rng.weighted([[2, 'whole'], [5, 'pieces'], [1, 'tiny']] as const);
    let p = 0;
    let pauses = 0;
    while (p < bytes.length && !reader.closed && !socket.writableEnded) {
      const n = style === 'whole' ? bytes.length : style === 'tiny' && bytes.length < 20_000 ? rng.int(1, 7) : rng.int(1, 16_384);
      const chunk = bytes.subarray(p, Math.min(bytes.length, p + n));
      p += chunk.length;
      tracker.push(chunk);
      write(chunk);
      result.bytesSent += chunk.length;
      flushReplies();
      if (pauses < 20 && rng.chance(0.05)) {
        pauses++;
        await delay(rng.int(0, 30));
      } else if (socket.writableLength > 1 << 20) {
        await waitDrainOrClose(socket, reader);
      }
    }
    result.framesSent = tracker.frames;
    sending = false;
    flushReplies();
    const unmutated = mutated.mutations.length === 0;
    if (!reader.closed) {
      // Everything is sent. An unmutated trace ended with connection.close; otherwise probe.
      const completion = unmutated ? Buffer.alloc(0) : tracker.completion(limits.maxCompletion);
      if (completion !== undefined) {
        if (!unmutated) {
          const w = new FrameWriter(64);
          writeConnectionClose(w, 0, 200, 'fuzz probe', 0, 0);
          tracker.push(completion);
          write(completion);
          flushReplies();
          write(w.peekPending());
          result.outcome = 'probed';
        }
        if (!(await reader.waitClosed(limits.answerMs))) {
          fail(`no answer within ${limits.answerMs} ms after ${unmutated ? 'connection.close' : 'the probe (frame completed + connection.close)'}`);
        }
      } else if (!(await reader.waitClosed(limits.silentMs))) {
        // The broker waits for the rest of a large frame: legitimate when heartbeats are off.
        result.outcome = 'unchecked';
      }
    }
    result.brokerClose = reader.connectionClose;
    result.channelCloses = reader.channelCloses.map((c) => c.code);
    if (reader.socketError !== undefined) fail(`socket error ${reader.socketError}`);
    const all = [...(reader.connectionClose === undefined ? [] : [reader.connectionClose]), ...reader.channelCloses];
    for (const c of all) if (c.code === 541) fail(`541 from the broker: ${c.text} (${c.classId}.${c.methodId})`);
    if (unmutated) {
      if (all.length > 0) fail(`unmutated trace refused: ${all.map((c) => `${c.code} ${c.text}`).join('; ')}`);
      else if (!reader.closeOk && result.failure === undefined) fail('unmutated trace: connection.close was not answered with close-ok');
    }
  } finally {
    socket.destroy();
  }
  return finish(result, started);
}

function finish(r: ConnectionResult, started: number): ConnectionResult {
  r.ms = Date.now() - started;
  return r;
}

const delay = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function connect(port: number, timeoutMs: number): Promise<{ socket: net.Socket }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    const t = setTimeout(() => { socket.destroy(); reject(new Error(`timed out after ${timeoutMs} ms`)); }, timeoutMs);
    socket.once('error', (e) => { clearTimeout(t); reject(e); });
    socket.once('connect', () => {
      clearTimeout(t);
      socket.removeAllListeners('error');
      resolve({ socket });
    });
  });
}

function waitDrainOrClose(socket: net.Socket, reader: BrokerReader): Promise<void> {
  return new Promise((resolve) => {
    if (reader.closed) return resolve();
    const done = (): void => { socket.off('drain', done); socket.off('close', done); resolve(); };
    socket.once('drain', done);
    socket.once('close', done);
  });
}

/** Reads what the broker sends: records closes, answers them like a client, notices the socket closing. */
class BrokerReader {
  closed = false;
  closeOk = false;
  connectionClose: BrokerClose | undefined;
  readonly channelCloses: BrokerClose[] = [];
  socketError: string | undefined;
  private buf: Buffer = Buffer.alloc(0);
  private rawMode = false;
  private readonly waiters: (() => void)[] = [];
  private readonly rng: Prng;

  constructor(private readonly socket: net.Socket, seed: number, private readonly reply: (b: Buffer) => void) {
    this.rng = new Prng(seed);
    socket.on('data', (d: Buffer) => this.onData(d));
    socket.on('error', (e: NodeJS.ErrnoException) => {
      // A reset or a broken pipe is how a broker drops a bad client; anything else is not.
      if (e.code !== 'ECONNRESET' && e.code !== 'EPIPE') this.socketError = e.code ?? e.message;
    });
    socket.on('close', () => {
      this.closed = true;
      for (const w of this.waiters.splice(0)) w();
    });
  }

  waitClosed(ms: number): Promise<boolean> {
    if (this.closed) return Promise.resolve(true);
    return new Promise((resolve) => {
      const t = setTimeout(() => resolve(this.closed), ms);
      this.waiters.push(() => { clearTimeout(t); resolve(true); });
    });
  }

  private onData(d: Buffer): void {
    if (this.rawMode) return;
    this.buf = this.buf.length === 0 ? d : Buffer.concat([this.buf, d]);
    while (this.buf.length >= 8) {
      if (this.buf[0] === 0x41) { this.rawMode = true; return; } // the broker's protocol header: it refused ours
      const size = this.buf.readUInt32BE(3);
      if (this.buf.length < size + 8) return;
      const type = this.buf[0]!;
      const channel = this.buf.readUInt16BE(1);
      const payload = this.buf.subarray(7, 7 + size);
      this.buf = this.buf.subarray(size + 8);
      if (type === 1 && payload.length >= 4) this.onMethod(channel, payload);
    }
  }

  private onMethod(channel: number, payload: Buffer): void {
    const cls = payload.readUInt16BE(0);
    const mth = payload.readUInt16BE(2);
    if (cls === 10 && mth === 51) {
      // After close-ok the client closes the socket, as RabbitMQ expects (it leaves that to the client).
      this.closeOk = true;
      this.socket.end();
    }
    if (((cls === 10 && mth === 50) || (cls === 20 && mth === 40)) && payload.length >= 7) {
      const close = decodeClose(payload);
      if (cls === 10) {
        this.connectionClose ??= close;
        this.reply(Buffer.from([1, 0, 0, 0, 0, 0, 4, 0, 10, 0, 51, 0xce]));
      } else {
        this.channelCloses.push(close);
        // Most clients answer channel.close; some never do (the broker must cope either way).
        if (this.rng.chance(0.9)) this.reply(Buffer.from([1, channel >> 8, channel & 0xff, 0, 0, 0, 4, 0, 20, 0, 41, 0xce]));
      }
    }
  }
}

function decodeClose(p: Buffer): BrokerClose {
  const code = p.readUInt16BE(4);
  const len = p[6]!;
  const text = p.toString('utf8', 7, 7 + len);
  const at = 7 + len;
  return { code, text, classId: p.length >= at + 2 ? p.readUInt16BE(at) : 0, methodId: p.length >= at + 4 ? p.readUInt16BE(at + 2) : 0 };
}
