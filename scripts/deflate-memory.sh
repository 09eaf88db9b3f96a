#!/usr/bin/env bash
# Memory per connection of examples/echo_server with permessage-deflate (RFC 7692) off, at the
# recommended setting and without context takeover: CONNECTIONS Python `websockets` clients each
# exchange one compressed message, and the server's resident memory is read from /proc.
# Fails if a figure is over its bound: 64 KiB per connection at the defaults; without context
# takeover, 8 KiB more than without deflate (what an idle connection holds for deflate).
#
# usage: scripts/deflate-memory.sh [CONNECTIONS]   (default 2000; installs websockets in a venv
#        under target/, as scripts/interop-python.sh does)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
connections="${1:-2000}"

venv=target/python-interop
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet "websockets>=13"
fi
cargo build --release --example echo_server
ulimit -n $((connections * 2 + 256)) 2>/dev/null || true

server=""
trap '[ -n "$server" ] && kill $server 2>/dev/null || true' EXIT
baseline=""
# setting, the server's answer to websockets' offer, the bound in bytes per connection, and
# whether the bound is over the figure without deflate
while read -r setting answer limit relative; do
    [ "$answer" = "-" ] && answer=""
    port=$((20000 + RANDOM % 20000))
    PERMESSAGE_DEFLATE=$setting MAX_CONNECTIONS=$((connections + 64)) HEARTBEAT_INTERVAL=0 BIND_PORT=$port \
        target/release/examples/echo_server 2>/dev/null &
    server=$!
    sleep 0.5
    echo "PERMESSAGE_DEFLATE=$setting:"
    args=("$port" "$connections" "$server" "${answer//;_/; }" "$limit")
    [ "$relative" = "yes" ] && args+=("$baseline")
    output=$(timeout 300 "$venv/bin/python" scripts/python/deflate_memory.py "${args[@]}") || {
        echo "$output"; exit 1; }
    echo "$output" | head -n -1
    [ -z "$baseline" ] && baseline=$(echo "$output" | tail -1)
    kill $server
    wait $server 2>/dev/null || true
    server=""
done <<'SETTINGS'
0 - 65536 no
1 permessage-deflate;_server_no_context_takeover 65536 no
no-context-takeover permessage-deflate;_server_no_context_takeover;_client_no_context_takeover 8192 yes
SETTINGS
