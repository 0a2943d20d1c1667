/**
 * Policies and operator policies set at runtime (rabbit_policy), kept as RabbitMQ keeps them: runtime
 * parameters of components "policy" and "operator_policy" with value {pattern, definition, priority,
 * apply-to}. This store validates them with RabbitMQ's rules and texts, keeps them compiled per
 * vhost, answers "which policy applies to this queue/exchange" (the vhost asks on declare) and, after
 * every change, asks the broker to re-apply the vhost's policies to its existing queues and exchanges.
 *
 * Precedence (rabbit_policy): the matching policy with the highest priority applies alone (policies
 * never merge with each other); the highest-priority matching operator policy is merged into it, the
 * lower value winning for the numeric limits. A queue's own x-arguments then win as policy.ts says.
 */
import { fieldString, tableGet } from '../core/field-value.js';
import type { DefinitionChange } from '../store/definition-changes.js';
import type { JsonValue } from '../store/definitions.js';
import { erlangTerm, invalid } from './control-error.js';
import type { ParameterStore } from './parameters.js';
import { applyQueuePolicy, type Policy, type PolicyResolver } from './policy.js';
import { parseQueueArguments, retryDelaysValue, type QueueArguments } from './queue-arguments.js';
import { StreamQueue } from './stream-queue.js';
import type { Vhost } from './vhost.js';

export const POLICY_COMPONENT = 'policy';
export const OPERATOR_POLICY_COMPONENT = 'operator_policy';

export type PolicyKind = 'policy' | 'operator';
export type ApplyTo = Policy['applyTo'];

/** A policy as the API and definitions.json carry it. */
export interface PolicySpec {
  pattern: string;
  definition: { [key: string]: JsonValue };
  priority: number;
  'apply-to': ApplyTo;
}

/** What applies to one queue or exchange. */
export interface EffectivePolicy {
  policy: Policy | undefined;
  operatorPolicy: Policy | undefined;
  /** The merged definition actually applied ({} when nothing matches). */
  definition: { [key: string]: JsonValue };
}

interface Compiled {
  readonly policy: Policy;
  readonly regex: RegExp;
}

type KeyValidator = (value: JsonValue) => string | undefined;

const nonNegInt = (what: string): KeyValidator => (v) =>
  typeof v === 'number' && Number.isInteger(v) && v >= 0 ? undefined : `${erlangTerm(v)} is not a valid ${what}`;
const positiveInt = (what: string): KeyValidator => (v) =>
  typeof v === 'number' && Number.isInteger(v) && v >= 1 ? undefined : `${erlangTerm(v)} is not a valid ${what}`;
const binary = (what: string): KeyValidator => (v) => (typeof v === 'string' ? undefined : `${erlangTerm(v)} is not a valid ${what}`);
const oneOf = (values: readonly (string | number)[], what: string): KeyValidator => (v) =>
  (typeof v === 'string' || typeof v === 'number') && values.includes(v) ? undefined : `${erlangTerm(v)} is not a valid ${what}`;
const anything: KeyValidator = () => undefined;

/** rabbit_policies' policy validators (3.10): key -> check; texts as RabbitMQ's. */
const POLICY_KEYS = new Map<string, KeyValidator>([
  ['alternate-exchange', binary('alternate exchange name')],
  ['dead-letter-exchange', binary('dead letter exchange name')],
  ['dead-letter-routing-key', binary('dead letter routing key')],
  ['message-ttl', nonNegInt('message TTL')],
  ['expires', positiveInt('queue expiry')],
  ['max-length', nonNegInt('maximum length')],
  ['max-length-bytes', nonNegInt('maximum length in bytes')],
  ['max-in-memory-length', nonNegInt('maximum memory in bytes')],
  ['max-in-memory-bytes', nonNegInt('maximum memory in bytes')],
  ['delivery-limit', nonNegInt('delivery limit')],
  ['queue-mode', oneOf(['default', 'lazy'], 'queue-mode value')],
  ['queue-version', oneOf([1, 2], 'queue version')],
  ['overflow', oneOf(['drop-head', 'reject-publish', 'reject-publish-dlx'], 'overflow value')],
  ['queue-master-locator', oneOf(['min-masters', 'client-local', 'random'], 'master locator value')],
  ['queue-leader-locator', oneOf(['client-local', 'balanced', 'random', 'least-leaders'], 'leader locator value')],
  ['max-age', binary('max age')],
  ['stream-max-segment-size-bytes', nonNegInt('segment size')],
  // Warren's delayed retries (queue-arguments.ts): a list of delays in ms and a retry count.
  ['retry-delays', (v) => (retryDelaysValue(v) !== undefined ? undefined : `${erlangTerm(v)} is not a valid list of retry delays`)],
  ['retry-limit', nonNegInt('retry limit')],
  // Classic mirroring: stored (single node, nothing to mirror to), as accepted by RabbitMQ 3.10.
  ['ha-mode', oneOf(['all', 'exactly', 'nodes'], 'ha-mode value')],
  ['ha-params', anything],
  ['ha-sync-mode', oneOf(['manual', 'automatic'], 'ha-sync-mode value')],
  ['ha-sync-batch-size', positiveInt('ha-sync-batch-size value')],
  ['ha-promote-on-shutdown', oneOf(['always', 'when-synced'], 'ha-promote-on-shutdown value')],
  ['ha-promote-on-failure', oneOf(['always', 'when-synced'], 'ha-promote-on-failure value')],
]);

