/** AMQP URI parsing as RabbitMQ's amqp_uri reads it (uri-spec.html, uri-query-parameters.html). */
import { describe, expect, it } from 'vitest';
import { AmqpUriError, parseAmqpUri, redactedUri } from '../../../src/links/amqp-uri.js';

describe('parseAmqpUri', () => {
  it('defaults: guest/guest, port 5672, vhost /', () => {
    // A host name only (no connection is made): what the defaults fill in.
    const e = parseAmqpUri('amqp://central.example');
    expect([e.tls, e.host, e.port, e.username, e.password, e.vhost, e.direct]).toEqual([false, 'central.example', 5672, 'guest', 'guest', '/', false]);
  });
  it('credentials, port and percent-encoded vhost', () => {
    const e = parseAmqpUri('amqps://us%40er:p%3Ass@broker.example:5999/my%2fvhost?heartbeat=5&connection_timeout=2000&verify=verify_none');
    expect([e.tls, e.host, e.port, e.username, e.password, e.vhost]).toEqual([true, 'broker.example', 5999, 'us@er', 'p:ss', 'my/vhost']);
    expect([e.heartbeat, e.connectionTimeout, e.verifyPeer]).toEqual([5, 2000, false]);
  });
  it('amqps defaults to 5671; "host/" is the empty vhost; "/%2f" is "/"', () => {
    expect(parseAmqpUri('amqps://h').port).toBe(5671);
    expect(parseAmqpUri('amqp://h/').vhost).toBe('');
    expect(parseAmqpUri('amqp://h/%2f').vhost).toBe('/');
  });
  it('IPv6 hosts in brackets', () => {
    const e = parseAmqpUri('amqp://[::1]:5673/v');
    expect([e.host, e.port, e.vhost]).toEqual(['::1', 5673, 'v']);
  });
  it('amqp:// alone is the direct connection to this broker', () => {
    expect(parseAmqpUri('amqp://').direct).toBe(true);
  });
  it('refuses what amqp_uri refuses', () => {
    for (const bad of ['http://h', 'amqp://h:99999', 'amqp://h/a/b', 'amqp://h?heartbeat=x', 'nonsense', 'amqps://']) {
      expect(() => parseAmqpUri(bad), bad).toThrow(AmqpUriError);
    }
  });
  it('redacts the password', () => {
    expect(redactedUri('amqp://u:secret@h:1/v')).toBe('amqp://u:***@h:1/v');
    expect(redactedUri('amqp://h/v')).toBe('amqp://h/v');
  });
});
