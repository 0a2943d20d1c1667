/**
 * Runtime policies and operator policies: RabbitMQ's validation texts, precedence (highest priority
 * alone, operator policy merged with the lower numeric value winning), re-application to existing
 * queues and exchanges, and the parameters they are stored as.
 */
import { UNRESTRICTED } from '../../../src/broker/access-control.js';
import { describe, expect, it, vi } from 'vitest';
import { fv } from '../../../src/core/field-value.js';
import { Broker, DEFAULT_BROKER_CONFIG } from '../../../src/broker/broker.js';
import { ControlError } from '../../../src/broker/control-error.js';
import type { PolicySpec } from '../../../src/broker/policy-store.js';

function broker(): Broker {
  return new Broker({ ...DEFAULT_BROKER_CONFIG });
}

const spec = (definition: PolicySpec['definition'], extra: Partial<PolicySpec> = {}): PolicySpec =>
  ({ pattern: '^q', definition, priority: 0, 'apply-to': 'all', ...extra });

function reason(fn: () => unknown): string {
  try {
    fn();
  } catch (e: unknown) {
    if (e instanceof ControlError) return `${e.kind}: ${e.reason}`;
    throw e;
  }
  return 'no error';
}

describe('policy validation (RabbitMQ 3.10 texts)', () => {
  const b = broker();
  it.each([
    [{ 'max-length': 'x' }, 'invalid: <<"x">> is not a valid maximum length'],
    [{ 'message-ttl': -1 }, 'invalid: -1 is not a valid message TTL'],
    [{ expires: 0 }, 'invalid: 0 is not a valid queue expiry'],
    [{ overflow: 'sideways' }, 'invalid: <<"sideways">> is not a valid overflow value'],
    [{ bogus: 1 }, 'invalid: [{<<"bogus">>,1}] are not recognised policy settings'],
    [{}, 'invalid: no policy provided'],
  ])('%j -> %s', (definition, expected) => {
    expect(reason(() => b.policies.put('policy', '/', 'p', spec(definition)))).toBe(expected);
  });

  it('checks pattern, apply-to and priority', () => {
    expect(reason(() => b.policies.put('policy', '/', 'p', spec({ 'max-length': 1 }, { pattern: '(' }))))
      .toMatch(/^invalid: pattern should be regular expression but is invalid: /);
    expect(reason(() => b.policies.put('policy', '/', 'p', spec({ 'max-length': 1 }, { 'apply-to': 'bogus' as 'all' }))))
      .toBe("invalid: apply-to 'bogus' unrecognised; should be 'queues', 'exchanges' or 'all'");
  });

  it('operator policies take only the numeric limits', () => {
    expect(reason(() => b.policies.put('operator', '/', 'op', spec({ 'alternate-exchange': 'x' }))))
      .toBe('invalid: [{<<"alternate-exchange">>,<<"x">>}] are not recognised policy settings');
  });

  it('refuses a vhost that does not exist', () => {
    expect(reason(() => b.policies.put('policy', 'nope', 'p', spec({ 'max-length': 1 })))).toBe('missing: vhost_not_found');
  });

  it('nothing is stored when validation fails', () => {
    expect(b.policies.list('policy')).toEqual([]);
    expect(b.parameters.list()).toEqual([]);
  });
});

