/**
 * The in-memory part of a queue index: entries in enqueue order, stored column-wise in typed arrays
 * (13 bytes per entry: f64 ref, u32 size, u8 flags) inside chunks of `perChunk` consecutive seqs,
 * so a backlog of millions costs no JS object per message. Three more columns hold what the broker
 * attaches to an entry (expiry time, an opaque tag, a weight counted in `bytes`); each is allocated
 * in a chunk only once an entry of that chunk differs from the default (Infinity, 0, size), so plain
 * FIFO queues keep paying 13 bytes per entry. Chunk k holds seqs [k*perChunk,
 * (k+1)*perChunk) and mirrors index segment file k of the file store. A chunk is dropped once it
 * can receive no more entries (the tail has passed it) and none of its entries is live; its arrays
 * start small and double, so thousands of near-empty queues stay cheap.
 * Residency: with a `loader` (file store) at most ~`maxResident` entries keep their arrays in memory;
 * other chunks keep only their counters and are reloaded from their index segment on first access.
 * Evicted first are the newest chunks that are neither the head nor the tail, so a consumer walking
 * from the head and a publisher appending at the tail rarely cause a reload.
 * Shared by both store implementations.
 */
import type { MsgRef, QueueCursor } from './store.js';

export const F_PRESENT = 1;
export const F_DELIVERED = 2;
export const F_SETTLED = 4;

const INITIAL_CAPACITY = 16;
const NO_F64 = new Float64Array(0);
const NO_U32 = new Uint32Array(0);
const NO_U8 = new Uint8Array(0);

/** Per-entry values the broker attaches at enqueue (defaults: never expires, tag 0, weight = size). */
export interface EntryMeta {
  expiresAt: number;
  tag: number;
  weight: number;
}

export class Chunk {
  refs: Float64Array;
  sizes: Uint32Array;
  flags: Uint8Array;
  /** Lazily allocated columns (undefined: every entry has the default). */
  expires: Float64Array | undefined;
  tags: Uint32Array | undefined;
  weights: Uint32Array | undefined;
  /** Slots assigned (highest present slot + 1). */
  filled = 0;
  live = 0;
  /** False when the arrays were dropped to save memory (reloaded by the owner's loader). */
  resident = true;

  constructor(readonly k: number, capacity: number) {
    this.refs = new Float64Array(capacity);
    this.sizes = new Uint32Array(capacity);
    this.flags = new Uint8Array(capacity);
  }

  /** Replace the arrays (loader) with ones of `capacity` slots. */
  allocate(capacity: number): void {
    this.refs = new Float64Array(capacity);
    this.sizes = new Uint32Array(capacity);
    this.flags = new Uint8Array(capacity);
    this.expires = this.tags = this.weights = undefined;
    this.resident = true;
  }

  evict(): void {
    this.refs = NO_F64;
    this.sizes = NO_U32;
    this.flags = NO_U8;
    this.expires = this.tags = this.weights = undefined;
    this.resident = false;
  }

  /** Store the metadata of `slot`, allocating a column the first time it holds a non-default. */
  setMeta(slot: number, size: number, expiresAt: number, tag: number, weight: number): void {
    if (expiresAt !== Infinity || this.expires !== undefined) {
      if (this.expires === undefined) this.expires = new Float64Array(this.flags.length).fill(Infinity);
      this.expires[slot] = expiresAt;
    }
    if (tag !== 0 || this.tags !== undefined) {
      this.tags ??= new Uint32Array(this.flags.length);
      this.tags[slot] = tag;
    }
    if (weight !== size || this.weights !== undefined) {
      if (this.weights === undefined) {
        this.weights = new Uint32Array(this.flags.length);
        this.weights.set(this.sizes);
      }
      this.weights[slot] = weight;
    }
  }

  expiresOf(slot: number): number {
    return this.expires === undefined ? Infinity : this.expires[slot]!;
  }

  tagOf(slot: number): number {
    return this.tags === undefined ? 0 : this.tags[slot]!;
  }

  weightOf(slot: number): number {
    return this.weights === undefined ? this.sizes[slot]! : this.weights[slot]!;
  }

  ensure(slot: number, max: number): void {
    if (slot < this.flags.length) return;
    let cap = this.flags.length * 2;
    while (cap <= slot) cap *= 2;
    if (cap > max) cap = max;
    const refs = new Float64Array(cap);
    refs.set(this.refs);
    const sizes = new Uint32Array(cap);
    sizes.set(this.sizes);
    const flags = new Uint8Array(cap);
    flags.set(this.flags);
    this.refs = refs;
    this.sizes = sizes;
    this.flags = flags;
    if (this.expires !== undefined) {
      const e = new Float64Array(cap).fill(Infinity);
      e.set(this.expires);
      this.expires = e;
    }
    if (this.tags !== undefined) {
      const t = new Uint32Array(cap);
      t.set(this.tags);
      this.tags = t;
    }
    if (this.weights !== undefined) {
      const w = new Uint32Array(cap);
      w.set(this.weights);
      this.weights = w;
    }
  }
}

