#!/usr/bin/env bash
# The IoT lab over real sockets: examples/telemetry_server with READINGS=3 and a temporary CSV,
# two simulated boards (examples/sensor, ids 001 and 002, a reading every 200 ms), an LED command
# typed on the server's stdin (a fifo), and bad clients (malformed JSON, a wrong field type, a
# Binary message) while the boards are being recorded. Then the server is stopped with Ctrl-C,
# started again on the same CSV, and numbering must go on from the last row.
#
# usage: scripts/telemetry-check.sh     (prints one "ok" line per check; exits 1 at the first FAIL,
#                                        keeping the logs in a temporary directory it names)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

cargo build --release --quiet --example telemetry_server --example sensor
bin=target/release/examples
dir=$(mktemp -d)
csv=$dir/telemetry.csv
pids=()
trap 'exec 3>&- 2>/dev/null || true; for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done' EXIT

ok() { echo "ok    $*"; }
fail() {
    echo "FAIL  $*"
    echo "      logs in $dir"
    exit 1
}
# wait_for FILE PATTERN SECONDS: until grep finds PATTERN in FILE.
wait_for() {
    local deadline=$((SECONDS + $3))
    until grep -q -- "$2" "$1" 2>/dev/null; do
        [ "$SECONDS" -lt "$deadline" ] || return 1
        sleep 0.01
    done
}
# closed_with NAME: the close code and reason a sensor printed.
closed_with() { sed -n 's/.*closed by the server: //p' "$dir/$1.out"; }
# start_server NAME: starts the server on a port the system picks; sets $server and $port.
start_server() {
    BIND_PORT=0 READINGS=3 CSV_PATH=$csv HEARTBEAT_INTERVAL=0 \
        "$bin/telemetry_server" <"$dir/$1.stdin" >"$dir/$1.out" 2>"$dir/$1.err" &
    server=$!
    pids+=("$server")
}
listening_port() {
    wait_for "$dir/$1.err" "listening on" 10 || fail "$1 did not start (see $dir/$1.err)"
    sed -n 's/.*listening on ws:\/\/.*:\([0-9]*\)$/\1/p' "$dir/$1.err" | head -1
}

# --- First run: two boards, an LED command, bad clients. -----------------------------------------
mkfifo "$dir/server.stdin"
start_server server
exec 3>"$dir/server.stdin" # opens the fifo for the server: it is the server's stdin from now on
port=$(listening_port server)

timeout 20 "$bin/sensor" "ws://localhost:$port/" --id 001 --interval 200 >"$dir/s001.out" 2>&1 &
s001=$!
timeout 20 "$bin/sensor" "ws://127.0.0.1:$port/" --id 002 --interval 200 >"$dir/s002.out" 2>&1 &
s002=$!
pids+=("$s001" "$s002")

# The LED command once the server knows board 001 (its first reading), before its third.
wait_for "$dir/server.out" "from 001:" 10 || fail "no reading from board 001 (see $dir/server.err)"
echo "led 001 on" >&3
echo "led 999 on" >&3
echo "blink" >&3

# Bad clients while the boards are being recorded.
malformed='{"IDDEVICE": "003", "TEMP": 23.5, "HUM": '
timeout 10 "$bin/sensor" "ws://[::1]:$port/" --id 003 --send-raw "$malformed" >"$dir/s003.out" 2>&1 &
s003=$!
timeout 10 "$bin/sensor" "ws://[::1]:$port/" --id 004 --send-raw '{"IDDEVICE": "004", "TEMP": "hot", "HUM": 41}' \
    >"$dir/s004.out" 2>&1 &
s004=$!
timeout 10 "$bin/sensor" "ws://[::1]:$port/" --id 005 --send-raw "not text" --binary >"$dir/s005.out" 2>&1 &
s005=$!
pids+=("$s003" "$s004" "$s005")

for id in 001 002; do
    pid_name="s$id"
    if wait "${!pid_name}"; then status=0; else status=$?; fi
    grep -q 'closed by the server: 1000 "3 readings recorded"' "$dir/s$id.out" && [ "$status" = 0 ] \
        || fail "sensor $id should exit 0 after the server's 1000 close (status $status, see $dir/s$id.out)"
    ok "sensor $id exited (status 0) after the server's close: $(closed_with "s$id")"
done
for pid in "$s003" "$s004" "$s005"; do wait "$pid" || true; done

