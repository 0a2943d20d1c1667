/* Interop scenario for rabbitmq-c (Debian librabbitmq-dev), built with gcc at test time.
 * Usage: interop-c scenario [URL] | publish URL EXCHANGE | consume URL QUEUE...
 * Prints one JSON line per step (interop/README.md, "Trace format"); exits non-zero when a step failed.
 * rabbitmq-c is synchronous and single-threaded: confirms, returns and deliveries are read frame by
 * frame, and heartbeats are only serviced while the program waits for frames (so "idle" = waiting). */
#include <amqp.h>
#include <amqp_tcp_socket.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define CLIENT "rabbitmq-c"

/* ---- tiny JSON builder ---- */
typedef struct { char *p; size_t n, cap; } buf;
static void put(buf *b, const char *s, size_t n) {
  if (b->n + n + 1 > b->cap) { b->cap = (b->n + n + 1) * 2; b->p = realloc(b->p, b->cap); }
  memcpy(b->p + b->n, s, n); b->n += n; b->p[b->n] = 0;
}
static void puts_(buf *b, const char *s) { put(b, s, strlen(s)); }
static void putf(buf *b, const char *fmt, ...) {
  char tmp[512]; va_list ap; va_start(ap, fmt); int n = vsnprintf(tmp, sizeof tmp, fmt, ap); va_end(ap); put(b, tmp, (size_t)n);
}
static void jstr(buf *b, const char *s, size_t n) {
  put(b, "\"", 1);
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c == '"' || c == '\\') { char e[2] = {'\\', (char)c}; put(b, e, 2); }
    else if (c < 0x20) putf(b, "\\u%04x", c);
    else put(b, (const char *)&c, 1);
  }
  put(b, "\"", 1);
}
static void jcstr(buf *b, const char *s) { jstr(b, s, strlen(s)); }
static void jbytes(buf *b, amqp_bytes_t x) { jstr(b, (const char *)x.bytes, x.len); }
static void hex(buf *b, const void *p, size_t n) {
  for (size_t i = 0; i < n; i++) putf(b, "%02x", ((const unsigned char *)p)[i]);
}
static void jdouble(buf *b, double d) {
  char tmp[64];
  for (int prec = 1; prec <= 17; prec++) { snprintf(tmp, sizeof tmp, "%.*g", prec, d); if (strtod(tmp, NULL) == d) break; }
  puts_(b, tmp);
}

/* ---- names, steps ---- */
static char names[32][2][128];
static int nnames;
static char failed[512];
static int nfailed;
static amqp_connection_state_t conn;
static char *url_g;

static const char *name(const char *sym) {
  for (int i = 0; i < nnames; i++) if (!strcmp(names[i][0], sym)) return names[i][1];
  snprintf(names[nnames][0], 128, "%s", sym);
  snprintf(names[nnames][1], 128, "interop-%s-%d-%06x-%s", CLIENT, (int)getpid(), (unsigned)(rand() & 0xffffff), sym);
  return names[nnames++][1];
}
static void clean(buf *out, const char *s, size_t n) { /* JSON string of s with unique names replaced by <sym> */
  buf t = {0};
  size_t i = 0;
  while (i < n) {
    int hit = 0;
    for (int k = 0; k < nnames && !hit; k++) {
      size_t l = strlen(names[k][1]);
      if (i + l <= n && !memcmp(s + i, names[k][1], l)) { putf(&t, "<%s>", names[k][0]); i += l; hit = 1; }
    }
    if (!hit) put(&t, s + i++, 1);
  }
  jstr(out, t.p ? t.p : "", t.n);
  free(t.p);
}
static amqp_bytes_t B(const char *s) { return amqp_cstring_bytes(s); }

static buf line;
static const char *step_error;
#define FAIL(msg) do { step_error = (msg); return; } while (0)
#define CHECK(expr) do { if (!(expr)) FAIL(#expr); } while (0)
#define RPC_OK() (amqp_get_rpc_reply(conn).reply_type == AMQP_RESPONSE_NORMAL)

static void step(const char *nm, void (*fn)(buf *)) {
  line.n = 0; step_error = NULL;
  buf body = {0};
  fn(&body);
  if (step_error) {
    printf("{\"step\":\"%s\",\"error\":", nm); buf e = {0}; jcstr(&e, step_error); printf("%s}\n", e.p); free(e.p);
    nfailed++; strcat(failed, nfailed > 1 ? ",\"" : "\""); strcat(failed, nm); strcat(failed, "\"");
  } else printf("{\"step\":\"%s\"%s%s}\n", nm, body.n ? "," : "", body.p ? body.p : "");
  fflush(stdout);
  free(body.p);
}