/** Operator policies accept only these (numeric limits), merged by taking the lower value. */
const OPERATOR_KEYS = ['expires', 'message-ttl', 'max-length', 'max-length-bytes', 'max-in-memory-length',
  'max-in-memory-bytes', 'delivery-limit'];

export class PolicyStore implements PolicyResolver {
  private readonly compiled = new Map<PolicyKind, Map<string, Compiled[]>>([['policy', new Map()], ['operator', new Map()]]);
  /** Policy keys added by components' owners (federation-upstream, ...). */
  private readonly extraKeys = new Map<string, KeyValidator>();
  private readonly definitionChecks: ((definition: { readonly [key: string]: JsonValue }) => string | undefined)[] = [];
  /** Re-apply the vhost's policies to its queues and exchanges (set by the broker). */
  onVhostPoliciesChanged: ((vhost: string) => void) | undefined;

  constructor(private readonly parameters: ParameterStore) {
    for (const kind of ['policy', 'operator'] as const) {
      parameters.registerComponent(componentOf(kind), {
        normalize: definitionAsObject,
        validate: (_vhost, _name, value) => this.validate(kind, value),
        changed: (vhost, name, value) => this.changed(kind, vhost, name, value),
      });
    }
  }

  /** Let a plugin's policy key through validation (e.g. federation-upstream). */
  registerKey(key: string, validate: (value: JsonValue) => string | undefined): void {
    this.extraKeys.set(key, validate);
  }

  /** A check over a whole definition (keys that exclude each other), as a plugin's validate_policy. */
  registerDefinitionCheck(check: (definition: { readonly [key: string]: JsonValue }) => string | undefined): void {
    this.definitionChecks.push(check);
  }

  /**
   * Create or replace; true when created. Throws ControlError (invalid, with RabbitMQ's reason, or
   * missing vhost). A raw JSON value (as the API receives it) is validated field by field.
   */
  put(kind: PolicyKind, vhost: string, name: string, spec: PolicySpec | JsonValue): boolean {
    return this.parameters.set(componentOf(kind), vhost, name, isSpec(spec) ? specToJson(spec) : spec);
  }

  delete(kind: PolicyKind, vhost: string, name: string): boolean {
    return this.parameters.clear(componentOf(kind), vhost, name);
  }

  get(kind: PolicyKind, vhost: string, name: string): Policy | undefined {
    return this.list(kind, vhost).find((p) => p.name === name);
  }

  /** Policies of one kind, of one vhost or all, in the order they were set. */
  list(kind: PolicyKind, vhost?: string): Policy[] {
    const byVhost = this.compiled.get(kind)!;
    const lists = vhost === undefined ? [...byVhost.values()] : [byVhost.get(vhost) ?? []];
    return lists.flatMap((l) => l.map((c) => c.policy));
  }

  /** The policy, operator policy and merged definition that apply to a queue or exchange. */
  effective(vhost: string, name: string, kind: 'queues' | 'exchanges'): EffectivePolicy {
    const policy = this.best('policy', vhost, name, kind);
    const operatorPolicy = kind === 'queues' ? this.best('operator', vhost, name, kind) : undefined;
    const definition: { [key: string]: JsonValue } = { ...(policy?.definition ?? {}) };
    if (operatorPolicy !== undefined) {
      for (const [k, v] of Object.entries(operatorPolicy.definition)) {
        const mine = definition[k];
        definition[k] = typeof mine === 'number' && typeof v === 'number' ? Math.min(mine, v) : (mine ?? v);
      }
    }
    return { policy, operatorPolicy, definition };
  }

