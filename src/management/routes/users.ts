/**
 * Users and permissions: GET/PUT/DELETE /api/users/{name}, POST /api/users/bulk-delete,
 * /api/users/without-permissions, user limits (/api/user-limits), /api/permissions and
 * /api/topic-permissions (stored and saved; enforced from issue 13 on). Administrator only, as in
 * RabbitMQ. Password hashing is the user store's (RabbitMQ's sha256 scheme).
 */
import { ControlError } from '../../broker/control-error.js';
import { DEFAULT_HASHING_ALGORITHM, type Credentials, type User } from '../../broker/user-store.js';
import { badRequest, notFound } from '../http-error.js';
import type { Item } from '../list-query.js';
import { list, NO_CONTENT, one, written } from '../reply.js';
import { requireKeys, str } from '../request-values.js';
import type { RouteContext, Router } from '../router.js';
import { tagList } from './vhosts.js';

export function userJson(u: User): Item {
  return {
    name: u.name, password_hash: u.passwordHash, hashing_algorithm: u.hashingAlgorithm ?? DEFAULT_HASHING_ALGORITHM,
    tags: [...u.tags], limits: { ...(u.limits ?? {}) },
  };
}

function userOr404(ctx: RouteContext, param = 'user'): User {
  const u = ctx.app.broker.users.get(ctx.params[param]!);
  if (u === undefined) throw notFound();
  return u;
}

function permissionJson(p: { user: string; vhost: string; configure: string; write: string; read: string }): Item {
  return { user: p.user, vhost: p.vhost, configure: p.configure, write: p.write, read: p.read };
}

function topicJson(p: { user: string; vhost: string; exchange: string; write: string; read: string }): Item {
  return { user: p.user, vhost: p.vhost, exchange: p.exchange, write: p.write, read: p.read };
}

/** Permission regexes that do not compile: 400 with RabbitMQ's invalid_regexp reason shape. */
function regexErrors<T>(fn: () => T): T {
  try {
    return fn();
  } catch (e: unknown) {
    if (e instanceof ControlError) throw badRequest(['invalid_regexp', e.reason]);
    throw e;
  }
}

function requireUserAndVhost(ctx: RouteContext): { user: string; vhost: string } {
  const user = ctx.params['user']!;
  const vhost = ctx.params['vhost']!;
  if (ctx.app.broker.users.get(user) === undefined || !ctx.app.broker.vhosts.has(vhost)) throw badRequest('vhost_or_user_not_found');
  return { user, vhost };
}

