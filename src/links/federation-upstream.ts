/**
 * Federation configuration as RabbitMQ's rabbitmq_federation plugin reads it
 * (rabbit_federation_parameters, rabbit_federation_upstream): runtime parameters of components
 * `federation-upstream` (a map with a mandatory `uri`) and `federation-upstream-set` (a list of
 * maps naming an upstream and overriding its keys), and the policy keys `federation-upstream`,
 * `federation-upstream-set` (the implicit set "all" = every upstream of the vhost) and
 * `federation-upstream-pattern`. Validation texts are RabbitMQ 3.10's (checked against the
 * reference); defaults are the plugin's: prefetch-count 1000, reconnect-delay 5 s, max-hops 1,
 * ack-mode on-confirm, trust-user-id false, no expires / message-ttl.
 *
 * Invariant: pure functions over JSON; nothing here opens a connection.
 */
import { erlangTerm } from '../broker/control-error.js';
import type { RuntimeParameter } from '../broker/parameters.js';
import { parseAmqpUri } from './amqp-uri.js';

export const UPSTREAM_COMPONENT = 'federation-upstream';
export const UPSTREAM_SET_COMPONENT = 'federation-upstream-set';

type JsonValue = RuntimeParameter['value'];

export type AckMode = 'on-confirm' | 'on-publish' | 'no-ack';

/** One upstream as a link uses it (a set entry's overrides applied). */
export interface Upstream {
  /** The upstream's parameter name. */
  readonly name: string;
  /** Tried in turn, one per connection attempt (RabbitMQ picks one at random). */
  readonly uris: readonly string[];
  /** Upstream exchange name; undefined: the federated exchange's own name. */
  readonly exchange: string | undefined;
  /** Upstream queue name; undefined: the federated queue's own name. */
  readonly queue: string | undefined;
  readonly consumerTag: string | undefined;
  readonly prefetchCount: number;
  /** Seconds. */
  readonly reconnectDelay: number;
  readonly maxHops: number;
  readonly expires: number | undefined;
  readonly messageTtl: number | undefined;
  readonly trustUserId: boolean;
  readonly ackMode: AckMode;
  readonly resourceCleanupMode: 'default' | 'never';
}

type Obj = { readonly [key: string]: JsonValue };
type Check = (key: string, v: JsonValue) => string | undefined;

const number: Check = (k, v) => (typeof v === 'number' ? undefined : `${k} should be a number, actually was ${erlangTerm(v)}`);
const binary: Check = (k, v) => (typeof v === 'string' ? undefined : `${k} should be binary, actually was ${erlangTerm(v)}`);
const boolean: Check = (k, v) => (typeof v === 'boolean' ? undefined : `${k} should be boolean, actually was ${erlangTerm(v)}`);
const oneOf = (values: readonly string[]): Check => (k, v) => (typeof v === 'string' && values.includes(v) ? undefined
  : `${k} should be one of [${values.map((x) => erlangTerm(x)).join(',')}], actually was ${erlangTerm(v)}`);

/** rabbit_federation_parameters:shared_validation/0. */
const SHARED: ReadonlyMap<string, Check> = new Map<string, Check>([
  ['exchange', binary], ['queue', binary], ['consumer-tag', binary], ['prefetch-count', number],
  ['reconnect-delay', number], ['max-hops', number], ['expires', number], ['message-ttl', number],
  ['trust-user-id', boolean], ['ack-mode', oneOf(['no-ack', 'on-publish', 'on-confirm'])],
  ['resource-cleanup-mode', oneOf(['default', 'never'])], ['queue-type', oneOf(['classic', 'quorum'])],
  ['ha-policy', binary], ['bind-nowait', boolean], ['channel-use-mode', oneOf(['multiple', 'single'])],
]);

function validateUri(v: JsonValue): string | undefined {
  const list = typeof v === 'string' ? [v] : v;
  if (!Array.isArray(list) || list.length === 0) return `uri should be list, actually was ${erlangTerm(v)}`;
  for (const u of list) {
    if (typeof u !== 'string') return `uri should be binary, actually was ${erlangTerm(u)}`;
    try {
      const e = parseAmqpUri(u);
      if (e.direct) return `"${u}" not a valid URI: a direct (local) connection is not supported; give a host`;
    } catch (err: unknown) {
      return `"${u}" not a valid URI: ${err instanceof Error ? err.message : String(err)}`;
    }
  }
  return undefined;
}

/** rabbit_parameter_validation:proplist: every error found, one per line. */
function proplist(name: string, value: JsonValue, mandatory: readonly [string, (v: JsonValue) => string | undefined][]): string[] {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return [`${erlangTerm(value)} is not a valid map in ${name}`];
  const o = value as Obj;
  const errors: string[] = [];
  const unknown: string[] = [];
  for (const [k, v] of Object.entries(o)) {
    const check = SHARED.get(k);
    if (check !== undefined) {
      const why = check(k, v);
      if (why !== undefined) errors.push(why);
    } else if (!mandatory.some(([m]) => m === k)) {
      unknown.push(`{${erlangTerm(k)},${erlangTerm(v)}}`);
    }
  }
  if (unknown.length > 0) errors.push(`Unrecognised terms [${unknown.join(',')}] in ${name}`);
  for (const [k, check] of mandatory) {
    const v = o[k];
    if (v === undefined) errors.push(`Key "${k}" not found in ${name}`);
    else {
      const why = check(v);
      if (why !== undefined) errors.push(why);
    }
  }
  return errors;
}

