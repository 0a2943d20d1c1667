/**
 * Runs AMQP operations one per channel and records what the broker answered, so the same script
 * can be compared between Warren and the reference: `ok` (with a normalised detail), or the
 * channel/connection close (code, class/method, text). Server-generated names (amq.gen-..., consumer
 * tags) are normalised away.
 */
import amqp, { type Channel, type ChannelModel, type Options } from 'amqplib';

export type Outcome = string;

interface AmqpLibError extends Error {
  code?: number;
  classId?: number;
  methodId?: number;
}

/** "403 (60/40) ACCESS_REFUSED - access to ..." from an amqplib channel or connection error. */
export function describeError(e: unknown): string {
  const err = e as AmqpLibError;
  const text = /with message "(.*)"$/s.exec(err.message)?.[1] ?? err.message;
  return `${err.code ?? '?'} (${err.classId ?? '?'}/${err.methodId ?? '?'}) ${text}`;
}

export function normalise(s: string): string {
  return s.replace(/amq\.gen-[A-Za-z0-9_-]{22}/g, 'amq.gen-*').replace(/amq\.ctag-[A-Za-z0-9_-]{22}/g, 'amq.ctag-*');
}

export class OpRunner {
  private constructor(readonly conn: ChannelModel) {
    conn.on('error', () => undefined);
  }

  static async connect(port: number, user: string, password: string, vhost: string): Promise<OpRunner> {
    const conn = await amqp.connect({ hostname: '127.0.0.1', port, username: user, password, vhost });
    return new OpRunner(conn);
  }

  /** Run `op` on a fresh channel; 'ok' or 'ok <detail>' when it worked, else the close. */
  async run(op: (ch: Channel) => Promise<unknown>): Promise<Outcome> {
    let ch: Channel;
    try {
      ch = await this.conn.createChannel();
    } catch (e: unknown) {
      return `channel.open failed: ${describeError(e)}`;
    }
    ch.on('error', () => undefined);
    try {
      const detail = await op(ch);
      // A round trip on the same channel: a refused publish (no reply of its own) shows up here.
      await ch.checkExchange('amq.direct');
      await ch.close().catch(() => undefined);
      return normalise(detail === undefined ? 'ok' : `ok ${String(detail)}`);
    } catch (e: unknown) {
      return normalise(describeError(e));
    }
  }

  async close(): Promise<void> {
    await this.conn.close().catch(() => undefined);
  }
}

/** One named operation of the permission matrix. */
export interface Op {
  name: string;
  run: (ch: Channel) => Promise<unknown>;
}

const declareOk = (r: { queue: string; messageCount: number; consumerCount: number }): string => `${r.queue} ${r.messageCount}/${r.consumerCount}`;

