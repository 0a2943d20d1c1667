/**
 * The console's link and half-message pages in Chromium, against one in-process Warren with real
 * traffic: a shovel between two of its queues (direct URI amqp://) that moves a message, then is
 * restarted and deleted from the Shovels page; a federation link from an upstream that is the same
 * broker (exchange central -> exchange edge), shown on the Federation page; a half message published
 * with amqplib, committed from the Half messages page (by keyboard) and then consumed.
 */
import amqp from 'amqplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uniqueName, waitFor } from '../../helpers/broker.js';
import { callApi, logIn, seeText, startConsole, unavailable, type ConsoleHarness } from './console-harness.js';

const skip = unavailable();
const WAIT = 30_000;

describe.skipIf(skip !== undefined)('web console: shovels, federation links, half messages', () => {
  let h: ConsoleHarness;
  let conn: amqp.ChannelModel;

  const api = (method: string, path: string, body?: unknown) => callApi(h.base, method, path, body);

  beforeAll(async () => {
    h = await startConsole();
    conn = await amqp.connect(h.broker.url);
    h.page.on('dialog', (d) => void d.accept().catch(() => {}));
    await logIn(h.page, h.base);
  }, 60_000);

  afterAll(async () => {
    await conn?.close().catch(() => {});
    await h?.close();
  });

  it('shovels: a running shovel moves a message, is restarted and deleted from the page', async () => {
    const { page } = h;
    const name = uniqueName('sh');
    const src = uniqueName('src');
    const dest = uniqueName('dest');
    const ch = await conn.createConfirmChannel();
    await ch.assertQueue(src);
    await ch.assertQueue(dest);
    const put = await api('PUT', `parameters/shovel/%2F/${name}`, { value: { 'src-uri': 'amqp://', 'src-queue': src, 'dest-uri': 'amqp://', 'dest-queue': dest } });
    expect(put.status, JSON.stringify(put.json)).toBeLessThan(300);
    ch.sendToQueue(src, Buffer.from('shovelled'));
    await ch.waitForConfirms();
    await waitFor(async () => (await ch.checkQueue(dest)).messageCount === 1, WAIT, 50);

    await page.getByRole('link', { name: 'Shovels' }).click();
    const table = page.getByRole('table', { name: 'Shovels' });
    const row = table.getByRole('row').filter({ hasText: name });
    await row.getByText('running').waitFor();
    await row.getByText(`queue ${src}`).waitFor();
    await row.getByText(`queue ${dest}`).waitFor();
    await row.getByRole('button', { name: `Restart shovel ${name}` }).click();
    await seeText(page, '[role=status]', `Shovel ${name} restarted.`);
    await row.getByText('running').waitFor();
    await row.getByRole('button', { name: `Delete shovel ${name}` }).click();
    await seeText(page, '[role=status]', `Shovel ${name} deleted.`);
    await seeText(page, 'td.empty', 'No shovels.');
    expect((await api('GET', `parameters/shovel/%2F/${name}`)).status).toBe(404);
    await ch.close();
  }, 90_000);

  it('federation: a link from an upstream shows its upstream, exchange and status', async () => {
    const { page } = h;
    const up = uniqueName('up');
    const central = uniqueName('central');
    const edge = uniqueName('edge');
    const ch = await conn.createChannel();
    await ch.assertExchange(central, 'fanout');
    await ch.assertExchange(edge, 'fanout');
    expect((await api('PUT', `parameters/federation-upstream/%2F/${up}`, { value: { uri: h.broker.url, exchange: central } })).status).toBeLessThan(300);
    expect((await api('PUT', `policies/%2F/${up}`, { pattern: `^${edge}$`, definition: { 'federation-upstream': up }, 'apply-to': 'exchanges' })).status).toBeLessThan(300);

    await page.getByRole('link', { name: 'Federation' }).click();
    const row = page.getByRole('table', { name: 'Federation links' }).getByRole('row').filter({ hasText: up });
    await row.getByRole('link', { name: edge }).waitFor();
    await row.getByText(central).waitFor();
    await row.getByText('running').waitFor();
    await api('DELETE', `policies/%2F/${up}`);
    await api('DELETE', `parameters/federation-upstream/%2F/${up}`);
    await seeText(page, 'td.empty', 'No federation links.');
    await ch.close();
  }, 90_000);

  it('half messages: a pending message is committed from the page, then consumed', async () => {
    const { page } = h;
    const x = uniqueName('payments');
    const q = uniqueName('paid');
    const tx = uniqueName('tx');
    const ch = await conn.createConfirmChannel();
    await ch.assertExchange(x, 'x-transactional', { arguments: { 'x-transactional-type': 'fanout' } });
    await ch.assertQueue(q);
    await ch.bindQueue(q, x, '');
    ch.publish(x, 'payment.succeeded', Buffer.from('paid 42'), { messageId: tx });
    await ch.waitForConfirms();
    expect((await ch.checkQueue(q)).messageCount).toBe(0);

    await page.getByRole('link', { name: 'Half messages' }).click();
    await page.getByLabel('Virtual host').selectOption('/');
    await page.waitForURL(/#\/half-messages\/%2F$/);
    const row = page.getByRole('table', { name: 'Half messages' }).getByRole('row').filter({ hasText: tx });
    await row.getByRole('link', { name: x }).waitFor();
    await row.getByText('payment.succeeded').waitFor();
    // By keyboard: the row's buttons are real buttons (Enter presses them).
    await row.getByRole('button', { name: `Commit ${tx}` }).focus();
    await page.keyboard.press('Enter');
    await seeText(page, '[role=status]', `Transaction ${tx} committed (1 queue(s)).`);
    await seeText(page, 'td.empty', 'No pending half messages.');
    const got = await new Promise<string>((resolve) => {
      void ch.consume(q, (m) => { if (m !== null) resolve(m.content.toString()); }, { noAck: true });
    });
    expect(got).toBe('paid 42');
    await ch.close();
  }, 90_000);
});
