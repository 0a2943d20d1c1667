/**
 * Warren as a child process for the durability suites: `node dist/src/cli/main.js start --port 0`
 * with a data dir of the test's choosing, the port read from the pino line "Warren listening on
 * host:port", kill -9 / SIGTERM, restart on the same data dir, and the child's resident memory.
 * Runs the build output (`npm run build`; `npm test` builds first), never the sources, so what is
 * tested is what `warren start` runs.
 * Invariants: optional flags the build does not know (read once from `start --help`) are left out
 * and listed in `skippedFlags`, so a suite can skip with a reason instead of failing on argv;
 * every process started here is killed by `killAllBrokers()` (call it in afterAll/afterEach).
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../..');
export const CLI = path.join(ROOT, 'dist', 'src', 'cli', 'main.js');

/** One pino record from the child's stdout (or `{ raw }` for a line that is not JSON). */
export interface LogRecord {
  level?: number;
  msg?: string;
  port?: number;
  raw?: string;
  [key: string]: unknown;
}

export interface BrokerOptions {
  dataDir: string;
  /** `--segment-size <bytes>` (tiny in tests, to exercise segment rollover). */
  segmentSize?: number;
  /** `--queue-memory-budget <bytes>`: queue contents beyond it stay on disk. */
  queueMemoryBudget?: number;
  /** `--disk-free-limit <bytes>`: publishers are blocked under this much free disk. */
  diskFreeLimit?: number;
  /** `--memory-high-watermark <bytes>`. */
  memoryHighWatermark?: number;
  logLevel?: string;
  /** Milliseconds to wait for the listening line (recovery of a big backlog can take a while). */
  startTimeoutMs?: number;
  /** More `warren start` arguments, passed as they are (the caller checks hasFlag). */
  extraArgs?: string[];
}

export interface ExitStatus {
  code: number | null;
  signal: NodeJS.Signals | null;
}

let flagCache: Set<string> | undefined;

