/**
 * Child process for crash-kill.test.ts: opens a FileStore in argv[2], publishes fanout messages to
 * q1 and q2 forever, acks and marks some in q1, and prints a line for each fact only once it is
 * durable (after afterSync): "C id" confirmed, "A id" ack durable, "D id" delivered mark durable;
 * "T id" is printed before an ack is attempted (the parent then accepts either outcome).
 * The parent kills it with SIGKILL at a random moment.
 */
import { FileStore } from '../../../src/store/file-store.js';

const dir = process.argv[2]!;
const round = Number(process.argv[3]);
const store = await FileStore.open({ dir, segmentSize: 16 * 1024, indexEntriesPerSegment: 64 });
const q1 = store.queue('q1');
const q2 = store.queue('q2');
// confirmed q1 entries we may ack: seq + id
const ackable: Array<[number, number]> = [];
const c = q1.cursor();
while (c.next()) ackable.push([c.seq, store.readSync(c.ref, c.size).readUInt32LE(0)]);
let n = 0;
const body = Buffer.alloc(300, 0x42);

function turn(): void {
  const ids: number[] = [];
  const batch = 1 + Math.floor(Math.random() * 20);
  const newEntries: Array<[number, number]> = [];
  for (let i = 0; i < batch; i++) {
    const id = round * 1_000_000 + n++;
    const head = Buffer.alloc(4);
    head.writeUInt32LE(id, 0);
    const ref = store.append([head, body]);
    newEntries.push([q1.enqueue(ref, 304), id]);
    q2.enqueue(ref, 304);
    ids.push(id);
  }
  const acked: number[] = [];
  const delivered: number[] = [];
  const k = Math.floor(Math.random() * 8);
  for (let i = 0; i < k && ackable.length > 0; i++) {
    const [seq, id] = ackable.shift()!;
    if (Math.random() < 0.5) {
      q1.markDelivered(seq);
      delivered.push(id);
      ackable.push([seq, id]); // acked later, maybe
    } else {
      process.stdout.write(`T ${id}\n`); // ack attempted: may or may not survive a kill
      q1.settle(seq);
      acked.push(id);
    }
  }
  store.afterSync((err) => {
    if (err !== null) throw err;
    let out = '';
    for (const id of ids) out += `C ${id}\n`;
    for (const id of acked) out += `A ${id}\n`;
    for (const id of delivered) out += `D ${id}\n`;
    process.stdout.write(out);
    for (const e of newEntries) ackable.push(e);
    setImmediate(turn);
  });
}
process.stdout.write('READY\n');
turn();
