/**
 * Validation of the extension arguments, with RabbitMQ 3.10's exact 406 texts: every argument RabbitMQ
 * gives meaning to is checked at queue.declare (or basic.consume / basic.publish) rather than silently
 * ignored. Texts are those the reference broker sends (amqplib encodes small integers as 'byte', hence
 * the type names in some texts).
 */
import { describe, expect, it } from 'vitest';
import { useBroker } from '../helpers/setup.js';
import { closedWith, expectCode } from '../helpers/clients.js';

const ctx = useBroker();

describe('queue.declare argument validation (406 PRECONDITION_FAILED)', () => {
  it.each([
    ['x-message-ttl negative', { 'x-message-ttl': -1 }, "invalid arg 'x-message-ttl' for queue '%q' in vhost '/': {value_negative,-1}"],
    ['x-message-ttl a string', { 'x-message-ttl': 'abc' }, "invalid arg 'x-message-ttl' for queue '%q' in vhost '/': \"expected integer, got longstr\""],
    ['x-message-ttl a double', { 'x-message-ttl': 1.5 }, "invalid arg 'x-message-ttl' for queue '%q' in vhost '/': \"expected integer, got double\""],
    ['x-message-ttl over 10 years', { 'x-message-ttl': 315_360_000_001 }, "invalid arg 'x-message-ttl' for queue '%q' in vhost '/': {value_too_large,315360000001}"],
    ['x-message-ttl 2^53', { 'x-message-ttl': 2 ** 53 }, "invalid arg 'x-message-ttl' for queue '%q' in vhost '/': {value_too_large,9007199254740992}"],
    ['x-expires over 10 years', { 'x-expires': 315_360_000_001 }, "invalid arg 'x-expires' for queue '%q' in vhost '/': {value_too_large,315360000001}"],
    ['x-expires zero', { 'x-expires': 0 }, "invalid arg 'x-expires' for queue '%q' in vhost '/': {value_zero,0}"],
    ['x-expires a string', { 'x-expires': 'abc' }, "invalid arg 'x-expires' for queue '%q' in vhost '/': \"expected integer, got longstr\""],
    ['x-max-length-bytes negative', { 'x-max-length-bytes': -1 }, "invalid arg 'x-max-length-bytes' for queue '%q' in vhost '/': {value_negative,-1}"],
    ['x-dead-letter-exchange not a string', { 'x-dead-letter-exchange': 123 }, "invalid type 'byte' for arg 'x-dead-letter-exchange' in queue '%q' in vhost '/'"],
    ['x-dead-letter-routing-key without an exchange', { 'x-dead-letter-routing-key': 'k' }, "invalid arg 'x-dead-letter-routing-key' for queue '%q' in vhost '/': routing_key_but_no_dlx_defined"],
    ['x-max-priority a string', { 'x-max-priority': 'abc' }, "invalid arg 'x-max-priority' for queue '%q' in vhost '/': \"expected integer, got longstr\""],
    ['x-single-active-consumer an integer', { 'x-single-active-consumer': 1 }, "invalid arg 'x-single-active-consumer' for queue '%q' in vhost '/': {unacceptable_type,byte}"],
    ['x-queue-mode unknown', { 'x-queue-mode': 'bogus' }, "invalid arg 'x-queue-mode' for queue '%q' in vhost '/': \"unsupported queue mode 'bogus'\""],
    ['x-overflow not a string', { 'x-overflow': 1 }, "invalid arg 'x-overflow' for queue '%q' in vhost '/': {unacceptable_type,byte}"],
  ])('%s', async (_label, args, text) => {
    const ch = await ctx.clients.channel();
    const q = ctx.name('arg');
    const err = await expectCode(ch.assertQueue(q, { exclusive: true, arguments: args }), 406);
    expect(err.message).toContain(`PRECONDITION_FAILED - ${text.replace('%q', q)}`);
    expect([err.classId, err.methodId]).toEqual([50, 10]);
  });

  it('TTL and expiry up to 10 years are accepted, beyond Node\'s 2^31-1 ms timer limit included', async () => {
    const ch = await ctx.clients.channel();
    for (const ms of [2 ** 31 - 1, 2 ** 31, 2 ** 32 - 1, 2 ** 32, 315_360_000_000]) {
      await ch.assertQueue(ctx.name('arg-long'), { exclusive: true, arguments: { 'x-message-ttl': ms, 'x-expires': ms } });
    }
  });

  it('a dead-letter exchange that does not exist (yet) is accepted', async () => {
    const ch = await ctx.clients.channel();
    await ch.assertQueue(ctx.name('arg-dlx'), { exclusive: true, arguments: { 'x-dead-letter-exchange': ctx.name('later') } });
  });
});

describe('other extension arguments', () => {
  it('basic.consume x-priority must be an integer', async () => {
    const conn = await ctx.clients.connect();
    const setup = await ctx.clients.channel(conn);
    const q = ctx.name('arg-xprio');
    await setup.assertQueue(q, { exclusive: true });
    const ch = await ctx.clients.channel(conn);
    const err = await expectCode(ch.consume(q, () => undefined, { arguments: { 'x-priority': 'abc' } }), 406);
    expect(err.message).toContain(`PRECONDITION_FAILED - invalid arg 'x-priority' for queue '${q}' in vhost '/': "expected integer, got longstr"`);
  });

  it('a negative expiration closes the channel with 406', async () => {
    const setup = await ctx.clients.channel();
    const q = ctx.name('arg-exp');
    await setup.assertQueue(q, { exclusive: true });
    const ch = await ctx.clients.channel();
    ch.sendToQueue(q, Buffer.from('x'), { expiration: '-1' });
    const err = await closedWith(ch);
    expect(err?.code).toBe(406);
    expect(err?.message).toContain("PRECONDITION_FAILED - invalid expiration '-1': {value_negative,-1}");
  });
});
