/**
 * Replies shared by the routes: RabbitMQ answers 200 with JSON for reads, 201 (created) or 204
 * (changed, deleted) with an empty body for writes, and lists go through the list query
 * parameters (sort, columns, pagination).
 */
import { applyColumns, applyListQuery, type Item } from './list-query.js';
import type { Reply, RouteContext } from './router.js';

export function ok(body: unknown): Reply {
  return { status: 200, body };
}

/** 201 when the write created the object, 204 when it changed an existing one. */
export function written(created: boolean): Reply {
  return { status: created ? 201 : 204 };
}

export const NO_CONTENT: Reply = { status: 204 };

export function list(ctx: RouteContext, items: Item[], defaultSort: readonly string[]): Reply {
  return ok(applyListQuery(items, ctx.query, defaultSort));
}

export function one(ctx: RouteContext, item: Item): Reply {
  return ok(applyColumns(item, ctx.query));
}
