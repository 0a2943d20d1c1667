/**
 * AMQP URIs as RabbitMQ's Erlang client reads them (amqp_uri, the "AMQP URI specification" on
 * rabbitmq.com/uri-spec.html and uri-query-parameters.html), for the links (shovels, federation):
 *
 *   amqp[s]://[user[:password]@]host[:port][/vhost][?key=value&...]
 *
 * Rules kept: user, password and vhost are percent-decoded; a missing user/password is guest/guest;
 * the port defaults to 5672 (amqp) or 5671 (amqps); no path means vhost "/", an empty path ("host/")
 * means the empty vhost name, "/%2f" is "/", and a path with a second "/" is refused. `amqp://` with no
 * host is RabbitMQ's "direct" connection to the local node: reported as `direct: true` so the caller
 * connects to this broker. Query keys understood: heartbeat, connection_timeout (ms), channel_max,
 * frame_max, auth_mechanism (plain | external), and for amqps cacertfile, certfile, keyfile, password,
 * verify (verify_peer | verify_none), server_name_indication (a host name or `disable`),
 * fail_if_no_peer_cert (accepted, meaningless for a client). An unknown key is ignored, as amqp_uri
 * ignores it.
 *
 * Invariant: parseAmqpUri either returns a complete endpoint or throws AmqpUriError; it never reads
 * files (TLS files are read when connecting).
 */

export interface AmqpEndpoint {
  /** The URI as given (for status and logs: use `redactedUri` to show it). */
  readonly uri: string;
  /** `amqp://` without a host: RabbitMQ's direct connection to the local node. */
  readonly direct: boolean;
  readonly tls: boolean;
  readonly host: string;
  readonly port: number;
  readonly username: string;
  readonly password: string;
  readonly vhost: string;
  /** Seconds; undefined: the client's default. */
  readonly heartbeat: number | undefined;
  /** Milliseconds to connect and finish the handshake. */
  readonly connectionTimeout: number | undefined;
  readonly channelMax: number | undefined;
  readonly frameMax: number | undefined;
  readonly authMechanism: 'PLAIN' | 'EXTERNAL';
  readonly caFile: string | undefined;
  readonly certFile: string | undefined;
  readonly keyFile: string | undefined;
  readonly keyPassword: string | undefined;
  /** verify_peer (the default) checks the server's certificate; verify_none does not. */
  readonly verifyPeer: boolean;
  /** SNI host name; false when disabled; undefined: the host (when it is not an IP address). */
  readonly serverName: string | false | undefined;
}

export class AmqpUriError extends Error {
  override readonly name = 'AmqpUriError';
}

const NUMERIC_KEYS = ['heartbeat', 'connection_timeout', 'channel_max', 'frame_max'] as const;

