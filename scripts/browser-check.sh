#!/usr/bin/env bash
# Checks that a real browser talks to the echo server: starts examples/echo_server on a free
# port, loads scripts/browser/echo.html in headless Chromium (the course's lab page: connect,
# send "WebSocket Rocks!", close after 5 s) over IPv6 and IPv4, and checks what the page logged.
#
# usage: scripts/browser-check.sh   (needs Debian's chromium, apt-get install chromium, and npm)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

browser=$(command -v chromium || true)
if [ -z "$browser" ]; then
    echo "browser-check: chromium not found (apt-get install chromium)" >&2
    exit 2
fi
# playwright-core drives the browser (no browser download: it uses Debian's chromium).
tools=target/browser-check
if [ ! -d "$tools/node_modules/playwright-core" ]; then
    mkdir -p "$tools"
    (cd "$tools" && npm init -y >/dev/null && npm install --silent playwright-core@1)
fi
cp scripts/browser/echo-check.mjs "$tools/"
cargo build --release --example echo_server
port=$((20000 + RANDOM % 20000))
log=$(mktemp)
BIND_PORT=$port target/release/examples/echo_server 2>"$log" &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
sleep 1

status=0
for host in "[::1]" "127.0.0.1"; do
    page="file://$PWD/scripts/browser/echo.html?url=ws://$host:$port"
    dom=$(CHROMIUM="$browser" timeout 60 node "$tools/echo-check.mjs" "$page" 2>&1 || true)
    if grep -q "RESPONSE: WebSocket Rocks!" <<<"$dom" && grep -q "DISCONNECTED code=1000 clean=true" <<<"$dom"; then
        echo "browser-check: $host ok: echo received, closed with 1000, clean"
    else
        echo "browser-check: $host FAILED; the page logged:" >&2
        echo "$dom" >&2
        status=1
    fi
done
echo "browser-check: server log:"
cat "$log"
exit $status
