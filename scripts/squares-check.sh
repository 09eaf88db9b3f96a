#!/usr/bin/env bash
# Checks examples/squares.rs (the course's squares demo) in a real browser: builds and starts it
# on a free port, then scripts/browser/squares-check.mjs drives two headless Chromium pages (one
# with a mouse, one with a touch screen): both squares on both pages, drags seen by the other
# page, screenshots whose pixels show both squares where they should be (saved under
# target/browser-check/screenshots/), bad messages closed with 1007/1008/1003, a leave, and
# Ctrl-C closing with 1001. Then checks the server's log and exit status.
#
# usage: scripts/squares-check.sh   (needs Debian's chromium, apt-get install chromium, and npm)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/port-from-log.sh

browser=$(command -v chromium || true)
if [ -z "$browser" ]; then
    echo "squares-check: chromium not found (apt-get install chromium)" >&2
    exit 2
fi
# playwright-core drives the browser (no browser download: it uses Debian's chromium); shared
# with scripts/browser-check.sh.
tools=target/browser-check
if [ ! -d "$tools/node_modules/playwright-core" ]; then
    mkdir -p "$tools"
    (cd "$tools" && npm init -y >/dev/null && npm install --silent playwright-core@1)
fi
cp scripts/browser/squares-check.mjs "$tools/"
cargo build --release --example squares

# Port 0: the server picks a free port and prints it.
log=$(mktemp)
BIND_PORT=0 target/release/examples/squares 2>"$log" &
server=$!
trap 'kill $server 2>/dev/null || true; rm -f "$log"' EXIT
port=$(port_from_log "$log" "$server" '^squares: listening on http://.*:\([0-9][0-9]*\)/.*')
if [ -z "$port" ]; then
    echo "squares-check: FAILED: the server did not start; its log:" >&2
    cat "$log" >&2
    exit 1
fi
echo "squares-check: server on port $port"

status=0
if ! CHROMIUM="$browser" timeout 120 node "$tools/squares-check.mjs" "$port" "$tools/screenshots" "$server"; then
    echo "squares-check: server log:"
    cat "$log"
    echo "squares-check: FAILED" >&2
    exit 1
fi

# The browser check ended with SIGINT: the server closes what is left and exits 0.
timeout 10 tail --pid=$server -f /dev/null || true
if kill -0 $server 2>/dev/null; then
    echo "squares-check: FAILED: the server is still running 10 s after SIGINT" >&2
    status=1
else
    server_status=0
    wait $server || server_status=$?
    if [ $server_status -ne 0 ]; then
        echo "squares-check: FAILED: the server exited with status $server_status after SIGINT" >&2
        status=1
    else
        echo "squares-check: ok: the server exited with status 0 after SIGINT"
    fi
fi

check_log() { # description, extended regex that the log must match
    if grep -Eq "$2" "$log"; then
        echo "squares-check: ok: server log: $1"
    else
        echo "squares-check: FAILED: server log has no line for: $1" >&2
        status=1
    fi
}
check_log "a client that sent bad JSON was closed with 1007" "invalid JSON.*closing with 1007"
check_log "a client that sent a bad shape was closed with 1008" "closing with 1008"
check_log "the upgrade at /elsewhere was refused with 404" "upgrade at /elsewhere refused with 404"
check_log "squares joined and left" "square [0-9]+ left"
check_log "Ctrl-C closed the rest with 1001" "shutting down, closing [0-9]+ connection\(s\) with 1001"
if grep -q "panicked" "$log"; then
    echo "squares-check: FAILED: the server panicked" >&2
    status=1
else
    echo "squares-check: ok: server log: no panic"
fi
echo "squares-check: server log:"
cat "$log"
if [ $status -eq 0 ]; then
    echo "squares-check: all checks passed"
else
    echo "squares-check: FAILED" >&2
fi
exit $status
