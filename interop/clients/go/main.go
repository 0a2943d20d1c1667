// Interop scenario for Go amqp091-go (Debian golang-github-rabbitmq-amqp091-go-dev, built with
// GO111MODULE=off GOPATH=/usr/share/gocode: no module download).
//
// Usage: interop-go scenario [URL] | publish URL EXCHANGE | consume URL QUEUE...
// Prints one JSON line per step (interop/README.md, "Trace format"); exits non-zero when a step failed.
package main

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand"
	"os"
	"sort"
	"strings"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

const client = "go"

type obs = map[string]interface{}

var names = map[string]string{}
var failed = []string{}

func name(sym string) string {
	if n, ok := names[sym]; ok {
		return n
	}
	n := fmt.Sprintf("interop-%s-%d-%06x-%s", client, os.Getpid(), rand.Intn(1<<24), sym)
	names[sym] = n
	return n
}

func clean(s string) string {
	for sym, real := range names {
		s = strings.ReplaceAll(s, real, "<"+sym+">")
	}
	return s
}

func emit(o obs) {
	b, _ := json.Marshal(o)
	fmt.Println(string(b))
}

func step(stepName string, fn func() (obs, error)) {
	var o obs
	var err error
	func() {
		defer func() {
			if r := recover(); r != nil {
				err = fmt.Errorf("panic: %v", r)
			}
		}()
		o, err = fn()
	}()
	if err != nil {
		failed = append(failed, stepName)
		emit(obs{"step": stepName, "error": err.Error()})
		return
	}
	o["step"] = stepName
	emit(o)
}

func must(err error) {
	if err != nil {
		panic(err)
	}
}

func pub(ch *amqp.Channel, ex, key string, body string, h amqp.Table) {
	must(ch.PublishWithContext(context.Background(), ex, key, false, false, amqp.Publishing{Body: []byte(body), Headers: h}))
}

func drain(ch *amqp.Channel, q string) []string {
	out := []string{}
	for {
		d, ok, err := ch.Get(q, true)
		must(err)
		if !ok {
			return out
		}
		out = append(out, string(d.Body))
	}
}

