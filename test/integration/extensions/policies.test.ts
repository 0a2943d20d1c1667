/**
 * Policies (rabbitmq.com/docs/parameters#policies): definitions applied to queues/exchanges by name
 * pattern, the highest-priority matching policy alone applying (policies never merge), apply-to
 * scoping, and RabbitMQ's argument-over-policy precedence (rabbit_amqqueue_process:
 * process_args_policy): for expires, message-ttl, max-length and max-length-bytes the LOWER of policy
 * and argument applies; for dead-letter-exchange, dead-letter-routing-key, overflow and an exchange's
 * alternate-exchange the ARGUMENT wins.
 * Warren takes policies from configuration (broker.policies, RabbitMQ's definition keys); on the
 * reference the same policies are set with rabbitmqctl set_policy and cleared afterwards.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ConfirmChannel } from 'amqplib';
import { useBroker } from '../helpers/setup.js';
import { roundTrip } from '../helpers/clients.js';
import { uniqueName, waitFor } from '../../helpers/broker.js';
import { drain, extensionOptions, getEventually, getUnacked, rabbitmqctlWorks, setReferencePolicies, xDeathOf, type PolicyConfig } from './extension-helpers.js';

/** Every name this file uses starts with P, so its policies can never touch anyone else's queues. */
const P = uniqueName('pol');
const esc = P.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const n = (kind: string, suffix: string): string => `${P}.${kind}.${suffix}`;
const DLX = `${P}.x.dlx`;
const DLX_ARG = `${P}.x.dlx-arg`;
const AE = `${P}.x.ae-target`;
const AE_ARG = `${P}.x.ae-arg`;

const policies: PolicyConfig[] = [
  { name: `${P}-ttl`, pattern: `^${esc}\\.ttl\\.`, applyTo: 'queues', priority: 0, definition: { 'message-ttl': 30 } },
  { name: `${P}-maxlen`, pattern: `^${esc}\\.maxlen\\.`, applyTo: 'queues', priority: 0, definition: { 'max-length': 2 } },
  { name: `${P}-dlx`, pattern: `^${esc}\\.dlx\\.`, applyTo: 'queues', priority: 0, definition: { 'dead-letter-exchange': DLX, 'dead-letter-routing-key': 'dead' } },
  { name: `${P}-expires`, pattern: `^${esc}\\.expires\\.`, applyTo: 'queues', priority: 0, definition: { expires: 100 } },
  { name: `${P}-rejpub`, pattern: `^${esc}\\.rejpub\\.`, applyTo: 'queues', priority: 0, definition: { 'max-length': 1, overflow: 'reject-publish' } },
  { name: `${P}-min`, pattern: `^${esc}\\.min\\.`, applyTo: 'queues', priority: 0, definition: { 'max-length': 3, 'dead-letter-exchange': DLX, overflow: 'drop-head' } },
  { name: `${P}-ae`, pattern: `^${esc}\\.ae\\.`, applyTo: 'exchanges', priority: 0, definition: { 'alternate-exchange': AE } },
  { name: `${P}-prio-low`, pattern: `^${esc}\\.prio\\.`, applyTo: 'queues', priority: 1, definition: { 'max-length': 1, 'message-ttl': 600_000 } },
  { name: `${P}-prio-high`, pattern: `^${esc}\\.prio\\.high`, applyTo: 'queues', priority: 5, definition: { 'max-length': 2 } },
  { name: `${P}-scope`, pattern: `^${esc}\\.scope\\.`, applyTo: 'exchanges', priority: 0, definition: { 'max-length': 1 } },
  { name: `${P}-qq`, pattern: `^${esc}\\.qq\\.`, applyTo: 'queues', priority: 0, definition: { 'delivery-limit': 0, 'dead-letter-exchange': '', 'dead-letter-routing-key': `${P}.qq-dead.q` } },
  { name: `${P}-all`, pattern: `^${esc}\\.all\\.`, applyTo: 'all', priority: 0, definition: { 'max-length': 1, 'alternate-exchange': AE } },
];

const ctx = useBroker(extensionOptions({ policies }));
let skipReason: string | undefined;
let clearReference: (() => Promise<void>) | undefined;