/** Long flags `warren start` accepts in this build (from `start --help`, read once per process). */
export function supportedFlags(): Set<string> {
  if (flagCache !== undefined) return flagCache;
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first (npm test does)`);
  const help = execFileSync(process.execPath, [CLI, 'start', '--help'], { encoding: 'utf8' });
  flagCache = new Set(help.match(/--[a-z][a-z0-9-]*/g) ?? []);
  return flagCache;
}

/** True when the build knows `flag` (e.g. '--queue-memory-budget'). */
export function hasFlag(flag: string): boolean {
  return supportedFlags().has(flag);
}

const live = new Set<BrokerProcess>();

/** SIGKILL every broker child still running (test cleanup; never leaves a process behind). */
export async function killAllBrokers(): Promise<void> {
  await Promise.all([...live].map((b) => b.kill9()));
}

export class BrokerProcess {
  readonly logs: LogRecord[] = [];
  stderr = '';
  /** Optional flags left out because this build does not know them. */
  readonly skippedFlags: string[] = [];
  readonly exited: Promise<ExitStatus>;
  private status: ExitStatus | undefined;
  private port_ = 0;
  private partial = '';
  private readonly child: ChildProcess;

  private constructor(readonly options: BrokerOptions) {
    const args = [CLI, 'start', '--port', '0', '--host', '127.0.0.1', '--data-dir', options.dataDir,
      '--log-level', options.logLevel ?? 'info'];
    const optional: Array<[string, number | undefined]> = [
      ['--segment-size', options.segmentSize],
      ['--queue-memory-budget', options.queueMemoryBudget],
      ['--disk-free-limit', options.diskFreeLimit],
      ['--memory-high-watermark', options.memoryHighWatermark],
      // 15692 and 15672 belong to the reference RabbitMQ: no Prometheus or management listener here.
      ['--prometheus-port', 0],
      ['--management-port', 0],
    ];
    for (const [flag, value] of optional) {
      if (value === undefined) continue;
      if (hasFlag(flag)) args.push(flag, String(value));
      else this.skippedFlags.push(flag);
    }
    args.push(...(options.extraArgs ?? []));
    this.child = spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    live.add(this);
    this.child.stdout?.on('data', (d: Buffer) => this.onStdout(d.toString('utf8')));
    this.child.stderr?.on('data', (d: Buffer) => { this.stderr += d.toString('utf8'); });
    this.exited = new Promise((resolve) => {
      this.child.once('exit', (code, signal) => {
        this.status = { code, signal };
        live.delete(this);
        resolve(this.status);
      });
    });
  }

  /** Start `warren start` on the data dir and wait until it listens. */
  static async start(options: BrokerOptions): Promise<BrokerProcess> {
    const b = new BrokerProcess(options);
    await b.waitForListening(options.startTimeoutMs ?? 30_000);
    return b;
  }

  get pid(): number {
    const pid = this.child.pid;
    if (pid === undefined) throw new Error('broker child has no pid (spawn failed)');
    return pid;
  }

  get port(): number {
    return this.port_;
  }

  get url(): string {
    return `amqp://guest:guest@127.0.0.1:${this.port_}`;
  }

  get running(): boolean {
    return this.status === undefined;
  }

  get exitStatus(): ExitStatus | undefined {
    return this.status;
  }

  /** kill -9, then wait for the exit. */
  async kill9(): Promise<ExitStatus> {
    if (this.status === undefined) this.child.kill('SIGKILL');
    return this.exited;
  }

  /** SIGTERM (graceful shutdown: flush, close connections with 320, exit 0), then wait for the exit. */
  async stop(timeoutMs = 30_000): Promise<ExitStatus> {
    if (this.status === undefined) this.child.kill('SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`broker did not exit within ${timeoutMs} ms of SIGTERM\n${this.tail()}`)), timeoutMs);
    });
    try {
      return await Promise.race([this.exited, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** A new broker on the same data dir (this one must have exited: kill9() or stop() first). */
  async restart(overrides: Partial<BrokerOptions> = {}): Promise<BrokerProcess> {
    if (this.status === undefined) throw new Error('restart() needs the previous broker to have exited');
    return BrokerProcess.start({ ...this.options, ...overrides });
  }

  /** Resident set size in bytes (VmRSS of /proc/<pid>/status). */
  rssBytes(): number {
    return readRssBytes(this.pid);
  }

  /** Log records at warn (40) or above. */
  warnings(): LogRecord[] {
    return this.logs.filter((r) => (r.level ?? 0) >= 40);
  }

  /** Wait until a log record matches. */
  async waitForLog(match: (r: LogRecord) => boolean, timeoutMs = 10_000): Promise<LogRecord> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const hit = this.logs.find(match);
      if (hit !== undefined) return hit;
      if (Date.now() > deadline) throw new Error(`no matching log line within ${timeoutMs} ms\n${this.tail()}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** The last log lines and stderr, for failure messages. */
  tail(lines = 30): string {
    const out = this.logs.slice(-lines).map((r) => r.raw ?? JSON.stringify(r));
    return `--- broker stdout (last ${lines}) ---\n${out.join('\n')}\n--- stderr ---\n${this.stderr.slice(-4000)}`;
  }

  private onStdout(text: string): void {
    this.partial += text;
    let i: number;
    while ((i = this.partial.indexOf('\n')) >= 0) {
      const line = this.partial.slice(0, i);
      this.partial = this.partial.slice(i + 1);
      if (line.trim() === '') continue;
      let rec: LogRecord;
      try {
        const parsed: unknown = JSON.parse(line);
        rec = typeof parsed === 'object' && parsed !== null ? (parsed as LogRecord) : { raw: line };
      } catch {
        rec = { raw: line };
      }
      this.logs.push(rec);
      if (this.port_ === 0 && typeof rec.msg === 'string' && rec.msg.startsWith('Warren listening on ')) {
        this.port_ = typeof rec.port === 'number' ? rec.port : Number(/:(\d+)\s*$/.exec(rec.msg)?.[1] ?? 0);
      }
    }
  }

  private async waitForListening(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.port_ === 0) {
      if (this.status !== undefined) {
        throw new Error(`broker exited before listening (code ${String(this.status.code)}, signal ${String(this.status.signal)})\n${this.tail()}`);
      }
      if (Date.now() > deadline) {
        await this.kill9();
        throw new Error(`broker did not listen within ${timeoutMs} ms\n${this.tail()}`);
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}

/** VmRSS of a process, in bytes. */
export function readRssBytes(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
  if (m === null || m[1] === undefined) throw new Error(`no VmRSS in /proc/${pid}/status`);
  return Number(m[1]) * 1024;
}
