/// <reference lib="dom" />
/**
 * Makes the README's screenshots of the web console (docs/console-*.png): an in-process broker
 * with a little steady amqplib traffic (a publisher, an acking consumer, a backlog, a browsed
 * queue), Chromium at 1280x800 and at a phone's 390x844. Run: `npm run build && npm run screenshots`.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import amqp from 'amqplib';
import { logIn, seeText, startConsole, unavailable } from './console-harness.js';

const out = join(process.cwd(), 'docs');
const skip = unavailable();
if (skip !== undefined) throw new Error(`cannot make screenshots: ${skip}`);
await mkdir(out, { recursive: true });

const h = await startConsole();
const conn = await amqp.connect(h.broker.url);
const ch = await conn.createChannel();
await ch.assertExchange('orders', 'topic');
await ch.assertExchange('audit', 'fanout');
await ch.assertQueue('orders.billing', { arguments: { 'x-message-ttl': 3_600_000, 'x-dead-letter-exchange': 'audit' } });
await ch.assertQueue('orders.shipping', { arguments: { 'x-max-length': 10_000 } });
await ch.assertQueue('audit.log');
await ch.assertQueue('emails');
await ch.bindQueue('orders.billing', 'orders', 'order.paid');
await ch.bindQueue('orders.shipping', 'orders', 'order.*');
await ch.bindExchange('audit', 'orders', '#');
await ch.bindQueue('audit.log', 'audit', '');
await ch.prefetch(50);
await ch.consume('orders.shipping', (m) => { if (m !== null) ch.ack(m); });
for (let i = 0; i < 5; i++) {
  ch.publish('orders', 'order.paid', Buffer.from(JSON.stringify({ order: 1000 + i, customer: 'c-17', total: 42.5 + i, lines: [{ sku: 'book', qty: 1 }] })),
    { contentType: 'application/json', persistent: true, headers: { tenant: 'acme', 'x-trace-id': `t-${i}` } });
}
ch.sendToQueue('emails', Buffer.from('Hello Alice, your order has shipped.'), { contentType: 'text/plain' });
let n = 0;
const traffic = setInterval(() => {
  for (let i = 0; i < 20 + Math.round(15 * Math.sin(n / 3)); i++) ch.publish('orders', 'order.shipped', Buffer.from(`{"n":${n++}}`));
}, 200);

const { page } = h;
await logIn(page, h.base);
await seeText(page, '[data-testid=connections] .tile-value', '1');
// Let the rate charts collect ~15 samples (one a second).
for (let i = 0; i < 15; i++) await page.waitForTimeout(1000);
await page.screenshot({ path: join(out, 'console-overview.png') });
await page.goto(`${h.base}#/queues`);
await page.getByRole('table', { name: 'Queues' }).getByRole('link', { name: 'orders.billing' }).waitFor();
await page.screenshot({ path: join(out, 'console-queues.png') });
await page.goto(`${h.base}#/queue/${encodeURIComponent('/')}/orders.billing`);
await page.getByTestId('message').first().waitFor();
await page.evaluate(() => document.getElementById('browse-title')?.scrollIntoView());
await page.screenshot({ path: join(out, 'console-queue-browse.png') });
await page.goto(`${h.base}#/topology`);
await page.getByTestId('node-queue-audit.log').waitFor();
await page.screenshot({ path: join(out, 'console-topology.png') });

const phone = await h.browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true, deviceScaleFactor: 1 });
const p2 = await phone.newPage();
await logIn(p2, h.base);
await p2.goto(`${h.base}#/queues`);
await p2.getByRole('table', { name: 'Queues' }).getByRole('link', { name: 'orders.billing' }).waitFor();
await p2.screenshot({ path: join(out, 'console-phone.png') });
await phone.close();

clearInterval(traffic);
await conn.close();
await h.close();
console.log(`screenshots in ${out}`);
