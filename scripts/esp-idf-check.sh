#!/usr/bin/env bash
# examples/esp_idf_server (ESP-IDF's ws_echo_server on rfc6455) against a raw-socket client,
# over loopback:
# - scripts/python/esp_idf_check.py (python3, standard library only): subprotocol "chat",
#   Ping/Pong, "Trigger async" from another task, "Trigger fragments" in 3 frames, Close 1000,
#   no common subprotocol, 404 for another path;
# - then the server's log: its handler saw the PING, the PONG and the CLOSE
#   (Config::deliver_control_frames, ESP-IDF's .handle_ws_control_frames = true).
#
# usage: scripts/esp-idf-check.sh        (one "ok" line per check; exits non-zero on failure)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/port-from-log.sh

cargo build --quiet --example esp_idf_server

log=$(mktemp)
server=""
cleanup() {
    if [ -n "$server" ]; then kill "$server" 2>/dev/null || true; fi
    rm -f "$log"
}
trap cleanup EXIT

# Port 0: the system picks a free port; the server's first log line says which.
BIND_ADDRESS=127.0.0.1 BIND_PORT=0 target/debug/examples/esp_idf_server 2>"$log" &
server=$!
port=$(port_from_log "$log" "$server" '.*listening on ws://127\.0\.0\.1:\([0-9]*\)/ws.*')
if [ -z "$port" ]; then
    echo "FAIL  esp_idf_server did not start:"
    cat "$log"
    exit 1
fi
echo "ok    esp_idf_server listening on 127.0.0.1:$port"

failed=0
python3 scripts/python/esp_idf_check.py 127.0.0.1 "$port" || failed=1

# The handler's log, as ESP-IDF's ESP_LOGI lines.
sleep 0.2
for pattern in 'Received PING message, payload "esp-idf ping"' \
               'Received PONG message, payload "unsolicited"' \
               'Received CLOSE message, code 1000' \
               'Got packet with message: Trigger async' \
               'async send queued: Text("Async data")' \
               'Sent fragmented message: 3 frames'; do
    if grep -qF "$pattern" "$log"; then
        echo "ok    server log: $pattern"
    else
        echo "FAIL  server log lacks: $pattern"
        failed=1
    fi
done

kill -INT "$server"
if wait "$server"; then
    echo "ok    esp_idf_server exited after Ctrl-C"
else
    echo "FAIL  esp_idf_server exited with status $?"
    failed=1
fi
server=""

if [ "$failed" != 0 ]; then
    echo "--- server log ---"
    cat "$log"
    exit 1
fi
echo "esp-idf-check: all checks passed"
