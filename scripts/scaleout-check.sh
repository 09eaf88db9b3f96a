#!/usr/bin/env bash
# Checks chat and squares across several processes (REDIS_URL): starts Redis on a free loopback
# port, then two chat processes on two ports, and scripts/browser/scaleout-check.mjs drives one
# headless Chromium page on each: messages and one user list across the processes, a name unique
# across them, "echo to me" kept local; Redis stopped (each process serves its own page) and
# started again (messages cross again); the first process killed with SIGKILL, its user gone from
# the other page's list within 20 s. Then two squares processes: a square dragged on one moves on
# a page of the other. Also: Redis unreachable at start is exit status 2, with a message that
# says so; each process logs the loss of Redis once, and its return; no panic; and
# scripts/chat-check.sh and scripts/squares-check.sh pass with REDIS_URL set.
#
# usage: scripts/scaleout-check.sh   (needs Debian's redis-server and chromium, and npm)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/port-from-log.sh
source scripts/redis-for-checks.sh

for tool in redis-server redis-cli chromium; do
    if ! command -v $tool >/dev/null 2>&1; then
        echo "scaleout-check: $tool not found (apt-get install redis-server chromium)" >&2
        exit 2
    fi
done
# playwright-core drives the browser, as in the other browser checks (Debian's chromium).
tools=target/browser-check
if [ ! -d "$tools/node_modules/playwright-core" ]; then
    mkdir -p "$tools"
    (cd "$tools" && npm init -y >/dev/null && npm install --silent playwright-core@1)
fi
cp scripts/browser/scaleout-check.mjs "$tools/"
cargo build --release --example chat --example squares

work=$(mktemp -d)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true; stop_redis; rm -rf "$work"' EXIT
status=0
fail() { echo "scaleout-check: FAILED: $*" >&2; status=1; }

start_redis "$work/redis.log" || { fail "Redis did not start"; exit 1; }
echo "scaleout-check: Redis on port $redis_port"
export REDIS_URL=redis://127.0.0.1:$redis_port

# Redis unreachable at start: a clear message and exit status 2. (The port Redis is not on: a
# second free port.)
for example in chat squares; do
    code=0
    REDIS_URL=redis://127.0.0.1:$(free_port) BIND_PORT=0 timeout 20 target/release/examples/$example \
        2>"$work/unreachable.log" || code=$?
    if [ $code -eq 2 ] && grep -q "^$example: cannot reach Redis at 127.0.0.1:" "$work/unreachable.log"; then
        echo "scaleout-check: ok: $example with Redis unreachable: exit status 2, \"$(head -c 100 "$work/unreachable.log")...\""
    else
        fail "$example with Redis unreachable exited $code: $(cat "$work/unreachable.log")"
    fi
done

# start NAME EXAMPLE: starts the example on a free port with REDIS_URL; sets $port and $pid.
start() {
    BIND_ADDRESS=127.0.0.1 BIND_PORT=0 target/release/examples/$2 2>"$work/$1.log" &
    pid=$!
    pids+=("$pid")
    disown "$pid" # the page check kills one with SIGKILL: no "Killed" line from the shell
    port=$(port_from_log "$work/$1.log" "$pid" "^$2: listening on http://[^ ]*:\([0-9][0-9]*\)/.*")
    if [ -z "$port" ]; then
        cat "$work/$1.log" >&2
        fail "$1 did not start"
        exit 1
    fi
}

start chat-a chat
chat_a_port=$port chat_a_pid=$pid
start chat-b chat
chat_b_port=$port
echo "scaleout-check: chat on ports $chat_a_port (pid $chat_a_pid) and $chat_b_port"
started=$SECONDS
CHROMIUM=$(command -v chromium) timeout 120 node "$tools/scaleout-check.mjs" chat "$chat_a_port" "$chat_b_port" \
    "$chat_a_pid" "$redis_port" "$work/redis.log" || fail "the chat pages (above)"
echo "scaleout-check: chat took $((SECONDS - started)) s"

# One line when Redis was lost, one when it was back, in each process; never a panic.
for name in chat-a chat-b; do
    lost=$(grep -c "redis: lost 127.0.0.1:$redis_port" "$work/$name.log" || true)
    back=$(grep -c "redis: connected again to 127.0.0.1:$redis_port" "$work/$name.log" || true)
    if [ "$lost" = 1 ] && [ "$back" = 1 ]; then
        echo "scaleout-check: ok: $name logged the loss of Redis once and its return once"
    else
        fail "$name logged the loss of Redis $lost time(s) and its return $back time(s)"
    fi
done

start squares-a squares
squares_a_port=$port
start squares-b squares
squares_b_port=$port
echo "scaleout-check: squares on ports $squares_a_port and $squares_b_port"
CHROMIUM=$(command -v chromium) timeout 60 node "$tools/scaleout-check.mjs" squares "$squares_a_port" "$squares_b_port" ||
    fail "the squares pages (above)"

# The one-process checks again, every broadcast now through Redis: the same behaviour. (The
# processes above stopped first, and their presence keys dropped.)
kill "${pids[@]}" 2>/dev/null || true
redis-cli -p "$redis_port" flushall >/dev/null
for check in chat-check squares-check; do
    if scripts/$check.sh >"$work/$check-through-redis.out" 2>&1; then
        echo "scaleout-check: ok: scripts/$check.sh passes with REDIS_URL set"
    else
        sed 's/^/    /' "$work/$check-through-redis.out"
        fail "scripts/$check.sh with REDIS_URL set (above)"
    fi
done

for log in "$work"/chat-*.log "$work"/squares-*.log; do
    if grep -q "panicked" "$log"; then
        fail "$(basename "$log" .log) panicked"
    fi
done
if [ $status -ne 0 ]; then
    for log in "$work"/*.log; do
        echo "scaleout-check: $(basename "$log"):"
        sed 's/^/    /' "$log"
    done
    echo "scaleout-check: FAILED" >&2
else
    echo "scaleout-check: all checks passed"
fi
exit $status
