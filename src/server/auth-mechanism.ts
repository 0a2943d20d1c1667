/**
 * SASL mechanisms offered in connection.start: PLAIN (RFC 4616: [authzid] NUL authcid NUL passwd)
 * and AMQPLAIN (a field table without its length prefix holding LOGIN and PASSWORD as long strings).
 * Parsing follows RabbitMQ (rabbit_auth_mechanism_plain/_amqplain), which is stricter than RFC 4616:
 * a PLAIN response must be exactly NUL user NUL password, so an authorization identity
 * ("admin\0guest\0guest") is malformed and never logs anyone in (RabbitMQ 3.10 refuses it too;
 * acting as another identity is not something Warren grants). Mechanism names are case-sensitive
 * ("plain" is unknown), as in RabbitMQ. A malformed response is a refused login; see README
 * "Known differences" for how the answer differs from RabbitMQ's silent close.
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
    // NUL user NUL password, nothing before the first NUL (no authzid), no NUL in either part.
    if (response.length === 0 || response[0] !== 0) return undefined;
    const second = response.indexOf(0, 1);
    if (second < 0 || response.indexOf(0, second + 1) >= 0) return undefined;
    return { user: response.toString('utf8', 1, second), password: response.toString('utf8', second + 1) };
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
