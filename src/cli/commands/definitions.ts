/**
 * `warren export FILE` and `warren import FILE`: the broker's definitions (RabbitMQ's
 * definitions.json: users, vhosts, permissions, policies, parameters, queues, exchanges,
 * bindings), for the whole broker or, with -V, one vhost. FILE `-` is stdout / stdin.
 */
import type { Command } from 'commander';
import { readFile, writeFile } from 'node:fs/promises';
import { seg } from '../management-client.js';
import { action, type CommandContext, type Run } from './context.js';
import { CliError, EXIT } from './exit-codes.js';

function definitionsPath(ctx: CommandContext): string {
  const v = ctx.vhostOption;
  return v === undefined ? '/api/definitions' : `/api/definitions/${seg(v)}`;
}

export async function readInput(file: string): Promise<string> {
  if (file !== '-') {
    try {
      return await readFile(file, 'utf8');
    } catch (err: unknown) {
      throw new CliError(`cannot read ${file}: ${(err as Error).message}`, EXIT.notFound);
    }
  }
  const parts: Buffer[] = [];
  for await (const chunk of process.stdin) parts.push(chunk as Buffer);
  return Buffer.concat(parts).toString('utf8');
}

/** Write `doc` as indented JSON to `file` (`-`: stdout). Returns whether it went to a file. */
export async function writeOutput(ctx: CommandContext, file: string, doc: unknown): Promise<boolean> {
  const text = JSON.stringify(doc, null, 2) + '\n';
  if (file === '-') {
    ctx.out.write(text);
    return false;
  }
  try {
    await writeFile(file, text);
  } catch (err: unknown) {
    throw new CliError(`cannot write ${file}: ${(err as Error).message}`, EXIT.dataerr);
  }
  return true;
}

export function registerDefinitions(program: Command, run: Run): void {
  program.command('export').description('save the definitions (all vhosts, or -V one) to FILE (- for stdout)')
    .argument('<file>')
    .action(action(run, async (ctx, [file]) => {
      const defs = await ctx.client.get(definitionsPath(ctx));
      if (await writeOutput(ctx, file!, defs) && !ctx.json) ctx.out.write(`definitions exported to ${file!}\n`);
    }));

  program.command('import').description('load definitions from FILE (- for stdin) into the broker (or -V one vhost)')
    .argument('<file>')
    .action(action(run, async (ctx, [file]) => {
      const text = await readInput(file!);
      let defs: unknown;
      try {
        defs = JSON.parse(text);
      } catch (err: unknown) {
        throw new CliError(`${file!} is not valid JSON: ${(err as Error).message}`, EXIT.dataerr);
      }
      if (defs === null || typeof defs !== 'object' || Array.isArray(defs)) {
        throw new CliError(`${file!} is not a definitions document (a JSON object)`, EXIT.dataerr);
      }
      await ctx.client.post(definitionsPath(ctx), defs);
      if (!ctx.json) ctx.out.write(`definitions imported from ${file!}\n`);
    }));
}
