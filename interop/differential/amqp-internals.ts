/**
 * Typed access to the few amqplib internals the differential harness needs: its generated
 * defs (method ids and the method encoder), the generic channel RPC (for tx.*, channel.flow,
 * basic.recover with requeue=false, basic.qos with prefetch_size — none of which amqplib's public API
 * exposes), and a frame tap on the connection so every server-sent close (with class and method id,
 * which amqplib drops from connection errors) reaches the trace.
 * Invariant: nothing here changes amqplib's behaviour; the tap only observes decoded frames.
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { Channel, ChannelModel } from 'amqplib';

export interface DecodedFrame {
  readonly channel: number;
  /** Method or properties id; undefined for body frames. */
  readonly id?: number;
  readonly fields?: Record<string, unknown>;
}

interface AmqplibDefs {
  readonly [name: string]: unknown;
  encodeMethod(id: number, channel: number, fields: Record<string, unknown>): Buffer;
  info(id: number): { name: string; classId: number; methodId: number };
}

const require = createRequire(import.meta.url);
const amqplibMain = require.resolve('amqplib');
/** amqplib's generated protocol definitions (not in its package exports, so loaded by path). */
export const defs = require(join(dirname(amqplibMain), 'lib', 'defs.js')) as AmqplibDefs;

/** The numeric id of an AMQP method by amqplib's name for it (e.g. 'TxSelect'). */
export function methodId(name: string): number {
  const id = defs[name];
  if (typeof id !== 'number') throw new Error(`amqplib defs has no method ${name}`);
  return id;
}

/** The amqplib name of a method id, e.g. 'QueueDeclare'. */
export function methodName(id: number): string {
  return defs.info(id).name;
}

interface RawChannel {
  readonly ch: number;
  rpc(method: number, fields: Record<string, unknown>, expect: number): Promise<Record<string, unknown>>;
  sendImmediately(method: number, fields: Record<string, unknown>): boolean;
}

interface RawConnection {
  recvFrame(): DecodedFrame | false;
  sendBytes(bytes: Buffer): void;
  frameMax: number;
}

function raw(ch: Channel): RawChannel {
  return ch as unknown as RawChannel;
}

function rawConnection(model: ChannelModel): RawConnection {
  return model.connection as unknown as RawConnection;
}

/** The AMQP channel number amqplib allocated for this channel. */
export function channelNumber(ch: Channel): number {
  return raw(ch).ch;
}

/** A synchronous method on the channel; resolves with the reply's fields or rejects with the close. */
export function rpc(ch: Channel, method: string, fields: Record<string, unknown>, expect: string): Promise<Record<string, unknown>> {
  return raw(ch).rpc(methodId(method), fields, methodId(expect));
}

/** Sends a method without waiting for any reply (basic.recover-async and friends). */
export function sendMethod(ch: Channel, method: string, fields: Record<string, unknown>): void {
  raw(ch).sendImmediately(methodId(method), fields);
}

/**
 * Writes a method frame straight to the socket on any channel number, even one amqplib never
 * opened (for "frame on a channel that is not open" scenarios).
 */
export function sendRawMethod(model: ChannelModel, channel: number, method: string, fields: Record<string, unknown>): void {
  rawConnection(model).sendBytes(defs.encodeMethod(methodId(method), channel, fields));
}

/** Writes arbitrary bytes to the connection's socket. */
export function sendRawBytes(model: ChannelModel, bytes: Buffer): void {
  rawConnection(model).sendBytes(bytes);
}

/** The negotiated frame_max of a connection. */
export function frameMax(model: ChannelModel): number {
  return rawConnection(model).frameMax;
}

/** Calls `observe` with every frame the server sends on this connection, before amqplib handles it. */
export function tapFrames(model: ChannelModel, observe: (frame: DecodedFrame) => void): void {
  const conn = rawConnection(model);
  const original = conn.recvFrame.bind(conn);
  // recvFrame calls itself (through the instance property) when it needs more bytes, so the same
  // frame object can pass through this wrapper more than once: observe each object once.
  const seen = new WeakSet<object>();
  conn.recvFrame = () => {
    const frame = original();
    if (frame !== false && typeof frame === 'object' && !seen.has(frame)) {
      seen.add(frame);
      observe(frame);
    }
    return frame;
  };
}

interface RawMessageConnection {
  sendMessage(channel: number, method: number, fields: Record<string, unknown>, properties: number, props: Record<string, unknown>, content: Buffer): boolean;
}

/**
 * basic.publish with every method field under the caller's control (amqplib always sends
 * immediate=false; RabbitMQ refuses immediate=true with 540 NOT_IMPLEMENTED).
 */
export function publishRaw(model: ChannelModel, ch: Channel, fields: { exchange: string; routingKey: string; mandatory: boolean; immediate: boolean }, content: Buffer): void {
  const conn = model.connection as unknown as RawMessageConnection;
  conn.sendMessage(channelNumber(ch), methodId('BasicPublish'), { ticket: 0, ...fields }, methodId('BasicProperties'), { headers: {} }, content);
}
