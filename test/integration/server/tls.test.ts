/**
 * The amqps listener (issue 13): stock clients over TLS with certificates made for the test
 * (test/helpers/certificates.ts), peer verification as RabbitMQ's ssl_options.verify /
 * fail_if_no_peer_cert, refused certificates (expired, untrusted CA), TLS versions, bad input on
 * the TLS port that must only ever cost its own socket, and certificate reload with connections
 * kept open. Warren only: the reference has no TLS listener (tests never reconfigure it).
 */
import { randomBytes } from 'node:crypto';
import { copyFileSync } from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';
import { AMQPClient } from '@cloudamqp/amqp-client';
import amqp, { type ChannelModel } from 'amqplib';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startWarren, type Warren } from '../../../src/cli/warren.js';
import { TlsConfigError, type TlsListenerSettings } from '../../../src/core/tls-options.js';
import type { ServerConfig } from '../../../src/server/server-config.js';
import { startTestBroker, waitFor, type TestBroker } from '../../helpers/broker.js';
import { makeTestPki, type CertFiles } from '../../helpers/certificates.js';
import {
  PROTOCOL_HEADER, decodeClose, longstr, methodFrame, rawConnect, rawConnectTls, shortstr, table, type RawConnection,
} from '../helpers/raw-amqp.js';
import type { Warren as WarrenType } from '../../../src/cli/warren.js';

const pki = makeTestPki();
afterAll(() => pki.remove());
const CA = pki.read(pki.ca);

function settings(extra: Partial<TlsListenerSettings> = {}): TlsListenerSettings {
  return { port: 0, certFile: pki.server.cert, keyFile: pki.server.key, caFile: pki.ca, verify: 'none', failIfNoPeerCert: false, ...extra };
}

/** A broker with an amqps listener; every connection a test opens is closed after it, and none may leak. */
function useTlsBroker(tlsSettings: () => TlsListenerSettings, extra: Partial<ServerConfig> = {}, setup?: (w: WarrenType) => void) {
  let broker: TestBroker | undefined;
  const opened = new Set<ChannelModel>();
  beforeAll(async () => {
    broker = await startTestBroker({ server: { tls: tlsSettings(), ...extra } });
    setup?.(broker.warren!);
  });
  afterAll(async () => broker?.close());
  afterEach(async () => {
    for (const c of opened) await c.close().catch(() => undefined);
    opened.clear();
    const listener = broker!.warren!.listener;
    await waitFor(() => listener.connections.size === 0, 5000).catch(() => {
      throw new Error(`leak: ${listener.connections.size} connection(s) still open after the test`);
    });
  });
  return {
    get warren(): Warren { return broker!.warren!; },
    /** amqplib over TLS, trusting the test CA, with an optional client certificate. */
    async connect(client?: CertFiles, socketOptions: Record<string, unknown> = {}, url?: string): Promise<ChannelModel> {
      const c = await amqp.connect(url ?? broker!.warren!.tlsUrl!, {
        ca: [CA], ...(client === undefined ? {} : { cert: pki.read(client.cert), key: pki.read(client.key) }), ...socketOptions,
      });
      opened.add(c);
      c.on('error', () => undefined);
      return c;
    },
  };
}

async function roundTrip(conn: ChannelModel, bodies: Buffer[]): Promise<Buffer[]> {
  const ch = await conn.createConfirmChannel();
  const q = (await ch.assertQueue('', { exclusive: true })).queue;
  for (const b of bodies) ch.sendToQueue(q, b);
  await ch.waitForConfirms();
  const got: Buffer[] = [];
  await ch.consume(q, (m) => { if (m !== null) got.push(m.content); }, { noAck: true });
  await waitFor(() => got.length === bodies.length, 10_000);
  await ch.close();
  return got;
}

