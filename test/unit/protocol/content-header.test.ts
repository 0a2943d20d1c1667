/**
 * Content header parsing and basic property layout, by example (round trips and agreement of the
 * peek with the full decoder on random property sets: content-header.prop.test.ts).
 */
import { describe, expect, it } from 'vitest';
import { AmqpError } from '../../../src/core/amqp-error.js';
import { ReplyCode } from '../../../src/core/reply-code.js';
import {
  BasicFlag, newContentHeaderView, newPropertyPeek, peekBasicProperties, readContentHeader,
} from '../../../src/protocol/content-header.js';
import { BASIC_PROPERTY_FLAGS, decodeBasicProperties, encodeBasicProperties } from '../../../src/protocol/generated/methods.js';

function thrown(fn: () => void): AmqpError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(AmqpError);
    return e as AmqpError;
  }
  throw new Error('expected an AmqpError');
}

describe('basic properties', () => {

  it('flag layout: first property is bit 15; empty properties are two zero octets', () => {
    expect([...encodeBasicProperties({})]).toEqual([0, 0]);
    expect([...encodeBasicProperties({ contentType: 'a' })]).toEqual([0x80, 0, 1, 97]);
    expect([...encodeBasicProperties({ clusterId: '' })]).toEqual([0, 0x04, 0]);
    expect([...encodeBasicProperties({ deliveryMode: 2, priority: 5 })]).toEqual([0x18, 0, 2, 5]);
    expect(BASIC_PROPERTY_FLAGS.deliveryMode).toBe(BasicFlag.deliveryMode);
    expect(BASIC_PROPERTY_FLAGS.clusterId).toBe(BasicFlag.clusterId);
  });

  it('malformed properties throw FRAME_ERROR', () => {
    for (const bytes of [[0x80], [0x80, 0, 5, 1], [0, 0, 1], [0x10, 0]]) {
      const b = Buffer.from(bytes);
      expect(thrown(() => decodeBasicProperties(b, 0, b.length)).code).toBe(ReplyCode.FRAME_ERROR);
      expect(thrown(() => peekBasicProperties(b, 0, b.length, newPropertyPeek())).code).toBe(ReplyCode.FRAME_ERROR);
    }
  });

  it('a continuation flags word is skipped', () => {
    const b = Buffer.from([0x10, 0x01, 0, 0, 2]);
    expect(decodeBasicProperties(b, 0, b.length).deliveryMode).toBe(2);
    const peek = newPropertyPeek();
    peekBasicProperties(b, 0, b.length, peek);
    expect(peek.deliveryMode).toBe(2);
  });
});


describe('readContentHeader', () => {
  it('reads class, body size and the property range', () => {
    const props = encodeBasicProperties({ deliveryMode: 1 });
    const payload = Buffer.concat([Buffer.from([0, 60, 0, 0, 0, 0, 0, 1, 0, 0, 0, 5]), props]);
    const view = newContentHeaderView();
    readContentHeader(payload, 0, payload.length, view);
    expect(view).toEqual({ classId: 60, bodySize: 2 ** 32 + 5, propsStart: 12, propsEnd: 12 + props.length });
  });

  it('short payload, non-zero weight, body size beyond 2^53', () => {
    const view = newContentHeaderView();
    let e = thrown(() => readContentHeader(Buffer.from([0, 60, 0]), 0, 3, view));
    expect(e.text).toBe('FRAME_ERROR - type 2, all octets = <<0,60,0>>: unknown_frame');
    e = thrown(() => readContentHeader(Buffer.from([0, 60, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]), 0, 14, view));
    expect(e.code).toBe(ReplyCode.UNEXPECTED_FRAME);
    e = thrown(() => readContentHeader(Buffer.from([0, 60, 0, 0, 0xff, 0, 0, 0, 0, 0, 0, 0, 0, 0]), 0, 14, view));
    expect(e.code).toBe(ReplyCode.FRAME_ERROR);
  });
});