func scenario(url string) {
	conn, err := amqp.Dial(url)
	if err != nil {
		emit(obs{"step": "connect", "error": err.Error()})
		os.Exit(1)
	}
	ch, err := conn.Channel()
	must(err)
	step("connect", func() (obs, error) { return obs{"ok": !conn.IsClosed()}, nil })

	step("exchanges", func() (obs, error) {
		for _, t := range []string{"direct", "fanout", "topic", "headers"} {
			must(ch.ExchangeDeclare(name("x-"+t), t, false, false, false, false, nil))
		}
		for _, q := range []string{"q-direct", "q-fanout", "q-topic", "q-headers-all", "q-headers-any"} {
			_, err := ch.QueueDeclare(name(q), false, false, false, false, nil)
			must(err)
		}
		must(ch.QueueBind(name("q-direct"), "k1", name("x-direct"), false, nil))
		must(ch.QueueBind(name("q-fanout"), "ignored", name("x-fanout"), false, nil))
		must(ch.QueueBind(name("q-topic"), "a.*.c", name("x-topic"), false, nil))
		must(ch.QueueBind(name("q-topic"), "x.#", name("x-topic"), false, nil))
		must(ch.QueueBind(name("q-headers-all"), "", name("x-headers"), false, amqp.Table{"x-match": "all", "color": "red", "size": "big"}))
		must(ch.QueueBind(name("q-headers-any"), "", name("x-headers"), false, amqp.Table{"x-match": "any", "color": "red", "size": "big"}))
		pub(ch, name("x-direct"), "k1", "k1", nil)
		pub(ch, name("x-direct"), "k2", "k2", nil)
		pub(ch, name("x-fanout"), "x", "f1", nil)
		pub(ch, name("x-fanout"), "", "f2", nil)
		for _, k := range []string{"a.b.c", "a.b", "x", "x.y.z", "a.b.c.d"} {
			pub(ch, name("x-topic"), k, k, nil)
		}
		pub(ch, name("x-headers"), "", "h-all", amqp.Table{"color": "red", "size": "big"})
		pub(ch, name("x-headers"), "", "h-one", amqp.Table{"color": "red"})
		pub(ch, name("x-headers"), "", "h-none", amqp.Table{"color": "blue"})
		return obs{
			"direct":      drain(ch, name("q-direct")),
			"fanout":      drain(ch, name("q-fanout")),
			"topic":       drain(ch, name("q-topic")),
			"headers_all": drain(ch, name("q-headers-all")),
			"headers_any": drain(ch, name("q-headers-any")),
		}, nil
	})

	step("confirms", func() (obs, error) {
		c, err := conn.Channel()
		must(err)
		must(c.Confirm(false))
		confirms := c.NotifyPublish(make(chan amqp.Confirmation, 10))
		returnsCh := c.NotifyReturn(make(chan amqp.Return, 10))
		_, err = c.QueueDeclare(name("q-confirm"), false, false, false, false, nil)
		must(err)
		must(c.PublishWithContext(context.Background(), "", name("q-confirm"), true, false, amqp.Publishing{Body: []byte("routable")}))
		must(c.PublishWithContext(context.Background(), "", name("missing"), true, false, amqp.Publishing{Body: []byte("unroutable")}))
		acks, nacks := 0, 0
		returns := []obs{}
		timeout := time.After(5 * time.Second)
		for acks+nacks < 2 {
			select {
			case cf := <-confirms:
				if cf.Ack {
					acks++
				} else {
					nacks++
				}
			case r := <-returnsCh:
				returns = append(returns, obs{"reply_code": r.ReplyCode, "reply_text": r.ReplyText, "exchange": r.Exchange, "routing_key": clean(r.RoutingKey), "body": string(r.Body)})
			case <-timeout:
				return nil, errors.New("timed out waiting for confirms")
			}
		}
		// The return precedes its ack on the wire, but the two Go channels race: collect late returns.
		select {
		case r := <-returnsCh:
			returns = append(returns, obs{"reply_code": r.ReplyCode, "reply_text": r.ReplyText, "exchange": r.Exchange, "routing_key": clean(r.RoutingKey), "body": string(r.Body)})
		case <-time.After(200 * time.Millisecond):
		}
		c.Close()
		return obs{"acks": acks, "nacks": nacks, "returns": returns, "queued": drain(ch, name("q-confirm"))}, nil
	})

	step("prefetch", func() (obs, error) {
		q := name("q-prefetch")
		_, err := ch.QueueDeclare(q, false, false, false, false, nil)
		must(err)
		for i := 0; i < 5; i++ {
			pub(ch, "", q, fmt.Sprintf("p%d", i), nil)
		}
		c, err := conn.Channel()
		must(err)
		must(c.Qos(2, 0, false))
		deliveries, err := c.Consume(q, "", false, false, false, false, nil)
		must(err)
		bodies, red := []string{}, []bool{}
		held := []amqp.Delivery{}
		timeout := time.After(5 * time.Second)
		for len(held) < 2 {
			select {
			case d := <-deliveries:
				held = append(held, d)
				bodies = append(bodies, string(d.Body))
				red = append(red, d.Redelivered)
			case <-timeout:
				return nil, errors.New("timed out")
			}
		}
		inFlight := len(held)
	settle:
		for {
			select {
			case d := <-deliveries:
				held = append(held, d)
				bodies = append(bodies, string(d.Body))
				red = append(red, d.Redelivered)
				inFlight++
			case <-time.After(300 * time.Millisecond):
				break settle
			}
		}
		for len(bodies) < 5 {
			for _, d := range held {
				must(d.Ack(false))
			}
			held = held[:0]
			select {
			case d := <-deliveries:
				held = append(held, d)
				bodies = append(bodies, string(d.Body))
				red = append(red, d.Redelivered)
			case <-timeout:
				return nil, errors.New("timed out")
			}
		}
		for _, d := range held {
			must(d.Ack(false))
		}
		c.Close()
		return obs{"bodies": bodies, "redelivered": red, "in_flight_before_ack": inFlight}, nil
	})

	step("nack_requeue", func() (obs, error) {
		q := name("q-nack")
		_, err := ch.QueueDeclare(q, false, false, false, false, nil)
		must(err)
		pub(ch, "", q, "n0", nil)
		d1, _, err := ch.Get(q, false)
		must(err)
		must(d1.Nack(false, true))
		d2, _, err := ch.Get(q, false)
		must(err)
		must(d2.Reject(false))
		_, ok, err := ch.Get(q, false)
		must(err)
		return obs{"first": obs{"body": string(d1.Body), "redelivered": d1.Redelivered},
			"second":             obs{"body": string(d2.Body), "redelivered": d2.Redelivered},
			"after_reject_empty": !ok}, nil
	})

	step("basic_get", func() (obs, error) {
		q := name("q-get")
		_, err := ch.QueueDeclare(q, false, false, false, false, nil)
		must(err)
		_, ok0, err := ch.Get(q, false)
		must(err)
		pub(ch, "", q, "g0", nil)
		pub(ch, "", q, "g1", nil)
		o := obs{"empty_first": !ok0}
		for _, k := range []string{"first", "second"} {
			d, _, err := ch.Get(q, false)
			must(err)
			must(d.Ack(false))
			o[k] = obs{"body": string(d.Body), "message_count": d.MessageCount, "redelivered": d.Redelivered}
		}
		_, ok, err := ch.Get(q, false)
		must(err)
		o["empty_after"] = !ok
		return o, nil
	})

	step("rpc", func() (obs, error) {
		q := name("q-rpc")
		server, err := conn.Channel()
		must(err)
		_, err = server.QueueDeclare(q, false, false, false, false, nil)
		must(err)
		reqs, err := server.Consume(q, "", false, false, false, false, nil)
		must(err)
		go func() {
			for d := range reqs {
				server.PublishWithContext(context.Background(), "", d.ReplyTo, false, false, amqp.Publishing{CorrelationId: d.CorrelationId, Body: append([]byte("pong:"), d.Body...)})
				d.Ack(false)
			}
		}()
		cl, err := conn.Channel()
		must(err)
		rq, err := cl.QueueDeclare("", false, false, true, false, nil)
		must(err)
		replies, err := cl.Consume(rq.Name, "", true, false, false, false, nil)
		must(err)
		must(cl.PublishWithContext(context.Background(), "", q, false, false, amqp.Publishing{ReplyTo: rq.Name, CorrelationId: "corr-1", Body: []byte("ping")}))
		select {
		case r := <-replies:
			server.Close()
			cl.Close()
			return obs{"reply": string(r.Body), "correlation_id": r.CorrelationId}, nil
		case <-time.After(5 * time.Second):
			return nil, errors.New("no rpc reply")
		}
	})

	step("tx", func() (obs, error) {
		q := name("q-tx")
		_, err := ch.QueueDeclare(q, false, false, false, false, nil)
		must(err)
		t, err := conn.Channel()
		must(err)
		must(t.Tx())
		pub(t, "", q, "tx-rollback", nil)
		must(t.TxRollback())
		q1, err := ch.QueueDeclarePassive(q, false, false, false, false, nil)
		must(err)
		pub(t, "", q, "tx-commit", nil)
		must(t.TxCommit())
		q2, err := ch.QueueDeclarePassive(q, false, false, false, false, nil)
		must(err)
		t.Close()
		return obs{"after_rollback": q1.Messages, "after_commit": q2.Messages, "bodies": drain(ch, q)}, nil
	})

	step("heartbeat", func() (obs, error) {
		hb, err := amqp.DialConfig(url, amqp.Config{Heartbeat: time.Second})
		must(err)
		time.Sleep(3500 * time.Millisecond) // idle; the library's heartbeater keeps the connection alive
		c, err := hb.Channel()
		if err != nil {
			return nil, err
		}
		rq, err := c.QueueDeclare("", false, false, true, false, nil)
		must(err)
		pub(c, "", rq.Name, "alive", nil)
		d, ok, err := c.Get(rq.Name, true)
		must(err)
		alive := ok && string(d.Body) == "alive" && !hb.IsClosed()
		hb.Close()
		return obs{"alive": alive}, nil
	})

	amqpErr := func(err error) (obs, error) {
		var e *amqp.Error
		if errors.As(err, &e) {
			return obs{"reply_code": e.Code, "reply_text": clean(e.Reason), "connection_open": !conn.IsClosed()}, nil
		}
		return obs{"raised": err != nil}, nil
	}
	step("error_404", func() (obs, error) {
		c, err := conn.Channel()
		must(err)
		_, err = c.QueueDeclarePassive(name("missing"), false, false, false, false, nil)
		return amqpErr(err)
	})
	step("error_406", func() (obs, error) {
		c, err := conn.Channel()
		must(err)
		_, err = c.QueueDeclare(name("q-406"), false, false, false, false, nil)
		must(err)
		_, err = c.QueueDeclare(name("q-406"), true, false, false, false, nil)
		return amqpErr(err)
	})

	step("cleanup", func() (obs, error) {
		c, err := conn.Channel()
		must(err)
		keys := []string{}
		for k := range names {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, sym := range keys {
			if strings.HasPrefix(sym, "x-") {
				must(c.ExchangeDelete(names[sym], false, false))
			} else if strings.HasPrefix(sym, "q-") {
				_, err := c.QueueDelete(names[sym], false, false, false)
				must(err)
			}
		}
		must(conn.Close())
		return obs{"ok": true}, nil
	})
	emit(obs{"step": "done", "failed": failed})
	if len(failed) > 0 {
		os.Exit(1)
	}
}

// norm turns a decoded field value into the suite's JSON normal form (README: header normal form).
func norm(v interface{}) interface{} {
	switch x := v.(type) {
	case nil, bool, string:
		return x
	case int8:
		return int64(x)
	case uint8:
		return int64(x)
	case int16:
		return int64(x)
	case int32:
		return int64(x)
	case int64:
		return x
	case int:
		return int64(x)
	case float32:
		return float64(x)
	case float64:
		return x
	case amqp.Decimal:
		return obs{"$dec": decString(int64(x.Value), int(x.Scale))}
	case time.Time:
		return obs{"$ts": x.Unix()}
	case []byte:
		return obs{"$bytes": hex.EncodeToString(x)}
	case amqp.Table:
		o := obs{}
		for k, e := range x {
			o[k] = norm(e)
		}
		return o
	case []interface{}:
		a := []interface{}{}
		for _, e := range x {
			a = append(a, norm(e))
		}
		return a
	}
	return obs{"$unknown": fmt.Sprintf("%T %v", v, v)}
}

func decString(value int64, scale int) string {
	neg := value < 0
	if neg {
		value = -value
	}
	s := fmt.Sprintf("%d", value)
	if scale > 0 {
		for len(s) <= scale {
			s = "0" + s
		}
		s = s[:len(s)-scale] + "." + s[len(s)-scale:]
	}
	if neg {
		s = "-" + s
	}
	return s
}

func canonicalHeaders() amqp.Table {
	return amqp.Table{
		"str": "héllo wörld", "int": int32(42), "neg": int32(-7), "big": int64(1099511627776),
		"bool_t": true, "bool_f": false, "double": 1.5, "float": float32(2.5),
		"i8": int8(-8), "i16": int16(-300),
		"dec": amqp.Decimal{Scale: 2, Value: 12345}, "ts": time.Unix(1700000000, 0),
		"bytes": []byte{0x00, 0xff, 0x10}, "void": nil,
		"table": amqp.Table{"k": "v", "n": int32(1)}, "array": []interface{}{"a", int32(1), true},
	}
}

func propsOf(p amqp.Publishing) obs {
	o := obs{}
	set := func(k, v string) {
		if v != "" {
			o[k] = v
		}
	}
	set("content_type", p.ContentType)
	set("content_encoding", p.ContentEncoding)
	if p.DeliveryMode != 0 {
		o["delivery_mode"] = p.DeliveryMode
	}
	if p.Priority != 0 {
		o["priority"] = p.Priority
	}
	set("correlation_id", p.CorrelationId)
	set("reply_to", p.ReplyTo)
	set("expiration", p.Expiration)
	set("message_id", p.MessageId)
	if !p.Timestamp.IsZero() {
		o["timestamp"] = p.Timestamp.Unix()
	}
	set("type", p.Type)
	set("user_id", p.UserId)
	set("app_id", p.AppId)
	return o
}

func message(p amqp.Publishing) obs {
	h := p.Headers
	if h == nil {
		h = amqp.Table{}
	}
	return obs{"body_hex": hex.EncodeToString(p.Body), "properties": propsOf(p), "headers": norm(h)}
}

func publish(url, exchange string) {
	conn, err := amqp.Dial(url)
	must(err)
	ch, err := conn.Channel()
	must(err)
	must(ch.Confirm(false))
	p := amqp.Publishing{
		ContentType: "application/x-interop", ContentEncoding: "utf-8", DeliveryMode: 2, Priority: 3,
		CorrelationId: "corr-" + client, ReplyTo: "reply-" + client, Expiration: "600000",
		MessageId: "msg-" + client, Timestamp: time.Unix(1700000000, 0), Type: "interop.test",
		UserId: "guest", AppId: client, Headers: canonicalHeaders(),
		Body: []byte("hello from " + client + " ✓ é\x00end"),
	}
	// NotifyPublish rather than a DeferredConfirmation: amqp091-go 1.5.0's deferred Wait() can miss an
	// ack that arrives before it is registered and then hangs.
	confirms := ch.NotifyPublish(make(chan amqp.Confirmation, 1))
	must(ch.PublishWithContext(context.Background(), exchange, "interop", false, false, p))
	select {
	case c := <-confirms:
		if !c.Ack {
			panic("publish nacked")
		}
	case <-time.After(10 * time.Second):
		panic("publish not confirmed")
	}
	conn.Close()
	emit(obs{"sent": message(p)})
}

func consume(url string, queues []string) {
	conn, err := amqp.Dial(url)
	must(err)
	ch, err := conn.Channel()
	must(err)
	for _, q := range queues {
		consumeOne(ch, q)
	}
	conn.Close()
}

func consumeOne(ch *amqp.Channel, queue string) {
	deadline := time.Now().Add(10 * time.Second)
	for {
		d, ok, err := ch.Get(queue, false)
		must(err)
		if ok {
			must(d.Ack(false))
			p := amqp.Publishing{Headers: d.Headers, ContentType: d.ContentType, ContentEncoding: d.ContentEncoding,
				DeliveryMode: d.DeliveryMode, Priority: d.Priority, CorrelationId: d.CorrelationId, ReplyTo: d.ReplyTo,
				Expiration: d.Expiration, MessageId: d.MessageId, Timestamp: d.Timestamp, Type: d.Type, UserId: d.UserId,
				AppId: d.AppId, Body: d.Body}
			emit(obs{"queue": queue, "received": message(p)})
			return
		}
		if time.Now().After(deadline) {
			emit(obs{"queue": queue, "error": "no message in " + queue})
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func main() {
	rand.Seed(time.Now().UnixNano())
	mode := "scenario"
	if len(os.Args) > 1 {
		mode = os.Args[1]
	}
	url := os.Getenv("AMQP_URL")
	if len(os.Args) > 2 {
		url = os.Args[2]
	}
	if url == "" {
		url = "amqp://guest:guest@127.0.0.1:5672/"
	}
	switch mode {
	case "scenario":
		scenario(url)
	case "publish":
		publish(url, os.Args[3])
	case "consume":
		consume(url, os.Args[3:])
	default:
		fmt.Fprintln(os.Stderr, "usage: interop-go scenario [URL] | publish URL EXCHANGE | consume URL QUEUE...")
		os.Exit(2)
	}
}