/** Whether a TLS client gets a working AMQP connection (the server may refuse after the TLS handshake). */
async function amqpOutcome(fn: () => Promise<ChannelModel>): Promise<'connected' | 'refused'> {
  try {
    const c = await fn();
    await roundTrip(c, [Buffer.from('x')]);
    return 'connected';
  } catch {
    return 'refused';
  }
}

/** The server certificate a TLS client sees. */
function serverCertificate(port: number): Promise<tls.PeerCertificate> {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ host: '127.0.0.1', port, ca: [CA] }, () => {
      resolve(s.getPeerCertificate());
      s.destroy();
    });
    s.once('error', reject);
  });
}

/** Open a raw TCP socket to `port`, send `bytes` (if any), and resolve when the server closes it. */
function closedByServer(port: number, bytes?: Buffer): { socket: net.Socket; closed: Promise<Buffer> } {
  const socket = net.connect({ host: '127.0.0.1', port });
  socket.on('error', () => undefined);
  const received: Buffer[] = [];
  socket.on('data', (d: Buffer) => received.push(d));
  if (bytes !== undefined) socket.once('connect', () => socket.write(bytes));
  const closed = new Promise<Buffer>((resolve) => socket.once('close', () => resolve(Buffer.concat(received))));
  return { socket, closed };
}

