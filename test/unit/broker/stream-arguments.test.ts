/**
 * Stream declare, policy and consume rules: the texts and the order of RabbitMQ's checks, as
 * observed on RabbitMQ 3.10 (declare rules, offsets, QoS, get/purge/nack refusals) and as RabbitMQ
 * 3.13 defines filtering (x-stream-filter-size-bytes, x-stream-filter, x-stream-match-unfiltered).
 */
import { describe, expect, it } from 'vitest';
import {
  checkStreamConsume,
  checkStreamName,
  erlangTerm,
  parseDuration,
  parseStreamArguments,
  parseStreamConsumerArguments,
  parseStreamOffset,
  streamGetRefused,
  streamPurgeRefused,
  streamRejectRefused,
  streamSettings,
  type StreamDeclare,
} from '../../../src/broker/stream-arguments.js';
import { AmqpError } from '../../../src/core/amqp-error.js';
import { fv, tableFrom, type FieldTable } from '../../../src/core/field-value.js';

function declare(args: Record<string, unknown>, props: Partial<StreamDeclare> = {}): StreamDeclare {
  return { name: 'q', durable: true, exclusive: false, autoDelete: false, args: tableFrom({ 'x-queue-type': 'stream', ...args }), ...props };
}

function error(fn: () => unknown): { code: number; text: string } {
  try {
    fn();
  } catch (e) {
    if (e instanceof AmqpError) return { code: e.code, text: e.text };
    throw e;
  }
  throw new Error('no error');
}

describe('x-max-age and interval units (rabbit_amqqueue:check_max_age)', () => {
  it.each([
    ['7D', 7 * 86_400_000], ['12h', 12 * 3_600_000], ['30m', 1_800_000], ['10s', 10_000], ['1Y', 365 * 86_400_000],
    ['1M', 30 * 86_400_000], ['001s', 1000],
  ])('%s = %i ms', (text, ms) => expect(parseDuration(text)).toBe(ms));
  it.each(['0s', '10x', '1.5h', '10 s', 'h', '', '-1h', 's', '7d', '1H'])('%s is invalid', (text) => expect(parseDuration(text)).toBeUndefined());
});

