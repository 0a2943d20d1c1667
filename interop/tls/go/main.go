// amqp091-go (Debian golang-github-rabbitmq-amqp091-go-dev, built with GO111MODULE=off
// GOPATH=/usr/share/gocode) over TLS, for interop/tls/tls.test.ts.
//
// Usage: interop-go-tls CONFIG_JSON, CONFIG_JSON = {"host", "port", "servername", "ca", "cert"?,
// "key"?, "mechanism": "PLAIN" | "EXTERNAL", "user", "password"?}.
// Connects over TLS (trusting only "ca", presenting "cert"/"key" when given) with amqp.DialTLS or,
// for EXTERNAL, amqp.DialTLS_ExternalAuth; publishes with confirms to an exclusive queue messages
// of 0 B, 5 B and 300 kB with user_id = "user" (refused by the broker unless it is the connection's
// user) and reads them back. Prints {"step": "connect"|"roundtrip", ...} JSON lines, or the step's
// {"error": ...} and exits 1.
package main

import (
	"bytes"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

type config struct {
	Host       string `json:"host"`
	Port       int    `json:"port"`
	ServerName string `json:"servername"`
	CA         string `json:"ca"`
	Cert       string `json:"cert"`
	Key        string `json:"key"`
	Mechanism  string `json:"mechanism"`
	User       string `json:"user"`
	Password   string `json:"password"`
}

func emit(o map[string]interface{}) {
	b, _ := json.Marshal(o)
	fmt.Println(string(b))
}

func fail(step string, err error) {
	emit(map[string]interface{}{"step": step, "error": fmt.Sprintf("%T: %v", err, err)})
	os.Exit(1)
}

func main() {
	var cfg config
	if err := json.Unmarshal([]byte(os.Args[1]), &cfg); err != nil {
		fail("config", err)
	}
	pem, err := os.ReadFile(cfg.CA)
	if err != nil {
		fail("config", err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(pem)
	tlsConfig := &tls.Config{RootCAs: roots, ServerName: cfg.ServerName}
	if cfg.Cert != "" {
		pair, err := tls.LoadX509KeyPair(cfg.Cert, cfg.Key)
		if err != nil {
			fail("config", err)
		}
		tlsConfig.Certificates = []tls.Certificate{pair}
	}
	var conn *amqp.Connection
	if cfg.Mechanism == "EXTERNAL" {
		conn, err = amqp.DialTLS_ExternalAuth(fmt.Sprintf("amqps://%s:%d/", cfg.Host, cfg.Port), tlsConfig)
	} else {
		u := url.URL{Scheme: "amqps", User: url.UserPassword(cfg.User, cfg.Password), Host: fmt.Sprintf("%s:%d", cfg.Host, cfg.Port), Path: "/"}
		conn, err = amqp.DialTLS(u.String(), tlsConfig)
	}
	if err != nil {
		fail("connect", err)
	}
	emit(map[string]interface{}{"step": "connect", "ok": !conn.IsClosed()})

	ch, err := conn.Channel()
	if err != nil {
		fail("roundtrip", err)
	}
	if err := ch.Confirm(false); err != nil {
		fail("roundtrip", err)
	}
	confirms := ch.NotifyPublish(make(chan amqp.Confirmation, 3))
	q, err := ch.QueueDeclare("", false, false, true, false, nil)
	if err != nil {
		fail("roundtrip", err)
	}
	big := make([]byte, 300000)
	rand.Read(big)
	bodies := [][]byte{{}, []byte("hello"), big}
	for _, b := range bodies {
		if err := ch.Publish("", q.Name, false, false, amqp.Publishing{Body: b, UserId: cfg.User}); err != nil {
			fail("roundtrip", err)
		}
	}
	for range bodies {
		select {
		case c := <-confirms:
			if !c.Ack {
				fail("roundtrip", fmt.Errorf("nack %d", c.DeliveryTag))
			}
		case <-time.After(10 * time.Second):
			fail("roundtrip", fmt.Errorf("no confirm"))
		}
	}
	ok := true
	sizes := []int{}
	userIds := []string{}
	for _, b := range bodies {
		m, found, err := ch.Get(q.Name, true)
		if err != nil {
			fail("roundtrip", err)
		}
		ok = ok && found && bytes.Equal(m.Body, b)
		sizes = append(sizes, len(m.Body))
		userIds = append(userIds, m.UserId)
	}
	emit(map[string]interface{}{"step": "roundtrip", "ok": ok, "sizes": sizes, "user_ids": userIds})
	conn.Close()
}
