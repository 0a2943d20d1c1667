/**
 * What every management command's action gets: the API client built from the global options
 * (--url, --user, --password, --timeout), the output stream and format (--json, --columns), and
 * the vhost given with -V. `action()` adapts commander's callback to that and records the exit code.
 */
import { InvalidArgumentError, type Command } from 'commander';
import type { Writable } from 'node:stream';
import { ManagementClient } from '../management-client.js';
import type { OutputOptions } from './output.js';

export interface Io {
  out: Writable;
  err: Writable;
  env: NodeJS.ProcessEnv;
}

/** One invocation: its streams and the exit code its action chose. */
export interface Run {
  readonly io: Io;
  code: number;
}

export interface GlobalOptions {
  url: string;
  user: string;
  password: string;
  vhost?: string;
  json: boolean;
  columns?: string;
  timeout: number;
}

/** What a command's action needs: the client, the output stream and options, the vhost given. */
export class CommandContext {
  private clientInstance: ManagementClient | undefined;

  constructor(readonly io: Io, private readonly g: GlobalOptions) {}

  get client(): ManagementClient {
    return (this.clientInstance ??= new ManagementClient({ url: this.g.url, user: this.g.user, password: this.g.password, timeoutMs: this.g.timeout }));
  }

  /** A client whose requests may take `extraMs` longer than --timeout (long polls). */
  clientAllowing(extraMs: number): ManagementClient {
    return new ManagementClient({ url: this.g.url, user: this.g.user, password: this.g.password, timeoutMs: this.g.timeout + extraMs });
  }

  get out(): Writable { return this.io.out; }

  get output(): OutputOptions { return { json: this.g.json, columns: this.g.columns }; }

  /** -V/--vhost, or undefined when not given (list commands then show every vhost). */
  get vhostOption(): string | undefined { return this.g.vhost; }

  /** The vhost for commands about one object: -V, else the default vhost '/'. */
  get vhost(): string { return this.g.vhost ?? '/'; }

  get json(): boolean { return this.g.json; }
}

/**
 * Wrap a command's action: build its context from the global options; the action's positional
 * arguments (strings; variadic ones joined), its own options, and the exit code it returns.
 */
export function action(run: Run, fn: (ctx: CommandContext, args: string[], opts: Record<string, unknown>) => Promise<number | void>) {
  return async (...raw: unknown[]): Promise<void> => {
    const cmd = raw[raw.length - 1] as Command;
    const args = raw.slice(0, -2).flatMap((a) => (a === undefined ? [] : Array.isArray(a) ? a.map(String) : [String(a)]));
    const code = await fn(new CommandContext(run.io, cmd.optsWithGlobals<GlobalOptions>()), args, cmd.opts());
    if (typeof code === 'number') run.code = code;
  };
}

export function nonNegativeInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError('not a non-negative integer');
  return n;
}

export function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError('not a positive integer');
  return n;
}

