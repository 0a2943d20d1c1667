/**
 * Small building blocks shared by the scenario files: open a connection with one channel, publish
 * and wait for confirms (so later reads see the messages on every broker), and drain a queue into
 * one compact trace entry. None of these hardcode an expectation; they only record.
 */
import type { Channel, ChannelModel, ConfirmChannel, Options } from 'amqplib';
import type { ConfirmRecording, ScenarioContext } from '../scenario-context.js';

export interface Session {
  readonly conn: ChannelModel;
  readonly ch: Channel;
}

export interface ConfirmSession {
  readonly conn: ChannelModel;
  readonly ch: ConfirmChannel;
}

export async function open(ctx: ScenarioContext): Promise<Session> {
  const conn = await ctx.connect();
  const ch = await ctx.channel(conn);
  return { conn, ch };
}

export async function openConfirm(ctx: ScenarioContext, confirms: ConfirmRecording = 'ordered'): Promise<ConfirmSession> {
  const conn = await ctx.connect();
  const ch = await ctx.confirmChannel(conn, confirms);
  return { conn, ch };
}

/**
 * Publishes bodies on a fresh confirm channel of `conn` and waits for all confirms, so the messages
 * are enqueued before the scenario goes on. The confirms themselves land on that channel's stream.
 */
export async function publishConfirmed(
  ctx: ScenarioContext,
  conn: ChannelModel,
  exchange: string,
  routingKey: string,
  bodies: readonly string[],
  options: Options.Publish = {},
): Promise<void> {
  const ch = await ctx.confirmChannel(conn, 'summary');
  for (const b of bodies) ch.publish(exchange, routingKey, Buffer.from(b), options);
  await ctx.waitConfirms(ch, bodies.length);
  await ch.close();
}

/** Declares a transient (non-durable) queue with the given logical name and returns its real name. */
export async function declareQueue(ctx: ScenarioContext, ch: Channel, logical: string, options: Options.AssertQueue = {}): Promise<string> {
  const q = ctx.name(logical);
  await ch.assertQueue(q, { durable: false, ...options });
  return q;
}

/** Declares a transient exchange with the given logical name and returns its real name. */
export async function declareExchange(ctx: ScenarioContext, ch: Channel, logical: string, type: string, options: Options.AssertExchange = {}): Promise<string> {
  const x = ctx.name(logical);
  await ch.assertExchange(x, type, { durable: false, ...options });
  return x;
}

/**
 * Takes every ready message out of the queue with basic.get (acking them) and records the bodies
 * and redelivered flags in order as one entry.
 */
export async function drain(ctx: ScenarioContext, ch: Channel, queue: string, label = queue): Promise<string[]> {
  const bodies: string[] = [];
  const redelivered: boolean[] = [];
  for (let i = 0; i < 1000; i++) {
    const m = await ch.get(queue, { noAck: true });
    if (m === false) break;
    bodies.push(m.content.toString());
    redelivered.push(m.fields.redelivered);
  }
  ctx.record('queue contents', { queue: label, bodies, redelivered });
  return bodies;
}

/** Records the queue's ready-message and consumer counts from a passive declare. */
export async function counts(ctx: ScenarioContext, ch: Channel, queue: string, label = 'counts'): Promise<void> {
  await ctx.attempt(label, () => ch.checkQueue(queue), (ok) => ({ messageCount: ok.messageCount, consumerCount: ok.consumerCount }));
}

export function bodies(prefix: string, n: number): string[] {
  return Array.from({ length: n }, (_, i) => `${prefix}${i + 1}`);
}