/** Memory of one resident slot when every column is allocated (ref 8, size 4, flags 1, expiry 8, tag 4, weight 4). */
export const SLOT_BYTES = 29;

export class QueueEntries {
  readonly chunks = new Map<number, Chunk>();
  /** Next seq to assign. */
  tailSeq = 0;
  /** Smallest chunk number that may still exist. */
  private minK = 0;
  count = 0;
  bytes = 0;
  /** Set by settle(): the chunk number that settle dropped, else -1 (the file store deletes its files). */
  droppedChunk = -1;
  /** Slots of resident arrays (memory: 13 bytes each). */
  residentSlots = 0;
  loads = 0;

  constructor(
    readonly perChunk: number,
    /** Fills an evicted chunk's arrays from disk (calls chunk.allocate). Without it nothing is evicted. */
    private readonly loader?: (c: Chunk) => void,
    private readonly maxResident = Infinity,
  ) {
    if (!Number.isInteger(perChunk) || perChunk < 1) throw new RangeError('perChunk must be a positive integer');
  }

  private chunkFor(k: number): Chunk {
    let c = this.chunks.get(k);
    if (c === undefined) {
      c = new Chunk(k, Math.min(INITIAL_CAPACITY, this.perChunk));
      this.residentSlots += c.flags.length;
      this.chunks.set(k, c);
      if (this.chunks.size === 1 || k < this.minK) this.minK = k;
      if (this.residentSlots > this.maxResident) this.enforceBudget(c);
    } else if (!c.resident) {
      this.load(c);
    }
    return c;
  }

  /** The chunk holding seq, resident, or undefined. */
  private chunkAt(k: number): Chunk | undefined {
    const c = this.chunks.get(k);
    if (c !== undefined && !c.resident) this.load(c);
    return c;
  }

  private load(c: Chunk): void {
    this.loader!(c);
    this.loads++;
    this.residentSlots += c.flags.length;
    this.enforceBudget(c);
  }

  /** Evict the newest resident chunks other than head, tail and `keep` while over budget. */
  enforceBudget(keep?: Chunk): void {
    if (this.residentSlots <= this.maxResident || this.loader === undefined) return;
    const tailK = Math.floor(this.tailSeq / this.perChunk);
    const ks = [...this.chunks.keys()].sort((a, b) => b - a);
    for (const k of ks) {
      if (this.residentSlots <= this.maxResident) break;
      const c = this.chunks.get(k)!;
      if (!c.resident || c === keep || k === this.minK || k === tailK || k === tailK - 1) continue;
      this.residentSlots -= c.flags.length;
      c.evict();
    }
  }

  /** Append at the tail; returns the seq. */
  add(ref: MsgRef, size: number, expiresAt = Infinity, tag = 0, weight = size): number {
    const seq = this.tailSeq++;
    this.put(seq, ref, size, F_PRESENT, expiresAt, tag, weight);
    return seq;
  }

  /** The next add() starts a new chunk (the file store's tail segment has an older entry format). */
  skipToNextChunk(): void {
    const k = Math.floor(this.tailSeq / this.perChunk);
    if (this.tailSeq > k * this.perChunk) this.tailSeq = (k + 1) * this.perChunk;
  }

  /** Place an entry at an explicit seq (recovery). Flags must include F_PRESENT. */
  put(seq: number, ref: MsgRef, size: number, flags: number, expiresAt = Infinity, tag = 0, weight = size): void {
    const k = Math.floor(seq / this.perChunk);
    const slot = seq - k * this.perChunk;
    const c = this.chunkFor(k);
    if (slot >= c.flags.length) {
      const before = c.flags.length;
      c.ensure(slot, this.perChunk);
      this.residentSlots += c.flags.length - before;
      if (this.residentSlots > this.maxResident) this.enforceBudget(c);
    }
    c.refs[slot] = ref;
    c.sizes[slot] = size;
    c.flags[slot] = flags;
    c.setMeta(slot, size, expiresAt, tag, weight);
    if (slot >= c.filled) c.filled = slot + 1;
    if ((flags & F_SETTLED) === 0) {
      c.live++;
      this.count++;
      this.bytes += weight;
    }
    if (seq >= this.tailSeq) this.tailSeq = seq + 1;
  }

  /** The flags of seq (0 when absent). */
  flagsOf(seq: number): number {
    const k = Math.floor(seq / this.perChunk);
    const c = this.chunkAt(k);
    if (c === undefined) return 0;
    const slot = seq - k * this.perChunk;
    return slot < c.filled ? c.flags[slot]! : 0;
  }

  isLive(seq: number): boolean {
    return (this.flagsOf(seq) & (F_PRESENT | F_SETTLED)) === F_PRESENT;
  }

  refOf(seq: number): MsgRef {
    const k = Math.floor(seq / this.perChunk);
    const c = this.chunkAt(k);
    const slot = seq - k * this.perChunk;
    return c === undefined || slot >= c.filled ? -1 : c.refs[slot]!;
  }

