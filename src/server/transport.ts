/**
 * The socket of one client from accept to close, shared by the handshake and the open connection:
 * the protocol header, the frame reader and writer, per-turn batched flushes with write
 * backpressure, reading on/off, and the connection-level close sequencing, which is the same before
 * and after connection.open:
 *
 * - We close (an error, a shutdown): connection.close is sent and only close-ok (or a crossing
 *   close) is read; the socket goes once close-ok arrives or after CLOSE_OK_TIMEOUT_MS.
 * - The client closes: close-ok is sent and the socket is left for the client to close, as
 *   RabbitMQ does (rabbit_reader's `closed` state), so the client's reader sees the orderly end it
 *   asked for; a further connection.close (a client closing from several threads at once) gets
 *   close-ok again, anything else is ignored; after PEER_CLOSE_TIMEOUT_MS the socket is destroyed.
 *
 * The frames of an open transport go to its owner (the Handshake, then the Connection it builds).
 * Fair reading (issue 10): after a chunk of at least YIELD_BYTES (libuv reads up to 32 of them in
 * a row from one readable socket) the socket is paused until the next turn of the event loop
 * (setImmediate), so every other socket's input — consumers' acks among it — is read in between.
 * Node keeps what arrives meanwhile in order; nothing is dropped or reordered.
 *
 * Invariants: the socket is never written after it is destroyed; owner.onClosed runs once; no
 * frame is handed to the owner once a close has started; the socket reads only while the owner
 * wants it to (`setReading`) and no yield is pending.
 */
import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import type { AmqpError } from '../core/amqp-error.js';
import { FrameReader, type FrameSink } from '../protocol/frame-reader.js';
import { FrameWriter } from '../protocol/frame-writer.js';
import { CLASS_CONNECTION, CONNECTION_CLOSE, CONNECTION_CLOSE_OK, FRAME_METHOD, FRAME_MIN_SIZE } from '../protocol/generated/constants.js';
import * as M from '../protocol/generated/methods.js';
import { PROTOCOL_HEADER, checkProtocolHeader } from '../protocol/protocol-header.js';
import type { Session } from './connection.js';
import type { OutboundFlusher } from './outbound-flusher.js';

/** How long we wait for close-ok after sending connection.close. */
const CLOSE_OK_TIMEOUT_MS = 3000;
/** How long the socket stays open after our close-ok for the client to close it (RabbitMQ: 30 s at most). */
const PEER_CLOSE_TIMEOUT_MS = 30_000;

export interface TransportOwner {
  /** The protocol header was accepted: the handshake starts. */
  onProtocolHeader?(): void;
  /** A frame, while the transport is open. Exceptions go to onError. */
  onFrame(type: number, channel: number, payload: Buffer, start: number, end: number): void;
  /** An exception from reading (framing: about no method) or from onFrame. */
  onError(channel: number, err: unknown, aboutMethod: boolean): void;
  /** Just before pending frames are written (publisher confirms are written here). */
  beforeFlush?(): void;
  /** The socket accepts writes again after a full buffer. */
  onWritable?(): void;
  /** The socket is gone (or going): release everything. Called once. */
  onClosed(): void;
  /** Server shutdown (see Session.forceClose). */
  forceClose(reason: string): void;
}

export interface TransportContext {
  readonly flusher: OutboundFlusher;
  /** The listener's sockets: a transport is in it from accept until its socket is closed. */
  readonly sessions: Set<Session>;
  readonly logger: Logger;
  /** Pending outbound bytes above which deliveries pause until flushed. */
  readonly outboundHighWater: number;
}

type State = 'header' | 'open' | 'closing' | 'ending' | 'closed';

const EMPTY = Buffer.alloc(0);

/** A read at least this big ends the socket's turn: more is likely waiting, and others come first. */
const YIELD_BYTES = 16 * 1024;

