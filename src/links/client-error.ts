/**
 * What went wrong on an outbound link connection or channel, as a value the link reports (status
 * `reason`, logs) instead of throwing it away. `code` is the AMQP reply code when the peer closed
 * with one (403 refused login, 404 missing queue, 320 forced close...), 0 for socket-level failures
 * (refused, reset, timeout, TLS), whose `errno` is the Node error code (ECONNREFUSED...).
 * `scope` says what died: the whole connection or one channel.
 */

export type ClientErrorScope = 'connection' | 'channel';

export class ClientError extends Error {
  override readonly name = 'ClientError';
  constructor(
    message: string,
    readonly scope: ClientErrorScope,
    /** AMQP reply code; 0 when the failure is not an AMQP close. */
    readonly code = 0,
    readonly classId = 0,
    readonly methodId = 0,
    /** Node's error code for socket failures (ECONNREFUSED, ETIMEDOUT, ...). */
    readonly errno: string | undefined = undefined,
  ) {
    super(message);
  }

  /** A normal close we asked for (200). */
  get normal(): boolean {
    return this.code === 200;
  }
}

/** Describe any thrown value as a ClientError of a connection. */
export function asClientError(err: unknown, scope: ClientErrorScope = 'connection'): ClientError {
  if (err instanceof ClientError) return err;
  if (err instanceof Error) {
    const code = (err as NodeJS.ErrnoException).code;
    return new ClientError(code !== undefined ? `${code}: ${err.message}` : err.message, scope, 0, 0, 0, code);
  }
  return new ClientError(String(err), scope);
}