grep -qx "sensor 001: LED on" "$dir/s001.out" || fail "sensor 001 did not print the LED command (see $dir/s001.out)"
grep -q "led: sent" "$dir/server.out" || fail "the server did not confirm the LED command"
ok "led 001 on: server $(grep -m1 'led: sent' "$dir/server.out" | cut -d' ' -f2-); sensor 001 printed \"LED on\""
grep -q 'led: unknown device "999"' "$dir/server.out" || fail "no message for an unknown device"
grep -q 'unknown command "blink"' "$dir/server.out" || fail "no message for an unknown command"
ok "unknown device and unknown command answered: $(grep -m1 'unknown device' "$dir/server.out")"

grep -q 'closed by the server: 1007 "invalid JSON' "$dir/s003.out" || fail "malformed JSON: expected 1007 (see $dir/s003.out)"
ok "malformed JSON closed with $(closed_with s003)"
grep -q 'closed by the server: 1007 "TEMP must be a number"' "$dir/s004.out" || fail "wrong type: expected 1007 (see $dir/s004.out)"
ok "wrong field type closed with $(closed_with s004)"
grep -q 'closed by the server: 1003 ' "$dir/s005.out" || fail "binary message: expected 1003 (see $dir/s005.out)"
ok "binary message closed with $(closed_with s005)"
grep -qF "malformed message \"{\\\"IDDEVICE\\\": \\\"003\\\"" "$dir/server.err" || fail "the server did not log the malformed message"
kill -0 "$server" 2>/dev/null || fail "the server died"
ok "server still running, logged: $(grep -m1 -F '\"003\"' "$dir/server.err" | cut -c1-110)"

# The CSV: header, 6 rows numbered 1..6, 3 per board, 12-digit TIMEFLAG.
check_csv() { # check_csv ROWS: the file has the header once and rows 1..ROWS
    local rows=$1
    [ "$(head -1 "$csv")" = "IDdato,IDdevice,TIMEFLAG,TEMP,HUM" ] || fail "CSV header: $(head -1 "$csv")"
    [ "$(wc -l <"$csv")" = $((rows + 1)) ] || fail "CSV: expected a header and $rows rows, got $(wc -l <"$csv") lines"
    [ "$(tail -n +2 "$csv" | cut -d, -f1 | tr '\n' ' ')" = "$(seq -s ' ' 1 "$rows") " ] \
        || fail "CSV IDdato not 1..$rows: $(tail -n +2 "$csv" | cut -d, -f1 | tr '\n' ' ')"
    tail -n +2 "$csv" | cut -d, -f3 | grep -qvxE '[0-9]{12}' && fail "CSV TIMEFLAG not YYYYMMDDHHMM"
    tail -n +2 "$csv" | cut -d, -f4,5 | grep -qvxE '[0-9.]+,[0-9.]+' && fail "CSV TEMP/HUM not numbers"
    return 0
}
check_csv 6
for id in 001 002; do
    [ "$(cut -d, -f2 "$csv" | grep -cx "$id")" = 3 ] || fail "CSV: expected 3 rows from $id"
done
ok "CSV: header + 6 rows, IDdato 1..6, 3 rows each from 001 and 002, TIMEFLAG $(sed -n 2p "$csv" | cut -d, -f3)"

# --- Ctrl-C, then a second run on the same file continues the numbering. ------------------------
kill -INT "$server"
if wait "$server"; then status=0; else status=$?; fi
exec 3>&-
[ "$status" = 0 ] && grep -q "shutting down" "$dir/server.err" || fail "the server did not exit cleanly on Ctrl-C ($status)"
ok "server exited (status 0) on Ctrl-C"

: >"$dir/restart.stdin"
start_server restart
port=$(listening_port restart)
grep -q "from IDdato 7" "$dir/restart.err" || fail "restart: numbering should go on from 7 (see $dir/restart.err)"
timeout 10 "$bin/sensor" "ws://localhost:$port/" --id 001 --interval 50 --count 2 >"$dir/again.out" 2>&1 \
    || fail "sensor --count 2 should close with 1000 and exit 0 (see $dir/again.out)"
wait_for "$dir/restart.err" "(001): closed" 5 || fail "restart: the server did not see the close"
check_csv 8
ok "restart: rows 7 and 8 appended under the same header ($(tail -1 "$csv"))"
kill -INT "$server"
wait "$server" || true
rm -rf "$dir"
