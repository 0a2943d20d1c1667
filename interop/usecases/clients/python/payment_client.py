"""Half messages and retries from Python pika (python3-pika), unchanged: a payment service, its
check-back responder and a retry-with-back-off worker (interop/usecases/half-messages.test.ts).

Usage: python3 payment_client.py CONFIG_JSON
  mode "pay":     publish the payment as a half message (message_id = transaction id, reply_to = the
                  check queue, persistent, confirmed), run the "local transaction" (ok or failing),
                  then publish the decision (x-transaction: commit | rollback) and repeat it once to
                  see the broker refuse a repeated decision.
  mode "crash":   publish the half message, then die (os._exit) before deciding.
  mode "checker": the restarted service: answer every check request from its "database" (config
                  "db": transaction id -> commit | rollback; unknown -> rollback) until "expect"
                  distinct transactions were answered (a later check of one already answered is
                  answered again and refused by the broker: printed with its "refused").
  mode "worker":  consume "queue"; nack (requeue=false) a job while its x-retry-count is below
                  "fail_times" (always for jobs starting with "poison"), else ack; stop after
                  "attempts" deliveries.
Prints one JSON line per step.
"""
import json
import os
import sys
import time

import pika


def out(**kw):
    print(json.dumps(kw), flush=True)


def decide(ch, exchange, txid, decision, mandatory=False):
    """Publish a decision; returns None when accepted, else the pika error's class name."""
    try:
        ch.basic_publish(exchange, '', b'', pika.BasicProperties(message_id=txid, headers={'x-transaction': decision}),
                         mandatory=mandatory)
        return None
    except (pika.exceptions.UnroutableError, pika.exceptions.NackError) as e:
        return type(e).__name__


def main():
    cfg = json.loads(sys.argv[1])
    conn = pika.BlockingConnection(pika.URLParameters(cfg['url']))
    ch = conn.channel()
    ch.confirm_delivery()
    mode = cfg['mode']
    if mode in ('pay', 'crash'):
        txid = cfg['txid']
        props = pika.BasicProperties(message_id=txid, reply_to=cfg['check_queue'], delivery_mode=2,
                                     content_type='application/json')
        ch.basic_publish(cfg['exchange'], cfg['routing_key'], json.dumps(cfg['payment']).encode(), props)
        out(step='half', txid=txid)
        if mode == 'crash':
            os._exit(3)
        decision = 'commit' if cfg['local_tx_ok'] else 'rollback'
        out(step=decision, txid=txid, refused=decide(ch, cfg['exchange'], txid, decision))
        out(step='repeat', txid=txid, refused=decide(ch, cfg['exchange'], txid, decision, mandatory=True))
    elif mode == 'checker':
        answered = set()
        for method, props, _body in ch.consume(cfg['check_queue'], inactivity_timeout=60):
            if method is None:
                break
            headers = props.headers or {}
            txid = props.message_id
            decision = cfg['db'].get(txid, 'rollback')
            refused = decide(ch, headers['x-transaction-exchange'], txid, decision)
            ch.basic_ack(method.delivery_tag)
            out(step='answered', txid=txid, decision=decision, check=headers.get('x-check-count'), refused=refused)
            answered.add(txid)
            if len(answered) >= cfg['expect']:
                break
        ch.cancel()
    elif mode == 'worker':
        seen = 0
        for method, props, body in ch.consume(cfg['queue'], inactivity_timeout=60):
            if method is None:
                break
            retry = (props.headers or {}).get('x-retry-count', 0)
            job = body.decode()
            fail = job.startswith('poison') or retry < cfg['fail_times']
            out(step='attempt', job=job, retry=retry, at=int(time.time() * 1000), ok=not fail)
            if fail:
                ch.basic_nack(method.delivery_tag, requeue=False)
            else:
                ch.basic_ack(method.delivery_tag)
            seen += 1
            if seen >= cfg['attempts']:
                break
        ch.cancel()
    conn.close()
    out(step='done')


if __name__ == '__main__':
    main()
