/**
 * Property tests (fast-check) of SASL response parsing (PLAIN, AMQPLAIN) on random input.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseCredentials } from '../../../src/server/auth-mechanism.js';
import { encodeFieldTable } from '../../../src/protocol/field-table.js';
import { tableFrom } from '../../../src/core/field-value.js';

const plain = (s: string): Buffer => Buffer.from(s, 'utf8');
const amqplain = (obj: Record<string, unknown>): Buffer => encodeFieldTable(tableFrom(obj)).subarray(4);

describe('parseCredentials (property)', () => {
  it('PLAIN never yields credentials for a response carrying an authorization identity', () => {
    fc.assert(fc.property(fc.string({ minLength: 1 }), fc.string(), fc.string(), (authz, user, pass) => {
      fc.pre(!authz.startsWith('\0'));
      expect(parseCredentials('PLAIN', plain(`${authz}\0${user}\0${pass}`))).toBeUndefined();
    }));
  });

  it('any bytes: credentials, undefined or unknown-mechanism, never a throw', () => {
    fc.assert(fc.property(fc.constantFrom('PLAIN', 'AMQPLAIN'), fc.uint8Array({ maxLength: 64 }), (m, bytes) => {
      const r = parseCredentials(m, Buffer.from(bytes));
      expect(r === undefined || typeof r === 'object').toBe(true);
    }), { numRuns: 2000 });
  });
});
