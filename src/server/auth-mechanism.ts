/**
 * SASL mechanisms (rabbit_auth_mechanism_*): which ones connection.start offers on a socket, and
 * what a start-ok response proves.
 *
 * - PLAIN (RFC 4616: [authzid] NUL authcid NUL passwd) and AMQPLAIN (a field table without its
 *   length prefix holding LOGIN and PASSWORD as long strings). Parsing follows RabbitMQ
 *   (rabbit_auth_mechanism_plain/_amqplain), which is stricter than RFC 4616: a PLAIN response must
 *   be exactly NUL user NUL password, so an authorization identity ("admin\0guest\0guest") is
 *   malformed and never logs anyone in (RabbitMQ 3.10 refuses it too; acting as another identity is
 *   not something Warren grants). A malformed response is a refused login; see README "Known
 *   differences" for how the answer differs from RabbitMQ's silent close.
 * - EXTERNAL (rabbitmq_auth_mechanism_ssl): the identity is the TLS client certificate's subject
 *   CN (ssl_cert_login_from = common_name; several CNs are joined with ",", as RabbitMQ does) or its
 *   whole distinguished name in RFC 4514 form (distinguished_name); the response is ignored and
 *   the user is looked up without a password. It is offered only on a TLS socket whose client
 *   certificate was verified against the CA (rabbit_auth_mechanism_ssl:should_offer needs a peer
 *   certificate, and RabbitMQ refuses to use one unless verify is verify_peer).
 *
 * Which are offered: the configured list (RabbitMQ's auth_mechanisms) filtered by what the socket
 * allows (rabbit_reader:auth_mechanisms/1). Names are case-sensitive ("plain" is unknown). A name
 * Warren does not know is 503 "unknown authentication mechanism"; a known one not offered on this
 * socket is 503 "invalid authentication mechanism" (rabbit_reader:auth_mechanism_to_module).
 */
import type { TLSSocket } from 'node:tls';
import { fieldString } from '../core/field-value.js';
import { decodeFieldTable } from '../protocol/field-table.js';

/** Every mechanism Warren implements. */
export const KNOWN_MECHANISMS: readonly string[] = ['PLAIN', 'AMQPLAIN', 'EXTERNAL'];

/**
 * The configured list by default: RabbitMQ's default auth_mechanisms (PLAIN, AMQPLAIN) plus
 * EXTERNAL, as a RabbitMQ with rabbitmq_auth_mechanism_ssl enabled and listed; it is only ever
 * offered where a verified client certificate is present.
 */
export const DEFAULT_AUTH_MECHANISMS: readonly string[] = ['PLAIN', 'AMQPLAIN', 'EXTERNAL'];

/** Where EXTERNAL takes the user name from (RabbitMQ's ssl_cert_login_from). */
export type CertLoginFrom = 'common_name' | 'distinguished_name';

/** What connection.start offers on a socket (rabbit_reader:auth_mechanisms/1), in configured order. */
export function offeredMechanisms(configured: readonly string[], verifiedPeer: boolean): string[] {
  return configured.filter((m) => KNOWN_MECHANISMS.includes(m) && (m !== 'EXTERNAL' || verifiedPeer));
}

export interface Credentials {
  user: string;
  password: string;
}

/** Parse a PLAIN or AMQPLAIN start-ok response; undefined when it is malformed (or another mechanism). */
export function parseCredentials(mechanism: string, response: Buffer): Credentials | undefined {
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
  return undefined;
}

/**
 * The user name EXTERNAL logs in with, or why there is none (rabbit_ssl:peer_cert_auth_name); the
 * reason goes to the log only.
 */
export function certificateLoginName(socket: TLSSocket, from: CertLoginFrom): { name: string } | { refused: string } {
  const cert = socket.getPeerX509Certificate();
  if (cert === undefined) return { refused: 'connection has no peer certificate' };
  const rdns = subjectRdns(cert.subject);
  if (from === 'distinguished_name') {
    // OpenSSL's -nameopt RFC2253: last RDN first, attributes of a multi-valued RDN joined with "+".
    return { name: rdns.map((rdn) => rdn.map(([k, v]) => `${k}=${escapeRdnValue(v)}`).reverse().join('+')).reverse().join(',') };
  }
  const cns = rdns.flat().filter(([k]) => k === 'CN').map(([, v]) => v);
  return cns.length === 0 ? { refused: 'no name found' } : { name: cns.join(',') };
}

/**
 * Node's X509Certificate#subject: one RDN per line in certificate order, the attributes of a
 * multi-valued RDN joined with " + ", values escaped as RFC 2253 (\, \+ ... and \XX for
 * control bytes). Returns the RDNs with unescaped values.
 */
function subjectRdns(subject: string): [string, string][][] {
  return subject.split('\n').map((line) => line.split(' + ').flatMap((part): [string, string][] => {
    const eq = part.indexOf('=');
    if (eq <= 0) return [];
    const value = part.slice(eq + 1).replace(/\\([0-9A-Fa-f]{2})|\\(.)/g, (_m, hex: string | undefined, ch: string | undefined) =>
      hex !== undefined ? String.fromCharCode(parseInt(hex, 16)) : ch ?? '');
    return [[part.slice(0, eq), value]];
  })).filter((rdn) => rdn.length > 0);
}

/** RFC 4514 section 2.4: escape what would end or change the value. */
function escapeRdnValue(v: string): string {
  return v.replace(/[\\,+"<>;=]/g, (c) => `\\${c}`).replace(/^[ #]/, (c) => `\\${c}`).replace(/ $/, '\\ ');
}
