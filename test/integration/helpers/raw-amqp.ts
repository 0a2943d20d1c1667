/**
 * A tiny hand-made AMQP 0-9-1 client over a raw net.Socket, for the frame-level tests that stock
 * clients cannot provoke (bad frame-end, oversized frames, frames on unopened channels, stray content
 * headers, AMQPLAIN by hand, wrong protocol headers). Deliberately independent of src/: it is a second,
 * minimal implementation of the wire format (spec §2.3.5 frames, §4.2.5 field types), so a bug in
 * Warren's codec cannot hide itself in the test.
 * Invariant: every socket it opens is tracked and destroyed by `closeAll()`.
 */
import net from 'node:net';
import tls from 'node:tls';

export const FRAME_METHOD = 1;
export const FRAME_HEADER = 2;
export const FRAME_BODY = 3;
export const FRAME_HEARTBEAT = 8;
export const FRAME_END = 0xce;
export const PROTOCOL_HEADER = Buffer.from([0x41, 0x4d, 0x51, 0x50, 0, 0, 9, 1]);

/** A decoded field value; enough of the types to read RabbitMQ's and Warren's server-properties. */
export type RawValue = boolean | number | bigint | string | Buffer | null | RawValue[] | RawTable;
export interface RawTable { [key: string]: RawValue }

/** Typed argument for the encoder. */
export type Arg =
  | { t: 'octet' | 'short' | 'long' | 'longlong'; v: number }
  | { t: 'shortstr' | 'longstr'; v: string | Buffer }
  | { t: 'bits'; v: boolean[] }
  | { t: 'table'; v: RawTable };

export const octet = (v: number): Arg => ({ t: 'octet', v });
export const short = (v: number): Arg => ({ t: 'short', v });
export const long = (v: number): Arg => ({ t: 'long', v });
export const longlong = (v: number): Arg => ({ t: 'longlong', v });
export const shortstr = (v: string): Arg => ({ t: 'shortstr', v });
export const longstr = (v: string | Buffer): Arg => ({ t: 'longstr', v });
export const bits = (...v: boolean[]): Arg => ({ t: 'bits', v });
export const table = (v: RawTable = {}): Arg => ({ t: 'table', v });

export function encodeTable(t: RawTable): Buffer {
  const parts: Buffer[] = [];
  for (const [k, v] of Object.entries(t)) {
    const key = Buffer.from(k);
    parts.push(Buffer.from([key.length]), key, encodeValue(v));
  }
  const body = Buffer.concat(parts);
  const len = Buffer.alloc(4);
  len.writeUInt32BE(body.length);
  return Buffer.concat([len, body]);
}

function encodeValue(v: RawValue): Buffer {
  if (v === null) return Buffer.from('V');
  if (typeof v === 'boolean') return Buffer.from([0x74, v ? 1 : 0]);
  if (typeof v === 'number') {
    if (Number.isInteger(v)) {
      const b = Buffer.alloc(9);
      b.write('l');
      b.writeBigInt64BE(BigInt(v), 1);
      return b;
    }
    const b = Buffer.alloc(9);
    b.write('d');
    b.writeDoubleBE(v, 1);
    return b;
  }
  if (typeof v === 'bigint') {
    const b = Buffer.alloc(9);
    b.write('l');
    b.writeBigInt64BE(v, 1);
    return b;
  }
  if (typeof v === 'string' || Buffer.isBuffer(v)) {
    const s = Buffer.isBuffer(v) ? v : Buffer.from(v);
    const b = Buffer.alloc(5);
    b.write('S');
    b.writeUInt32BE(s.length, 1);
    return Buffer.concat([b, s]);
  }
  if (Array.isArray(v)) {
    const items = Buffer.concat(v.map(encodeValue));
    const b = Buffer.alloc(5);
    b.write('A');
    b.writeUInt32BE(items.length, 1);
    return Buffer.concat([b, items]);
  }
  return Buffer.concat([Buffer.from('F'), encodeTable(v)]);
}

