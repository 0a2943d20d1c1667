/**
 * Deeply nested field tables (issue 11): a durable queue.declare whose arguments nest tables 2,250
 * and 8,000 levels deep is answered declare-ok as RabbitMQ answers it, and afterwards every other
 * client's durable and exclusive declares are still answered (before the fix: 541 "could not save
 * definitions: Maximum call stack size exceeded" or 501, then no declare-ok for anyone). Headers
 * bindings with such arguments route and unbind. The same raw session is played against the
 * reference (skipped with a reason when none is reachable) and the answers compared; the deep queue
 * also survives a Warren restart.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { FieldValue } from '../../../src/core/field-value.js';
import { referenceUrl, startTestBroker, uniqueName } from '../../helpers/broker.js';
import { Inbox } from '../helpers/clients.js';
import { useBroker } from '../helpers/setup.js';
import {
  FRAME_METHOD, bits, bodyFrame, decodeClose, frame, methodFrame, rawHandshake, rawOpenChannel, short, shortstr,
  type RawConnection,
} from '../helpers/raw-amqp.js';

const ctx = useBroker();
const reference = await referenceUrl();
const onReference = process.env['WARREN_TEST_TARGET'] === 'reference';
const DEPTHS = [2_250, 8_000];

/** A field table WITH its length prefix: { a: { a: ... { a: true } } }, `depth` tables, built inside-out. */
function nestedTable(depth: number): Buffer {
  // Each level is: key length 1, "a", 'F', 4-byte length; the innermost holds a: t true.
  const leaf = Buffer.from([1, 0x61, 0x74, 1]);
  const level = 7;
  const b = Buffer.alloc(4 + (depth - 1) * level + leaf.length);
  leaf.copy(b, b.length - leaf.length);
  for (let i = depth - 2; i >= 0; i--) {
    const at = 4 + i * level;
    b[at] = 1;
    b[at + 1] = 0x61;
    b[at + 2] = 0x46;
    b.writeUInt32BE(b.length - at - level, at + 3);
  }
  b.writeUInt32BE(b.length - 4, 0);
  return b;
}

function rawMethod(ch: number, classId: number, methodId: number, args: Buffer): Buffer {
  const ids = Buffer.alloc(4);
  ids.writeUInt16BE(classId, 0);
  ids.writeUInt16BE(methodId, 2);
  return frame(FRAME_METHOD, ch, Buffer.concat([ids, args]));
}

const declareArgs = (name: string, flags: number, table: Buffer): Buffer =>
  Buffer.concat([Buffer.from([0, 0, name.length]), Buffer.from(name), Buffer.from([flags]), table]);
const DURABLE = 2;
const EXCLUSIVE = 4;

/** The answer to the next method sent, as a comparable string. */
async function answer(conn: RawConnection): Promise<string> {
  const f = await conn.next(20_000);
  if (f === undefined) return 'socket closed';
  if (f.type === FRAME_METHOD && (f.classId === 10 || f.classId === 20) && f.methodId === 40) {
    const c = decodeClose(f);
    return `close ${c.replyCode} ${c.replyText.replace(/<<.*$/, '')}`;
  }
  return `${f.classId}.${f.methodId}`;
}

/**
 * One connection declares a durable queue with `depth` nested tables and declares it again; a second
 * connection then declares a durable and an exclusive queue; the deep queue takes a message; a
 * headers binding with the same deep arguments routes a message whose headers are that deep, and
 * unbinds. Returns every answer, in order.
 */
async function deepSession(port: number, depth: number): Promise<string[]> {
  const out: string[] = [];
  const deep = uniqueName(`deep${depth}`);
  const other = uniqueName('after-deep');
  const table = nestedTable(depth);
  const a = await rawHandshake(port);
  const b = await rawHandshake(port);
  try {
    await rawOpenChannel(a.conn, 1);
    await rawOpenChannel(b.conn, 1);
    a.conn.send(rawMethod(1, 50, 10, declareArgs(deep, DURABLE, table)));
    out.push(`deep declare: ${await answer(a.conn)}`);
    a.conn.send(rawMethod(1, 50, 10, declareArgs(deep, DURABLE, table)));
    out.push(`deep redeclare: ${await answer(a.conn)}`);
    b.conn.send(rawMethod(1, 50, 10, declareArgs(`${other}-d`, DURABLE, Buffer.alloc(4))));
    out.push(`other durable: ${await answer(b.conn)}`);
    b.conn.send(rawMethod(1, 50, 10, declareArgs(`${other}-e`, EXCLUSIVE, Buffer.alloc(4))));
    out.push(`other exclusive: ${await answer(b.conn)}`);

    // A headers binding (amq.match) with { x-match: all, a: <deep> } and a message whose headers are { a: <deep> }.
    const xmatch = Buffer.from([7, ...Buffer.from('x-match'), 0x53, 0, 0, 0, 3, ...Buffer.from('all')]);
    const bindTable = Buffer.concat([Buffer.alloc(4), xmatch, table.subarray(4)]);
    bindTable.writeUInt32BE(bindTable.length - 4, 0);
    const bindArgs = Buffer.concat([Buffer.from([0, 0, deep.length]), Buffer.from(deep), Buffer.from([9]),
      Buffer.from('amq.match'), Buffer.from([0]), Buffer.from([0]), bindTable]);
    a.conn.send(rawMethod(1, 50, 20, bindArgs));
    out.push(`bind: ${await answer(a.conn)}`);
    const props = Buffer.alloc(14);
    props.writeUInt16BE(60, 0);
    props.writeBigUInt64BE(3n, 4);
    props.writeUInt16BE(0x2000, 12); // headers only
    a.conn.send(Buffer.concat([
      methodFrame(1, 60, 40, [short(0), shortstr('amq.match'), shortstr(''), bits(false, false)]),
      frame(2, 1, Buffer.concat([props, table])),
      bodyFrame(1, Buffer.from('abc')),
    ]));
    // basic.get until the message is there (routing is asynchronous on neither broker, but be safe).
    let got = '';
    for (let i = 0; i < 50 && got !== '60.71'; i++) {
      a.conn.send(methodFrame(1, 60, 70, [short(0), shortstr(deep), bits(true)]));
      got = await answer(a.conn);
      if (got === '60.71') {
        await a.conn.next(); // header
        const body = await a.conn.next();
        out.push(`get: ${body?.payload.toString() ?? 'none'}`);
      }
    }
    if (got !== '60.71') out.push(`get: ${got}`);
    const unbindArgs = Buffer.concat([Buffer.from([0, 0, deep.length]), Buffer.from(deep), Buffer.from([9]),
      Buffer.from('amq.match'), Buffer.from([0]), bindTable]); // queue.unbind: no no-wait bit
    a.conn.send(rawMethod(1, 50, 50, unbindArgs));
    out.push(`unbind: ${await answer(a.conn)}`);
  } finally {
    for (const q of [deep, `${other}-d`]) {
      a.conn.send(methodFrame(1, 50, 40, [short(0), shortstr(q), bits(false, false, false)]));
      await a.conn.expectMethod(50, 41).catch(() => undefined);
    }
    a.conn.destroy();
    b.conn.destroy();
  }
  return out;
}