beforeAll(async () => {
  if (!ctx.isReference) return;
  if (!(await rabbitmqctlWorks())) {
    skipReason = 'rabbitmqctl cannot reach the reference broker, so its policies cannot be set';
    return;
  }
  clearReference = await setReferencePolicies(policies);
}, 180_000);

afterAll(async () => {
  await clearReference?.();
}, 180_000);

async function confirmed(ch: ConfirmChannel, queue: string, bodies: readonly string[]): Promise<Array<'ack' | 'nack'>> {
  return Promise.all(bodies.map((b) => new Promise<'ack' | 'nack'>((resolve) => {
    ch.sendToQueue(queue, Buffer.from(b), {}, (err: unknown) => resolve(err === null || err === undefined ? 'ack' : 'nack'));
  })));
}

describe('policies apply by name pattern', () => {
  it('message-ttl', async (t) => {
    t.skip(skipReason !== undefined, skipReason);
    const ch = await ctx.clients.channel();
    const q = n('ttl', 'q');
    await ch.assertQueue(q, { exclusive: true });
    ch.sendToQueue(q, Buffer.from('gone'));
    await waitFor(async () => (await ch.checkQueue(q)).messageCount === 0);
    // A queue outside the pattern keeps its messages.
    const other = `${P}.nottl.q`;
    await ch.assertQueue(other, { exclusive: true });
    ch.sendToQueue(other, Buffer.from('kept'));
    expect((await getEventually(ch, other)).content.toString()).toBe('kept');
  });

  it('max-length (drop-head)', async (t) => {
    t.skip(skipReason !== undefined, skipReason);
    const ch = await ctx.clients.confirmChannel();
    const q = n('maxlen', 'q');
    await ch.assertQueue(q, { exclusive: true });
    await confirmed(ch, q, ['1', '2', '3']);
    expect(await drain(ch, q)).toEqual(['2', '3']);
  });

  it('overflow reject-publish', async (t) => {
    t.skip(skipReason !== undefined, skipReason);
    const ch = await ctx.clients.confirmChannel();
    const q = n('rejpub', 'q');
    await ch.assertQueue(q, { exclusive: true });
    expect(await confirmed(ch, q, ['1', '2'])).toEqual(['ack', 'nack']);
    expect(await drain(ch, q)).toEqual(['1']);
  });

  it('dead-letter-exchange and dead-letter-routing-key', async (t) => {
    t.skip(skipReason !== undefined, skipReason);
    const ch = await ctx.clients.channel();
    const q = n('dlx', 'q');
    const dead = n('dead', 'q');
    await ch.assertExchange(DLX, 'direct', { autoDelete: false });
    try {
      await ch.assertQueue(dead, { exclusive: true });
      await ch.bindQueue(dead, DLX, 'dead');
      await ch.assertQueue(q, { exclusive: true });
      ch.sendToQueue(q, Buffer.from('bad'));
      ch.reject(await getUnacked(ch, q), false);
      const d = await getEventually(ch, dead);
      expect(d.fields.routingKey).toBe('dead');
      expect(xDeathOf(d)[0]).toMatchObject({ reason: 'rejected', queue: q });
    } finally {
      await ch.deleteExchange(DLX);
    }
  });

  it('expires', async (t) => {
    t.skip(skipReason !== undefined, skipReason);
    const ch = await ctx.clients.channel();
    const q = n('expires', 'q');
    await ch.assertQueue(q, { durable: false });
    // Existence probe that does not renew the lease (a passive declare would): queue.bind.
    await waitFor(async () => {
      const probe = await ctx.clients.channel();
      probe.on('error', () => undefined);
      try {
        await probe.bindQueue(q, 'amq.direct', `probe-${q}`);
        await probe.close();
        return false;
      } catch {
        return true;
      }
    });
  });

  it('alternate-exchange (applied to exchanges)', async (t) => {
    t.skip(skipReason !== undefined, skipReason);
    const ch = await ctx.clients.channel();
    const ex = n('ae', 'x');
    const caught = n('caught', 'q');
    await ch.assertExchange(AE, 'fanout', { autoDelete: false });
    await ch.assertExchange(ex, 'direct', { autoDelete: false });
    try {
      await ch.assertQueue(caught, { exclusive: true });
      await ch.bindQueue(caught, AE, '');
      ch.publish(ex, 'unroutable', Buffer.from('to-ae'));
      const m = await getEventually(ch, caught);
      expect(m.fields.exchange).toBe(ex);
      expect(m.fields.routingKey).toBe('unroutable');
    } finally {
      await ch.deleteExchange(ex);
      await ch.deleteExchange(AE);
    }
  });

  it('apply-to exchanges does not touch a queue of the same pattern; apply-to all touches both', async (t) => {
    t.skip(skipReason !== undefined, skipReason);
    const ch = await ctx.clients.confirmChannel();
    const scoped = n('scope', 'q');
    await ch.assertQueue(scoped, { exclusive: true });
    await confirmed(ch, scoped, ['1', '2', '3']);
    expect(await drain(ch, scoped)).toEqual(['1', '2', '3']);
    const both = n('all', 'q');
    await ch.assertQueue(both, { exclusive: true });
    await confirmed(ch, both, ['1', '2']);
    expect(await drain(ch, both)).toEqual(['2']);
    const bothX = n('all', 'x');
    const caught = n('caught-all', 'q');
    await ch.assertExchange(AE, 'fanout', { autoDelete: false });
    await ch.assertExchange(bothX, 'direct', { autoDelete: false });
    try {
      await ch.assertQueue(caught, { exclusive: true });
      await ch.bindQueue(caught, AE, '');
      ch.publish(bothX, 'nothing', Buffer.from('ae'));
      expect((await getEventually(ch, caught)).content.toString()).toBe('ae');
    } finally {
      await ch.deleteExchange(bothX);
      await ch.deleteExchange(AE);
    }
  });

  it('delivery-limit (quorum queues) with a policy dead-letter target', async (t) => {
    t.skip(skipReason !== undefined, skipReason);
    const ch = await ctx.clients.channel();
    const q = n('qq', 'q');
    const dead = `${P}.qq-dead.q`;
    await ch.assertQueue(dead, { durable: true });
    await ch.assertQueue(q, { durable: true, arguments: { 'x-queue-type': 'quorum' } });
    try {
      ch.sendToQueue(q, Buffer.from('poison'));
      ch.nack(await getUnacked(ch, q), false, true);
      const d = await getEventually(ch, dead);
      expect(xDeathOf(d)[0]).toMatchObject({ reason: 'delivery_limit', queue: q });
    } finally {
      await ch.deleteQueue(q);
      await ch.deleteQueue(dead);
    }
  });

  it('only the highest-priority matching policy applies (no merging)', async (t) => {
    t.skip(skipReason !== undefined, skipReason);
    const ch = await ctx.clients.confirmChannel();
    const high = n('prio', 'high-q');
    const low = n('prio', 'low-q');
    await ch.assertQueue(high, { exclusive: true });
    await ch.assertQueue(low, { exclusive: true });
    await confirmed(ch, high, ['1', '2', '3']);
    await confirmed(ch, low, ['1', '2', '3']);
    // high: max-length 2 from the priority-5 policy; the priority-1 policy's max-length 1 does not mix in.
    expect(await drain(ch, high)).toEqual(['2', '3']);
    expect(await drain(ch, low)).toEqual(['3']);
  });
});

