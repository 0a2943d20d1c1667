/**
 * HTTPS for the management API and Prometheus (RabbitMQ's management.ssl.* / prometheus.ssl.*):
 * the same routes over TLS with the test PKI, HTTPS alone or next to HTTP, the listeners reported
 * by /api/overview, client certificate verification, and certificate reload with keep-alive
 * connections kept.
 */
import { copyFileSync } from 'node:fs';
import https from 'node:https';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TlsListenerSettings } from '../../../src/core/tls-options.js';
import { startTestBroker, type TestBroker } from '../../helpers/broker.js';
import { makeTestPki, type CertFiles } from '../../helpers/certificates.js';

const pki = makeTestPki();
afterAll(() => pki.remove());
const CA = pki.read(pki.ca);

function settings(extra: Partial<TlsListenerSettings> = {}): TlsListenerSettings {
  return { port: 0, certFile: pki.server.cert, keyFile: pki.server.key, caFile: pki.ca, verify: 'none', failIfNoPeerCert: false, ...extra };
}

interface Answer { status: number; body: string; subjectO: string | undefined; socketReused: boolean }

function get(port: number, path: string, o: { client?: CertFiles; auth?: string; agent?: https.Agent } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = https.request({
      host: '127.0.0.1', port, path, method: 'GET', ca: [CA], agent: o.agent ?? false,
      ...(o.client === undefined ? {} : { cert: pki.read(o.client.cert), key: pki.read(o.client.key) }),
      ...(o.auth === undefined ? {} : { auth: o.auth }),
    }, (res) => {
      const subject = (res.socket as import('node:tls').TLSSocket).getPeerCertificate().subject?.O;
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => { body += d; });
      res.on('end', () => resolve({
        status: res.statusCode ?? 0, body, subjectO: typeof subject === 'string' ? subject : undefined,
        socketReused: req.reusedSocket,
      }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('management API and Prometheus over HTTPS (verify none)', () => {
  let b: TestBroker;
  const live = { cert: `${pki.dir}/mgmt-live.pem`, key: `${pki.dir}/mgmt-live.key` };
  beforeAll(async () => {
    copyFileSync(pki.server.cert, live.cert);
    copyFileSync(pki.server.key, live.key);
    b = await startTestBroker({
      managementTls: settings({ certFile: live.cert, keyFile: live.key }),
      prometheusPort: 0, prometheusTls: settings(),
      server: { tls: settings() },
    });
  });
  afterAll(async () => b.close());

  it('serves the API over HTTPS only (no HTTP listener when only HTTPS is asked for) and lists every listener', async () => {
    const w = b.warren!;
    expect(w.managementPort).toBeUndefined();
    expect(w.managementUrl).toBeUndefined();
    expect(w.managementTlsUrl).toBe(`https://127.0.0.1:${w.managementTlsPort!}`);
    const r = await get(w.managementTlsPort!, '/api/overview', { auth: 'guest:guest' });
    expect(r.status).toBe(200);
    const listeners = (JSON.parse(r.body) as { listeners: { protocol: string; port: number }[] }).listeners;
    expect(listeners.map((l) => [l.protocol, l.port]).sort()).toEqual([
      ['amqp', w.port], ['amqp/ssl', w.tlsPort!], ['http/prometheus', w.prometheusPort!],
      ['https', w.managementTlsPort!], ['https/prometheus', w.prometheusTlsPort!],
    ].sort());
    expect((await get(w.managementTlsPort!, '/api/overview')).status).toBe(401);
    const check = await get(w.managementTlsPort!, '/api/health/checks/protocol-listener/amqps', { auth: 'guest:guest' });
    expect(JSON.parse(check.body)).toEqual({ status: 'ok', protocol: 'amqp/ssl' });
  });

  it('serves Prometheus metrics over HTTPS next to HTTP', async () => {
    const w = b.warren!;
    const r = await get(w.prometheusTlsPort!, '/metrics');
    expect(r.status).toBe(200);
    expect(r.body).toContain('rabbitmq_connections');
    expect((await fetch(`http://127.0.0.1:${w.prometheusPort!}/metrics`)).status).toBe(200);
  });

  it('reloads the HTTPS certificate: a kept-alive connection goes on, new ones see the new certificate', async () => {
    const w = b.warren!;
    const agent = new https.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const first = await get(w.managementTlsPort!, '/api/whoami', { auth: 'guest:guest', agent });
      expect(first.subjectO).toBeUndefined();
      copyFileSync(pki.server2.cert, live.cert);
      copyFileSync(pki.server2.key, live.key);
      expect(w.reloadTls().sort()).toEqual(['amqp', 'management', 'prometheus']);
      const again = await get(w.managementTlsPort!, '/api/whoami', { auth: 'guest:guest', agent });
      expect(again.status).toBe(200);
      expect(again.socketReused).toBe(true);
      expect(again.subjectO).toBeUndefined();
      expect((await get(w.managementTlsPort!, '/api/whoami', { auth: 'guest:guest' })).subjectO).toBe('reloaded');
    } finally {
      agent.destroy();
    }
  });
});

describe('management API over HTTPS with verify peer and fail_if_no_peer_cert, next to HTTP', () => {
  let b: TestBroker;
  beforeAll(async () => {
    b = await startTestBroker({ managementPort: 0, managementTls: settings({ verify: 'peer', failIfNoPeerCert: true }) });
  });
  afterAll(async () => b.close());

  it('answers clients with a valid certificate only; plain HTTP is unaffected', async () => {
    const w = b.warren!;
    expect((await get(w.managementTlsPort!, '/api/whoami', { auth: 'guest:guest', client: pki.client('ops') })).status).toBe(200);
    await expect(get(w.managementTlsPort!, '/api/whoami', { auth: 'guest:guest' })).rejects.toThrow();
    await expect(get(w.managementTlsPort!, '/api/whoami', { auth: 'guest:guest', client: pki.expiredClient('ops') })).rejects.toThrow();
    await expect(get(w.managementTlsPort!, '/api/whoami', { auth: 'guest:guest', client: pki.untrustedClient('ops') })).rejects.toThrow();
    const plain = await fetch(`${w.managementUrl!}/api/whoami`, { headers: { authorization: `Basic ${Buffer.from('guest:guest').toString('base64')}` } });
    expect(plain.status).toBe(200);
  });
});