static amqp_connection_state_t open_conn(const char *url, int heartbeat) {
  struct amqp_connection_info ci;
  char *u = strdup(url);
  if (amqp_parse_url(u, &ci) != AMQP_STATUS_OK) { fprintf(stderr, "bad url %s\n", url); exit(2); }
  amqp_connection_state_t c = amqp_new_connection();
  amqp_socket_t *s = amqp_tcp_socket_new(c);
  if (amqp_socket_open(s, ci.host, ci.port)) { fprintf(stderr, "cannot connect to %s:%d\n", ci.host, ci.port); exit(2); }
  amqp_rpc_reply_t r = amqp_login(c, ci.vhost[0] ? ci.vhost : "/", 0, 131072, heartbeat, AMQP_SASL_METHOD_PLAIN, ci.user, ci.password);
  if (r.reply_type != AMQP_RESPONSE_NORMAL) { fprintf(stderr, "login failed\n"); exit(2); }
  free(u);
  return c;
}

static int next_channel = 1;
static int channel(void) {
  int ch = next_channel++;
  amqp_channel_open(conn, ch);
  return RPC_OK() ? ch : -1;
}

static void decl_queue(int ch, const char *q) { amqp_queue_declare(conn, ch, B(q), 0, 0, 0, 0, amqp_empty_table); }

static void publish(int ch, const char *ex, const char *rk, const char *body, amqp_basic_properties_t *p, int mandatory) {
  amqp_basic_publish(conn, ch, B(ex), B(rk), mandatory, 0, p, B(body));
}

static void drain(buf *b, int ch, const char *q) {
  put(b, "[", 1);
  for (int first = 1;; first = 0) {
    amqp_rpc_reply_t r = amqp_basic_get(conn, ch, B(q), 1);
    if (r.reply_type != AMQP_RESPONSE_NORMAL || r.reply.id != AMQP_BASIC_GET_OK_METHOD) break;
    amqp_message_t m;
    amqp_read_message(conn, ch, &m, 0);
    if (!first) put(b, ",", 1);
    jbytes(b, m.body);
    amqp_destroy_message(&m);
  }
  put(b, "]", 1);
  amqp_maybe_release_buffers(conn);
}

/* ---- steps ---- */
static int ch1;

static void s_connect(buf *b) { puts_(b, "\"ok\":true"); }

static void s_exchanges(buf *b) {
  const char *types[] = {"direct", "fanout", "topic", "headers"};
  char sym[32];
  for (int i = 0; i < 4; i++) {
    snprintf(sym, sizeof sym, "x-%s", types[i]);
    amqp_exchange_declare(conn, ch1, B(name(sym)), B(types[i]), 0, 0, 0, 0, amqp_empty_table);
    CHECK(RPC_OK());
  }
  const char *qs[] = {"q-direct", "q-fanout", "q-topic", "q-headers-all", "q-headers-any"};
  for (int i = 0; i < 5; i++) { decl_queue(ch1, name(qs[i])); CHECK(RPC_OK()); }
  amqp_queue_bind(conn, ch1, B(name("q-direct")), B(name("x-direct")), B("k1"), amqp_empty_table);
  amqp_queue_bind(conn, ch1, B(name("q-fanout")), B(name("x-fanout")), B("ignored"), amqp_empty_table);
  amqp_queue_bind(conn, ch1, B(name("q-topic")), B(name("x-topic")), B("a.*.c"), amqp_empty_table);
  amqp_queue_bind(conn, ch1, B(name("q-topic")), B(name("x-topic")), B("x.#"), amqp_empty_table);
  const char *match[] = {"all", "any"};
  const char *hq[] = {"q-headers-all", "q-headers-any"};
  for (int i = 0; i < 2; i++) {
    amqp_table_entry_t e[3];
    e[0].key = B("x-match"); e[0].value.kind = AMQP_FIELD_KIND_UTF8; e[0].value.value.bytes = B(match[i]);
    e[1].key = B("color"); e[1].value.kind = AMQP_FIELD_KIND_UTF8; e[1].value.value.bytes = B("red");
    e[2].key = B("size"); e[2].value.kind = AMQP_FIELD_KIND_UTF8; e[2].value.value.bytes = B("big");
    amqp_table_t t = {3, e};
    amqp_queue_bind(conn, ch1, B(name(hq[i])), B(name("x-headers")), B(""), t);
    CHECK(RPC_OK());
  }
  publish(ch1, name("x-direct"), "k1", "k1", NULL, 0);
  publish(ch1, name("x-direct"), "k2", "k2", NULL, 0);
  publish(ch1, name("x-fanout"), "x", "f1", NULL, 0);
  publish(ch1, name("x-fanout"), "", "f2", NULL, 0);
  const char *keys[] = {"a.b.c", "a.b", "x", "x.y.z", "a.b.c.d"};
  for (int i = 0; i < 5; i++) publish(ch1, name("x-topic"), keys[i], keys[i], NULL, 0);
  const char *hb[] = {"h-all", "h-one", "h-none"};
  for (int i = 0; i < 3; i++) {
    amqp_table_entry_t e[2];
    e[0].key = B("color"); e[0].value.kind = AMQP_FIELD_KIND_UTF8; e[0].value.value.bytes = B(i == 2 ? "blue" : "red");
    e[1].key = B("size"); e[1].value.kind = AMQP_FIELD_KIND_UTF8; e[1].value.value.bytes = B("big");
    amqp_basic_properties_t p; memset(&p, 0, sizeof p);
    p._flags = AMQP_BASIC_HEADERS_FLAG; p.headers.num_entries = i == 0 ? 2 : 1; p.headers.entries = e;
    publish(ch1, name("x-headers"), "", hb[i], &p, 0);
  }
  puts_(b, "\"direct\":"); drain(b, ch1, name("q-direct"));
  puts_(b, ",\"fanout\":"); drain(b, ch1, name("q-fanout"));
  puts_(b, ",\"topic\":"); drain(b, ch1, name("q-topic"));
  puts_(b, ",\"headers_all\":"); drain(b, ch1, name("q-headers-all"));
  puts_(b, ",\"headers_any\":"); drain(b, ch1, name("q-headers-any"));
}

