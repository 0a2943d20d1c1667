/**
 * The links' outbound AMQP client (src/links) against Warren in-process and, when reachable, the
 * reference RabbitMQ: handshake with credentials and vhost, declare/bind, publish with confirms,
 * consume with prefetch and ack/nack, basic.get, and every failure reported as a ClientError with
 * the peer's code and text (refused login, missing vhost, missing queue, refused port, amqps).
 */
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClientConnection } from '../../../src/links/amqp-client.js';
import { ClientError } from '../../../src/links/client-error.js';
import type { Delivery } from '../../../src/links/client-channel.js';
import { makeTestPki, type TestPki } from '../../helpers/certificates.js';
import { freePort } from './link-helpers.js';
import { referenceUrl, startTestBroker, uniqueName, waitFor, type TestBroker } from '../../helpers/broker.js';

const TIMEOUT = 60_000;

function withCredentials(url: string, user: string, pass: string, vhost?: string): string {
  const u = new URL(url);
  u.username = user;
  u.password = pass;
  if (vhost !== undefined) u.pathname = `/${encodeURIComponent(vhost)}`;
  return u.toString();
}


async function rejection(p: Promise<unknown>): Promise<ClientError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(ClientError);
    return e as ClientError;
  }
  throw new Error('expected a rejection');
}

const targets: { name: string; url: () => Promise<string | undefined> }[] = [];
let warren: TestBroker;
targets.push({ name: 'Warren', url: async () => warren.url });
targets.push({ name: 'reference', url: referenceUrl });

beforeAll(async () => {
  warren = await startTestBroker();
});
afterAll(async () => {
  await warren.close();
});

describe.each(targets)('outbound client against $name', ({ url }) => {
  let base: string | undefined;
  beforeAll(async () => {
    base = await url();
  });

  it('publishes with confirms, consumes with prefetch, acks and nacks', async (ctx) => {
    if (base === undefined) return ctx.skip('reference RabbitMQ not reachable');
    const conn = await ClientConnection.connect({ uri: base, connectionName: 'links-test' });
    try {
      expect(conn.isOpen).toBe(true);
      expect(conn.frameMax).toBeGreaterThan(0);
      const ch = await conn.openChannel();
      const q = uniqueName('links-q');
      const x = uniqueName('links-x');
      await ch.declareExchange(x, 'direct', { autoDelete: false });
      const ok = await ch.declareQueue(q, { durable: true });
      expect(ok).toEqual({ queue: q, messageCount: 0, consumerCount: 0 });
      await ch.bindQueue(q, x, 'k');
      await ch.confirmSelect();
      const confirmed: boolean[] = [];
      for (let i = 0; i < 20; i++) {
        const seq = ch.publish(x, 'k', Buffer.from(`m${i}`), { deliveryMode: 2, headers: [], messageId: `id${i}` }, {}, (c) => confirmed.push(c));
        expect(seq).toBe(i + 1);
      }
      expect(await ch.waitForConfirms()).toBe(true);
      expect(confirmed).toEqual(new Array(20).fill(true));
      expect((await ch.checkQueue(q)).messageCount).toBe(20);

      const cch = await conn.openChannel();
      await cch.qos(5);
      const got: Delivery[] = [];
      const tag = await cch.consume(q, (d) => got.push(d));
      // Prefetch 5: exactly five arrive until we ack.
      await waitFor(() => got.length === 5, 20_000);
      expect(got.map((d) => d.body.toString())).toEqual(['m0', 'm1', 'm2', 'm3', 'm4']);
      cch.nack(got[0]!.deliveryTag, false, true); // requeued: comes back redelivered
      cch.ack(got[4]!.deliveryTag, true);
      await waitFor(() => got.length >= 10, 20_000);
      const redelivered = got.find((d) => d.redelivered);
      expect(redelivered?.body.toString()).toBe('m0');
      await cch.cancel(tag);
      await cch.close();
      const get = await ch.get(q, true);
      expect(get).toBeDefined();
      expect(get!.messageCount).toBeGreaterThanOrEqual(0);
      await ch.deleteQueue(q);
      await ch.deleteExchange(x);
      expect(await ch.get(uniqueName('nope')).catch((e: ClientError) => e.code)).toBe(404);
    } finally {
      await conn.close();
    }
    const reason = await conn.closed;
    expect(reason.code).toBe(200);
  }, TIMEOUT);

  it('a missing queue is a 404 channel close; the connection stays open', async (ctx) => {
    if (base === undefined) return ctx.skip('reference RabbitMQ not reachable');
    const conn = await ClientConnection.connect({ uri: base });
    try {
      const ch = await conn.openChannel();
      const q = uniqueName('missing');
      const e = await rejection(ch.checkQueue(q));
      expect(e.code).toBe(404);
      expect(e.scope).toBe('channel');
      expect(e.message).toBe(`NOT_FOUND - no queue '${q}' in vhost '/'`);
      expect((await ch.closed).code).toBe(404);
      expect(() => ch.publish('', q, Buffer.alloc(0))).toThrow(ClientError);
      const ch2 = await conn.openChannel();
      expect(ch2.isOpen).toBe(true);
      await ch2.close();
    } finally {
      await conn.close();
    }
  }, TIMEOUT);

  it('a wrong password is 403 ACCESS_REFUSED', async (ctx) => {
    if (base === undefined) return ctx.skip('reference RabbitMQ not reachable');
    const e = await rejection(ClientConnection.connect({ uri: withCredentials(base, 'guest', 'wrong-password') }));
    expect(e.code).toBe(403);
    expect(e.message).toMatch(/^ACCESS_REFUSED - Login was refused using authentication mechanism PLAIN/);
  }, TIMEOUT);

  it('a missing vhost is 530 NOT_ALLOWED', async (ctx) => {
    if (base === undefined) return ctx.skip('reference RabbitMQ not reachable');
    const vhost = uniqueName('no-vhost');
    const e = await rejection(ClientConnection.connect({ uri: withCredentials(base, 'guest', 'guest', vhost) }));
    expect(e.code).toBe(530);
    expect(e.message).toContain(vhost);
  }, TIMEOUT);

  it('destroying the socket reports the loss on the connection and its channels', async (ctx) => {
    if (base === undefined) return ctx.skip('reference RabbitMQ not reachable');
    const conn = await ClientConnection.connect({ uri: base });
    const ch = await conn.openChannel();
    await ch.confirmSelect();
    let onCloseReason: ClientError | undefined;
    conn.onClose = (r) => { onCloseReason = r; };
    const q = uniqueName('lost');
    const pending = ch.declareQueue(q, { exclusive: true });
    conn.destroy();
    const e = await rejection(pending);
    expect(e.code).toBe(0);
    expect(onCloseReason?.errno).toBe('ECONNRESET');
    expect((await ch.closed).errno).toBe('ECONNRESET');
    await expect(conn.openChannel()).rejects.toBeInstanceOf(ClientError);
  }, TIMEOUT);
});

