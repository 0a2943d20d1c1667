/**
 * Differential check of protocol-level error replies against the reference RabbitMQ: the same bad
 * bytes are sent to RabbitMQ over a raw socket (the client side built with our own FrameWriter,
 * FrameReader and decodeMethod) and fed to our decoders; the reply code, text and class/method ids
 * must match. Skipped with a reason when no reference broker is reachable.
 */
import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { AmqpError } from '../../../src/core/amqp-error.js';
import { tableFrom } from '../../../src/core/field-value.js';
import { FrameReader } from '../../../src/protocol/frame-reader.js';
import { FrameWriter } from '../../../src/protocol/frame-writer.js';
import {
  decodeMethod, writeChannelOpen, writeConnectionCloseOk, writeConnectionOpen, writeConnectionStartOk, writeConnectionTuneOk,
  type ConnectionClose, type Method,
} from '../../../src/protocol/generated/methods.js';
import { PROTOCOL_HEADER } from '../../../src/protocol/protocol-header.js';
import { referenceUrl } from '../../helpers/broker.js';

const url = await referenceUrl();
const FRAME_MAX = 131072;

interface Reply { replyCode: number; replyText: string; classId: number; methodId: number }

/** Open a connection and channel 1 on the reference broker, send `bad`, return its connection.close. */
function rabbitReply(bad: Buffer): Promise<Reply | undefined> {
  const u = new URL(url!);
  return new Promise((resolve, reject) => {
    const sock = net.connect(Number(u.port || 5672), u.hostname);
    const w = new FrameWriter();
    const reader = new FrameReader(0);
    const send = (): void => { w.flushTo(sock); };
    const timer = setTimeout(() => { sock.destroy(); reject(new Error('no reply from the reference broker')); }, 8000);
    let result: Reply | undefined;
    const onMethod = (m: Method): void => {
      switch (m.kind) {
        case 'connection.start':
          writeConnectionStartOk(w, 0, tableFrom({ product: 'warren-protocol-test' }), 'PLAIN',
            Buffer.from(`\0${decodeURIComponent(u.username)}\0${decodeURIComponent(u.password)}`), 'en_US');
          break;
        case 'connection.tune':
          writeConnectionTuneOk(w, 0, m.channelMax, FRAME_MAX, 0);
          writeConnectionOpen(w, 0, decodeURIComponent(u.pathname.slice(1)) || '/');
          break;
        case 'connection.open-ok':
          writeChannelOpen(w, 1);
          break;
        case 'channel.open-ok':
          send();
          sock.write(bad);
          return;
        case 'connection.close': {
          const c: ConnectionClose = m;
          result = { replyCode: c.replyCode, replyText: c.replyText, classId: c.failingClassId, methodId: c.failingMethodId };
          writeConnectionCloseOk(w, 0);
          send();
          clearTimeout(timer);
          resolve(result);
          sock.destroy();
          return;
        }
        default:
          break;
      }
      send();
    };
    sock.on('connect', () => sock.write(PROTOCOL_HEADER));
    sock.on('data', (chunk: Buffer) => {
      reader.push(chunk, { onFrame: (type, _ch, p, s, e) => { if (type === 1) onMethod(decodeMethod(p, s, e)); } });
    });
    sock.on('error', () => { /* RabbitMQ may reset after its close; the close is what we compare */ });
    sock.on('close', () => { clearTimeout(timer); resolve(result); });
  });
}

function frame(type: number, channel: number, payload: number[] | Buffer, end = 0xce): Buffer {
  const p = Buffer.from(payload);
  const b = Buffer.alloc(p.length + 8);
  b[0] = type;
  b.writeUInt16BE(channel, 1);
  b.writeUInt32BE(p.length, 3);
  p.copy(b, 7);
  b[b.length - 1] = end;
  return b;
}

/** What Warren's protocol layer raises for the same bytes (after the handshake, frameMax negotiated). */
function ourReply(bad: Buffer): Reply {
  const reader = new FrameReader(FRAME_MAX);
  try {
    reader.push(bad, { onFrame: (type, _ch, p, s, e) => { if (type === 1) decodeMethod(p, s, e); } });
  } catch (e) {
    if (e instanceof AmqpError) return { replyCode: e.code, replyText: e.text, classId: e.classId, methodId: e.methodId };
    throw e;
  }
  throw new Error('our decoders accepted the input');
}

const cases: [string, Buffer][] = [
  ['basic.qos without its bit octet', frame(1, 1, [0, 60, 0, 10, 0, 0, 0, 0, 0, 1])],
  ['basic.qos with a trailing octet', frame(1, 1, [0, 60, 0, 10, 0, 0, 0, 0, 0, 1, 0, 7])],
  ['queue.declare cut short', frame(1, 1, [0, 50, 0, 10, 0, 0, 3, 97])],
  ['exchange.delete with a short string past the end', frame(1, 1, [0, 40, 0, 20, 0, 0, 9, 97, 0])],
  ['frame-end octet 0x00', frame(1, 1, [0, 60, 0, 10, 0, 0, 0, 0, 0, 1, 0], 0)],
  ['unknown frame type with a printable payload', frame(5, 0, Buffer.from('hello world, long payload here'))],
  ['unknown frame type with binary payload', frame(5, 1, [1, 2, 3])],
  ['heartbeat with a payload', frame(8, 0, [1])],
  ['frame larger than frame_max', Buffer.from([1, 0, 1, 0, 2, 0, 1, 0, 0, 0, 0])],
];

describe.skipIf(url === undefined)(
  url === undefined ? 'error texts vs RabbitMQ — SKIPPED: no reference broker reachable' : `error texts vs RabbitMQ at ${url}`,
  () => {
    for (const [name, bad] of cases) {
      it(name, async () => {
        const theirs = await rabbitReply(bad);
        expect(theirs).toBeDefined();
        expect(ourReply(bad)).toEqual(theirs);
      }, 15_000);
    }
  },
);
