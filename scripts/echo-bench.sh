#!/usr/bin/env bash
# The echo benchmark of the tokio module: the course's echo server (examples/echo_server.rs, on
# rfc6455::tokio) beside a TCP echo with no WebSocket at all, two other WebSocket libraries'
# echo servers, and the core driven without the tokio module by a loop written by hand
# (examples/bench/: echo_raw, echo_fastwebsockets, echo_tungstenite, echo_core), all loaded by
# examples/echo_load over loopback. Prints three tables of medians per case: msgs/s of each
# server with the ratios to the raw TCP echo and rfc6455 / fastwebsockets; the server's CPU time
# per message and the RTT percentiles; what the tokio module costs over the core (msgs/s, and
# CPU time in user space, where the servers differ: the kernel's part is the sockets'). Then a
# fourth: each server's resident memory per idle connection (echo_core's left out), with
# IDLE_CONNECTIONS connections open (handshake done, one 16-byte message echoed on each, then
# idle).
#
# usage: scripts/echo-bench.sh
#
# Environment:
#   DURATION          seconds measured per run, default 3 (each run also has a 1 s warm-up)
#   ECHO_CASES        the cases to run instead of scripts/echo-cases.sh's, separated by commas
#   RUNS              runs per server and case, default 3 (odd: the tables show the median)
#   IDLE_CONNECTIONS  connections for the memory table, default 10000; 0: no memory table.
#                     The script raises its open-files limit to IDLE_CONNECTIONS + 1024 (the
#                     load generator and each server need one descriptor per connection).
#   SERVER_CPUS, LOAD_CPUS
#                     CPUs to pin the servers and the load generator to (taskset lists, see
#                     scripts/echo-cpus.sh); unset, they share every core.
#   LOAD_MODE         how the load generator speaks WebSocket: `library` (default) through
#                     rfc6455::tokio, or `frames`: echo_load --frames, each message written as
#                     one pre-encoded frame (a fresh masking key each) and its echo read as the
#                     bytes expected, so that the load costs about what it does against raw and
#                     rfc/raw is the servers' ratio alone (the ceiling column shows how close).
#   ECHO_LOAD         an echo_load binary to use instead of the work tree's. echo_load is built
#                     on rfc6455::tokio, so a change to the library changes the load as well; a
#                     fixed binary keeps runs made at different times comparable.
# Each round runs every server once, in turn, so that a machine getting slower or faster mid-way
# weighs on all of them alike. The whole run takes about 6 minutes with the defaults, plus the
# build the first time.
#
# Every server runs on 127.0.0.1, on a port the system picks, with a multi-threaded tokio
# runtime, a task per connection and TCP_NODELAY; echo_server with HEARTBEAT_INTERVAL=0 (the
# peers send no pings either). The peers run with their libraries' defaults: fastwebsockets
# upgraded through hyper with auto_close, auto_pong and vectored writes, tokio-tungstenite with
# one `send` (a flush) per echo and tungstenite's 128 KiB read buffer. echo_raw reads into a
# 16 KiB buffer and writes back what it read. Messages are Binary; the raw echo gets the same
# number of bytes per message, with no framing. The servers' logs are in target/echo-bench/;
# a fresh instance of each server is started for the memory table.
#
# The load generator runs on the same machine as the servers. Unless SERVER_CPUS and LOAD_CPUS
# pin them apart, they share every core: msgs/s is what the pair reaches together, and the
# server's CPU time per message includes what its idle workers spend looking
# for work, which depends on how busy the other cores are. Compare the columns of one run;
# figures from runs at different times (or on other machines) differ, the ratios less so.
#
# When the two processes keep every core busy, msgs/s is set by the CPU time the pair spends
# per message, and the load generator spends more speaking WebSocket than writing raw bytes.
# The last column says how far that alone caps rfc/raw: the ratio a WebSocket server that cost
# no more than the raw echo would reach, (raw server + load against raw) / (raw server + load
# against rfc6455), from the medians of the CPU table. Pinned apart (SERVER_CPUS and LOAD_CPUS
# both set), each process has its own cores and the busier one sets the rate, so the ceiling
# takes the larger of the two costs instead of their sum:
# max(raw server, load against raw) / max(raw server, load against rfc6455).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/port-from-log.sh

