/**
 * Batches outbound writes per input turn: a connection that wrote frames registers here once,
 * and all registered connections flush (one cork/uncork each) on the next tick, after the
 * current socket chunk has been fully processed. One flusher per server (no singletons).
 */
export interface Flushable {
  flush(): void;
}

export class OutboundFlusher {
  private pending: Flushable[] = [];
  private spare: Flushable[] = [];
  private scheduled = false;
  private readonly run = (): void => this.flushAll();

  add(f: Flushable): void {
    this.pending.push(f);
    if (!this.scheduled) {
      this.scheduled = true;
      process.nextTick(this.run);
    }
  }

  private flushAll(): void {
    this.scheduled = false;
    const list = this.pending;
    this.pending = this.spare;
    for (let i = 0; i < list.length; i++) list[i]!.flush();
    list.length = 0;
    this.spare = list;
  }
}
