// Interop scenario for the RabbitMQ Java client (Debian librabbitmq-client-java, compiled with javac at
// test time). Usage: InteropClient scenario [URL] | publish URL EXCHANGE | consume URL QUEUE...
// Prints one JSON line per step (interop/README.md, "Trace format"); exits non-zero when a step failed.
import com.rabbitmq.client.*;

import java.io.IOException;
import java.math.BigDecimal;
import java.nio.charset.StandardCharsets;
import java.util.*;
import java.util.concurrent.*;

public class InteropClient {
    static final String CLIENT = "java";
    static final Map<String, String> names = new LinkedHashMap<>();
    static final List<String> failed = new ArrayList<>();
    static final Random random = new Random();

    interface Step { Map<String, Object> run() throws Exception; }

    static String name(String sym) {
        return names.computeIfAbsent(sym, s -> String.format("interop-%s-%d-%06x-%s", CLIENT, ProcessHandle.current().pid(), random.nextInt(1 << 24), s));
    }

    static String clean(String text) {
        for (Map.Entry<String, String> e : names.entrySet()) text = text.replace(e.getValue(), "<" + e.getKey() + ">");
        return text;
    }

    static Map<String, Object> obs(Object... kv) {
        Map<String, Object> m = new LinkedHashMap<>();
        for (int i = 0; i < kv.length; i += 2) m.put((String) kv[i], kv[i + 1]);
        return m;
    }

    static void emit(Map<String, Object> o) {
        StringBuilder sb = new StringBuilder();
        json(sb, o);
        System.out.println(sb);
        System.out.flush();
    }

    static void step(String stepName, Step fn) {
        try {
            Map<String, Object> o = new LinkedHashMap<>();
            o.put("step", stepName);
            o.putAll(fn.run());
            emit(o);
        } catch (Throwable t) {
            failed.add(stepName);
            emit(obs("step", stepName, "error", t.toString()));
        }
    }

    @SuppressWarnings("unchecked")
    static void json(StringBuilder sb, Object v) {
        if (v == null) sb.append("null");
        else if (v instanceof String) {
            sb.append('"');
            for (char c : ((String) v).toCharArray()) {
                if (c == '"' || c == '\\') sb.append('\\').append(c);
                else if (c < 0x20) sb.append(String.format("\\u%04x", (int) c));
                else sb.append(c);
            }
            sb.append('"');
        } else if (v instanceof Boolean || v instanceof Integer || v instanceof Long || v instanceof Short || v instanceof Byte) sb.append(v);
        else if (v instanceof Float || v instanceof Double) {
            double d = ((Number) v).doubleValue();
            if (d == Math.rint(d) && !Double.isInfinite(d) && Math.abs(d) < 1e15) sb.append((long) d);
            else sb.append(Double.toString(d));
        } else if (v instanceof Map) {
            sb.append('{');
            boolean first = true;
            for (Map.Entry<String, Object> e : ((Map<String, Object>) v).entrySet()) {
                if (!first) sb.append(',');
                first = false;
                json(sb, e.getKey());
                sb.append(':');
                json(sb, e.getValue());
            }
            sb.append('}');
        } else if (v instanceof List) {
            sb.append('[');
            boolean first = true;
            for (Object e : (List<Object>) v) {
                if (!first) sb.append(',');
                first = false;
                json(sb, e);
            }
            sb.append(']');
        } else sb.append('"').append(v).append('"');
    }

    static String s(byte[] b) { return new String(b, StandardCharsets.UTF_8); }
    static byte[] b(String s) { return s.getBytes(StandardCharsets.UTF_8); }

    static List<Object> drain(Channel ch, String q) throws IOException {
        List<Object> out = new ArrayList<>();
        for (GetResponse r; (r = ch.basicGet(q, true)) != null; ) out.add(s(r.getBody()));
        return out;
    }

    static Connection connect(String url, int heartbeat) throws Exception {
        ConnectionFactory f = new ConnectionFactory();
        f.setUri(url);
        f.setAutomaticRecoveryEnabled(false);
        if (heartbeat > 0) f.setRequestedHeartbeat(heartbeat);
        return f.newConnection();
    }

