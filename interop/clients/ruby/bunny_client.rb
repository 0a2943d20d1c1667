#!/usr/bin/ruby
# Interop scenario for Ruby bunny (Debian ruby-bunny).
#
# Usage: bunny_client.rb scenario [URL] | publish URL EXCHANGE | consume URL QUEUE...
# Prints one JSON line per step (interop/README.md, "Trace format"); exits non-zero when a step failed.
require 'bunny'
require 'json'
require 'bigdecimal'
require 'logger'

CLIENT = 'bunny'
$names = {}
$failed = []

def name(sym)
  $names[sym] ||= format('interop-%s-%d-%06x-%s', CLIENT, Process.pid, rand(1 << 24), sym)
end

def clean(text)
  $names.each { |sym, real| text = text.gsub(real, "<#{sym}>") }
  text
end

def emit(obj)
  $stdout.puts(JSON.generate(obj))
  $stdout.flush
end

def step(step_name)
  observed = yield
  emit({ 'step' => step_name }.merge(observed))
rescue StandardError => e
  $failed << step_name
  emit({ 'step' => step_name, 'error' => "#{e.class}: #{e.message}" })
end

def drain(ch, q)
  out = []
  loop do
    _i, _p, body = ch.basic_get(q, manual_ack: false)
    return out if body.nil?
    out << body
  end
end

def wait_until(seconds = 5)
  deadline = Time.now + seconds
  sleep 0.02 until yield || Time.now > deadline
end

# Queue#pop(timeout:) arrived in Ruby 3.2; Debian 12 has 3.1.
def pop_within(queue, seconds = 5)
  deadline = Time.now + seconds
  loop do
    return queue.pop(true) unless queue.empty?
    return nil if Time.now > deadline
    sleep 0.01
  end
end

def open_connection(url, opts = {})
  url = url.sub(%r{/\z}, '') # bunny reads a bare trailing slash as the empty vhost; everyone else as '/'
  c = Bunny.new(url, { logger: Logger.new(nil), automatically_recover: false }.merge(opts))
  c.start
  c
end

