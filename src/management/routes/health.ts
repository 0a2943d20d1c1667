/**
 * Health checks (/api/health/checks/...) as RabbitMQ answers them: 200 {"status":"ok"} or 503
 * {"status":"failed","reason":...}. A single node has no quorum or mirror to lose, so those checks
 * are always ok; alarms come from the memory meter and the disk alarm. is-in-service and
 * ready-to-serve-clients (RabbitMQ 3.11+/3.13) are ok while the node is up.
 */
import { badRequest } from '../http-error.js';
import { ok } from '../reply.js';
import type { Reply, RouteContext, Router } from '../router.js';

function failed(body: Record<string, unknown>): Reply {
  return { status: 503, body: { status: 'failed', ...body } };
}

function alarms(ctx: RouteContext, reason: string): Reply {
  const node = ctx.app.node;
  const meter = ctx.app.broker.meter;
  const active: { node: string; resource: string }[] = [];
  if (meter.memoryAlarmOn) active.push({ node: node.name, resource: 'memory' });
  if (meter.diskAlarmOn) active.push({ node: node.name, resource: 'disk' });
  return active.length === 0 ? ok({ status: 'ok' }) : failed({ reason, alarms: active });
}

/** RabbitMQ's protocol names and the aliases its check accepts. */
function protocolName(p: string): string {
  const lower = p.toLowerCase();
  if (lower === 'amqp091' || lower === 'amqp0-9-1' || lower === 'amqp0.9.1' || lower === 'amqp') return 'amqp';
  if (lower === 'management' || lower === 'http') return 'http';
  if (lower === 'amqps' || lower === 'amqp/ssl') return 'amqp/ssl';
  if (lower === 'prometheus') return 'http/prometheus';
  return lower;
}

export function healthRoutes(r: Router): void {
  r.get('/api/health/checks/alarms', 'management', (ctx) => alarms(ctx, 'There are alarms in effect in the cluster'));
  r.get('/api/health/checks/local-alarms', 'management', (ctx) => alarms(ctx, 'There are alarms in effect on the node'));
  r.get('/api/health/checks/virtual-hosts', 'management', () => ok({ status: 'ok' }));
  r.get('/api/health/checks/node-is-quorum-critical', 'management', () => ok({ status: 'ok', reason: 'single node cluster' }));
  r.get('/api/health/checks/node-is-mirror-sync-critical', 'management', () => ok({ status: 'ok', reason: 'single node cluster' }));
  r.get('/api/health/checks/is-in-service', 'management', () => ok({ status: 'ok' }));
  r.get('/api/health/checks/ready-to-serve-clients', 'management', () => ok({ status: 'ok' }));
  r.get('/api/health/checks/certificate-expiration/:within/:unit', 'management', () => ok({ status: 'ok' }));

  r.get('/api/health/checks/port-listener/:port', 'management', (ctx) => {
    const raw = ctx.params['port']!;
    if (!/^\d+$/.test(raw)) throw badRequest('Invalid port');
    const port = Number(raw);
    const ports = ctx.app.node.listeners.map((l) => l.port);
    return ports.includes(port) ? ok({ status: 'ok', port }) : failed({ reason: 'No active listener', missing: port, ports });
  });

  r.get('/api/health/checks/protocol-listener/:protocol', 'management', (ctx) => {
    const protocol = protocolName(ctx.params['protocol']!);
    const protocols = [...new Set(ctx.app.node.listeners.map((l) => l.protocol))];
    return protocols.includes(protocol)
      ? ok({ status: 'ok', protocol })
      : failed({ reason: 'No active listener', missing: ctx.params['protocol']!, protocols });
  });
}