describe('stream declare', () => {
  it('accepts RabbitMQ stream arguments and returns the settings', () => {
    const a = parseStreamArguments(declare({ 'x-max-age': '7D', 'x-max-length-bytes': 1_000_000, 'x-stream-max-segment-size-bytes': 10,
      'x-stream-filter-size-bytes': 32, 'x-initial-cluster-size': 1, 'x-queue-leader-locator': 'client-local', 'x-foo': 1 }), '/');
    expect(a).toEqual({ maxLengthBytes: 1_000_000, maxAge: '7D', maxAgeMs: 7 * 86_400_000, maxSegmentSizeBytes: 10, filterSizeBytes: 32 });
    expect(parseStreamArguments(declare({ 'x-stream-max-segment-size-bytes': 3_000_000_000, 'x-max-length-bytes': 0 }), '/').maxSegmentSizeBytes).toBe(3_000_000_000);
  });

  it('refuses a server-named stream before anything else', () => {
    expect(error(() => checkStreamName(''))).toEqual({ code: 406, text: 'PRECONDITION_FAILED - Cannot declare a server-named queue for type rabbit_stream_queue' });
  });

  const cases: Array<[Record<string, unknown>, string]> = [
    [{ 'x-max-age': '10x' }, "invalid arg 'x-max-age' for queue 'q' in vhost '/': invalid_max_age"],
    [{ 'x-max-age': '0s' }, "invalid arg 'x-max-age' for queue 'q' in vhost '/': invalid_max_age"],
    [{ 'x-max-age': fv.int(5) }, "invalid arg 'x-max-age' for queue 'q' in vhost '/': {unacceptable_type,signedint}"],
    [{ 'x-max-length-bytes': -1 }, "invalid arg 'x-max-length-bytes' for queue 'q' in vhost '/': {value_negative,-1}"],
    [{ 'x-max-length-bytes': 'a' }, `invalid arg 'x-max-length-bytes' for queue 'q' in vhost '/': "expected integer, got longstr"`],
    [{ 'x-stream-max-segment-size-bytes': -5 }, "invalid arg 'x-stream-max-segment-size-bytes' for queue 'q' in vhost '/': {value_negative,-5}"],
    [{ 'x-stream-max-segment-size-bytes': 3_000_000_001 }, 'Exceeded max value for x-stream-max-segment-size-bytes'],
    [{ 'x-stream-filter-size-bytes': 300 }, 'Invalid value for  x-stream-filter-size-bytes'],
    [{ 'x-stream-filter-size-bytes': 15 }, 'Invalid value for  x-stream-filter-size-bytes'],
    ...['x-max-length', 'x-message-ttl', 'x-expires', 'x-dead-letter-exchange', 'x-max-priority', 'x-overflow', 'x-single-active-consumer',
      'x-queue-mode', 'x-delivery-limit', 'x-quorum-initial-group-size', 'x-max-in-memory-length', 'x-max-in-memory-bytes', 'x-queue-master-locator']
      .map((k) => [{ [k]: k === 'x-single-active-consumer' ? true : k.includes('mode') || k.includes('exchange') || k.includes('locator') || k === 'x-overflow' ? 'v' : 5 },
        `invalid arg '${k}' for queue 'q' in vhost '/' of queue type rabbit_stream_queue`] as [Record<string, unknown>, string]),
  ];
  it.each(cases)('%j -> 406 %s', (args, text) => {
    expect(error(() => parseStreamArguments(declare(args), '/'))).toEqual({ code: 406, text: `PRECONDITION_FAILED - ${text}` });
  });

  it('checks properties after arguments, auto-delete first (RabbitMQ 3.10 order)', () => {
    const text = (props: Partial<StreamDeclare>, args: Record<string, unknown> = {}): string => error(() => parseStreamArguments(declare(args, props), '/')).text;
    expect(text({ durable: false })).toBe("PRECONDITION_FAILED - invalid property 'non-durable' for queue 'q' in vhost '/'");
    expect(text({ exclusive: true })).toBe("PRECONDITION_FAILED - invalid property 'exclusive-owner' for queue 'q' in vhost '/'");
    expect(text({ autoDelete: true, exclusive: true, durable: false })).toBe("PRECONDITION_FAILED - invalid property 'auto-delete' for queue 'q' in vhost '/'");
    expect(text({ durable: false, exclusive: true })).toBe("PRECONDITION_FAILED - invalid property 'exclusive-owner' for queue 'q' in vhost '/'");
    expect(text({ durable: false }, { 'x-max-age': '10x' })).toContain('invalid_max_age');
    expect(text({ durable: false }, { 'x-max-length': 5 })).toContain('of queue type rabbit_stream_queue');
    expect(text({ durable: false }, { 'x-stream-max-segment-size-bytes': 4_000_000_000 })).toContain("invalid property 'non-durable'");
    expect(text({}, { 'x-max-length': 5, 'x-stream-max-segment-size-bytes': 4_000_000_000 })).toContain("'x-max-length'");
  });
});

describe('stream policies', () => {
  const args = parseStreamArguments(declare({ 'x-max-age': '7D', 'x-max-length-bytes': 5000 }), '/');
  it('uses the arguments without a policy, RabbitMQ defaults otherwise', () => {
    expect(streamSettings(args, undefined)).toEqual({ maxBytes: 5000, maxAgeMs: 7 * 86_400_000, maxSegmentBytes: 500_000_000, filterBytes: undefined });
  });
  it('lets the policy win over the argument (rabbit_stream_queue:policy_precedence)', () => {
    expect(streamSettings(args, { 'max-age': '1h', 'max-length-bytes': 90_000, 'stream-max-segment-size-bytes': 1000 }))
      .toEqual({ maxBytes: 90_000, maxAgeMs: 3_600_000, maxSegmentBytes: 1000, filterBytes: undefined });
    expect(streamSettings(args, { 'max-age': 'bogus', 'max-length-bytes': -1 }).maxAgeMs).toBe(7 * 86_400_000);
  });
});

describe('x-stream-offset', () => {
  const now = 1_700_000_000_000;
  it.each([
    [undefined, { kind: 'next' }],
    [fv.str('first'), { kind: 'first' }],
    [fv.str('last'), { kind: 'last' }],
    [fv.str('next'), { kind: 'next' }],
    [fv.int(5), { kind: 'offset', offset: 5 }],
    [fv.long(2 ** 40), { kind: 'offset', offset: 2 ** 40 }],
    [{ type: 'b', value: 0 } as const, { kind: 'offset', offset: 0 }],
    [fv.int(-100), { kind: 'tail', count: 100 }],
    [{ type: 'T', value: 1_600_000_000 } as const, { kind: 'timestamp', ms: 1_600_000_000_000 }],
    [fv.str('1h'), { kind: 'timestamp', ms: now - 3_600_000 }],
    [fv.void(), { kind: 'first' }],
  ])('%j -> %j', (v, spec) => expect(parseStreamOffset(v, now)).toEqual(spec));

  it.each([fv.str('foo'), fv.str('3'), fv.str('0s'), fv.bool(true), { type: 'd', value: 2.5 } as const, fv.table([])])('%j is invalid', (v) => {
    expect(parseStreamOffset(v, now)).toBeUndefined();
  });
});

