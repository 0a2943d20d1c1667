/// <reference lib="dom" />
/**
 * The web console's browser tests run here: Warren in-process (AMQP and management on port 0,
 * console files from `npm run build`), Debian's Chromium driven by playwright-core (headless,
 * --no-sandbox), one page logged in as guest, refreshing every second so live updates show up
 * quickly. `available` says why the suite skips (no /usr/bin/chromium, console not built).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { consoleDirectory } from '../../../src/cli/management-wiring.js';
import { startTestBroker, type TestBroker } from '../../helpers/broker.js';

export const CHROMIUM = '/usr/bin/chromium';

/** Undefined when the suite can run, else the reason it skips. */
export function unavailable(): string | undefined {
  if (!existsSync(CHROMIUM)) return `${CHROMIUM} is absent (bash scripts/install-browser.sh installs it)`;
  if (!existsSync(join(consoleDirectory(), 'index.html'))) return 'the console is not built (npm run build)';
  return undefined;
}

export interface ConsoleHarness {
  broker: TestBroker;
  /** http://127.0.0.1:<port>/ of the management listener. */
  base: string;
  browser: Browser;
  context: BrowserContext;
  page: Page;
  close(): Promise<void>;
}

export async function startConsole(viewport = { width: 1280, height: 800 }): Promise<ConsoleHarness> {
  const broker = await startTestBroker({ managementPort: 0 });
  const base = `${broker.warren!.managementUrl!}/`;
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox'] });
  const context = await browser.newContext({ viewport });
  await context.addInitScript(() => localStorage.setItem('warren.refresh', '1000'));
  const page = await context.newPage();
  page.setDefaultTimeout(20_000);
  return {
    broker, base, browser, context, page,
    close: async () => {
      await browser.close();
      await broker.close();
    },
  };
}

/** Logs in through the form, as a person would. */
export async function logIn(page: Page, base: string, user = 'guest', password = 'guest'): Promise<void> {
  await page.goto(base);
  await page.getByLabel('Username').fill(user);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.getByRole('button', { name: 'Log out' }).waitFor();
}

/** Waits until `selector` shows `text` (polling the DOM; the console refreshes every second). */
export async function seeText(page: Page, selector: string, text: string | RegExp): Promise<void> {
  await page.locator(selector, { hasText: text }).first().waitFor({ state: 'visible' });
}

/** One management API call as guest (the tests' own set-up and checks, outside the page). */
export async function callApi(base: string, method: string, path: string, body?: unknown): Promise<{ status: number; json: unknown }> {
  const res = await fetch(`${base}api/${path}`, {
    method, headers: { authorization: `Basic ${Buffer.from('guest:guest').toString('base64')}`, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  return { status: res.status, json: text === '' ? undefined : JSON.parse(text) };
}
