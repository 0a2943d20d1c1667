/**
 * Exchange-type routing strategies (direct, fanout, topic, headers). Each keeps its own index of
 * bindings and pushes matched destinations into a caller-owned scratch array (no per-message
 * arrays); duplicates are allowed there and removed by the vhost's reused visited set.
 */
import { AmqpError } from '../core/amqp-error.js';
import { fieldString, type FieldTable, type FieldValue } from '../core/field-value.js';
import { ReplyCode } from '../core/reply-code.js';
import type { Binding, Destination } from './binding.js';
import type { Message } from './message.js';

export interface Router {
  add(b: Binding): void;
  remove(b: Binding): void;
  route(msg: Message, out: Destination[]): void;
}

class DirectRouter implements Router {
  private readonly byKey = new Map<string, Binding[]>();

  add(b: Binding): void {
    const list = this.byKey.get(b.routingKey);
    if (list === undefined) this.byKey.set(b.routingKey, [b]);
    else list.push(b);
  }

  remove(b: Binding): void {
    const list = this.byKey.get(b.routingKey);
    if (list === undefined) return;
    const i = list.indexOf(b);
    if (i >= 0) list.splice(i, 1);
    if (list.length === 0) this.byKey.delete(b.routingKey);
  }

  route(msg: Message, out: Destination[]): void {
    const list = this.byKey.get(msg.routingKey);
    if (list === undefined) return;
    for (let i = 0; i < list.length; i++) out.push(list[i]!.destination);
  }
}

class FanoutRouter implements Router {
  private readonly bindings: Binding[] = [];

  add(b: Binding): void {
    b.routeSlot = this.bindings.length;
    this.bindings.push(b);
  }

  /** O(1): the last binding takes the removed one's place (fanout order carries no meaning). */
  remove(b: Binding): void {
    const i = b.routeSlot;
    if (i < 0 || this.bindings[i] !== b) return;
    const last = this.bindings.pop()!;
    if (last !== b) {
      this.bindings[i] = last;
      last.routeSlot = i;
    }
    b.routeSlot = -1;
  }

  route(_msg: Message, out: Destination[]): void {
    for (let i = 0; i < this.bindings.length; i++) out.push(this.bindings[i]!.destination);
  }
}

class TopicNode {
  readonly children = new Map<string, TopicNode>();
  readonly bindings: Binding[] = [];
}

/**
 * Topic matching as RabbitMQ does it: words split on '.', '*' matches exactly one word, '#' zero
 * or more; the empty key has zero words ("a..b" has an empty middle word).
 */
export class TopicRouter implements Router {
  private readonly root = new TopicNode();

  add(b: Binding): void {
    let node = this.root;
    for (const w of splitTopic(b.routingKey)) {
      let next = node.children.get(w);
      if (next === undefined) {
        next = new TopicNode();
        node.children.set(w, next);
      }
      node = next;
    }
    node.bindings.push(b);
  }

  remove(b: Binding): void {
    const words = splitTopic(b.routingKey);
    const path: TopicNode[] = [this.root];
    let node = this.root;
    for (const w of words) {
      const next = node.children.get(w);
      if (next === undefined) return;
      path.push(next);
      node = next;
    }
    const i = node.bindings.indexOf(b);
    if (i >= 0) node.bindings.splice(i, 1);
    // Prune empty branches so the trie follows the live bindings.
    for (let d = words.length; d > 0; d--) {
      const n = path[d]!;
      if (n.bindings.length > 0 || n.children.size > 0) break;
      path[d - 1]!.children.delete(words[d - 1]!);
    }
  }

  route(msg: Message, out: Destination[]): void {
    this.match(this.root, splitTopic(msg.routingKey), 0, out);
  }

  private match(node: TopicNode, words: string[], i: number, out: Destination[]): void {
    const hash = node.children.get('#');
    if (hash !== undefined) {
      // '#' consumes zero or more words.
      for (let j = i; j <= words.length; j++) this.match(hash, words, j, out);
    }
    if (i === words.length) {
      for (let k = 0; k < node.bindings.length; k++) out.push(node.bindings[k]!.destination);
      return;
    }
    // As RabbitMQ's trie walk: the word's own edge, then '*' (a literal '*' or '#' word may thus
    // match twice; the vhost's visited set removes duplicates).
    const exact = node.children.get(words[i]!);
    if (exact !== undefined) this.match(exact, words, i + 1, out);
    const star = node.children.get('*');
    if (star !== undefined && star !== exact) this.match(star, words, i + 1, out);
  }
}

const EMPTY_WORDS: string[] = [];

function splitTopic(key: string): string[] {
  return key === '' ? EMPTY_WORDS : key.split('.');
}

type MatchMode = 'all' | 'any' | 'all-with-x' | 'any-with-x';

interface HeadersBinding {
  binding: Binding;
  mode: MatchMode;
  entries: FieldTable;
}

/** Headers exchange: x-match all / any / all-with-x / any-with-x; a void binding value means "present". */
class HeadersRouter implements Router {
  private readonly bindings: HeadersBinding[] = [];

  add(b: Binding): void {
    b.routeSlot = this.bindings.length;
    this.bindings.push({ binding: b, mode: headersMatchMode(b.args), entries: b.args });
  }

  /** O(1), as FanoutRouter.remove. */
  remove(b: Binding): void {
    const i = b.routeSlot;
    if (i < 0 || this.bindings[i]?.binding !== b) return;
    const last = this.bindings.pop()!;
    if (last.binding !== b) {
      this.bindings[i] = last;
      last.binding.routeSlot = i;
    }
    b.routeSlot = -1;
  }