def scenario(url)
  conn = open_connection(url)
  ch = conn.create_channel
  step('connect') { { 'ok' => conn.open? } }

  step('exchanges') do
    %w[direct fanout topic headers].each { |t| ch.exchange_declare(name("x-#{t}"), t) }
    %w[q-direct q-fanout q-topic q-headers-all q-headers-any].each { |q| ch.queue_declare(name(q)) }
    ch.queue_bind(name('q-direct'), name('x-direct'), routing_key: 'k1')
    ch.queue_bind(name('q-fanout'), name('x-fanout'), routing_key: 'ignored')
    ch.queue_bind(name('q-topic'), name('x-topic'), routing_key: 'a.*.c')
    ch.queue_bind(name('q-topic'), name('x-topic'), routing_key: 'x.#')
    ch.queue_bind(name('q-headers-all'), name('x-headers'), arguments: { 'x-match' => 'all', 'color' => 'red', 'size' => 'big' })
    ch.queue_bind(name('q-headers-any'), name('x-headers'), arguments: { 'x-match' => 'any', 'color' => 'red', 'size' => 'big' })
    %w[k1 k2].each { |k| ch.basic_publish(k, name('x-direct'), k) }
    ch.basic_publish('f1', name('x-fanout'), 'x')
    ch.basic_publish('f2', name('x-fanout'), '')
    %w[a.b.c a.b x x.y.z a.b.c.d].each { |k| ch.basic_publish(k, name('x-topic'), k) }
    [['h-all', { 'color' => 'red', 'size' => 'big' }], ['h-one', { 'color' => 'red' }], ['h-none', { 'color' => 'blue' }]].each do |b, h|
      ch.basic_publish(b, name('x-headers'), '', headers: h)
    end
    { 'direct' => drain(ch, name('q-direct')), 'fanout' => drain(ch, name('q-fanout')), 'topic' => drain(ch, name('q-topic')),
      'headers_all' => drain(ch, name('q-headers-all')), 'headers_any' => drain(ch, name('q-headers-any')) }
  end

  step('confirms') do
    c = conn.create_channel
    c.confirm_select
    returns = []
    x = c.default_exchange
    x.on_return do |info, _props, body|
      returns << { 'reply_code' => info.reply_code, 'reply_text' => info.reply_text, 'exchange' => info.exchange,
                   'routing_key' => clean(info.routing_key), 'body' => body }
    end
    c.queue_declare(name('q-confirm'))
    x.publish('routable', routing_key: name('q-confirm'), mandatory: true)
    x.publish('unroutable', routing_key: name('missing'), mandatory: true)
    all_acked = c.wait_for_confirms
    wait_until(2) { !returns.empty? }
    nacks = c.nacked_set.size
    c.close
    acks = 2 - nacks - c.unconfirmed_set.size
    { 'acks' => acks, 'nacks' => nacks, 'returns' => returns, 'queued' => drain(ch, name('q-confirm')),
      'all_acked' => all_acked }.tap { |o| o.delete('all_acked') if all_acked }
  end

  step('prefetch') do
    q = name('q-prefetch')
    ch.queue_declare(q)
    5.times { |i| ch.basic_publish("p#{i}", '', q) }
    c = conn.create_channel
    c.prefetch(2)
    got = Queue.new
    bodies = []
    red = []
    consumer = c.queue(q, passive: true).subscribe(manual_ack: true) { |info, _p, body| got << [info, body] }
    held = []
    2.times do
      info, body = pop_within(got)
      raise 'timed out' if info.nil?
      held << info
      bodies << body
      red << info.redelivered?
    end
    sleep 0.3 # give the broker a chance to over-deliver
    until got.empty?
      info, body = got.pop
      held << info
      bodies << body
      red << info.redelivered?
    end
    in_flight = held.size
    while bodies.size < 5
      held.each { |i| c.ack(i.delivery_tag) }
      held.clear
      info, body = pop_within(got)
      raise 'timed out' if info.nil?
      held << info
      bodies << body
      red << info.redelivered?
    end
    held.each { |i| c.ack(i.delivery_tag) }
    consumer.cancel
    c.close
    { 'bodies' => bodies, 'redelivered' => red, 'in_flight_before_ack' => in_flight }
  end

  step('nack_requeue') do
    q = name('q-nack')
    ch.queue_declare(q)
    ch.basic_publish('n0', '', q)
    i1, _p, b1 = ch.basic_get(q, manual_ack: true)
    ch.nack(i1.delivery_tag, false, true)
    i2, _p, b2 = ch.basic_get(q, manual_ack: true)
    ch.reject(i2.delivery_tag, false)
    _i3, _p, b3 = ch.basic_get(q, manual_ack: true)
    { 'first' => { 'body' => b1, 'redelivered' => i1.redelivered }, 'second' => { 'body' => b2, 'redelivered' => i2.redelivered },
      'after_reject_empty' => b3.nil? }
  end

  step('basic_get') do
    q = name('q-get')
    ch.queue_declare(q)
    _i, _p, b0 = ch.basic_get(q, manual_ack: true)
    ch.basic_publish('g0', '', q)
    ch.basic_publish('g1', '', q)
    o = { 'empty_first' => b0.nil? }
    %w[first second].each do |k|
      i, _p, b = ch.basic_get(q, manual_ack: true)
      ch.ack(i.delivery_tag)
      o[k] = { 'body' => b, 'message_count' => i.message_count, 'redelivered' => i.redelivered }
    end
    o['empty_after'] = ch.basic_get(q, manual_ack: true)[2].nil?
    o
  end

  step('rpc') do
    q = name('q-rpc')
    server = conn.create_channel
    server.queue_declare(q)
    server_consumer = server.queue(q, passive: true).subscribe(manual_ack: true) do |info, props, body|
      server.default_exchange.publish("pong:#{body}", routing_key: props.reply_to, correlation_id: props.correlation_id)
      server.ack(info.delivery_tag)
    end
    client = conn.create_channel
    reply_q = client.queue('', exclusive: true)
    replies = Queue.new
    reply_q.subscribe { |_i, props, body| replies << [body, props.correlation_id] }
    client.default_exchange.publish('ping', routing_key: q, reply_to: reply_q.name, correlation_id: 'corr-1')
    body, corr = pop_within(replies)
    server_consumer.cancel
    server.close
    client.close
    { 'reply' => body, 'correlation_id' => corr }
  end

  step('tx') do
    q = name('q-tx')
    ch.queue_declare(q)
    t = conn.create_channel
    t.tx_select
    t.basic_publish('tx-rollback', '', q)
    t.tx_rollback
    after_rollback = ch.queue_declare(q, passive: true).message_count
    t.basic_publish('tx-commit', '', q)
    t.tx_commit
    after_commit = ch.queue_declare(q, passive: true).message_count
    t.close
    { 'after_rollback' => after_rollback, 'after_commit' => after_commit, 'bodies' => drain(ch, q) }
  end

  step('heartbeat') do
    hb = open_connection(url, heartbeat: 1)
    sleep 3.5 # idle; bunny's heartbeat sender keeps the connection alive
    c = hb.create_channel
    q = c.queue('', exclusive: true)
    c.default_exchange.publish('alive', routing_key: q.name)
    _i, _p, body = q.pop
    alive = hb.open? && body == 'alive'
    hb.close
    { 'alive' => alive }
  end

  step('error_404') do
    c = conn.create_channel
    begin
      c.queue_declare(name('missing'), passive: true)
      { 'raised' => false }
    rescue Bunny::NotFound => e
      { 'reply_code' => e.channel_close.reply_code, 'reply_text' => clean(e.channel_close.reply_text), 'connection_open' => conn.open? }
    end
  end

  step('error_406') do
    c = conn.create_channel
    c.queue_declare(name('q-406'), durable: false)
    begin
      c.queue_declare(name('q-406'), durable: true)
      { 'raised' => false }
    rescue Bunny::PreconditionFailed => e
      { 'reply_code' => e.channel_close.reply_code, 'reply_text' => clean(e.channel_close.reply_text), 'connection_open' => conn.open? }
    end
  end

  step('cleanup') do
    c = conn.create_channel
    $names.each do |sym, real|
      c.exchange_delete(real) if sym.start_with?('x-')
      c.queue_delete(real) if sym.start_with?('q-')
    end
    conn.close
    { 'ok' => true }
  end
  emit({ 'step' => 'done', 'failed' => $failed })
  exit($failed.empty? ? 0 : 1)