duration=${DURATION:-3}
load_mode=${LOAD_MODE:-library}
case $load_mode in
    library) frames_option="" ;;
    frames) frames_option=" --frames" ;;
    *)
        echo "echo-bench: LOAD_MODE=$load_mode: library or frames" >&2
        exit 2
        ;;
esac
runs=${RUNS:-3}
idle_connections=${IDLE_CONNECTIONS:-10000}
source scripts/echo-cases.sh
source scripts/echo-cpus.sh
cases=("${echo_cases[@]}")
# Every server: its name in the tables, and its example.
servers=(rfc6455 core raw fastwebsockets tungstenite)
# The memory table leaves out echo_core, whose buffer per connection is the loop's choice.
memory_servers=(rfc6455 raw fastwebsockets tungstenite)
declare -A example=(
    [rfc6455]=echo_server
    [core]=echo_core
    [raw]=echo_raw
    [fastwebsockets]=echo_fastwebsockets
    [tungstenite]=echo_tungstenite
)
started=$SECONDS

dir=target/echo-bench
mkdir -p "$dir"
load=${ECHO_LOAD:-target/release/examples/echo_load}

if [ "$idle_connections" -gt 0 ]; then
    # One descriptor per connection in each process, and some to spare.
    need=$((idle_connections + 1024))
    if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt "$need" ]; then
        ulimit -n "$need" 2>/dev/null || ulimit -Sn "$need" 2>/dev/null || {
            echo "echo-bench: IDLE_CONNECTIONS=$idle_connections needs $need open files," \
                "and the hard limit is $(ulimit -Hn); lower IDLE_CONNECTIONS or raise the limit" >&2
            exit 2
        }
    fi
fi

declare -A pid=() port=()
idle_pid=""
cleanup() {
    for server in "${!pid[@]}"; do kill "${pid[$server]}" 2>/dev/null || true; done
    if [ -n "$idle_pid" ]; then kill "$idle_pid" 2>/dev/null || true; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

examples=()
for server in "${servers[@]}"; do examples+=("${example[$server]}"); done
[ -n "${ECHO_LOAD:-}" ] || examples+=(echo_load)
echo "echo-bench: building ${examples[*]}${ECHO_LOAD:+ (load: $load)}"
cargo build --release --quiet "${examples[@]/#/--example=}"

# start SERVER: starts SERVER on a port the system picks; sets pid[SERVER] and port[SERVER].
start() {
    local log=$dir/$1.log
    BIND_ADDRESS=127.0.0.1 BIND_PORT=0 HEARTBEAT_INTERVAL=0 MAX_CONNECTIONS=$((idle_connections + 1024)) \
        "${server_pin[@]}" "target/release/examples/${example[$1]}" 2>"$log" &
    pid[$1]=$!
    port[$1]=$(port_from_log "$log" "${pid[$1]}" '.*listening on [a-z]*://127\.0\.0\.1:\([0-9]*\).*')
    if [ -z "${port[$1]}" ]; then
        echo "echo-bench: the $1 server (${example[$1]}) did not start; its log:" >&2
        cat "$log" >&2
        exit 1
    fi
}
# stop SERVER: ends SERVER and waits for it.
stop() {
    kill "${pid[$1]}" 2>/dev/null || true
    wait "${pid[$1]}" 2>/dev/null || true
    unset "pid[$1]"
}
# target SERVER: echo_load's options to reach SERVER.
target() {
    if [ "$1" = raw ]; then
        echo "--raw --url tcp://127.0.0.1:${port[$1]}"
    else
        echo "--url ws://127.0.0.1:${port[$1]}/ --binary$frames_option"
    fi
}
# field NAME LINE: the value of NAME=... in an echo_load line.
field() { sed -n "s|.* $1=\([^ ]*\).*|\1|p" <<<" $2"; }
# median VALUES...: the middle value.
median() { printf '%s\n' "$@" | sort -g | sed -n "$((($# + 1) / 2))p"; }
# ratio A B: A / B with two decimals.
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else printf "-" }'; }
# pair_cost SERVER LOAD: what sets the rate, from the server's and the load generator's CPU time
# per message: their sum when they share the cores, the larger when pinned apart.
pair_cost() {
    awk -v s="$1" -v l="$2" -v apart="$([ -n "$server_cpus" ] && [ -n "$load_cpus" ] && echo 1)" \
        'BEGIN { if (apart) print (s > l ? s : l); else print s + l }'
}
# resident_kib PID: the process's resident memory (VmRSS, proc(5)) in KiB.
resident_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }

for server in "${servers[@]}"; do start "$server"; done
echo -n "echo-bench:"
for server in "${servers[@]}"; do echo -n " $server on port ${port[$server]},"; done
echo " $runs runs each of ${duration} s per case; $(describe_cpus)"

rates_row='%-17s %9s %9s %9s %9s  %8s %8s %8s %8s'
cpu_row='%-17s %9s %9s %9s %9s  %10s %10s  %9s %9s %8s'
core_row='%-17s %9s %9s  %9s %9s  %8s %8s %8s %8s'
rates_table=() cpu_table=() core_table=()
for case in "${cases[@]}"; do
    read -r connections size in_flight <<<"$case"
    declare -A rates=() cpu=() user=() load_cpu=() p50=() p99=()
    for run in $(seq "$runs"); do
        for server in "${servers[@]}"; do
            # shellcheck disable=SC2046 # target's options are words
            line=$(timeout $((${duration%.*} + 60)) "${load_pin[@]}" "$load" $(target "$server") \
                --connections "$connections" --size "$size" --in-flight "$in_flight" \
                --duration "$duration" --server-pid "${pid[$server]}") || {
                echo "echo-bench: echo_load against the $server server failed ($connections x $size B," \
                    "in flight $in_flight); its log: $dir/$server.log" >&2
                exit 1
            }
            echo "  $server run $run: $line"
            rates[$server]+=" $(field msgs/s "$line")"
            cpu[$server]+=" $(field server_cpu_us_per_msg "$line")"
            user[$server]+=" $(field server_user_us_per_msg "$line")"
            load_cpu[$server]+=" $(field load_cpu_us_per_msg "$line")"
            p50[$server]+=" $(field rtt_p50_us "$line")"
            p99[$server]+=" $(field rtt_p99_us "$line")"
        done
    done
    declare -A rate=()
    # shellcheck disable=SC2086 # the runs' values are words
    for server in "${servers[@]}"; do rate[$server]=$(median ${rates[$server]}); done
    if [ "$size" -ge 1024 ] && [ $((size % 1024)) = 0 ]; then
        label="$connections x $((size / 1024)) KiB, $in_flight"
    else
        label="$connections x $size B, $in_flight"
    fi
    rates_table+=("$(printf "$rates_row" "$label" \
        "${rate[rfc6455]}" "${rate[raw]}" "${rate[fastwebsockets]}" "${rate[tungstenite]}" \
        "$(ratio "${rate[rfc6455]}" "${rate[raw]}")" "$(ratio "${rate[fastwebsockets]}" "${rate[raw]}")" \
        "$(ratio "${rate[tungstenite]}" "${rate[raw]}")" "$(ratio "${rate[rfc6455]}" "${rate[fastwebsockets]}")")")
    # shellcheck disable=SC2086 # the runs' values are words
    load_ws=$(median ${load_cpu[rfc6455]}) load_raw=$(median ${load_cpu[raw]}) server_raw=$(median ${cpu[raw]})
    # The most a WebSocket server could reach against the raw echo: the server costing what the
    # raw echo costs, the load generator what it costs speaking WebSocket.
    ceiling=$(ratio "$(pair_cost "$server_raw" "$load_raw")" "$(pair_cost "$server_raw" "$load_ws")")
    # shellcheck disable=SC2086 # the runs' values are words
    cpu_table+=("$(printf "$cpu_row" "$label" \
        "$(median ${cpu[rfc6455]})" "$server_raw" "$(median ${cpu[fastwebsockets]})" \
        "$(median ${cpu[tungstenite]})" \
        "$(median ${p50[rfc6455]})/$(median ${p99[rfc6455]})" "$(median ${p50[raw]})/$(median ${p99[raw]})" \
        "$load_ws" "$load_raw" "$ceiling")")
    # shellcheck disable=SC2086 # the runs' values are words
    core_table+=("$(printf "$core_row" "$label" "${rate[rfc6455]}" "${rate[core]}" \
        "$(ratio "${rate[rfc6455]}" "${rate[core]}")" "$(ratio "${rate[core]}" "${rate[fastwebsockets]}")" \
        "$(median ${user[rfc6455]})" "$(median ${user[core]})" "$(median ${user[fastwebsockets]})" \
        "$(median ${user[raw]})")")
