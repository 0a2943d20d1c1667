/**
 * Definitions across a restart, graceful (SIGTERM) and crash (kill -9), per issue 3 and RabbitMQ's
 * documented rules: durable exchanges (every type, with alternate-exchange, internal), durable
 * queues (with x-arguments) and bindings whose both ends are durable (queue and exchange-to-exchange,
 * with arguments, headers bindings) come back; transient exchanges and queues do not ("transient
 * queues will be deleted on node boot"); exclusive queues never do; a durable auto-delete queue is a
 * durable queue: it comes back, and is deleted only once a consumer has come and gone (RabbitMQ
 * docs, Temporary Queues: "If a queue never had any consumers ... it won't be automatically
 * deleted"); a binding with a transient end does not survive; unbind/delete before the restart stick.
 * Vhosts: only "/" exists in Warren today (no way to declare another over AMQP), so there is no
 * vhost case yet.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import amqp from 'amqplib';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Channel, ChannelModel } from 'amqplib';
import { killAllBrokers } from './helpers/broker-process.js';
import { getAll, ids, makeBody, publishConfirmed, replyCodeOf } from './helpers/amqp-session.js';
import { Harness, RESTART_MODES } from './helpers/harness.js';

const NOT_FOUND = 404;
const PRECONDITION_FAILED = 406;
const ACCESS_REFUSED = 403;

const HEADERS_ALL = { 'x-match': 'all', color: 'red', size: 'big' };
const HEADERS_ANY = { 'x-match': 'any', color: 'blue', shape: 'round' };
const QUEUE_ARGS = { 'x-max-length': 2, 'x-message-ttl': 600_000, 'x-dead-letter-exchange': 'd.fanout', 'x-dead-letter-routing-key': 'dl' };

/** Everything the restart must keep or drop, declared on the first broker. */
async function declareAll(ch: Channel, exclusiveConn: ChannelModel): Promise<void> {
  await ch.assertExchange('d.direct', 'direct', { durable: true });
  await ch.assertExchange('d.fanout', 'fanout', { durable: true });
  await ch.assertExchange('d.topic', 'topic', { durable: true });
  await ch.assertExchange('d.headers', 'headers', { durable: true });
  await ch.assertExchange('d.ae', 'fanout', { durable: true });
  await ch.assertExchange('d.with-ae', 'direct', { durable: true, alternateExchange: 'd.ae' });
  await ch.assertExchange('d.internal', 'topic', { durable: true, internal: true });
  await ch.assertExchange('d.e2e-src', 'topic', { durable: true });
  await ch.assertExchange('d.e2e-dst', 'fanout', { durable: true });
  await ch.assertExchange('d.deleted', 'direct', { durable: true });
  await ch.assertExchange('t.direct', 'direct', { durable: false });

  for (const q of ['q.direct', 'q.fanout1', 'q.fanout2', 'q.topic', 'q.headers-all', 'q.headers-any', 'q.ae', 'q.e2e',
    'q.amq', 'q.deleted']) {
    await ch.assertQueue(q, { durable: true });
  }
  await ch.assertQueue('q.args', { durable: true, arguments: QUEUE_ARGS });
  await ch.assertQueue('q.transient', { durable: false });
  await ch.assertQueue('q.autodel', { durable: true, autoDelete: true });
  const exclusiveCh = await exclusiveConn.createChannel();
  exclusiveCh.on('error', () => undefined);
  await exclusiveCh.assertQueue('q.exclusive', { durable: true, exclusive: true });

  await ch.bindQueue('q.direct', 'd.direct', 'k1');
  await ch.bindQueue('q.direct', 'd.direct', 'gone'); // unbound below: must not come back
  await ch.unbindQueue('q.direct', 'd.direct', 'gone');
  await ch.bindQueue('q.fanout1', 'd.fanout', '');
  await ch.bindQueue('q.fanout2', 'd.fanout', '');
  await ch.bindQueue('q.topic', 'd.topic', 'a.#.z');
  await ch.bindQueue('q.topic', 'd.topic', '*.b');
  await ch.bindQueue('q.headers-all', 'd.headers', '', HEADERS_ALL);
  await ch.bindQueue('q.headers-any', 'd.headers', '', HEADERS_ANY);
  await ch.bindQueue('q.ae', 'd.ae', '');
  await ch.bindExchange('d.e2e-dst', 'd.e2e-src', 'a.*');
  await ch.bindQueue('q.e2e', 'd.e2e-dst', '');
  await ch.bindQueue('q.amq', 'amq.topic', 'warren.#');
  await ch.bindQueue('q.args', 'd.direct', 'args');
  // Bindings with a transient end: not durable.
  await ch.bindQueue('q.direct', 't.direct', 'x');
  await ch.bindQueue('q.transient', 'd.fanout', '');
  // Declared then deleted: must stay deleted.
  await ch.bindQueue('q.deleted', 'd.deleted', 'k');
  await ch.deleteQueue('q.deleted');
  await ch.deleteExchange('d.deleted');
}