    static Map<String, Object> closeReason(Exception e, Connection conn) {
        Throwable t = e;
        while (t != null && !(t instanceof ShutdownSignalException)) t = t.getCause();
        if (t == null) return obs("raised", e.toString());
        Method reason = ((ShutdownSignalException) t).getReason();
        if (reason instanceof AMQP.Channel.Close) {
            AMQP.Channel.Close c = (AMQP.Channel.Close) reason;
            return obs("reply_code", c.getReplyCode(), "reply_text", clean(c.getReplyText()), "connection_open", conn.isOpen());
        }
        return obs("raised", reason.toString());
    }

    static void scenario(String url) throws Exception {
        Connection conn = connect(url, 0);
        Channel ch = conn.createChannel();
        step("connect", () -> obs("ok", conn.isOpen()));

        step("exchanges", () -> {
            for (String t : new String[] {"direct", "fanout", "topic", "headers"}) ch.exchangeDeclare(name("x-" + t), t);
            for (String q : new String[] {"q-direct", "q-fanout", "q-topic", "q-headers-all", "q-headers-any"}) ch.queueDeclare(name(q), false, false, false, null);
            ch.queueBind(name("q-direct"), name("x-direct"), "k1");
            ch.queueBind(name("q-fanout"), name("x-fanout"), "ignored");
            ch.queueBind(name("q-topic"), name("x-topic"), "a.*.c");
            ch.queueBind(name("q-topic"), name("x-topic"), "x.#");
            ch.queueBind(name("q-headers-all"), name("x-headers"), "", obs("x-match", "all", "color", "red", "size", "big"));
            ch.queueBind(name("q-headers-any"), name("x-headers"), "", obs("x-match", "any", "color", "red", "size", "big"));
            for (String k : new String[] {"k1", "k2"}) ch.basicPublish(name("x-direct"), k, null, b(k));
            ch.basicPublish(name("x-fanout"), "x", null, b("f1"));
            ch.basicPublish(name("x-fanout"), "", null, b("f2"));
            for (String k : new String[] {"a.b.c", "a.b", "x", "x.y.z", "a.b.c.d"}) ch.basicPublish(name("x-topic"), k, null, b(k));
            Object[][] hs = {{"h-all", obs("color", "red", "size", "big")}, {"h-one", obs("color", "red")}, {"h-none", obs("color", "blue")}};
            for (Object[] h : hs) {
                @SuppressWarnings("unchecked") Map<String, Object> headers = (Map<String, Object>) h[1];
                ch.basicPublish(name("x-headers"), "", new AMQP.BasicProperties.Builder().headers(headers).build(), b((String) h[0]));
            }
            return obs("direct", drain(ch, name("q-direct")), "fanout", drain(ch, name("q-fanout")), "topic", drain(ch, name("q-topic")),
                "headers_all", drain(ch, name("q-headers-all")), "headers_any", drain(ch, name("q-headers-any")));
        });

        step("confirms", () -> {
            Channel c = conn.createChannel();
            List<Object> returns = Collections.synchronizedList(new ArrayList<>());
            c.addReturnListener((code, text, exchange, rk, props, body) ->
                returns.add(obs("reply_code", code, "reply_text", text, "exchange", exchange, "routing_key", clean(rk), "body", s(body))));
            SortedSet<Long> pending = Collections.synchronizedSortedSet(new TreeSet<>());
            int[] counts = new int[2];
            c.addConfirmListener(new ConfirmListener() {
                void settle(long tag, boolean multiple, int which) {
                    synchronized (pending) {
                        Set<Long> done = multiple ? new TreeSet<>(pending.headSet(tag + 1)) : (pending.contains(tag) ? Set.of(tag) : Set.of());
                        counts[which] += done.size();
                        pending.removeAll(done);
                    }
                }
                public void handleAck(long tag, boolean multiple) { settle(tag, multiple, 0); }
                public void handleNack(long tag, boolean multiple) { settle(tag, multiple, 1); }
            });
            c.confirmSelect();
            c.queueDeclare(name("q-confirm"), false, false, false, null);
            pending.add(c.getNextPublishSeqNo());
            c.basicPublish("", name("q-confirm"), true, null, b("routable"));
            pending.add(c.getNextPublishSeqNo());
            c.basicPublish("", name("missing"), true, null, b("unroutable"));
            c.waitForConfirms(5000);
            c.close();
            return obs("acks", counts[0], "nacks", counts[1], "returns", new ArrayList<>(returns), "queued", drain(ch, name("q-confirm")));
        });

        step("prefetch", () -> {
            String q = name("q-prefetch");
            ch.queueDeclare(q, false, false, false, null);
            for (int i = 0; i < 5; i++) ch.basicPublish("", q, null, b("p" + i));
            Channel c = conn.createChannel();
            c.basicQos(2);
            BlockingQueue<Object[]> got = new LinkedBlockingQueue<>();
            String tag = c.basicConsume(q, false, new DefaultConsumer(c) {
                @Override public void handleDelivery(String ct, Envelope env, AMQP.BasicProperties p, byte[] body) { got.add(new Object[] {env, s(body)}); }
            });
            List<Object> bodies = new ArrayList<>(), red = new ArrayList<>();
            List<Envelope> held = new ArrayList<>();
            for (int i = 0; i < 2; i++) {
                Object[] d = got.poll(5, TimeUnit.SECONDS);
                if (d == null) throw new IllegalStateException("timed out");
                held.add((Envelope) d[0]); bodies.add(d[1]); red.add(((Envelope) d[0]).isRedeliver());
            }
            Thread.sleep(300); // give the broker a chance to over-deliver
            for (Object[] d; (d = got.poll()) != null; ) { held.add((Envelope) d[0]); bodies.add(d[1]); red.add(((Envelope) d[0]).isRedeliver()); }
            int inFlight = held.size();
            while (bodies.size() < 5) {
                for (Envelope e : held) c.basicAck(e.getDeliveryTag(), false);
                held.clear();
                Object[] d = got.poll(5, TimeUnit.SECONDS);
                if (d == null) throw new IllegalStateException("timed out");
                held.add((Envelope) d[0]); bodies.add(d[1]); red.add(((Envelope) d[0]).isRedeliver());
            }
            for (Envelope e : held) c.basicAck(e.getDeliveryTag(), false);
            c.basicCancel(tag);
            c.close();
            return obs("bodies", bodies, "redelivered", red, "in_flight_before_ack", inFlight);
        });

        step("nack_requeue", () -> {
            String q = name("q-nack");
            ch.queueDeclare(q, false, false, false, null);
            ch.basicPublish("", q, null, b("n0"));
            GetResponse m1 = ch.basicGet(q, false);
            ch.basicNack(m1.getEnvelope().getDeliveryTag(), false, true);
            GetResponse m2 = ch.basicGet(q, false);
            ch.basicReject(m2.getEnvelope().getDeliveryTag(), false);
            GetResponse m3 = ch.basicGet(q, false);
            return obs("first", obs("body", s(m1.getBody()), "redelivered", m1.getEnvelope().isRedeliver()),
                "second", obs("body", s(m2.getBody()), "redelivered", m2.getEnvelope().isRedeliver()),
                "after_reject_empty", m3 == null);
        });

        step("basic_get", () -> {
            String q = name("q-get");
            ch.queueDeclare(q, false, false, false, null);
            Map<String, Object> o = obs("empty_first", ch.basicGet(q, false) == null);
            ch.basicPublish("", q, null, b("g0"));
            ch.basicPublish("", q, null, b("g1"));
            for (String k : new String[] {"first", "second"}) {
                GetResponse r = ch.basicGet(q, false);
                ch.basicAck(r.getEnvelope().getDeliveryTag(), false);
                o.put(k, obs("body", s(r.getBody()), "message_count", r.getMessageCount(), "redelivered", r.getEnvelope().isRedeliver()));
            }
            o.put("empty_after", ch.basicGet(q, false) == null);
            return o;
        });

        step("rpc", () -> {
            String q = name("q-rpc");
            Channel server = conn.createChannel();
            server.queueDeclare(q, false, false, false, null);
            server.basicConsume(q, false, new DefaultConsumer(server) {
                @Override public void handleDelivery(String ct, Envelope env, AMQP.BasicProperties p, byte[] body) throws IOException {
                    server.basicPublish("", p.getReplyTo(), new AMQP.BasicProperties.Builder().correlationId(p.getCorrelationId()).build(), b("pong:" + s(body)));
                    server.basicAck(env.getDeliveryTag(), false);
                }
            });
            Channel client = conn.createChannel();
            String replyQ = client.queueDeclare("", false, true, true, null).getQueue();
            BlockingQueue<Object[]> replies = new LinkedBlockingQueue<>();
            client.basicConsume(replyQ, true, new DefaultConsumer(client) {
                @Override public void handleDelivery(String ct, Envelope env, AMQP.BasicProperties p, byte[] body) { replies.add(new Object[] {s(body), p.getCorrelationId()}); }
            });
            client.basicPublish("", q, new AMQP.BasicProperties.Builder().replyTo(replyQ).correlationId("corr-1").build(), b("ping"));
            Object[] r = replies.poll(5, TimeUnit.SECONDS);
            if (r == null) throw new IllegalStateException("no rpc reply");
            server.close();
            client.close();
            return obs("reply", r[0], "correlation_id", r[1]);
        });

        step("tx", () -> {
            String q = name("q-tx");
            ch.queueDeclare(q, false, false, false, null);
            Channel t = conn.createChannel();
            t.txSelect();
            t.basicPublish("", q, null, b("tx-rollback"));
            t.txRollback();
            int afterRollback = ch.queueDeclarePassive(q).getMessageCount();
            t.basicPublish("", q, null, b("tx-commit"));
            t.txCommit();
            int afterCommit = ch.queueDeclarePassive(q).getMessageCount();
            t.close();
            return obs("after_rollback", afterRollback, "after_commit", afterCommit, "bodies", drain(ch, q));
        });

        step("heartbeat", () -> {
            Connection hb = connect(url, 1);
            Thread.sleep(3500); // idle; the client's heartbeat sender keeps the connection alive
            Channel c = hb.createChannel();
            String q = c.queueDeclare().getQueue();
            c.basicPublish("", q, null, b("alive"));
            GetResponse r = c.basicGet(q, true);
            boolean alive = hb.isOpen() && r != null && s(r.getBody()).equals("alive");
            hb.close();
            return obs("alive", alive);
        });

        step("error_404", () -> {
            Channel c = conn.createChannel();
            try {
                c.queueDeclarePassive(name("missing"));
                return obs("raised", false);
            } catch (IOException e) {
                return closeReason(e, conn);
            }
        });

        step("error_406", () -> {
            Channel c = conn.createChannel();
            c.queueDeclare(name("q-406"), false, false, false, null);
            try {
                c.queueDeclare(name("q-406"), true, false, false, null);
                return obs("raised", false);
            } catch (IOException e) {
                return closeReason(e, conn);
            }
        });

        step("cleanup", () -> {
            Channel c = conn.createChannel();
            for (Map.Entry<String, String> e : names.entrySet()) {
                if (e.getKey().startsWith("x-")) c.exchangeDelete(e.getValue());
                else if (e.getKey().startsWith("q-")) c.queueDelete(e.getValue());
            }
            conn.close();
            return obs("ok", true);
        });
        emit(obs("step", "done", "failed", failed));
        System.exit(failed.isEmpty() ? 0 : 1);
    }

