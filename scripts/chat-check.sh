#!/usr/bin/env bash
# Checks the chat example in a real browser: builds and starts examples/chat on a free port, then
# scripts/browser/chat-check.mjs drives two headless Chromium pages through joining, talking to
# everyone, echoing to oneself and disconnecting, checks that permessage-deflate (RFC 7692) is
# negotiated for the pages and that a 2000-character message comes back whole (compressed both
# ways), checks the refusals (names, malformed JSON, binary, foreign subprotocols, other origins,
# unknown paths), saves and decodes screenshots under target/browser-check/screenshots/, and
# stops the server with Ctrl-C (SIGINT): 1001 to clients.
#
# usage: scripts/chat-check.sh   (needs Debian's chromium, apt-get install chromium, and npm)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

browser=$(command -v chromium || true)
if [ -z "$browser" ]; then
    echo "chat-check: chromium not found (apt-get install chromium)" >&2
    exit 2
fi
# playwright-core drives the browser (no browser download: it uses Debian's chromium); the
# install is shared with scripts/browser-check.sh.
tools=target/browser-check
if [ ! -d "$tools/node_modules/playwright-core" ]; then
    mkdir -p "$tools"
    (cd "$tools" && npm init -y >/dev/null && npm install --silent playwright-core@1)
fi
cp scripts/browser/chat-check.mjs "$tools/"
cargo build --release --example chat

# Port 0: the system picks a free port, which the server prints.
log=$(mktemp)
BIND_ADDRESS=:: BIND_PORT=0 target/release/examples/chat 2>"$log" &
server=$!
trap 'kill $server 2>/dev/null || true; rm -f "$log"' EXIT
port=
for _ in $(seq 50); do
    port=$(sed -n 's|^chat: listening on http://\[::\]:\([0-9]*\)/.*|\1|p' "$log")
    [ -n "$port" ] && break
    sleep 0.1
done
if [ -z "$port" ]; then
    echo "chat-check: the server did not start; its log:" >&2
    cat "$log" >&2
    exit 1
fi
echo "chat-check: server on port $port (pid $server)"

status=0
CHROMIUM="$browser" timeout 120 node "$tools/chat-check.mjs" "$port" "$server" "$tools/screenshots" || status=1

# The checks end with SIGINT: the server must exit by itself, successfully.
if [ $status -eq 0 ]; then
    if timeout 5 tail --pid=$server -f /dev/null; then
        wait $server && echo "chat-check: ok: the server exited 0 after Ctrl-C" || {
            echo "chat-check: FAILED: the server exited non-zero after Ctrl-C" >&2
            status=1
        }
    else
        echo "chat-check: FAILED: the server still runs 5 s after Ctrl-C" >&2
        status=1
    fi
    # What the server logged about the refusals.
    for line in 'closing with 1008 (Policy Violation): invalid JSON' \
                'closing with 1003 (Unsupported Data): binary messages' \
                'offered only \["superchat"\], answering without a subprotocol' \
                'answered 403: cross-origin WebSocket' \
                'closed by the peer, code 1000 (Normal Closure) ("bye")' \
                'shutting down, closing 2 connection(s) with 1001'; do
        if grep -q -- "$line" "$log"; then
            echo "chat-check: ok: server log has: $line"
        else
            echo "chat-check: FAILED: server log lacks: $line" >&2
            status=1
        fi
    done
fi
if [ $status -ne 0 ]; then
    echo "chat-check: server log:" >&2
    cat "$log" >&2
fi
exit $status