export class Transport implements FrameSink, Session {
  readonly writer = new FrameWriter(64 * 1024);
  // Large body frames that span socket reads are copied once, straight into the message body.
  readonly reader = new FrameReader(FRAME_MIN_SIZE, { bodyParts: true });
  readonly remote: string;
  /** Bytes arrived since the last heartbeat tick / written since the last tick. */
  receivedSinceTick = true;
  sentSinceTick = false;
  private state: State = 'header';
  private headerBytes: Buffer | undefined;
  private dirty = false;
  private writable = true;
  private reading = true;
  /** Paused until the next loop turn after a big read (see the header). */
  private yielding = false;
  /** Whether the socket was last told to read (resume) or not (pause). */
  private socketReading = true;
  private readonly endYield = (): void => {
    this.yielding = false;
    this.applyReading();
  };
  private closeTimer: NodeJS.Timeout | undefined;
  private tornDown = false;
  private released = false;

  constructor(private readonly socket: Socket, private readonly ctx: TransportContext, public owner: TransportOwner) {
    this.remote = `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`;
    this.writer.frameMax = FRAME_MIN_SIZE;
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('drain', () => {
      this.writable = true;
      this.owner.onWritable?.();
    });
    socket.on('error', (err) => {
      this.ctx.logger.debug({ err, remote: this.remote }, 'socket error');
      this.teardown();
    });
    socket.on('close', () => this.teardown());
    ctx.sessions.add(this);
  }

  get remoteAddress(): string | undefined {
    return this.socket.remoteAddress;
  }

  /** Socket facts for the management API's connection snapshots (read off the hot path). */
  socketFacts(): { localAddress: string; localPort: number; remoteAddress: string; remotePort: number; bytesRead: number; bytesWritten: number } {
    const s = this.socket;
    return {
      localAddress: s.localAddress ?? '', localPort: s.localPort ?? 0, remoteAddress: s.remoteAddress ?? '',
      remotePort: s.remotePort ?? 0, bytesRead: s.bytesRead, bytesWritten: s.bytesWritten,
    };
  }

  get isClosed(): boolean {
    return this.state === 'closed';
  }

  // ------------------------------------------------------------------------------------------
  // Input

  private onData(chunk: Buffer): void {
    this.receivedSinceTick = true;
    if (this.state === 'closed') return;
    try {
      if (this.state === 'header') {
        chunk = this.readProtocolHeader(chunk);
        if (chunk.length === 0) return;
      }
      this.reader.push(chunk, this);
      if (chunk.length >= YIELD_BYTES && !this.yielding) {
        this.yielding = true;
        this.applyReading();
        setImmediate(this.endYield);
      }
    } catch (e: unknown) {
      // Errors thrown by the frame reader itself (framing) are connection errors, about no method.
      this.owner.onError(0, e, false);
    }
  }

  private readProtocolHeader(chunk: Buffer): Buffer {
    const have = this.headerBytes === undefined ? chunk : Buffer.concat([this.headerBytes, chunk]);
    const verdict = checkProtocolHeader(have);
    if (verdict === 'incomplete') {
      this.headerBytes = have;
      return EMPTY;
    }
    if (verdict === 'wrong') {
      // Spec 4.2.2: answer with the header we support and close.
      this.socket.end(PROTOCOL_HEADER);
      this.state = 'closed';
      return EMPTY;
    }
    this.headerBytes = undefined;
    this.state = 'open';
    this.owner.onProtocolHeader?.();
    return have.subarray(8);
  }

  onFrame(type: number, channel: number, payload: Buffer, start: number, end: number): void {
    if (this.state === 'open') {
      try {
        this.owner.onFrame(type, channel, payload, start, end);
      } catch (e: unknown) {
        this.owner.onError(channel, e, true);
      }
      return;
    }
    if (channel !== 0 || type !== FRAME_METHOD || this.state === 'closed' || end - start < 4) return;
    // Closing or ending: only connection.close and close-ok count (RabbitMQ's closing states).
    const classMethod = payload.readUInt32BE(start);
    if (classMethod === CLOSE_OK && this.state === 'closing') {
      this.destroy();
    } else if (classMethod === CLOSE) {
      M.writeConnectionCloseOk(this.writer, 0);
      this.flush();
      if (this.state === 'closing') this.destroy();
    }
  }