describe('policy precedence and re-application', () => {
  it('applies the highest-priority policy alone, merged with the operator policy (lower limit wins)', () => {
    const b = broker();
    b.policies.put('policy', '/', 'low', spec({ 'max-length': 10, 'message-ttl': 1000 }, { priority: 1 }));
    b.policies.put('policy', '/', 'high', spec({ 'max-length': 20 }, { priority: 5, pattern: '^qh' }));
    b.policies.put('operator', '/', 'op', spec({ 'max-length': 15, expires: 60000 }));
    const e = b.policies.effective('/', 'qhigh', 'queues');
    expect(e.policy?.name).toBe('high');
    expect(e.operatorPolicy?.name).toBe('op');
    expect(e.definition).toEqual({ 'max-length': 15, expires: 60000 });
    expect(b.policies.effective('/', 'qlow', 'queues').definition).toEqual({ 'max-length': 10, 'message-ttl': 1000, expires: 60000 });
    expect(b.policies.effective('/', 'other', 'queues')).toEqual({ policy: undefined, operatorPolicy: undefined, definition: {} });
  });

  it('new declarations and existing queues follow runtime changes', () => {
    const b = broker();
    const v = b.vhosts.get('/')!;
    const declare = (name: string, args = [] as { key: string; value: ReturnType<typeof fv.int> }[]) => v.declareQueue({
      name, passive: false, durable: false, exclusive: false, autoDelete: false, args, connectionId: 1,
    }, UNRESTRICTED);
    const before = declare('q1');
    expect(before.settings.maxLength).toBeUndefined();
    b.policies.put('policy', '/', 'p', spec({ 'max-length': 3, 'dead-letter-exchange': 'dlx' }));
    expect(before.settings.maxLength).toBe(3);
    expect(before.settings.deadLetterExchange).toBe('dlx');
    expect(declare('q2').settings.maxLength).toBe(3);
    // The queue's own argument: the lower limit wins.
    expect(declare('q3', [{ key: 'x-max-length', value: fv.int(1) }]).settings.maxLength).toBe(1);
    b.policies.delete('policy', '/', 'p');
    expect(before.settings.maxLength).toBeUndefined();
    expect(before.settings.deadLetterExchange).toBeUndefined();
  });

  it('sets and clears the alternate exchange of exchanges without their own argument', () => {
    const b = broker();
    const v = b.vhosts.get('/')!;
    const x = v.declareExchange({ name: 'qx', type: 'direct', passive: false, durable: false, autoDelete: false, internal: false, args: [] }, UNRESTRICTED);
    const own = v.declareExchange({
      name: 'qown', type: 'direct', passive: false, durable: false, autoDelete: false, internal: false,
      args: [{ key: 'alternate-exchange', value: fv.str('mine') }],
    }, UNRESTRICTED);
    b.policies.put('policy', '/', 'ae', spec({ 'alternate-exchange': 'ae' }, { 'apply-to': 'exchanges' }));
    expect(x.alternate).toBe('ae');
    expect(own.alternate).toBe('mine');
    b.policies.delete('policy', '/', 'ae');
    expect(x.alternate).toBeUndefined();
    expect(own.alternate).toBe('mine');
  });

  it('an expires policy deletes an unused queue; removing the policy disarms it', () => {
    vi.useFakeTimers();
    try {
      const b = broker();
      const v = b.vhosts.get('/')!;
      for (const name of ['q-kept', 'q-expired']) {
        v.declareQueue({ name, passive: false, durable: false, exclusive: false, autoDelete: false, args: [], connectionId: 1 }, UNRESTRICTED);
      }
      b.policies.put('policy', '/', 'gone', spec({ expires: 1000 }, { pattern: '^q-kept$' }));
      b.policies.put('policy', '/', 'stays', spec({ expires: 1000 }, { pattern: '^q-expired$' }));
      b.policies.delete('policy', '/', 'gone');
      vi.advanceTimersByTime(5000);
      expect(v.queues.has('q-kept')).toBe(true);
      expect(v.queues.has('q-expired')).toBe(false);
    } finally {
      vi.useRealTimers();
    }
  });

  it('accepts a definition written as [key, value] pairs (rabbitmqctl export_definitions) and stores an object', () => {
    const b = broker();
    b.parameters.set('operator_policy', '/', 'op', { pattern: '^q', definition: [['message-ttl', 60000]], priority: 0, 'apply-to': 'queues' });
    expect(b.policies.get('operator', '/', 'op')?.definition).toEqual({ 'message-ttl': 60000 });
    expect(b.parameters.get('operator_policy', '/', 'op')?.value).toMatchObject({ definition: { 'message-ttl': 60000 } });
  });

  it('policies are stored as parameters of components policy and operator_policy', () => {
    const b = broker();
    b.policies.put('policy', '/', 'p', spec({ 'max-length': 3 }));
    b.policies.put('operator', '/', 'op', spec({ 'max-length': 3 }));
    expect(b.parameters.list().map((p) => `${p.component}/${p.name}`)).toEqual(['policy/p', 'operator_policy/op']);
  });

  it('policies from configuration are set at construction', () => {
    const b = new Broker({
      ...DEFAULT_BROKER_CONFIG,
      policies: [{ name: 'cfg', pattern: '.*', applyTo: 'queues', priority: 0, definition: { 'max-length': 5 } }],
    });
    expect(b.policies.get('policy', '/', 'cfg')?.definition).toEqual({ 'max-length': 5 });
  });
});