static void s_confirms(buf *b) {
  int c = channel();
  CHECK(c > 0);
  amqp_confirm_select(conn, c);
  CHECK(RPC_OK());
  decl_queue(c, name("q-confirm"));
  publish(c, "", name("q-confirm"), "routable", NULL, 1);
  publish(c, "", name("missing"), "unroutable", NULL, 1);
  int acks = 0, nacks = 0, settled = 0;
  buf rets = {0};
  put(&rets, "", 0);
  while (settled < 2) {
    amqp_frame_t f;
    struct timeval tv = {5, 0};
    if (amqp_simple_wait_frame_noblock(conn, &f, &tv) != AMQP_STATUS_OK) FAIL("timed out waiting for confirms");
    if (f.frame_type != AMQP_FRAME_METHOD) continue;
    if (f.payload.method.id == AMQP_BASIC_ACK_METHOD) {
      amqp_basic_ack_t *a = f.payload.method.decoded;
      int n = a->multiple ? (int)a->delivery_tag - settled : 1;
      acks += n; settled += n;
    } else if (f.payload.method.id == AMQP_BASIC_NACK_METHOD) {
      amqp_basic_nack_t *a = f.payload.method.decoded;
      int n = a->multiple ? (int)a->delivery_tag - settled : 1;
      nacks += n; settled += n;
    } else if (f.payload.method.id == AMQP_BASIC_RETURN_METHOD) {
      amqp_basic_return_t *r = f.payload.method.decoded;
      int code = r->reply_code;
      buf one = {0};
      putf(&one, "{\"reply_code\":%d,\"reply_text\":", code); jbytes(&one, r->reply_text);
      puts_(&one, ",\"exchange\":"); jbytes(&one, r->exchange);
      puts_(&one, ",\"routing_key\":"); clean(&one, (const char *)r->routing_key.bytes, r->routing_key.len);
      amqp_message_t m;
      amqp_read_message(conn, c, &m, 0);
      puts_(&one, ",\"body\":"); jbytes(&one, m.body); puts_(&one, "}");
      amqp_destroy_message(&m);
      if (rets.n) puts_(&rets, ",");
      puts_(&rets, one.p); free(one.p);
    }
  }
  amqp_channel_close(conn, c, AMQP_REPLY_SUCCESS);
  putf(b, "\"acks\":%d,\"nacks\":%d,\"returns\":[%s],\"queued\":", acks, nacks, rets.p ? rets.p : "");
  drain(b, ch1, name("q-confirm"));
  free(rets.p);
}

/* Waits for a basic.deliver on any channel; returns 0 on timeout. */
static int next_delivery(amqp_envelope_t *env, int ms) {
  struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
  amqp_maybe_release_buffers(conn);
  amqp_rpc_reply_t r = amqp_consume_message(conn, env, &tv, 0);
  if (r.reply_type == AMQP_RESPONSE_NORMAL) return 1;
  return 0;
}

