/**
 * Warren under fuzzing, as a child process running the build (`node dist/src/cli/main.js start`
 * on port 0 with a temporary data dir; Prometheus and any other HTTP port off, since fixed ports
 * belong to the reference broker): its port, resident memory (/proc), error-level log lines (an
 * error logged while fuzzing is a finding) and exit (a broker that exits on its own has died).
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (the folder holding package.json), from source or from dist/. */
function repoRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!existsSync(path.join(dir, 'package.json'))) {
    const up = path.dirname(dir);
    if (up === dir) throw new Error('package.json not found above the fuzz engine');
    dir = up;
  }
  return dir;
}

export const ROOT = repoRoot();
export const CLI = path.join(ROOT, 'dist', 'src', 'cli', 'main.js');

export interface BrokerChildOptions {
  /** Another build's dist/src/cli/main.js (e.g. an older commit's, to check the fuzzer finds a fixed bug). */
  cli?: string;
  extraArgs?: string[];
  /** Node options for the child, e.g. ['--max-old-space-size=512']. */
  nodeArgs?: string[];
}

export class BrokerChild {
  port = 0;
  readonly errors: string[] = [];
  stderr = '';
  exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  readonly exited: Promise<void>;
  private partial = '';
  private listening: ((port: number) => void) | undefined;

  private constructor(private readonly child: ChildProcess, readonly dataDir: string) {
    child.stdout?.on('data', (d: Buffer) => this.onStdout(d.toString('utf8')));
    child.stderr?.on('data', (d: Buffer) => { if (this.stderr.length < 100_000) this.stderr += d.toString('utf8'); });
    this.exited = new Promise((resolve) => child.once('exit', (code, signal) => { this.exit = { code, signal }; resolve(); }));
  }

  static async start(options: BrokerChildOptions = {}): Promise<BrokerChild> {
    const cli = options.cli ?? CLI;
    if (!existsSync(cli)) throw new Error(`${cli} is missing: run \`npm run build\` first`);
    const dataDir = await mkdtemp(path.join(tmpdir(), 'warren-fuzz-'));
    const help = execFileSync(process.execPath, [cli, 'start', '--help'], { encoding: 'utf8' });
    const args = [cli, 'start', '--port', '0', '--host', '127.0.0.1', '--data-dir', dataDir, '--log-level', 'info'];
    for (const flag of ['--prometheus-port', '--management-port']) if (help.includes(flag)) args.push(flag, '0');
    args.push(...(options.extraArgs ?? []));
    const child = spawn(process.execPath, [...(options.nodeArgs ?? []), ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    const b = new BrokerChild(child, dataDir);
    const port = await new Promise<number>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`broker did not start within 30 s: ${b.stderr}`)), 30_000);
      b.listening = (p) => { clearTimeout(t); resolve(p); };
      void b.exited.then(() => { clearTimeout(t); reject(new Error(`broker exited at start: ${JSON.stringify(b.exit)} ${b.stderr}`)); });
    });
    b.port = port;
    return b;
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  get running(): boolean {
    return this.exit === undefined;
  }

  /** Resident set size in bytes (Linux /proc), or undefined where it cannot be read. */
  rss(): number | undefined {
    try {
      const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${this.pid}/status`, 'utf8'));
      return m === null ? undefined : Number(m[1]) * 1024;
    } catch {
      return undefined;
    }
  }

  private onStdout(s: string): void {
    const lines = (this.partial + s).split('\n');
    this.partial = lines.pop() ?? '';
    for (const line of lines) {
      if (line.trim() === '') continue;
      let rec: { level?: number; msg?: string; port?: number } = {};
      try {
        rec = JSON.parse(line) as typeof rec;
      } catch {
        if (this.errors.length < 50) this.errors.push(`non-JSON output: ${line.slice(0, 300)}`);
        continue;
      }
      if (this.listening !== undefined && typeof rec.port === 'number' && /listening/i.test(rec.msg ?? '')) {
        this.listening(rec.port);
        this.listening = undefined;
        continue;
      }
      if ((rec.level ?? 0) >= 50 && this.errors.length < 50) this.errors.push(line.slice(0, 2000));
    }
  }

  /** SIGTERM and wait (graceful shutdown must work after fuzzing too); SIGKILL after `ms`. */
  async stop(ms = 15_000): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    if (this.exit === undefined) {
      this.child.kill('SIGTERM');
      const t = setTimeout(() => this.child.kill('SIGKILL'), ms);
      await this.exited;
      clearTimeout(t);
    }
    await rm(this.dataDir, { recursive: true, force: true });
    return this.exit!;
  }
}