  // ---- PolicyResolver (asked by the vhost on declare, by the broker on re-application) -----

  queueSettings(vhost: string, queue: string, declared: QueueArguments): QueueArguments {
    const e = this.effective(vhost, queue, 'queues');
    if (e.policy === undefined && e.operatorPolicy === undefined) return declared;
    return applyQueuePolicy(declared, { ...(e.policy ?? e.operatorPolicy!), definition: e.definition });
  }

  queueDefinition(vhost: string, queue: string): Readonly<Record<string, unknown>> | undefined {
    const e = this.effective(vhost, queue, 'queues');
    return e.policy === undefined && e.operatorPolicy === undefined ? undefined : e.definition;
  }

  alternateExchange(vhost: string, exchange: string): string | undefined {
    const ae = this.best('policy', vhost, exchange, 'exchanges')?.definition['alternate-exchange'];
    return typeof ae === 'string' ? ae : undefined;
  }

  // ---- internals ---------------------------------------------------------------------------

  private best(kind: PolicyKind, vhost: string, name: string, target: 'queues' | 'exchanges'): Policy | undefined {
    let best: Policy | undefined;
    for (const c of this.compiled.get(kind)!.get(vhost) ?? []) {
      const p = c.policy;
      if (p.applyTo !== 'all' && p.applyTo !== target) continue;
      if (!c.regex.test(name)) continue;
      if (best === undefined || p.priority > best.priority) best = p;
    }
    return best;
  }

  private changed(kind: PolicyKind, vhost: string, name: string, value: JsonValue | undefined): void {
    const byVhost = this.compiled.get(kind)!;
    const list = (byVhost.get(vhost) ?? []).filter((c) => c.policy.name !== name);
    if (value !== undefined) {
      const spec = value as unknown as PolicySpec;
      const policy: Policy = {
        name, vhost, pattern: String(spec.pattern), applyTo: spec['apply-to'] ?? 'all', priority: Number(spec.priority ?? 0),
        definition: (spec.definition ?? {}) as Policy['definition'],
      };
      let regex: RegExp;
      try {
        regex = new RegExp(policy.pattern);
      } catch {
        regex = /(?!)/; // a restored pattern JS cannot compile matches nothing (validation refuses new ones)
      }
      const at = (byVhost.get(vhost) ?? []).findIndex((c) => c.policy.name === name);
      if (at >= 0) list.splice(at, 0, { policy, regex });
      else list.push({ policy, regex });
    }
    if (list.length === 0) byVhost.delete(vhost);
    else byVhost.set(vhost, list);
    this.onVhostPoliciesChanged?.(vhost);
  }

  /** rabbit_policy:validate (policy_validation/0 and the definition validators). */
  private validate(kind: PolicyKind, value: JsonValue): void {
    if (value === null || typeof value !== 'object' || Array.isArray(value)) throw invalid(`policy must be a map, actually was ${erlangTerm(value)}`);
    const v = value as { [key: string]: JsonValue };
    const priority = v['priority'] ?? 0;
    if (typeof priority !== 'number') throw invalid(`priority should be a number, actually was ${erlangTerm(priority)}`);
    const pattern = v['pattern'];
    if (typeof pattern !== 'string') throw invalid(`pattern should be a string, actually was ${erlangTerm(pattern ?? null)}`);
    try {
      new RegExp(pattern);
    } catch (e: unknown) {
      throw invalid(`pattern should be regular expression but is invalid: ${JSON.stringify(e instanceof Error ? e.message : String(e))}`);
    }
    const applyTo = v['apply-to'] ?? 'all';
    if (applyTo !== 'queues' && applyTo !== 'exchanges' && applyTo !== 'all') {
      throw invalid(`apply-to '${typeof applyTo === 'string' ? applyTo : erlangTerm(applyTo)}' unrecognised; should be 'queues', 'exchanges' or 'all'`);
    }
    const def = v['definition'];
    if (def === null || def === undefined || typeof def !== 'object' || Array.isArray(def)) {
      throw invalid(`definition must be a dictionary: ${erlangTerm(def ?? null)}`);
    }
    const entries = Object.entries(def);
    if (entries.length === 0) throw invalid('no policy provided');
    const unknown: [string, JsonValue][] = [];
    for (const [key, val] of entries) {
      const check = kind === 'operator'
        ? (OPERATOR_KEYS.includes(key) ? POLICY_KEYS.get(key) : undefined)
        : POLICY_KEYS.get(key) ?? this.extraKeys.get(key);
      if (check === undefined) {
        unknown.push([key, val]);
        continue;
      }
      const why = check(val);
      if (why !== undefined) throw invalid(why);
    }
    if (unknown.length > 0) {
      throw invalid(`[${unknown.map(([k, x]) => `{${erlangTerm(k)},${erlangTerm(x)}}`).join(',')}] are not recognised policy settings`);
    }
    if (kind === 'policy') {
      for (const check of this.definitionChecks) {
        const why = check(def as { [key: string]: JsonValue });
        if (why !== undefined) throw invalid(why);
      }
    }
  }
}

