#!/usr/bin/env bash
# Interop scenario for rabbitmq-c's command-line tools (Debian amqp-tools): what a shell user does.
# Usage: amqp_tools_client.sh scenario [URL] | publish URL EXCHANGE | consume URL QUEUE...
# Prints one JSON line per step (interop/README.md, "Trace format"); exits non-zero when a step failed.
# The CLI cannot declare exchanges, set most properties or read them back, so its steps are its own
# (cli_*), and in the cross-language exchange it publishes with the properties and string headers it can
# set and reports the body it consumes (amqp-consume passes only the body to its command).
set -uo pipefail

MODE=${1:-scenario}
URL=${2:-${AMQP_URL:-amqp://guest:guest@127.0.0.1:5672}}
PREFIX="interop-amqp-tools-$$-$RANDOM"
FAILED=()

json_str() { /usr/bin/python3 -c 'import json,sys; print(json.dumps(sys.stdin.read()), end="")'; }
clean() { sed "s/$PREFIX-\([a-z0-9-]*\)/<\1>/g"; }
emit_step() { echo "{\"step\":\"$1\",$2}"; }
fail_step() { FAILED+=("\"$1\""); echo "{\"step\":\"$1\",\"error\":$(printf '%s' "$2" | json_str)}"; }

# Waits up to 5 s for a background consumer's output file to reach N lines.
wait_lines() { for _ in $(seq 1 100); do [ "$(wc -l < "$1")" -ge "$2" ] && return 0; sleep 0.05; done; return 1; }

scenario() {
  local q="$PREFIX-q-get" qt="$PREFIX-q-topic" qp="$PREFIX-q-prefetch" tmp
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' RETURN

  if amqp-declare-queue -u "$URL" -q "$q" > /dev/null; then emit_step connect '"ok":true'; else fail_step connect "declare failed"; fi

  # basic.get: empty queue, then two messages in order, then empty again
  local empty_first=false g0 g1 empty_after=false
  amqp-get -u "$URL" -q "$q" > /dev/null 2>&1 || empty_first=true
  amqp-publish -u "$URL" -r "$q" -b g0 && amqp-publish -u "$URL" -r "$q" -b g1
  g0=$(amqp-get -u "$URL" -q "$q"); g1=$(amqp-get -u "$URL" -q "$q")
  amqp-get -u "$URL" -q "$q" > /dev/null 2>&1 || empty_after=true
  emit_step cli_get "\"empty_first\":$empty_first,\"bodies\":[\"$g0\",\"$g1\"],\"empty_after\":$empty_after"

  # amqp-consume binds its queue to amq.topic, then topic routing decides what it sees
  : > "$tmp/topic" # amqp-consume declares its queue itself (auto-delete) when given -e
  amqp-consume -u "$URL" -q "$qt" -e amq.topic -r 'a.*.c' -c 2 -- sh -c 'cat; echo' >> "$tmp/topic" &
  local consumer=$!
  # The consumer process declares, then binds, then consumes; the CLI cannot wait for the binding, so
  # wait until its queue exists (amqp-get exits 2 on an empty queue, 1 on a missing one), then a little.
  for _ in $(seq 1 100); do
    amqp-get -u "$URL" -q "$qt" > /dev/null 2>&1; [ $? -eq 2 ] && break; sleep 0.05
  done
  sleep 0.2
  for k in a.b.c a.b x.y a.x.c; do amqp-publish -u "$URL" -e amq.topic -r "$k" -b "$k"; done
  if wait_lines "$tmp/topic" 2; then
    emit_step cli_consume_topic "\"bodies\":[$(paste -sd, < "$tmp/topic" | sed 's/[^,]*/"&"/g')]"
  else
    fail_step cli_consume_topic "consumer saw: $(cat "$tmp/topic")"
  fi
  kill "$consumer" 2> /dev/null; wait "$consumer" 2> /dev/null

  # prefetch 1 and manual ack: every message arrives once, in order
  amqp-declare-queue -u "$URL" -q "$qp" > /dev/null
  for i in 0 1 2; do amqp-publish -u "$URL" -r "$qp" -b "p$i"; done
  : > "$tmp/prefetch"
  timeout 10 amqp-consume -u "$URL" -q "$qp" -p 1 -c 3 -- sh -c 'cat; echo' >> "$tmp/prefetch"
  emit_step cli_prefetch "\"bodies\":[$(paste -sd, < "$tmp/prefetch" | sed 's/[^,]*/"&"/g')]"

  # a missing queue: the tool reports the broker's channel.close
  local err
  err=$(amqp-get -u "$URL" -q "$PREFIX-missing" 2>&1 >/dev/null)
  if [[ "$err" =~ error\ ([0-9]+),\ message:\ (.*)$ ]]; then
    emit_step cli_error_404 "\"reply_code\":${BASH_REMATCH[1]},\"reply_text\":$(printf '%s' "${BASH_REMATCH[2]}" | clean | json_str)"
  else
    fail_step cli_error_404 "$err"
  fi

  local ok=true
  for x in "$q" "$qp"; do amqp-delete-queue -u "$URL" -q "$x" > /dev/null || ok=false; done
  emit_step cleanup "\"ok\":$ok"

  echo "{\"step\":\"done\",\"failed\":[$(IFS=,; echo "${FAILED[*]}")]}"
  [ "${#FAILED[@]}" -eq 0 ]
}

BODY_HEX=$(printf 'hello from amqp-tools \xe2\x9c\x93 \xc3\xa9 end' | od -An -tx1 | tr -d ' \n')

publish() {
  # The body goes in through -b; a NUL cannot, so the CLI's canonical body has a space in its place.
  amqp-publish -u "$URL" -e "$2" -r interop -p -C application/x-interop -E utf-8 -t reply-amqp-tools \
    -H "str: héllo wörld" -H "k: v" -b "$(printf 'hello from amqp-tools \xe2\x9c\x93 \xc3\xa9 end')" || exit 1
  echo "{\"sent\":{\"body_hex\":\"$BODY_HEX\",\"properties\":{\"content_type\":\"application/x-interop\",\"content_encoding\":\"utf-8\",\"delivery_mode\":2,\"reply_to\":\"reply-amqp-tools\"},\"headers\":{\"str\":\"héllo wörld\",\"k\":\"v\"}}}"
}

consume() {
  local url=$1; shift
  for q in "$@"; do
    local hex
    if hex=$(amqp-get -u "$url" -q "$q" | od -An -tx1 | tr -d ' \n') && [ -n "$hex" ]; then
      echo "{\"queue\":\"$q\",\"received\":{\"body_hex\":\"$hex\"}}"
    else
      echo "{\"queue\":\"$q\",\"error\":\"no message\"}"
    fi
  done
}

case "$MODE" in
  scenario) scenario ;;
  publish) publish "$URL" "$3" ;;
  consume) shift 2; consume "$URL" "$@" ;;
  *) echo "usage: amqp_tools_client.sh scenario [URL] | publish URL EXCHANGE | consume URL QUEUE..." >&2; exit 2 ;;
esac
