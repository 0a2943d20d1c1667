/**
 * Runtime parameters, as RabbitMQ keeps them (rabbit_runtime_parameters): values identified by
 * (component, vhost, name), plus global parameters by name (cluster_name, ...). Components are
 * registered by whoever owns them (policies, operator policies, vhost limits here; shovels and
 * federation later): a component validates a value before it is stored and is told after every
 * change, so it can apply it. A value for a component nobody registered is refused, as RabbitMQ
 * refuses it ("component shovel not found") — except when restored from saved definitions: those
 * are kept and replayed to the component when it registers, so nothing stored is lost.
 *
 * Invariants: values are plain JSON; every change calls `onChange` once with its journal record,
 * before the change is made (the broker journals it and may refuse it by throwing): parameters and
 * policies live in the definitions as RabbitMQ's definitions.json keeps them.
 */
import type { DefinitionChange } from '../store/definition-changes.js';
import type { JsonValue } from '../store/definitions.js';
import { invalid, missing } from './control-error.js';

/** The component of dynamic shovels (src/links registers it; the management API names it). */
export const SHOVEL_PARAMETER_COMPONENT = 'shovel';

export interface RuntimeParameter {
  readonly component: string;
  readonly vhost: string;
  readonly name: string;
  readonly value: JsonValue;
}

export interface GlobalParameter {
  readonly name: string;
  readonly value: JsonValue;
}

/** What a component's owner registers. */
export interface ParameterComponent {
  /** Bring an accepted alternative form to the stored one (e.g. a proplist exported as pairs). */
  normalize?(value: JsonValue): JsonValue;
  /** Refuse a value by throwing `invalid(reason)` (reason in RabbitMQ's words). */
  validate(vhost: string, name: string, value: JsonValue): void;
  /** After a change: `value` is the new value, undefined when the parameter was cleared. */
  changed?(vhost: string, name: string, value: JsonValue | undefined): void;
}

export class ParameterStore {
  private readonly components = new Map<string, ParameterComponent>();
  private readonly params = new Map<string, RuntimeParameter>();
  private readonly globals = new Map<string, GlobalParameter>();
  /** Called before every change with its journal record (set by the broker; may throw to refuse it). */
  onChange: ((change: DefinitionChange) => void) | undefined;

  /** @param vhostExists whether a vhost exists (parameters belong to existing vhosts) */
  constructor(private readonly vhostExists: (vhost: string) => boolean = () => true) {}

  /** Register a component; parameters already stored for it are replayed to `changed`. */
  registerComponent(name: string, component: ParameterComponent): void {
    this.components.set(name, component);
    for (const p of this.list(name)) component.changed?.(p.vhost, p.name, p.value);
  }

  hasComponent(name: string): boolean {
    return this.components.has(name);
  }

  /** Validate and store; true when created, false when an existing value was replaced. */
  set(component: string, vhost: string, name: string, value: JsonValue): boolean {
    const c = this.components.get(component);
    if (c === undefined) throw invalid(`component ${component} not found`);
    if (!this.vhostExists(vhost)) throw missing('vhost_not_found');
    if (c.normalize !== undefined) value = c.normalize(value);
    c.validate(vhost, name, value);
    const key = paramKey(component, vhost, name);
    const created = !this.params.has(key);
    this.onChange?.({ op: 'put', kind: 'parameters', value: { component, vhost, name, value } });
    this.params.set(key, { component, vhost, name, value });
    c.changed?.(vhost, name, value);
    return created;
  }

  /** Store a saved value without validation (recovery, definitions import of unknown components). */
  restore(p: RuntimeParameter): void {
    const c = this.components.get(p.component);
    const value = c?.normalize === undefined ? p.value : c.normalize(p.value);
    this.params.set(paramKey(p.component, p.vhost, p.name), { ...p, value });
    c?.changed?.(p.vhost, p.name, value);
  }

  /** Remove; false when there was nothing to remove. */
  clear(component: string, vhost: string, name: string): boolean {
    const key = paramKey(component, vhost, name);
    if (!this.params.has(key)) return false;
    this.onChange?.({ op: 'delete', kind: 'parameters', value: { component, vhost, name } });
    this.params.delete(key);
    this.components.get(component)?.changed?.(vhost, name, undefined);
    return true;
  }

  get(component: string, vhost: string, name: string): RuntimeParameter | undefined {
    return this.params.get(paramKey(component, vhost, name));
  }

  /** Parameters, optionally of one component and/or vhost, in insertion order. */
  list(component?: string, vhost?: string): RuntimeParameter[] {
    const out: RuntimeParameter[] = [];
    for (const p of this.params.values()) {
      if (component !== undefined && p.component !== component) continue;
      if (vhost !== undefined && p.vhost !== vhost) continue;
      out.push(p);
    }
    return out;
  }

  /** A vhost is being deleted: its parameters go with it (components are told). */
  clearVhost(vhost: string): void {
    for (const p of this.list(undefined, vhost)) this.clear(p.component, p.vhost, p.name);
  }

  // ---- global parameters (rabbit_runtime_parameters:set_global) -----------------------------

  setGlobal(name: string, value: JsonValue): boolean {
    const created = !this.globals.has(name);
    this.onChange?.({ op: 'put', kind: 'global_parameters', value: { name, value } });
    this.globals.set(name, { name, value });
    return created;
  }

  restoreGlobal(p: GlobalParameter): void {
    this.globals.set(p.name, p);
  }

  clearGlobal(name: string): boolean {
    if (!this.globals.has(name)) return false;
    this.onChange?.({ op: 'delete', kind: 'global_parameters', value: { name } });
    this.globals.delete(name);
    return true;
  }

  getGlobal(name: string): GlobalParameter | undefined {
    return this.globals.get(name);
  }

  listGlobal(): GlobalParameter[] {
    return [...this.globals.values()];
  }
}

function paramKey(component: string, vhost: string, name: string): string {
  return `${component}\u0000${vhost}\u0000${name}`;
}