describe('argument-over-policy precedence', () => {
  it('max-length: the lower of argument and policy applies', async (t) => {
    t.skip(skipReason !== undefined, skipReason);
    const ch = await ctx.clients.confirmChannel();
    const argLower = n('min', 'arg-lower');
    const policyLower = n('min', 'policy-lower');
    await ch.assertQueue(argLower, { exclusive: true, arguments: { 'x-max-length': 1 } });
    await ch.assertQueue(policyLower, { exclusive: true, arguments: { 'x-max-length': 10 } });
    const bodies = ['1', '2', '3', '4', '5'];
    await confirmed(ch, argLower, bodies);
    await confirmed(ch, policyLower, bodies);
    expect(await drain(ch, argLower)).toEqual(['5']);
    expect(await drain(ch, policyLower)).toEqual(['3', '4', '5']);
  });

  it('message-ttl: the lower of argument and policy applies', async (t) => {
    t.skip(skipReason !== undefined, skipReason);
    const ch = await ctx.clients.channel();
    // Policy ttl 30 ms vs argument 600 000 ms: the policy's lower value wins.
    const q = n('ttl', 'arg-higher');
    await ch.assertQueue(q, { exclusive: true, arguments: { 'x-message-ttl': 600_000 } });
    ch.sendToQueue(q, Buffer.from('gone'));
    await waitFor(async () => (await ch.checkQueue(q)).messageCount === 0);
    // Policy ttl 600 000 ms (prio-low) vs argument 30 ms: the argument's lower value wins.
    const q2 = n('prio', 'low-ttl-arg');
    await ch.assertQueue(q2, { exclusive: true, arguments: { 'x-message-ttl': 30 } });
    ch.sendToQueue(q2, Buffer.from('gone too'));
    await waitFor(async () => (await ch.checkQueue(q2)).messageCount === 0);
  });

  it('dead-letter-exchange: the argument wins over the policy', async (t) => {
    t.skip(skipReason !== undefined, skipReason);
    const ch = await ctx.clients.channel();
    const q = n('min', 'dlx-arg');
    const viaArg = n('via-arg', 'q');
    const viaPolicy = n('via-policy', 'q');
    await ch.assertExchange(DLX, 'fanout', { autoDelete: false });
    await ch.assertExchange(DLX_ARG, 'fanout', { autoDelete: false });
    try {
      await ch.assertQueue(viaArg, { exclusive: true });
      await ch.assertQueue(viaPolicy, { exclusive: true });
      await ch.bindQueue(viaArg, DLX_ARG, '');
      await ch.bindQueue(viaPolicy, DLX, '');
      await ch.assertQueue(q, { exclusive: true, arguments: { 'x-dead-letter-exchange': DLX_ARG } });
      ch.sendToQueue(q, Buffer.from('which'));
      ch.reject(await getUnacked(ch, q), false);
      expect((await getEventually(ch, viaArg)).content.toString()).toBe('which');
      await roundTrip(ch);
      expect((await ch.checkQueue(viaPolicy)).messageCount).toBe(0);
    } finally {
      await ch.deleteExchange(DLX);
      await ch.deleteExchange(DLX_ARG);
    }
  });

  it('overflow: the argument wins over the policy', async (t) => {
    t.skip(skipReason !== undefined, skipReason);
    const ch = await ctx.clients.confirmChannel();
    // Policy: max-length 3, overflow drop-head; argument: reject-publish.
    const q = n('min', 'overflow-arg');
    await ch.assertQueue(q, { exclusive: true, arguments: { 'x-overflow': 'reject-publish' } });
    expect(await confirmed(ch, q, ['1', '2', '3', '4'])).toEqual(['ack', 'ack', 'ack', 'nack']);
    expect(await drain(ch, q)).toEqual(['1', '2', '3']);
  });

  it('alternate-exchange: the exchange argument wins over the policy', async (t) => {
    t.skip(skipReason !== undefined, skipReason);
    const ch = await ctx.clients.channel();
    const ex = n('ae', 'with-arg');
    const viaArg = n('ae-arg', 'q');
    const viaPolicy = n('ae-policy', 'q');
    await ch.assertExchange(AE, 'fanout', { autoDelete: false });
    await ch.assertExchange(AE_ARG, 'fanout', { autoDelete: false });
    await ch.assertExchange(ex, 'direct', { autoDelete: false, alternateExchange: AE_ARG });
    try {
      await ch.assertQueue(viaArg, { exclusive: true });
      await ch.assertQueue(viaPolicy, { exclusive: true });
      await ch.bindQueue(viaArg, AE_ARG, '');
      await ch.bindQueue(viaPolicy, AE, '');
      ch.publish(ex, 'unroutable', Buffer.from('ae'));
      expect((await getEventually(ch, viaArg)).content.toString()).toBe('ae');
      await roundTrip(ch);
      expect((await ch.checkQueue(viaPolicy)).messageCount).toBe(0);
    } finally {
      await ch.deleteExchange(ex);
      await ch.deleteExchange(AE);
      await ch.deleteExchange(AE_ARG);
    }
  });
});