static void s_prefetch(buf *b) {
  const char *q = name("q-prefetch");
  decl_queue(ch1, q);
  char body[8];
  for (int i = 0; i < 5; i++) { snprintf(body, sizeof body, "p%d", i); publish(ch1, "", q, body, NULL, 0); }
  int c = channel();
  amqp_basic_qos(conn, c, 0, 2, 0);
  amqp_basic_consume(conn, c, B(q), amqp_empty_bytes, 0, 0, 0, amqp_empty_table);
  CHECK(RPC_OK());
  buf bodies = {0}, red = {0};
  uint64_t held[8]; int nheld = 0, got = 0, in_flight = 0;
  amqp_envelope_t env;
  while (got < 5) {
    if (got == 2 && in_flight == 0) {
      while (next_delivery(&env, 300)) { /* over-delivery would show here */
        putf(&bodies, ",\"%.*s\"", (int)env.message.body.len, (char *)env.message.body.bytes);
        putf(&red, ",%s", env.redelivered ? "true" : "false");
        held[nheld++] = env.delivery_tag; got++;
        amqp_destroy_envelope(&env);
      }
      in_flight = nheld;
      continue;
    }
    if (got >= 2) { for (int i = 0; i < nheld; i++) amqp_basic_ack(conn, c, held[i], 0); nheld = 0; }
    if (!next_delivery(&env, 5000)) FAIL("timed out");
    putf(&bodies, "%s\"%.*s\"", got ? "," : "", (int)env.message.body.len, (char *)env.message.body.bytes);
    putf(&red, "%s%s", got ? "," : "", env.redelivered ? "true" : "false");
    held[nheld++] = env.delivery_tag; got++;
    amqp_destroy_envelope(&env);
  }
  for (int i = 0; i < nheld; i++) amqp_basic_ack(conn, c, held[i], 0);
  amqp_channel_close(conn, c, AMQP_REPLY_SUCCESS);
  putf(b, "\"bodies\":[%s],\"redelivered\":[%s],\"in_flight_before_ack\":%d", bodies.p, red.p, in_flight);
  free(bodies.p); free(red.p);
}

/* basic.get with no_ack=0; returns 1 and fills m/tag/redelivered/count when a message came. */
static int get(int ch, const char *q, amqp_message_t *m, uint64_t *tag, int *redelivered, int *count) {
  amqp_maybe_release_buffers(conn);
  amqp_rpc_reply_t r = amqp_basic_get(conn, ch, B(q), 0);
  if (r.reply_type != AMQP_RESPONSE_NORMAL || r.reply.id != AMQP_BASIC_GET_OK_METHOD) return 0;
  amqp_basic_get_ok_t *ok = r.reply.decoded;
  *tag = ok->delivery_tag; *redelivered = ok->redelivered; *count = (int)ok->message_count;
  amqp_read_message(conn, ch, m, 0);
  return 1;
}

static void s_nack(buf *b) {
  const char *q = name("q-nack");
  decl_queue(ch1, q);
  publish(ch1, "", q, "n0", NULL, 0);
  amqp_message_t m1, m2, m3; uint64_t t1, t2, t3; int r1, r2, r3, c;
  CHECK(get(ch1, q, &m1, &t1, &r1, &c));
  amqp_basic_nack(conn, ch1, t1, 0, 1);
  CHECK(get(ch1, q, &m2, &t2, &r2, &c));
  amqp_basic_reject(conn, ch1, t2, 0);
  int more = get(ch1, q, &m3, &t3, &r3, &c);
  puts_(b, "\"first\":{\"body\":"); jbytes(b, m1.body); putf(b, ",\"redelivered\":%s}", r1 ? "true" : "false");
  puts_(b, ",\"second\":{\"body\":"); jbytes(b, m2.body); putf(b, ",\"redelivered\":%s}", r2 ? "true" : "false");
  putf(b, ",\"after_reject_empty\":%s", more ? "false" : "true");
  amqp_destroy_message(&m1); amqp_destroy_message(&m2);
}

static void s_get(buf *b) {
  const char *q = name("q-get");
  decl_queue(ch1, q);
  amqp_message_t m; uint64_t t; int r, c;
  int got0 = get(ch1, q, &m, &t, &r, &c);
  publish(ch1, "", q, "g0", NULL, 0);
  publish(ch1, "", q, "g1", NULL, 0);
  putf(b, "\"empty_first\":%s", got0 ? "false" : "true");
  const char *keys[] = {"first", "second"};
  for (int i = 0; i < 2; i++) {
    CHECK(get(ch1, q, &m, &t, &r, &c));
    amqp_basic_ack(conn, ch1, t, 0);
    putf(b, ",\"%s\":{\"body\":", keys[i]); jbytes(b, m.body);
    putf(b, ",\"message_count\":%d,\"redelivered\":%s}", c, r ? "true" : "false");
    amqp_destroy_message(&m);
  }
  putf(b, ",\"empty_after\":%s", get(ch1, q, &m, &t, &r, &c) ? "false" : "true");
}

