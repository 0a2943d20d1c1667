#!/usr/bin/env bash
# Checks contrib/warren.service with `systemd-analyze verify` (syntax, directives, dependencies).
# The unit's ExecStart names /usr/local/bin/warren, which verify requires to exist; the check runs
# on a copy whose ExecStart points at this checkout's CLI instead. Exit 0: valid; 1: invalid
# (verify's messages on stderr); 0 with "SKIP: ..." when systemd-analyze is not installed.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
unit="$here/warren.service"
if ! command -v systemd-analyze >/dev/null 2>&1; then
  echo "SKIP: systemd-analyze is not installed (Debian: apt-get install systemd); $unit not verified"
  exit 0
fi
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
cli="$(cd "$here/.." && pwd)/dist/src/cli/main.js"
node="$(command -v node)"
sed -e "s#^ExecStart=/usr/local/bin/warren #ExecStart=$node $cli #" "$unit" > "$tmp/warren.service"
# verify prints problems on stderr and exits non-zero for errors; warnings about this machine's
# own units (not ours) are filtered out, anything naming warren.service fails the check.
out="$(SYSTEMD_LOG_LEVEL=warning systemd-analyze verify --man=no "$tmp/warren.service" 2>&1)" || { echo "$out" >&2; exit 1; }
if echo "$out" | grep -q 'warren.service'; then
  echo "$out" >&2
  exit 1
fi
echo "OK: $unit passes systemd-analyze verify"
