/**
 * Runs the RabbitMQ tutorial programs unchanged against the broker under test. Each program is the
 * tutorial's code pasted into a function that receives `amqp`, `process` and `console` as parameters,
 * so its text (including `amqp.connect('amqp://localhost', ...)`, `process.argv` and
 * `process.exit(0)`) stays as published while the harness:
 *   - points every connect at the broker under test,
 *   - renames the tutorials' fixed queue/exchange names to unique ones on the shared reference broker
 *     (several suites use it at once) and leaves them as-is on Warren,
 *   - reports when a program's consumer is registered (consume-ok), so a test never sleeps,
 *   - collects console output, and closes every connection a program opened.
 */
import { format } from 'node:util';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import amqpCallback from 'amqplib/callback_api';
import type * as CallbackApi from 'amqplib/callback_api';
import amqpPromise from 'amqplib';
import type * as PromiseApi from 'amqplib';
import { afterEach, beforeEach } from 'vitest';
import { uniqueName, waitFor } from '../../helpers/broker.js';
import type { BrokerContext } from '../helpers/setup.js';

const PROGRAMS = join(dirname(fileURLToPath(import.meta.url)), 'programs');

/** The tutorials' fixed resource names; on the reference each gets a unique suffix. */
const TUTORIAL_NAMES = new Set(['hello', 'task_queue', 'logs', 'direct_logs', 'topic_logs', 'rpc_queue']);

/** Channel methods whose first argument is a queue or exchange name (and, for bind, the second too). */
const NAMED_FIRST = new Set(['assertQueue', 'checkQueue', 'deleteQueue', 'purgeQueue', 'assertExchange', 'checkExchange',
  'deleteExchange', 'publish', 'sendToQueue', 'consume', 'get', 'bindQueue', 'unbindQueue', 'bindExchange', 'unbindExchange']);
const NAMED_SECOND = new Set(['bindQueue', 'unbindQueue', 'bindExchange', 'unbindExchange']);

export interface FakeProcess {
  argv: string[];
  exit(code?: number): void;
}
export interface FakeConsole {
  log(...args: unknown[]): void;
  error(...args: unknown[]): void;
}

type Fn = (...args: unknown[]) => unknown;

export class TutorialHarness {
  private readonly renames = new Map<string, string>();
  private readonly connections: Array<{ close(): unknown }> = [];
  /** Every queue and exchange name a program declared (after renaming), for cleanup. */
  readonly declaredQueues = new Set<string>();
  readonly declaredExchanges = new Set<string>();

  constructor(private readonly url: string, private readonly rename: boolean) {}

  private name(n: unknown): unknown {
    if (!this.rename || typeof n !== 'string' || !TUTORIAL_NAMES.has(n)) return n;
    let r = this.renames.get(n);
    if (r === undefined) {
      r = uniqueName(n);
      this.renames.set(n, r);
    }
    return r;
  }

  /** The name the broker actually sees for a tutorial name. */
  actual(n: string): string {
    return this.name(n) as string;
  }

  /** Wrap a channel (either API) so names are mapped and consume-ok is observed. */
  private channel<C extends object>(ch: C, program: ProgramRun, api: 'callback' | 'promise'): C {
    return new Proxy(ch, {
      get: (target, prop, receiver) => {
        const v = Reflect.get(target, prop, receiver) as unknown;
        if (typeof prop !== 'string' || typeof v !== 'function') return v;
        const fn = v as Fn;
        if (!NAMED_FIRST.has(prop)) return fn.bind(target);
        return (...args: unknown[]) => {
          args[0] = this.name(args[0]);
          if (NAMED_SECOND.has(prop)) args[1] = this.name(args[1]);
          if (prop === 'assertQueue' && typeof args[0] === 'string' && args[0] !== '') this.declaredQueues.add(args[0]);
          if (prop === 'assertExchange' && typeof args[0] === 'string') this.declaredExchanges.add(args[0]);
          if (prop === 'consume') {
            // Callback API: observe consume-ok through an added/wrapped callback; promise API: the result.
            const cb = args[3];
            if (api === 'callback') {
              while (args.length < 3) args.push(undefined);
              args[3] = (err: unknown, ok: unknown) => {
                if (err === null || err === undefined) program.consumers++;
                if (typeof cb === 'function') (cb as Fn)(err, ok);
              };
              return fn.apply(target, args);
            }
            const p = fn.apply(target, args) as Promise<unknown>;
            return p.then((ok) => { program.consumers++; return ok; });
          }
          return fn.apply(target, args);
        };
      },
    });
  }

