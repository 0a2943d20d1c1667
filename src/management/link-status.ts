/**
 * What the management API shows of the links (shovels; RabbitMQ's rabbitmq_shovel_management) without
 * importing them: the composition root hands the API an object with this shape (src/links keeps the
 * workers). Statuses are RabbitMQ's JSON objects, ready to list.
 */
export type LinkStatusJson = { [key: string]: string | number };

export interface ShovelStatusSource {
  /** Every shovel's status, or one vhost's. */
  status(vhost?: string): LinkStatusJson[];
  /** Restart a shovel (rabbit_shovel_util:restart_shovel); false when there is none of that name. */
  restart(vhost: string, name: string): boolean;
}