  route(msg: Message, out: Destination[]): void {
    if (this.bindings.length === 0) return;
    const headers = msg.headers();
    for (let i = 0; i < this.bindings.length; i++) {
      const h = this.bindings[i]!;
      if (headersMatch(h.mode, h.entries, headers)) out.push(h.binding.destination);
    }
  }
}

/** Validates x-match when a headers binding is created (RabbitMQ: 406 on an unknown value). */
export function headersMatchMode(args: FieldTable): MatchMode {
  let mode: MatchMode = 'all';
  for (const e of args) {
    if (e.key !== 'x-match') continue;
    const s = fieldString(e.value);
    if (s === 'all' || s === 'any' || s === 'all-with-x' || s === 'any-with-x') mode = s;
    else {
      throw new AmqpError(ReplyCode.PRECONDITION_FAILED,
        `Invalid x-match field value ${describeValue(e.value)}; expected all, any, all-with-x, or any-with-x`);
    }
    break;
  }
  return mode;
}

function describeValue(v: FieldValue): string {
  return v.type === 'S' ? `<<"${v.value.toString('utf8')}">>` : JSON.stringify('value' in v ? String(v.value) : null);
}

export function headersMatch(mode: MatchMode, bindingArgs: FieldTable, headers: FieldTable | undefined): boolean {
  const withX = mode === 'all-with-x' || mode === 'any-with-x';
  const all = mode === 'all' || mode === 'all-with-x';
  for (let i = 0; i < bindingArgs.length; i++) {
    const e = bindingArgs[i]!;
    if (e.key === 'x-match') continue;
    if (!withX && e.key.startsWith('x-')) continue;
    const hv = findHeader(headers, e.key);
    const ok = hv !== undefined && (e.value.type === 'V' || looseEquals(e.value, hv));
    if (all && !ok) return false;
    if (!all && ok) return true;
  }
  return all;
}

function findHeader(headers: FieldTable | undefined, key: string): FieldValue | undefined {
  if (headers === undefined) return undefined;
  for (let i = 0; i < headers.length; i++) if (headers[i]!.key === key) return headers[i]!.value;
  return undefined;
}

/**
 * Value equality the way Erlang's == compares decoded AMQP values: numbers across int/float types.
 * Nested arrays and tables are compared pairwise from a work list (a binding's arguments and a
 * message's headers may nest as deep as a frame allows; the call stack must not decide the match).
 */
export function looseEquals(a: FieldValue, b: FieldValue): boolean {
  if (a.type !== 'A' && a.type !== 'F') return looseScalarEquals(a, b);
  const work: FieldValue[] = [a, b];
  while (work.length > 0) {
    const y = work.pop()!;
    const x = work.pop()!;
    if (x.type === 'A' && y.type === 'A') {
      if (x.value.length !== y.value.length) return false;
      for (let i = 0; i < x.value.length; i++) work.push(x.value[i]!, y.value[i]!);
    } else if (x.type === 'F' && y.type === 'F') {
      if (x.value.length !== y.value.length) return false;
      for (let i = 0; i < x.value.length; i++) {
        const ex = x.value[i]!;
        const ey = y.value[i]!;
        if (ex.key !== ey.key) return false;
        work.push(ex.value, ey.value);
      }
    } else if (!looseScalarEquals(x, y)) {
      return false;
    }
  }
  return true;
}

/** looseEquals for pairs where at most one side is a container (then they differ). */
function looseScalarEquals(a: FieldValue, b: FieldValue): boolean {
  const an = numeric(a);
  const bn = numeric(b);
  if (an !== undefined || bn !== undefined) return an !== undefined && bn !== undefined && an == bn; // eslint-disable-line eqeqeq
  if (a.type === 'V' || b.type === 'V') return a.type === b.type;
  if ((a.type === 'S' || a.type === 'x') && (b.type === 'S' || b.type === 'x')) return a.value.equals(b.value);
  if (a.type === 'D' && b.type === 'D') return a.scale === b.scale && a.value === b.value;
  if (a.type === 't' && b.type === 't') return a.value === b.value;
  return false;
}

function numeric(v: FieldValue): number | bigint | undefined {
  switch (v.type) {
    case 'b': case 'B': case 's': case 'u': case 'I': case 'i': case 'f': case 'd': case 'l': case 'T':
      return v.value;
    default:
      return undefined;
  }
}

export function createRouter(type: string): Router {
  switch (type) {
    case 'direct': return new DirectRouter();
    case 'fanout': return new FanoutRouter();
    case 'topic': return new TopicRouter();
    case 'headers': return new HeadersRouter();
    default: throw unknownExchangeType(type);
  }
}

export const EXCHANGE_TYPES: ReadonlySet<string> = new Set(['direct', 'fanout', 'topic', 'headers', 'x-delayed-message', 'x-transactional']);

/**
 * rabbit_exchange:check_type says "invalid exchange type" when the name is already an Erlang atom
 * and "unknown exchange type" otherwise; we approximate "already an atom" by "a plain lower-case
 * word" (e.g. 'foo' is invalid, 'x-custom' or 'Direct' unknown).
 */
export function unknownExchangeType(type: string): AmqpError {
  const word = /^([a-z][a-z_]*)?$/.test(type);
  return new AmqpError(ReplyCode.COMMAND_INVALID, `${word ? 'invalid' : 'unknown'} exchange type '${type}'`, -1, -1, true);
}