describe('outbound client failures', () => {
  it('a refused port is ECONNREFUSED', async () => {
    const port = await freePort();
    const e = await rejection(ClientConnection.connect({ uri: `amqp://127.0.0.1:${port}` }));
    expect(e.errno).toBe('ECONNREFUSED');
  });

  it('a bad URI is reported, not thrown synchronously', async () => {
    const e = await rejection(ClientConnection.connect({ uri: 'amqp://h:notaport' }));
    expect(e.message).toContain('invalid port');
  });

  it('a peer that never answers times out', async () => {
    const server = net.createServer(() => { /* accept and stay silent */ });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as net.AddressInfo).port;
    try {
      const e = await rejection(ClientConnection.connect({ uri: `amqp://127.0.0.1:${port}?connection_timeout=300` }));
      expect(e.errno).toBe('ETIMEDOUT');
    } finally {
      server.close();
    }
  });

  it('the server closing the connection (320) is reported with its code', async () => {
    const b = await startTestBroker();
    const conn = await ClientConnection.connect({ uri: b.url });
    await b.close();
    const r = await conn.closed;
    expect(r.code).toBe(320);
    expect(r.message).toMatch(/^CONNECTION_FORCED/);
  }, TIMEOUT);
});

describe('outbound client over amqps', () => {
  let pki: TestPki;
  let b: TestBroker;
  beforeAll(async () => {
    pki = makeTestPki();
    b = await startTestBroker({ server: { tls: { port: 0, certFile: pki.server.cert, keyFile: pki.server.key, caFile: pki.ca, verify: 'none', failIfNoPeerCert: false } } });
  });
  afterAll(async () => {
    await b.close();
    pki.remove();
  });

  it('connects with the CA from the URI and refuses an unknown server certificate', async () => {
    const port = b.warren!.tlsPort!;
    const conn = await ClientConnection.connect({ uri: `amqps://guest:guest@localhost:${port}?cacertfile=${encodeURIComponent(pki.ca)}` });
    const ch = await conn.openChannel();
    const q = await ch.declareQueue('', { exclusive: true });
    expect(q.queue).toMatch(/^amq\.gen-/);
    await conn.close();
    const e = await rejection(ClientConnection.connect({ uri: `amqps://guest:guest@localhost:${port}` }));
    expect(e.errno).toMatch(/SELF_SIGNED|UNABLE_TO|CERT/);
    const unverified = await ClientConnection.connect({ uri: `amqps://guest:guest@localhost:${port}?verify=verify_none` });
    await unverified.close();
  }, TIMEOUT);
});
