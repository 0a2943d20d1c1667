/**
 * SASL mechanisms offered in connection.start: PLAIN (RFC 4616: [authzid] NUL authcid NUL passwd)
 * and AMQPLAIN (a field table without its length prefix holding LOGIN and PASSWORD).
 */
import { fieldString } from '../core/field-value.js';
import { decodeFieldTable } from '../protocol/field-table.js';

export const MECHANISMS = 'PLAIN AMQPLAIN';

export interface Credentials {
  user: string;
  password: string;
}

/** Parse a start-ok response; undefined when the mechanism is unknown or the response malformed. */
export function parseCredentials(mechanism: string, response: Buffer): Credentials | undefined | 'unknown-mechanism' {
  if (mechanism === 'PLAIN') {
    const parts: Buffer[] = [];
    let from = 0;
    for (let i = 0; i < response.length; i++) {
      if (response[i] === 0) { parts.push(response.subarray(from, i)); from = i + 1; }
    }
    parts.push(response.subarray(from));
    if (parts.length !== 3) return undefined;
    return { user: parts[1]!.toString('utf8'), password: parts[2]!.toString('utf8') };
  }
  if (mechanism === 'AMQPLAIN') {
    try {
      const t = decodeFieldTable(response, 0, response.length);
      const user = fieldString(t.find((e) => e.key === 'LOGIN')?.value);
      const password = fieldString(t.find((e) => e.key === 'PASSWORD')?.value);
      if (user === undefined || password === undefined) return undefined;
      return { user, password };
    } catch {
      return undefined;
    }
  }
  return 'unknown-mechanism';
}
