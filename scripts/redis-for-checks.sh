# Sourced by the scripts that run the course servers with REDIS_URL (not run on its own).
#
# free_port: prints a free loopback TCP port (the system picks one, and lets it go).
# start_redis LOG: starts Debian's redis-server on a free loopback port, with no persistence,
#   logging to LOG; sets redis_port and redis_pid; waits up to 5 s for it to answer PING, and
#   returns 1 (with its log on stderr) if it does not.
# stop_redis: shuts down the Redis on $redis_port, if any (the one start_redis started, or one
#   started again on the same port).
free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

start_redis() {
    redis_port=$(free_port)
    redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no >"$1" 2>&1 &
    redis_pid=$!
    for _ in $(seq 50); do
        [ "$(redis-cli -p "$redis_port" ping 2>/dev/null)" = PONG ] && return 0
        sleep 0.1
    done
    cat "$1" >&2
    return 1
}

stop_redis() {
    if [ -n "${redis_port:-}" ]; then
        redis-cli -p "$redis_port" shutdown nosave >/dev/null 2>&1 || true
    fi
}
