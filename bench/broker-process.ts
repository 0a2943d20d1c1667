/**
 * The brokers under test as operating-system processes: Warren is spawned as a child process (so its
 * memory and CPU are measured apart from the load generator), the reference RabbitMQ is found by its
 * beam.smp pid. Samples come from /proc (Linux only; elsewhere the figures are reported as n/a).
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import amqplib from 'amqplib';

/** Clock ticks per second for /proc/<pid>/stat utime/stime (USER_HZ, 100 on Linux). */
const CLOCK_TICKS = (() => {
  try { return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100; } catch { return 100; }
})();

export class ProcessSampler {
  constructor(readonly pid: number) {}

  /** user + system CPU seconds consumed by the process so far, or undefined if unreadable. */
  cpuSeconds(): number | undefined {
    try {
      const stat = readFileSync(`/proc/${this.pid}/stat`, 'utf8');
      // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
      const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      return (Number(rest[11]) + Number(rest[12])) / CLOCK_TICKS;
    } catch {
      return undefined;
    }
  }

  private statusField(name: string): number | undefined {
    try {
      const status = readFileSync(`/proc/${this.pid}/status`, 'utf8');
      const m = new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status);
      return m?.[1] === undefined ? undefined : Number(m[1]) / 1024;
    } catch {
      return undefined;
    }
  }

  /** Resident set size in MiB (VmRSS). */
  rssMb(): number | undefined { return this.statusField('VmRSS'); }
  /** Peak resident set size in MiB (VmHWM). */
  hwmMb(): number | undefined { return this.statusField('VmHWM'); }
}

/** The reference broker's Erlang VM pid, when it runs on this machine and /proc shows it. */
export function findReferencePid(): number | undefined {
  try {
    const out = execFileSync('pgrep', ['-f', 'beam.smp'], { encoding: 'utf8' }).trim().split('\n');
    const pids = out.map(Number).filter((n) => Number.isInteger(n) && n > 0);
    // Several VMs (e.g. a CLI tool running at the same moment): take the one with the largest RSS.
    let best: number | undefined;
    let bestRss = -1;
    for (const pid of pids) {
      const rss = new ProcessSampler(pid).rssMb() ?? -1;
      if (rss > bestRss) { best = pid; bestRss = rss; }
    }
    return best;
  } catch {
    return undefined;
  }
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

/** One full AMQP handshake (connection.open-ok) and a clean close; true on success. */
export async function amqpHandshake(url: string): Promise<boolean> {
  try {
    const c = await amqplib.connect(url, { timeout: 1000 });
    c.on('error', () => {});
    await c.close();
    return true;
  } catch {
    return false;
  }
}

export interface WarrenProcess {
  readonly url: string;
  readonly pid: number;
  /** Milliseconds from spawn() to the first successful AMQP handshake. */
  readonly startupMs: number;
  /** Milliseconds from spawn() to the "Warren listening" log line (with `listeningLog`). */
  readonly listeningMs: number | undefined;
  readonly dataDir: string;
  stop(): Promise<void>;
}

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));

/**
 * Spawns `node dist/src/cli/main.js start` on a free port with a temp data dir and waits until it
 * completes an AMQP handshake. `dataDir` may be given to restart over existing definitions.
 */
export async function startWarrenProcess(opts: {
  dataDir?: string; timeoutMs?: number; nodeArgs?: readonly string[];
  /** Log at info and time the "Warren listening" line (spawn -> listening, without the client's handshake). */
  listeningLog?: boolean;
} = {}): Promise<WarrenProcess> {
  const port = await freePort();
  const dataDir = opts.dataDir ?? (await mkdtemp(join(tmpdir(), 'warren-bench-')));
  const url = `amqp://guest:guest@127.0.0.1:${port}`;
  const main = join(repoRoot, 'dist/src/cli/main.js');
  const t0 = performance.now();
  const logLevel = opts.listeningLog === true ? 'info' : 'warn';
  const child: ChildProcess = spawn(process.execPath, [...(opts.nodeArgs ?? []), main, 'start', '--port', String(port), '--data-dir', dataDir, '--log-level', logLevel, '--prometheus-port', '0',
    '--management-port', '0'], {
    stdio: ['ignore', opts.listeningLog === true ? 'pipe' : 'ignore', 'pipe'],
  });
  let listeningMs: number | undefined;
  if (child.stdout !== null) {
    let seen = '';
    child.stdout.on('data', (d: Buffer) => {
      if (listeningMs !== undefined) return;
      seen = (seen + d.toString()).slice(-4096);
      if (seen.includes('Warren listening')) listeningMs = performance.now() - t0;
    });
  }
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => { if (stderr.length < 4000) stderr += d.toString(); });
  let exited: number | null | undefined;
  child.once('exit', (code) => { exited = code; });
  const deadline = t0 + (opts.timeoutMs ?? 15_000);
  for (;;) {
    if (exited !== undefined) throw new Error(`warren exited with ${exited} before accepting connections: ${stderr.trim()}`);
    if (await amqpHandshake(url)) break;
    if (performance.now() > deadline) { child.kill('SIGKILL'); throw new Error(`warren did not accept connections: ${stderr.trim()}`); }
    await new Promise((r) => setTimeout(r, 5));
  }
  const startupMs = performance.now() - t0;
  const pid = child.pid ?? 0;
  return {
    url, pid, startupMs, dataDir,
    get listeningMs() { return listeningMs; },
    stop: async () => {
      if (exited === undefined) {
        const gone = new Promise<void>((r) => child.once('exit', () => r()));
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
        await gone;
        clearTimeout(timer);
      }
      if (opts.dataDir === undefined) await rm(dataDir, { recursive: true, force: true });
    },
  };
}
