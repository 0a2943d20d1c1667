/**
 * Vhost limits (max-connections, max-queues) and user limits (max-connections, max-channels),
 * compared with the reference: the same vhosts, users and limits are created there with rabbitmqctl
 * and on Warren through its management API, and each limit refuses with the same code, text and
 * class/method on both. A limit of 0 refuses everything. Skipped with a reason when the reference
 * (or rabbitmqctl) is not reachable.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { referenceUrl, uniqueName, waitFor } from '../../helpers/broker.js';
import { normalise } from '../helpers/access-ops.js';
import { referenceSetupSkip, type AccessSetup, useBothBrokers } from '../helpers/access-setup.js';
import {
  bits, decodeClose, methodFrame, plainResponse, rawHandshake, shortstr, table, type RawConnection,
} from '../helpers/raw-amqp.js';

const skip = await referenceSetupSkip();
const refPort = Number(new URL((await referenceUrl()) ?? 'amqp://x:5672').port || 5672);

const run = uniqueName('limits');
const vhost = `${run}-vh`;
const zeroVhost = `${run}-zero`;
const noQueuesVhost = `${run}-no-queues`;
const PASSWORD = 'pw';
const users = { plain: `${run}-plain`, connLimited: `${run}-one-conn`, chanLimited: `${run}-two-chan`, zero: `${run}-zero-conn` };

const setup: AccessSetup = {
  vhosts: [vhost, zeroVhost, noQueuesVhost],
  users: [
    { name: users.plain, password: PASSWORD },
    { name: users.connLimited, password: PASSWORD, limits: { 'max-connections': 1 } },
    { name: users.chanLimited, password: PASSWORD, limits: { 'max-channels': 2 } },
    { name: users.zero, password: PASSWORD, limits: { 'max-connections': 0 } },
  ],
  permissions: Object.values(users).flatMap((user) => [vhost, zeroVhost, noQueuesVhost].map((vh) => ({ user, vhost: vh, configure: '.*', write: '.*', read: '.*' }))),
  vhostLimits: [
    { vhost, limits: { 'max-connections': 3, 'max-queues': 2 } },
    { vhost: zeroVhost, limits: { 'max-connections': 0 } },
    { vhost: noQueuesVhost, limits: { 'max-queues': 0 } },
  ],
};

const open: RawConnection[] = [];
afterEach(() => {
  for (const c of open.splice(0)) c.destroy();
});

/** connection.open as `user`: 'ok' (the connection stays open until the test ends) or the close. */
async function connect(port: number, user: string, vh: string): Promise<{ outcome: string; conn: RawConnection }> {
  const h = await rawHandshake(port, { response: plainResponse(user, PASSWORD) }, false);
  open.push(h.conn);
  h.conn.send(methodFrame(0, 10, 40, [shortstr(vh), shortstr(''), bits(false)]));
  const f = await h.conn.next(10_000);
  if (f?.classId === 10 && f.methodId === 41) return { outcome: 'ok', conn: h.conn };
  if (f?.classId === 10 && f.methodId === 50) {
    const c = decodeClose(f);
    return { outcome: `${c.replyCode} (${c.classId}/${c.methodId}) ${c.replyText}`, conn: h.conn };
  }
  return { outcome: `unexpected ${f?.classId}/${f?.methodId}`, conn: h.conn };
}

/** channel.open on `id`: 'ok' or the close (channel or connection) it got. */
async function openChannel(conn: RawConnection, id: number): Promise<string> {
  conn.send(methodFrame(id, 20, 10, [shortstr('')]));
  const f = await conn.next(10_000);
  if (f?.classId === 20 && f.methodId === 11) return 'ok';
  if (f !== undefined && (f.methodId === 40 || f.methodId === 50)) {
    const c = decodeClose(f);
    return `${f.channel === 0 ? 'connection' : 'channel'} ${c.replyCode} (${c.classId}/${c.methodId}) ${c.replyText}`;
  }
  return `unexpected ${f?.classId}/${f?.methodId}`;
}

