/**
 * connection.start server-properties, shaped like RabbitMQ's (product, version, platform,
 * copyright, information, cluster_name, capabilities). Clients gate features on the capabilities
 * table (e.g. amqplib's consumer cancel notifications, pika's basic.nack) and on product/version
 * (by default "RabbitMQ" and a current 3.13: see ServerConfig); Warren names itself in `platform`
 * and `information`.
 */
import { fv, tableFrom, type FieldTable } from '../core/field-value.js';
import type { ServerConfig } from './server-config.js';

const SERVER_CAPABILITIES = {
  publisher_confirms: true,
  exchange_exchange_bindings: true,
  'basic.nack': true,
  consumer_cancel_notify: true,
  'connection.blocked': true,
  consumer_priorities: true,
  authentication_failure_close: true,
  per_consumer_qos: true,
  direct_reply_to: true,
} as const;

export function serverProperties(config: ServerConfig): FieldTable {
  return [
    { key: 'capabilities', value: fv.table(tableFrom(SERVER_CAPABILITIES)) },
    { key: 'cluster_name', value: fv.str(config.clusterName) },
    { key: 'copyright', value: fv.str('Copyright (c) the Warren authors') },
    { key: 'information', value: fv.str('Warren, an AMQP 0-9-1 broker compatible with RabbitMQ clients. Licensed under the MIT licence.') },
    { key: 'platform', value: fv.str(config.platform) },
    { key: 'product', value: fv.str(config.product) },
    { key: 'version', value: fv.str(config.version) },
  ];
}
