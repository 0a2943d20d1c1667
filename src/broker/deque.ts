/**
 * A growable ring-buffer double-ended queue: O(1) push/shift/unshift without the O(n) cost of
 * Array#shift on large backlogs. Invariant: capacity is a power of two; slots outside
 * [head, head+length) hold undefined so shifted items can be collected.
 */
export class Deque<T> {
  private items: (T | undefined)[];
  private head = 0;
  private size = 0;
  private mask: number;

  constructor(initialCapacity = 16) {
    let cap = 16;
    while (cap < initialCapacity) cap *= 2;
    this.items = new Array<T | undefined>(cap);
    this.mask = cap - 1;
  }

  get length(): number {
    return this.size;
  }

  push(item: T): void {
    if (this.size === this.items.length) this.grow();
    this.items[(this.head + this.size) & this.mask] = item;
    this.size++;
  }

  unshift(item: T): void {
    if (this.size === this.items.length) this.grow();
    this.head = (this.head - 1) & this.mask;
    this.items[this.head] = item;
    this.size++;
  }

  shift(): T | undefined {
    if (this.size === 0) return undefined;
    const item = this.items[this.head];
    this.items[this.head] = undefined;
    this.head = (this.head + 1) & this.mask;
    this.size--;
    return item;
  }

  peek(): T | undefined {
    return this.size === 0 ? undefined : this.items[this.head];
  }

  at(i: number): T | undefined {
    return i < 0 || i >= this.size ? undefined : this.items[(this.head + i) & this.mask];
  }

  /** Insert at position i (0 = head); O(n), used only for out-of-order requeues. */
  insertAt(i: number, item: T): void {
    if (i <= 0) return this.unshift(item);
    if (i >= this.size) return this.push(item);
    const all = this.toArray();
    all.splice(i, 0, item);
    this.reset(all);
  }

  clear(): void {
    this.items = new Array<T | undefined>(16);
    this.mask = 15;
    this.head = 0;
    this.size = 0;
  }

  toArray(): T[] {
    const out: T[] = new Array<T>(this.size);
    for (let i = 0; i < this.size; i++) out[i] = this.items[(this.head + i) & this.mask] as T;
    return out;
  }

  /** Remove every item matching `pred`, keeping order; returns the removed ones. */
  removeWhere(pred: (item: T) => boolean): T[] {
    const keep: T[] = [];
    const removed: T[] = [];
    for (let i = 0; i < this.size; i++) {
      const it = this.items[(this.head + i) & this.mask] as T;
      (pred(it) ? removed : keep).push(it);
    }
    if (removed.length > 0) this.reset(keep);
    return removed;
  }

  private reset(all: T[]): void {
    let cap = 16;
    while (cap < all.length * 2) cap *= 2;
    this.items = new Array<T | undefined>(cap);
    for (let i = 0; i < all.length; i++) this.items[i] = all[i];
    this.mask = cap - 1;
    this.head = 0;
    this.size = all.length;
  }

  private grow(): void {
    const old = this.items;
    const cap = old.length * 2;
    const next = new Array<T | undefined>(cap);
    for (let i = 0; i < this.size; i++) next[i] = old[(this.head + i) & this.mask];
    this.items = next;
    this.mask = cap - 1;
    this.head = 0;
  }
}
