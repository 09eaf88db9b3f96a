#!/usr/bin/env bash
# Checks that a real browser talks to the echo server: starts examples/echo_server on a free
# port, loads scripts/browser/echo.html in headless Chromium (the course's lab page: connect,
# send "WebSocket Rocks!", close after 5 s) over IPv6 and IPv4, and checks what the page logged.
# Then permessage-deflate (RFC 7692), which Chromium offers on every connection: with a second
# echo server run with PERMESSAGE_DEFLATE=1, scripts/browser/deflate-check.mjs loads
# scripts/browser/deflate.html against both servers and checks that ws.extensions names
# permessage-deflate on that one only, and that messages of several KiB (compressed both ways
# there) are echoed equal.
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
cp scripts/browser/echo-check.mjs scripts/browser/deflate-check.mjs "$tools/"
cargo build --release --example echo_server
source scripts/port-from-log.sh
port=$((20000 + RANDOM % 20000))
log=$(mktemp)
deflate_log=$(mktemp)
BIND_PORT=$port target/release/examples/echo_server 2>"$log" &
server=$!
# Port 0: the system picks a free port, which the server prints.
PERMESSAGE_DEFLATE=1 BIND_PORT=0 target/release/examples/echo_server 2>"$deflate_log" &
deflate_server=$!
trap 'kill $server $deflate_server 2>/dev/null || true; rm -f "$log" "$deflate_log"' EXIT
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

deflate_port=$(port_from_log "$deflate_log" $deflate_server '^echo_server: listening on ws://\[::\]:\([0-9]*\)$')
if [ -z "$deflate_port" ]; then
    echo "browser-check: the echo server with PERMESSAGE_DEFLATE=1 did not start; its log:" >&2
    cat "$deflate_log" >&2
    status=1
elif CHROMIUM="$browser" timeout 60 node "$tools/deflate-check.mjs" "file://$PWD/scripts/browser/deflate.html" \
        "ws://127.0.0.1:$port" "ws://[::1]:$deflate_port" | sed 's/^/browser-check: deflate: /'; then
    echo "browser-check: permessage-deflate ok: negotiated with PERMESSAGE_DEFLATE=1 only, compressed echoes equal"
else
    echo "browser-check: permessage-deflate FAILED" >&2
    status=1
fi
echo "browser-check: server log:"
cat "$log"
echo "browser-check: server log (PERMESSAGE_DEFLATE=1):"
cat "$deflate_log"
exit $status
