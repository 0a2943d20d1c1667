/**
 * Frame-level constants of AMQP 0-9-1 (spec §2.3.5 "Frame Details" and §4.2.3 "General Frame Format").
 * A frame is: type (octet), channel (short), payload size (long), payload, frame-end (0xCE);
 * FRAME_OVERHEAD is those 7 header octets plus the frame-end octet.
 */
export const FRAME_METHOD = 1;
export const FRAME_HEADER = 2;
export const FRAME_BODY = 3;
export const FRAME_HEARTBEAT = 8;
export const FRAME_END = 0xce;
/** Spec: "frame-min-size" — the largest frame either peer may send before connection.tune-ok. */
export const FRAME_MIN_SIZE = 4096;
/** 7-octet frame header + 1 frame-end octet. */
export const FRAME_OVERHEAD = 8;
/** 7-octet frame header (type, channel, size). */
export const FRAME_HEADER_SIZE = 7;
/** Content header payload before the property flags: class-id, weight, body-size (spec §4.2.6.1). */
export const CONTENT_HEADER_PREFIX = 12;