static void s_rpc(buf *b) {
  const char *q = name("q-rpc");
  int server = channel(), client = channel();
  decl_queue(server, q);
  amqp_basic_consume(conn, server, B(q), amqp_empty_bytes, 0, 0, 0, amqp_empty_table);
  CHECK(RPC_OK());
  amqp_queue_declare_ok_t *ok = amqp_queue_declare(conn, client, amqp_empty_bytes, 0, 0, 1, 1, amqp_empty_table);
  CHECK(ok != NULL);
  char reply_q[256];
  snprintf(reply_q, sizeof reply_q, "%.*s", (int)ok->queue.len, (char *)ok->queue.bytes);
  amqp_basic_consume(conn, client, B(reply_q), amqp_empty_bytes, 0, 1, 0, amqp_empty_table);
  CHECK(RPC_OK());
  amqp_basic_properties_t p; memset(&p, 0, sizeof p);
  p._flags = AMQP_BASIC_REPLY_TO_FLAG | AMQP_BASIC_CORRELATION_ID_FLAG;
  p.reply_to = B(reply_q); p.correlation_id = B("corr-1");
  publish(client, "", q, "ping", &p, 0);
  amqp_envelope_t env;
  for (;;) {
    if (!next_delivery(&env, 5000)) FAIL("no rpc reply");
    if (env.channel == (amqp_channel_t)server) {
      char reply[256];
      snprintf(reply, sizeof reply, "pong:%.*s", (int)env.message.body.len, (char *)env.message.body.bytes);
      amqp_basic_properties_t rp; memset(&rp, 0, sizeof rp);
      rp._flags = AMQP_BASIC_CORRELATION_ID_FLAG; rp.correlation_id = env.message.properties.correlation_id;
      amqp_basic_publish(conn, server, B(""), env.message.properties.reply_to, 0, 0, &rp, B(reply));
      amqp_basic_ack(conn, server, env.delivery_tag, 0);
      amqp_destroy_envelope(&env);
      continue;
    }
    puts_(b, "\"reply\":"); jbytes(b, env.message.body);
    puts_(b, ",\"correlation_id\":"); jbytes(b, env.message.properties.correlation_id);
    amqp_destroy_envelope(&env);
    break;
  }
  amqp_channel_close(conn, server, AMQP_REPLY_SUCCESS);
  amqp_channel_close(conn, client, AMQP_REPLY_SUCCESS);
}

static int count(const char *q) {
  amqp_queue_declare_ok_t *ok = amqp_queue_declare(conn, ch1, B(q), 1, 0, 0, 0, amqp_empty_table);
  return ok ? (int)ok->message_count : -1;
}

static void s_tx(buf *b) {
  const char *q = name("q-tx");
  decl_queue(ch1, q);
  int t = channel();
  amqp_tx_select(conn, t); CHECK(RPC_OK());
  publish(t, "", q, "tx-rollback", NULL, 0);
  amqp_tx_rollback(conn, t); CHECK(RPC_OK());
  int after_rollback = count(q);
  publish(t, "", q, "tx-commit", NULL, 0);
  amqp_tx_commit(conn, t); CHECK(RPC_OK());
  int after_commit = count(q);
  amqp_channel_close(conn, t, AMQP_REPLY_SUCCESS);
  putf(b, "\"after_rollback\":%d,\"after_commit\":%d,\"bodies\":", after_rollback, after_commit);
  drain(b, ch1, q);
}

static void s_heartbeat(buf *b) {
  amqp_connection_state_t saved = conn;
  conn = open_conn(url_g, 1);
  struct timeval start, now;
  gettimeofday(&start, NULL);
  int dead = 0;
  for (;;) { /* idle ~3.5 s; rabbitmq-c services heartbeats only while waiting for frames */
    gettimeofday(&now, NULL);
    if ((now.tv_sec - start.tv_sec) * 1000 + (now.tv_usec - start.tv_usec) / 1000 > 3500) break;
    amqp_frame_t f;
    struct timeval tv = {0, 100000};
    int rc = amqp_simple_wait_frame_noblock(conn, &f, &tv);
    if (rc != AMQP_STATUS_OK && rc != AMQP_STATUS_TIMEOUT) { dead = 1; break; }
  }
  int alive = 0;
  if (!dead) {
    amqp_channel_open(conn, 1);
    amqp_queue_declare_ok_t *ok = amqp_queue_declare(conn, 1, amqp_empty_bytes, 0, 0, 1, 1, amqp_empty_table);
    if (ok) {
      char q[256];
      snprintf(q, sizeof q, "%.*s", (int)ok->queue.len, (char *)ok->queue.bytes);
      amqp_basic_publish(conn, 1, B(""), B(q), 0, 0, NULL, B("alive"));
      amqp_rpc_reply_t r = amqp_basic_get(conn, 1, B(q), 1);
      if (r.reply_type == AMQP_RESPONSE_NORMAL && r.reply.id == AMQP_BASIC_GET_OK_METHOD) {
        amqp_message_t m;
        amqp_read_message(conn, 1, &m, 0);
        alive = m.body.len == 5 && !memcmp(m.body.bytes, "alive", 5);
        amqp_destroy_message(&m);
      }
    }
    amqp_connection_close(conn, AMQP_REPLY_SUCCESS);
  }
  amqp_destroy_connection(conn);
  conn = saved;
  putf(b, "\"alive\":%s", alive ? "true" : "false");
}

