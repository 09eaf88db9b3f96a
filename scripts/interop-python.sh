#!/usr/bin/env bash
# Interop with Python's `websockets` (the course's Python side), over real sockets:
# - scripts/python/echo_check.py against examples/echo_server (IPv4 and IPv6, text, binary,
#   fragments, 64 KiB, heartbeats, 1009, 426, CONNECTIONS concurrent connections and the
#   server's memory for them), then Ctrl-C: an open client gets 1001;
# - the course's hello pair both ways: Python client -> hello_server, hello_client -> Python server.
#
# usage: scripts/interop-python.sh [CONNECTIONS]   (default 2000; installs websockets in a venv
#        under target/)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
connections="${1:-2000}"

venv=target/python-interop
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet "websockets>=13"
fi
python="$venv/bin/python"
cargo build --release --example echo_server --example hello_server --example hello_client

port=$((20000 + RANDOM % 20000))
log=$(mktemp)
MAX_CONNECTIONS=$((connections + 64)) HEARTBEAT_INTERVAL=300 BIND_PORT=$port target/release/examples/echo_server 2>"$log" &
server=$!
trap 'kill $server $hello_server $python_server 2>/dev/null || true' EXIT
hello_server=""
python_server=""
sleep 1
"$python" scripts/python/echo_check.py "$port" "$connections" "$server"

# Ctrl-C with a client connected: it is closed with 1001 (Going Away).
"$python" - "$port" <<'PY' &
import asyncio, sys, websockets
async def main():
    async with websockets.connect(f"ws://127.0.0.1:{sys.argv[1]}") as ws:
        try:
            await ws.recv()
        except websockets.ConnectionClosed as closed:
            ok = closed.rcvd is not None and closed.rcvd.code == 1001
            print(("ok    " if ok else "FAIL  ") + f"Ctrl-C closes open clients with 1001 ({closed.rcvd})")
            sys.exit(0 if ok else 1)
asyncio.run(main())
PY
client=$!
sleep 1
kill -INT $server
wait $client
wait $server || true
grep -q "shutting down" "$log" && echo "ok    echo server exited after Ctrl-C"

hello_port=$((port + 1))
target/release/examples/hello_server $hello_port 2>/dev/null &
hello_server=$!
"$python" scripts/python/hello_server.py $((port + 2)) >/dev/null &
python_server=$!
sleep 1
reply=$("$python" scripts/python/hello_client.py "ws://localhost:$hello_port" | tail -1)
[ "$reply" = "<<< Hello Python!" ] && echo "ok    Python hello client -> hello_server: $reply" || {
    echo "FAIL  Python hello client -> hello_server: $reply"; exit 1; }
reply=$(echo "Rustacean" | target/release/examples/hello_client "ws://localhost:$((port + 2))" | tail -1)
[ "$reply" = "<<< Hello Rustacean!" ] && echo "ok    hello_client -> Python hello server: $reply" || {
    echo "FAIL  hello_client -> Python hello server: $reply"; exit 1; }
echo "interop-python: all checks passed"
