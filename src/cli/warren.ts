/**
 * Composition root used by the CLI and by tests: builds the broker from a typed config and
 * starts the listener. Everything else receives its config; nothing reads argv/env here.
 */
export interface WarrenOptions {
  port?: number;
  host?: string;
  dataDir?: string;
  logLevel?: string;
}

export interface Warren {
  readonly port: number;
  readonly host: string;
  /** amqp://guest:guest@127.0.0.1:<port> */
  readonly url: string;
  close(): Promise<void>;
}

export async function startWarren(_options: WarrenOptions = {}): Promise<Warren> {
  throw new Error('not implemented yet');
}