/** Every operation rabbit_channel checks permissions for, on names derived from `n` (unique per run). */
export function permissionOps(n: (base: string) => string): Op[] {
  const xArgs = (args: Options.AssertExchange['arguments']): Options.AssertExchange => ({ durable: false, arguments: args });
  return [
    { name: 'exchange.declare new', run: (ch) => ch.assertExchange(n('new-x'), 'direct', { durable: false }) },
    { name: 'exchange.declare mine-new', run: (ch) => ch.assertExchange(n('mine-new-x'), 'direct', { durable: false }) },
    { name: 'exchange.declare existing', run: (ch) => ch.assertExchange(n('x'), 'direct', { durable: false }) },
    { name: 'exchange.declare passive', run: (ch) => ch.checkExchange(n('x')) },
    { name: 'exchange.declare passive missing', run: (ch) => ch.checkExchange(n('nope-x')) },
    { name: 'exchange.declare alternate-exchange', run: (ch) => ch.assertExchange(n('with-ae'), 'fanout', xArgs({ 'alternate-exchange': n('ae') })) },
    { name: 'exchange.declare mine alternate-exchange', run: (ch) => ch.assertExchange(n('mine-with-ae'), 'fanout', xArgs({ 'alternate-exchange': n('ae') })) },
    { name: 'exchange.declare amq.*', run: (ch) => ch.assertExchange(`amq.${n('custom')}`, 'direct', { durable: false }) },
    { name: 'exchange.declare default', run: (ch) => ch.assertExchange('', 'direct', { durable: false }) },
    { name: 'queue.declare new', run: async (ch) => declareOk(await ch.assertQueue(n('new-q'), { durable: false })) },
    { name: 'queue.declare mine-new', run: async (ch) => declareOk(await ch.assertQueue(n('mine-new-q'), { durable: false })) },
    { name: 'queue.declare server-named', run: async (ch) => declareOk(await ch.assertQueue('', { exclusive: true })) },
    { name: 'queue.declare existing', run: async (ch) => declareOk(await ch.assertQueue(n('q'), { durable: false })) },
    { name: 'queue.declare passive', run: async (ch) => declareOk(await ch.checkQueue(n('q'))) },
    { name: 'queue.declare passive missing', run: async (ch) => declareOk(await ch.checkQueue(n('nope-q'))) },
    { name: 'queue.declare dead-letter-exchange', run: async (ch) => declareOk(await ch.assertQueue(n('with-dlx'), { durable: false, deadLetterExchange: n('dlx') })) },
    { name: 'queue.declare mine dead-letter-exchange', run: async (ch) => declareOk(await ch.assertQueue(n('mine-with-dlx'), { durable: false, deadLetterExchange: n('dlx') })) },
    { name: 'queue.declare amq.*', run: (ch) => ch.assertQueue(`amq.${n('q')}`, { durable: false }) },
    { name: 'queue.bind', run: (ch) => ch.bindQueue(n('q'), n('x'), 'rk') },
    { name: 'queue.bind mine', run: (ch) => ch.bindQueue(n('mine-q'), n('mine-x'), 'rk') },
    { name: 'queue.bind missing exchange', run: (ch) => ch.bindQueue(n('q'), n('nope-x'), 'rk') },
    { name: 'queue.bind missing queue', run: (ch) => ch.bindQueue(n('nope-q'), n('x'), 'rk') },
    { name: 'queue.bind default exchange', run: (ch) => ch.bindQueue(n('q'), '', 'rk') },
    { name: 'queue.unbind', run: (ch) => ch.unbindQueue(n('q'), n('x'), 'rk') },
    { name: 'exchange.bind', run: (ch) => ch.bindExchange(n('x'), n('t'), 'a.b') },
    { name: 'exchange.bind mine', run: (ch) => ch.bindExchange(n('mine-x'), n('t'), 'a.b') },
    { name: 'exchange.unbind', run: (ch) => ch.unbindExchange(n('x'), n('t'), 'a.b') },
    { name: 'basic.publish', run: async (ch) => { ch.publish(n('x'), 'rk', Buffer.from('m')); } },
    { name: 'basic.publish default exchange', run: async (ch) => { ch.publish('', n('q'), Buffer.from('m')); } },
    { name: 'basic.publish mine', run: async (ch) => { ch.publish(n('mine-x'), 'rk', Buffer.from('m')); } },
    { name: 'basic.publish missing exchange', run: async (ch) => { ch.publish(n('nope-x'), 'rk', Buffer.from('m')); } },
    { name: 'basic.publish internal exchange', run: async (ch) => { ch.publish(n('int'), 'rk', Buffer.from('m')); } },
    { name: 'basic.get', run: async (ch) => { const m = await ch.get(n('q'), { noAck: false }); return m === false ? 'empty' : 'message'; } },
    { name: 'basic.get mine', run: async (ch) => { const m = await ch.get(n('mine-q'), { noAck: false }); return m === false ? 'empty' : 'message'; } },
    { name: 'basic.get missing', run: (ch) => ch.get(n('nope-q')) },
    { name: 'basic.consume', run: async (ch) => { await ch.consume(n('q'), () => undefined, { noAck: false }); } },
    { name: 'queue.purge', run: async (ch) => (await ch.purgeQueue(n('q'))).messageCount },
    { name: 'queue.purge missing', run: async (ch) => (await ch.purgeQueue(n('nope-q'))).messageCount },
    { name: 'queue.delete missing', run: async (ch) => (await ch.deleteQueue(n('nope-q'))).messageCount },
    { name: 'queue.delete new', run: async (ch) => (await ch.deleteQueue(n('new-q'))).messageCount },
    { name: 'queue.delete mine-new', run: async (ch) => (await ch.deleteQueue(n('mine-new-q'))).messageCount },
    { name: 'exchange.delete new', run: (ch) => ch.deleteExchange(n('new-x')) },
    { name: 'exchange.delete missing', run: (ch) => ch.deleteExchange(n('nope-x')) },
    { name: 'exchange.delete amq.direct', run: (ch) => ch.deleteExchange('amq.direct') },
    { name: 'queue.delete', run: async (ch) => (await ch.deleteQueue(n('q'))).messageCount },
    { name: 'exchange.delete', run: (ch) => ch.deleteExchange(n('x')) },
  ];
}

/**
 * The topology the permission matrix works on, made (again) with an unrestricted connection before
 * each user's run: exchanges x, mine-x, ae, dlx (direct), t (topic), int (internal), queues q and
 * mine-q holding one message each; what a previous run created is deleted.
 */
export async function resetTopology(ch: Channel, n: (base: string) => string): Promise<void> {
  for (const q of ['new-q', 'mine-new-q', 'with-dlx', 'mine-with-dlx']) await ch.deleteQueue(n(q));
  for (const x of ['new-x', 'mine-new-x', 'with-ae', 'mine-with-ae']) await ch.deleteExchange(n(x));
  for (const x of ['x', 'mine-x', 'ae', 'dlx']) await ch.assertExchange(n(x), 'direct', { durable: false });
  await ch.assertExchange(n('t'), 'topic', { durable: false });
  await ch.assertExchange(n('int'), 'direct', { durable: false, internal: true });
  for (const q of ['q', 'mine-q']) {
    await ch.assertQueue(n(q), { durable: false });
    await ch.purgeQueue(n(q));
    ch.sendToQueue(n(q), Buffer.from('one'));
  }
  await ch.unbindQueue(n('q'), n('x'), 'rk');
  await ch.unbindExchange(n('x'), n('t'), 'a.b');
  await ch.checkQueue(n('q'));
}
