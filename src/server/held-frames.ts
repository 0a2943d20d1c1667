/**
 * Frames a channel keeps while one of its replies waits for the definitions save (declare-ok,
 * bind-ok, delete-ok... are sent once the change is on disk, as RabbitMQ commits before replying,
 * and later frames of the channel must not overtake that reply).
 *
 * Invariants:
 * - Frames are kept in arrival order as owned copies (a socket-chunk view dies with the read).
 * - Bounded: once more than HOLD_FRAMES frames or HOLD_BYTES bytes are held, `overLimit` turns true
 *   and the channel asks its connection to stop reading the socket (TCP pushes back on the client)
 *   until everything held has been replayed; at most one socket chunk more arrives meanwhile.
 * - Replay walks the list with an index: no spreading or copying of the rest, however long it is,
 *   and a replayed frame that makes the channel hold again leaves the rest where it is.
 */

/** Held frames above which reading the socket stops. */
const HOLD_FRAMES = 8192;
/** Held payload bytes above which reading the socket stops. */
const HOLD_BYTES = 1024 * 1024;

export class HeldFrames {
  /** A reply waits for the definitions save: every frame of the channel is held meanwhile. */
  active = false;
  private types: number[] = [];
  private payloads: Buffer[] = [];
  private head = 0;
  private bytes = 0;

  /** Frames held and not yet replayed. */
  get pending(): number {
    return this.types.length - this.head;
  }

  get overLimit(): boolean {
    return this.pending > HOLD_FRAMES || this.bytes > HOLD_BYTES;
  }

  /** Keep a copy of payload[start..end). */
  hold(type: number, payload: Buffer, start: number, end: number): void {
    this.types.push(type);
    this.payloads.push(Buffer.from(payload.subarray(start, end)));
    this.bytes += end - start;
  }

  /** The next frame to replay: its type (the payload is then `payload`), or -1 when none is left. */
  shift(): number {
    if (this.head === this.types.length) return -1;
    const type = this.types[this.head]!;
    this.payload = this.payloads[this.head]!;
    this.payloads[this.head] = EMPTY;
    this.head++;
    this.bytes -= this.payload.length;
    if (this.head === this.types.length) this.clear();
    return type;
  }

  /** The payload of the frame shift() just returned. */
  payload: Buffer = Buffer.alloc(0);

  /** Forget everything (the channel or the connection is gone). */
  clear(): void {
    this.types = [];
    this.payloads = [];
    this.head = this.bytes = 0;
  }
}

const EMPTY = Buffer.alloc(0);
