/**
 * Half messages and retries from amqplib, unchanged: a payment service, its check-back responder
 * and a retry-with-back-off worker (interop/usecases/half-messages.test.ts; the modes are described
 * in ../python/payment_client.py). Usage: tsx payment-client.ts CONFIG_JSON; one JSON line per step.
 */
import amqp, { type ConfirmChannel, type ConsumeMessage } from 'amqplib';

interface Config {
  url: string;
  mode: 'pay' | 'crash' | 'checker' | 'worker';
  exchange: string;
  routing_key: string;
  check_queue: string;
  txid: string;
  payment: unknown;
  local_tx_ok: boolean;
  db: Record<string, string>;
  expect: number;
  queue: string;
  fail_times: number;
  attempts: number;
}

const out = (v: Record<string, unknown>): void => { process.stdout.write(`${JSON.stringify(v)}\n`); };

/** Publish and wait for the confirm: null when acked, else "returned <code> <text>" or "nacked". */
function publish(ch: ConfirmChannel, exchange: string, key: string, body: Buffer, options: amqp.Options.Publish): Promise<string | null> {
  let returned: string | null = null;
  const onReturn = (m: ConsumeMessage & { fields: { replyCode?: number; replyText?: string } }): void => {
    returned = `returned ${m.fields.replyCode} ${m.fields.replyText}`;
  };
  ch.once('return', onReturn);
  return new Promise((resolve) => {
    ch.publish(exchange, key, body, options, (err) => {
      ch.off('return', onReturn);
      resolve(returned ?? (err ? 'nacked' : null));
    });
  });
}

const decide = (ch: ConfirmChannel, exchange: string, txid: string, decision: string, mandatory = false) =>
  publish(ch, exchange, '', Buffer.alloc(0), { messageId: txid, headers: { 'x-transaction': decision }, mandatory });

/** Consume until `handle` returns false; fails after 60 s without a message. */
async function consume(ch: ConfirmChannel, queue: string, handle: (m: ConsumeMessage) => Promise<boolean>): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    let timer = setTimeout(() => reject(new Error(`nothing on ${queue}`)), 60_000);
    let chain = Promise.resolve();
    void ch.consume(queue, (m) => {
      if (m === null) return;
      chain = chain.then(async () => {
        clearTimeout(timer);
        if (await handle(m)) timer = setTimeout(() => reject(new Error(`nothing on ${queue}`)), 60_000);
        else resolve();
      }).catch(reject);
    });
  });
}

async function main(): Promise<void> {
  const cfg = JSON.parse(process.argv[2]!) as Config;
  const conn = await amqp.connect(cfg.url);
  const ch = await conn.createConfirmChannel();
  if (cfg.mode === 'pay' || cfg.mode === 'crash') {
    const refused = await publish(ch, cfg.exchange, cfg.routing_key, Buffer.from(JSON.stringify(cfg.payment)),
      { messageId: cfg.txid, replyTo: cfg.check_queue, persistent: true, contentType: 'application/json' });
    if (refused !== null) throw new Error(`half message refused: ${refused}`);
    out({ step: 'half', txid: cfg.txid });
    if (cfg.mode === 'crash') process.exit(3);
    const decision = cfg.local_tx_ok ? 'commit' : 'rollback';
    out({ step: decision, txid: cfg.txid, refused: await decide(ch, cfg.exchange, cfg.txid, decision) });
    out({ step: 'repeat', txid: cfg.txid, refused: await decide(ch, cfg.exchange, cfg.txid, decision, true) });
  } else if (cfg.mode === 'checker') {
    const answered = new Set<string>();
    await consume(ch, cfg.check_queue, async (m) => {
      const txid = String(m.properties.messageId);
      const decision = cfg.db[txid] ?? 'rollback';
      const headers = m.properties.headers ?? {};
      const refused = await decide(ch, String(headers['x-transaction-exchange']), txid, decision);
      ch.ack(m);
      out({ step: 'answered', txid, decision, check: headers['x-check-count'], refused });
      answered.add(txid);
      return answered.size < cfg.expect;
    });
  } else {
    let seen = 0;
    await consume(ch, cfg.queue, async (m) => {
      const retry = Number(m.properties.headers?.['x-retry-count'] ?? 0);
      const job = m.content.toString();
      const fail = job.startsWith('poison') || retry < cfg.fail_times;
      out({ step: 'attempt', job, retry, at: Date.now(), ok: !fail });
      if (fail) ch.nack(m, false, false);
      else ch.ack(m);
      return ++seen < cfg.attempts;
    });
  }
  // The channel first: amqplib writes connection.close ahead of channel frames still queued (the
  // last ack or nack would be lost and its message requeued).
  await ch.close();
  await conn.close();
  out({ step: 'done' });
}

main().catch((err: unknown) => {
  out({ step: 'error', error: String(err) });
  process.exit(1);
});