/* A soft error: the broker's channel.close, answered with close-ok as the spec requires. */
static void close_reason(buf *b, int ch) {
  amqp_rpc_reply_t r = amqp_get_rpc_reply(conn);
  if (r.reply_type != AMQP_RESPONSE_SERVER_EXCEPTION || r.reply.id != AMQP_CHANNEL_CLOSE_METHOD) FAIL("expected a channel.close");
  amqp_channel_close_t *c = r.reply.decoded;
  putf(b, "\"reply_code\":%d,\"reply_text\":", c->reply_code);
  clean(b, (const char *)c->reply_text.bytes, c->reply_text.len);
  amqp_channel_close_ok_t close_ok;
  amqp_send_method(conn, ch, AMQP_CHANNEL_CLOSE_OK_METHOD, &close_ok);
  int probe = channel(); /* the connection must still be usable */
  putf(b, ",\"connection_open\":%s", probe > 0 ? "true" : "false");
  if (probe > 0) amqp_channel_close(conn, probe, AMQP_REPLY_SUCCESS);
}

static void s_404(buf *b) {
  int c = channel();
  amqp_queue_declare(conn, c, B(name("missing")), 1, 0, 0, 0, amqp_empty_table);
  close_reason(b, c);
}

static void s_406(buf *b) {
  int c = channel();
  amqp_queue_declare(conn, c, B(name("q-406")), 0, 0, 0, 0, amqp_empty_table);
  CHECK(RPC_OK());
  amqp_queue_declare(conn, c, B(name("q-406")), 0, 1, 0, 0, amqp_empty_table);
  close_reason(b, c);
}

static void s_cleanup(buf *b) {
  int c = channel();
  for (int i = 0; i < nnames; i++) {
    if (!strncmp(names[i][0], "x-", 2)) amqp_exchange_delete(conn, c, B(names[i][1]), 0);
    else if (!strncmp(names[i][0], "q-", 2)) amqp_queue_delete(conn, c, B(names[i][1]), 0, 0);
    CHECK(RPC_OK());
  }
  amqp_connection_close(conn, AMQP_REPLY_SUCCESS);
  puts_(b, "\"ok\":true");
}

/* ---- cross-language message ---- */
static void norm_value(buf *b, amqp_field_value_t *v);
static void norm_table(buf *b, amqp_table_t *t) {
  put(b, "{", 1);
  for (int i = 0; i < t->num_entries; i++) {
    if (i) put(b, ",", 1);
    jbytes(b, t->entries[i].key); put(b, ":", 1);
    norm_value(b, &t->entries[i].value);
  }
  put(b, "}", 1);
}
static void norm_value(buf *b, amqp_field_value_t *v) {
  switch (v->kind) {
    case AMQP_FIELD_KIND_BOOLEAN: puts_(b, v->value.boolean ? "true" : "false"); break;
    case AMQP_FIELD_KIND_I8: putf(b, "%d", v->value.i8); break;
    case AMQP_FIELD_KIND_U8: putf(b, "%u", v->value.u8); break;
    case AMQP_FIELD_KIND_I16: putf(b, "%d", v->value.i16); break;
    case AMQP_FIELD_KIND_U16: putf(b, "%u", v->value.u16); break;
    case AMQP_FIELD_KIND_I32: putf(b, "%d", v->value.i32); break;
    case AMQP_FIELD_KIND_U32: putf(b, "%u", v->value.u32); break;
    case AMQP_FIELD_KIND_I64: putf(b, "%lld", (long long)v->value.i64); break;
    case AMQP_FIELD_KIND_U64: putf(b, "%llu", (unsigned long long)v->value.u64); break;
    case AMQP_FIELD_KIND_F32: jdouble(b, v->value.f32); break;
    case AMQP_FIELD_KIND_F64: jdouble(b, v->value.f64); break;
    case AMQP_FIELD_KIND_DECIMAL: {
      char digits[32], out[80];
      long long val = (long long)(int32_t)v->value.decimal.value;
      int scale = v->value.decimal.decimals, neg = val < 0;
      snprintf(digits, sizeof digits, "%lld", neg ? -val : val);
      int len = (int)strlen(digits);
      if (scale > 0) {
        char padded[64]; int pad = scale + 1 - len > 0 ? scale + 1 - len : 0;
        snprintf(padded, sizeof padded, "%.*s%s", pad, "0000000000000000000000", digits);
        len = (int)strlen(padded);
        snprintf(out, sizeof out, "%s%.*s.%s", neg ? "-" : "", len - scale, padded, padded + len - scale);
      } else snprintf(out, sizeof out, "%s%s", neg ? "-" : "", digits);
      puts_(b, "{\"$dec\":"); jcstr(b, out); puts_(b, "}");
      break;
    }
    case AMQP_FIELD_KIND_UTF8: jbytes(b, v->value.bytes); break;
    case AMQP_FIELD_KIND_BYTES: puts_(b, "{\"$bytes\":\""); hex(b, v->value.bytes.bytes, v->value.bytes.len); puts_(b, "\"}"); break;
    case AMQP_FIELD_KIND_TIMESTAMP: putf(b, "{\"$ts\":%llu}", (unsigned long long)v->value.u64); break;
    case AMQP_FIELD_KIND_VOID: puts_(b, "null"); break;
    case AMQP_FIELD_KIND_TABLE: norm_table(b, &v->value.table); break;
    case AMQP_FIELD_KIND_ARRAY:
      put(b, "[", 1);
      for (int i = 0; i < v->value.array.num_entries; i++) { if (i) put(b, ",", 1); norm_value(b, &v->value.array.entries[i]); }
      put(b, "]", 1);
      break;
    default: putf(b, "{\"$unknown\":\"%c\"}", v->kind);
  }
}

