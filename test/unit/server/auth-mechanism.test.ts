/**
 * start-ok responses parsed as RabbitMQ parses them: PLAIN is exactly NUL user NUL password (an
 * authorization identity, extra or missing fields are malformed), AMQPLAIN needs LOGIN and PASSWORD
 * long strings, mechanism names are case-sensitive.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseCredentials } from '../../../src/server/auth-mechanism.js';
import { encodeFieldTable } from '../../../src/protocol/field-table.js';
import { tableFrom } from '../../../src/core/field-value.js';

const plain = (s: string): Buffer => Buffer.from(s, 'utf8');
const amqplain = (obj: Record<string, unknown>): Buffer => encodeFieldTable(tableFrom(obj)).subarray(4);

describe('parseCredentials', () => {
  it('PLAIN: NUL user NUL password only', () => {
    expect(parseCredentials('PLAIN', plain('\0guest\0guest'))).toEqual({ user: 'guest', password: 'guest' });
    expect(parseCredentials('PLAIN', plain('\0\0'))).toEqual({ user: '', password: '' });
    expect(parseCredentials('PLAIN', plain('\0usér\0pässword'))).toEqual({ user: 'usér', password: 'pässword' });
    for (const bad of ['admin\0guest\0guest', 'guest\0guest\0guest', '\0guest\0guest\0x', 'guest', '\0guest', '', '\0gu\0es\0t']) {
      expect(parseCredentials('PLAIN', plain(bad)), JSON.stringify(bad)).toBeUndefined();
    }
  });

  it('PLAIN never yields credentials for a response carrying an authorization identity', () => {
    fc.assert(fc.property(fc.string({ minLength: 1 }), fc.string(), fc.string(), (authz, user, pass) => {
      fc.pre(!authz.startsWith('\0'));
      expect(parseCredentials('PLAIN', plain(`${authz}\0${user}\0${pass}`))).toBeUndefined();
    }));
  });

  it('AMQPLAIN: LOGIN and PASSWORD long strings in a table without its length prefix', () => {
    expect(parseCredentials('AMQPLAIN', amqplain({ LOGIN: 'guest', PASSWORD: 'guest' }))).toEqual({ user: 'guest', password: 'guest' });
    expect(parseCredentials('AMQPLAIN', amqplain({ LOGIN: 'guest' }))).toBeUndefined();
    expect(parseCredentials('AMQPLAIN', amqplain({ LOGIN: 5, PASSWORD: 'guest' }))).toBeUndefined();
    expect(parseCredentials('AMQPLAIN', encodeFieldTable(tableFrom({ LOGIN: 'guest', PASSWORD: 'guest' })))).toBeUndefined();
    expect(parseCredentials('AMQPLAIN', Buffer.from([5, 1, 2]))).toBeUndefined();
  });

  it('mechanism names are case-sensitive; others are unknown', () => {
    for (const m of ['plain', 'amqplain', 'FOO', 'EXTERNAL', '']) expect(parseCredentials(m, plain('\0guest\0guest'))).toBe('unknown-mechanism');
  });

  it('any bytes: credentials, undefined or unknown-mechanism, never a throw', () => {
    fc.assert(fc.property(fc.constantFrom('PLAIN', 'AMQPLAIN'), fc.uint8Array({ maxLength: 64 }), (m, bytes) => {
      const r = parseCredentials(m, Buffer.from(bytes));
      expect(r === undefined || typeof r === 'object').toBe(true);
    }), { numRuns: 2000 });
  });
});
