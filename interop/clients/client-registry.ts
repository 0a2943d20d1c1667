/**
 * The stock clients the interop suite drives, how to prepare each (compile Go/Java/C into a temp dir)
 * and how to run it as a child process. Every client program speaks the same command line:
 *   <program> scenario URL            -> one JSON line per scenario step, then {"step":"done","failed":[...]}
 *   <program> publish URL EXCHANGE    -> {"sent": message}      (the canonical cross-language message)
 *   <program> consume URL QUEUE...    -> {"queue": q, "received": message} per queue
 * Invariant: a client whose Debian package is missing is reported as missing with the package names,
 * never silently dropped (the suite fails on it in CI).
 */
import { execFile, spawn } from 'node:child_process';
import { access, mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const repoRoot = join(here, '..', '..');

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

/** How to start one prepared client program (arguments follow the mode). */
export interface Command {
  readonly file: string;
  readonly args: readonly string[];
  readonly cwd: string;
}

export interface ClientSpec {
  readonly name: string;
  readonly language: string;
  /** Debian packages it needs (interop/install-deps.sh installs them). */
  readonly packages: readonly string[];
  /** Scenario steps this client's trace covers; undefined means every step of the golden trace. */
  readonly steps?: readonly string[];
  /** Whether it takes part in the cross-language message exchange. */
  readonly exchanges: boolean;
  /** As a consumer it can report only the body (amqp-tools: amqp-get prints nothing else). */
  readonly bodyOnly?: boolean;
  /** Checks the toolchain and builds the program into `buildDir`; throws MissingClient when absent. */
  prepare(buildDir: string): Promise<Command>;
}

export class MissingClient extends Error {
  override readonly name = 'MissingClient';
}

export interface RunResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly lines: JsonObject[];
}

export function exec(file: string, args: readonly string[], cwd = repoRoot): Promise<{ ok: boolean; out: string }> {
  return new Promise((resolve) => {
    execFile(file, [...args], { cwd, timeout: 120_000, env: goEnv() }, (err, stdout, stderr) => {
      resolve({ ok: err === null, out: `${stdout}${stderr}` });
    });
  });
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}

export async function need(path: string, packages: readonly string[]): Promise<void> {
  if (!(await exists(path))) throw new MissingClient(`${path} not found (install Debian packages: ${packages.join(' ')})`);
}

/** Go without modules: the Debian package puts amqp091-go's source under /usr/share/gocode. */
function goEnv(): NodeJS.ProcessEnv {
  return { ...process.env, GO111MODULE: 'off', GOPATH: '/usr/share/gocode', GOFLAGS: '', GOCACHE: process.env['GOCACHE'] ?? join(process.env['HOME'] ?? '/tmp', '.cache', 'go-build') };
}

const JAVA_CLASSPATH = ['/usr/share/java/amqp-client.jar', '/usr/share/java/slf4j-api.jar', '/usr/share/java/slf4j-nop.jar'];

function python(name: string, script: string, packages: string[], module: string, steps?: readonly string[]): ClientSpec {
  return {
    name, language: 'Python', packages, exchanges: true, ...(steps ? { steps } : {}),
    async prepare() {
      await need('/usr/bin/python3', packages);
      const r = await exec('/usr/bin/python3', ['-c', `import ${module}`]);
      if (!r.ok) throw new MissingClient(`python3 cannot import ${module} (install Debian packages: ${packages.join(' ')})`);
      return { file: '/usr/bin/python3', args: [join(here, 'python', script)], cwd: repoRoot };
    },
  };
}

function node(name: string, script: string): ClientSpec {
  return {
    name, language: 'Node', packages: [], exchanges: true,
    ...(name === 'amqplib' ? { steps: STEPS.filter((s) => s !== 'tx') } : {}),
    async prepare() {
      return { file: process.execPath, args: ['--import', 'tsx', join(here, 'node', script)], cwd: repoRoot };
    },
  };
}

/** Step names of the golden trace, in order (expected-trace.json). */
export const STEPS = ['connect', 'exchanges', 'confirms', 'prefetch', 'nack_requeue', 'basic_get', 'rpc', 'tx', 'heartbeat',
  'error_404', 'error_406', 'cleanup'] as const;