static void message_json(buf *b, amqp_basic_properties_t *p, amqp_bytes_t body) {
  puts_(b, "{\"body_hex\":\""); hex(b, body.bytes, body.len); puts_(b, "\",\"properties\":{");
  int n = 0;
#define PROP_S(flag, key, field) if (p->_flags & flag) { putf(b, "%s\"%s\":", n++ ? "," : "", key); jbytes(b, p->field); }
#define PROP_I(flag, key, field) if (p->_flags & flag) { putf(b, "%s\"%s\":%llu", n++ ? "," : "", key, (unsigned long long)p->field); }
  PROP_S(AMQP_BASIC_CONTENT_TYPE_FLAG, "content_type", content_type)
  PROP_S(AMQP_BASIC_CONTENT_ENCODING_FLAG, "content_encoding", content_encoding)
  PROP_I(AMQP_BASIC_DELIVERY_MODE_FLAG, "delivery_mode", delivery_mode)
  PROP_I(AMQP_BASIC_PRIORITY_FLAG, "priority", priority)
  PROP_S(AMQP_BASIC_CORRELATION_ID_FLAG, "correlation_id", correlation_id)
  PROP_S(AMQP_BASIC_REPLY_TO_FLAG, "reply_to", reply_to)
  PROP_S(AMQP_BASIC_EXPIRATION_FLAG, "expiration", expiration)
  PROP_S(AMQP_BASIC_MESSAGE_ID_FLAG, "message_id", message_id)
  PROP_I(AMQP_BASIC_TIMESTAMP_FLAG, "timestamp", timestamp)
  PROP_S(AMQP_BASIC_TYPE_FLAG, "type", type)
  PROP_S(AMQP_BASIC_USER_ID_FLAG, "user_id", user_id)
  PROP_S(AMQP_BASIC_APP_ID_FLAG, "app_id", app_id)
  puts_(b, "},\"headers\":");
  if (p->_flags & AMQP_BASIC_HEADERS_FLAG) norm_table(b, &p->headers); else puts_(b, "{}");
  puts_(b, "}");
}

static amqp_field_value_t fv(char kind) { amqp_field_value_t v; memset(&v, 0, sizeof v); v.kind = (uint8_t)kind; return v; }

