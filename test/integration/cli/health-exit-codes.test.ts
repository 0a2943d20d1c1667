/**
 * The health commands fail as rabbitmq-diagnostics does, so compose and Kubernetes health checks
 * see an unhealthy broker: `warren check alarms` / `local-alarms` exit 69 while an alarm is in
 * effect (a disk limit above the free space), `warren check port-connectivity` exits 69 when a
 * listener the broker reports cannot be reached, `warren ping` exits 69 when nothing answers.
 */
import http from 'node:http';
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { waitFor } from '../../helpers/broker.js';
import { runCli, startWarrenProcess, type WarrenProcess } from '../../helpers/warren-cli.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function managementUrl(w: WarrenProcess): string {
  const m = /Management API on (http:\/\/127\.0\.0\.1:\d+)\/api\//.exec(w.logs());
  if (m === null) throw new Error(`no management URL in the logs:\n${w.logs()}`);
  return m[1]!;
}

async function closedPort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

describe('health commands when unhealthy', () => {
  it('check alarms and check local-alarms exit 69 while the disk alarm is in effect', async () => {
    const w = await startWarrenProcess(['--management-port', 'free', '--prometheus-port', '0', '--disk-free-limit', '1000TB']);
    cleanups.push(() => w.stop());
    const url = managementUrl(w);
    const r = await waitFor(async () => {
      const c = await runCli(['--url', url, 'check', 'alarms']);
      return c.code === 69 ? c : undefined;
    }, 20_000, 200);
    expect(r!.stderr).toMatch(/^check alarms failed: There are alarms in effect in the cluster/);
    expect((await runCli(['--url', url, 'check', 'local-alarms'])).code).toBe(69);
    // The broker still answers: ping succeeds.
    expect((await runCli(['--url', url, 'ping'])).code).toBe(0);
  });

  it('check port-connectivity exits 69 naming the listener it could not reach', async () => {
    const port = await closedPort();
    // A management API that reports a listener nobody listens on.
    const api = http.createServer((req, res) => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify(req.url === '/api/overview'
        ? { node: 'warren@test', listeners: [{ protocol: 'amqp', ip_address: '127.0.0.1', port }] } : {}));
    });
    await new Promise<void>((r) => api.listen(0, '127.0.0.1', r));
    cleanups.push(() => new Promise<void>((r) => api.close(() => r())));
    const url = `http://127.0.0.1:${(api.address() as net.AddressInfo).port}`;
    const r = await runCli(['--url', url, 'check', 'port-connectivity']);
    expect(r.code).toBe(69);
    expect(r.stderr).toContain(`connection to ports of node warren@test failed: amqp 127.0.0.1:${port} (ECONNREFUSED)`);
  });

  it('ping exits 69 when nothing answers', async () => {
    const r = await runCli(['--url', `http://127.0.0.1:${await closedPort()}`, 'ping']);
    expect(r.code).toBe(69);
  });
});
