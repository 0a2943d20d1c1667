/**
 * A stand-in AMQP server that does almost nothing, for measuring the load generator's own ceiling and
 * comparing client libraries without a real broker's cost or noise: it completes the handshake, opens
 * channels, answers qos/confirm/consume, discards publishes (acking them in confirm mode) and, once a
 * consumer subscribes, streams pre-encoded 16 B deliveries as fast as the socket drains.
 * Server frames are encoded with amqplib's generated codec (an independent, well-tested encoder).
 * Run as a child process: `node dist/bench/fake-broker.js` prints its port on stdout.
 * Deliveries carry a zero timestamp, which the generator ignores for latency.
 */
import net from 'node:net';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

interface AmqplibDefs {
  encodeMethod(id: number, channel: number, fields: Record<string, unknown>): Buffer;
  encodeProperties(id: number, channel: number, size: number, fields: Record<string, unknown>): Buffer;
}
// amqplib's package exports hide lib/, so resolve the file next to its entry point.
const requireCjs = createRequire(import.meta.url);
const defs = requireCjs(join(dirname(requireCjs.resolve('amqplib')), 'lib', 'defs.js')) as AmqplibDefs;

const id = (classId: number, methodId: number): number => (classId << 16) | methodId;
const M = {
  StartOk: id(10, 11), TuneOk: id(10, 31), Open: id(10, 40), Close: id(10, 50), CloseOk: id(10, 51),
  Start: id(10, 10), Tune: id(10, 30), OpenOk: id(10, 41),
  ChannelOpen: id(20, 10), ChannelOpenOk: id(20, 11), ChannelClose: id(20, 40), ChannelCloseOk: id(20, 41),
  Qos: id(60, 10), QosOk: id(60, 11), Consume: id(60, 20), ConsumeOk: id(60, 21), Publish: id(60, 40),
  Deliver: id(60, 60), Ack: id(60, 80), Properties: 60,
  Select: id(85, 10), SelectOk: id(85, 11),
  QueueDeclare: id(50, 10), QueueDeclareOk: id(50, 11),
};

const BODY = Buffer.alloc(16, 0);

function bodyFrame(channel: number, body: Buffer): Buffer {
  const f = Buffer.alloc(8 + body.length);
  f.writeUInt8(3, 0);
  f.writeUInt16BE(channel, 1);
  f.writeUInt32BE(body.length, 3);
  body.copy(f, 7);
  f.writeUInt8(0xce, 7 + body.length);
  return f;
}

function deliveries(channel: number, tag: string, count: number, firstTag: number): Buffer {
  const parts: Buffer[] = [];
  for (let i = 0; i < count; i++) {
    parts.push(defs.encodeMethod(M.Deliver, channel, { consumerTag: tag, deliveryTag: firstTag + i, redelivered: false, exchange: '', routingKey: 'q' }));
    parts.push(defs.encodeProperties(M.Properties, channel, BODY.length, {}));
    parts.push(bodyFrame(channel, BODY));
  }
  return Buffer.concat(parts);
}

function serve(sock: net.Socket): void {
  sock.setNoDelay(true);
  let buf: Buffer = Buffer.alloc(0);
  let gotHeader = false;
  let closing = false;
  const confirm = new Map<number, number>(); // channel -> publishes seen (confirm mode only)
  const send = (m: number, ch: number, fields: Record<string, unknown>): void => { sock.write(defs.encodeMethod(m, ch, fields)); };
  const blast = (ch: number, tag: string): void => {
    const BATCH = 1000;
    let next = 1;
    const pump = (): void => {
      if (sock.destroyed || closing) return;
      const ok = sock.write(deliveries(ch, tag, BATCH, next));
      next += BATCH;
      // Yield between batches even when the kernel takes everything, or close never gets read.
      if (ok) setImmediate(pump); else sock.once('drain', pump);
    };
    setImmediate(pump);
  };
  sock.on('data', (chunk: Buffer) => {
    buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
    let pos = 0;
    if (!gotHeader) {
      if (buf.length < 8) return;
      gotHeader = true;
      pos = 8;
      send(M.Start, 0, { versionMajor: 0, versionMinor: 9, serverProperties: { product: 'fake' }, mechanisms: Buffer.from('PLAIN'), locales: Buffer.from('en_US') });
    }
    const acks = new Map<number, number>();
    while (buf.length - pos >= 7) {
      const size = buf.readUInt32BE(pos + 3);
      if (buf.length - pos < size + 8) break;
      const type = buf[pos];
      const ch = buf.readUInt16BE(pos + 1);
      if (type === 1) {
        const m = buf.readUInt32BE(pos + 7);
        switch (m) {
          case M.StartOk: send(M.Tune, 0, { channelMax: 2047, frameMax: 131072, heartbeat: 0 }); break;
          case M.Open: send(M.OpenOk, 0, { knownHosts: '' }); break;
          case M.Close: closing = true; send(M.CloseOk, 0, {}); sock.end(); break;
          case M.ChannelOpen: send(M.ChannelOpenOk, ch, { channelId: Buffer.alloc(0) }); break;
          case M.ChannelClose: send(M.ChannelCloseOk, ch, {}); break;
          case M.Qos: send(M.QosOk, ch, {}); break;
          case M.Select: confirm.set(ch, 0); send(M.SelectOk, ch, {}); break;
          case M.QueueDeclare: send(M.QueueDeclareOk, ch, { queue: 'q', messageCount: 0, consumerCount: 0 }); break;
          case M.Consume: send(M.ConsumeOk, ch, { consumerTag: 'fake' }); blast(ch, 'fake'); break;
          case M.Publish: {
            const n = confirm.get(ch);
            if (n !== undefined) { confirm.set(ch, n + 1); acks.set(ch, n + 1); }
            break;
          }
          default: break;
        }
      }
      pos += size + 8;
    }
    // One multiple-ack per channel per read: confirms as cheap as a broker's group commit.
    for (const [ch, tag] of acks) send(M.Ack, ch, { deliveryTag: tag, multiple: true });
    buf = pos === buf.length ? Buffer.alloc(0) : Buffer.from(buf.subarray(pos));
  });
  sock.on('error', () => {});
}

const server = net.createServer(serve);
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`${(server.address() as net.AddressInfo).port}\n`);
});
process.on('SIGTERM', () => process.exit(0));
