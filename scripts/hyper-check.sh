#!/usr/bin/env bash
# examples/hyper_server (the echo server behind hyper 1.x) over loopback:
# - with Python `websockets`: text echoed as text, binary as binary, a fragmented message whole,
#   and 70,000 bytes with MAX_MESSAGE_SIZE=65536 closed with 1009;
# - with a raw socket: a plain GET gets 426 with Sec-WebSocket-Version: 13, an upgrade with
#   Sec-WebSocket-Version: 8 gets 426, and a frame sent in the same packet as the request head is
#   echoed (hyper hands the bytes it read past the head to the WebSocket);
# - Ctrl-C (SIGINT) with a client connected: the client gets 1001, the server exits (status 0)
#   within 3 s.
#
# usage: scripts/hyper-check.sh   (one "ok" line per check; exits 1 on the first failure, saying
#        which; installs websockets in a venv under target/, as scripts/interop-python.sh does)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/port-from-log.sh

venv=target/python-interop
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet "websockets>=13"
fi
python="$venv/bin/python"
cargo build --release --quiet --example hyper_server

log=$(mktemp)
client_out=$(mktemp)
server=""
client=""
cleanup() {
    for pid in $server $client; do kill "$pid" 2>/dev/null || true; done
    rm -f "$log" "$client_out"
}
trap cleanup EXIT
fail() {
    echo "FAIL  $*"
    echo "--- server log ---"
    cat "$log"
    exit 1
}

# Port 0: the system picks a free port; the server's first log line says which.
MAX_MESSAGE_SIZE=65536 BIND_ADDRESS=127.0.0.1 BIND_PORT=0 target/release/examples/hyper_server 2>"$log" &
server=$!
port=$(port_from_log "$log" "$server" '.*listening on ws://127\.0\.0\.1:\([0-9]*\).*')
[ -n "$port" ] || fail "hyper_server did not start"
echo "ok    hyper_server listening on 127.0.0.1:$port"

# Every step has a deadline: a server that hangs fails the check instead of stalling it.
timeout 60 "$python" - "$port" <<'PY' || fail "the checks above"
import asyncio, base64, os, socket, sys
import websockets

PORT = int(sys.argv[1])
URI = f"ws://127.0.0.1:{PORT}"
STEP = 5  # seconds for any one exchange


def check(condition, what):
    print(("ok    " if condition else "FAIL  ") + what, flush=True)
    if not condition:
        sys.exit(1)


async def echoes():
    async with websockets.connect(URI, ping_interval=None, open_timeout=STEP) as ws:
        async with asyncio.timeout(STEP):
            await ws.send("WebSocket Rocks!")
            check(await ws.recv() == "WebSocket Rocks!", "text echoed as text")
            await ws.send(bytes(range(256)) * 4)
            check(await ws.recv() == bytes(range(256)) * 4, "binary echoed as binary")
            await ws.send(["frag", "mented ", "κό", "σμε"])
            check(await ws.recv() == "fragmented κόσμε", "fragmented message echoed whole")


async def too_big():
    async with websockets.connect(URI, ping_interval=None, open_timeout=STEP) as ws:
        try:
            async with asyncio.timeout(STEP):
                await ws.send("y" * 70_000)
                await ws.recv()
            check(False, "70,000 bytes over MAX_MESSAGE_SIZE=65536 close with 1009 (it was echoed)")
        except websockets.ConnectionClosed as closed:
            check(closed.rcvd is not None and closed.rcvd.code == 1009,
                  f"70,000 bytes over MAX_MESSAGE_SIZE=65536 close with 1009 ({closed.rcvd})")
        except TimeoutError:
            check(False, "70,000 bytes over MAX_MESSAGE_SIZE=65536 close with 1009 (no close)")


def exchange(data, until=None):
    """Sends `data` on a new connection, reads until the server ends it (or `until` is in what
    was read), within STEP seconds."""
    with socket.create_connection(("127.0.0.1", PORT), timeout=STEP) as sock:
        sock.sendall(data)
        received = b""
        while until is None or until not in received:
            chunk = sock.recv(65536)
            if not chunk:
                break
            received += chunk
        return received


