/**
 * The reference RabbitMQ's HTTP plugins for differential tests: finds the reference's Prometheus
 * (or management) listener and, when the reference runs on this machine and the listener does
 * not answer, enables the plugin with `rabbitmq-plugins enable` (idempotent; never restarts or
 * resets the shared reference). Answers undefined with the reason when none is reachable, so
 * tests skip with a clear message.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { referenceUrl, waitFor } from './broker.js';

export type ReferenceHttp = { url: string } | { skip: string };

const PLUGIN_BINARIES = ['/usr/sbin/rabbitmq-plugins', '/usr/lib/rabbitmq/bin/rabbitmq-plugins'];

async function answers(url: string): Promise<boolean> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
    await res.arrayBuffer();
    return true;
  } catch {
    return false;
  }
}

/**
 * The reference's plugin listener base URL (`envVar` overrides, else http://<amqp host>:<port>),
 * enabling `plugin` first when the reference is local and the listener is silent.
 */
export async function referencePluginUrl(plugin: string, port: number, envVar: string, probePath: string): Promise<ReferenceHttp> {
  const amqp = await referenceUrl();
  const explicit = process.env[envVar];
  if (amqp === undefined && explicit === undefined) return { skip: 'no reference broker reachable (set REFERENCE_AMQP_URL)' };
  const base = explicit ?? `http://${new URL(amqp!).hostname}:${port}`;
  if (await answers(base + probePath)) return { url: base };
  const host = new URL(base).hostname;
  const binary = PLUGIN_BINARIES.find((p) => existsSync(p));
  if (binary === undefined || !['127.0.0.1', 'localhost', '::1'].includes(host)) {
    return { skip: `the reference's ${plugin} does not answer at ${base} (enable it: rabbitmq-plugins enable ${plugin})` };
  }
  const enabled = await new Promise<string | undefined>((resolve) => {
    execFile(binary, ['enable', plugin], { timeout: 60_000 }, (err, _out, stderr) => resolve(err === null ? undefined : `${err.message} ${stderr}`));
  });
  if (enabled !== undefined) return { skip: `rabbitmq-plugins enable ${plugin} failed: ${enabled}` };
  try {
    await waitFor(() => answers(base + probePath), 30_000, 200);
  } catch {
    return { skip: `${plugin} enabled but ${base} does not answer` };
  }
  return { url: base };
}

/** The reference's rabbitmq_prometheus (REFERENCE_PROMETHEUS_URL, default port 15692). */
export function referencePrometheus(): Promise<ReferenceHttp> {
  return referencePluginUrl('rabbitmq_prometheus', 15692, 'REFERENCE_PROMETHEUS_URL', '/metrics');
}

/** The reference's rabbitmq_management (REFERENCE_MANAGEMENT_URL, default port 15672). */
export function referenceManagement(): Promise<ReferenceHttp> {
  return referencePluginUrl('rabbitmq_management', 15672, 'REFERENCE_MANAGEMENT_URL', '/api/overview');
}

/**
 * The reference's management base URL once `path` answers 200 there, enabling `plugins` first when it
 * does not (idempotent, never restarts the reference), or why not.
 */
async function referenceManagementPlugin(plugins: readonly string[], path: string): Promise<ReferenceHttp> {
  const mgmt = await referenceManagement();
  if ('skip' in mgmt) return mgmt;
  const auth = { authorization: `Basic ${Buffer.from('guest:guest').toString('base64')}` };
  const ok = async () => {
    try {
      const res = await fetch(`${mgmt.url}${path}`, { headers: auth, signal: AbortSignal.timeout(2000) });
      await res.arrayBuffer();
      return res.status === 200;
    } catch {
      return false;
    }
  };
  if (await ok()) return mgmt;
  const last = plugins[plugins.length - 1]!;
  const binary = PLUGIN_BINARIES.find((p) => existsSync(p));
  if (binary === undefined) return { skip: `the reference has no ${last} (rabbitmq-plugins enable ${plugins.join(' ')})` };
  const failed = await new Promise<string | undefined>((resolve) => {
    execFile(binary, ['enable', ...plugins], { timeout: 60_000 },
      (err, _out, stderr) => resolve(err === null ? undefined : `${err.message} ${stderr}`));
  });
  if (failed !== undefined) return { skip: `rabbitmq-plugins enable ${last} failed: ${failed}` };
  try {
    await waitFor(ok, 30_000, 200);
  } catch {
    return { skip: `${last} enabled but ${path} does not answer` };
  }
  return mgmt;
}

/** The reference's rabbitmq_shovel with rabbitmq_shovel_management: its management base URL, or why not. */
export function referenceShovels(): Promise<ReferenceHttp> {
  return referenceManagementPlugin(['rabbitmq_shovel', 'rabbitmq_shovel_management'], '/api/shovels');
}

/** The reference's rabbitmq_federation with rabbitmq_federation_management: its management base URL, or why not. */
export function referenceFederation(): Promise<ReferenceHttp> {
  return referenceManagementPlugin(['rabbitmq_federation', 'rabbitmq_federation_management'], '/api/federation-links');
}