const EXPECTED = [
  'deep declare: 50.11', 'deep redeclare: 50.11', 'other durable: 50.11', 'other exclusive: 50.11',
  'bind: 50.21', 'get: abc', 'unbind: 50.51',
];

describe('queue.declare with deeply nested arguments', () => {
  for (const depth of DEPTHS) {
    it(`${depth.toLocaleString('en')} levels: declare-ok, and every other client's declares are still answered`, async () => {
      expect(await deepSession(ctx.port, depth)).toEqual(EXPECTED);
      // And a stock client on the same broker is unaffected.
      const ch = await ctx.clients.channel();
      const q = ctx.name('stock');
      await ch.assertQueue(q, { durable: true });
      const inbox = new Inbox();
      await ch.consume(q, inbox.handler, { noAck: true });
      ch.sendToQueue(q, Buffer.from('ok'));
      await inbox.count(1);
      await ch.deleteQueue(q);
    });
  }

  it.skipIf(reference === undefined || onReference)(
    `the reference answers the same session the same way${reference === undefined ? ' (skipped: no reference broker reachable)' : ''}`,
    async () => {
      const port = Number(new URL(reference!).port || 5672);
      for (const depth of DEPTHS) expect(await deepSession(port, depth)).toEqual(EXPECTED);
    });

  it.skipIf(onReference)('the management API still lists queues, bindings and definitions (Warren only)', async () => {
    const broker = await startTestBroker({ managementPort: 0 });
    const name = uniqueName('deep-mgmt');
    try {
      const h = await rawHandshake(broker.port);
      await rawOpenChannel(h.conn, 1);
      const table = nestedTable(8_000);
      h.conn.send(rawMethod(1, 50, 10, declareArgs(name, DURABLE, table)));
      expect(await answer(h.conn)).toBe('50.11');
      h.conn.send(rawMethod(1, 50, 20, Buffer.concat([Buffer.from([0, 0, name.length]), Buffer.from(name), Buffer.from([9]),
        Buffer.from('amq.match'), Buffer.from([0, 0]), table])));
      expect(await answer(h.conn)).toBe('50.21');
      h.conn.destroy();
      const auth = { authorization: `Basic ${Buffer.from('guest:guest').toString('base64')}` };
      for (const path of ['/api/queues', '/api/bindings', '/api/definitions', `/api/queues/%2F/${name}`]) {
        const r = await fetch(`${broker.warren!.managementUrl!}${path}`, { headers: auth });
        expect(r.status, path).toBe(200);
        expect(await r.text(), path).toContain(name);
      }
    } finally {
      await broker.close();
    }
  });

  it.skipIf(onReference)('the deep durable queue and its arguments survive a restart (Warren only: the reference cannot be restarted)', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'warren-deep-'));
    const name = uniqueName('deep-restart');
    try {
      const first = await startTestBroker({ dataDir });
      try {
        const h = await rawHandshake(first.port);
        await rawOpenChannel(h.conn, 1);
        h.conn.send(rawMethod(1, 50, 10, declareArgs(name, DURABLE, nestedTable(8_000))));
        expect(await answer(h.conn)).toBe('50.11');
        h.conn.destroy();
      } finally {
        await first.close();
      }
      const second = await startTestBroker({ dataDir });
      try {
        const q = second.warren!.broker.vhosts.get('/')!.queues.get(name);
        expect(q).toBeDefined();
        let depth = 0;
        let v: FieldValue | undefined = q!.options.arguments[0]?.value;
        while (v !== undefined && v.type === 'F') { depth++; v = v.value[0]?.value; }
        expect(depth).toBe(7_999); // the outermost table is the arguments table itself
        expect(v).toEqual({ type: 't', value: true });
      } finally {
        await second.close();
      }
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
