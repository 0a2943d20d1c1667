/**
 * The streams of one store (file or memory): one directory per stream under `dir`
 * (`<dir>/<sha1(name)>`), recovered at open, and the store's hooks fanned out to each stream:
 * close chunks before a flush, commit chunks after a sync, summarize closed segments.
 * `syncWanted` tells the group commit that a flush produced chunks only a sync can make visible.
 */
import { createHash } from 'node:crypto';
import path from 'node:path';
import type { FileContext } from './append-file.js';
import type { StreamLog, StreamSettings } from './stream.js';
import type { SegmentedStream } from './stream-log.js';
import { recoverStreamName } from './stream-recovery.js';

export type StreamFactory = (name: string, dir: string, settings?: StreamSettings) => SegmentedStream;

export class StreamSet {
  private readonly streams = new Map<string, SegmentedStream>();
  /** A stream closed a chunk since the last sync started. */
  syncWanted = false;

  constructor(
    private readonly ctx: FileContext,
    private readonly dir: string,
    private readonly make: StreamFactory,
  ) {}

  get size(): number {
    return this.streams.size;
  }

  /** Recover every stream directory; returns the messages found. */
  recover(): number {
    const ops = this.ctx.ops;
    let messages = 0;
    for (const d of ops.readdirSync(this.dir)) {
      const dir = path.join(this.dir, d);
      const name = recoverStreamName(this.ctx, dir);
      if (name === undefined) {
        ops.rmSync(dir); // no segment: the stream never stored anything
        continue;
      }
      const st = this.make(name, dir);
      messages += st.recover();
      this.streams.set(name, st);
    }
    return messages;
  }

  get(name: string, settings?: StreamSettings): StreamLog {
    let st = this.streams.get(name);
    if (st === undefined) {
      st = this.make(name, path.join(this.dir, createHash('sha1').update(name).digest('hex')), settings);
      this.streams.set(name, st);
    } else if (settings !== undefined) {
      st.configure(settings);
    }
    return st;
  }

  names(): string[] {
    return [...this.streams.keys()];
  }

  /** Drop a stream and its files; false when there is none. */
  delete(name: string): boolean {
    const st = this.streams.get(name);
    if (st === undefined) return false;
    this.streams.delete(name);
    st.destroy();
    return true;
  }

  beforeFlush(): void {
    for (const st of this.streams.values()) if (st.beforeFlush()) this.syncWanted = true;
  }

  syncStarted(): void {
    this.syncWanted = false;
  }

  onDurable(durableSeq: number): void {
    for (const st of this.streams.values()) st.onDurable(durableSeq);
  }

  afterSync(): void {
    for (const st of this.streams.values()) st.afterSync();
  }

  closeAll(): void {
    for (const st of this.streams.values()) st.closeAll();
  }
}