  /** A stand-in for `require('amqplib/callback_api')` bound to the broker under test. */
  callbackAmqp(program: ProgramRun): typeof CallbackApi {
    const connect = (_url: unknown, ...rest: unknown[]): void => {
      const cb = rest[rest.length - 1] as (err: Error | null, conn?: CallbackApi.Connection) => void;
      // A real process.exit() would have stopped the program before it got here.
      if (program.exitCode !== undefined) return;
      amqpCallback.connect(this.url, (err, conn) => {
        if (err !== null && err !== undefined) return cb(err);
        this.connections.push(conn);
        program.connections.push(conn);
        conn.on('error', () => undefined);
        const createChannel = conn.createChannel.bind(conn) as unknown as Fn;
        const createConfirmChannel = conn.createConfirmChannel.bind(conn) as unknown as Fn;
        const wrap = (create: Fn) => (...a: unknown[]) => {
          const ccb = a[a.length - 1] as (e: Error | null, ch?: CallbackApi.Channel) => void;
          a[a.length - 1] = (e: Error | null, ch?: CallbackApi.Channel) => {
            if (ch !== undefined) ch.on('error', () => undefined);
            ccb(e, ch === undefined ? ch : this.channel(ch, program, 'callback'));
          };
          return create(...a);
        };
        (conn as unknown as Record<string, unknown>)['createChannel'] = wrap(createChannel);
        (conn as unknown as Record<string, unknown>)['createConfirmChannel'] = wrap(createConfirmChannel);
        cb(null, conn);
      });
    };
    return { ...amqpCallback, connect } as unknown as typeof CallbackApi;
  }

  /** A stand-in for `require('amqplib')` (promise API) bound to the broker under test. */
  promiseAmqp(program: ProgramRun): typeof PromiseApi {
    const connect = async (): Promise<PromiseApi.ChannelModel> => {
      if (program.exitCode !== undefined) return new Promise<never>(() => undefined); // exited: never connects
      const conn = await amqpPromise.connect(this.url);
      this.connections.push(conn);
      program.connections.push(conn);
      conn.on('error', () => undefined);
      const createChannel = conn.createChannel.bind(conn);
      const createConfirmChannel = conn.createConfirmChannel.bind(conn);
      (conn as unknown as Record<string, unknown>)['createChannel'] = async () => this.channel(await createChannel(), program, 'promise');
      (conn as unknown as Record<string, unknown>)['createConfirmChannel'] = async () => this.channel(await createConfirmChannel(), program, 'promise');
      return conn;
    };
    return { ...amqpPromise, connect } as unknown as typeof PromiseApi;
  }

