/**
 * Virtual host limits (max-connections, max-queues), stored as RabbitMQ stores them: one runtime
 * parameter per vhost, component "vhost-limits", name "limits", value {"max-connections": N, ...}
 * (rabbit_vhost_limit). Negative values mean "no limit", as in RabbitMQ.
 * Enforced where RabbitMQ enforces them: max-connections at connection.open (the server asks
 * `limit`), max-queues at queue.declare of a new queue (the vhost asks through Vhost.queueLimit).
 */
import type { JsonValue } from '../store/definitions.js';
import { erlangTerm, invalid } from './control-error.js';
import type { ParameterStore } from './parameters.js';

export const VHOST_LIMITS_COMPONENT = 'vhost-limits';
const LIMITS_NAME = 'limits';
const KEYS = new Set(['max-connections', 'max-queues']);

export type Limits = Readonly<Record<string, number>>;

export class VhostLimits {
  constructor(private readonly parameters: ParameterStore) {
    parameters.registerComponent(VHOST_LIMITS_COMPONENT, { validate: (_vhost, _name, value) => validateLimits(value) });
  }

  /** The vhost's limits ({} when none is set). */
  of(vhost: string): Limits {
    const v = this.parameters.get(VHOST_LIMITS_COMPONENT, vhost, LIMITS_NAME)?.value;
    return isObject(v) ? (v as Limits) : {};
  }

  /**
   * One limit of a vhost as rabbit_vhost_limit:get_limit reads it: undefined when unset or negative
   * (no limit); 0 refuses everything.
   */
  limit(vhost: string, key: 'max-connections' | 'max-queues'): number | undefined {
    const n = this.of(vhost)[key];
    return typeof n === 'number' && n >= 0 ? n : undefined;
  }

  /** Every vhost that has limits. */
  all(): { vhost: string; value: Limits }[] {
    return this.parameters.list(VHOST_LIMITS_COMPONENT).map((p) => ({ vhost: p.vhost, value: p.value as Limits }));
  }

  /** Set one limit (PUT /api/vhost-limits/{vhost}/{name}); the others are kept. */
  set(vhost: string, name: string, value: JsonValue): void {
    this.parameters.set(VHOST_LIMITS_COMPONENT, vhost, LIMITS_NAME, { ...this.of(vhost), [name]: value } as JsonValue);
  }

  /** Replace every limit at once (definitions import, rabbitmqctl set_vhost_limits). */
  replace(vhost: string, value: JsonValue): void {
    this.parameters.set(VHOST_LIMITS_COMPONENT, vhost, LIMITS_NAME, value);
  }

  /** Remove one limit; the parameter goes when none is left. False when it was not set. */
  clear(vhost: string, name: string): boolean {
    const current = this.of(vhost);
    if (!(name in current)) return false;
    const rest: Record<string, number> = { ...current };
    delete rest[name];
    if (Object.keys(rest).length === 0) this.parameters.clear(VHOST_LIMITS_COMPONENT, vhost, LIMITS_NAME);
    else this.parameters.set(VHOST_LIMITS_COMPONENT, vhost, LIMITS_NAME, rest);
    return true;
  }
}

/** rabbit_vhost_limit:validate: known keys, numeric values (texts as RabbitMQ 3.10's). */
function validateLimits(value: JsonValue): void {
  if (!isObject(value)) throw invalid(`limits should be a map, actually was ${erlangTerm(value)}`);
  const entries = Object.entries(value as { [k: string]: JsonValue });
  for (const [k, v] of entries) {
    if (KEYS.has(k) && typeof v !== 'number') throw invalid(`${k} should be a number, actually was ${erlangTerm(v)}`);
  }
  const unknown = entries.filter(([k]) => !KEYS.has(k));
  if (unknown.length > 0) {
    throw invalid(`Unrecognised terms [${unknown.map(([k, v]) => `{${erlangTerm(k)},${erlangTerm(v)}}`).join(',')}] in limits`);
  }
}

function isObject(v: JsonValue | undefined): boolean {
  return v !== null && v !== undefined && typeof v === 'object' && !Array.isArray(v);
}