def head(response):
    status_line, *fields = response.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
    headers = {name.strip().lower(): value.strip() for name, value in
               (field.split(":", 1) for field in fields if ":" in field)}
    return status_line, headers


def upgrade(version, extra=b""):
    key = base64.b64encode(os.urandom(16)).decode()
    return (f"GET / HTTP/1.1\r\nHost: 127.0.0.1:{PORT}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            f"Sec-WebSocket-Version: {version}\r\n\r\n").encode() + extra


def refusals():
    status, headers = head(exchange(f"GET / HTTP/1.1\r\nHost: 127.0.0.1:{PORT}\r\n\r\n".encode()))
    check(status.startswith("HTTP/1.1 426") and headers.get("sec-websocket-version") == "13",
          f"plain GET: {status}, Sec-WebSocket-Version: {headers.get('sec-websocket-version')}")
    status, headers = head(exchange(upgrade(8)))
    check(status.startswith("HTTP/1.1 426") and headers.get("sec-websocket-version") == "13",
          f"Sec-WebSocket-Version: 8: {status}, Sec-WebSocket-Version: {headers.get('sec-websocket-version')}")


def early_frame():
    # RFC 6455 §5.7: a masked "Hello", right behind the head in one write.
    frame = bytes([0x81, 0x85, 0x37, 0xFA, 0x21, 0x3D, 0x7F, 0x9F, 0x4D, 0x51, 0x58])
    reply = exchange(upgrade(13, frame), until=b"\x81\x05Hello")
    status, _ = head(reply)
    check(status.startswith("HTTP/1.1 101") and reply.endswith(b"\x81\x05Hello"),
          f"a frame in the request's packet is echoed ({status})")


async def main():
    await echoes()
    await too_big()
    refusals()
    early_frame()

asyncio.run(main())
PY

# Ctrl-C with a client connected: the client gets 1001, the server exits within 3 s.
timeout 20 "$python" - "$port" >"$client_out" <<'PY' &
import asyncio, sys
import websockets

async def main():
    async with websockets.connect(f"ws://127.0.0.1:{sys.argv[1]}", ping_interval=None, open_timeout=5) as ws:
        print("connected", flush=True)
        try:
            async with asyncio.timeout(10):
                await ws.recv()
            print("FAIL  Ctrl-C closes an open connection with 1001 (a message came instead)")
        except websockets.ConnectionClosed as closed:
            ok = closed.rcvd is not None and closed.rcvd.code == 1001
            print(("ok    " if ok else "FAIL  ") + f"Ctrl-C closes an open connection with 1001 ({closed.rcvd})")
            sys.exit(0 if ok else 1)
        except TimeoutError:
            print("FAIL  Ctrl-C closes an open connection with 1001 (no close within 10 s)")
        sys.exit(1)

asyncio.run(main())
PY
client=$!
for _ in $(seq 50); do
    grep -q connected "$client_out" && break
    sleep 0.1
done
grep -q connected "$client_out" || fail "the Ctrl-C client did not connect: $(cat "$client_out")"

start=$(date +%s%N)
kill -INT "$server"
# Bash reaps the server when it exits (keeping its status for `wait`): poll for up to 5 s.
for _ in $(seq 50); do
    kill -0 "$server" 2>/dev/null || break
    sleep 0.1
done
elapsed_ms=$((($(date +%s%N) - start) / 1000000))
kill -KILL "$server" 2>/dev/null || true
status=0
wait "$server" || status=$?
server=""
client_status=0
wait "$client" || client_status=$?
client=""
grep -v '^connected$' "$client_out" || true
[ "$client_status" = 0 ] || fail "the Ctrl-C client (above)"
if [ "$status" = 0 ] && [ "$elapsed_ms" -lt 3000 ]; then
    echo "ok    hyper_server exited after Ctrl-C in $elapsed_ms ms"
else
    fail "hyper_server after Ctrl-C: exit status $status after $elapsed_ms ms (0 within 3000 ms expected)"
fi
grep -q "shutting down, closing 1 connection(s) with 1001" "$log" ||
    fail "the server log lacks: shutting down, closing 1 connection(s) with 1001"
echo "ok    server log: shutting down, closing 1 connection(s) with 1001"
echo "hyper-check: all checks passed"
