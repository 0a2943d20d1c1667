/**
 * What Warren's configuration changes for clients: the default user guest is refused from
 * non-loopback addresses unless configured otherwise (RabbitMQ's loopback_users), other users log in
 * with their own passwords, several vhosts keep their queues and exchanges apart, and the advertised
 * server-properties, tune values, handshake timeout, max message size and memory watermark follow the
 * config. These need a broker configured by the test, so they cannot run against the shared reference
 * (skipped there).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { networkInterfaces } from 'node:os';
import amqp from 'amqplib';
import { startTestBroker, uniqueName, waitFor, type TestBroker } from '../../helpers/broker.js';
import { Clients, closedWith, expectCode } from '../helpers/clients.js';
import {
  PROTOCOL_HEADER, bits, longstr, methodFrame, plainResponse, rawConnect, rawHandshake, rawOpenChannel, rawPublish, short,
  shortstr, table,
} from '../helpers/raw-amqp.js';

const onReference = process.env['WARREN_TEST_TARGET'] === 'reference';
const warrenOnly = onReference ? describe.skip : describe;

/** A non-loopback IPv4 address of this machine, if any. */
function externalAddress(): string | undefined {
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  }
  return undefined;
}

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
});

async function ownBroker(options: Parameters<typeof startTestBroker>[0] = {}): Promise<{ broker: TestBroker; clients: Clients }> {
  const broker = await startTestBroker(options);
  cleanups.push(() => broker.close());
  const clients = new Clients(() => broker.url);
  cleanups.push(() => clients.closeAll());
  return { broker, clients };
}

/** Try a PLAIN login from `host`; returns the close reply code, or 0 when the login got to tune. */
async function loginFrom(host: string, port: number, user: string, pass: string): Promise<number> {
  const c = await rawConnect(port, host);
  try {
    c.send(PROTOCOL_HEADER);
    await c.expectMethod(10, 10);
    c.send(methodFrame(0, 10, 11, [
      table({ capabilities: { authentication_failure_close: true } }), shortstr('PLAIN'), longstr(plainResponse(user, pass)), shortstr('en_US'),
    ]));
    const f = await c.next();
    if (f?.classId === 10 && f.methodId === 30) return 0;
    if (f?.classId === 10 && f.methodId === 50) return f.payload.readUInt16BE(4);
    return -1;
  } finally {
    c.destroy();
  }
}

const external = externalAddress();

warrenOnly('loopback-only guest (skipped on the reference: needs its own broker)', () => {
  it.skipIf(external === undefined)('guest is refused with 403 from a non-loopback address, accepted from loopback', async () => {
    const { broker } = await ownBroker({ host: '0.0.0.0' });
    expect(await loginFrom(external!, broker.port, 'guest', 'guest')).toBe(403);
    expect(await loginFrom('127.0.0.1', broker.port, 'guest', 'guest')).toBe(0);
  });

  it.skipIf(external === undefined)('allowRemoteLoopbackUsers lets guest in from anywhere', async () => {
    const { broker } = await ownBroker({ host: '0.0.0.0', server: { allowRemoteLoopbackUsers: true } });
    expect(await loginFrom(external!, broker.port, 'guest', 'guest')).toBe(0);
  });

  it.skipIf(external === undefined)('another user may log in remotely', async () => {
    const { broker } = await ownBroker({ host: '0.0.0.0' });
    broker.warren!.broker.users.add('alice', 's3cret', []);
    expect(await loginFrom(external!, broker.port, 'alice', 's3cret')).toBe(0);
    expect(await loginFrom(external!, broker.port, 'alice', 'wrong')).toBe(403);
  });
});

warrenOnly('users and vhosts (skipped on the reference: needs its own broker)', () => {
  it('a configured default user replaces guest', async () => {
    const { broker } = await ownBroker({ broker: { defaultUser: { name: 'admin', password: 'pw' } } });
    const conn = await amqp.connect(`amqp://admin:pw@127.0.0.1:${broker.port}`);
    await conn.close();
    await expect(amqp.connect(`amqp://guest:guest@127.0.0.1:${broker.port}`)).rejects.toThrow(/ACCESS.REFUSED/);
  });

  it('vhosts keep their queues and exchanges apart', async () => {
    const { broker, clients } = await ownBroker();
    broker.warren!.broker.addVhost('tenant-a');
    broker.warren!.broker.permissions.set({ user: 'guest', vhost: 'tenant-a', configure: '.*', write: '.*', read: '.*' });
    const inA = await clients.connectWith({ vhost: 'tenant-a' });
    const inRoot = await clients.connect();
    const chA = await clients.channel(inA);
    const chRoot = await clients.channel(inRoot);
    await chA.assertQueue('shared-name', { durable: false });
    await chA.assertExchange('only-in-a', 'fanout', { durable: false });
    await expectCode(chRoot.checkQueue('shared-name'), 404);
    const chRoot2 = await clients.channel(inRoot);
    await expectCode(chRoot2.checkExchange('only-in-a'), 404);
    // The same name in "/" is a different queue.
    const chRoot3 = await clients.channel(inRoot);
    await chRoot3.assertQueue('shared-name', { durable: false });
    chRoot3.sendToQueue('shared-name', Buffer.from('root'));
    await chRoot3.checkQueue('shared-name');
    expect((await chA.checkQueue('shared-name')).messageCount).toBe(0);
    // amq.* exist in every vhost.
    await chA.checkExchange('amq.topic');
  });
});

