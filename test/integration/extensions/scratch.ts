import amqp from 'amqplib';
import { typedGet } from './extension-helpers.js';
const url = 'amqp://guest:guest@127.0.0.1:5672';
const c = await amqp.connect(url);
c.on('error', () => {});
const s = Date.now().toString(36);
const sleep = (n: number) => new Promise(r => setTimeout(r, n));
async function tryit(label: string, f: (ch: amqp.Channel) => Promise<unknown>) {
  const ch = await c.createChannel(); ch.on('error', () => {});
  try { const r = await f(ch); console.log(label, 'OK', JSON.stringify(r)); await ch.close(); } catch (e: any) { console.log(label, 'ERR', e.code, e.message); }
}
const q = 'scr-qq-' + s;
await tryit('classic-delivery-limit', async (ch) => { const r = await ch.assertQueue(q + 'c', { exclusive: true, arguments: { 'x-delivery-limit': 2 } }); return r; });
await tryit('classic-unknown', async (ch) => { const r = await ch.assertQueue(q + 'c2', { exclusive: true, arguments: { 'x-foo': 2 } }); return r; });
await tryit('quorum-sac', async (ch) => { const r = await ch.assertQueue(q + 'q2', { durable: true, arguments: { 'x-queue-type': 'quorum', 'x-single-active-consumer': true } }); await ch.deleteQueue(q+'q2'); return r; });
await tryit('quorum-overflow-dlx', async (ch) => { const r = await ch.assertQueue(q + 'q3', { durable: true, arguments: { 'x-queue-type': 'quorum', 'x-overflow': 'reject-publish-dlx' } }); await ch.deleteQueue(q+'q3'); return r; });
await tryit('quorum-msgttl', async (ch) => { const r = await ch.assertQueue(q + 'q4', { durable: true, arguments: { 'x-queue-type': 'quorum', 'x-message-ttl': 1000 } }); await ch.deleteQueue(q+'q4'); return r; });
await tryit('quorum-redeclare-classic', async (ch) => { await ch.assertQueue(q + 'q5', { durable: true, arguments: { 'x-queue-type': 'quorum' } }); try { await ch.assertQueue(q + 'q5', { durable: true }); } finally { const c2 = await c.createChannel(); await c2.deleteQueue(q+'q5'); } });
const ch = await c.createChannel();
const dead = q + 'dead';
await ch.assertQueue(dead, { durable: true });
await ch.assertQueue(q, { durable: true, arguments: { 'x-queue-type': 'quorum', 'x-delivery-limit': 2, 'x-dead-letter-exchange': '', 'x-dead-letter-routing-key': dead } });
ch.sendToQueue(q, Buffer.from('poison'), { headers: { h: 1 } });
await sleep(300);
for (let i = 0; i < 5; i++) {
  const m = await ch.get(q, { noAck: false });
  if (!m) { console.log('get', i, 'empty'); break; }
  console.log('get', i, m.fields.redelivered, JSON.stringify(m.properties.headers));
  ch.nack(m, false, true);
  await sleep(200);
}
await sleep(300);
const g = await typedGet(5672, dead);
console.log('dead', JSON.stringify(g?.headers));
// typed delivery count
ch.sendToQueue(q, Buffer.from('two'));
await sleep(200);
const m = await ch.get(q, { noAck: false }); if (m) ch.nack(m, false, true);
await sleep(200);
console.log('typed', JSON.stringify((await typedGet(5672, q))?.headers));
await ch.deleteQueue(q); await ch.deleteQueue(dead);
await c.close();
