/** Protocol header check: exact 0-9-1 header, the 0-9 header RabbitMQ also accepts, partial input. */
import { describe, expect, it } from 'vitest';
import { checkProtocolHeader, PROTOCOL_HEADER } from '../../../src/protocol/protocol-header.js';

describe('checkProtocolHeader', () => {
  it('accepts AMQP 0-9-1 (and 0-9 like RabbitMQ), byte by byte', () => {
    expect([...PROTOCOL_HEADER]).toEqual([65, 77, 81, 80, 0, 0, 9, 1]);
    for (let i = 0; i < 8; i++) expect(checkProtocolHeader(PROTOCOL_HEADER.subarray(0, i))).toBe('incomplete');
    expect(checkProtocolHeader(PROTOCOL_HEADER)).toBe('ok');
    expect(checkProtocolHeader(Buffer.concat([PROTOCOL_HEADER, Buffer.from([1, 0, 0])]))).toBe('ok');
    expect(checkProtocolHeader(Buffer.from([65, 77, 81, 80, 1, 1, 0, 9]))).toBe('ok');
  });

  it('refuses other protocols and versions', () => {
    expect(checkProtocolHeader(Buffer.from('GET / HTTP/1.1'))).toBe('wrong');
    expect(checkProtocolHeader(Buffer.from('AMQX'))).toBe('wrong');
    expect(checkProtocolHeader(Buffer.from([65, 77, 81, 80, 0, 0, 9, 0]))).toBe('wrong');
    expect(checkProtocolHeader(Buffer.from([65, 77, 81, 80, 0, 1, 0, 0]))).toBe('wrong');
    expect(checkProtocolHeader(Buffer.from([65, 77, 81, 80, 3, 1, 0, 0]))).toBe('wrong');
  });
});
