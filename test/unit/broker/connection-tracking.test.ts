/**
 * ConnectionTracking: connection.open admitted in rabbit_reader's order (vhost max-connections or
 * "vhost X not found", user max-connections, vhost access) with its 530 texts; channels counted per
 * user across connections; negative limits mean none, 0 refuses everything.
 */
import { describe, expect, it } from 'vitest';
import { Broker, DEFAULT_BROKER_CONFIG } from '../../../src/broker/broker.js';

function refusal(fn: () => void): string {
  try {
    fn();
  } catch (e: unknown) {
    return (e as Error).message;
  }
  return 'ok';
}

function broker(): Broker {
  const b = new Broker({ ...DEFAULT_BROKER_CONFIG });
  b.putVhost('v', { description: '', tags: [], tracing: false });
  b.users.put('u', { password: 'pw' }, []);
  b.permissions.set({ user: 'u', vhost: 'v', configure: '', write: '', read: '' });
  return b;
}

describe('ConnectionTracking', () => {
  it('refuses an unknown vhost and a vhost without permissions, with RabbitMQ texts', () => {
    const t = broker().tracking;
    expect(refusal(() => t.admit('u', 'nope'))).toBe('NOT_ALLOWED - vhost nope not found');
    expect(refusal(() => t.admit('u', '/'))).toBe("NOT_ALLOWED - access to vhost '/' refused for user 'u'");
    expect(refusal(() => t.admit('u', 'v'))).toBe('ok');
    expect(t.connectionsIn('v')).toBe(1);
  });

  it('vhost max-connections comes before the user limit, which comes before access', () => {
    const b = broker();
    b.limits.set('v', 'max-connections', 1);
    b.users.setLimit('u', 'max-connections', 1);
    const t = b.tracking;
    t.admit('u', 'v');
    expect(refusal(() => t.admit('u', 'v'))).toBe("NOT_ALLOWED - access to vhost 'v' refused for user 'u': connection limit (1) is reached");
    b.limits.set('v', 'max-connections', -1);
    expect(refusal(() => t.admit('u', 'v'))).toBe("NOT_ALLOWED - connection refused for user 'u': user connection limit (1) is reached");
    t.release('u', 'v');
    expect(refusal(() => t.admit('u', 'v'))).toBe('ok');
    b.users.setLimit('u', 'max-connections', 0);
    expect(refusal(() => t.admit('u', 'v'))).toMatch(/user connection limit \(0\)/);
  });

  it('max-channels counts the user\'s channels over all connections', () => {
    const b = broker();
    b.users.setLimit('u', 'max-channels', 2);
    const t = b.tracking;
    t.admitChannel('u');
    t.admitChannel('u');
    expect(refusal(() => t.admitChannel('u'))).toBe(
      "NOT_ALLOWED - number of channels opened for user 'u' has reached the maximum allowed user limit of (2)");
    t.releaseChannel('u');
    expect(refusal(() => t.admitChannel('u'))).toBe('ok');
    expect(t.channelsOf('u')).toBe(2);
    expect(refusal(() => t.admitChannel('someone-else'))).toBe('ok');
  });
});