describe('stream consumer arguments and QoS', () => {
  const parse = (args: FieldTable) => parseStreamConsumerArguments(args, 'q', '/', 0);
  it('reads filters as RabbitMQ 3.13 does (strings only) and automatic offset tracking as LavinMQ', () => {
    expect(parse(tableFrom({ 'x-stream-filter': 'ca' }))).toEqual({ offset: { kind: 'next' }, filter: ['ca'], matchUnfiltered: false, trackOffsets: false });
    expect(parse(tableFrom({ 'x-stream-filter': ['ca', 5, 'tx'], 'x-stream-match-unfiltered': true })).filter).toEqual(['ca', 'tx']);
    expect(parse(tableFrom({ 'x-stream-filter': ['ca'], 'x-stream-match-unfiltered': true })).matchUnfiltered).toBe(true);
    expect(parse(tableFrom({ 'x-stream-match-unfiltered': true })).matchUnfiltered).toBe(false);
    expect(parse(tableFrom({ 'x-stream-automatic-offset-tracking': true, 'x-stream-offset': 'first' })).trackOffsets).toBe(true);
    expect(parse(tableFrom({ 'x-stream-offset': null })).trackOffsets).toBe(true);
  });

  it('refuses other queue types consumer arguments, then bad offsets, with RabbitMQ texts', () => {
    expect(error(() => parse(tableFrom({ 'x-priority': 'a', 'x-stream-offset': '3' })))).toEqual({ code: 406,
      text: "PRECONDITION_FAILED - invalid arg 'x-priority' for queue 'q' in vhost '/' of queue type rabbit_stream_queue" });
    expect(error(() => parse(tableFrom({ 'x-cancel-on-ha-failover': true }))).text).toContain("'x-cancel-on-ha-failover'");
    expect(error(() => parse(tableFrom({ 'x-stream-offset': '3' })))).toEqual({ code: 406,
      text: `PRECONDITION_FAILED - invalid arg 'x-stream-offset' for queue 'q' in vhost '/': {invalid_stream_offset_arg,{longstr,<<"3">>}}` });
    expect(error(() => parse(tableFrom({ 'x-stream-offset': true }))).text).toContain('{invalid_stream_offset_arg,{bool,true}}');
  });

  it('refuses consumes in RabbitMQ order: prefetch (406), no-ack (540), global QoS (540)', () => {
    expect(error(() => checkStreamConsume('q', '/', true, 0, 0))).toEqual({ code: 406,
      text: "PRECONDITION_FAILED - consumer prefetch count is not set for 'queue 'q' in vhost '/''" });
    expect(error(() => checkStreamConsume('q', '/', false, 0, 10)).code).toBe(406);
    expect(error(() => checkStreamConsume('q', '/', true, 5, 0))).toEqual({ code: 540,
      text: "NOT_IMPLEMENTED - automatic acknowledgement not supported by stream queues queue 'q' in vhost '/'" });
    expect(error(() => checkStreamConsume('q', '/', false, 5, 10))).toEqual({ code: 540,
      text: "NOT_IMPLEMENTED - queue 'q' in vhost '/' does not support global qos" });
    expect(() => checkStreamConsume('q', '/', false, 5, 0)).not.toThrow();
  });

  it('refuses get, purge and nack/reject with 540 (a connection error)', () => {
    expect(streamGetRefused('q', '/').text).toBe("NOT_IMPLEMENTED - basic.get not supported by stream queues queue 'q' in vhost '/'");
    expect(streamPurgeRefused('q', '/').text).toBe("NOT_IMPLEMENTED - queue.purge not supported by stream queues queue 'q' in vhost '/'");
    expect(streamRejectRefused('q', '/').text).toBe("NOT_IMPLEMENTED - basic.nack and basic.reject not supported by stream queues queue 'q' in vhost '/'");
    expect(streamGetRefused('q', '/').hard).toBe(true);
  });

  it('prints values the way RabbitMQ prints them', () => {
    expect(erlangTerm(fv.str('a"b'))).toBe('{longstr,<<97,34,98>>}');
    expect(erlangTerm({ type: 'd', value: 2.5 })).toBe('{double,2.5}');
  });
});
