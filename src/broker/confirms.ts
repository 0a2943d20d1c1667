/**
 * Publisher confirms of one channel, as a pure structure (RabbitMQ's rabbit_confirms plus the
 * coalescing of rabbit_channel:send_confirms_and_nacks). The channel numbers each publish
 * (`next()`), reports how the broker took it (`settle()`: refused or not, and the durable store
 * position it must wait for, from the publish operation's result), forwards durability news from
 * the broker (`durable()`), and writes what is owed through a ConfirmSink (`flush()`).
 *
 * Invariants:
 * - Confirms leave in publish order: a publish that needs no durability but follows one that waits
 *   is released with it (so one `basic.ack multiple` covers both). Positions grow with publish
 *   order, so releasing the head while its position is durable is enough.
 * - `multiple` never covers a nacked sequence number: acks up to a nack are written first, then the
 *   nack (alone), then the acks after it.
 * - A failed sync nacks only the publishes that waited for it; a publish that needed no durability
 *   is acked even if it was released by a failed sync.
 * - Nothing here allocates per publish (two parallel number arrays reused as FIFOs).
 */

/** Receives the confirms to write, in order. */
export interface ConfirmSink {
  ack(seq: number, multiple: boolean): void;
  nack(seq: number, multiple: boolean): void;
}

/** settle()'s `waitFor` when the publish needs no durability (transient, or nothing written). */
export const NO_WAIT = 0;

export class Confirms {
  /** The last sequence number handed out by next(). */
  private lastSeq = 0;
  /** Every sequence number up to this one is released (as an ack, or listed in `nacks`). */
  private releasedUpTo = 0;
  /** Everything up to this one has been written to the sink. */
  private sentUpTo = 0;
  /** Released nacks not yet written, ascending. */
  private readonly nacks: number[] = [];
  /** Settled publishes not yet released: seq, durable position needed (NO_WAIT = none), refused. */
  private readonly waitSeq: number[] = [];
  private readonly waitPos: number[] = [];
  private readonly waitRefused: boolean[] = [];
  private waitHead = 0;
  /** Highest store position known to be durable. */
  private durablePos = 0;

  /** The sequence number of a new publish (1, 2, 3 ...). */
  next(): number {
    return ++this.lastSeq;
  }

  /** Publishes settled but waiting for a durable position. */
  get waiting(): number {
    return this.waitSeq.length - this.waitHead;
  }

  /** Whether flush() would write something. */
  get owed(): boolean {
    return this.releasedUpTo > this.sentUpTo;
  }

  /**
   * The broker has taken publish `seq` (in publish order): `refused` when a queue refused it
   * (reject-publish), `waitFor` the durable position the confirm must wait for (NO_WAIT for none).
   * Returns true when it waits (the channel then asks the broker to report durability).
   */
  settle(seq: number, refused: boolean, waitFor: number): boolean {
    if (this.waitHead === this.waitSeq.length && (waitFor === NO_WAIT || waitFor <= this.durablePos)) {
      this.release(seq, refused);
      return false;
    }
    this.waitSeq.push(seq);
    this.waitPos.push(waitFor);
    this.waitRefused.push(refused);
    return true;
  }

  /** Everything written up to store position `position` is durable (`failed`: the sync failed). */
  durable(position: number, failed: boolean): void {
    if (!failed && position > this.durablePos) this.durablePos = position;
    while (this.waitHead < this.waitSeq.length) {
      const need = this.waitPos[this.waitHead]!;
      if (need > position) break;
      const seq = this.waitSeq[this.waitHead]!;
      const refused = this.waitRefused[this.waitHead]!;
      this.waitHead++;
      this.release(seq, refused || (failed && need !== NO_WAIT));
    }
    if (this.waitHead === this.waitSeq.length) {
      this.waitSeq.length = this.waitPos.length = this.waitRefused.length = this.waitHead = 0;
    }
  }

  private release(seq: number, nack: boolean): void {
    if (nack) this.nacks.push(seq);
    this.releasedUpTo = seq;
  }

  /** Write everything released and not yet written: acks coalesced with `multiple`, nacks in order. */
  flush(sink: ConfirmSink): void {
    if (this.releasedUpTo === this.sentUpTo) return;
    const nacks = this.nacks;
    for (let i = 0; i < nacks.length; i++) {
      const n = nacks[i]!;
      if (n - 1 > this.sentUpTo) sink.ack(n - 1, n - 1 - this.sentUpTo > 1);
      sink.nack(n, false);
      this.sentUpTo = n;
    }
    nacks.length = 0;
    if (this.releasedUpTo > this.sentUpTo) {
      sink.ack(this.releasedUpTo, this.releasedUpTo - this.sentUpTo > 1);
      this.sentUpTo = this.releasedUpTo;
    }
  }

  /** Forget everything not yet written (the channel closed on an error: nothing more is sent). */
  clear(): void {
    this.nacks.length = 0;
    this.waitSeq.length = this.waitPos.length = this.waitRefused.length = this.waitHead = 0;
    this.sentUpTo = this.releasedUpTo = this.lastSeq;
  }
}