    /** The suite's JSON normal form of a decoded field value (README: header normal form). */
    @SuppressWarnings("unchecked")
    static Object norm(Object v) {
        if (v == null || v instanceof Boolean || v instanceof Number && !(v instanceof BigDecimal) || v instanceof String) return v;
        if (v instanceof LongString) return v.toString();
        if (v instanceof BigDecimal) return obs("$dec", ((BigDecimal) v).toPlainString());
        if (v instanceof Date) return obs("$ts", ((Date) v).getTime() / 1000);
        if (v instanceof byte[]) {
            StringBuilder sb = new StringBuilder();
            for (byte x : (byte[]) v) sb.append(String.format("%02x", x));
            return obs("$bytes", sb.toString());
        }
        if (v instanceof Map) {
            Map<String, Object> o = new TreeMap<>();
            for (Map.Entry<String, Object> e : ((Map<String, Object>) v).entrySet()) o.put(e.getKey(), norm(e.getValue()));
            return o;
        }
        if (v instanceof List) {
            List<Object> a = new ArrayList<>();
            for (Object e : (List<Object>) v) a.add(norm(e));
            return a;
        }
        return obs("$unknown", v.getClass().getName() + " " + v);
    }

    static Map<String, Object> canonicalHeaders() {
        Map<String, Object> h = new LinkedHashMap<>();
        h.put("str", "héllo wörld"); h.put("int", 42); h.put("neg", -7); h.put("big", 1099511627776L);
        h.put("bool_t", true); h.put("bool_f", false); h.put("double", 1.5d); h.put("float", 2.5f);
        h.put("i8", (byte) -8); h.put("i16", (short) -300); h.put("dec", new BigDecimal("123.45"));
        h.put("ts", new Date(1700000000000L)); h.put("bytes", new byte[] {0x00, (byte) 0xff, 0x10}); h.put("void", null);
        h.put("table", obs("k", "v", "n", 1)); h.put("array", Arrays.asList("a", 1, true));
        return h;
    }

