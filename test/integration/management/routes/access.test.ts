/**
 * "One operation, two doors": the management API runs the same broker operations as AMQP channels,
 * with the same permission checks, so a user refused over AMQP is refused over HTTP too. Each request
 * (declare/delete queues and exchanges, bindings, publish, get, purge, listings) is sent by users with
 * different tags and permissions to the reference's rabbitmq_management and to Warren's API, and the
 * status and body must be the same. Users and permissions are created on the reference with
 * rabbitmqctl and on Warren through its API. Skipped with a reason when the reference is absent.
 */
import amqp from 'amqplib';
import { describe, expect, it } from 'vitest';
import { uniqueName } from '../../../helpers/broker.js';
import { referenceSetupSkip, type AccessSetup, useBothBrokers } from '../../helpers/access-setup.js';
import { referencePluginUrl } from '../../../helpers/reference-plugins.js';

const setupSkip = await referenceSetupSkip();
const refApi = setupSkip === undefined
  ? await referencePluginUrl('rabbitmq_management', 15672, 'REFERENCE_MANAGEMENT_URL', '/api/overview')
  : { skip: setupSkip };
const skip = 'skip' in refApi ? refApi.skip : undefined;

const run = uniqueName('mgmt-acl');
const vhost = `${run}-vh`;
const n = (base: string) => `${base}-${run}`;
const PASSWORD = 'pw';
const userOf = (c: string) => `${run}-${c}`;

/** [case, tags, permissions in the vhost or undefined]. */
const CASES: [string, string[], [string, string, string] | undefined][] = [
  ['full', ['management'], ['.*', '.*', '.*']],
  ['read-only', ['management'], ['', '', '.*']],
  ['write-only', ['management'], ['', '.*', '']],
  ['mine', ['management'], ['^mine-', '^mine-', '^mine-']],
  ['no-permissions', ['management'], undefined],
  ['admin-no-permissions', ['administrator'], undefined],
  ['monitoring-no-permissions', ['monitoring'], undefined],
  ['no-tags', [], ['.*', '.*', '.*']],
];

const setup: AccessSetup = {
  vhosts: [vhost],
  users: CASES.map(([c, tags]) => ({ name: userOf(c), password: PASSWORD, tags })),
  permissions: [
    { user: 'guest', vhost, configure: '.*', write: '.*', read: '.*' },
    ...CASES.flatMap(([c, , p]) => (p === undefined ? [] : [{ user: userOf(c), vhost, configure: p[0], write: p[1], read: p[2] }])),
  ],
};

interface Request { name: string; method: string; path: string; body?: unknown }

const v = encodeURIComponent(vhost);
const REQUESTS: Request[] = [
  { name: 'list vhosts', method: 'GET', path: '/api/vhosts?columns=name' },
  { name: 'list queues in the vhost', method: 'GET', path: `/api/queues/${v}?columns=name` },
  { name: 'declare queue', method: 'PUT', path: `/api/queues/${v}/${n('new-q')}`, body: { durable: false } },
  { name: 'declare mine queue', method: 'PUT', path: `/api/queues/${v}/${n('mine-new-q')}`, body: { durable: false } },
  { name: 'declare queue with dead-letter exchange', method: 'PUT', path: `/api/queues/${v}/${n('mine-dlx-q')}`,
    body: { durable: false, arguments: { 'x-dead-letter-exchange': n('x') } } },
  { name: 'declare exchange', method: 'PUT', path: `/api/exchanges/${v}/${n('new-x')}`, body: { type: 'direct', durable: false } },
  { name: 'declare exchange with alternate', method: 'PUT', path: `/api/exchanges/${v}/${n('mine-ae-x')}`,
    body: { type: 'fanout', durable: false, arguments: { 'alternate-exchange': n('x') } } },
  { name: 'bind', method: 'POST', path: `/api/bindings/${v}/e/${n('x')}/q/${n('q')}`, body: { routing_key: 'rk' } },
  { name: 'bind exchange to exchange', method: 'POST', path: `/api/bindings/${v}/e/${n('x')}/e/${n('mine-x')}`, body: { routing_key: 'rk' } },
  { name: 'unbind', method: 'DELETE', path: `/api/bindings/${v}/e/${n('x')}/q/${n('q')}/rk` },
  { name: 'publish', method: 'POST', path: `/api/exchanges/${v}/${n('x')}/publish`,
    body: { routing_key: 'rk', properties: {}, payload: 'p', payload_encoding: 'string' } },
  { name: 'publish to the default exchange', method: 'POST', path: `/api/exchanges/${v}/amq.default/publish`,
    body: { routing_key: n('q'), properties: {}, payload: 'p', payload_encoding: 'string' } },
  { name: 'get', method: 'POST', path: `/api/queues/${v}/${n('q')}/get`, body: { count: 1, ackmode: 'ack_requeue_true', encoding: 'auto' } },
  { name: 'purge', method: 'DELETE', path: `/api/queues/${v}/${n('q')}/contents` },
  { name: 'delete mine queue', method: 'DELETE', path: `/api/queues/${v}/${n('mine-new-q')}` },
  { name: 'delete queue', method: 'DELETE', path: `/api/queues/${v}/${n('q')}` },
  { name: 'delete exchange', method: 'DELETE', path: `/api/exchanges/${v}/${n('x')}` },
];