export function encodeArgs(args: readonly Arg[]): Buffer {
  const parts: Buffer[] = [];
  for (const a of args) {
    switch (a.t) {
      case 'octet': parts.push(Buffer.from([a.v])); break;
      case 'short': { const b = Buffer.alloc(2); b.writeUInt16BE(a.v); parts.push(b); break; }
      case 'long': { const b = Buffer.alloc(4); b.writeUInt32BE(a.v); parts.push(b); break; }
      case 'longlong': { const b = Buffer.alloc(8); b.writeBigUInt64BE(BigInt(a.v)); parts.push(b); break; }
      case 'shortstr': {
        const s = Buffer.isBuffer(a.v) ? a.v : Buffer.from(a.v);
        parts.push(Buffer.from([s.length]), s);
        break;
      }
      case 'longstr': {
        const s = Buffer.isBuffer(a.v) ? a.v : Buffer.from(a.v);
        const b = Buffer.alloc(4);
        b.writeUInt32BE(s.length);
        parts.push(b, s);
        break;
      }
      case 'bits': {
        // Consecutive bits pack into octets, least significant bit first (spec §4.2.5.2).
        for (let i = 0; i < a.v.length; i += 8) {
          let byte = 0;
          for (let j = 0; j < 8 && i + j < a.v.length; j++) if (a.v[i + j]) byte |= 1 << j;
          parts.push(Buffer.from([byte]));
        }
        break;
      }
      case 'table': parts.push(encodeTable(a.v)); break;
    }
  }
  return Buffer.concat(parts);
}

/** One whole frame: type, channel, size, payload, frame-end (overridable to test the frame-end check). */
export function frame(type: number, channel: number, payload: Buffer, end = FRAME_END): Buffer {
  const head = Buffer.alloc(7);
  head.writeUInt8(type, 0);
  head.writeUInt16BE(channel, 1);
  head.writeUInt32BE(payload.length, 3);
  return Buffer.concat([head, payload, Buffer.from([end])]);
}

export function methodFrame(channel: number, classId: number, methodId: number, args: readonly Arg[] = []): Buffer {
  const ids = Buffer.alloc(4);
  ids.writeUInt16BE(classId, 0);
  ids.writeUInt16BE(methodId, 2);
  return frame(FRAME_METHOD, channel, Buffer.concat([ids, encodeArgs(args)]));
}

/** A content header with no properties (flags 0). */
export function headerFrame(channel: number, classId: number, bodySize: number): Buffer {
  const p = Buffer.alloc(14);
  p.writeUInt16BE(classId, 0);
  p.writeUInt16BE(0, 2);
  p.writeBigUInt64BE(BigInt(bodySize), 4);
  p.writeUInt16BE(0, 12);
  return frame(FRAME_HEADER, channel, p);
}

export function bodyFrame(channel: number, body: Buffer): Buffer {
  return frame(FRAME_BODY, channel, body);
}

export interface RawFrame {
  readonly type: number;
  readonly channel: number;
  readonly payload: Buffer;
  /** For method frames. */
  readonly classId: number;
  readonly methodId: number;
}

/** Decoded connection.close / channel.close fields. */
export interface CloseInfo {
  readonly replyCode: number;
  readonly replyText: string;
  readonly classId: number;
  readonly methodId: number;
}

export class Reader {
  pos = 0;
  constructor(readonly buf: Buffer) {}
  octet(): number { return this.buf.readUInt8(this.pos++); }
  short(): number { const v = this.buf.readUInt16BE(this.pos); this.pos += 2; return v; }
  long(): number { const v = this.buf.readUInt32BE(this.pos); this.pos += 4; return v; }
  longlong(): bigint { const v = this.buf.readBigUInt64BE(this.pos); this.pos += 8; return v; }
  shortstr(): string { const n = this.octet(); const s = this.buf.toString('utf8', this.pos, this.pos + n); this.pos += n; return s; }
  longstrBytes(): Buffer { const n = this.long(); const s = this.buf.subarray(this.pos, this.pos + n); this.pos += n; return s; }
  table(): RawTable {
    const n = this.long();
    const end = this.pos + n;
    const out: RawTable = {};
    while (this.pos < end) {
      const k = this.shortstr();
      out[k] = this.value();
    }
    return out;
  }
  value(): RawValue {
    const t = String.fromCharCode(this.octet());
    const b = this.buf;
    switch (t) {
      case 't': return this.octet() !== 0;
      case 'b': { const v = b.readInt8(this.pos); this.pos += 1; return v; }
      case 'B': return this.octet();
      case 's': { const v = b.readInt16BE(this.pos); this.pos += 2; return v; }
      case 'u': return this.short();
      case 'I': { const v = b.readInt32BE(this.pos); this.pos += 4; return v; }
      case 'i': return this.long();
      case 'l': { const v = b.readBigInt64BE(this.pos); this.pos += 8; return Number(v); }
      case 'T': return Number(this.longlong());
      case 'f': { const v = b.readFloatBE(this.pos); this.pos += 4; return v; }
      case 'd': { const v = b.readDoubleBE(this.pos); this.pos += 8; return v; }
      case 'D': { const scale = this.octet(); const v = b.readInt32BE(this.pos); this.pos += 4; return v / 10 ** scale; }
      case 'S': return this.longstrBytes().toString('utf8');
      case 'x': return Buffer.from(this.longstrBytes());
      case 'A': {
        const n = this.long();
        const end = this.pos + n;
        const arr: RawValue[] = [];
        while (this.pos < end) arr.push(this.value());
        return arr;
      }
      case 'F': return this.table();
      case 'V': return null;
      default: throw new Error(`unknown field type ${t}`);
    }
  }
}

