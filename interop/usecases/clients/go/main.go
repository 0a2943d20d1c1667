// Half messages and retries from Go amqp091-go (golang-github-rabbitmq-amqp091-go-dev), unchanged:
// a payment service, its check-back responder and a retry-with-back-off worker
// (interop/usecases/half-messages.test.ts; the modes are described in ../python/payment_client.py).
//
// Usage: payment-go CONFIG_JSON. Prints one JSON line per step.
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

type config struct {
	URL        string                 `json:"url"`
	Mode       string                 `json:"mode"`
	Exchange   string                 `json:"exchange"`
	RoutingKey string                 `json:"routing_key"`
	CheckQueue string                 `json:"check_queue"`
	TxID       string                 `json:"txid"`
	Payment    map[string]interface{} `json:"payment"`
	LocalTxOK  bool                   `json:"local_tx_ok"`
	DB         map[string]string      `json:"db"`
	Expect     int                    `json:"expect"`
	Queue      string                 `json:"queue"`
	FailTimes  int64                  `json:"fail_times"`
	Attempts   int                    `json:"attempts"`
}

func out(v map[string]interface{}) {
	b, _ := json.Marshal(v)
	fmt.Println(string(b))
}

func fail(err error) {
	out(map[string]interface{}{"step": "error", "error": err.Error()})
	os.Exit(1)
}

type publisher struct {
	ch       *amqp.Channel
	confirms chan amqp.Confirmation
	returns  chan amqp.Return
}

// publish waits for the confirm; returns "" when acked, else "returned <code> <text>" or "nacked".
func (p *publisher) publish(exchange, key string, mandatory bool, msg amqp.Publishing) string {
	if err := p.ch.Publish(exchange, key, mandatory, false, msg); err != nil {
		fail(err)
	}
	c := <-p.confirms
	refused := ""
	select {
	case r := <-p.returns:
		refused = fmt.Sprintf("returned %d %s", r.ReplyCode, r.ReplyText)
	default:
	}
	if !c.Ack && refused == "" {
		refused = "nacked"
	}
	return refused
}

func (p *publisher) decide(exchange, txid, decision string, mandatory bool) interface{} {
	r := p.publish(exchange, "", mandatory, amqp.Publishing{MessageId: txid, Headers: amqp.Table{"x-transaction": decision}})
	if r == "" {
		return nil
	}
	return r
}

func main() {
	var cfg config
	if err := json.Unmarshal([]byte(os.Args[1]), &cfg); err != nil {
		fail(err)
	}
	conn, err := amqp.Dial(cfg.URL)
	if err != nil {
		fail(err)
	}
	ch, err := conn.Channel()
	if err != nil {
		fail(err)
	}
	if err := ch.Confirm(false); err != nil {
		fail(err)
	}
	// A return precedes its confirm on the wire; the buffered channel keeps it until read.
	p := &publisher{ch: ch, confirms: ch.NotifyPublish(make(chan amqp.Confirmation, 1)), returns: ch.NotifyReturn(make(chan amqp.Return, 1))}
	switch cfg.Mode {
	case "pay", "crash":
		body, _ := json.Marshal(cfg.Payment)
		if r := p.publish(cfg.Exchange, cfg.RoutingKey, false, amqp.Publishing{
			MessageId: cfg.TxID, ReplyTo: cfg.CheckQueue, DeliveryMode: amqp.Persistent, ContentType: "application/json", Body: body,
		}); r != "" {
			fail(fmt.Errorf("half message refused: %s", r))
		}
		out(map[string]interface{}{"step": "half", "txid": cfg.TxID})
		if cfg.Mode == "crash" {
			os.Exit(3)
		}
		decision := "rollback"
		if cfg.LocalTxOK {
			decision = "commit"
		}
		out(map[string]interface{}{"step": decision, "txid": cfg.TxID, "refused": p.decide(cfg.Exchange, cfg.TxID, decision, false)})
		out(map[string]interface{}{"step": "repeat", "txid": cfg.TxID, "refused": p.decide(cfg.Exchange, cfg.TxID, decision, true)})
	case "checker":
		deliveries, err := ch.Consume(cfg.CheckQueue, "", false, false, false, false, nil)
		if err != nil {
			fail(err)
		}
		answered := map[string]bool{}
		for len(answered) < cfg.Expect {
			var d amqp.Delivery
			select {
			case d = <-deliveries:
			case <-time.After(60 * time.Second):
				fail(fmt.Errorf("no check request"))
			}
			decision, ok := cfg.DB[d.MessageId]
			if !ok {
				decision = "rollback"
			}
			exchange, _ := d.Headers["x-transaction-exchange"].(string)
			refused := p.decide(exchange, d.MessageId, decision, false)
			if err := d.Ack(false); err != nil {
				fail(err)
			}
			answered[d.MessageId] = true
			out(map[string]interface{}{"step": "answered", "txid": d.MessageId, "decision": decision, "check": d.Headers["x-check-count"], "refused": refused})
		}
	case "worker":
		deliveries, err := ch.Consume(cfg.Queue, "", false, false, false, false, nil)
		if err != nil {
			fail(err)
		}
		for seen := 0; seen < cfg.Attempts; seen++ {
			var d amqp.Delivery
			select {
			case d = <-deliveries:
			case <-time.After(60 * time.Second):
				fail(fmt.Errorf("no job"))
			}
			var retry int64
			switch v := d.Headers["x-retry-count"].(type) {
			case int64:
				retry = v
			case int32:
				retry = int64(v)
			}
			job := string(d.Body)
			failJob := strings.HasPrefix(job, "poison") || retry < cfg.FailTimes
			out(map[string]interface{}{"step": "attempt", "job": job, "retry": retry, "at": time.Now().UnixMilli(), "ok": !failJob})
			if failJob {
				err = d.Nack(false, false)
			} else {
				err = d.Ack(false)
			}
			if err != nil {
				fail(err)
			}
		}
	}
	conn.Close()
	out(map[string]interface{}{"step": "done"})
}
