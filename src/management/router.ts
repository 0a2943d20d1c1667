/**
 * A small path router for the management API: routes are a method, a pattern of literal and
 * `:param` segments, the user tag they need, and a handler. Paths are split on '/' before each
 * segment is percent-decoded, so a vhost '/' arrives as %2F and a name may contain '/' (RabbitMQ's
 * clients encode both). Routes are tried in the order they were added (add literal paths such as
 * /api/queues/detailed before /api/queues/:vhost). A path that matches with another method is 405.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { User } from '../broker/user-store.js';
import type { ManagementApp } from './management-app.js';
import type { JsonObject } from './request-values.js';

/** RabbitMQ's user tags, as levels: administrator includes every other. */
export type Level = 'management' | 'policymaker' | 'monitoring' | 'administrator';

export interface RouteContext {
  readonly method: string;
  readonly params: Readonly<Record<string, string>>;
  readonly query: URLSearchParams;
  readonly user: User;
  readonly headers: IncomingHttpHeaders;
  readonly app: ManagementApp;
  /** The body as a JSON object ({} when empty; 400 not_json otherwise). */
  body(): Promise<JsonObject>;
  /** The raw body (definitions uploads). */
  rawBody(): Promise<Buffer>;
}

export interface Reply {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

export type Handler = (ctx: RouteContext) => Reply | Promise<Reply>;

export type Method = 'GET' | 'PUT' | 'POST' | 'DELETE';

interface Route {
  readonly method: Method;
  readonly segments: readonly string[];
  readonly level: Level;
  readonly handler: Handler;
}

export interface Match {
  readonly route: { readonly level: Level; readonly handler: Handler };
  readonly params: Record<string, string>;
}

export class Router {
  private readonly routes: Route[] = [];

  add(method: Method, pattern: string, level: Level, handler: Handler): void {
    this.routes.push({ method, segments: pattern.split('/').filter((s) => s !== ''), level, handler });
  }

  get(pattern: string, level: Level, handler: Handler): void { this.add('GET', pattern, level, handler); }
  put(pattern: string, level: Level, handler: Handler): void { this.add('PUT', pattern, level, handler); }
  post(pattern: string, level: Level, handler: Handler): void { this.add('POST', pattern, level, handler); }
  delete(pattern: string, level: Level, handler: Handler): void { this.add('DELETE', pattern, level, handler); }

  /**
   * The route for `method` and the raw (still percent-encoded) path: a Match, 'method' when the
   * path exists with other methods, undefined when no route has this path.
   */
  match(method: string, rawPath: string): Match | 'method' | undefined {
    const parts = rawPath.split('/').filter((s) => s !== '');
    let decoded: string[];
    try {
      decoded = parts.map((p) => decodeURIComponent(p));
    } catch {
      return undefined;
    }
    let pathExists = false;
    for (const r of this.routes) {
      const params = matchSegments(r.segments, decoded);
      if (params === undefined) continue;
      if (r.method === method) return { route: r, params };
      pathExists = true;
    }
    return pathExists ? 'method' : undefined;
  }
}

function matchSegments(pattern: readonly string[], path: readonly string[]): Record<string, string> | undefined {
  if (pattern.length !== path.length) return undefined;
  const params: Record<string, string> = {};
  for (let i = 0; i < pattern.length; i++) {
    const p = pattern[i]!;
    const s = path[i]!;
    if (p.startsWith(':')) params[p.slice(1)] = s;
    else if (p !== s) return undefined;
  }
  return params;
}
