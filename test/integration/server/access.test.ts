/**
 * Users and vhosts as Warren's config and model expose them: the default user guest is refused from
 * non-loopback addresses unless configured otherwise (RabbitMQ's loopback_users), other users log in
 * with their own passwords, and several vhosts keep their queues and exchanges apart. These need a
 * broker configured by the test, so they cannot run against the shared reference (skipped there).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { networkInterfaces } from 'node:os';
import amqp from 'amqplib';
import { startTestBroker, type TestBroker } from '../../helpers/broker.js';
import { Clients, expectCode } from '../helpers/clients.js';
import { PROTOCOL_HEADER, longstr, methodFrame, plainResponse, rawConnect, shortstr, table } from '../helpers/raw-amqp.js';

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
