/**
 * Runs the `warren` command line as a child process (the built dist/src/cli/main.js, as users run
 * it) and collects its exit code, stdout and stderr.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { waitFor } from './broker.js';

export const CLI = fileURLToPath(new URL('../../dist/src/cli/main.js', import.meta.url));

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function runCli(args: readonly string[], options: { env?: NodeJS.ProcessEnv; input?: string; timeoutMs?: number } = {}): Promise<CliResult> {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first (npm test does)`);
  return new Promise((resolve, reject) => {
    // The management variables of the developer's shell must not leak into the tests.
    const env = { ...process.env };
    for (const k of ['WARREN_MANAGEMENT_URL', 'WARREN_MANAGEMENT_USER', 'WARREN_MANAGEMENT_PASSWORD']) delete env[k];
    const child = spawn(process.execPath, [CLI, ...args], { env: { ...env, ...options.env }, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString('utf8'); });
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString('utf8'); });
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 20_000);
    child.once('error', reject);
    // 'close' (not 'exit'): every byte of stdout and stderr has been read by then.
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.end(options.input ?? '');
  });
}

export interface WarrenProcess {
  readonly child: ChildProcess;
  /** Everything it logged so far (stdout and stderr). */
  logs(): string;
  /** SIGTERM, wait for the exit, remove the data dir. */
  stop(): Promise<void>;
}

/**
 * `warren start --port 0 --host 127.0.0.1 --data-dir <temp> ...args` as a child process; resolves
 * once it logs that it listens (or has exited).
 */
export async function startWarrenProcess(args: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<WarrenProcess> {
  const dataDir = await mkdtemp(join(tmpdir(), 'warren-cli-'));
  const child = spawn(process.execPath, [CLI, 'start', '--port', '0', '--host', '127.0.0.1', '--data-dir', dataDir, ...args],
    { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let logs = '';
  child.stdout?.on('data', (d: Buffer) => { logs += d.toString(); });
  child.stderr?.on('data', (d: Buffer) => { logs += d.toString(); });
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    }
    await rm(dataDir, { recursive: true, force: true });
  };
  try {
    await waitFor(() => logs.includes('Warren listening on') || child.exitCode !== null, 15_000);
  } catch (err: unknown) {
    await stop();
    throw err;
  }
  return { child, logs: () => logs, stop };
}
