/**
 * The web console's other pages in Chromium, against a broker with amqplib traffic: exchanges
 * (bindings, bind, publish), the topology graph, connections (close one: the client sees 320),
 * channels, consumers, users, virtual hosts, permissions and policies (create, edit, delete),
 * definitions export (a download) and import (an upload), and the layout on a phone.
 */
import { readFile, writeFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import amqp from 'amqplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../../helpers/broker.js';
import { callApi, logIn, seeText, startConsole, unavailable, type ConsoleHarness } from './console-harness.js';

const skip = unavailable();

describe.skipIf(skip !== undefined)('web console pages', () => {
  let h: ConsoleHarness;
  let conn: amqp.ChannelModel;
  let closedWith: string | undefined;
  let dir: string;

  const api = (method: string, path: string, body?: unknown) => callApi(h.base, method, path, body);

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'warren-console-pages-'));
    h = await startConsole();
    conn = await amqp.connect(h.broker.url);
    conn.on('error', (e: Error) => { closedWith = e.message; });
    conn.on('close', (e?: Error) => { closedWith ??= e?.message ?? 'closed without error'; });
    const ch = await conn.createChannel();
    await ch.assertExchange('events', 'topic');
    await ch.assertExchange('audit', 'fanout');
    await ch.assertQueue('billing');
    await ch.assertQueue('shipping');
    await ch.assertQueue('audit-log');
    await ch.bindQueue('billing', 'events', 'order.paid');
    await ch.bindQueue('shipping', 'events', 'order.*');
    await ch.bindExchange('audit', 'events', '#');
    await ch.bindQueue('audit-log', 'audit', '');
    await ch.consume('shipping', () => {}, { noAck: true, consumerTag: 'shipper-1' });
    await logIn(h.page, h.base);
  }, 60_000);

  afterAll(async () => {
    await conn?.close().catch(() => {});
    await h?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("exchanges: the list, an exchange's bindings, bind and publish", async () => {
    const { page } = h;
    await page.getByRole('link', { name: 'Exchanges' }).click();
    const table = page.getByRole('table', { name: 'Exchanges' });
    await table.getByRole('link', { name: 'events' }).click();
    await seeText(page, 'h1', 'events');
    const bindings = page.getByRole('table', { name: 'Bindings from this exchange' });
    await bindings.getByRole('link', { name: 'billing' }).waitFor();
    await bindings.getByRole('cell', { name: 'order.*' }).waitFor();
    await page.getByLabel('Destination').fill('audit-log');
    await page.getByLabel('Routing key').first().fill('order.cancelled');
    await page.getByRole('button', { name: 'Bind', exact: true }).click();
    await bindings.getByRole('cell', { name: 'order.cancelled' }).waitFor();
    await page.getByText('Publish a message').click();
    await page.locator('form.grid-form input[name=routing_key]').fill('order.paid');
    await page.getByLabel('Payload').fill('paid!');
    await page.getByRole('button', { name: 'Publish message' }).click();
    await seeText(page, '[role=status]', 'Message published.');
    await waitFor(async () => ((await api('GET', 'queues/%2F/billing')).json as { messages: number }).messages === 1, 10_000);
  }, 60_000);

  it('topology draws exchanges -> queues', async () => {
    const { page } = h;
    await page.getByRole('link', { name: 'Topology' }).click();
    await page.getByTestId('node-exchange-events').waitFor();
    await page.getByTestId('node-queue-billing').waitFor();
    await page.getByTestId('node-exchange-audit').waitFor();
    // exchange-to-exchange binding puts audit one column right of events, queues last.
    const x = async (id: string) => Number(await page.getByTestId(id).locator('rect').getAttribute('x'));
    expect(await x('node-exchange-audit')).toBeGreaterThan(await x('node-exchange-events'));
    expect(await x('node-queue-audit-log')).toBeGreaterThan(await x('node-exchange-audit'));
    expect(await page.locator('.topology .edge').count()).toBeGreaterThanOrEqual(5);
    await page.getByTestId('node-queue-billing').click();
    await seeText(page, 'h1', 'billing');
  }, 60_000);

  it('channels and consumers list the live traffic', async () => {
    const { page } = h;
    await page.getByRole('link', { name: 'Channels' }).click();
    await page.getByRole('table', { name: 'Channels' }).getByRole('cell', { name: /\(1\)$/ }).waitFor();
    await page.getByRole('link', { name: 'Consumers' }).click();
    await page.getByRole('table', { name: 'Consumers' }).getByRole('cell', { name: 'shipper-1' }).waitFor();
  }, 60_000);

  it('users, vhosts, permissions, policies: create, edit, delete', async () => {
    const { page } = h;
    page.on('dialog', (d) => void d.accept());
    await page.getByRole('link', { name: 'Vhosts' }).click();
    await page.getByText('Add a virtual host').click();
    await page.locator('form.grid-form input[name=name]').fill('staging');
    await page.getByRole('button', { name: 'Add virtual host' }).click();
    await page.getByRole('table', { name: 'Virtual hosts' }).getByRole('cell', { name: 'staging', exact: true }).waitFor();

    await page.getByRole('link', { name: 'Users' }).click();
    await page.getByText('Add or update a user').click();
    await page.locator('#user-form input[name=name]').fill('alice');
    await page.locator('#user-form input[name=password]').fill('s3cret');
    await page.locator('#user-form input[name=tags]').fill('management');
    await page.getByRole('button', { name: 'Save user' }).click();
    const users = page.getByRole('table', { name: 'Users' });
    await users.getByRole('row').filter({ hasText: 'alice' }).getByRole('cell', { name: 'management' }).waitFor();
    await page.getByRole('button', { name: 'Edit user alice' }).click();
    await page.locator('#user-form input[name=tags]').fill('monitoring');
    await page.getByRole('button', { name: 'Save user' }).click();
    await users.getByRole('row').filter({ hasText: 'alice' }).getByRole('cell', { name: 'monitoring' }).waitFor();

    await page.getByRole('link', { name: 'Permissions' }).click();
    await page.getByText('Set a permission').click();
    await page.locator('#perm-form select[name=user]').selectOption('alice');
    await page.locator('#perm-form select[name=vhost]').selectOption('staging');
    await page.locator('#perm-form input[name=write]').fill('^alice-');
    await page.getByRole('button', { name: 'Set permission' }).click();
    const perms = page.getByRole('table', { name: 'Permissions' });
    await perms.getByRole('cell', { name: '^alice-' }).waitFor();

    // Editing a user's tags kept the password: alice logs in over AMQP.
    const url = new URL(h.broker.url);
    const alice = await amqp.connect(`amqp://alice:s3cret@${url.host}/staging`);
    await alice.close();

    await page.getByRole('button', { name: 'Delete permission of alice in staging' }).click();
    await perms.getByRole('cell', { name: '^alice-' }).waitFor({ state: 'detached' });

    await page.getByRole('link', { name: 'Policies' }).click();
    await page.getByText('Add or update a policy').click();
    await page.locator('#policy-form input[name=name]').fill('cap');
    await page.locator('#policy-form input[name=pattern]').fill('^billing$');
    await page.locator('#policy-form select[name=apply-to]').selectOption('queues');
    await page.locator('#policy-form textarea[name=definition]').fill('{"max-length": 1000}');
    await page.getByRole('button', { name: 'Save policy' }).click();
    const policies = page.getByRole('table', { name: 'Policies' });
    await policies.getByRole('cell', { name: '{"max-length":1000}' }).waitFor();
    await page.getByRole('button', { name: 'Edit policy cap' }).click();
    await page.locator('#policy-form textarea[name=definition]').fill('{"max-length": 5}');
    await page.getByRole('button', { name: 'Save policy' }).click();
    await policies.getByRole('cell', { name: '{"max-length":5}' }).waitFor();
    // The policy shows as a badge on the queue.
    await page.getByRole('link', { name: 'Queues' }).click();
    await page.getByRole('table', { name: 'Queues' }).getByRole('row').filter({ hasText: 'billing' }).getByText('cap').waitFor();
    await page.getByRole('link', { name: 'Policies' }).click();
    await page.getByRole('button', { name: 'Delete policy cap' }).click();
    await seeText(page, 'td.empty', 'No policies.');

    await page.getByRole('link', { name: 'Users' }).click();
    await page.getByRole('button', { name: 'Delete user alice' }).click();
    await users.getByRole('row').filter({ hasText: 'alice' }).waitFor({ state: 'detached' });
    await page.getByRole('link', { name: 'Vhosts' }).click();
    await page.getByRole('button', { name: 'Delete virtual host staging' }).click();
    await page.getByRole('table', { name: 'Virtual hosts' }).getByRole('cell', { name: 'staging', exact: true }).waitFor({ state: 'detached' });
  }, 90_000);

  it('definitions: export downloads the file, import uploads one', async () => {
    const { page } = h;
    await page.getByRole('link', { name: 'Definitions' }).click();
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Download definitions' }).click()]);
    const file = join(dir, 'defs.json');
    await download.saveAs(file);
    const defs = JSON.parse(await readFile(file, 'utf8')) as { queues: { name: string }[] };
    expect(defs.queues.map((q) => q.name)).toContain('billing');
    const upload = join(dir, 'upload.json');
    await writeFile(upload, JSON.stringify({ queues: [{ name: 'imported-q', vhost: '/', durable: true, auto_delete: false, arguments: {} }] }));
    await page.getByLabel('Definitions file').setInputFiles(upload);
    await page.getByRole('button', { name: 'Upload definitions' }).click();
    await seeText(page, '[role=status]', 'Imported upload.json.');
    expect((await api('GET', 'queues/%2F/imported-q')).status).toBe(200);
  }, 60_000);

  it("Warren's snapshot, restore and reset of a virtual host", async () => {
    const { page } = h;
    page.on('dialog', (d) => void d.accept().catch(() => {}));
    await api('PUT', 'vhosts/scratch');
    await api('PUT', 'permissions/scratch/guest', { configure: '.*', write: '.*', read: '.*' });
    await api('PUT', 'queues/scratch/kept', { durable: true });
    await api('POST', 'queues/scratch/kept/inject', { properties: {}, payload: 'one', payload_encoding: 'string' });
    await page.getByRole('link', { name: 'Definitions' }).click();
    await page.getByLabel('Snapshot virtual host').selectOption('scratch');
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Download snapshot' }).click()]);
    const file = join(dir, 'snapshot.json');
    await download.saveAs(file);
    // Reset from the vhosts page: the queue and its message go.
    await page.getByRole('link', { name: 'Vhosts' }).click();
    await page.getByRole('button', { name: 'Reset virtual host scratch' }).click();
    await seeText(page, '[role=status]', 'Virtual host scratch reset: 1 queues, 1 messages');
    expect((await api('GET', 'queues/scratch/kept')).status).toBe(404);
    // Restore the snapshot: the queue comes back with its message.
    await page.getByRole('link', { name: 'Definitions' }).click();
    await page.getByLabel('Snapshot virtual host').selectOption('scratch');
    await page.getByLabel('Snapshot file').setInputFiles(file);
    await page.getByRole('button', { name: 'Restore snapshot' }).click();
    await seeText(page, '[role=status]', 'into scratch: 1 queues, 1 messages');
    await waitFor(async () => ((await api('GET', 'queues/scratch/kept')).json as { messages?: number }).messages === 1, 10_000);
    await api('DELETE', 'vhosts/scratch');
  }, 60_000);

  it('connections: close one, the client sees 320 CONNECTION_FORCED', async () => {
    const { page } = h;
    page.on('dialog', (d) => void d.accept().catch(() => {}));
    await page.getByRole('link', { name: 'Connections' }).click();
    const table = page.getByRole('table', { name: 'Connections' });
    await table.getByRole('cell', { name: 'amqplib 2' }).first().waitFor();
    await table.getByRole('button', { name: /^Close connection/ }).first().click();
    await seeText(page, '[role=status]', 'closed');
    await waitFor(() => closedWith, 10_000);
    expect(closedWith).toContain('320');
    await seeText(page, 'td.empty', 'No connections.');
  }, 60_000);

  it('a management user sees refusals on admin pages and stays logged in', async () => {
    await api('PUT', 'users/viewer', { password: 'v1ewer', tags: 'management' });
    await api('PUT', 'permissions/%2F/viewer', { configure: '', write: '', read: '.*' });
    const ctx = await h.browser.newContext();
    const page = await ctx.newPage();
    await logIn(page, h.base, 'viewer', 'v1ewer');
    await page.getByRole('link', { name: 'Users' }).click();
    await seeText(page, '[role=alert]', 'Not administrator user');
    await page.getByRole('link', { name: 'Queues' }).click();
    await page.getByRole('table', { name: 'Queues' }).getByRole('link', { name: 'billing' }).waitFor();
    await seeText(page, '.session .user', 'viewer');
    await ctx.close();
    await api('DELETE', 'users/viewer');
  }, 60_000);

  it('on a phone: the menu opens, tables stack', async () => {
    const phone = await h.browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
    await phone.addInitScript(() => localStorage.setItem('warren.refresh', '1000'));
    const page = await phone.newPage();
    await logIn(page, h.base);
    await page.getByRole('button', { name: 'Menu' }).click();
    await page.getByRole('link', { name: 'Queues' }).click();
    await page.getByRole('table', { name: 'Queues' }).getByRole('link', { name: 'billing' }).waitFor();
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    expect(overflow).toBeLessThanOrEqual(1);
    await phone.close();
  }, 60_000);
});
