/**
 * Follows the bytes a fuzzed connection has sent the way the broker's frame reader splits them
 * (8-octet protocol header, then 7-octet frame headers, size, payload, frame-end), so that after a
 * cut-short or desynchronised stream the fuzzer knows how many octets the broker still waits for
 * before its next frame boundary. Completing that frame and then sending connection.close is a
 * probe the broker must answer (close-ok, its own close, or closing the socket) within the limit.
 * Frames with a bad frame-end are followed as the reader would until it stops: the broker closes
 * the connection then, which the fuzzer sees anyway.
 */

export class StreamTracker {
  /** Complete frames seen after the protocol header. */
  frames = 0;
  private headerLeft = 8;
  /** Octets of the current frame header seen (0-7). */
  private frameHeaderSeen = 0;
  private readonly frameHeader = Buffer.alloc(7);
  /** Payload + frame-end octets still expected for the current frame, once its header is complete. */
  private payloadLeft = 0;

  /** Between two frames (after the protocol header): a reply frame written now cannot split a frame. */
  get atBoundary(): boolean {
    return this.headerLeft === 0 && this.payloadLeft === 0 && this.frameHeaderSeen === 0;
  }

  push(chunk: Buffer): void {
    let p = 0;
    while (p < chunk.length) {
      if (this.headerLeft > 0) {
        const take = Math.min(this.headerLeft, chunk.length - p);
        this.headerLeft -= take;
        p += take;
        continue;
      }
      if (this.payloadLeft > 0) {
        const take = Math.min(this.payloadLeft, chunk.length - p);
        this.payloadLeft -= take;
        p += take;
        if (this.payloadLeft === 0) this.frames++;
        continue;
      }
      this.frameHeader[this.frameHeaderSeen++] = chunk[p++]!;
      if (this.frameHeaderSeen === 7) {
        this.frameHeaderSeen = 0;
        this.payloadLeft = this.frameHeader.readUInt32BE(3) + 1;
      }
    }
  }

  /**
   * Octets that take the broker to a frame boundary (zeros, with 0xCE as the last octet of a frame),
   * or undefined when more than `max` would be needed (a huge announced size: the broker must have
   * refused it already, or waits for a frame it may legitimately wait for).
   */
  completion(max: number): Buffer | undefined {
    if (this.headerLeft > 0) {
      // Mid protocol header: finish it as AMQP 0-9-1 would (the broker compares the whole header).
      const h = Buffer.from([0x41, 0x4d, 0x51, 0x50, 0, 0, 9, 1]);
      return h.subarray(8 - this.headerLeft);
    }
    let head = Buffer.alloc(0);
    let left = this.payloadLeft;
    if (this.frameHeaderSeen > 0) {
      // Mid frame header: zero-fill it; the size is whatever the sent octets and the zeros make.
      const h = Buffer.from(this.frameHeader.subarray(0, 7));
      h.fill(0, this.frameHeaderSeen);
      head = h.subarray(this.frameHeaderSeen);
      left = h.readUInt32BE(3) + 1;
    }
    if (left === 0) return head;
    if (head.length + left > max) return undefined;
    const fill = Buffer.alloc(left);
    fill[left - 1] = 0xce;
    return Buffer.concat([head, fill]);
  }
}