  /**
   * Run a tutorial program file (programs/<file>.js, the tutorial's text as published) with `argv`.
   * Its `require('amqplib/callback_api')` / `require('amqplib')` get the harness's stand-ins.
   */
  run(file: string, argv: string[] = []): ProgramRun {
    const run = new ProgramRun();
    const source = readFileSync(join(PROGRAMS, file), 'utf8').replace(/^#!.*\n/, '');
    const proc: FakeProcess = {
      argv: ['node', file, ...argv],
      exit: (code = 0) => run.exit(code),
    };
    const cons: FakeConsole = {
      log: (...args: unknown[]) => { run.output.push(format(...args)); },
      error: (...args: unknown[]) => { run.output.push(format(...args)); },
    };
    const fakeRequire = (id: string): unknown => {
      if (id === 'amqplib/callback_api') return this.callbackAmqp(run);
      if (id === 'amqplib') return this.promiseAmqp(run);
      throw new Error(`tutorial program required an unexpected module: ${id}`);
    };
    try {
      // The program's text runs as a function body with the harness's require/process/console in scope.
      // eslint-disable-next-line @typescript-eslint/no-implied-eval
      const body = new Function('require', 'process', 'console', source) as (r: unknown, p: unknown, c: unknown) => void;
      body(fakeRequire, proc, cons);
    } catch (e) {
      run.fail(e);
    }
    return run;
  }

  async closeAll(): Promise<void> {
    for (const c of this.connections.splice(0)) {
      try {
        await new Promise<void>((resolve) => {
          const r = c.close() as unknown;
          if (r instanceof Promise) r.then(() => resolve(), () => resolve());
          else resolve();
        });
      } catch {
        // already closed by the program
      }
    }
  }
}

export class ProgramRun {
  readonly output: string[] = [];
  consumers = 0;
  exitCode: number | undefined;
  error: unknown;

  readonly connections: Array<{ close(): unknown }> = [];

  /** Like killing the program's process: its connections go away (unacked messages are requeued). */
  async kill(): Promise<void> {
    for (const c of this.connections.splice(0)) {
      await new Promise<void>((resolve) => {
        try {
          const r = c.close() as unknown;
          if (r instanceof Promise) r.then(() => resolve(), () => resolve());
          else resolve();
        } catch {
          resolve();
        }
      });
    }
  }

  exit(code: number): void {
    this.exitCode ??= code;
  }

  fail(e: unknown): void {
    this.error ??= e;
  }

  /** Wait until the program has registered `n` consumers (its consume-ok arrived). */
  async ready(n = 1): Promise<void> {
    await waitFor(() => {
      if (this.error !== undefined) throw this.error as Error;
      return this.consumers >= n;
    });
  }

  async lines(n: number, timeoutMs = 10_000): Promise<string[]> {
    await waitFor(() => {
      if (this.error !== undefined) throw this.error as Error;
      return this.output.length >= n;
    }, timeoutMs);
    return this.output;
  }

  async exited(timeoutMs = 10_000): Promise<number> {
    await waitFor(() => {
      if (this.error !== undefined) throw this.error as Error;
      return this.exitCode !== undefined;
    }, timeoutMs);
    return this.exitCode!;
  }
}

/**
 * Per-test harness for a tutorial suite: a fresh TutorialHarness for each test; afterEach closes
 * the programs' connections and deletes what they declared (on the reference those names are unique
 * and would otherwise pile up).
 */
export function useTutorials(ctx: BrokerContext): { readonly h: TutorialHarness } {
  let current: TutorialHarness | undefined;
  beforeEach(() => {
    current = new TutorialHarness(ctx.url, ctx.isReference);
  });
  afterEach(async () => {
    const h = current;
    current = undefined;
    if (h === undefined) return;
    await h.closeAll();
    if (h.declaredQueues.size + h.declaredExchanges.size === 0) return;
    const conn = await amqpPromise.connect(ctx.url);
    try {
      for (const q of h.declaredQueues) {
        const ch = await conn.createChannel();
        ch.on('error', () => undefined);
        await ch.deleteQueue(q).then(() => ch.close(), () => undefined);
      }
      for (const e of h.declaredExchanges) {
        const ch = await conn.createChannel();
        ch.on('error', () => undefined);
        await ch.deleteExchange(e).then(() => ch.close(), () => undefined);
      }
    } finally {
      await conn.close();
    }
  });
  return {
    get h() {
      if (current === undefined) throw new Error('tutorial harness used outside a test');
      return current;
    },
  };
}
