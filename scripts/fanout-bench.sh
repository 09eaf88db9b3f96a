#!/usr/bin/env bash
# The chat's fan-out, in one process and across processes sharing a Redis: 200 clients, 10 of
# them sending to everyone, 100 messages a second in all, each delivered to all 200
# (examples/bench/fanout.rs), in three set-ups side by side:
#
#   memory    one chat process, no REDIS_URL (everything in its memory)
#   redis-1   one chat process with REDIS_URL: the same clients, every broadcast through Redis
#   redis-2   two chat processes with REDIS_URL, 100 clients and 5 senders on each
#
# For each: deliveries per second (20,000 expected), latency from send to delivery (p50, p99,
# over every delivery), and the CPU of each chat process, of Redis and of the load generator
# over the 10 s window, as a share of one core (from /proc). The machine's other load counts:
# run it on an idle machine.
#
# usage: scripts/fanout-bench.sh [RUNS]   (default 1; needs Debian's redis-server)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/port-from-log.sh
source scripts/redis-for-checks.sh

runs=${1:-1}
command -v redis-server >/dev/null 2>&1 || { echo "fanout-bench: redis-server not found (apt-get install redis-server)" >&2; exit 2; }
cargo build --release --example chat --example fanout

work=$(mktemp -d)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true; stop_redis; rm -rf "$work"' EXIT
start_redis "$work/redis.log" || { echo "fanout-bench: Redis did not start" >&2; exit 1; }

# chat NAME [REDIS_URL]: starts a chat process on a free port; sets $port and $pid.
chat() {
    REDIS_URL=${2:-} BIND_ADDRESS=127.0.0.1 BIND_PORT=0 target/release/examples/chat 2>"$work/$1.log" &
    pid=$!
    pids+=("$pid")
    port=$(port_from_log "$work/$1.log" "$pid" '^chat: listening on http://[^ ]*:\([0-9][0-9]*\)/.*')
    [ -n "$port" ] || { cat "$work/$1.log" >&2; echo "fanout-bench: chat did not start" >&2; exit 1; }
}

# measure SETUP: one run of the load generator against the chat processes of SETUP.
measure() {
    local setup=$1 urls=() cpu=() a b
    # The previous set-up's processes were killed: their users' names are still claimed.
    redis-cli -p "$redis_port" flushall >/dev/null
    case $setup in
        memory)
            chat chat; a=$pid; urls=(--url "ws://127.0.0.1:$port/ws"); cpu=(--pid "chat=$a") ;;
        redis-1)
            chat chat "redis://127.0.0.1:$redis_port"; a=$pid
            urls=(--url "ws://127.0.0.1:$port/ws"); cpu=(--pid "chat=$a" --pid "redis=$redis_pid") ;;
        redis-2)
            chat chat-a "redis://127.0.0.1:$redis_port"; a=$pid; urls=(--url "ws://127.0.0.1:$port/ws")
            chat chat-b "redis://127.0.0.1:$redis_port"; b=$pid; urls+=(--url "ws://127.0.0.1:$port/ws")
            cpu=(--pid "chat-a=$a" --pid "chat-b=$b" --pid "redis=$redis_pid") ;;
    esac
    local line
    line=$(timeout 120 target/release/examples/fanout "${urls[@]}" --clients 200 --senders 10 --rate 100 \
        --duration 10 "${cpu[@]}") || { echo "fanout-bench: $setup failed" >&2; exit 1; }
    kill "$a" ${b:+"$b"} 2>/dev/null || true
    wait "$a" ${b:+"$b"} 2>/dev/null || true
    printf '%-8s %s\n' "$setup" "$line"
}

for run in $(seq "$runs"); do
    echo "fanout-bench: run $run of $runs (200 clients, 100 broadcasts/s, 10 s measured)"
    for setup in memory redis-1 redis-2; do
        measure "$setup"
    done
done
