#!/usr/bin/env node

// Tutorial 7 (publisher confirms): the three strategies of the official tutorial, with amqplib's
// promise API: wait for each confirm, wait per batch, and handle confirms asynchronously.
const amqp = require('amqplib');

const MESSAGE_COUNT = 500;

async function publishMessagesIndividually(connection) {
  const channel = await connection.createConfirmChannel();
  const { queue } = await channel.assertQueue('', { exclusive: true });

  const start = Date.now();
  for (let i = 0; i < MESSAGE_COUNT; i++) {
    channel.sendToQueue(queue, Buffer.from(i.toString()));
    await channel.waitForConfirms();
  }
  const { messageCount } = await channel.checkQueue(queue);
  console.log('Published %d messages individually in %d ms (%d in queue)', MESSAGE_COUNT, Date.now() - start, messageCount);
  await channel.close();
}

async function publishMessagesInBatch(connection) {
  const channel = await connection.createConfirmChannel();
  const { queue } = await channel.assertQueue('', { exclusive: true });

  const batchSize = 100;
  let outstandingMessageCount = 0;

  const start = Date.now();
  for (let i = 0; i < MESSAGE_COUNT; i++) {
    channel.sendToQueue(queue, Buffer.from(i.toString()));
    outstandingMessageCount++;
    if (outstandingMessageCount === batchSize) {
      await channel.waitForConfirms();
      outstandingMessageCount = 0;
    }
  }
  if (outstandingMessageCount > 0) {
    await channel.waitForConfirms();
  }
  const { messageCount } = await channel.checkQueue(queue);
  console.log('Published %d messages in batch in %d ms (%d in queue)', MESSAGE_COUNT, Date.now() - start, messageCount);
  await channel.close();
}

async function handlePublishConfirmsAsynchronously(connection) {
  const channel = await connection.createConfirmChannel();
  const { queue } = await channel.assertQueue('', { exclusive: true });

  const outstandingConfirms = new Map();
  let resolveAll;
  const allConfirmed = new Promise((resolve) => { resolveAll = resolve; });

  const start = Date.now();
  for (let i = 0; i < MESSAGE_COUNT; i++) {
    const body = i.toString();
    outstandingConfirms.set(i, body);
    channel.sendToQueue(queue, Buffer.from(body), {}, (err) => {
      if (err) {
        console.error('Message with body %s has been nack-ed', body);
      }
      outstandingConfirms.delete(i);
      if (outstandingConfirms.size === 0) resolveAll();
    });
  }
  await allConfirmed;
  const { messageCount } = await channel.checkQueue(queue);
  console.log('Published %d messages and handled confirms asynchronously in %d ms (%d in queue)', MESSAGE_COUNT, Date.now() - start, messageCount);
  await channel.close();
}

(async () => {
  const connection = await amqp.connect('amqp://localhost');
  await publishMessagesIndividually(connection);
  await publishMessagesInBatch(connection);
  await handlePublishConfirmsAsynchronously(connection);
  await connection.close();
  process.exit(0);
})();
