#!/usr/bin/env bash
# permessage-deflate (RFC 7692) against real peers, over loopback:
# - examples/echo_server with PERMESSAGE_DEFLATE=1 and MAX_MESSAGE_SIZE=2 MiB, checked by
#   scripts/python/deflate_check.py (Python `websockets`, compression on as by default, and a raw
#   socket that reads RSV1 and inflates with zlib itself) and scripts/node/deflate-check.mjs
#   (Node's `ws` with perMessageDeflate, threshold 0): text and binary messages of every size
#   class up to 1 MiB, compressible and random, echoed equal; the extension negotiated; the
#   server's echoes compressed (RSV1) exactly from 1 KiB on;
# - examples/client --deflate against a Python `websockets` server (compression on, 12-bit
#   windows asked): our client role against a real peer;
# - tungstenite offers no extension: covered by tests/rfc7692_interop.rs (run by `cargo test`).
# Browsers are checked by scripts/browser-check.sh and scripts/chat-check.sh.
#
# usage: scripts/deflate-interop.sh   (installs websockets in a venv under target/, shared with
#        scripts/interop-python.sh, and `ws` from npm under target/node-interop)
# Prints "ok" or "FAIL" per check; exits 1 if any failed.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

venv=target/python-interop
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c "import websockets" 2>/dev/null; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet "websockets>=13"
fi
python="$venv/bin/python"
node_tools=target/node-interop
if [ ! -d "$node_tools/node_modules/ws" ]; then
    mkdir -p "$node_tools"
    (cd "$node_tools" && npm init -y >/dev/null && npm install --silent ws@8)
fi
# ESM resolves `ws` from the script's own directory: run a copy next to node_modules.
cp scripts/node/deflate-check.mjs "$node_tools/"
cargo build --release --example echo_server --example client

source scripts/port-from-log.sh
log=$(mktemp)
server=""
trap 'kill $server 2>/dev/null || true; rm -f "$log"' EXIT
# Port 0: the system picks a free port, which the server prints. Loopback only.
PERMESSAGE_DEFLATE=1 MAX_MESSAGE_SIZE=$((2 * 1024 * 1024)) HEARTBEAT_INTERVAL=0 BIND_ADDRESS=127.0.0.1 BIND_PORT=0 \
    target/release/examples/echo_server 2>"$log" &
server=$!
port=$(port_from_log "$log" $server '^echo_server: listening on ws://127\.0\.0\.1:\([0-9]*\)$')
if [ -z "$port" ]; then
    echo "FAIL  the echo server did not start; its log:"
    cat "$log"
    exit 1
fi
echo "deflate-interop: echo server with PERMESSAGE_DEFLATE=1 on 127.0.0.1:$port"

failed=()
step() {
    local name=$1
    shift
    local start=$SECONDS
    if "$@"; then
        echo "deflate-interop: $name passed ($((SECONDS - start)) s)"
    else
        echo "FAIL  deflate-interop: $name failed (exit status $?)"
        failed+=("$name")
    fi
}
step "Python websockets and a raw socket -> echo server" timeout 60 "$python" scripts/python/deflate_check.py echo "$port"
step "Node ws -> echo server" timeout 60 node "$node_tools/deflate-check.mjs" "$port"
step "examples/client --deflate -> Python websockets server" \
    timeout 120 "$python" scripts/python/deflate_check.py client-role target/release/examples/client

# The server saw only clean closes: every connection above ended with a closing handshake.
kill -INT $server
timeout 5 tail --pid=$server -f /dev/null || true
connections=$(grep -c ': connected to ' "$log" || true)
clean=$(grep -c ', clean$' "$log" || true)
if [ "$connections" -gt 0 ] && [ "$connections" = "$clean" ] && ! grep -q 'error' "$log"; then
    echo "ok    echo server: $connections connections, each closed cleanly, no error logged"
else
    echo "FAIL  echo server: $connections connections, $clean closed cleanly; its log:"
    cat "$log"
    failed+=("echo server log")
fi
echo "ok    tungstenite: offers no extension; tests/rfc7692_interop.rs (run by cargo test) checks that" \
    "a deflate-enabled server then negotiates nothing and no frame has RSV1, in both roles"

if [ ${#failed[@]} -gt 0 ]; then
    echo "deflate-interop: FAILED: ${failed[*]}"
    exit 1
fi
echo "deflate-interop: all checks passed"
