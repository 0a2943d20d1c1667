import amqp from 'amqplib';
const url = 'amqp://guest:guest@127.0.0.1:5672';
const c = await amqp.connect(url);
c.on('error', () => {});
const s = Date.now().toString(36);
const sleep = (n: number) => new Promise(r => setTimeout(r, n));
async function tryit(label: string, f: (ch: amqp.Channel) => Promise<unknown>) {
  const ch = await c.createChannel(); ch.on('error', () => {});
  try { const r = await f(ch); console.log(label, 'OK', JSON.stringify(r)); await ch.close(); } catch (e: any) { console.log(label, 'ERR', e.code, e.message); }
}
const q = 'scr-ex-' + s;
const ch0 = await c.createChannel();
await ch0.assertQueue(q);
await tryit('excl-consume-twice', async (ch) => { await ch.consume(q, () => {}, { exclusive: true }); const ch2 = await c.createChannel(); ch2.on('error', ()=>{}); try { await ch2.consume(q, () => {}); } catch (e: any) { console.log(' second', e.code, e.message); } });
await ch0.deleteQueue(q);
await ch0.assertQueue(q);
await tryit('excl-after-normal', async (ch) => { await ch.consume(q, () => {}); const ch2 = await c.createChannel(); ch2.on('error', ()=>{}); try { await ch2.consume(q, () => {}, { exclusive: true }); } catch (e: any) { console.log(' second', e.code, e.message); } });
await ch0.deleteQueue(q);
await tryit('drt-ack', (ch) => ch.consume('amq.rabbitmq.reply-to', () => {}, { noAck: false }));
await tryit('drt-publish-noconsumer', async (ch) => { ch.sendToQueue(q, Buffer.from('x'), { replyTo: 'amq.rabbitmq.reply-to' }); await sleep(300); return ch.checkQueue('amq.rabbitmq.reply-to'); });
await tryit('drt-check', (ch) => ch.checkQueue('amq.rabbitmq.reply-to'));
await tryit('quorum-nondurable', (ch) => ch.assertQueue(q + 'qq', { durable: false, arguments: { 'x-queue-type': 'quorum' } }));
await tryit('quorum-exclusive', (ch) => ch.assertQueue(q + 'qq', { durable: true, exclusive: true, arguments: { 'x-queue-type': 'quorum' } }));
await tryit('quorum-autodelete', (ch) => ch.assertQueue(q + 'qq', { durable: true, autoDelete: true, arguments: { 'x-queue-type': 'quorum' } }));
await tryit('quorum-maxprio', (ch) => ch.assertQueue(q + 'qq', { durable: true, arguments: { 'x-queue-type': 'quorum', 'x-max-priority': 5 } }));
await tryit('quorum-bad-type', (ch) => ch.assertQueue(q + 'qq2', { durable: true, arguments: { 'x-queue-type': 'bogus' } }));
await tryit('classic', async (ch) => { const r = await ch.assertQueue(q + 'cl', { arguments: { 'x-queue-type': 'classic' } }); await ch.deleteQueue(q + 'cl'); return r; });
await tryit('overflow-bad', (ch) => ch.assertQueue(q + 'ov', { arguments: { 'x-overflow': 'bogus' } }));
await tryit('stream-nondurable', (ch) => ch.assertQueue(q + 'st', { durable: false, arguments: { 'x-queue-type': 'stream' } }));
await tryit('delayed-type', (ch) => ch.assertExchange(q + 'dx', 'x-delayed-message', { arguments: { 'x-delayed-type': 'direct' } }));
await c.close();