end

# The suite's JSON normal form of a decoded field value (README: header normal form).
def norm(v)
  case v
  when nil, true, false, Integer, Float then v
  when String
    if v.encoding == Encoding::BINARY && !v.dup.force_encoding(Encoding::UTF_8).valid_encoding?
      { '$bytes' => v.unpack1('H*') }
    else
      v.dup.force_encoding(Encoding::UTF_8)
    end
  when BigDecimal then { '$dec' => v.to_s('F') }
  when Time then { '$ts' => v.to_i }
  when Hash then v.to_h { |k, x| [k.to_s, norm(x)] }
  when Array then v.map { |x| norm(x) }
  else { '$unknown' => v.inspect }
  end
end

PROP_KEYS = %w[content_type content_encoding delivery_mode priority correlation_id reply_to expiration message_id
               timestamp type user_id app_id].freeze

def canonical_props
  { 'content_type' => 'application/x-interop', 'content_encoding' => 'utf-8', 'delivery_mode' => 2, 'priority' => 3,
    'correlation_id' => "corr-#{CLIENT}", 'reply_to' => "reply-#{CLIENT}", 'expiration' => '600000',
    'message_id' => "msg-#{CLIENT}", 'timestamp' => 1_700_000_000, 'type' => 'interop.test', 'user_id' => 'guest',
    'app_id' => CLIENT }
end

# Every field-table type bunny can send (its BigDecimal encoder is broken upstream, so no decimal).
def canonical_headers
  { 'str' => 'héllo wörld', 'int' => 42, 'neg' => -7, 'big' => 1_099_511_627_776, 'bool_t' => true, 'bool_f' => false,
    'double' => 1.5, 'ts' => Time.at(1_700_000_000), 'void' => nil, 'table' => { 'k' => 'v', 'n' => 1 },
    'array' => ['a', 1, true] }
end

def message_json(body, props, headers)
  { 'body_hex' => body.unpack1('H*'), 'properties' => props, 'headers' => norm(headers || {}) }
end

def publish(url, exchange)
  conn = open_connection(url)
  ch = conn.create_channel
  ch.confirm_select
  p = canonical_props
  opts = p.transform_keys(&:to_sym)
  opts[:timestamp] = p['timestamp']
  opts[:persistent] = true
  opts[:headers] = canonical_headers
  body = "hello from #{CLIENT} ✓ é\u0000end".b
  ch.basic_publish(body, exchange, 'interop', opts)
  raise 'publish nacked' unless ch.wait_for_confirms
  conn.close
  emit({ 'sent' => message_json(body, p, canonical_headers) })
end

def consume(url, queues)
  conn = open_connection(url)
  ch = conn.create_channel
  queues.each { |q| consume_one(ch, q) }
  conn.close
end

def consume_one(ch, queue)
  deadline = Time.now + 10
  info = props = body = nil
  loop do
    info, props, body = ch.basic_get(queue, manual_ack: true)
    break if body || Time.now > deadline
    sleep 0.05
  end
  if body.nil?
    emit({ 'queue' => queue, 'error' => "no message in #{queue}" })
    return
  end
  ch.ack(info.delivery_tag)
  out = {}
  PROP_KEYS.each do |k|
    v = props[k.to_sym] # basic_get hands properties over as a Hash
    next if v.nil?
    out[k] = k == 'timestamp' ? v.to_i : v
  end
  emit({ 'queue' => queue, 'received' => message_json(body, out, props[:headers]) })
end

mode = ARGV[0] || 'scenario'
url = ARGV[1] || ENV['AMQP_URL'] || 'amqp://guest:guest@127.0.0.1:5672/'
case mode
when 'scenario' then scenario(url)
when 'publish' then publish(url, ARGV[2])
when 'consume' then consume(url, ARGV[2..])
else abort 'usage: bunny_client.rb scenario [URL] | publish URL EXCHANGE | consume URL QUEUE...'
end
