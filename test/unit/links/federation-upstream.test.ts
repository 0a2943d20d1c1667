/**
 * Federation configuration (src/links/federation-upstream.ts): validation texts as RabbitMQ 3.10
 * words them (observed on the reference), the plugin's defaults, set entries overriding their
 * upstream, the implicit set "all", patterns, and URIs shown without credentials.
 */
import { describe, expect, it } from 'vitest';
import {
  checkPolicyDefinition, upstreamFrom, upstreamsFor, uriWithoutCredentials, validateUpstream, validateUpstreamSet,
  type UpstreamSource,
} from '../../../src/links/federation-upstream.js';

const params: Record<string, unknown> = {
  a: { uri: 'amqp://u:p@a:5672/%2F', 'max-hops': 2 },
  b: { uri: ['amqp://b1', 'amqp://b2'], exchange: 'up.x', 'ack-mode': 'no-ack' },
  c: { uri: 'amqp://c' },
};
const sets: Record<string, unknown> = { s: [{ upstream: 'a', exchange: 'over' }, { upstream: 'missing' }, { upstream: 'c' }] };
const src: UpstreamSource = {
  upstream: (_v, n) => params[n] as never,
  upstreamSet: (_v, n) => sets[n] as never,
  upstreamNames: () => Object.keys(params),
};

describe('federation upstream configuration', () => {
  it('validates as rabbit_federation_parameters does', () => {
    expect(validateUpstream('up', {})).toEqual(['Key "uri" not found in up']);
    expect(validateUpstream('up', { uri: 5 })).toEqual(['uri should be list, actually was 5']);
    expect(validateUpstream('up', { uri: 'amqp://h', 'prefetch-count': 'x', foo: 1 }))
      .toEqual(['prefetch-count should be a number, actually was <<"x">>', 'Unrecognised terms [{<<"foo">>,1}] in up']);
    expect(validateUpstream('up', { uri: ['amqp://h', 'amqps://g:1/v'], 'trust-user-id': true, 'ack-mode': 'on-publish' })).toEqual([]);
    expect(validateUpstream('up', { uri: 'http://h' })[0]).toMatch(/^"http:\/\/h" not a valid URI/);
    expect(validateUpstreamSet('s', [{ upstream: 'a' }, { upstream: 'b', 'max-hops': 3 }])).toEqual([]);
    expect(validateUpstreamSet('s', [{ foo: 'x' }])).toEqual(['Unrecognised terms [{<<"foo">>,<<"x">>}] in s', 'Key "upstream" not found in s']);
    expect(checkPolicyDefinition({ 'federation-upstream': 'a', 'federation-upstream-pattern': 'b' }))
      .toBe('cannot specify federation-upstream, federation-upstream-set or federation-upstream-pattern together');
    expect(checkPolicyDefinition({ 'federation-upstream': 'a', 'max-length': 1 })).toBeUndefined();
  });

  it('applies the plugin defaults', () => {
    expect(upstreamFrom('c', { uri: 'amqp://c' })).toEqual({
      name: 'c', uris: ['amqp://c'], exchange: undefined, queue: undefined, consumerTag: undefined, prefetchCount: 1000,
      reconnectDelay: 5, maxHops: 1, expires: undefined, messageTtl: undefined, trustUserId: false, ackMode: 'on-confirm',
      resourceCleanupMode: 'default',
    });
  });

  it('resolves a policy to upstreams: one, a set with overrides, all, a pattern', () => {
    expect(upstreamsFor({ 'federation-upstream': 'b' }, '/', src).map((u) => [u.name, u.exchange, u.ackMode, u.uris.length]))
      .toEqual([['b', 'up.x', 'no-ack', 2]]);
    expect(upstreamsFor({ 'federation-upstream-set': 's' }, '/', src).map((u) => [u.name, u.exchange, u.maxHops]))
      .toEqual([['a', 'over', 2], ['c', undefined, 1]]);
    expect(upstreamsFor({ 'federation-upstream-set': 'all' }, '/', src).map((u) => u.name)).toEqual(['a', 'b', 'c']);
    expect(upstreamsFor({ 'federation-upstream-pattern': '^[ab]$' }, '/', src).map((u) => u.name)).toEqual(['a', 'b']);
    expect(upstreamsFor({ 'federation-upstream': 'nope' }, '/', src)).toEqual([]);
    expect(upstreamsFor(undefined, '/', src)).toEqual([]);
  });

  it('shows URIs without credentials', () => {
    expect(uriWithoutCredentials('amqp://user:secret@host:5672/v?heartbeat=5')).toBe('amqp://host:5672/v?heartbeat=5');
    expect(uriWithoutCredentials('amqps://host')).toBe('amqps://host');
  });
});
