#!/usr/bin/env bash
# Checks what a real browser sees when its message is too big: starts the echo server on a free
# port of 127.0.0.1 with MAX_MESSAGE_SIZE=65536, and has headless Chromium
# (scripts/browser/oversize-check.mjs) send one 70,000-byte message, 20 times, a new WebSocket
# each time. Passes if every close event says code 1009 and wasClean true, i.e. the server's
# Close arrived before the TCP connection ended (no reset that throws it away).
#
# usage: scripts/oversize-check.sh [--server PATH] [--runs N]
#   It builds nothing: run `cargo build --release --example echo_server` first.
#   Needs Debian's chromium (apt-get install chromium), node and npm; playwright-core is installed
#   under target/browser-check as scripts/browser-check.sh does (no browser download).
# Prints `ok oversize: 20/20 close 1009 clean`, or FAIL with the counts seen; exits non-zero then.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

server=target/release/examples/echo_server
runs=20
while [ $# -gt 0 ]; do
    case "$1" in
        --server) server=$2; shift 2 ;;
        --runs) runs=$2; shift 2 ;;
        *) echo "usage: $0 [--server PATH] [--runs N]" >&2; exit 2 ;;
    esac
done
if [ ! -x "$server" ]; then
    echo "oversize-check: no server at $server (cargo build --release --example echo_server)" >&2
    exit 2
fi
browser=$(command -v chromium || true)
if [ -z "$browser" ]; then
    echo "oversize-check: chromium not found (apt-get install chromium)" >&2
    exit 2
fi
tools=target/browser-check
if [ ! -d "$tools/node_modules/playwright-core" ]; then
    mkdir -p "$tools"
    (cd "$tools" && npm init -y >/dev/null && npm install --silent playwright-core@1)
fi
cp scripts/browser/oversize-check.mjs "$tools/"

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
log=$(mktemp)
BIND_ADDRESS=127.0.0.1 BIND_PORT=$port MAX_MESSAGE_SIZE=65536 "$server" 2>"$log" &
pid=$!
trap 'kill $pid 2>/dev/null || true; wait $pid 2>/dev/null || true; rm -f "$log"' EXIT
for _ in $(seq 100); do
    grep -q "listening on" "$log" && break
    kill -0 $pid 2>/dev/null || break
    sleep 0.1
done
if ! grep -q "listening on" "$log"; then
    echo "oversize-check: the server did not start:" >&2
    cat "$log" >&2
    exit 2
fi

details=$(mktemp)
status=0
CHROMIUM="$browser" timeout 300 node "$tools/oversize-check.mjs" "ws://127.0.0.1:$port" "$runs" 70000 \
    2>"$details" || status=$?
if [ $status -ne 0 ]; then
    [ $status -eq 124 ] && echo "FAIL oversize: the browser check did not finish within 300 s"
    echo "oversize-check: what the browser saw:" >&2
    tail -n 40 "$details" >&2
    echo "oversize-check: the server's last lines:" >&2
    tail -n 10 "$log" >&2
fi
rm -f "$details"
exit $status
