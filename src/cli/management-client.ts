/**
 * The `warren` command line's HTTP client for the management API (Warren's or RabbitMQ's: the
 * paths and JSON are RabbitMQ's). Basic auth, a timeout, and every failure turned into a CliError
 * with a message a person can act on ("is the broker running on localhost:15672?") and an exit
 * code a script can test (see exit-codes.ts).
 */
import { CliError, EXIT } from './commands/exit-codes.js';

export interface ClientOptions {
  /** Base URL of the management API, e.g. http://localhost:15672 (a trailing /api is accepted). */
  url: string;
  user: string;
  password: string;
  timeoutMs: number;
}

export interface Reply {
  status: number;
  /** Parsed JSON when the body is JSON, else the text (undefined when empty). */
  body: unknown;
}

/** One path segment, encoded as the management API expects (the default vhost is %2F). */
export function seg(name: string): string {
  return encodeURIComponent(name);
}

export class ManagementClient {
  readonly base: string;
  private readonly auth: string;

  constructor(readonly options: ClientOptions) {
    let url: URL;
    try {
      url = new URL(options.url);
    } catch {
      throw new CliError(`invalid management URL '${options.url}' (expected e.g. http://localhost:15672)`, EXIT.usage);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new CliError(`invalid management URL '${options.url}': use http:// or https://`, EXIT.usage);
    }
    this.base = url.toString().replace(/\/+$/, '').replace(/\/api$/, '');
    this.auth = 'Basic ' + Buffer.from(`${options.user}:${options.password}`).toString('base64');
  }

  /** host:port of the API, for messages. */
  get where(): string {
    return new URL(this.base).host;
  }

  /** Any request; answers whatever status the API gives (callers decide what is an error). */
  async request(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Reply> {
    const init: RequestInit = {
      method,
      // No Accept header: RabbitMQ answers 406 to DELETE .../contents when it asks for JSON.
      headers: { authorization: this.auth, ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
      signal: AbortSignal.timeout(this.options.timeoutMs),
    };
    if (body !== undefined) init.body = JSON.stringify(body);
    let res: Response;
    try {
      res = await fetch(this.base + path, init);
    } catch (err: unknown) {
      throw this.connectError(err);
    }
    const text = await res.text();
    let parsed: unknown = text === '' ? undefined : text;
    if (text !== '' && (res.headers.get('content-type') ?? '').includes('json')) {
      try { parsed = JSON.parse(text); } catch { /* keep the text */ }
    }
    return { status: res.status, body: parsed };
  }

  /** A request that must succeed (2xx); anything else becomes a CliError. */
  async call(method: string, path: string, body?: unknown): Promise<unknown> {
    const r = await this.request(method, path, body);
    if (r.status >= 200 && r.status < 300) return r.body;
    throw this.httpError(method, path, r);
  }

  get(path: string): Promise<unknown> { return this.call('GET', path); }
  put(path: string, body: unknown): Promise<unknown> { return this.call('PUT', path, body); }
  post(path: string, body: unknown): Promise<unknown> { return this.call('POST', path, body); }
  delete(path: string): Promise<unknown> { return this.call('DELETE', path); }

  /** A list endpoint: always an array (a paged answer's `items` too). */
  async list(path: string): Promise<Record<string, unknown>[]> {
    const body = await this.get(path);
    const items = Array.isArray(body) ? body : (body as { items?: unknown } | undefined)?.items;
    if (!Array.isArray(items)) throw new CliError(`unexpected answer from ${path}: not a list`, EXIT.software);
    return items as Record<string, unknown>[];
  }

  private connectError(err: unknown): CliError {
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    const code = cause?.code ?? (err as { name?: string }).name;
    if (code === 'TimeoutError' || code === 'AbortError' || code === 'UND_ERR_CONNECT_TIMEOUT') {
      return new CliError(`no answer from the management API at ${this.base} within ${this.options.timeoutMs} ms (--timeout)`, EXIT.tempfail);
    }
    const why = code === 'ECONNREFUSED' ? 'connection refused' : code === 'ENOTFOUND' ? 'unknown host'
      : cause?.code ?? cause?.message ?? String(err);
    return new CliError(
      `cannot reach the management API at ${this.base} (${why}): is the broker running on ${this.where}? ` +
      '(set --url or WARREN_MANAGEMENT_URL)', EXIT.unavailable);
  }

  /** RabbitMQ's error bodies ({error, reason}) become the message; the status picks the exit code. */
  httpError(method: string, path: string, r: Reply): CliError {
    const b = r.body as { error?: unknown; reason?: unknown } | string | undefined;
    const detail = typeof b === 'object' && b !== null
      ? [b.error, b.reason].filter((x) => typeof x === 'string' && x !== '').join(': ')
      : typeof b === 'string' ? b.trim().slice(0, 300) : '';
    const what = `${method} ${path}`;
    // Operations run on an AMQP channel (publish, get) fail with 400 and the AMQP error as reason.
    const amqp = typeof b === 'object' && b !== null && typeof b.reason === 'string' ? /^(\d{3}) [A-Z_]+ - /.exec(b.reason) : null;
    if (r.status === 400 && amqp !== null) {
      const code = amqp[1] === '404' ? EXIT.notFound : amqp[1] === '403' ? EXIT.noperm : EXIT.dataerr;
      return new CliError(`${what}: ${String((b as { reason: string }).reason)}`, code);
    }
    switch (r.status) {
      case 401:
        return new CliError(`access refused for user '${this.options.user}' (${detail || 'HTTP 401'}): check --user/--password `
          + 'or WARREN_MANAGEMENT_USER/WARREN_MANAGEMENT_PASSWORD', EXIT.noperm);
      case 403:
        return new CliError(`not allowed: ${what} (${detail || 'HTTP 403'})`, EXIT.noperm);
      case 404:
        return new CliError(`not found: ${what}${detail === '' ? '' : ` (${detail})`}`, EXIT.notFound);
      default:
        if (r.status >= 500) return new CliError(`the broker failed: ${what}: HTTP ${r.status}${detail === '' ? '' : ` ${detail}`}`, EXIT.unavailable);
        return new CliError(`refused: ${what}: HTTP ${r.status}${detail === '' ? '' : ` ${detail}`}`, EXIT.dataerr);
    }
  }
}