warrenOnly('server configuration seen by clients (skipped on the reference: needs its own broker)', () => {
  it('product, version and cluster name in server-properties come from the config', async () => {
    const { broker, clients } = await ownBroker({ server: { product: 'RabbitMQ', version: '3.12.1', clusterName: 'c1@test' } });
    const c = await clients.connect();
    const sp = c.connection.serverProperties as unknown as Record<string, unknown>;
    expect([sp['product'], sp['version'], sp['cluster_name']]).toEqual(['RabbitMQ', '3.12.1', 'c1@test']);
    expect(broker.port).toBeGreaterThan(0);
  });

  it('connection.tune offers the configured channel_max, frame_max and heartbeat', async () => {
    const { broker } = await ownBroker({ server: { channelMax: 16, frameMax: 8192, heartbeat: 7 } });
    const h = await rawHandshake(broker.port, {}, false);
    expect(h.tune).toEqual({ channelMax: 16, frameMax: 8192, heartbeat: 7 });
    h.conn.destroy();
  });

  it('a client cannot negotiate a frame_max above the server offer: larger frames are refused with 501', async () => {
    const { broker } = await ownBroker({ server: { frameMax: 8192 } });
    const h = await rawHandshake(broker.port, { frameMax: 8192 });
    await rawOpenChannel(h.conn, 1);
    h.conn.send(rawPublish(1, '', 'nowhere', Buffer.alloc(20_000), 65_536)); // 64 kB body frames
    const close = await h.conn.expectConnectionClose();
    expect(close?.replyCode).toBe(501);
  });

  it('a client that never finishes the handshake is dropped after the handshake timeout', async () => {
    const { broker } = await ownBroker({ server: { handshakeTimeout: 1 } });
    const silent = await rawConnect(broker.port);
    await waitFor(() => silent.socketClosed, 10_000);
    const stalled = await rawConnect(broker.port);
    stalled.send(PROTOCOL_HEADER);
    await stalled.expectMethod(10, 10);
    await waitFor(() => stalled.socketClosed, 10_000); // no start-ok: dropped too
  });

  it('a handshake timeout longer than a Node timer holds (2^32 ms) does not fire at once', async () => {
    const { broker } = await ownBroker({ server: { handshakeTimeout: 2 ** 32 / 1000 } });
    // A setTimeout of 2^32 ms fires after 1 ms: the socket would be gone before tune arrives.
    const h = await rawHandshake(broker.port, {}, false);
    expect(h.conn.socketClosed).toBe(false);
    h.conn.destroy();
  });

  it('a message larger than maxMessageSize is refused with 406 (RabbitMQ max_message_size)', async () => {
    const { clients } = await ownBroker({ server: { maxMessageSize: 1000 } });
    const conn = await clients.connect();
    const ch = await clients.channel(conn);
    const q = (await ch.assertQueue('', { exclusive: true })).queue;
    ch.sendToQueue(q, Buffer.alloc(1000)); // at the limit: fine
    ch.sendToQueue(q, Buffer.alloc(1001));
    const err = await closedWith(ch);
    expect(err?.code).toBe(406);
    expect(err?.message).toContain('PRECONDITION_FAILED - message size 1001 is larger than configured max size 1000');
    const ch2 = await clients.channel(conn);
    expect((await ch2.checkQueue(q)).messageCount).toBe(1);
  });

  it('connection.blocked is not sent to a client without the capability; its socket is paused instead', async () => {
    const { broker, clients } = await ownBroker({ broker: { memoryHighWatermark: 16 * 1024 } });
    const ch = await clients.channel();
    const q = uniqueName('blocked-raw');
    await ch.assertQueue(q);
    const h = await rawHandshake(broker.port, { clientProperties: { product: 'no-capabilities' } });
    await rawOpenChannel(h.conn, 1);
    for (let i = 0; i < 10; i++) h.conn.send(rawPublish(1, '', q, Buffer.alloc(4096)));
    await waitFor(async () => (await ch.checkQueue(q)).messageCount >= 4);
    // Another channel op on the raw connection: its reply (if any arrives) must not be preceded by connection.blocked.
    h.conn.send(methodFrame(1, 40, 10, [short(0), shortstr('amq.direct'), shortstr('direct'), bits(true, false, false, false, false), table()]));
    const f = await h.conn.next(500).catch(() => undefined);
    if (f !== undefined) expect([f.classId, f.methodId]).not.toEqual([10, 60]);
    await ch.purgeQueue(q);
    await ch.deleteQueue(q);
    h.conn.destroy();
  });
});
