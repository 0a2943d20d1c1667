/**
 * RabbitMQ's list query parameters (rabbit_mgmt_util): sort by a (dotted) key before the default
 * keys in Erlang term order, sort_reverse, nested columns, and pagination with its errors; and the
 * binding properties key (quote_plus with '~' escaped).
 */
import { describe, expect, it } from 'vitest';
import { applyListQuery, type Paged } from '../../../src/management/list-query.js';
import { propertiesKey, quoteBinding } from '../../../src/management/routes/bindings.js';
import { HttpError } from '../../../src/management/http-error.js';

const items = [
  { name: 'b', vhost: '/', messages: 2, arguments: { x: 1, y: 2 } },
  { name: 'a', vhost: '/', messages: 10, arguments: {} },
  { name: 'c', vhost: 'v', arguments: { x: 3 } },
];
const q = (s: string) => new URLSearchParams(s);

describe('list query', () => {
  it('sorts by default keys, by a given key first, reversed; missing values first', () => {
    expect((applyListQuery(items, q(''), ['vhost', 'name']) as typeof items).map((i) => i.name)).toEqual(['a', 'b', 'c']);
    expect((applyListQuery(items, q('sort=messages'), ['name']) as typeof items).map((i) => i.name)).toEqual(['c', 'b', 'a']);
    expect((applyListQuery(items, q('sort=name&sort_reverse=true'), []) as typeof items).map((i) => i.name)).toEqual(['c', 'b', 'a']);
    expect((applyListQuery(items, q('sort=arguments.x'), []) as typeof items).map((i) => i.name)).toEqual(['a', 'b', 'c']);
  });

  it('columns keep nesting', () => {
    expect(applyListQuery(items, q('columns=name,arguments.x'), ['name'])).toEqual([
      { name: 'a', arguments: {} }, { name: 'b', arguments: { x: 1 } }, { name: 'c', arguments: { x: 3 } },
    ]);
  });

  it('pages with RabbitMQ\'s shape and errors', () => {
    const p = applyListQuery(items, q('page=2&page_size=2&columns=name'), ['name']) as Paged;
    expect(p).toEqual({ filtered_count: 3, item_count: 1, items: [{ name: 'c' }], page: 2, page_count: 2, page_size: 2, total_count: 3 });
    expect((applyListQuery(items, q('page=1&name=b'), ['name']) as Paged).items.map((i) => i['name'])).toEqual(['b']);
    expect((applyListQuery(items, q('page=1&name=^[ac]$&use_regex=true'), ['name']) as Paged).filtered_count).toBe(2);
    // lists:sublist allows an offset one past the end: an empty last page, not an error.
    expect((applyListQuery(items, q('page=4&page_size=1'), []) as Paged).items).toEqual([]);
    const err = (s: string) => { try { applyListQuery(items, q(s), []); } catch (e) { return e as HttpError; } return undefined; };
    expect(err('page=3&page_size=2')).toMatchObject({ status: 400, error: 'page_out_of_range', reason: 'Page out of range, page: 3 page size: 2, len: 3' });
    expect(err('page=0')).toMatchObject({ error: 'invalid_pagination_parameters', reason: 'Invalid pagination parameters: page number 0, page size 100' });
    expect(err('page=1&page_size=501')).toMatchObject({ error: 'invalid_pagination_parameters' });
    expect(err('page=x')).toMatchObject({ error: 'bad_request', reason: 'Pagination parameters are invalid' });
    expect(err('page=1&name=(&use_regex=true')).toMatchObject({ error: 'bad_request' });
  });
});

describe('binding properties key', () => {
  it('quotes as mochiweb quote_plus with ~ escaped', () => {
    expect(quoteBinding('a b~c/ü#')).toBe('a+b%7Ec%2F%C3%BC%23');
    expect(quoteBinding('a.b-c_d')).toBe('a.b-c_d');
    expect(propertiesKey('', {})).toBe('~');
    expect(propertiesKey('k', {})).toBe('k');
    expect(propertiesKey('k', { x: 1, y: 'z' })).toMatch(/^k~[A-Za-z0-9_-]{6}$/);
    expect(propertiesKey('k', { y: 'z', x: 1 })).toBe(propertiesKey('k', { x: 1, y: 'z' }));
    expect(propertiesKey('', { x: 1 })).toMatch(/^~[A-Za-z0-9_-]{6}$/);
  });
});
