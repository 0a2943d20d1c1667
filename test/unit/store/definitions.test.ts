/**
 * The definitions document reads RabbitMQ's definitions.json shape (3.10 export: tags as a string,
 * extra top-level keys) and rejects documents that are not objects with list-valued known keys.
 */
import { describe, expect, it } from 'vitest';
import { emptyDefinitions, parseDefinitions } from '../../../src/store/definitions.js';

const rabbit310 = `{
  "rabbit_version": "3.10.25", "rabbitmq_version": "3.10.25", "product_name": "RabbitMQ", "product_version": "3.10.25",
  "users": [{"name": "guest", "password_hash": "Zm9v", "hashing_algorithm": "rabbit_password_hashing_sha256", "tags": "administrator", "limits": {}}],
  "vhosts": [{"name": "/"}],
  "permissions": [{"user": "guest", "vhost": "/", "configure": ".*", "write": ".*", "read": ".*"}],
  "topic_permissions": [], "parameters": [], "global_parameters": [{"name": "internal_cluster_id", "value": "rabbitmq-cluster-id-x"}],
  "policies": [{"vhost": "/", "name": "ttl", "pattern": "^q", "apply-to": "queues", "definition": {"message-ttl": 1000}, "priority": 0}],
  "queues": [{"name": "q", "vhost": "/", "durable": true, "auto_delete": false, "arguments": {"x-queue-type": "classic"}}],
  "exchanges": [{"name": "x", "vhost": "/", "type": "topic", "durable": true, "auto_delete": false, "internal": false, "arguments": {}}],
  "bindings": [{"source": "x", "vhost": "/", "destination": "q", "destination_type": "queue", "routing_key": "a.#", "arguments": {}}]
}`;

describe('definitions document', () => {
  it('reads a RabbitMQ 3.10 export and keeps unknown keys', () => {
    const d = parseDefinitions(rabbit310);
    expect(d.users[0]?.tags).toBe('administrator');
    expect(d.queues[0]?.arguments['x-queue-type']).toBe('classic');
    expect(d.policies[0]?.['apply-to']).toBe('queues');
    expect(d['global_parameters']).toHaveLength(1);
    expect(JSON.parse(JSON.stringify(d))).toEqual(JSON.parse(rabbit310));
  });

  it('fills missing lists and rejects malformed documents', () => {
    expect(parseDefinitions('{"vhosts":[{"name":"/"}]}')).toEqual({ ...emptyDefinitions(), vhosts: [{ name: '/' }] });
    expect(() => parseDefinitions('[]')).toThrow(/not a JSON object/);
    expect(() => parseDefinitions('{"queues":{}}')).toThrow(/"queues" is not a list/);
    expect(() => parseDefinitions('{')).toThrow();
  });
});