describe('amqps with verify none', () => {
  // Copies, so that the reload test can change them under the running listener.
  const live = { cert: `${pki.dir}/live.pem`, key: `${pki.dir}/live.key` };
  copyFileSync(pki.server.cert, live.cert);
  copyFileSync(pki.server.key, live.key);
  const b = useTlsBroker(() => settings({ certFile: live.cert, keyFile: live.key }), { tlsHandshakeTimeout: 500 });

  it('amqplib logs in with PLAIN over TLS and moves messages of every size, plain TCP alongside', async () => {
    const conn = await b.connect();
    const bodies = [Buffer.alloc(0), Buffer.from('hello over TLS'), randomBytes(300_000), randomBytes(2 * 1024 * 1024)];
    const got = await roundTrip(conn, bodies);
    expect(got.map((g) => g.toString('hex'))).toEqual(bodies.map((x) => x.toString('hex')));
    const plain = await amqp.connect(b.warren.url);
    try {
      expect(await roundTrip(plain, [Buffer.from('plain')])).toEqual([Buffer.from('plain')]);
    } finally {
      await plain.close();
    }
  });

  it('@cloudamqp/amqp-client publishes and consumes over TLS', async () => {
    const client = new AMQPClient(b.warren.tlsUrl!, { ca: [CA] }, null);
    const conn = await client.connect();
    try {
      const ch = await conn.channel();
      const q = await ch.queueDeclare('', { exclusive: true });
      await ch.confirmSelect();
      for (let i = 0; i < 100; i++) await ch.basicPublish('', q.name, `m${i}`);
      const got: string[] = [];
      await ch.basicConsume(q.name, { noAck: true }, (m) => { got.push(m.bodyToString() ?? ''); });
      await waitFor(() => got.length === 100);
      expect(got).toEqual(Array.from({ length: 100 }, (_, i) => `m${i}`));
    } finally {
      await conn.close();
    }
  });

  it('accepts TLS 1.2 and 1.3 and refuses TLS 1.1', async () => {
    expect(await amqpOutcome(() => b.connect(undefined, { maxVersion: 'TLSv1.2' }))).toBe('connected');
    expect(await amqpOutcome(() => b.connect(undefined, { minVersion: 'TLSv1.3' }))).toBe('connected');
    // The server answers a TLS 1.1 ClientHello with the protocol_version alert.
    const refused = await new Promise<string | undefined>((resolve) => {
      const s = tls.connect({ host: '127.0.0.1', port: b.warren.tlsPort!, ca: [CA], minVersion: 'TLSv1', maxVersion: 'TLSv1.1', ciphers: 'DEFAULT@SECLEVEL=0' },
        () => { s.destroy(); resolve(undefined); });
      s.once('error', (e: NodeJS.ErrnoException) => resolve(e.code));
    });
    expect(refused).toBe('ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION');
  });

  it('a client that does not trust the server certificate cannot connect', async () => {
    await expect(amqp.connect(b.warren.tlsUrl!, {})).rejects.toThrow(/certificate/i);
  });

  it('plain AMQP, garbage and stalled handshakes on the TLS port cost only their own socket', async () => {
    const conn = await b.connect();
    const ch = await conn.createChannel();
    const q = (await ch.assertQueue('', { exclusive: true })).queue;
    const port = b.warren.tlsPort!;
    const bad = [
      closedByServer(port, PROTOCOL_HEADER),
      closedByServer(port, randomBytes(64 * 1024)),
      // A TLS record header announcing a ClientHello that never comes, and a socket that says nothing.
      closedByServer(port, Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc])),
      closedByServer(port),
    ];
    // Meanwhile the established TLS connection keeps working.
    for (let i = 0; i < 20; i++) ch.sendToQueue(q, Buffer.from(`m${i}`));
    const replies = await Promise.all(bad.map((x) => x.closed));
    // Nothing AMQP ever answers on the TLS port (no protocol header, no frame).
    for (const r of replies) expect(r.includes(Buffer.from('AMQP'))).toBe(false);
    await waitFor(async () => (await ch.checkQueue(q)).messageCount === 20);
    expect((await roundTrip(conn, [Buffer.from('still here')]))[0]!.toString()).toBe('still here');
    expect(b.warren.listener.connections.size).toBe(1);
  });

  it('reloads the certificate without dropping open connections; bad files keep the old one', async () => {
    expect((await serverCertificate(b.warren.tlsPort!)).subject.O).toBeUndefined();
    const conn = await b.connect();
    const ch = await conn.createChannel();
    const q = (await ch.assertQueue('', { exclusive: true })).queue;
    // The files named in the settings change on disk (as a certificate renewal does), then reload.
    copyFileSync(pki.server2.cert, live.cert);
    copyFileSync(pki.server2.key, live.key);
    expect(b.warren.reloadTls()).toEqual(['amqp']);
    expect((await serverCertificate(b.warren.tlsPort!)).subject.O).toBe('reloaded');
    // The connection opened before the reload is still there and still works.
    ch.sendToQueue(q, Buffer.from('after reload'));
    await waitFor(async () => (await ch.checkQueue(q)).messageCount === 1);
    expect(b.warren.listener.connections.size).toBe(1);
    // A certificate that does not match the key is refused and the current one stays.
    copyFileSync(pki.client('mismatch').cert, live.cert);
    expect(() => b.warren.reloadTls()).toThrow(TlsConfigError);
    expect((await serverCertificate(b.warren.tlsPort!)).subject.O).toBe('reloaded');
    expect((await roundTrip(conn, [Buffer.from('x')]))[0]!.toString()).toBe('x');
    expect(b.warren.listener.connections.size).toBe(1);
  });
});

describe('amqps with verify peer', () => {
  const b = useTlsBroker(() => settings({ verify: 'peer' }));

  it('lets in a client with a certificate from the CA, and one without (fail_if_no_peer_cert false)', async () => {
    expect(await amqpOutcome(() => b.connect(pki.client('alice')))).toBe('connected');
    expect(await amqpOutcome(() => b.connect())).toBe('connected');
  });

  it('refuses an expired certificate and one from an untrusted CA, and nobody else notices', async () => {
    const good = await b.connect(pki.client('bob'));
    expect(await amqpOutcome(() => b.connect(pki.expiredClient('alice')))).toBe('refused');
    expect(await amqpOutcome(() => b.connect(pki.untrustedClient('alice')))).toBe('refused');
    expect((await roundTrip(good, [Buffer.from('ok')]))[0]!.toString()).toBe('ok');
  });
});

