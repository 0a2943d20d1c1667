/**
 * Topic permissions (routing-key patterns per user, vhost and topic exchange), compared with the
 * reference: publishing checks the write pattern, queue.bind and exchange.bind from a topic
 * exchange check the read pattern; {username} and {vhost} are expanded; {client_id} stays as
 * written over AMQP 0-9-1 (RabbitMQ fills it for MQTT clients only); exchanges that are not topic
 * exchanges, and topic exchanges without a topic permission for the user, are not restricted.
 * Skipped with a reason when the reference (or rabbitmqctl) is not reachable.
 */
import amqp from 'amqplib';
import { describe, expect, it } from 'vitest';
import { referenceUrl, uniqueName } from '../../helpers/broker.js';
import { OpRunner, type Op, type Outcome } from '../helpers/access-ops.js';
import { referenceSetupSkip, type AccessSetup, useBothBrokers } from '../helpers/access-setup.js';

const skip = await referenceSetupSkip();
const refPort = Number(new URL((await referenceUrl()) ?? 'amqp://x:5672').port || 5672);

const run = uniqueName('topic');
const vhost = `${run}-vh`;
const user = `${run}-user`;
const n = (base: string) => `${base}-${run}`;
const PASSWORD = 'pw';

const setup: AccessSetup = {
  vhosts: [vhost],
  users: [{ name: user, password: PASSWORD }],
  permissions: [
    { user: 'guest', vhost, configure: '.*', write: '.*', read: '.*' },
    { user, vhost, configure: '.*', write: '.*', read: '.*' },
  ],
  topicPermissions: [
    { user, vhost, exchange: n('t'), write: '^{username}\\.', read: '^{vhost}\\.' },
    { user, vhost, exchange: 'amq.topic', write: '^allowed\\.', read: '' },
    { user, vhost, exchange: n('t2'), write: '^{client_id}\\.', read: '.*' },
    { user, vhost, exchange: n('x'), write: '^nothing$', read: '^nothing$' },
  ],
};

const publish = (x: string, key: string): Op['run'] => async (ch) => { ch.publish(x, key, Buffer.from('m')); };

const OPS: Op[] = [
  { name: 'publish {username} key', run: publish(n('t'), `${user}.a`) },
  { name: 'publish other key', run: publish(n('t'), 'other.a') },
  { name: 'publish amq.topic allowed', run: publish('amq.topic', 'allowed.1') },
  { name: 'publish amq.topic denied', run: publish('amq.topic', 'denied.1') },
  { name: 'publish {client_id} literal key', run: publish(n('t2'), '{client_id}.x') },
  { name: 'publish {client_id} other key', run: publish(n('t2'), 'abc.x') },
  { name: 'publish topic exchange without topic permission', run: publish(n('t3'), 'any.key') },
  { name: 'publish direct exchange with a topic permission', run: publish(n('x'), 'any') },
  { name: 'publish missing exchange', run: publish(n('nope'), 'any') },
  { name: 'queue.bind {vhost} key', run: (ch) => ch.bindQueue(n('q'), n('t'), `${vhost}.a`) },
  { name: 'queue.bind other key', run: (ch) => ch.bindQueue(n('q'), n('t'), 'other.a') },
  { name: 'queue.bind amq.topic empty pattern, key', run: (ch) => ch.bindQueue(n('q'), 'amq.topic', 'k') },
  { name: 'queue.bind amq.topic empty pattern, empty key', run: (ch) => ch.bindQueue(n('q'), 'amq.topic', '') },
  { name: 'queue.unbind other key', run: (ch) => ch.unbindQueue(n('q'), n('t'), 'other.a') },
  { name: 'exchange.bind {vhost} key', run: (ch) => ch.bindExchange(n('t3'), n('t'), `${vhost}.b`) },
  { name: 'exchange.bind other key', run: (ch) => ch.bindExchange(n('t3'), n('t'), 'b') },
  { name: 'queue.bind direct exchange with a topic permission', run: (ch) => ch.bindQueue(n('q'), n('x'), 'any') },
];

async function outcomes(port: number): Promise<Record<string, Outcome>> {
  const admin = await amqp.connect({ hostname: '127.0.0.1', port, username: 'guest', password: 'guest', vhost });
  try {
    const ch = await admin.createChannel();
    for (const t of ['t', 't2', 't3']) await ch.assertExchange(n(t), 'topic', { durable: false });
    await ch.assertExchange(n('x'), 'direct', { durable: false });
    await ch.assertQueue(n('q'), { durable: false });
  } finally {
    await admin.close();
  }
  const r = await OpRunner.connect(port, user, PASSWORD, vhost);
  const out: Record<string, Outcome> = {};
  try {
    for (const op of OPS) out[op.name] = await r.run(op.run);
  } finally {
    await r.close();
  }
  return out;
}

describe.skipIf(skip !== undefined)(`topic permissions, compared with the reference${skip === undefined ? '' : ` (skipped: ${skip})`}`, () => {
  const brokers = useBothBrokers(setup);


  it('publish and bind give the same answers on both brokers', async () => {
    const expected = await outcomes(refPort);
    expect(await outcomes(brokers.warren.port)).toEqual(expected);
    // The cases really differ (not everything allowed, not everything refused).
    expect(expected['publish {username} key']).toBe('ok');
    expect(expected['publish other key']).toBe(
      `403 (60/40) ACCESS_REFUSED - access to topic 'other.a' in exchange '${n('t')}' in vhost '${vhost}' refused for user '${user}'`);
  }, 60_000);
});