export function userRoutes(r: Router): void {
  r.get('/api/users', 'administrator', (ctx) => list(ctx, ctx.app.broker.users.all().map(userJson), ['name']));
  r.get('/api/users/without-permissions', 'administrator', (ctx) => {
    const b = ctx.app.broker;
    return list(ctx, b.users.all().filter((u) => b.permissions.list({ user: u.name }).length === 0).map(userJson), ['name']);
  });
  r.post('/api/users/bulk-delete', 'administrator', async (ctx) => {
    const body = await ctx.body();
    const names = Array.isArray(body['users']) ? body['users'].map((u) => str(u, '')) : [];
    for (const n of names) if (ctx.app.broker.users.get(n) === undefined) throw badRequest(['no_such_user', n]);
    for (const n of names) ctx.app.broker.deleteUser(n);
    await ctx.app.saved();
    return NO_CONTENT;
  });
  r.get('/api/users/:user', 'administrator', (ctx) => one(ctx, userJson(userOr404(ctx))));

  r.put('/api/users/:user', 'administrator', async (ctx) => {
    const body = await ctx.body();
    if (!('tags' in body)) throw badRequest('tags_not_present');
    const password = body['password'];
    const hash = body['password_hash'];
    let credentials: Credentials;
    if (password !== undefined && password !== null) credentials = { password: str(password, '') };
    else if (hash !== undefined && hash !== null) {
      credentials = { passwordHash: str(hash, ''), hashingAlgorithm: str(body['hashing_algorithm'], DEFAULT_HASHING_ALGORITHM) };
    } else credentials = { none: true };
    const created = ctx.app.broker.users.put(ctx.params['user']!, credentials, tagList(body['tags']));
    await ctx.app.saved();
    return written(created);
  });

  r.delete('/api/users/:user', 'administrator', async (ctx) => {
    if (!ctx.app.broker.deleteUser(ctx.params['user']!)) throw notFound();
    await ctx.app.saved();
    return NO_CONTENT;
  });

  r.get('/api/users/:user/permissions', 'administrator', (ctx) =>
    list(ctx, ctx.app.broker.permissions.list({ user: userOr404(ctx).name }).map(permissionJson), []));
  r.get('/api/users/:user/topic-permissions', 'administrator', (ctx) =>
    list(ctx, ctx.app.broker.permissions.listTopic({ user: userOr404(ctx).name }).map(topicJson), []));

  // ---- user limits (max-connections, max-channels): stored, enforced from issue 13 on ----------
  const limitsJson = (u: User): Item => ({ user: u.name, value: { ...(u.limits ?? {}) } });
  r.get('/api/user-limits', 'administrator', (ctx) =>
    list(ctx, ctx.app.broker.users.all().filter((u) => u.limits !== undefined).map(limitsJson), []));
  r.get('/api/user-limits/:user', 'administrator', (ctx) => {
    const u = userOr404(ctx);
    return list(ctx, u.limits === undefined ? [] : [limitsJson(u)], []);
  });
  r.put('/api/user-limits/:user/:name', 'administrator', async (ctx) => {
    const body = await ctx.body();
    requireKeys(body, ['value']);
    const u = userOr404(ctx);
    ctx.app.broker.users.setLimit(u.name, ctx.params['name']!, body['value'] ?? null);
    await ctx.app.saved();
    return NO_CONTENT;
  });
  r.delete('/api/user-limits/:user/:name', 'administrator', async (ctx) => {
    if (!ctx.app.broker.users.clearLimit(userOr404(ctx).name, ctx.params['name']!)) throw notFound();
    await ctx.app.saved();
    return NO_CONTENT;
  });

  // ---- permissions ---------------------------------------------------------------------------
  r.get('/api/permissions', 'administrator', (ctx) => list(ctx, ctx.app.broker.permissions.list().map(permissionJson), []));
  r.get('/api/permissions/:vhost/:user', 'administrator', (ctx) => {
    const p = ctx.app.broker.permissions.get(ctx.params['user']!, ctx.params['vhost']!);
    if (p === undefined) throw notFound();
    return one(ctx, permissionJson(p));
  });
  r.put('/api/permissions/:vhost/:user', 'administrator', async (ctx) => {
    const body = await ctx.body();
    requireKeys(body, ['configure', 'write', 'read']);
    const { user, vhost } = requireUserAndVhost(ctx);
    const created = regexErrors(() => ctx.app.broker.permissions.set({
      user, vhost, configure: str(body['configure'], ''), write: str(body['write'], ''), read: str(body['read'], ''),
    }));
    await ctx.app.saved();
    return written(created);
  });
  r.delete('/api/permissions/:vhost/:user', 'administrator', async (ctx) => {
    if (!ctx.app.broker.permissions.clear(ctx.params['user']!, ctx.params['vhost']!)) throw notFound();
    await ctx.app.saved();
    return NO_CONTENT;
  });

  // ---- topic permissions ---------------------------------------------------------------------
  r.get('/api/topic-permissions', 'administrator', (ctx) => list(ctx, ctx.app.broker.permissions.listTopic().map(topicJson), []));
  r.get('/api/topic-permissions/:vhost/:user', 'administrator', (ctx) => {
    const found = ctx.app.broker.permissions.listTopic({ user: ctx.params['user']!, vhost: ctx.params['vhost']! });
    if (found.length === 0) throw notFound();
    return list(ctx, found.map(topicJson), []);
  });
  r.put('/api/topic-permissions/:vhost/:user', 'administrator', async (ctx) => {
    const body = await ctx.body();
    requireKeys(body, ['exchange', 'write', 'read']);
    const { user, vhost } = requireUserAndVhost(ctx);
    const created = regexErrors(() => ctx.app.broker.permissions.setTopic({
      user, vhost, exchange: str(body['exchange'], ''), write: str(body['write'], ''), read: str(body['read'], ''),
    }));
    await ctx.app.saved();
    return written(created);
  });
  r.delete('/api/topic-permissions/:vhost/:user', 'administrator', async (ctx) => {
    const exchange = ctx.query.get('exchange') ?? undefined;
    if (!ctx.app.broker.permissions.clearTopic(ctx.params['user']!, ctx.params['vhost']!, exchange)) throw notFound();
    await ctx.app.saved();
    return NO_CONTENT;
  });
}
