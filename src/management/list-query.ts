/**
 * RabbitMQ's list query parameters (rabbit_mgmt_util): `sort` (a key, dotted for nested values)
 * before the resource's default sort keys, `sort_reverse=true`, `columns` (comma-separated,
 * dotted for nested values: `arguments.x-max-length`), and pagination: with `page` present, the
 * list is filtered by `name` (substring, or a regex with `use_regex=true`), cut into pages of
 * `page_size` (default 100, at most 500), and answered in the paged shape
 * {filtered_count, item_count, items, page, page_count, page_size, total_count}.
 * Errors and their texts are RabbitMQ's.
 */
import { HttpError, badRequest } from './http-error.js';

export type Item = Record<string, unknown>;

export interface Paged {
  filtered_count: number;
  item_count: number;
  items: Item[];
  page: number;
  page_count: number;
  page_size: number;
  total_count: number;
}

const MAX_PAGE_SIZE = 500;
const DEFAULT_PAGE_SIZE = 100;

/** Apply sort, pagination and columns to a rendered list. */
export function applyListQuery(items: Item[], q: URLSearchParams, defaultSort: readonly string[]): Item[] | Paged {
  const sort = q.get('sort');
  const keys = sort !== null && sort !== '' ? [sort, ...defaultSort] : defaultSort;
  let sorted = keys.length === 0 ? items : sortBy(items, keys);
  if (q.get('sort_reverse') === 'true') sorted = sorted === items ? [...items].reverse() : sorted.reverse();
  const columns = parseColumns(q.get('columns'));
  if (!q.has('page')) return columns === undefined ? sorted : sorted.map((i) => pick(i, columns));
  const { page, pageSize } = pagination(q);
  const filtered = filterByName(sorted, q.get('name'), q.get('use_regex') === 'true');
  const offset = (page - 1) * pageSize;
  if (offset > filtered.length) {
    throw new HttpError(400, 'page_out_of_range', `Page out of range, page: ${page} page size: ${pageSize}, len: ${filtered.length}`);
  }
  const slice = filtered.slice(offset, offset + pageSize);
  return {
    filtered_count: filtered.length,
    item_count: slice.length,
    items: columns === undefined ? slice : slice.map((i) => pick(i, columns)),
    page,
    page_count: Math.ceil(filtered.length / pageSize),
    page_size: pageSize,
    total_count: items.length,
  };
}

/** `columns` for a single object (GET of one resource also honours it). */
export function applyColumns(item: Item, q: URLSearchParams): Item {
  const columns = parseColumns(q.get('columns'));
  return columns === undefined ? item : pick(item, columns);
}

function pagination(q: URLSearchParams): { page: number; pageSize: number } {
  const pageRaw = q.get('page') ?? '';
  const sizeRaw = q.get('page_size') ?? String(DEFAULT_PAGE_SIZE);
  if (!/^-?\d+$/.test(pageRaw) || !/^-?\d+$/.test(sizeRaw)) throw badRequest('Pagination parameters are invalid');
  const page = Number(pageRaw);
  const pageSize = Number(sizeRaw);
  if (page < 1 || pageSize < 1 || pageSize > MAX_PAGE_SIZE) {
    throw new HttpError(400, 'invalid_pagination_parameters',
      `Invalid pagination parameters: page number ${page}, page size ${pageSize}`);
  }
  return { page, pageSize };
}

function filterByName(items: Item[], name: string | null, regex: boolean): Item[] {
  if (name === null || name === '') return items;
  let test: (s: string) => boolean;
  if (regex) {
    let re: RegExp;
    try {
      re = new RegExp(name);
    } catch {
      throw badRequest('Pagination parameters are invalid');
    }
    test = (s) => re.test(s);
  } else {
    test = (s) => s.includes(name);
  }
  return items.filter((i) => typeof i['name'] === 'string' && test(i['name']));
}

function parseColumns(raw: string | null): string[][] | undefined {
  if (raw === null || raw === '') return undefined;
  return raw.split(',').filter((c) => c !== '').map((c) => c.split('.'));
}

/** Keep only the given (possibly nested) keys, in the item's own key order and nesting, as RabbitMQ does. */
function pick(item: Item, columns: string[][]): Item {
  const out: Item = {};
  const ordered = [...columns].sort((a, b) => order(item, a) - order(item, b));
  for (const path of ordered) {
    let src: unknown = item;
    let dst: Item = out;
    for (let i = 0; i < path.length; i++) {
      const key = path[i]!;
      if (src === null || typeof src !== 'object' || Array.isArray(src) || !(key in src)) break;
      const v = (src as Item)[key];
      if (i === path.length - 1) {
        dst[key] = v;
      } else {
        if (v === null || typeof v !== 'object' || Array.isArray(v)) break;
        const next = (dst[key] ??= {}) as Item;
        dst = next;
        src = v;
      }
    }
  }
  return out;
}

/** Where a column's top-level key sits in the item (missing keys last). */
function order(item: Item, path: readonly string[]): number {
  const i = Object.keys(item).indexOf(path[0]!);
  return i < 0 ? Number.MAX_SAFE_INTEGER : i;
}

function valueAt(item: Item, path: readonly string[]): unknown {
  let v: unknown = item;
  for (const k of path) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Item)[k];
  }
  return v;
}

/**
 * Sort by several keys in Erlang term order, as RabbitMQ sorts: numbers < booleans (atoms) <
 * strings (binaries), missing values first; strings compare by their UTF-8 bytes.
 */
function sortBy(items: Item[], keys: readonly string[]): Item[] {
  const paths = keys.map((k) => k.split('.'));
  const decorated = items.map((item) => ({ item, vals: paths.map((p) => valueAt(item, p)) }));
  decorated.sort((a, b) => {
    for (let i = 0; i < paths.length; i++) {
      const c = compareTerms(a.vals[i], b.vals[i]);
      if (c !== 0) return c;
    }
    return 0;
  });
  return decorated.map((d) => d.item);
}

function rank(v: unknown): number {
  if (v === undefined || v === null) return 0;
  if (typeof v === 'number') return 1;
  if (typeof v === 'boolean') return 2;
  if (typeof v === 'string') return 4;
  return 3;
}

function compareTerms(a: unknown, b: unknown): number {
  const ra = rank(a);
  const rb = rank(b);
  if (ra !== rb) return ra - rb;
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  if (typeof a === 'string' && typeof b === 'string') return Buffer.compare(Buffer.from(a), Buffer.from(b));
  if (typeof a === 'boolean' && typeof b === 'boolean') return a === b ? 0 : a ? 1 : -1;
  return 0;
}