/** Reasons a `federation-upstream` value is refused ([] when valid). */
export function validateUpstream(name: string, value: JsonValue): string[] {
  return proplist(name, value, [['uri', validateUri]]);
}

/** Reasons a `federation-upstream-set` value is refused ([] when valid). */
export function validateUpstreamSet(name: string, value: JsonValue): string[] {
  const list = Array.isArray(value) ? value : [value];
  return list.flatMap((u) => proplist(name, u, [['upstream', (v) => binary('upstream', v)]]));
}

/** The policy keys' validators (rabbit_federation_parameters policy_validation/0). */
export const POLICY_KEY_CHECKS: readonly [string, (v: JsonValue) => string | undefined][] = [
  ['federation-upstream', (v) => (typeof v === 'string' ? undefined : `${erlangTerm(v)} is not a valid federation upstream name`)],
  ['federation-upstream-set', (v) => (typeof v === 'string' ? undefined : `${erlangTerm(v)} is not a valid federation upstream set name`)],
  ['federation-upstream-pattern', (v) => {
    if (typeof v !== 'string') return `${erlangTerm(v)} is not a valid federation upstream pattern name`;
    try {
      new RegExp(v);
      return undefined;
    } catch (e: unknown) {
      return `could not compile pattern ${v} to a regular expression. Error: ${e instanceof Error ? e.message : String(e)}`;
    }
  }],
];

/** rabbit_federation_parameters:validate_policy: at most one of the three keys. */
export function checkPolicyDefinition(def: Obj): string | undefined {
  const n = ['federation-upstream', 'federation-upstream-set', 'federation-upstream-pattern'].filter((k) => def[k] !== undefined).length;
  return n > 1 ? 'cannot specify federation-upstream, federation-upstream-set or federation-upstream-pattern together' : undefined;
}

function num(o: Obj, k: string): number | undefined {
  const v = o[k];
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}

function text(o: Obj, k: string): string | undefined {
  const v = o[k];
  return typeof v === 'string' ? v : undefined;
}

/** An upstream from its stored value, with a set entry's overrides (rabbit_federation_upstream:from_upstream_or_set). */
export function upstreamFrom(name: string, value: JsonValue, overrides: Obj = {}): Upstream | undefined {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return undefined;
  const o: Obj = { ...(value as Obj), ...overrides };
  const uri = o['uri'];
  const uris = (typeof uri === 'string' ? [uri] : Array.isArray(uri) ? uri : []).filter((u): u is string => typeof u === 'string');
  if (uris.length === 0) return undefined;
  const ack = text(o, 'ack-mode');
  return {
    name,
    uris,
    exchange: text(o, 'exchange'),
    queue: text(o, 'queue'),
    consumerTag: text(o, 'consumer-tag'),
    prefetchCount: Math.max(0, Math.floor(num(o, 'prefetch-count') ?? 1000)),
    reconnectDelay: Math.max(0, num(o, 'reconnect-delay') ?? 5),
    maxHops: Math.max(1, Math.floor(num(o, 'max-hops') ?? 1)),
    expires: num(o, 'expires'),
    messageTtl: num(o, 'message-ttl'),
    trustUserId: o['trust-user-id'] === true,
    ackMode: ack === 'on-publish' || ack === 'no-ack' ? ack : 'on-confirm',
    resourceCleanupMode: text(o, 'resource-cleanup-mode') === 'never' ? 'never' : 'default',
  };
}

/** What the vhost's parameters say about upstreams (a view of the ParameterStore). */
export interface UpstreamSource {
  upstream(vhost: string, name: string): JsonValue | undefined;
  upstreamSet(vhost: string, name: string): JsonValue | undefined;
  /** Names of every upstream of the vhost, in insertion order. */
  upstreamNames(vhost: string): string[];
}

/**
 * The upstreams a policy definition names (rabbit_federation_upstream:for/1): one upstream, a set
 * ("all": every upstream of the vhost), or a pattern over upstream names. Names that do not
 * resolve are left out (RabbitMQ likewise starts no link for them).
 */
export function upstreamsFor(def: Readonly<Record<string, unknown>> | undefined, vhost: string, src: UpstreamSource): Upstream[] {
  if (def === undefined) return [];
  const one = def['federation-upstream'];
  const set = def['federation-upstream-set'];
  const pattern = def['federation-upstream-pattern'];
  const out: Upstream[] = [];
  const add = (name: string, overrides?: Obj): void => {
    const value = src.upstream(vhost, name);
    const u = value === undefined ? undefined : upstreamFrom(name, value, overrides);
    if (u !== undefined) out.push(u);
  };
  if (typeof one === 'string') add(one);
  else if (set === 'all') for (const n of src.upstreamNames(vhost)) add(n);
  else if (typeof set === 'string') {
    const entries = src.upstreamSet(vhost, set);
    for (const e of Array.isArray(entries) ? entries : entries === undefined ? [] : [entries]) {
      if (e === null || typeof e !== 'object' || Array.isArray(e)) continue;
      const { upstream, ...rest } = e as Obj;
      if (typeof upstream === 'string') add(upstream, rest);
    }
  } else if (typeof pattern === 'string') {
    let re: RegExp;
    try {
      re = new RegExp(pattern);
    } catch {
      return [];
    }
    for (const n of src.upstreamNames(vhost)) if (re.test(n)) add(n);
  }
  return out;
}

/** The URI as RabbitMQ shows it in link status and x-received-from: credentials removed. */
export function uriWithoutCredentials(uri: string): string {
  return uri.replace(/^([A-Za-z][A-Za-z0-9+.-]*:\/\/)[^@/?#]*@/, '$1');
}
