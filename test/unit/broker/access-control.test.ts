/**
 * UserAccess: rabbit_auth_backend_internal's permission rules (unanchored regex search, '' as ^$,
 * the default exchange as amq.default, no entry = nothing allowed), topic permissions ({username},
 * {vhost}, {client_id} kept literal, non-topic exchanges and exchanges without an entry free), and
 * the per-channel cache dropped when the permission store changes.
 */
import { describe, expect, it } from 'vitest';
import { UNRESTRICTED, UserAccess } from '../../../src/broker/access-control.js';
import { PermissionStore } from '../../../src/broker/permission-store.js';

function refusal(fn: () => void): string {
  try {
    fn();
  } catch (e: unknown) {
    return (e as Error).message;
  }
  return 'allowed';
}

describe('UserAccess', () => {
  it('refuses everything without a permission entry in the vhost', () => {
    const a = new UserAccess(new PermissionStore(), 'u', 'v');
    expect(refusal(() => a.check('queue', 'q', 'read'))).toBe("ACCESS_REFUSED - access to queue 'q' in vhost 'v' refused for user 'u'");
  });

  it('searches the expression in the name; empty means nothing; the default exchange is amq.default', () => {
    const p = new PermissionStore();
    p.set({ user: 'u', vhost: 'v', configure: 'mine', write: '', read: '^amq\\.default$' });
    const a = new UserAccess(p, 'u', 'v');
    expect(refusal(() => a.check('queue', 'not-mine-either', 'configure'))).toBe('allowed');
    expect(refusal(() => a.check('exchange', 'x', 'write'))).toMatch(/access to exchange 'x' in vhost 'v' refused/);
    expect(refusal(() => a.check('exchange', '', 'read'))).toBe('allowed');
    expect(refusal(() => a.check('exchange', '', 'write'))).toBe("ACCESS_REFUSED - access to exchange 'amq.default' in vhost 'v' refused for user 'u'");
  });

  it('sees permission changes at the next check, grants and revocations alike', () => {
    const p = new PermissionStore();
    p.set({ user: 'u', vhost: 'v', configure: '', write: '.*', read: '' });
    const a = new UserAccess(p, 'u', 'v');
    expect(refusal(() => a.check('exchange', 'x', 'write'))).toBe('allowed');
    expect(refusal(() => a.check('exchange', 'x', 'write'))).toBe('allowed'); // remembered
    p.set({ user: 'u', vhost: 'v', configure: '', write: '^y$', read: '' });
    expect(refusal(() => a.check('exchange', 'x', 'write'))).toMatch(/refused/);
    p.clear('u', 'v');
    expect(refusal(() => a.check('exchange', 'y', 'write'))).toMatch(/refused/);
    p.set({ user: 'u', vhost: 'v', configure: '', write: '.*', read: '' });
    expect(refusal(() => a.check('exchange', 'y', 'write'))).toBe('allowed');
  });

  it('keeps queues and exchanges apart in what it remembers', () => {
    const p = new PermissionStore();
    p.set({ user: 'u', vhost: 'v', configure: '', write: '^x$', read: '' });
    const a = new UserAccess(p, 'u', 'v');
    expect(refusal(() => a.check('exchange', 'x', 'write'))).toBe('allowed');
    expect(refusal(() => a.check('queue', 'x', 'write'))).toBe('allowed');
    expect(refusal(() => a.check('queue', 'x', 'read'))).toMatch(/refused/);
  });

  it('an expression that does not compile (imported unchecked) matches nothing', () => {
    const p = new PermissionStore();
    p.restore({ user: 'u', vhost: 'v', configure: '(', write: '(', read: '(' });
    expect(refusal(() => new UserAccess(p, 'u', 'v').check('queue', '(', 'read'))).toMatch(/refused/);
  });

  it('topic permissions: write and read patterns, {username} and {vhost} expanded, {client_id} literal', () => {
    const p = new PermissionStore();
    p.set({ user: 'u', vhost: 'v', configure: '.*', write: '.*', read: '.*' });
    p.setTopic({ user: 'u', vhost: 'v', exchange: 't', write: '^{username}\\.{vhost}\\.', read: '^{client_id}$' });
    const a = new UserAccess(p, 'u', 'v');
    const t = { name: 't', type: 'topic' };
    expect(refusal(() => a.checkTopic(t, 'u.v.x', 'write'))).toBe('allowed');
    expect(refusal(() => a.checkTopic(t, 'w.v.x', 'write'))).toBe(
      "ACCESS_REFUSED - access to topic 'w.v.x' in exchange 't' in vhost 'v' refused for user 'u'");
    expect(refusal(() => a.checkTopic(t, '{client_id}', 'read'))).toBe('allowed');
    expect(refusal(() => a.checkTopic(t, 'c1', 'read'))).toMatch(/refused/);
    // Not a topic exchange, or a topic exchange without an entry: nothing to check.
    expect(refusal(() => a.checkTopic({ name: 't', type: 'direct' }, 'w', 'write'))).toBe('allowed');
    expect(refusal(() => a.checkTopic({ name: 'other', type: 'topic' }, 'w', 'write'))).toBe('allowed');
    // The connection's variables (RabbitMQ's authz context) are used when given.
    expect(refusal(() => new UserAccess(p, 'u', 'v', { client_id: 'c1' }).checkTopic(t, 'c1', 'read'))).toBe('allowed');
    p.clearTopic('u', 'v', 't');
    expect(refusal(() => a.checkTopic(t, 'w.v.x', 'write'))).toBe('allowed');
  });

  it('UNRESTRICTED checks nothing', () => {
    expect(refusal(() => UNRESTRICTED.check('queue', 'q', 'configure'))).toBe('allowed');
    expect(UNRESTRICTED.internal).toBe(true);
  });
});
