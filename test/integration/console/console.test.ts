/// <reference lib="dom" />
/**
 * The web console in Chromium against a broker with real amqplib traffic: log in, the overview's
 * totals, the queues list (filter, sort, badges), a queue's page (counts, publish, browse without
 * consuming, move, purge, delete). Asserts what a person sees on the page.
 */
import amqp from 'amqplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { logIn, seeText, startConsole, unavailable, type ConsoleHarness } from './console-harness.js';

const skip = unavailable();
if (skip !== undefined) console.warn(`console browser tests skipped: ${skip}`);

describe.skipIf(skip !== undefined)('web console', () => {
  let h: ConsoleHarness;
  let conn: amqp.ChannelModel;

  beforeAll(async () => {
    h = await startConsole();
    conn = await amqp.connect(h.broker.url);
    const ch = await conn.createChannel();
    await ch.assertQueue('orders', { durable: true, arguments: { 'x-message-ttl': 60000 } });
    await ch.assertQueue('invoices', { durable: false });
    await ch.assertExchange('shop', 'topic');
    await ch.bindQueue('orders', 'shop', 'order.*');
    for (let i = 0; i < 3; i++) ch.publish('shop', 'order.new', Buffer.from(JSON.stringify({ id: i, item: 'book' })), { contentType: 'application/json', headers: { source: 'test' } });
    ch.sendToQueue('invoices', Buffer.from('plain text invoice'));
    await ch.close();
  }, 60_000);

  afterAll(async () => {
    await conn?.close();
    await h?.close();
  });

  const requested: string[] = [];

  it('refuses a wrong password and logs in with the broker user', async () => {
    const { page, base } = h;
    page.on('request', (r) => requested.push(r.url()));
    await page.goto(base);
    await page.getByLabel('Username').fill('guest');
    await page.getByLabel('Password').fill('wrong');
    await page.getByRole('button', { name: 'Log in' }).click();
    await seeText(page, '[role=alert]', 'Login failed');
    await logIn(page, base);
    await seeText(page, '.session .user', 'guest');
  }, 60_000);

  it('overview shows the totals, the node and no alarms', async () => {
    const { page } = h;
    await page.goto(`${h.base}#/overview`);
    await seeText(page, 'h1', 'Overview');
    await seeText(page, '[data-testid=ready] .tile-value', '4');
    await seeText(page, '[data-testid=queues] .tile-value', '2');
    await seeText(page, '[data-testid=connections] .tile-value', '1');
    await seeText(page, '[data-testid=alarms]', 'No alarms');
    await seeText(page, 'figcaption', 'Message rates');
    await seeText(page, 'h2', 'Node');
  }, 60_000);

  it('queues list filters, sorts and shows badges', async () => {
    const { page } = h;
    await page.getByRole('link', { name: 'Queues' }).click();
    const table = page.getByRole('table', { name: 'Queues' });
    await table.getByRole('link', { name: 'orders' }).waitFor();
    await table.getByRole('link', { name: 'invoices' }).waitFor();
    const ordersRow = table.getByRole('row').filter({ hasText: 'orders' });
    await ordersRow.getByText('TTL').waitFor();
    expect(await ordersRow.locator('td[data-label=Ready]').innerText()).toBe('3');
    // Sort by Ready, descending: orders (3) before invoices (1).
    await table.getByRole('button', { name: 'Ready' }).click();
    await table.getByRole('button', { name: 'Ready' }).click();
    await page.waitForFunction(() => document.querySelector('th[aria-sort=descending]') !== null);
    const names = await table.locator('tbody td[data-label=Name]').allInnerTexts();
    expect(names).toEqual(['orders', 'invoices']);
    await page.getByLabel('Filter').fill('inv');
    await seeText(page, '.count', '1 of 2 queues');
    expect(await table.locator('tbody td[data-label=Name]').allInnerTexts()).toEqual(['invoices']);
    await page.getByLabel('Filter').fill('');
  }, 60_000);

  it('adds a queue from the list page', async () => {
    const { page } = h;
    await page.getByText('Add a queue').click();
    await page.locator('form.grid-form input[name=name]').fill('added-by-console');
    await page.getByRole('button', { name: 'Add queue' }).click();
    await page.getByRole('table', { name: 'Queues' }).getByRole('link', { name: 'added-by-console' }).waitFor();
  }, 60_000);

  it("a queue's page: counts, publish, purge and delete", async () => {
    const { page } = h;
    await page.goto(`${h.base}#/queue/%2F/invoices`);
    await seeText(page, 'h1', 'invoices');
    await seeText(page, '[data-testid=ready] .tile-value', '1');
    await page.getByText('Publish a message').click();
    await page.getByLabel('Payload').fill('{"hello":"console"}');
    await page.getByRole('button', { name: 'Publish message' }).click();
    await seeText(page, '[role=status]', 'Message published.');
    await seeText(page, '[data-testid=ready] .tile-value', '2');
    await page.getByLabel('Inject straight into the queue').check();
    await page.getByRole('button', { name: 'Publish message' }).click();
    await seeText(page, '[role=status]', 'Message injected.');
    await seeText(page, '[data-testid=ready] .tile-value', '3');
    page.once('dialog', (d) => void d.accept());
    await page.getByRole('button', { name: 'Purge' }).click();
    await seeText(page, '[data-testid=ready] .tile-value', '0');
    page.once('dialog', (d) => void d.accept());
    await page.getByRole('button', { name: 'Delete queue' }).click();
    await seeText(page, 'h1', 'Queues');
    const api = await fetch(`${h.base}api/queues/%2F/invoices`, { headers: { authorization: `Basic ${Buffer.from('guest:guest').toString('base64')}` } });
    expect(api.status).toBe(404);
  }, 60_000);

  it('browses ready and unacked messages without consuming them', async () => {
    const { page } = h;
    const ch = await conn.createChannel();
    await ch.assertQueue('browse-me');
    ch.sendToQueue('browse-me', Buffer.from('{"order":42,"lines":[1,2]}'), { contentType: 'application/json', headers: { tenant: 'acme' } });
    ch.sendToQueue('browse-me', Buffer.from('just text'));
    ch.sendToQueue('browse-me', Buffer.from([0, 1, 2, 255]));
    await ch.prefetch(1);
    await ch.consume('browse-me', () => {}, { noAck: false }); // holds the first message unacked
    await page.goto(`${h.base}#/queue/%2F/browse-me`);
    await seeText(page, '[data-testid=unacked] .tile-value', '1');
    await seeText(page, '[data-testid=browse-range]', '1–3 of 3');
    const messages = page.getByTestId('message');
    const first = messages.nth(0);
    await first.getByText('unacked').waitFor();
    await first.getByText('tenant').waitFor();
    expect(await first.getByTestId('body').innerText()).toBe(JSON.stringify({ order: 42, lines: [1, 2] }, null, 2));
    await first.getByRole('button', { name: 'HEX' }).click();
    expect(await first.getByTestId('body').innerText()).toContain('7b 22 6f 72');
    expect(await messages.nth(1).getByTestId('body').innerText()).toBe('just text');
    expect(await messages.nth(2).getByTestId('body').innerText()).toContain('00 01 02 ff');
    await page.getByLabel('Show messages').selectOption('ready');
    await seeText(page, '[data-testid=browse-range]', '1–2 of 2');
    // Nothing was consumed or redelivered: the counts stand, the next get is not redelivered.
    await seeText(page, '[data-testid=ready] .tile-value', '2');
    const got = await ch.get('browse-me', { noAck: true });
    expect(got && got.fields.redelivered).toBe(false);
    expect(got && got.content.toString()).toBe('just text');
    await ch.close();
  }, 60_000);

  it('moves messages to another queue', async () => {
    const { page } = h;
    await page.goto(`${h.base}#/queue/%2F/orders`);
    await seeText(page, '[data-testid=ready] .tile-value', '3');
    await page.getByText('Move messages').first().click();
    await page.getByLabel('Target name').fill('added-by-console');
    await page.getByLabel('How many').fill('2');
    await page.getByRole('button', { name: 'Move messages' }).click();
    await seeText(page, '[role=status]', 'Moved 2 messages to queue added-by-console.');
    await seeText(page, '[data-testid=ready] .tile-value', '1');
    await page.goto(`${h.base}#/queue/%2F/added-by-console`);
    await seeText(page, '[data-testid=ready] .tile-value', '2');
  }, 60_000);

  it('every request the pages made went to Warren itself', () => {
    expect(requested.length).toBeGreaterThan(10);
    expect(requested.filter((u) => !u.startsWith(h.base) && !u.startsWith('blob:'))).toEqual([]);
  });

  it('keyboard: skip link, navigation and sort headers are reachable with Tab', async () => {
    const { page } = h;
    await page.goto(`${h.base}#/queues`);
    await page.reload(); // focus starts at the top of a freshly loaded document
    await page.getByRole('table', { name: 'Queues' }).waitFor();
    const focused: string[] = [];
    for (let i = 0; i < 30; i++) { // 17 navigation links before the page's own controls
      await page.keyboard.press('Tab');
      focused.push(await page.evaluate(() => document.activeElement?.textContent?.trim() ?? ''));
    }
    expect(focused[0]).toBe('Skip to content');
    expect(focused, focused.join(' | ')).toContain('Queues');
    expect(focused.some((t) => t.startsWith('Name'))).toBe(true);
    // Enter on a sort header sorts, as a click does.
    await page.reload();
    await page.getByRole('table', { name: 'Queues' }).waitFor();
    await page.getByRole('button', { name: 'Vhost' }).focus();
    await page.keyboard.press('Enter');
    await page.waitForFunction(() => document.querySelector('th[aria-sort=ascending]')?.textContent?.includes('Vhost') === true);
  }, 60_000);
});