/** Publish one (transient) message per route, then report which ids each queue received. */
async function route(h: Harness, sends: Array<[exchange: string, key: string, headers?: Record<string, string>]>,
  queues: readonly string[]): Promise<Record<string, string[]>> {
  const ch = await h.session.confirmChannel();
  for (const [i, [x, key, headers]] of sends.entries()) {
    await publishConfirmed(ch, x, key, [makeBody('route', i)], headers === undefined ? {} : { headers });
  }
  const got: Record<string, string[]> = {};
  for (const q of queues) got[q] = ids(await getAll(ch, q, 'ack'));
  await ch.close();
  return got;
}

describe.each(RESTART_MODES)('definitions after a %s restart', (mode) => {
  const h = new Harness();
  let ch: Channel;
  /** A fresh channel (a failed probe closes its channel). */
  const probe = async (fn: (c: Channel) => Promise<unknown>): Promise<number | string | undefined> => {
    const c = await h.session.channel();
    return replyCodeOf(() => fn(c));
  };

  beforeAll(async () => {
    await h.start();
    const conn = await h.session.connect();
    const exclusiveConn = await h.session.connect(); // stays open until the restart
    await declareAll(await h.session.channel(conn), exclusiveConn);
    // Before a kill -9, let the definitions reach the disk first (a confirmed persistent publish waits
    // for the definitions save). That declare-ok itself means "saved" is checked separately below.
    if (mode === 'SIGKILL') await h.syncBarrier();
    await h.restart(mode);
  }, 60_000);

  beforeEach(async () => {
    ch = await h.session.channel(); // one per test: a failed check closes its channel
  });

  afterAll(async () => {
    await h.cleanup();
    await killAllBrokers();
  });

  it('durable exchanges of every type come back with their type and flags', async () => {
    const types: Array<[string, string]> = [['d.direct', 'direct'], ['d.fanout', 'fanout'], ['d.topic', 'topic'],
      ['d.headers', 'headers'], ['d.e2e-src', 'topic'], ['d.e2e-dst', 'fanout']];
    for (const [name, type] of types) {
      await ch.checkExchange(name);
      await ch.assertExchange(name, type, { durable: true }); // equivalent redeclare is ok
      const other = type === 'fanout' ? 'direct' : 'fanout';
      expect(await probe((c) => c.assertExchange(name, other, { durable: true })), `${name} type`).toBe(PRECONDITION_FAILED);
      expect(await probe((c) => c.assertExchange(name, type, { durable: false })), `${name} durable`).toBe(PRECONDITION_FAILED);
    }
  });

  it('the alternate-exchange argument survives: unroutable messages still reach it', async () => {
    await ch.assertExchange('d.with-ae', 'direct', { durable: true, alternateExchange: 'd.ae' });
    expect(await probe((c) => c.assertExchange('d.with-ae', 'direct', { durable: true, alternateExchange: 'other' })))
      .toBe(PRECONDITION_FAILED);
    const got = await route(h, [['d.with-ae', 'nobody-binds-this']], ['q.ae']);
    expect(got['q.ae']).toEqual(['route#0']);
  });

  it('an internal exchange stays internal', async () => {
    await ch.checkExchange('d.internal');
    expect(await probe((c) => c.assertExchange('d.internal', 'topic', { durable: true, internal: false }))).toBe(PRECONDITION_FAILED);
    const pub = await h.session.channel();
    pub.publish('d.internal', 'x', makeBody('internal', 0));
    expect(await replyCodeOf(() => pub.checkQueue('q.direct'))).toBe(ACCESS_REFUSED);
  });

  it('durable queues come back with their arguments', async () => {
    for (const q of ['q.direct', 'q.fanout1', 'q.fanout2', 'q.topic', 'q.headers-all', 'q.headers-any', 'q.ae', 'q.e2e', 'q.amq']) {
      expect((await ch.checkQueue(q)).queue).toBe(q);
    }
    await ch.assertQueue('q.args', { durable: true, arguments: QUEUE_ARGS });
    expect(await probe((c) => c.assertQueue('q.args', { durable: true, arguments: { ...QUEUE_ARGS, 'x-max-length': 3 } })))
      .toBe(PRECONDITION_FAILED);
    expect(await probe((c) => c.assertQueue('q.args', { durable: true }))).toBe(PRECONDITION_FAILED);
    expect(await probe((c) => c.assertQueue('q.direct', { durable: false }))).toBe(PRECONDITION_FAILED);
    // (The equivalence checks above prove the arguments were kept; Warren does not enforce
    // x-max-length/x-message-ttl yet, so their effect is not checked here.) Its binding works:
    const got = await route(h, [['d.direct', 'args']], ['q.args']);
    expect(got['q.args']).toEqual(['route#0']);
  });

  it('queue bindings come back: direct, fanout, topic patterns, headers all/any, amq.topic', async () => {
    const got = await route(h, [
      ['d.direct', 'k1'],
      ['d.direct', 'gone'], // unbound before the restart
      ['d.fanout', 'whatever'],
      ['d.topic', 'a.m.n.z'],
      ['d.topic', 'x.b'],
      ['d.topic', 'a.b.c'],
      ['d.headers', '', { color: 'red', size: 'big' }],
      ['d.headers', '', { color: 'red', size: 'small' }],
      ['d.headers', '', { shape: 'round' }],
      ['amq.topic', 'warren.one.two'],
    ], ['q.direct', 'q.fanout1', 'q.fanout2', 'q.topic', 'q.headers-all', 'q.headers-any', 'q.amq']);
    expect(got).toEqual({
      'q.direct': ['route#0'],
      'q.fanout1': ['route#2'],
      'q.fanout2': ['route#2'],
      'q.topic': ['route#3', 'route#4'],
      'q.headers-all': ['route#6'],
      'q.headers-any': ['route#8'],
      'q.amq': ['route#9'],
    });
  });

  it('exchange-to-exchange bindings come back', async () => {
    const got = await route(h, [['d.e2e-src', 'a.x'], ['d.e2e-src', 'b.x'], ['d.e2e-src', 'a.x.y']], ['q.e2e']);
    expect(got['q.e2e']).toEqual(['route#0']);
  });

  it('transient exchanges and queues are gone, and so are bindings with a transient end', async () => {
    expect(await probe((c) => c.checkExchange('t.direct'))).toBe(NOT_FOUND);
    expect(await probe((c) => c.checkQueue('q.transient'))).toBe(NOT_FOUND);
    // Declared anew, they start without the old bindings.
    await ch.assertExchange('t.direct', 'direct', { durable: false });
    await ch.assertQueue('q.transient', { durable: false });
    const got = await route(h, [['t.direct', 'x'], ['d.fanout', '']], ['q.direct', 'q.transient', 'q.fanout1']);
    expect(got).toEqual({ 'q.direct': [], 'q.transient': [], 'q.fanout1': ['route#1'] });
    await ch.deleteExchange('t.direct');
    await ch.deleteQueue('q.transient');
  });

  it('an exclusive queue never survives, even a durable one', async () => {
    expect(await probe((c) => c.checkQueue('q.exclusive'))).toBe(NOT_FOUND);
  });

  it('a durable auto-delete queue survives (it never had a consumer) and is deleted once a consumer comes and goes', async () => {
    expect((await ch.checkQueue('q.autodel')).queue).toBe('q.autodel');
    const c = await h.session.channel();
    const { consumerTag } = await c.consume('q.autodel', () => undefined);
    await c.cancel(consumerTag);
    expect(await probe((p) => p.checkQueue('q.autodel'))).toBe(NOT_FOUND);
  });

  it('what was unbound or deleted before the restart stays so', async () => {
    expect(await probe((c) => c.checkQueue('q.deleted'))).toBe(NOT_FOUND);
    expect(await probe((c) => c.checkExchange('d.deleted'))).toBe(NOT_FOUND);
    // The unbound 'gone' binding is checked in the bindings test.
  });

  it('a vhost and a durable queue from an imported definitions.json survive restarts', async () => {
    // Warren has no management API yet: vhosts come from <data-dir>/store/definitions.json, in
    // RabbitMQ's export format (README). Start once on a fresh directory seeded with such a file.
    const seeded = new Harness();
    const dir = await mkdtemp(join(tmpdir(), 'warren-vhost-'));
    try {
      await mkdir(join(dir, 'store'), { recursive: true });
      await writeFile(join(dir, 'store', 'definitions.json'), JSON.stringify({
        rabbit_version: '3.10.8', users: [], vhosts: [{ name: '/' }, { name: 'other' }], policies: [],
        // guest (the default user, kept under an imported file) may use 'other': permissions are enforced.
        permissions: [{ user: 'guest', vhost: 'other', configure: '.*', write: '.*', read: '.*' }],
        queues: [{ name: 'in-other', vhost: 'other', durable: true, auto_delete: false, arguments: { 'x-max-length': 10 } }],
        exchanges: [], bindings: [],
      }));
      for (const mode of [undefined, ...RESTART_MODES]) {
        if (mode === undefined) await seeded.start({ dataDir: dir });
        else await seeded.restart(mode);
        const conn = await amqp.connect(`${seeded.broker.url}/other`);
        try {
          const ch = await conn.createChannel();
          expect((await ch.checkQueue('in-other')).queue).toBe('in-other');
          await ch.close();
        } finally {
          await conn.close();
        }
      }
    } finally {
      await seeded.cleanup();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('declarations are durable when their -ok is sent (RabbitMQ commits them before replying)', () => {
  const h = new Harness();
  afterAll(async () => {
    await h.cleanup();
    await killAllBrokers();
  });

  it('kill -9 right after declare-ok / bind-ok / delete-ok keeps what they reported', async () => {
    await h.start();
    const ch = await h.session.channel();
    await ch.assertQueue('k.gone', { durable: true });
    await ch.assertExchange('k.x', 'topic', { durable: true });
    await ch.assertQueue('k.q', { durable: true, arguments: { 'x-max-length': 7 } });
    await ch.bindQueue('k.q', 'k.x', 'k.#');
    await ch.deleteQueue('k.gone');
    await h.restart('SIGKILL'); // no barrier: the replies above are all the client knows
    const c = await h.session.channel();
    await c.checkExchange('k.x');
    await c.assertQueue('k.q', { durable: true, arguments: { 'x-max-length': 7 } });
    const pub = await h.session.confirmChannel();
    await publishConfirmed(pub, 'k.x', 'k.1', [makeBody('k', 0)]);
    expect(ids(await getAll(c, 'k.q', 'ack'))).toEqual(['k#0']);
    expect(await replyCodeOf(() => c.checkQueue('k.gone'))).toBe(NOT_FOUND);
  });
});