export function decodeClose(f: RawFrame): CloseInfo {
  const r = new Reader(f.payload);
  r.pos = 4;
  return { replyCode: r.short(), replyText: r.shortstr(), classId: r.short(), methodId: r.short() };
}

/**
 * One raw connection. Collects incoming frames; `next()` waits for the next frame, `closed` resolves
 * when the server closes the socket. Heartbeat frames are kept out of `next()` and only counted.
 */
export class RawConnection {
  private buf = Buffer.alloc(0);
  private readonly frames: RawFrame[] = [];
  private waiters: Array<() => void> = [];
  /** The first bytes received (at least 64 when that many arrived), e.g. a protocol header reply. */
  raw = Buffer.alloc(0);
  heartbeats = 0;
  socketClosed = false;
  readonly closed: Promise<void>;
  /** Set when the incoming stream is not valid frames (e.g. the server sent a protocol header). */
  rawMode = false;

  constructor(readonly socket: net.Socket) {
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', () => { /* a reset after close is expected in these tests */ });
    this.closed = new Promise((resolve) => socket.once('close', () => {
      this.socketClosed = true;
      resolve();
      this.wake();
    }));
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  private onData(chunk: Buffer): void {
    // Only the first bytes matter as raw (a protocol-header reply); don't copy a long stream twice.
    if (this.raw.length < 64) this.raw = Buffer.concat([this.raw, chunk]);
    if (this.rawMode) { this.wake(); return; }
    this.buf = Buffer.concat([this.buf, chunk]);
    while (this.buf.length >= 7) {
      if (this.buf[0] === 0x41) { this.rawMode = true; break; } // 'A': a protocol header, not a frame
      const size = this.buf.readUInt32BE(3);
      if (this.buf.length < size + 8) break;
      const type = this.buf.readUInt8(0);
      const channel = this.buf.readUInt16BE(1);
      const payload = Buffer.from(this.buf.subarray(7, 7 + size));
      this.buf = this.buf.subarray(size + 8);
      const isMethod = type === FRAME_METHOD && payload.length >= 4;
      const f: RawFrame = {
        type, channel, payload,
        classId: isMethod ? payload.readUInt16BE(0) : 0,
        methodId: isMethod ? payload.readUInt16BE(2) : 0,
      };
      if (type === FRAME_HEARTBEAT) this.heartbeats++;
      else this.frames.push(f);
    }
    this.wake();
  }

  send(bytes: Buffer): void {
    if (!this.socket.destroyed) this.socket.write(bytes);
  }

  /** The next non-heartbeat frame, or undefined once the socket has closed with nothing left. */
  async next(timeoutMs = 5000): Promise<RawFrame | undefined> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const f = this.frames.shift();
      if (f !== undefined) return f;
      if (this.socketClosed) return undefined;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error('raw connection: timed out waiting for a frame');
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => { clearTimeout(t); resolve(); });
      });
    }
  }

  /** Wait for a specific method, skipping others; throws if the socket closes first. */
  async expectMethod(classId: number, methodId: number, timeoutMs = 5000): Promise<RawFrame> {
    for (;;) {
      const f = await this.next(timeoutMs);
      if (f === undefined) throw new Error(`socket closed while waiting for method ${classId}.${methodId}`);
      if (f.type === FRAME_METHOD && f.classId === classId && f.methodId === methodId) return f;
    }
  }

  /**
   * Wait for connection.close (answering close-ok) or for the socket to close.
   * Returns the close fields, or undefined when the server closed the socket without connection.close.
   */
  async expectConnectionClose(timeoutMs = 5000): Promise<CloseInfo | undefined> {
    for (;;) {
      const f = await this.next(timeoutMs);
      if (f === undefined) return undefined;
      if (f.type === FRAME_METHOD && f.classId === 10 && f.methodId === 50) {
        this.send(methodFrame(0, 10, 51));
        return decodeClose(f);
      }
    }
  }

  /** Wait for the raw bytes received to reach `n` or the socket to close. */
  async rawBytes(n: number, timeoutMs = 5000): Promise<Buffer> {
    const deadline = Date.now() + timeoutMs;
    while (this.raw.length < n && !this.socketClosed) {
      const left = deadline - Date.now();
      if (left <= 0) break;
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => { clearTimeout(t); resolve(); });
      });
    }
    return this.raw;
  }

  destroy(): void {
    this.socket.destroy();
  }
}