    static Map<String, Object> propsJson(AMQP.BasicProperties p) {
        Map<String, Object> o = new LinkedHashMap<>();
        BiConsumerX put = (k, v) -> { if (v != null) o.put(k, v); };
        put.put("content_type", p.getContentType());
        put.put("content_encoding", p.getContentEncoding());
        put.put("delivery_mode", p.getDeliveryMode());
        put.put("priority", p.getPriority());
        put.put("correlation_id", p.getCorrelationId());
        put.put("reply_to", p.getReplyTo());
        put.put("expiration", p.getExpiration());
        put.put("message_id", p.getMessageId());
        put.put("timestamp", p.getTimestamp() == null ? null : p.getTimestamp().getTime() / 1000);
        put.put("type", p.getType());
        put.put("user_id", p.getUserId());
        put.put("app_id", p.getAppId());
        return o;
    }

    interface BiConsumerX { void put(String k, Object v); }

    static Map<String, Object> message(byte[] body, AMQP.BasicProperties p) {
        StringBuilder hex = new StringBuilder();
        for (byte x : body) hex.append(String.format("%02x", x));
        return obs("body_hex", hex.toString(), "properties", propsJson(p), "headers", norm(p.getHeaders() == null ? new HashMap<String, Object>() : p.getHeaders()));
    }

