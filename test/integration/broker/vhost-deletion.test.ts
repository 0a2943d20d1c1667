/**
 * Deleting a vhost or a user closes their connections with 320 CONNECTION_FORCED and RabbitMQ's
 * text (rabbit_connection_tracking), compared with the reference (deleted there with rabbitmqctl,
 * here through the management API); and a deleted vhost's queues, messages, exchanges, bindings,
 * policies and permissions are gone for good: nothing comes back after a restart, and a vhost made
 * again under the same name starts empty.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import amqp from 'amqplib';
import { afterAll, describe, expect, it } from 'vitest';
import { referenceUrl, startTestBroker, uniqueName, type TestBroker } from '../../helpers/broker.js';
import { rabbitmqctl, referenceSetupSkip, setUpReference, setUpWarren, type AccessSetup } from '../helpers/access-setup.js';
import { bits, decodeClose, methodFrame, plainResponse, rawHandshake, shortstr } from '../helpers/raw-amqp.js';

const skip = await referenceSetupSkip();
const refPort = Number(new URL((await referenceUrl()) ?? 'amqp://x:5672').port || 5672);
const GUEST = `Basic ${Buffer.from('guest:guest').toString('base64')}`;

async function api(base: string, method: string, path: string, body?: unknown): Promise<number> {
  const res = await fetch(base + path, {
    method, headers: { authorization: GUEST, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  await res.arrayBuffer();
  return res.status;
}

/** Open a raw connection, then wait for the close the server sends after `act`. */
async function closedBy(port: number, user: string, vhost: string, act: () => Promise<void>): Promise<string> {
  const h = await rawHandshake(port, { response: plainResponse(user, 'pw') }, false);
  try {
    h.conn.send(methodFrame(0, 10, 40, [shortstr(vhost), shortstr(''), bits(false)]));
    await h.conn.expectMethod(10, 41);
    await act();
    const f = await h.conn.next(15_000);
    if (f?.classId !== 10 || f.methodId !== 50) return `unexpected ${f?.classId}/${f?.methodId}`;
    const c = decodeClose(f);
    return `${c.replyCode} (${c.classId}/${c.methodId}) ${c.replyText}`;
  } finally {
    h.conn.destroy();
  }
}

describe.skipIf(skip !== undefined)(`deleting vhosts and users closes their connections${skip === undefined ? '' : ` (skipped: ${skip})`}`, () => {
  let warren: TestBroker | undefined;
  const cleanups: (() => Promise<void>)[] = [];
  afterAll(async () => {
    for (const c of cleanups) await c();
    await warren?.close();
  }, 60_000);

  it('with 320 and the same text on both brokers', async () => {
    warren = await startTestBroker({ managementPort: 0 });
    const run = uniqueName('vhdel');
    const setup: AccessSetup = {
      vhosts: [`${run}-a`, `${run}-b`],
      users: [{ name: `${run}-u`, password: 'pw' }, { name: `${run}-gone`, password: 'pw' }],
      permissions: [`${run}-u`, `${run}-gone`].flatMap((user) => [`${run}-a`, `${run}-b`].map((vhost) => ({
        user, vhost, configure: '.*', write: '.*', read: '.*' }))),
    };
    await setUpWarren(warren.warren!.managementUrl!, setup);
    cleanups.push(await setUpReference(setup));
    const base = warren.warren!.managementUrl!;
    const vhostClose = {
      reference: await closedBy(refPort, `${run}-u`, `${run}-a`, async () => { await rabbitmqctl('delete_vhost', `${run}-a`); }),
      warren: await closedBy(warren.port, `${run}-u`, `${run}-a`, async () => { expect(await api(base, 'DELETE', `/api/vhosts/${run}-a`)).toBe(204); }),
    };
    // RabbitMQ races two closers here: rabbit_vhost:delete's tracking sweep ("is deleted") and the
    // channel seeing the vhost's supervisor stop ("is down"); whichever runs first wins. Warren
    // always answers with the sweep's text, which RabbitMQ sends in the common case.
    expect([`320 (0/0) CONNECTION_FORCED - vhost '${run}-a' is deleted`, `320 (0/0) CONNECTION_FORCED - vhost '${run}-a' is down`])
      .toContain(vhostClose.reference);
    expect(vhostClose.warren).toBe(`320 (0/0) CONNECTION_FORCED - vhost '${run}-a' is deleted`);
    const userClose = {
      reference: await closedBy(refPort, `${run}-gone`, `${run}-b`, async () => { await rabbitmqctl('delete_user', `${run}-gone`); }),
      warren: await closedBy(warren.port, `${run}-gone`, `${run}-b`, async () => { expect(await api(base, 'DELETE', `/api/users/${run}-gone`)).toBe(204); }),
    };
    expect(userClose.warren).toBe(userClose.reference);
  }, 60_000);
});

describe('a deleted vhost is gone durably', () => {
  it('its queues, messages, exchanges, bindings, policies and permissions do not come back', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'warren-vhdel-'));
    let b = await startTestBroker({ managementPort: 0, dataDir });
    try {
      const base = () => b.warren!.managementUrl!;
      const vh = 'doomed';
      expect(await api(base(), 'PUT', `/api/vhosts/${vh}`, {})).toBe(201);
      expect(await api(base(), 'PUT', `/api/policies/${vh}/p`, { pattern: '.*', definition: { 'max-length': 5 } })).toBe(201);
      const conn = await amqp.connect(`${b.url}/${vh}`);
      const ch = await conn.createConfirmChannel();
      await ch.assertExchange('x', 'direct', { durable: true });
      await ch.assertQueue('q', { durable: true });
      await ch.bindQueue('q', 'x', 'k');
      for (let i = 0; i < 3; i++) ch.publish('x', 'k', Buffer.from(`m${i}`), { persistent: true });
      await ch.waitForConfirms();
      conn.on('error', () => undefined);
      const closed = new Promise((r) => conn.once('close', r));
      expect(await api(base(), 'DELETE', `/api/vhosts/${vh}`)).toBe(204);
      await closed;
      const broker = b.warren!.broker;
      expect(broker.vhosts.has(vh)).toBe(false);
      expect(broker.policies.list('policy', vh)).toEqual([]);
      expect(broker.permissions.list({ vhost: vh })).toEqual([]);
      const keys = broker.persistence!.store.queueNames().filter((k) => k.includes(vh));
      expect(keys).toEqual([]);

      await b.close();
      b = await startTestBroker({ managementPort: 0, dataDir });
      expect(b.warren!.broker.vhosts.has(vh)).toBe(false);
      expect(await api(b.warren!.managementUrl!, 'PUT', `/api/vhosts/${vh}`, {})).toBe(201);
      const again = b.warren!.broker.vhosts.get(vh)!;
      expect([...again.queues.keys()]).toEqual([]);
      expect(again.exchanges.has('x')).toBe(false);
      expect(b.warren!.broker.policies.list('policy', vh)).toEqual([]);
    } finally {
      await b.close();
      await rm(dataDir, { recursive: true, force: true });
    }
  }, 60_000);
});