const open = new Set<RawConnection>();

export function rawConnect(port: number, host = '127.0.0.1'): Promise<RawConnection> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host, port });
    s.once('error', reject);
    s.once('connect', () => {
      s.off('error', reject);
      const c = new RawConnection(s);
      open.add(c);
      void c.closed.then(() => open.delete(c));
      resolve(c);
    });
  });
}

/** A raw connection over TLS (resolves once the TLS handshake is done). */
export function rawConnectTls(port: number, options: tls.ConnectionOptions, host = '127.0.0.1'): Promise<RawConnection> {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ host, port, ...options });
    s.once('error', reject);
    s.once('secureConnect', () => {
      s.off('error', reject);
      const c = new RawConnection(s);
      open.add(c);
      void c.closed.then(() => open.delete(c));
      resolve(c);
    });
  });
}

export interface HandshakeOptions {
  /** How to open the socket (default: rawConnect(port)), e.g. rawConnectTls. */
  connect?: () => Promise<RawConnection>;
  mechanism?: string;
  response?: Buffer;
  vhost?: string;
  frameMax?: number;
  channelMax?: number;
  heartbeat?: number;
  clientProperties?: RawTable;
}

export interface HandshakeResult {
  conn: RawConnection;
  serverProperties: RawTable;
  mechanisms: string;
  tune: { channelMax: number; frameMax: number; heartbeat: number };
}

export function plainResponse(user: string, pass: string): Buffer {
  return Buffer.from(`\0${user}\0${pass}`);
}

/** AMQPLAIN's response is a field table without its length prefix (RabbitMQ's rabbit_auth_mechanism_amqplain). */
export function amqplainResponse(user: string, pass: string): Buffer {
  return encodeTable({ LOGIN: user, PASSWORD: pass }).subarray(4);
}

/** Header, start/start-ok, tune/tune-ok; then connection.open unless `vhost` is null. */
export async function rawHandshake(port: number, opts: HandshakeOptions = {}, doOpen = true): Promise<HandshakeResult> {
  const conn = await (opts.connect ?? (() => rawConnect(port)))();
  conn.send(PROTOCOL_HEADER);
  const start = await conn.expectMethod(10, 10);
  const r = new Reader(start.payload);
  r.pos = 4;
  r.octet(); r.octet();
  const serverProperties = r.table();
  const mechanisms = r.longstrBytes().toString();
  conn.send(methodFrame(0, 10, 11, [
    table(opts.clientProperties ?? { product: 'warren-raw-test', capabilities: { authentication_failure_close: true } }),
    shortstr(opts.mechanism ?? 'PLAIN'),
    longstr(opts.response ?? plainResponse('guest', 'guest')),
    shortstr('en_US'),
  ]));
  const tuneF = await conn.expectMethod(10, 30);
  const tr = new Reader(tuneF.payload);
  tr.pos = 4;
  const tune = { channelMax: tr.short(), frameMax: tr.long(), heartbeat: tr.short() };
  conn.send(methodFrame(0, 10, 31, [
    short(opts.channelMax ?? tune.channelMax),
    long(opts.frameMax ?? tune.frameMax),
    short(opts.heartbeat ?? 0),
  ]));
  if (doOpen) {
    conn.send(methodFrame(0, 10, 40, [shortstr(opts.vhost ?? '/'), shortstr(''), bits(false)]));
    await conn.expectMethod(10, 41);
  }
  return { conn, serverProperties, mechanisms, tune };
}

/** channel.open on `ch`, waiting for open-ok. */
export async function rawOpenChannel(conn: RawConnection, ch: number): Promise<void> {
  conn.send(methodFrame(ch, 20, 10, [shortstr('')]));
  await conn.expectMethod(20, 11);
}

/** basic.publish (exchange, routing key) + header + body frames on `ch`, bodies cut to fit frameMax. */
export function rawPublish(ch: number, exchange: string, routingKey: string, body: Buffer, frameMax = 131072): Buffer {
  const parts = [
    methodFrame(ch, 60, 40, [short(0), shortstr(exchange), shortstr(routingKey), bits(false, false)]),
    headerFrame(ch, 60, body.length),
  ];
  for (let i = 0; i < body.length; i += frameMax - 8) parts.push(bodyFrame(ch, body.subarray(i, i + frameMax - 8)));
  return Buffer.concat(parts);
}

export function closeAllRaw(): void {
  for (const c of open) c.destroy();
  open.clear();
}
