#!/usr/bin/env bash
# Installs the stock AMQP clients the interop suite drives, all from Debian packages.
# Idempotent: packages already present are skipped, and apt-get update runs only when something is missing.
# Usage: bash interop/install-deps.sh   (as root, or with sudo available)
set -euo pipefail

PACKAGES=(
  python3 python3-pika python3-kombu python3-amqp python3-celery   # Python: pika, kombu (py-amqp), Celery
  golang-go golang-github-rabbitmq-amqp091-go-dev                  # Go: amqp091-go source in /usr/share/gocode
  amqp-tools librabbitmq-dev gcc libc6-dev                         # rabbitmq-c: CLI tools + C library/headers
  ruby ruby-bunny                                                  # Ruby: bunny
  librabbitmq-client-java default-jdk-headless                     # Java: com.rabbitmq.client + javac
)

SUDO=""
if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ "${#missing[@]}" -eq 0 ]; then
  echo "interop deps: all ${#PACKAGES[@]} packages already installed"
  exit 0
fi

echo "interop deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
echo "interop deps: done"
