/**
 * What message statistics cost on the hot path, measured in isolation: the counter increments of
 * one published, delivered and acked message (publish, deliver or deliver_no_ack, ack, and now and
 * then redeliver, each on the queue's, the channel's and the vhost's MessageStats, as the publish
 * operation and Deliveries do), against the same loop without them. Prints ns per message.
 *
 *   npm run build && node dist/bench/stats-increments.js
 */
import { MessageStats } from '../src/broker/statistics.js';

const objs = [new MessageStats(), new MessageStats(), new MessageStats()];

function withStats(n: number, noAck: boolean): void {
  for (let i = 0; i < n; i++) {
    const qs = objs[0]!;
    const cs = objs[1]!;
    const vs = objs[2]!;
    qs.publish++; cs.publish++; vs.publish++;
    if (noAck) { qs.deliverNoAck++; cs.deliverNoAck++; vs.deliverNoAck++; } else { qs.deliver++; cs.deliver++; vs.deliver++; }
    if ((i & 1023) === 0) { qs.redeliver++; cs.redeliver++; vs.redeliver++; }
    qs.ack++; cs.ack++; vs.ack++;
  }
}

function without(n: number, noAck: boolean): number {
  let x = 0;
  for (let i = 0; i < n; i++) {
    if (noAck) x++;
    if ((i & 1023) === 0) x++;
  }
  return x;
}

const N = 20_000_000;
for (let r = 0; r < 5; r++) {
  const noAck = (r & 1) === 1;
  let t = process.hrtime.bigint();
  withStats(N, noAck);
  const a = Number(process.hrtime.bigint() - t);
  t = process.hrtime.bigint();
  without(N, noAck);
  const b = Number(process.hrtime.bigint() - t);
  console.log(`increments ${((a - b) / N).toFixed(2)} ns/msg (loop with ${(a / N).toFixed(2)}, without ${(b / N).toFixed(2)})`);
}