/** queue.declare on channel 1 (opened first): 'ok' or the channel close. */
async function declareQueue(conn: RawConnection, name: string): Promise<string> {
  conn.send(methodFrame(1, 50, 10, [
    { t: 'short', v: 0 }, shortstr(name), bits(false, false, name === '', true, false), table(),
  ]));
  const f = await conn.next(10_000);
  if (f?.classId === 50 && f.methodId === 11) return 'ok';
  if (f?.classId === 20 && f.methodId === 40) {
    const c = decodeClose(f);
    conn.send(methodFrame(1, 20, 41));
    return normalise(`${c.replyCode} (${c.classId}/${c.methodId}) ${c.replyText}`);
  }
  return `unexpected ${f?.classId}/${f?.methodId}`;
}

describe.skipIf(skip !== undefined)(`vhost and user limits, compared with the reference${skip === undefined ? '' : ` (skipped: ${skip})`}`, () => {
  const brokers = useBothBrokers(setup);


  /** Run a scenario on the reference, then on Warren; the outcomes must be equal. */
  async function same(scenario: (port: number) => Promise<string[]>): Promise<string[]> {
    const expected = await scenario(refPort);
    for (const c of open.splice(0)) c.destroy();
    const actual = await scenario(brokers.warren.port);
    expect(actual).toEqual(expected);
    return expected;
  }

  it('vhost max-connections: the connection over the limit gets 530', async () => {
    const out = await same(async (port) => {
      const r: string[] = [];
      for (let i = 0; i < 4; i++) r.push((await connect(port, users.plain, vhost)).outcome);
      return r;
    });
    expect(out.slice(0, 3)).toEqual(['ok', 'ok', 'ok']);
  });

  it('user max-connections, and a limit of 0', async () => {
    const out = await same(async (port) => {
      const first = await connect(port, users.connLimited, vhost);
      const second = await connect(port, users.connLimited, vhost);
      const zeroUser = await connect(port, users.zero, vhost);
      const zeroVhostConn = await connect(port, users.plain, zeroVhost);
      return [first.outcome, second.outcome, zeroUser.outcome, zeroVhostConn.outcome];
    });
    expect(out[0]).toBe('ok');
  });

  it('user max-channels: the channel over the limit closes the connection with 530', async () => {
    const out = await same(async (port) => {
      const { conn } = await connect(port, users.chanLimited, vhost);
      const r: string[] = [];
      for (let id = 1; id <= 3; id++) r.push(await openChannel(conn, id));
      return r;
    });
    expect(out.slice(0, 2)).toEqual(['ok', 'ok']);
  });

  it('vhost max-queues: a new queue over the limit gets 406, existing ones may be redeclared', async () => {
    const q = (i: number) => `${run}-q${i}`;
    await same(async (port) => {
      const { conn } = await connect(port, users.plain, vhost);
      expect(await openChannel(conn, 1)).toBe('ok');
      const r: string[] = [];
      r.push(await declareQueue(conn, q(1)), await declareQueue(conn, q(2)), await declareQueue(conn, q(3)));
      expect(await openChannel(conn, 1)).toBe('ok');
      r.push(await declareQueue(conn, q(1)));
      r.push(await declareQueue(conn, ''));
      // Clean up (auto-delete queues without consumers stay: delete them).
      for (const i of [1, 2]) {
        expect(await openChannel(conn, 1 + i)).toBe('ok');
        conn.send(methodFrame(1 + i, 50, 40, [{ t: 'short', v: 0 }, shortstr(q(i)), bits(false, false, false)]));
        await waitFor(async () => (await conn.next(10_000))?.methodId === 41);
      }
      return r;
    });
    const zero = await same(async (port) => {
      const { conn } = await connect(port, users.plain, noQueuesVhost);
      return [await openChannel(conn, 1), await declareQueue(conn, `${run}-z`)];
    });
    expect(zero[1]).toMatch(/^406 /);
  });
});
