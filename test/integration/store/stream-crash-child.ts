/**
 * Child process for stream-crash-kill.test.ts: opens a FileStore in argv[2] and appends messages to
 * stream 's' (each record shared with queue 'q', which acks some of them) forever, tracking an
 * offset for consumer 'c'. It prints a fact only once afterSync reported it durable:
 * "C offset id" for a confirmed message, "K offset" for a durable tracked offset.
 * The parent kills it with SIGKILL at a random moment.
 */
import { FileStore } from '../../../src/store/file-store.js';

const dir = process.argv[2]!;
const round = Number(process.argv[3]);
const store = await FileStore.open({ dir, segmentSize: 16 * 1024 });
const st = store.stream('s', { maxSegmentBytes: 20_000 });
const q = store.queue('q');
let n = 0;
const body = Buffer.alloc(200, 0x42);

function turn(): void {
  const facts: string[] = [];
  const batch = 1 + Math.floor(Math.random() * 30);
  const seqs: number[] = [];
  for (let i = 0; i < batch; i++) {
    const id = round * 1_000_000 + n++;
    const head = Buffer.alloc(4);
    head.writeUInt32LE(id, 0);
    const ref = store.append([head, body]);
    const offset = st.append(ref, 204, id % 3 === 0 ? 'three' : undefined);
    seqs.push(q.enqueue(ref, 204));
    facts.push(`C ${offset} ${id}`);
  }
  for (const seq of seqs) if (Math.random() < 0.7) q.settle(seq);
  const tracked = st.nextOffset - 1 - Math.floor(Math.random() * batch);
  st.trackOffset('c', tracked);
  facts.push(`K ${tracked}`);
  store.afterSync((err) => {
    if (err !== null) throw err;
    process.stdout.write(`${facts.join('\n')}\n`);
    setImmediate(turn);
  });
}
process.stdout.write('READY\n');
turn();
