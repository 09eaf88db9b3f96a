#!/usr/bin/env bash
# The echo benchmark's load generator (examples/echo_load.rs) in each of its modes, briefly:
# through rfc6455::tokio, with --frames and with --raw, against the course's echo server and the
# raw TCP echo; and --frames against a server that does not speak WebSocket, which it must
# refuse. A check that the benchmark still runs, not a measurement (see scripts/echo-bench.sh).
#
# usage: scripts/echo-load-check.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/port-from-log.sh

dir=target/echo-load-check
mkdir -p "$dir"
cargo build --release --quiet --example echo_server --example echo_raw --example echo_load
load=target/release/examples/echo_load

pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; }
trap cleanup EXIT

# start EXAMPLE: starts EXAMPLE on a port the system picks and sets port to that port.
start() {
    local log=$dir/$1.log
    BIND_ADDRESS=127.0.0.1 BIND_PORT=0 HEARTBEAT_INTERVAL=0 "target/release/examples/$1" >/dev/null 2>"$log" &
    pids+=($!)
    port=$(port_from_log "$log" "$!" '.*listening on [a-z]*://127\.0\.0\.1:\([0-9]*\).*')
    if [ -z "$port" ]; then
        echo "echo-load-check: $1 did not start; its log:" >&2
        cat "$log" >&2
        exit 1
    fi
}
start echo_server
ws=$port
start echo_raw
raw=$port

failed=0
# run NAME PATTERN ARGS...: runs the load generator for one short window; it must succeed and
# print a line matching PATTERN (a bash regex).
run() {
    local name=$1 pattern=$2 line
    shift 2
    if line=$(timeout 60 "$load" --connections 4 --duration 0.5 "$@" 2>"$dir/$name.err") &&
        [[ $line =~ $pattern ]]; then
        echo "echo-load-check: $name: $line"
    else
        echo "echo-load-check: $name FAILED: $line $(cat "$dir/$name.err")" >&2
        failed=1
    fi
}
run library 'msgs/s=[1-9]' --url "ws://127.0.0.1:$ws/" --binary
run library-text 'msgs/s=[1-9]' --url "ws://127.0.0.1:$ws/" --size 300
run frames 'msgs/s=[1-9]' --url "ws://127.0.0.1:$ws/" --binary --frames
run frames-text 'msgs/s=[1-9]' --url "ws://127.0.0.1:$ws/" --size 60000 --frames --in-flight 2
run raw 'msgs/s=[1-9]' --url "tcp://127.0.0.1:$raw" --raw
run frames-idle "idle_connections=4 closed" --url "ws://127.0.0.1:$ws/" --frames --idle

# The raw echo sends the handshake request back: not a 101, so --frames must fail, and say why.
if timeout 60 "$load" --frames --url "ws://127.0.0.1:$raw/" --duration 0.5 2>"$dir/refused.err" >/dev/null; then
    echo "echo-load-check: --frames against the raw echo succeeded; it must fail" >&2
    failed=1
elif ! grep -q "cannot connect" "$dir/refused.err"; then
    echo "echo-load-check: --frames against the raw echo failed without saying why: $(cat "$dir/refused.err")" >&2
    failed=1
else
    echo "echo-load-check: --frames against the raw echo refused: $(cat "$dir/refused.err")"
fi

[ "$failed" = 0 ] || exit 1
echo "echo-load-check: every mode passed"
