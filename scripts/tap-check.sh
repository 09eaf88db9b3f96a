#!/usr/bin/env bash
# examples/tap between a client and examples/echo_server, over loopback: the client gets its echo
# through the tap, and the tap's output explains the handshake and every frame of both directions.
#
#   client (scripts/python/tap_client.py) -> tap (random port) -> echo_server (random port)
#
# The client (python3, standard library only) sends the RFC's example key, a masked text frame
# "WebSocket Rocks!" with the RFC's §5.7 masking key, a Ping and a Close 1000; then, on a second
# connection, a 100,000-byte frame, over the tap's 64 KiB display limit. One `ok` line per check;
# exits non-zero on the first failure, with the tap's output.
#
# usage: scripts/tap-check.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

cargo build --release --example echo_server --example tap
work=$(mktemp -d)
server="" tap=""
trap 'kill $server $tap 2>/dev/null || true; rm -rf "$work"' EXIT

# Port 0: the system picks a free port, which each program prints once it listens.
listening_port() { # LOG: waits for the "listening on ADDRESS:PORT" line, prints PORT
    for _ in $(seq 50); do
        port=$(sed -n 's/.*listening on [^ ]*:\([0-9][0-9]*\).*/\1/p' "$1" | head -1)
        [ -n "$port" ] && { echo "$port"; return; }
        sleep 0.1
    done
    echo "FAIL  no 'listening on' line in $1:" >&2; cat "$1" >&2; exit 1
}
# 200,000 bytes: the echo server takes the large frame too (its default is 64 KiB).
MAX_MESSAGE_SIZE=200000 BIND_ADDRESS=127.0.0.1 BIND_PORT=0 target/release/examples/echo_server 2>"$work/server.log" &
server=$!
server_port=$(listening_port "$work/server.log")
target/release/examples/tap 127.0.0.1:0 "127.0.0.1:$server_port" >"$work/tap.out" 2>"$work/tap.log" &
tap=$!
tap_port=$(listening_port "$work/tap.log")
echo "echo_server on port $server_port, tap on port $tap_port"

fail() {
    echo "FAIL  $1"
    echo "--- the tap's output:"
    cat "$work/tap.out" "$work/tap.log"
    exit 1
}

python3 scripts/python/tap_client.py "$tap_port" || fail "the client's checks (above)"

# The tap explains after forwarding: wait for both connections to be over.
for _ in $(seq 100); do
    grep -q '^#2 closed' "$work/tap.out" && break
    sleep 0.1
done
out="$work/tap.out"

# The lines of one frame's explanation: `frame 1 C->S 2` prints frame 2 of connection 1, client to
# server (up to the blank line that starts the next explanation).
frame() {
    awk -v title="#$1 $2 Frame $3:" -v prefix="#$1 $2 " '
        index($0, title) == 1 { inside = 1 }
        inside && (index($0, prefix) != 1 || $0 == prefix) { exit }
        inside { print }' "$out"
}
has() { # TEXT WHAT...: reads an explanation on stdin, checks it contains every WHAT
    local text
    text=$(cat)
    for what in "$@"; do
        grep -qF -- "$what" <<<"$text" || fail "$TEXT: no \"$what\""
    done
}
check() { # TEXT, then `has` on stdin
    TEXT=$1
    shift
    has "$@"
    echo "ok    tap: $TEXT"
}

check "the client's request head, with its Sec-WebSocket-Key" <"$out" \
    "#1 C->S   GET / HTTP/1.1" \
    "#1 C->S   Upgrade: websocket" \
    "#1 C->S   Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==" \
    "#1 C->S   Sec-WebSocket-Version: 13" \
    "#1 C->S   => a valid opening handshake (§4.2.1)"
check "the server's response head, with the Sec-WebSocket-Accept check OK" <"$out" \
    "#1 S->C   HTTP/1.1 101 Switching Protocols" \
    "#1 S->C   Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" \
    '#1 S->C     accept_key("dGhlIHNhbXBsZSBub25jZQ==") = s3pPLMBiTxaQ9kYGzzhZRbK+xOo=: OK'
frame 1 'C->S' 1 | check "C->S frame 1: masked text, its masking key, unmasked \"WebSocket Rocks!\"" \
    "FIN = 1" "opcode = 0001 = text (0x1)" "MASK = 1" "payload len = 16" "7-bit" \
    "masking key 37 fa 21 3d" 'as text     "WebSocket Rocks!"'
frame 1 'S->C' 1 | check "S->C frame 1: the echo, unmasked" \
    "FIN = 1" "opcode = 0001 = text (0x1)" "MASK = 0  not masked" 'as text     "WebSocket Rocks!"'
frame 1 'C->S' 2 | check "C->S frame 2: a Ping, masked" \
    "opcode = 1001 = ping (0x9), a control frame" "MASK = 1" 'as text     "tap check"' "=> Ping:"
frame 1 'S->C' 2 | check "S->C frame 2: its Pong, unmasked, with the same data" \
    "opcode = 1010 = pong (0xa), a control frame" "MASK = 0" 'as text     "tap check"' \
    "=> Pong: the answer to the client's Ping"
frame 1 'C->S' 3 | check "C->S frame 3: the client's Close, 1000 (Normal Closure)" \
    "opcode = 1000 = close (0x8), a control frame" "MASK = 1" "status code 1000 (Normal Closure)" \
    "=> Close: the client starts the closing handshake"
frame 1 'S->C' 3 | check "S->C frame 3: the server's Close, 1000 (Normal Closure)" \
    "opcode = 1000 = close (0x8), a control frame" "MASK = 0" "status code 1000 (Normal Closure)" \
    "the closing handshake is complete"
check "connection 1 ends with both streams closed, no problem reported" <"$out" \
    "#1 S->C end of stream" "#1 C->S end of stream" "#1 closed: "
if grep -E '^#1 .*(PROBLEM|WRONG|1006)' "$out"; then fail "connection 1 reports a problem"; fi
frame 2 'C->S' 1 | check "C->S 100,000-byte frame: its header, and the payload passed on unkept" \
    "opcode = 0010 = binary (0x2)" "MASK = 1" "payload len = 127" \
    "64-bit extended length 00 00 00 00 00 01 86 a0 = 100000" "masking key 37 fa 21 3d" \
    "100000 bytes: more than the tap keeps"
check "C->S 100,000-byte frame: its first bytes unmasked, once it has passed" <"$out" \
    "#2 C->S Frame 1: its 100000 bytes of payload have passed" \
    "#2 C->S     data        00 01 02 03 04 05 06 07 08 09 0a 0b 0c 0d 0e 0f 10 11 12 13 14 15 16 17 18 19 1a 1b 1c 1d 1e 1f ... (first 32 of 100000)"
frame 2 'S->C' 1 | check "S->C 100,000-byte echo: its header, unmasked" \
    "opcode = 0010 = binary (0x2)" "MASK = 0" "64-bit extended length" "100000 bytes: more than the tap keeps"
echo "ok    all checks passed"
