#!/usr/bin/env bash
# Installs the browser the web console's tests drive: Debian's Chromium (/usr/bin/chromium, run
# headless with --no-sandbox by playwright-core). Idempotent: skips apt when it is already there.
# Usage: bash scripts/install-browser.sh   (as root, or with sudo available)
set -euo pipefail

if [ -x /usr/bin/chromium ]; then
  echo "browser: /usr/bin/chromium already installed"
  exit 0
fi

SUDO=""
if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi
echo "browser: installing chromium"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# fonts-liberation: readable text in the screenshots (Chromium's default sans-serif fallback).
$SUDO apt-get install -y -qq --no-install-recommends chromium fonts-liberation
echo "browser: done"