done
for server in "${servers[@]}"; do stop "$server"; done

memory_table=()
if [ "$idle_connections" -gt 0 ]; then
    echo "echo-bench: memory, $idle_connections idle connections to a fresh instance of each server"
    for server in "${memory_servers[@]}"; do
        start "$server"
        sleep 0.5
        before=$(resident_kib "${pid[$server]}")
        out=$dir/idle-$server.out
        # Held for at most 2 minutes: ended as soon as the server's memory is read.
        # shellcheck disable=SC2046 # target's options are words
        "${load_pin[@]}" "$load" $(target "$server") --idle --connections "$idle_connections" --duration 120 >"$out" 2>&1 &
        idle_pid=$!
        ready=""
        for _ in $(seq 1200); do
            ready=$(field idle_connections "$(head -n 1 "$out" 2>/dev/null)")
            [ -n "$ready" ] && break
            kill -0 "$idle_pid" 2>/dev/null || break
            sleep 0.1
        done
        if [ -z "$ready" ]; then
            echo "echo-bench: $idle_connections idle connections to the $server server failed:" >&2
            cat "$out" >&2
            exit 1
        fi
        # Let the server settle: connections' last allocations done, freed memory returned.
        sleep 1
        after=$(resident_kib "${pid[$server]}")
        echo "  $server: $(head -n 1 "$out"); resident ${before} KiB -> ${after} KiB"
        memory_table+=("$(printf '%-17s %12s %12s %12s' "$server" "$before" "$after" \
            "$(awk -v a="$after" -v b="$before" -v n="$idle_connections" 'BEGIN { printf "%.2f", (a - b) / n }')")")
        kill "$idle_pid" 2>/dev/null || true
        wait "$idle_pid" 2>/dev/null || true
        idle_pid=""
        stop "$server"
    done
fi

echo
echo "msgs/s, median of $runs runs of ${duration} s ($(describe_cpus), LOAD_MODE=$load_mode); case: connections x payload, messages in flight per connection"
printf "$rates_row\n" "case" "rfc6455" "raw" "fastws" "tungst" "rfc/raw" "fws/raw" "tung/raw" "rfc/fws"
printf '%s\n' "${rates_table[@]}"
echo
echo "server CPU µs per message (median); RTT µs p50/p99 (medians); the load generator's CPU µs per"
echo "message against rfc6455 (speaking WebSocket) and against raw, and the ceiling they set on rfc/raw"
printf "$cpu_row\n" "case" "rfc6455" "raw" "fastws" "tungst" "rfc6455 RTT" "raw RTT" "load ws" "load raw" "ceiling"
printf '%s\n' "${cpu_table[@]}"
echo
echo "what the tokio module costs over the core: echo_core drives the core with a loop written by"
echo "hand; msgs/s (medians) and the servers' CPU µs per message in user space (medians: the kernel's"
echo "part, the sockets', is about the same for every server)"
printf "$core_row\n" "case" "rfc6455" "core" "rfc/core" "core/fws" "user rfc" "core" "fastws" "raw"
printf '%s\n' "${core_table[@]}"
if [ ${#memory_table[@]} -gt 0 ]; then
    echo
    echo "resident memory (VmRSS) with $idle_connections idle connections"
    printf '%-17s %12s %12s %12s\n' "server" "before KiB" "after KiB" "KiB/conn"
    printf '%s\n' "${memory_table[@]}"
fi
echo
echo "echo-bench: done in $((SECONDS - started)) s"