describe('amqps with verify peer and fail_if_no_peer_cert', () => {
  const b = useTlsBroker(() => settings({ verify: 'peer', failIfNoPeerCert: true }));

  it('refuses a client without a certificate, lets in one with a valid certificate', async () => {
    expect(await amqpOutcome(() => b.connect())).toBe('refused');
    expect(await amqpOutcome(() => b.connect(pki.expiredClient('alice')))).toBe('refused');
    expect(await amqpOutcome(() => b.connect(pki.client('alice')))).toBe('connected');
  });
});

describe('TLS configuration errors', () => {
  it('a missing file or a key that does not match the certificate stops the start, naming the file', async () => {
    const common = { port: 0, host: '127.0.0.1', storeKind: 'memory', logLevel: 'silent', dataDir: `${pki.dir}/data` } as const;
    await expect(startWarren({ ...common, server: { tls: settings({ certFile: `${pki.dir}/missing.pem` }) } }))
      .rejects.toThrow(/missing\.pem: ENOENT/);
    await expect(startWarren({ ...common, server: { tls: settings({ keyFile: pki.client('other').key }) } }))
      .rejects.toThrow(TlsConfigError);
  });
});

/** A passwordless user (certificate login only) with every permission in '/'. */
function certificateUser(w: WarrenType, name: string): void {
  w.broker.users.put(name, { none: true }, []);
  w.broker.permissions.set({ user: name, vhost: '/', configure: '.*', write: '.*', read: '.*' });
}

/** connection.start's mechanisms on a raw TLS connection, and what start-ok with `mechanism` gets. */
function startOkOverTls(port: number, mechanism: string, client?: CertFiles): Promise<{ mechanisms: string; answer: string }> {
  return startOk(() => rawConnectTls(port, { ca: [CA], ...(client === undefined ? {} : { cert: pki.read(client.cert), key: pki.read(client.key) }) }), mechanism);
}

async function startOk(connect: () => Promise<RawConnection>, mechanism: string): Promise<{ mechanisms: string; answer: string }> {
  const conn = await connect();
  try {
    conn.send(PROTOCOL_HEADER);
    const start = await conn.expectMethod(10, 10);
    // version (2) + server-properties (table) + mechanisms (longstr)
    const propsLen = start.payload.readUInt32BE(6);
    const mechLenAt = 10 + propsLen;
    const mechanisms = start.payload.toString('utf8', mechLenAt + 4, mechLenAt + 4 + start.payload.readUInt32BE(mechLenAt));
    conn.send(methodFrame(0, 10, 11, [table({ capabilities: { authentication_failure_close: true } }), shortstr(mechanism), longstr(''), shortstr('en_US')]));
    const f = await conn.next(5000);
    if (f === undefined) return { mechanisms, answer: 'socket closed' };
    if (f.classId === 10 && f.methodId === 30) return { mechanisms, answer: 'tune' };
    const close = decodeClose(f);
    return { mechanisms, answer: `${close.replyCode} ${close.replyText}` };
  } finally {
    conn.destroy();
  }
}