/**
 * A parameter change as journaled: definitions.json keeps policies in their own list (not under
 * parameters), so a "policy" parameter is recorded as a policies entry, as exportControl lists it.
 */
export function asDefinitionChange(c: DefinitionChange): DefinitionChange {
  if (c.kind !== 'parameters' || c.value.component !== POLICY_COMPONENT) return c;
  const { vhost, name } = c.value;
  if (c.op === 'delete') return { op: 'delete', kind: 'policies', value: { vhost, name } };
  const v = c.value.value as { pattern?: unknown; definition?: unknown; priority?: unknown; 'apply-to'?: unknown };
  return {
    op: 'put', kind: 'policies', value: {
      vhost, name, pattern: String(v.pattern), 'apply-to': typeof v['apply-to'] === 'string' ? v['apply-to'] : 'all',
      definition: (v.definition ?? {}) as { [key: string]: JsonValue }, priority: typeof v.priority === 'number' ? v.priority : 0,
    },
  };
}

/**
 * `rabbitmqctl export_definitions` writes an operator policy's definition as a list of [key, value]
 * pairs (its Erlang proplist); RabbitMQ imports that form too. Stored as an object.
 */
function definitionAsObject(value: JsonValue): JsonValue {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return value;
  const def = value['definition'];
  if (!Array.isArray(def) || !def.every((p) => Array.isArray(p) && p.length === 2 && typeof p[0] === 'string')) return value;
  const obj: { [key: string]: JsonValue } = {};
  for (const p of def as [string, JsonValue][]) obj[p[0]] = p[1];
  return { ...value, definition: obj };
}

function componentOf(kind: PolicyKind): string {
  return kind === 'policy' ? POLICY_COMPONENT : OPERATOR_POLICY_COMPONENT;
}

function isSpec(v: PolicySpec | JsonValue): v is PolicySpec {
  return v !== null && typeof v === 'object' && !Array.isArray(v) && 'pattern' in v && 'definition' in v
    && typeof (v as { priority?: unknown }).priority === 'number';
}

function specToJson(spec: PolicySpec): JsonValue {
  return { pattern: spec.pattern, definition: spec.definition, priority: spec.priority, 'apply-to': spec['apply-to'] };
}

/**
 * Re-apply the vhost's policies to its existing queues and exchanges (rabbit_policy:update_policies
 * after a policy change). Queues recompute their effective settings from their own arguments and
 * the policies now in force; limits and TTLs take effect from the next message that enters (a
 * shorter max-length trims the queue on its next publish) and the new expiry is re-armed now.
 * Exchanges without their own alternate-exchange argument take the policy's.
 */
export function applyPolicies(v: Vhost, resolver: PolicyResolver): void {
  for (const q of v.queues.values()) {
    if (q instanceof StreamQueue) {
      q.applyPolicy(resolver.queueDefinition(v.name, q.name));
      continue;
    }
    const declared = parseQueueArguments(q.options.arguments, q.name, v.name);
    q.options.settings = resolver.queueSettings(v.name, q.name, declared);
    q.touch();
  }
  for (const x of v.exchanges.values()) {
    if (x.name === '' || fieldString(tableGet(x.args, 'alternate-exchange')) !== undefined) continue;
    x.alternate = resolver.alternateExchange(v.name, x.name);
  }
}
