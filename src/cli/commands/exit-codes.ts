/**
 * Exit codes of the `warren` management commands: BSD sysexits, as RabbitMQ's CLI tools use them
 * (rabbitmqctl/rabbitmq-diagnostics: 64 usage, 65 data error, 69 unavailable, 70 software,
 * 75 temporary failure), plus 66 for "no such object" and 77 for refused credentials so scripts
 * can tell them apart. README documents the table.
 */
export const EXIT = {
  ok: 0,
  /** Wrong command line (unknown command or option, missing argument). */
  usage: 64,
  /** The broker refused the input (HTTP 400/405/409...), or a local file is not valid JSON. */
  dataerr: 65,
  /** The named object (queue, exchange, user, vhost, connection...) or input file does not exist. */
  notFound: 66,
  /** The broker is unreachable, failed (HTTP 5xx), or a health check failed. */
  unavailable: 69,
  /** A bug in this program or an answer it does not understand. */
  software: 70,
  /** No answer within --timeout. */
  tempfail: 75,
  /** Authentication failed or the user lacks the needed tag (HTTP 401/403). */
  noperm: 77,
} as const;

/** An error that ends a command with a message on stderr and an exit code. */
export class CliError extends Error {
  constructor(message: string, readonly exitCode: number) {
    super(message);
    this.name = 'CliError';
  }
}