  // ------------------------------------------------------------------------------------------
  // Closing

  /** Send connection.close for `err`, then read only close-ok (the caller released its work first). */
  sendClose(err: AmqpError): void {
    if (this.state === 'closing' || this.state === 'ending' || this.state === 'closed') return;
    this.state = 'closing';
    M.writeConnectionClose(this.writer, 0, err.code, err.text, Math.max(0, err.classId), Math.max(0, err.methodId));
    this.flush();
    this.closeTimer = setTimeout(() => this.destroy(), CLOSE_OK_TIMEOUT_MS);
  }

  /** The client's connection.close: answer close-ok and leave the socket for the client to close. */
  closeOk(): void {
    if (this.state !== 'open') return;
    this.state = 'ending';
    M.writeConnectionCloseOk(this.writer, 0);
    this.flush();
    this.releaseOwner();
    this.closeTimer = setTimeout(() => this.destroy(), PEER_CLOSE_TIMEOUT_MS);
    this.closeTimer.unref();
  }

  /** Server shutdown: the owner closes an open transport its way; a closing one just goes. */
  forceClose(reason: string): void {
    if (this.state === 'open') this.owner.forceClose(reason);
    else this.destroy();
  }

  /** Flush what is pending, half-close, and release everything; the socket is destroyed if the peer lingers. */
  destroy(): void {
    if (!this.socket.destroyed && !this.socket.writableEnded) {
      try { this.flush(); } catch { /* the socket is going away */ }
      this.socket.end();
      const s = this.socket;
      setTimeout(() => s.destroy(), 1000).unref();
    }
    this.teardown();
  }

  private teardown(): void {
    if (this.tornDown) return;
    this.tornDown = true;
    this.state = 'closed';
    this.ctx.sessions.delete(this);
    if (this.closeTimer !== undefined) clearTimeout(this.closeTimer);
    this.closeTimer = undefined;
    this.releaseOwner();
    if (!this.socket.destroyed && !this.socket.writableEnded) this.socket.destroy();
  }

  private releaseOwner(): void {
    if (this.released) return;
    this.released = true;
    this.owner.onClosed();
  }

  // ------------------------------------------------------------------------------------------
  // Output

  /** Frames were written: flush them at the end of this turn (once per turn, whatever the count). */
  markDirty(): void {
    if (!this.dirty) {
      this.dirty = true;
      this.ctx.flusher.add(this);
    }
  }

  /** Whether deliveries may add more outbound bytes now. */
  canWrite(): boolean {
    return this.writable && this.writer.length < this.ctx.outboundHighWater;
  }

  flush(): void {
    this.dirty = false;
    this.owner.beforeFlush?.();
    if (this.writer.length === 0 || this.socket.destroyed) return;
    const wasFull = this.writer.length >= this.ctx.outboundHighWater;
    this.socket.cork();
    const ok = this.writer.flushTo(this.socket);
    this.socket.uncork();
    this.sentSinceTick = true;
    if (!ok) this.writable = false;
    else if (wasFull) setImmediate(() => this.owner.onWritable?.());
  }

  /** Read the socket or not (TCP back-pressure on the client). */
  setReading(on: boolean): void {
    if (on === this.reading) return;
    this.reading = on;
    this.applyReading();
  }

  private applyReading(): void {
    const on = this.reading && !this.yielding;
    if (on === this.socketReading || this.socket.destroyed) return;
    this.socketReading = on;
    if (on) this.socket.resume();
    else this.socket.pause();
  }
}

const CLOSE = (CLASS_CONNECTION << 16) | CONNECTION_CLOSE;
const CLOSE_OK = (CLASS_CONNECTION << 16) | CONNECTION_CLOSE_OK;