export function parseAmqpUri(uri: string): AmqpEndpoint {
  const m = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/([^/?#]*)(\/[^?#]*)?(?:\?([^#]*))?(?:#.*)?$/.exec(uri);
  if (m === null) throw new AmqpUriError(`"${uri}" is not a valid AMQP URI`);
  const scheme = m[1]!.toLowerCase();
  if (scheme !== 'amqp' && scheme !== 'amqps') throw new AmqpUriError(`unexpected URI scheme '${scheme}' (amqp or amqps)`);
  const tls = scheme === 'amqps';
  const authority = m[2]!;
  const path = m[3];
  const query = parseQuery(m[4] ?? '');
  if (authority === '' && path === undefined) {
    if (tls) throw new AmqpUriError('amqps:// needs a host');
    return endpoint(uri, true, false, '', 0, 'guest', 'guest', '/', query);
  }
  let hostPort = authority;
  let username = 'guest';
  let password = 'guest';
  const at = authority.lastIndexOf('@');
  if (at >= 0) {
    const userInfo = authority.slice(0, at);
    hostPort = authority.slice(at + 1);
    const colon = userInfo.indexOf(':');
    username = decode(colon < 0 ? userInfo : userInfo.slice(0, colon), uri);
    password = colon < 0 ? '' : decode(userInfo.slice(colon + 1), uri);
  }
  let host: string;
  let portText: string | undefined;
  if (hostPort.startsWith('[')) {
    const close = hostPort.indexOf(']');
    if (close < 0) throw new AmqpUriError(`"${uri}" has an unterminated IPv6 address`);
    host = hostPort.slice(1, close);
    const rest = hostPort.slice(close + 1);
    if (rest !== '' && !rest.startsWith(':')) throw new AmqpUriError(`"${uri}" is not a valid AMQP URI`);
    portText = rest === '' ? undefined : rest.slice(1);
  } else {
    const colon = hostPort.lastIndexOf(':');
    host = colon < 0 ? hostPort : hostPort.slice(0, colon);
    portText = colon < 0 ? undefined : hostPort.slice(colon + 1);
  }
  host = decode(host, uri);
  if (host === '') throw new AmqpUriError(`"${uri}" has no host`);
  let port = tls ? 5671 : 5672;
  if (portText !== undefined && portText !== '') {
    if (!/^\d+$/.test(portText) || Number(portText) > 65535) throw new AmqpUriError(`"${uri}" has an invalid port '${portText}'`);
    port = Number(portText);
  }
  let vhost = '/';
  if (path !== undefined) {
    const rest = path.slice(1);
    if (rest.includes('/')) throw new AmqpUriError(`"${uri}": a vhost name must be percent-encoded (no '/' in the path)`);
    vhost = decode(rest, uri);
  }
  return endpoint(uri, false, tls, host, port, username, password, vhost, query);
}

function endpoint(uri: string, direct: boolean, tls: boolean, host: string, port: number, username: string,
  password: string, vhost: string, q: Map<string, string>): AmqpEndpoint {
  const nums: Partial<Record<(typeof NUMERIC_KEYS)[number], number>> = {};
  for (const k of NUMERIC_KEYS) {
    const v = q.get(k);
    if (v === undefined) continue;
    if (!/^\d+$/.test(v)) throw new AmqpUriError(`URI parameter ${k} must be a non-negative integer, got '${v}'`);
    nums[k] = Number(v);
  }
  const mech = (q.get('auth_mechanism') ?? 'plain').toLowerCase();
  if (mech !== 'plain' && mech !== 'external' && mech !== 'amqplain') {
    throw new AmqpUriError(`unsupported auth_mechanism '${mech}' (plain or external)`);
  }
  const verify = q.get('verify') ?? 'verify_peer';
  if (verify !== 'verify_peer' && verify !== 'verify_none') {
    throw new AmqpUriError(`URI parameter verify must be verify_peer or verify_none, got '${verify}'`);
  }
  const sni = q.get('server_name_indication');
  return {
    uri, direct, tls, host, port, username, password, vhost,
    heartbeat: nums.heartbeat,
    connectionTimeout: nums.connection_timeout,
    channelMax: nums.channel_max,
    frameMax: nums.frame_max,
    authMechanism: mech === 'external' ? 'EXTERNAL' : 'PLAIN',
    caFile: q.get('cacertfile'),
    certFile: q.get('certfile'),
    keyFile: q.get('keyfile'),
    keyPassword: q.get('password'),
    verifyPeer: verify === 'verify_peer',
    serverName: sni === undefined ? undefined : sni === 'disable' ? false : sni,
  };
}

function parseQuery(q: string): Map<string, string> {
  const out = new Map<string, string>();
  if (q === '') return out;
  for (const part of q.split('&')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    const k = eq < 0 ? part : part.slice(0, eq);
    const v = eq < 0 ? '' : part.slice(eq + 1);
    out.set(decodeQuery(k), decodeQuery(v));
  }
  return out;
}

function decodeQuery(s: string): string {
  try {
    return decodeURIComponent(s.replace(/\+/g, ' '));
  } catch {
    throw new AmqpUriError(`bad percent-encoding in '${s}'`);
  }
}

function decode(s: string, uri: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    throw new AmqpUriError(`"${uri}" has bad percent-encoding`);
  }
}

/** The URI with its password replaced, for status and logs (RabbitMQ shows src/dest URIs without it). */
export function redactedUri(uri: string): string {
  return uri.replace(/^([A-Za-z][A-Za-z0-9+.-]*:\/\/[^:@/?#]*):[^@/?#]*@/, '$1:***@');
}
