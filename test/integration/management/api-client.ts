/**
 * A small HTTP client for the management API tests: JSON in, status/headers/JSON out, Basic auth
 * (guest/guest unless told otherwise). Works against Warren's listener and the reference's.
 */
import { useBroker, type BrokerContext } from '../helpers/setup.js';
import type { WarrenOptions } from '../../../src/cli/warren.js';

export interface ApiResponse {
  status: number;
  headers: Headers;
  text: string;
  /** The parsed body (undefined when empty or not JSON). */
  body: unknown;
}

export type Obj = Record<string, unknown>;

export class Api {
  constructor(readonly base: string, private readonly user = 'guest', private readonly password = 'guest') {}

  as(user: string, password: string): Api {
    return new Api(this.base, user, password);
  }

  async request(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<ApiResponse> {
    const h: Record<string, string> = {
      authorization: 'Basic ' + Buffer.from(`${this.user}:${this.password}`).toString('base64'), ...headers,
    };
    let payload: string | undefined;
    if (body !== undefined) {
      payload = typeof body === 'string' ? body : JSON.stringify(body);
      h['content-type'] ??= 'application/json';
    }
    const res = await fetch(this.base + path, { method, headers: h, ...(payload === undefined ? {} : { body: payload }) });
    const text = await res.text();
    let parsed: unknown;
    try {
      parsed = text === '' ? undefined : JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    return { status: res.status, headers: res.headers, text, body: parsed };
  }

  get(path: string): Promise<ApiResponse> { return this.request('GET', path); }
  put(path: string, body: unknown = {}): Promise<ApiResponse> { return this.request('PUT', path, body); }
  post(path: string, body: unknown = {}): Promise<ApiResponse> { return this.request('POST', path, body); }
  delete(path: string, headers?: Record<string, string>): Promise<ApiResponse> { return this.request('DELETE', path, undefined, headers); }

  /** GET, expecting 200; the body. */
  async json(path: string): Promise<unknown> {
    const r = await this.get(path);
    if (r.status !== 200) throw new Error(`GET ${path}: ${r.status} ${r.text}`);
    return r.body;
  }

  async obj(path: string): Promise<Obj> {
    return (await this.json(path)) as Obj;
  }

  async list(path: string): Promise<Obj[]> {
    return (await this.json(path)) as Obj[];
  }
}

/** encodeURIComponent, as RabbitMQ's clients encode vhosts and names in paths ('/' -> %2F). */
export const enc = encodeURIComponent;

/** The body of a RabbitMQ error reply. */
export function errorOf(r: ApiResponse): { error: unknown; reason: unknown } {
  return r.body as { error: unknown; reason: unknown };
}


export interface ManagementContext {
  readonly ctx: BrokerContext;
  /** A client for this file's broker, as guest. */
  api(): Api;
}

/** One Warren per test file with the management API on an ephemeral port. */
export function useManagement(options: WarrenOptions = {}): ManagementContext {
  const ctx = useBroker({ managementPort: 0, ...options });
  return {
    ctx,
    api: () => {
      if (ctx.isReference) return new Api(process.env['REFERENCE_MANAGEMENT_URL'] ?? 'http://127.0.0.1:15672');
      const url = ctx.broker.warren?.managementUrl;
      if (url === undefined) throw new Error('the management API is not enabled');
      return new Api(url);
    },
  };
}
