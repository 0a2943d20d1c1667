/**
 * The management HTTP listener (node:http; chosen over a framework by measurement: see the
 * issue-12 note), served over HTTP, HTTPS (RabbitMQ's management.ssl.*) or both (http-listen.ts). Authenticates every request with HTTP Basic against Warren's users, checks the
 * user's tags as RabbitMQ does (no management tag: 401 "Not management user"; a route's higher tag:
 * "Not administrator user", ...), checks that a vhost named in the path is visible to the user,
 * runs the route, and writes its JSON or RabbitMQ's error body. Never on the hot path; a failing
 * route answers 500 and is logged, the process goes on.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { User } from '../broker/user-store.js';
import { stringifyJson } from '../core/json-text.js';
import { fromBrokerError, HttpError, methodNotAllowed, notAuthorised, notFound } from './http-error.js';
import { HttpService } from './http-listen.js';
import type { AssetReply, ConsoleAssets } from './console-assets.js';
import { ManagementApp } from './management-app.js';
import { parseJsonObject, readBody } from './request-values.js';
import type { Level, Reply, RouteContext, Router } from './router.js';

const REALM = 'Basic realm="RabbitMQ Management"';

/** What RabbitMQ says when a user lacks a route's tag. */
const LEVEL_REFUSAL: Record<Level, string> = {
  management: 'Not management user',
  policymaker: 'Not policymaker user',
  monitoring: 'Not monitor user',
  administrator: 'Not administrator user',
};

export class ManagementServer extends HttpService {
  constructor(
    private readonly app: ManagementApp,
    private readonly router: Router,
    private readonly logger: Logger,
    /** The web console's files, served at paths outside /api/ (undefined: none). */
    private readonly assets?: ConsoleAssets,
  ) {
    super(logger, 'management');
  }

  protected onRequest(req: IncomingMessage, res: ServerResponse): void {
    void this.handle(req, res);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const head = req.method === 'HEAD';
    try {
      const reply = await this.dispatch(req);
      this.write(res, reply, head);
    } catch (e: unknown) {
      const err = fromBrokerError(e);
      if (err !== undefined) {
        this.write(res, errorReply(err), head);
        return;
      }
      this.logger.error({ err: e, method: req.method, url: req.url }, 'management request failed');
      this.write(res, { status: 500, body: { error: 'Internal Server Error', reason: e instanceof Error ? e.message : String(e) } }, head);
    }
  }

  private async dispatch(req: IncomingMessage): Promise<Reply> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const method = req.method === 'HEAD' ? 'GET' : (req.method ?? 'GET');
    const match = this.router.match(method, url.pathname);
    if (match === undefined && method === 'GET' && this.assets !== undefined && !url.pathname.startsWith('/api/')) {
      const asset = await this.assets.get(url.pathname);
      if (asset !== undefined) return asset;
    }
    if (match === undefined) {
      // RabbitMQ authenticates before it looks the path up only for /api paths it knows.
      throw notFound();
    }
    const user = this.authenticate(req);
    if (match === 'method') throw methodNotAllowed();
    const { route, params } = match;
    if (!hasLevel(user, route.level)) throw notAuthorised(LEVEL_REFUSAL[route.level]);
    const vhost = params['vhost'];
    if (vhost !== undefined && this.app.broker.vhosts.has(vhost) && !this.app.canUseVhost(user, vhost)) {
      throw notAuthorised('User not authorised to access virtual host');
    }
    let raw: Promise<Buffer> | undefined;
    const rawBody = () => (raw ??= readBody(req));
    const ctx: RouteContext = {
      method, params, query: url.searchParams, user, headers: req.headers, app: this.app,
      rawBody, body: async () => parseJsonObject(await rawBody()),
    };
    return route.handler(ctx);
  }

  /** HTTP Basic against Warren's users; RabbitMQ's loopback_users rule applies here too. */
  private authenticate(req: IncomingMessage): User {
    const header = req.headers.authorization;
    if (header === undefined || !/^basic /i.test(header)) throw new HttpError(401, undefined);
    const decoded = Buffer.from(header.slice(6).trim(), 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    const name = colon < 0 ? decoded : decoded.slice(0, colon);
    const password = colon < 0 ? '' : decoded.slice(colon + 1);
    const user = this.app.broker.users.authenticate(name, password);
    if (user === undefined) throw new HttpError(401, 'not_authorized', 'Login failed');
    if (!hasLevel(user, 'management')) throw notAuthorised(LEVEL_REFUSAL.management);
    if (this.app.broker.isLoopbackOnly(user.name) && !this.app.node.allowRemoteLoopbackUsers
      && !isLoopback(req.socket.remoteAddress)) {
      throw notAuthorised('User can only log in via localhost');
    }
    return user;
  }

  private write(res: ServerResponse, reply: Reply, head: boolean): void {
    const headers: Record<string, string> = { vary: 'accept, accept-encoding, origin', ...reply.headers };
    if (reply.status === 401) headers['www-authenticate'] = REALM;
    let payload: Buffer | undefined;
    if (isAsset(reply)) {
      payload = reply.raw;
    } else if (reply.body !== undefined) {
      // stringifyJson: queue/binding arguments may nest deeper than JSON.stringify's recursion allows.
      payload = Buffer.from(stringifyJson(reply.body), 'utf8');
      headers['content-type'] = 'application/json';
    }
    headers['content-length'] = String(payload?.length ?? 0);
    res.writeHead(reply.status, headers);
    res.end(head ? undefined : payload);
  }
}

function isAsset(reply: Reply): reply is AssetReply {
  return (reply as Partial<AssetReply>).raw !== undefined;
}

function errorReply(e: HttpError): Reply {
  return e.error === undefined ? { status: e.status } : { status: e.status, body: { error: e.error, reason: e.reason } };
}

/** RabbitMQ's tags: management, or any tag that implies it; administrator implies every level. */
export function hasLevel(user: User, level: Level): boolean {
  const tags = user.tags;
  if (tags.includes('administrator')) return true;
  switch (level) {
    case 'management': return tags.includes('management') || tags.includes('policymaker') || tags.includes('monitoring');
    case 'policymaker': return tags.includes('policymaker');
    case 'monitoring': return tags.includes('monitoring');
    case 'administrator': return false;
  }
}

function isLoopback(address: string | undefined): boolean {
  return address === '127.0.0.1' || address === '::1' || address === '::ffff:127.0.0.1' || (address?.startsWith('127.') ?? false);
}