export const CLIENTS: readonly ClientSpec[] = [
  python('pika', 'pika_client.py', ['python3-pika'], 'pika'),
  python('kombu', 'kombu_client.py', ['python3-kombu', 'python3-amqp'], 'kombu',
    [...STEPS.filter((s) => s !== 'cleanup'), 'kombu_retry', 'kombu_ack', 'kombu_simple_queue', 'cleanup']),
  {
    ...python('celery', 'celery_client.py', ['python3-celery'], 'celery',
      ['celery_add', 'celery_retry', 'celery_chain', 'celery_group', 'celery_error', 'cleanup']),
    language: 'Python framework', exchanges: false,
  },
  {
    name: 'go', language: 'Go', packages: ['golang-go', 'golang-github-rabbitmq-amqp091-go-dev'], exchanges: true,
    async prepare(buildDir) {
      await need('/usr/bin/go', this.packages);
      await need('/usr/share/gocode/src/github.com/rabbitmq/amqp091-go/connection.go', this.packages);
      const out = join(buildDir, 'interop-go');
      const r = await exec('/usr/bin/go', ['build', '-o', out, join(here, 'go', 'main.go')]);
      if (!r.ok) throw new Error(`go build failed:\n${r.out}`);
      return { file: out, args: [], cwd: repoRoot };
    },
  },
  {
    name: 'bunny', language: 'Ruby', packages: ['ruby', 'ruby-bunny'], exchanges: true,
    async prepare() {
      await need('/usr/bin/ruby', this.packages);
      const r = await exec('/usr/bin/ruby', ['-e', "require 'bunny'"]);
      if (!r.ok) throw new MissingClient(`ruby cannot require bunny (install Debian package ruby-bunny)`);
      return { file: '/usr/bin/ruby', args: [join(here, 'ruby', 'bunny_client.rb')], cwd: repoRoot };
    },
  },
  {
    name: 'java', language: 'Java', packages: ['librabbitmq-client-java', 'default-jdk-headless'], exchanges: true,
    async prepare(buildDir) {
      await need('/usr/bin/javac', this.packages);
      for (const jar of JAVA_CLASSPATH) await need(jar, this.packages);
      const classes = join(buildDir, 'java-classes');
      await mkdir(classes, { recursive: true });
      const r = await exec('/usr/bin/javac', ['-nowarn', '-d', classes, '-cp', JAVA_CLASSPATH.join(':'), join(here, 'java', 'InteropClient.java')]);
      if (!r.ok) throw new Error(`javac failed:\n${r.out}`);
      return { file: '/usr/bin/java', args: ['-XX:TieredStopAtLevel=1', '-Xshare:auto', '-cp', [classes, ...JAVA_CLASSPATH].join(':'), 'InteropClient'], cwd: repoRoot };
    },
  },
  {
    name: 'rabbitmq-c', language: 'C', packages: ['librabbitmq-dev', 'gcc'], exchanges: true,
    async prepare(buildDir) {
      await need('/usr/bin/gcc', this.packages);
      await need('/usr/include/amqp.h', this.packages);
      const out = join(buildDir, 'interop-c');
      const r = await exec('/usr/bin/gcc', ['-O1', '-Wall', '-o', out, join(here, 'c', 'interop_client.c'), '-lrabbitmq']);
      if (!r.ok) throw new Error(`gcc failed:\n${r.out}`);
      return { file: out, args: [], cwd: repoRoot };
    },
  },
  {
    name: 'amqp-tools', language: 'shell (rabbitmq-c CLI)', packages: ['amqp-tools'], exchanges: true,
    steps: ['connect', 'cli_get', 'cli_consume_topic', 'cli_prefetch', 'cli_error_404', 'cleanup'],
    bodyOnly: true,
    async prepare() {
      for (const tool of ['amqp-declare-queue', 'amqp-publish', 'amqp-consume', 'amqp-get', 'amqp-delete-queue']) await need(`/usr/bin/${tool}`, this.packages);
      return { file: '/bin/bash', args: [join(here, 'amqp-tools', 'amqp_tools_client.sh')], cwd: repoRoot };
    },
  },
  node('amqplib', 'amqplib-client.ts'),
  node('cloudamqp', 'cloudamqp-client.ts'),
];

/** Run a prepared client; resolves with its exit code and the JSON lines it printed. */
/**
 * Prepare a client program: a missing toolchain or package is a skip reason locally (naming the
 * packages) and an error in CI, where interop/install-deps.sh must have installed it.
 */
export async function prepareOrSkip(name: string, prepare: () => Promise<Command>): Promise<{ cmd: Command } | { skipReason: string }> {
  try {
    return { cmd: await prepare() };
  } catch (e: unknown) {
    if (!(e instanceof MissingClient) || process.env['CI']) throw e;
    return { skipReason: `${name} missing: ${e.message}` };
  }
}

export function runClient(cmd: Command, args: readonly string[], timeoutMs = 60_000): Promise<RunResult> {
  return new Promise((resolve) => {
    const child = spawn(cmd.file, [...cmd.args, ...args], { cwd: cmd.cwd, env: { ...process.env, PYTHONDONTWRITEBYTECODE: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => { stdout += d; });
    child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
    const timer = setTimeout(() => { stderr += `\n[killed after ${timeoutMs} ms]`; child.kill('SIGKILL'); }, timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      const lines: JsonObject[] = [];
      for (const line of stdout.split('\n')) {
        const t = line.trim();
        if (!t.startsWith('{')) continue;
        try {
          const v = JSON.parse(t) as Json;
          if (v !== null && typeof v === 'object' && !Array.isArray(v)) lines.push(v);
        } catch {
          stderr += `\n[unparsable line] ${t}`;
        }
      }
      resolve({ code, stdout, stderr, lines });
    });
  });
}

/** Run `tasks` with at most `limit` at once (the machine has two cores shared with other work). */
export async function limited<T>(limit: number, tasks: readonly (() => Promise<T>)[]): Promise<T[]> {
  const results: T[] = new Array<T>(tasks.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < tasks.length) {
      const i = next++;
      const task = tasks[i];
      if (task) results[i] = await task();
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, tasks.length) }, worker));
  return results;
}
