/** `warren declare shovel`, `warren list shovels`, `warren delete shovel`, and a refused definition's reason. */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startTestBroker, uniqueName, waitFor, type TestBroker } from '../../helpers/broker.js';
import { runCli } from '../../helpers/warren-cli.js';

let b: TestBroker;
let url: string;
const cli = (...args: string[]) => runCli(['--url', url, ...args]);

beforeAll(async () => {
  b = await startTestBroker({ managementPort: 0 });
  url = b.warren!.managementUrl!;
});
afterAll(async () => {
  await b.close();
});

it('declares, lists and deletes a shovel', async () => {
  const name = uniqueName('cli-sh');
  const q = uniqueName('q');
  const set = await cli('declare', 'shovel', name, '--value', JSON.stringify({ 'src-uri': 'amqp://', 'src-queue': q, 'dest-uri': 'amqp://', 'dest-queue': `${q}-copy` }));
  expect(set.code, set.stderr).toBe(0);
  await waitFor(async () => {
    const r = await cli('list', 'shovels', '--json');
    return (JSON.parse(r.stdout) as { name: string; state: string }[]).some((s) => s.name === name && s.state === 'running');
  }, 30_000, 100);
  const bad = await cli('declare', 'shovel', 'bad', '--value', '{"src-uri": "amqp://"}');
  expect(bad.code).not.toBe(0);
  expect(bad.stderr).toContain("Must specify 'src-exchange' or 'src-queue'");
  const del = await cli('delete', 'shovel', name);
  expect(del.code, del.stderr).toBe(0);
  const r = await cli('list', 'shovels', '--json');
  expect(JSON.parse(r.stdout)).toEqual([]);
}, 120_000);