  /** Set the delivered flag; true if it changed (so the caller records it once). */
  markDelivered(seq: number): boolean {
    const k = Math.floor(seq / this.perChunk);
    const c = this.chunkAt(k);
    if (c === undefined) return false;
    const slot = seq - k * this.perChunk;
    if (slot >= c.filled) return false;
    const f = c.flags[slot]!;
    if ((f & (F_PRESENT | F_SETTLED | F_DELIVERED)) !== F_PRESENT) return false;
    c.flags[slot] = f | F_DELIVERED;
    return true;
  }

  /** Settle a live entry; returns its ref, or -1 if it was not live. Sets `droppedChunk`. */
  settle(seq: number): MsgRef {
    this.droppedChunk = -1;
    const k = Math.floor(seq / this.perChunk);
    const c = this.chunkAt(k);
    if (c === undefined) return -1;
    const slot = seq - k * this.perChunk;
    if (slot >= c.filled) return -1;
    const f = c.flags[slot]!;
    if ((f & (F_PRESENT | F_SETTLED)) !== F_PRESENT) return -1;
    c.flags[slot] = f | F_SETTLED;
    c.live--;
    this.count--;
    this.bytes -= c.weightOf(slot);
    const ref = c.refs[slot]!;
    if (c.live === 0) this.maybeDrop(c);
    return ref;
  }

  /** Drop chunk c if it is empty and the tail has moved past it. Returns true when dropped. */
  maybeDrop(c: Chunk): boolean {
    if (c.live !== 0 || (c.k + 1) * this.perChunk > this.tailSeq) return false;
    this.chunks.delete(c.k);
    if (c.resident) this.residentSlots -= c.flags.length;
    this.droppedChunk = c.k;
    if (c.k === this.minK) this.advanceMinK();
    return true;
  }

  private advanceMinK(): void {
    if (this.chunks.size === 0) {
      this.minK = Math.floor(this.tailSeq / this.perChunk);
      return;
    }
    if (this.chunks.size < 64) {
      let m = Infinity;
      for (const k of this.chunks.keys()) if (k < m) m = k;
      this.minK = m;
      return;
    }
    while (!this.chunks.has(this.minK)) this.minK++;
  }

  /** Live refs, for releasing a whole queue (delete). */
  forEachLive(fn: (ref: MsgRef, seq: number) => void): void {
    const cur = this.cursor(0);
    while (cur.next()) fn(cur.ref, cur.seq);
  }

  clear(): void {
    this.chunks.clear();
    this.residentSlots = 0;
    this.count = 0;
    this.bytes = 0;
    this.minK = Math.floor(this.tailSeq / this.perChunk);
  }

  /** First chunk number that may hold entries. */
  headChunk(): number {
    return this.minK;
  }

  cursor(fromSeq = 0): QueueCursor {
    return new EntriesCursor(this, fromSeq);
  }

  /** Make chunk k resident (cursor). */
  resident(k: number): void {
    this.chunkAt(k);
  }
}

class EntriesCursor implements QueueCursor {
  seq = -1;
  ref: MsgRef = -1;
  size = 0;
  delivered = false;
  expiresAt = Infinity;
  tag = 0;
  weight = 0;
  private pos: number;

  constructor(private readonly q: QueueEntries, fromSeq: number) {
    this.pos = fromSeq;
  }

  next(): boolean {
    const q = this.q;
    const per = q.perChunk;
    let pos = this.pos;
    const head = q.headChunk() * per;
    if (pos < head) pos = head;
    while (pos < q.tailSeq) {
      const k = Math.floor(pos / per);
      const c = q.chunks.get(k);
      if (c !== undefined && c.live > 0 && !c.resident) q.resident(k);
      if (c === undefined) {
        // Never jump past tailSeq: later enqueues may still land in this chunk.
        pos = Math.min((k + 1) * per, q.tailSeq);
        continue;
      }
      if (c.live === 0) {
        pos = k * per + c.filled;
        if (c.filled === per || pos < q.tailSeq) pos = (k + 1) * per;
        continue;
      }
      const flags = c.flags;
      const end = c.filled;
      for (let slot = pos - k * per; slot < end; slot++) {
        const f = flags[slot]!;
        if ((f & (F_PRESENT | F_SETTLED)) === F_PRESENT) {
          this.seq = k * per + slot;
          this.ref = c.refs[slot]!;
          this.size = c.sizes[slot]!;
          this.delivered = (f & F_DELIVERED) !== 0;
          this.expiresAt = c.expiresOf(slot);
          this.tag = c.tagOf(slot);
          this.weight = c.weightOf(slot);
          this.pos = this.seq + 1;
          return true;
        }
      }
      pos = k * per + end;
      if (end === per || pos < q.tailSeq) pos = (k + 1) * per;
    }
    this.pos = pos;
    return false;
  }
}

/** Memory held by the resident slots of these indexes (StoreStats.indexMemoryBytes). */
export function residentIndexBytes(indexes: Iterable<QueueEntries>): number {
  let slots = 0;
  for (const e of indexes) slots += e.residentSlots;
  return slots * SLOT_BYTES;
}