    static void publish(String url, String exchange) throws Exception {
        Connection conn = connect(url, 0);
        Channel ch = conn.createChannel();
        ch.confirmSelect();
        AMQP.BasicProperties p = new AMQP.BasicProperties.Builder()
            .contentType("application/x-interop").contentEncoding("utf-8").deliveryMode(2).priority(3)
            .correlationId("corr-" + CLIENT).replyTo("reply-" + CLIENT).expiration("600000").messageId("msg-" + CLIENT)
            .timestamp(new Date(1700000000000L)).type("interop.test").userId("guest").appId(CLIENT)
            .headers(canonicalHeaders()).build();
        byte[] body = b("hello from " + CLIENT + " ✓ é\u0000end");
        ch.basicPublish(exchange, "interop", p, body);
        ch.waitForConfirmsOrDie(10000);
        conn.close();
        emit(obs("sent", message(body, p)));
    }

    static void consume(String url, List<String> queues) throws Exception {
        Connection conn = connect(url, 0);
        Channel ch = conn.createChannel();
        for (String q : queues) {
            long deadline = System.currentTimeMillis() + 10000;
            GetResponse r;
            while ((r = ch.basicGet(q, false)) == null && System.currentTimeMillis() < deadline) Thread.sleep(50);
            if (r == null) { emit(obs("queue", q, "error", "no message in " + q)); continue; }
            ch.basicAck(r.getEnvelope().getDeliveryTag(), false);
            emit(obs("queue", q, "received", message(r.getBody(), r.getProps())));
        }
        conn.close();
    }

    public static void main(String[] args) throws Exception {
        String mode = args.length > 0 ? args[0] : "scenario";
        String env = System.getenv("AMQP_URL");
        String url = args.length > 1 ? args[1] : (env != null ? env : "amqp://guest:guest@127.0.0.1:5672");
        switch (mode) {
            case "scenario": scenario(url); break;
            case "publish": publish(url, args[2]); break;
            case "consume": consume(url, Arrays.asList(args).subList(2, args.length)); break;
            default: System.err.println("usage: InteropClient scenario [URL] | publish URL EXCHANGE | consume URL QUEUE..."); System.exit(2);
        }
        System.exit(0);
    }
}
