#!/usr/bin/env bash
# examples/tap between a client and examples/echo_server, over loopback: the client gets its echo
# through the tap, and the tap's output explains the handshake and every frame of both directions.
#
#   client (scripts/python/tap_client.py) -> tap (random port) -> echo_server (random port)
#
# The client (python3, standard library only) sends the RFC's example key, a masked text frame
# "WebSocket Rocks!" with the RFC's §5.7 masking key, a Ping and a Close 1000; then, on a second
# connection, a 100,000-byte frame, over the tap's 64 KiB display limit. A third connection
# negotiates permessage-deflate (RFC 7692): the client is Python `websockets` (tap_client.py
# --deflate), which compresses every message, and the echo server accepts it
# (PERMESSAGE_DEFLATE=1) and compresses its echoes of 1 KiB or more; the tap shows RSV1 as
# "compressed" and each compressed message inflated. One `ok` line per check; exits non-zero on
# the first failure, with the tap's output.
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
# 200,000 bytes: the echo server takes the large frame too (its default is 64 KiB). It accepts
# permessage-deflate when offered: only the third connection offers it.
MAX_MESSAGE_SIZE=200000 PERMESSAGE_DEFLATE=1 BIND_ADDRESS=127.0.0.1 BIND_PORT=0 \
    target/release/examples/echo_server 2>"$work/server.log" &
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
# The deflate client needs Python `websockets`: python3's own, else the venv that
# scripts/interop-python.sh uses (made here if missing).
python=python3
if ! python3 -c 'import websockets' 2>/dev/null; then
    venv=target/python-interop
    if [ ! -x "$venv/bin/python" ]; then
        python3 -m venv "$venv"
        "$venv/bin/pip" install --quiet "websockets>=13"
    fi
    python="$venv/bin/python"
fi
"$python" scripts/python/tap_client.py "$tap_port" --deflate || fail "the deflate client's checks (above)"

# The tap explains after forwarding: wait for the three connections to be over.
for _ in $(seq 100); do
    grep -q '^#3 closed' "$work/tap.out" && break
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

# Connection 3: permessage-deflate. The text message (tap_client.py's LETTER, 3,660 bytes) starts so:
letter='as text     "line 00: the tap inflates what permessage-deflate compressed\nline 01: the tap'
check "deflate: offered by the client, accepted by the server, explained" <"$out" \
    "#3 C->S   Sec-WebSocket-Extensions: permessage-deflate" \
    "#3 S->C   Sec-WebSocket-Extensions: permessage-deflate" \
    "#3 S->C      extension permessage-deflate" \
    "#3 S->C        RSV1 = 1 on a message's first frame now marks it compressed (RFC 7692 §6)"
frame 3 'C->S' 1 | check "deflate C->S frame 1: RSV1 compressed, masked, inflated to the 3,660-byte text" \
    "RSV1 = 1, RSV2 = 0, RSV3 = 0  compressed (permessage-deflate)" "MASK = 1" \
    "compressed  DEFLATE data" "=> a whole text message in one frame, compressed" \
    "inflated: 3660 bytes from " "$letter"
frame 3 'S->C' 1 | check "deflate S->C frame 1: the echo, compressed by the server, inflated" \
    "RSV1 = 1, RSV2 = 0, RSV3 = 0  compressed (permessage-deflate)" "MASK = 0" \
    "inflated: 3660 bytes from " "$letter"
frame 3 'C->S' 2 | check "deflate C->S frame 2: the same text, inflated with the context of frame 1" \
    "compressed (permessage-deflate)" "inflated: 3660 bytes from " "$letter"
frame 3 'C->S' 3 | check "deflate C->S frame 3: RSV1 on the first fragment of a compressed message" \
    "FIN = 0" "compressed (permessage-deflate)" "fragment 1 of a fragmented text message"
frame 3 'C->S' 4 | check "deflate C->S frame 4: a continuation, RSV1 = 0, still compressed data" \
    "RSV1 = 0" "opcode = 0000 = continuation" "compressed  DEFLATE data"
check "deflate C->S: the fragmented message inflated whole at its last fragment" <"$out" \
    "#3 C->S   => FIN = 1: last fragment. Frames 3-" "are one fragmented text message, compressed:"
[ "$(grep -c '^#3 C->S   inflated: 3660 bytes' "$out")" = 3 ] || fail "not 3 C->S messages inflated to 3660 bytes"
[ "$(grep -c '^#3 S->C   inflated: 3660 bytes' "$out")" = 3 ] || fail "not 3 S->C messages inflated to 3660 bytes"
echo "ok    tap: deflate: the text inflated 3 times in each direction (whole, again, fragmented)"
check "deflate C->S: \"Hello\" compressed by the client (RFC 7692 §7.2.3.1's bytes), inflated" <"$out" \
    "#3 C->S     data        f2 48 cd c9 c9 07 00" \
    "#3 C->S   inflated: 5 bytes from 7 bytes compressed (RFC 7692 §7.2.2)" '#3 C->S     as text     "Hello"'
frame 3 'S->C' 4 | check "deflate S->C frame 4: \"Hello\" echoed uncompressed (under the server's 1 KiB)" \
    "RSV1 = 0, RSV2 = 0, RSV3 = 0  not compressed (RSV1 = 0)" 'as text     "Hello"'
frame 3 'S->C' 5 | check "deflate S->C frame 5: a compressed binary message, inflated" \
    "opcode = 0010 = binary (0x2)" "compressed (permessage-deflate)" "inflated: 3000 bytes from " \
    "data        00 01 02 03 04 05 06 00 01"
frame 3 'S->C' 6 | check "deflate S->C frame 6: the Pong, a control frame: never compressed" \
    "(control frames are never compressed)" "=> Pong: the answer to the client's Ping"
check "connection 3 ends with the closing handshake" <"$out" \
    "#3 S->C end of stream" "#3 C->S end of stream" "#3 closed: "
if grep -E '^#3 .*(PROBLEM|WRONG|1006|not inflated)' "$out"; then fail "connection 3 reports a problem"; fi
echo "ok    all checks passed"
