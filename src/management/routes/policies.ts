/**
 * Policies, operator policies, runtime parameters, global parameters and vhost limits:
 * /api/policies, /api/operator-policies, /api/parameters/{component}/..., /api/global-parameters,
 * /api/vhost-limits, /api/cluster-name. Validation, storage and re-application to existing
 * queues and exchanges are the broker's (PolicyStore, ParameterStore, VhostLimits); a refused value
 * answers 400 "Validation failed" with RabbitMQ's reason. Policies need the policymaker tag,
 * operator policies, global parameters and limits the administrator tag, as in RabbitMQ.
 */
import type { Policy } from '../../broker/policy.js';
import { POLICY_COMPONENT, type PolicyKind } from '../../broker/policy-store.js';
import type { RuntimeParameter } from '../../broker/parameters.js';
import type { JsonValue } from '../../broker/definitions-control.js';
import { ControlError } from '../../broker/control-error.js';
import { notFound, validationFailed } from '../http-error.js';
import type { Item } from '../list-query.js';
import { list, NO_CONTENT, ok, one, written } from '../reply.js';
import { requireKeys, str } from '../request-values.js';
import type { Level, RouteContext, Router } from '../router.js';

/** rabbit_mgmt_format:escape_html_tags. */
function escapeTags(s: string): string {
  return s.replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function policyJson(p: Policy): Item {
  return { vhost: p.vhost ?? '/', name: p.name, pattern: p.pattern, 'apply-to': p.applyTo, definition: { ...p.definition }, priority: p.priority };
}

function parameterJson(p: RuntimeParameter): Item {
  return { value: p.value, vhost: p.vhost, component: p.component, name: p.name };
}

function policyRoutes(r: Router, base: string, kind: PolicyKind, write: Level): void {
  const visible = (ctx: RouteContext, vhost?: string): Item[] => {
    const vhosts = ctx.app.vhostsFor(ctx.user, vhost).map((v) => v.name);
    return vhosts.flatMap((v) => ctx.app.broker.policies.list(kind, v)).map(policyJson);
  };
  const read: Level = kind === 'operator' ? 'administrator' : 'management';
  r.get(base, read, (ctx) => list(ctx, visible(ctx), ['vhost', 'name']));
  r.get(`${base}/:vhost`, read, (ctx) => list(ctx, visible(ctx, ctx.params['vhost']), ['vhost', 'name']));
  r.get(`${base}/:vhost/:name`, read, (ctx) => {
    const p = ctx.app.broker.policies.get(kind, ctx.params['vhost']!, ctx.params['name']!);
    if (p === undefined) throw notFound();
    return one(ctx, policyJson(p));
  });
  r.put(`${base}/:vhost/:name`, write, async (ctx) => {
    const body = await ctx.body();
    requireKeys(body, ['pattern', 'definition']);
    const value: JsonValue = {
      pattern: body['pattern'] ?? null, definition: body['definition'] ?? null, priority: body['priority'] ?? 0,
      'apply-to': body['apply-to'] ?? 'all',
    };
    let created: boolean;
    try {
      created = ctx.app.broker.policies.put(kind, ctx.params['vhost']!, ctx.params['name']!, value);
    } catch (e: unknown) {
      // RabbitMQ's policy resource HTML-escapes the validator's reason (operator policies do not).
      if (kind === 'policy' && e instanceof ControlError && e.kind === 'invalid') throw validationFailed(escapeTags(e.reason));
      throw e;
    }
    await ctx.app.saved();
    return written(created);
  });
  r.delete(`${base}/:vhost/:name`, write, async (ctx) => {
    if (!ctx.app.broker.policies.delete(kind, ctx.params['vhost']!, ctx.params['name']!)) throw notFound();
    await ctx.app.saved();
    return NO_CONTENT;
  });
}

export function parameterRoutes(r: Router): void {
  policyRoutes(r, '/api/policies', 'policy', 'policymaker');
  policyRoutes(r, '/api/operator-policies', 'operator', 'administrator');

  // ---- runtime parameters (policies are listed under /api/policies, not here) ----------------
  const params = (ctx: RouteContext, component?: string, vhost?: string): Item[] => {
    const vhosts = new Set(ctx.app.vhostsFor(ctx.user, vhost).map((v) => v.name));
    return ctx.app.broker.parameters.list(component, vhost)
      .filter((p) => p.component !== POLICY_COMPONENT && vhosts.has(p.vhost)).map(parameterJson);
  };
  r.get('/api/parameters', 'policymaker', (ctx) => list(ctx, params(ctx), []));
  r.get('/api/parameters/:component', 'policymaker', (ctx) => list(ctx, params(ctx, ctx.params['component']), []));
  r.get('/api/parameters/:component/:vhost', 'policymaker', (ctx) =>
    list(ctx, params(ctx, ctx.params['component'], ctx.params['vhost']), []));
  r.get('/api/parameters/:component/:vhost/:name', 'policymaker', (ctx) => {
    const p = ctx.app.broker.parameters.get(ctx.params['component']!, ctx.params['vhost']!, ctx.params['name']!);
    if (p === undefined || p.component === POLICY_COMPONENT) throw notFound();
    return one(ctx, parameterJson(p));
  });
  r.put('/api/parameters/:component/:vhost/:name', 'policymaker', async (ctx) => {
    const body = await ctx.body();
    requireKeys(body, ['value']);
    let created: boolean;
    try {
      created = ctx.app.broker.parameters.set(ctx.params['component']!, ctx.params['vhost']!, ctx.params['name']!, body['value'] ?? null);
    } catch (e: unknown) {
      // rabbit_mgmt_wm_parameter answers the component's reasons HTML-escaped, as the policy resource does.
      if (e instanceof ControlError && e.kind === 'invalid') throw validationFailed(escapeTags(e.reason));
      throw e;
    }
    await ctx.app.saved();
    return written(created);
  });
  r.delete('/api/parameters/:component/:vhost/:name', 'policymaker', async (ctx) => {
    if (!ctx.app.broker.parameters.clear(ctx.params['component']!, ctx.params['vhost']!, ctx.params['name']!)) throw notFound();
    await ctx.app.saved();
    return NO_CONTENT;
  });

  // ---- global parameters and the cluster name ---------------------------------------------
  r.get('/api/global-parameters', 'administrator', (ctx) =>
    list(ctx, ctx.app.broker.parameters.listGlobal().map((p) => ({ name: p.name, value: p.value })), []));
  r.get('/api/global-parameters/:name', 'administrator', (ctx) => {
    const p = ctx.app.broker.parameters.getGlobal(ctx.params['name']!);
    if (p === undefined) throw notFound();
    return one(ctx, { name: p.name, value: p.value });
  });
  r.put('/api/global-parameters/:name', 'administrator', async (ctx) => {
    const body = await ctx.body();
    requireKeys(body, ['value']);
    const created = ctx.app.broker.parameters.setGlobal(ctx.params['name']!, body['value'] ?? null);
    await ctx.app.saved();
    return written(created);
  });
  r.delete('/api/global-parameters/:name', 'administrator', async (ctx) => {
    if (!ctx.app.broker.parameters.clearGlobal(ctx.params['name']!)) throw notFound();
    await ctx.app.saved();
    return NO_CONTENT;
  });
  r.get('/api/cluster-name', 'management', (ctx) => ok({ name: ctx.app.clusterName() }));
  r.put('/api/cluster-name', 'administrator', async (ctx) => {
    const body = await ctx.body();
    requireKeys(body, ['name']);
    ctx.app.broker.parameters.setGlobal('cluster_name', str(body['name'], ''));
    await ctx.app.saved();
    return NO_CONTENT;
  });

  // ---- vhost limits (stored and saved; enforced from issue 13 on) --------------------------
  const limits = (ctx: RouteContext, vhost?: string): Item[] => {
    const vhosts = new Set(ctx.app.vhostsFor(ctx.user, vhost).map((v) => v.name));
    return ctx.app.broker.limits.all().filter((l) => vhosts.has(l.vhost)).map((l) => ({ vhost: l.vhost, value: { ...l.value } }));
  };
  r.get('/api/vhost-limits', 'administrator', (ctx) => list(ctx, limits(ctx), []));
  r.get('/api/vhost-limits/:vhost', 'administrator', (ctx) => list(ctx, limits(ctx, ctx.params['vhost']), []));
  r.put('/api/vhost-limits/:vhost/:name', 'administrator', async (ctx) => {
    const body = await ctx.body();
    requireKeys(body, ['value']);
    ctx.app.vhost(ctx.params['vhost']!);
    ctx.app.broker.limits.set(ctx.params['vhost']!, ctx.params['name']!, body['value'] ?? null);
    await ctx.app.saved();
    return NO_CONTENT;
  });
  r.delete('/api/vhost-limits/:vhost/:name', 'administrator', async (ctx) => {
    ctx.app.vhost(ctx.params['vhost']!);
    if (!ctx.app.broker.limits.clear(ctx.params['vhost']!, ctx.params['name']!)) throw notFound();
    await ctx.app.saved();
    return NO_CONTENT;
  });
}
