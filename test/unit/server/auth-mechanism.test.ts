/**
 * start-ok responses parsed as RabbitMQ parses them: PLAIN is exactly NUL user NUL password (an
 * authorization identity, extra or missing fields are malformed), AMQPLAIN needs LOGIN and PASSWORD
 * long strings, mechanism names are case-sensitive (random responses: auth-mechanism.prop.test.ts).
 */
import { describe, expect, it } from 'vitest';
import { DEFAULT_AUTH_MECHANISMS, offeredMechanisms, parseCredentials } from '../../../src/server/auth-mechanism.js';
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

  it('AMQPLAIN: LOGIN and PASSWORD long strings in a table without its length prefix', () => {
    expect(parseCredentials('AMQPLAIN', amqplain({ LOGIN: 'guest', PASSWORD: 'guest' }))).toEqual({ user: 'guest', password: 'guest' });
    expect(parseCredentials('AMQPLAIN', amqplain({ LOGIN: 'guest' }))).toBeUndefined();
    expect(parseCredentials('AMQPLAIN', amqplain({ LOGIN: 5, PASSWORD: 'guest' }))).toBeUndefined();
    expect(parseCredentials('AMQPLAIN', encodeFieldTable(tableFrom({ LOGIN: 'guest', PASSWORD: 'guest' })))).toBeUndefined();
    expect(parseCredentials('AMQPLAIN', Buffer.from([5, 1, 2]))).toBeUndefined();
  });

  it('mechanism names are case-sensitive; other mechanisms carry no credentials', () => {
    for (const m of ['plain', 'amqplain', 'FOO', 'EXTERNAL', '']) expect(parseCredentials(m, plain('\0guest\0guest'))).toBeUndefined();
  });
});

describe('offeredMechanisms (rabbit_reader:auth_mechanisms/1)', () => {
  it('offers the configured known mechanisms in order, EXTERNAL only with a verified client certificate', () => {
    expect(offeredMechanisms(DEFAULT_AUTH_MECHANISMS, false)).toEqual(['PLAIN', 'AMQPLAIN']);
    expect(offeredMechanisms(DEFAULT_AUTH_MECHANISMS, true)).toEqual(['PLAIN', 'AMQPLAIN', 'EXTERNAL']);
    expect(offeredMechanisms(['EXTERNAL', 'PLAIN', 'plain', 'CR-DEMO'], true)).toEqual(['EXTERNAL', 'PLAIN']);
    expect(offeredMechanisms(['EXTERNAL'], false)).toEqual([]);
  });

});