describe('EXTERNAL: login with the client certificate (rabbitmq_auth_mechanism_ssl)', () => {
  const b = useTlsBroker(() => settings({ verify: 'peer' }), {}, (w) => certificateUser(w, 'alice'));

  it('is offered only on TLS with a verified client certificate', async () => {
    const port = b.warren.tlsPort!;
    expect((await startOkOverTls(port, 'EXTERNAL', pki.client('alice'))).mechanisms).toBe('PLAIN AMQPLAIN EXTERNAL');
    const noCert = await startOkOverTls(port, 'EXTERNAL');
    expect(noCert).toEqual({ mechanisms: 'PLAIN AMQPLAIN', answer: "503 COMMAND_INVALID - invalid authentication mechanism 'EXTERNAL'" });
    expect((await startOk(() => rawConnect(b.warren.port), 'EXTERNAL')))
      .toEqual({ mechanisms: 'PLAIN AMQPLAIN', answer: "503 COMMAND_INVALID - invalid authentication mechanism 'EXTERNAL'" });
  });

  it('amqplib logs in as the certificate\'s CN, a passwordless user; user_id proves who', async () => {
    const conn = await b.connect(pki.client('alice'), { credentials: amqp.credentials.external() });
    const users = [...b.warren.listener.openConnections()].map((c) => c.user);
    expect(users).toEqual(['alice']);
    const ch = await conn.createConfirmChannel();
    const q = (await ch.assertQueue('', { exclusive: true })).queue;
    ch.sendToQueue(q, Buffer.from('from alice'), { userId: 'alice' });
    await ch.waitForConfirms();
    expect((await ch.get(q, { noAck: true }) || undefined)?.properties.userId).toBe('alice');
  });

  it('a CN that is no user is refused with 403; a passwordless user cannot log in with PLAIN', async () => {
    await expect(b.connect(pki.client('mallory'), { credentials: amqp.credentials.external() }))
      .rejects.toThrow(/ACCESS_REFUSED - Login was refused using authentication mechanism EXTERNAL/);
    await expect(b.connect(pki.client('alice'), {}, b.warren.tlsUrl!.replace('guest:guest', 'alice:')))
      .rejects.toThrow(/ACCESS_REFUSED|PLAIN/);
    expect(b.warren.broker.statistics.churn.authFailed).toBeGreaterThanOrEqual(2);
  });

  it('expired and untrusted certificates never get as far as EXTERNAL', async () => {
    for (const bad of [pki.expiredClient('alice'), pki.untrustedClient('alice')]) {
      await expect(b.connect(bad, { credentials: amqp.credentials.external() })).rejects.toThrow();
    }
  });
});

describe('certificate-only broker: auth_mechanisms = EXTERNAL, ssl_cert_login_from = distinguished_name', () => {
  const b = useTlsBroker(() => settings({ verify: 'peer', failIfNoPeerCert: true }),
    { authMechanisms: ['EXTERNAL'], certLoginFrom: 'distinguished_name' }, (w) => certificateUser(w, 'CN=dora,O=clients'));

  it('logs in with the subject DN in RFC 4514 order, and refuses PLAIN even with a good password', async () => {
    await b.connect(pki.client('dora'), { credentials: amqp.credentials.external() });
    expect([...b.warren.listener.openConnections()].map((c) => c.user)).toEqual(['CN=dora,O=clients']);
    const plain = await startOkOverTls(b.warren.tlsPort!, 'PLAIN', pki.client('dora'));
    expect(plain).toEqual({ mechanisms: 'EXTERNAL', answer: "503 COMMAND_INVALID - invalid authentication mechanism 'PLAIN'" });
    // On plain TCP nothing at all is offered: no certificate, and passwords are not accepted.
    expect((await startOk(() => rawConnect(b.warren.port), 'PLAIN')))
      .toEqual({ mechanisms: '', answer: "503 COMMAND_INVALID - invalid authentication mechanism 'PLAIN'" });
  });
});

describe('shutdown with amqps connections', () => {
  it('closes them with 320 CONNECTION_FORCED like plain ones, and drops sockets still in their TLS handshake', async () => {
    // A TLS handshake deadline longer than the test's: if close() waited for the stalled socket, the test would time out.
    const b = await startTestBroker({ server: { tls: settings(), tlsHandshakeTimeout: 120_000 } });
    const w = b.warren!;
    const conn = await amqp.connect(w.tlsUrl!, { ca: [CA] });
    const closed = new Promise<unknown>((resolve) => conn.once('close', resolve));
    conn.on('error', () => undefined);
    const stalled = closedByServer(w.tlsPort!);
    await waitFor(() => stalled.socket.readyState === 'open');
    await b.close();
    expect(String(await closed)).toMatch(/CONNECTION_FORCED/);
    await stalled.closed;
  });
});