async function send(base: string, user: string, r: Request): Promise<string> {
  const res = await fetch(base + r.path, {
    method: r.method,
    headers: { authorization: `Basic ${Buffer.from(`${user}:${PASSWORD}`).toString('base64')}`, 'content-type': 'application/json' },
    ...(r.body === undefined ? {} : { body: JSON.stringify(r.body) }),
  });
  const text = await res.text();
  let body: unknown = text;
  try {
    body = text === '' ? '' : JSON.parse(text);
  } catch { /* not JSON */ }
  // Lists: names only, and of the vhosts only this run's and '/' (the reference is shared).
  if (Array.isArray(body) && r.method === 'GET') {
    body = (body as { name: string }[]).map((q) => q.name).filter((x) => r.name !== 'list vhosts' || x === '/' || x.includes(run)).sort();
  }
  if (r.name === 'get' && Array.isArray(body)) body = body.length;
  return `${res.status} ${typeof body === 'string' ? body : JSON.stringify(body)}`;
}

async function resetTopology(port: number): Promise<void> {
  const c = await amqp.connect({ hostname: '127.0.0.1', port, username: 'guest', password: 'guest', vhost });
  try {
    const ch = await c.createChannel();
    for (const q of ['new-q', 'mine-new-q', 'mine-dlx-q']) await ch.deleteQueue(n(q));
    for (const x of ['new-x', 'mine-ae-x']) await ch.deleteExchange(n(x));
    await ch.assertExchange(n('x'), 'direct', { durable: false });
    await ch.assertExchange(n('mine-x'), 'direct', { durable: false });
    await ch.assertQueue(n('q'), { durable: false });
    await ch.purgeQueue(n('q'));
    ch.sendToQueue(n('q'), Buffer.from('one'));
    await ch.checkQueue(n('q'));
  } finally {
    await c.close();
  }
}

describe.skipIf(skip !== undefined)(`management API permissions, compared with the reference${skip === undefined ? '' : ` (skipped: ${skip})`}`, () => {
  const brokers = useBothBrokers(setup);
  const refBase = 'url' in refApi ? refApi.url : '';


  it.each(CASES.map(([c]) => c))('every request for a user with %s', async (c) => {
    const answers = async (base: string, port: number): Promise<Record<string, string>> => {
      await resetTopology(port);
      const out: Record<string, string> = {};
      for (const r of REQUESTS) out[r.name] = await send(base, userOf(c), r);
      return out;
    };
    const refPort = Number(new URL(process.env['REFERENCE_AMQP_URL'] ?? 'amqp://guest:guest@127.0.0.1:5672').port || 5672);
    const expected = await answers(refBase, refPort);
    expect(await answers(brokers.warren.warren!.managementUrl!, brokers.warren.port)).toEqual(expected);
  }, 60_000);
});
