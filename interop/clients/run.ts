/**
 * Command line for one-off interop runs: prepares the named clients (all by default), plays each
 * one's scenario against a broker URL and prints "PASS <client> <step>" / "FAIL ..." lines against the
 * golden trace. Usage: npx tsx interop/clients/run.ts [--url URL | --warren] [client...]
 * --warren starts Warren in-process on a free port; without either it uses the reference broker
 * (REFERENCE_AMQP_URL or amqp://guest:guest@127.0.0.1:5672).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestBroker, type TestBroker } from '../../test/helpers/broker.js';
import { CLIENTS, MissingClient, STEPS, limited, runClient } from './client-registry.js';
import { canonical, goldenTrace, traceByStep } from './trace-compare.js';

async function main(): Promise<number> {
  const args = process.argv.slice(2);
  const urlAt = args.indexOf('--url');
  const warren: TestBroker | undefined = args.includes('--warren') ? await startTestBroker() : undefined;
  const url = warren?.url ?? (urlAt >= 0 ? args[urlAt + 1] : (process.env['REFERENCE_AMQP_URL'] ?? 'amqp://guest:guest@127.0.0.1:5672'));
  const names = args.filter((a, i) => a !== '--url' && a !== '--warren' && (urlAt < 0 || i !== urlAt + 1));
  const chosen = CLIENTS.filter((c) => names.length === 0 || names.includes(c.name));
  if (url === undefined || chosen.length === 0) {
    console.error(`usage: run.ts [--url URL | --warren] [${CLIENTS.map((c) => c.name).join('|')}...]`);
    return 2;
  }
  const golden = goldenTrace();
  const buildDir = await mkdtemp(join(tmpdir(), 'warren-interop-'));
  let failures = 0;
  try {
    await limited(3, chosen.map((client) => async () => {
      let out = '';
      try {
        const cmd = await client.prepare(buildDir);
        const r = await runClient(cmd, ['scenario', url]);
        const trace = traceByStep(r.lines);
        for (const step of client.steps ?? STEPS) {
          const got = canonical(trace.get(step) ?? null);
          const want = canonical(golden.get(step) ?? null);
          if (got === want) out += `PASS ${client.name} ${step}\n`;
          else { failures++; out += `FAIL ${client.name} ${step}\n  want ${want}\n  got  ${got}\n`; }
        }
        if (r.code !== 0) { failures++; out += `FAIL ${client.name} exit ${r.code}\n${r.stderr}\n`; }
      } catch (err: unknown) {
        failures++;
        out += `${err instanceof MissingClient ? 'MISSING' : 'FAIL'} ${client.name}: ${err instanceof Error ? err.message : String(err)}\n`;
      }
      process.stdout.write(out);
    }));
  } finally {
    await warren?.close();
    await rm(buildDir, { recursive: true, force: true });
  }
  return failures === 0 ? 0 : 1;
}

main().then((code) => process.exit(code), (err: unknown) => { console.error(err); process.exit(1); });
