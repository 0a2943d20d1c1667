/**
 * Client comparison and generator ceiling: runs the generator's own publish and consume loops, with
 * each supported client, against the do-nothing fake broker (a child process, so its CPU is not
 * counted as the generator's). The rates are what one generator thread can drive at most; if a broker
 * scenario gets close to them, the generator, not the broker, is the limit.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { ClientKind } from './client-adapter.js';
import { flowTasks, runTimed, type FlowResult } from './load-generator.js';
import { defaultFlow, type FlowSpec } from './workload.js';

export interface ClientFigure {
  readonly client: ClientKind;
  readonly mode: string;
  readonly rate: number;
  /** Generator CPU microseconds per message (all threads). */
  readonly cpuMicrosPerMessage: number;
}

async function startFakeBroker(): Promise<{ url: string; stop: () => void }> {
  const script = fileURLToPath(new URL('./fake-broker.js', import.meta.url));
  const child = spawn(process.execPath, [script], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout?.once('data', (d: Buffer) => resolve(Number(d.toString().trim())));
    child.once('exit', (c) => reject(new Error(`fake broker exited ${c}`)));
  });
  return { url: `amqp://guest:guest@127.0.0.1:${port}`, stop: () => { child.kill('SIGTERM'); } };
}

const modes: readonly { name: string; spec: FlowSpec; rate: (r: FlowResult) => number }[] = [
  { name: 'publish 16 B', spec: { ...defaultFlow, consumers: 0, routingKeys: ['q'] }, rate: (r) => r.publishRate },
  { name: 'publish 16 B, confirms (window 1000)', spec: { ...defaultFlow, consumers: 0, confirmWindow: 1000, routingKeys: ['q'] }, rate: (r) => r.confirmRate },
  { name: 'consume 16 B, auto-ack', spec: { ...defaultFlow, producers: 0, consumerQueues: ['q'] }, rate: (r) => r.consumeRate },
];

export async function compareClients(clients: readonly ClientKind[], warmupMs: number, durationMs: number): Promise<ClientFigure[]> {
  const out: ClientFigure[] = [];
  for (const mode of modes) {
    for (const client of clients) {
      const fake = await startFakeBroker();
      try {
        const r = await runTimed({ url: fake.url, client, warmupMs, durationMs, brokerPid: undefined, threadsPerRole: 1 }, flowTasks(mode.spec, 1));
        const rate = mode.rate(r);
        out.push({ client, mode: mode.name, rate, cpuMicrosPerMessage: rate > 0 ? (r.generatorCpu * 1e6) / rate : NaN });
        if (r.errors.length > 0) console.error(`  ${client} ${mode.name}: ${r.errors.slice(0, 3).join(' | ')}`);
      } finally {
        fake.stop();
      }
    }
  }
  return out;
}
