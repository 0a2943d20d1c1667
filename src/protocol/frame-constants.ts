/**
 * Frame-level constants of AMQP 0-9-1 (spec §2.3.5 "Frame Details" and §4.2.3 "General Frame Format").
 * The spec's own constants (frame types, frame-end, frame-min-size) come from the generated code;
 * what is here is derived from the frame layout: type (octet), channel (short), payload size (long),
 * payload, frame-end (0xCE).
 */
export { FRAME_BODY, FRAME_END, FRAME_HEADER, FRAME_HEARTBEAT, FRAME_METHOD, FRAME_MIN_SIZE } from './generated/constants.js';

/** 7-octet frame header + 1 frame-end octet. */
export const FRAME_OVERHEAD = 8;
/** Content header payload before the property flags: class-id, weight, body-size (spec §4.2.6.1). */
export const CONTENT_HEADER_PREFIX = 12;
