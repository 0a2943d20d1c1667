/**
 * The `warren` management commands (everything but `start`): a client of the management HTTP API
 * in the spirit of rabbitmqadmin and rabbitmqctl/rabbitmq-diagnostics. main.ts imports this module
 * only when one of these commands is run, so `warren start` never loads it.
 *
 * Global options (also from the environment): --url (WARREN_MANAGEMENT_URL, default
 * http://localhost:15672), -u/--user (WARREN_MANAGEMENT_USER, guest), -p/--password
 * (WARREN_MANAGEMENT_PASSWORD, guest), -V/--vhost, --json, --columns, --timeout.
 * Every failure ends with one line on stderr and an exit code from exit-codes.ts.
 */
import { Command, CommanderError } from 'commander';
import { positiveInt, type Io, type Run } from './context.js';
import { CliError, EXIT } from './exit-codes.js';
import { registerList } from './list.js';
import { registerObjects } from './objects.js';
import { registerMessages } from './messages.js';
import { registerDefinitions } from './definitions.js';
import { registerHealth } from './health.js';
import { registerTestTools } from './test-tools.js';

/** The commands this module handles (main.ts routes them here). */
export const ADMIN_COMMANDS: readonly string[] = [
  'list', 'declare', 'delete', 'purge', 'publish', 'get', 'close-connection', 'export', 'import', 'status', 'ping', 'check',
  'peek', 'inject', 'wait', 'reset', 'snapshot', 'restore',
];

function buildProgram(run: Run): Command {
  const io = run.io;
  const env = io.env;
  const program = new Command('warren')
    .description('Warren management commands (over the management HTTP API)')
    .option('--url <url>', 'management API base URL [env WARREN_MANAGEMENT_URL]', env['WARREN_MANAGEMENT_URL'] ?? 'http://localhost:15672')
    .option('-u, --user <name>', 'user name [env WARREN_MANAGEMENT_USER]', env['WARREN_MANAGEMENT_USER'] ?? 'guest')
    .option('-p, --password <password>', 'password [env WARREN_MANAGEMENT_PASSWORD]', env['WARREN_MANAGEMENT_PASSWORD'] ?? 'guest')
    .option('-V, --vhost <vhost>', 'virtual host (lists: only this one; others: default /)')
    .option('--json', 'print JSON instead of a table', false)
    .option('--columns <list>', 'comma-separated fields to show (dotted paths reach nested fields)')
    .option('--timeout <ms>', 'give up after this many milliseconds', positiveInt, 10_000)
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.out.write(s), writeErr: (s) => io.err.write(s) });
  registerList(program, run);
  registerObjects(program, run);
  registerMessages(program, run);
  registerDefinitions(program, run);
  registerHealth(program, run);
  registerTestTools(program, run);
  for (const c of program.commands) {
    c.exitOverride().configureOutput({ writeOut: (s) => io.out.write(s), writeErr: (s) => io.err.write(s) });
    for (const sub of c.commands) sub.exitOverride().configureOutput({ writeOut: (s) => io.out.write(s), writeErr: (s) => io.err.write(s) });
  }
  return program;
}

/** Run one management command (argv without node and script); resolves with the exit code. */
export async function runAdmin(argv: readonly string[], io: Io = { out: process.stdout, err: process.stderr, env: process.env }): Promise<number> {
  const run: Run = { io, code: EXIT.ok };
  try {
    await buildProgram(run).parseAsync([...argv], { from: 'user' });
    return run.code;
  } catch (err: unknown) {
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.help' || err.code === 'commander.version') return EXIT.ok;
      return EXIT.usage;
    }
    if (err instanceof CliError) {
      io.err.write(`Error: ${err.message}\n`);
      return err.exitCode;
    }
    io.err.write(`Error: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
    return EXIT.software;
  }
}