static void do_publish(const char *url, const char *exchange) {
  conn = open_conn(url, 0);
  amqp_channel_open(conn, 1);
  amqp_confirm_select(conn, 1);
  static uint8_t raw[] = {0x00, 0xff, 0x10};
  amqp_table_entry_t inner[2], e[16];
  amqp_field_value_t arr[3];
  inner[0].key = B("k"); inner[0].value = fv('S'); inner[0].value.value.bytes = B("v");
  inner[1].key = B("n"); inner[1].value = fv('I'); inner[1].value.value.i32 = 1;
  arr[0] = fv('S'); arr[0].value.bytes = B("a");
  arr[1] = fv('I'); arr[1].value.i32 = 1;
  arr[2] = fv('t'); arr[2].value.boolean = 1;
  int n = 0;
  e[n].key = B("str"); e[n].value = fv('S'); e[n++].value.value.bytes = B("h\xc3\xa9llo w\xc3\xb6rld");
  e[n].key = B("int"); e[n].value = fv('I'); e[n++].value.value.i32 = 42;
  e[n].key = B("neg"); e[n].value = fv('I'); e[n++].value.value.i32 = -7;
  e[n].key = B("big"); e[n].value = fv('l'); e[n++].value.value.i64 = 1099511627776LL;
  e[n].key = B("bool_t"); e[n].value = fv('t'); e[n++].value.value.boolean = 1;
  e[n].key = B("bool_f"); e[n].value = fv('t'); e[n++].value.value.boolean = 0;
  e[n].key = B("double"); e[n].value = fv('d'); e[n++].value.value.f64 = 1.5;
  e[n].key = B("float"); e[n].value = fv('f'); e[n++].value.value.f32 = 2.5f;
  e[n].key = B("i8"); e[n].value = fv('b'); e[n++].value.value.i8 = -8;
  e[n].key = B("i16"); e[n].value = fv('s'); e[n++].value.value.i16 = -300;
  e[n].key = B("dec"); e[n].value = fv('D'); e[n].value.value.decimal.decimals = 2; e[n++].value.value.decimal.value = 12345;
  e[n].key = B("ts"); e[n].value = fv('T'); e[n++].value.value.u64 = 1700000000;
  e[n].key = B("bytes"); e[n].value = fv('x'); e[n].value.value.bytes.bytes = raw; e[n++].value.value.bytes.len = 3;
  e[n].key = B("void"); e[n++].value = fv('V');
  e[n].key = B("table"); e[n].value = fv('F'); e[n].value.value.table.num_entries = 2; e[n++].value.value.table.entries = inner;
  e[n].key = B("array"); e[n].value = fv('A'); e[n].value.value.array.num_entries = 3; e[n++].value.value.array.entries = arr;
  amqp_basic_properties_t p; memset(&p, 0, sizeof p);
  p._flags = AMQP_BASIC_CONTENT_TYPE_FLAG | AMQP_BASIC_CONTENT_ENCODING_FLAG | AMQP_BASIC_HEADERS_FLAG | AMQP_BASIC_DELIVERY_MODE_FLAG |
             AMQP_BASIC_PRIORITY_FLAG | AMQP_BASIC_CORRELATION_ID_FLAG | AMQP_BASIC_REPLY_TO_FLAG | AMQP_BASIC_EXPIRATION_FLAG |
             AMQP_BASIC_MESSAGE_ID_FLAG | AMQP_BASIC_TIMESTAMP_FLAG | AMQP_BASIC_TYPE_FLAG | AMQP_BASIC_USER_ID_FLAG | AMQP_BASIC_APP_ID_FLAG;
  p.content_type = B("application/x-interop"); p.content_encoding = B("utf-8"); p.delivery_mode = 2; p.priority = 3;
  p.correlation_id = B("corr-" CLIENT); p.reply_to = B("reply-" CLIENT); p.expiration = B("600000");
  p.message_id = B("msg-" CLIENT); p.timestamp = 1700000000; p.type = B("interop.test"); p.user_id = B("guest"); p.app_id = B(CLIENT);
  p.headers.num_entries = n; p.headers.entries = e;
  static const char text[] = "hello from " CLIENT " \xe2\x9c\x93 \xc3\xa9\0end";
  amqp_bytes_t body = {sizeof text - 1, (void *)text};
  amqp_basic_publish(conn, 1, B(exchange), B("interop"), 0, 0, &p, body);
  amqp_frame_t f;
  struct timeval tv = {10, 0};
  if (amqp_simple_wait_frame_noblock(conn, &f, &tv) != AMQP_STATUS_OK || f.payload.method.id != AMQP_BASIC_ACK_METHOD) {
    fprintf(stderr, "publish not confirmed\n"); exit(1);
  }
  buf out = {0};
  puts_(&out, "{\"sent\":"); message_json(&out, &p, body); puts_(&out, "}");
  printf("%s\n", out.p);
  amqp_connection_close(conn, AMQP_REPLY_SUCCESS);
}

static void do_consume(const char *url, int nq, char **queues) {
  conn = open_conn(url, 0);
  amqp_channel_open(conn, 1);
  for (int i = 0; i < nq; i++) {
    amqp_message_t m; uint64_t tag; int red, c, ok = 0;
    for (int tries = 0; tries < 200 && !(ok = get(1, queues[i], &m, &tag, &red, &c)); tries++) usleep(50000);
    buf out = {0};
    puts_(&out, "{\"queue\":"); jcstr(&out, queues[i]);
    if (!ok) puts_(&out, ",\"error\":\"no message\"}");
    else {
      amqp_basic_ack(conn, 1, tag, 0);
      puts_(&out, ",\"received\":"); message_json(&out, &m.properties, m.body); puts_(&out, "}");
      amqp_destroy_message(&m);
    }
    printf("%s\n", out.p);
    fflush(stdout);
    free(out.p);
  }
  amqp_connection_close(conn, AMQP_REPLY_SUCCESS);
}

int main(int argc, char **argv) {
  srand((unsigned)(time(NULL) ^ getpid()));
  const char *mode = argc > 1 ? argv[1] : "scenario";
  const char *env = getenv("AMQP_URL");
  url_g = argc > 2 ? argv[2] : (char *)(env ? env : "amqp://guest:guest@127.0.0.1:5672");
  if (!strcmp(mode, "publish") && argc > 3) { do_publish(url_g, argv[3]); return 0; }
  if (!strcmp(mode, "consume")) { do_consume(url_g, argc - 3, argv + 3); return 0; }
  if (strcmp(mode, "scenario")) { fprintf(stderr, "usage: interop-c scenario [URL] | publish URL EXCHANGE | consume URL QUEUE...\n"); return 2; }
  conn = open_conn(url_g, 0);
  ch1 = channel();
  step("connect", s_connect);
  step("exchanges", s_exchanges);
  step("confirms", s_confirms);
  step("prefetch", s_prefetch);
  step("nack_requeue", s_nack);
  step("basic_get", s_get);
  step("rpc", s_rpc);
  step("tx", s_tx);
  step("heartbeat", s_heartbeat);
  step("error_404", s_404);
  step("error_406", s_406);
  step("cleanup", s_cleanup);
  printf("{\"step\":\"done\",\"failed\":[%s]}\n", failed);
  return nfailed ? 1 : 0;
}
