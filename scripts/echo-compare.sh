#!/usr/bin/env bash
# Measures the course's echo server (examples/echo_server.rs) of the work tree against the one
# of an older git revision, with examples/echo_load over loopback, and prints a table: per case,
# the median msgs/s of each build, their ratio, and the median server CPU time per message.
#
# usage: scripts/echo-compare.sh [REV]   (REV: any git revision, default HEAD)
#
# Environment:
#   DURATION   seconds measured per run, default 3 (each run also has a 1 s warm-up)
#   ECHO_CASES the cases to run instead of scripts/echo-cases.sh's, separated by commas
#   RUNS       runs per build and case, default 3 (odd: the table shows the median)
#   SERVER_CPUS, LOAD_CPUS
#              CPUs to pin the servers and the load generator to (taskset lists, see
#              scripts/echo-cpus.sh); unset, they share every core
#   ECHO_LOAD  an echo_load binary to use instead of the work tree's. echo_load is built on
#              rfc6455::tokio, so a change to the library changes the load as well; a fixed
#              binary keeps runs made at different times comparable.
# The runs alternate old, new, old, new, ... so that a machine getting slower or faster mid-way
# weighs on both builds alike. The whole run takes about 2 minutes with the defaults, plus the
# old build the first time.
#
# The old echo_server is built in a git worktree under target/echo-compare/ (removed after the
# build) with its own target dir, and kept as target/echo-compare/echo_server-<commit>: a rerun
# against the same commit does not build it again. Both servers run on 127.0.0.1, each on a
# port the system picks, with HEARTBEAT_INTERVAL=0; their logs are in target/echo-compare/.
#
# The load generator runs on the same machine as the servers. Unless SERVER_CPUS and LOAD_CPUS
# pin them apart, they share every core: msgs/s is what the pair reaches together, and the
# server's CPU time per message includes what its idle workers spend looking
# for work, which depends on how busy the other cores are. Compare the two columns of one run;
# figures from runs at different times (or on other machines) differ.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/port-from-log.sh

rev=${1:-HEAD}
duration=${DURATION:-3}
runs=${RUNS:-3}
source scripts/echo-cases.sh
source scripts/echo-cpus.sh
cases=("${echo_cases[@]}")
started=$SECONDS

commit=$(git rev-parse --verify --quiet "$rev^{commit}") || {
    echo "echo-compare: $rev is not a git revision" >&2
    exit 2
}
dir=target/echo-compare
mkdir -p "$dir"
old_bin=$dir/echo_server-$commit
new_bin=target/release/examples/echo_server
load=${ECHO_LOAD:-target/release/examples/echo_load}

worktree=""
old_pid=""
new_pid=""
cleanup() {
    for pid in $old_pid $new_pid; do kill "$pid" 2>/dev/null || true; done
    if [ -n "$worktree" ]; then
        git worktree remove --force "$worktree" 2>/dev/null || true
        git worktree prune
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ -n "${ECHO_LOAD:-}" ]; then
    echo "echo-compare: building echo_server of the work tree (load: $load)"
    cargo build --release --quiet --example echo_server
else
    echo "echo-compare: building echo_server and echo_load of the work tree"
    cargo build --release --quiet --example echo_server --example echo_load
fi

if [ -x "$old_bin" ]; then
    echo "echo-compare: echo_server of ${commit:0:12} already built ($old_bin)"
else
    echo "echo-compare: building echo_server of ${commit:0:12} in a worktree"
    worktree=$dir/worktree-${commit:0:12}
    # A worktree left by an interrupted run.
    git worktree remove --force "$worktree" 2>/dev/null || true
    git worktree prune
    git worktree add --quiet --detach "$worktree" "$commit"
    old_target=$PWD/$dir/target
    (cd "$worktree" && CARGO_TARGET_DIR="$old_target" cargo build --release --quiet --example echo_server)
    cp "$dir/target/release/examples/echo_server" "$old_bin.partial"
    mv "$old_bin.partial" "$old_bin"
    git worktree remove --force "$worktree"
    worktree=""
fi

# start NAME BINARY: starts a server on a port the system picks; sets NAME_pid and NAME_port.
start() {
    local log=$dir/$1.log
    BIND_ADDRESS=127.0.0.1 BIND_PORT=0 HEARTBEAT_INTERVAL=0 MAX_CONNECTIONS=4096 "${server_pin[@]}" "$2" 2>"$log" &
    local pid=$! port
    printf -v "$1_pid" %s "$pid"
    port=$(port_from_log "$log" "$pid" '.*listening on ws://127\.0\.0\.1:\([0-9]*\).*')
    if [ -z "$port" ]; then
        echo "echo-compare: the $1 echo_server did not start; its log:" >&2
        cat "$log" >&2
        exit 1
    fi
    printf -v "$1_port" %s "$port"
}
start old "$old_bin"
start new "$new_bin"
echo "echo-compare: old (${commit:0:12}) on port $old_port, new (work tree) on port $new_port;" \
    "$runs runs each of ${duration} s per case"

# field NAME LINE: the value of NAME=... in an echo_load line.
field() { sed -n "s|.* $1=\([^ ]*\).*|\1|p" <<<" $2"; }
# median VALUES...: the middle value.
median() { printf '%s\n' "$@" | sort -g | sed -n "$((($# + 1) / 2))p"; }

row='%-20s %11s %11s %8s %11s %11s'
table=()
for case in "${cases[@]}"; do
    read -r connections size in_flight <<<"$case"
    old_rates=() new_rates=() old_cpu=() new_cpu=()
    for run in $(seq "$runs"); do
        for build in old new; do
            pid_var=${build}_pid port_var=${build}_port
            line=$(timeout $((${duration%.*} + 60)) "${load_pin[@]}" "$load" --url "ws://127.0.0.1:${!port_var}/" \
                --connections "$connections" --size "$size" --in-flight "$in_flight" \
                --duration "$duration" --binary --server-pid "${!pid_var}") || {
                echo "echo-compare: echo_load against the $build server failed ($connections x $size B," \
                    "in flight $in_flight); the server's log: $dir/$build.log" >&2
                exit 1
            }
            echo "  $build run $run: $line"
            rate=$(field msgs/s "$line")
            cpu=$(field server_cpu_us_per_msg "$line")
            if [ $build = old ]; then old_rates+=("$rate") old_cpu+=("$cpu"); else new_rates+=("$rate") new_cpu+=("$cpu"); fi
        done
    done
    old_rate=$(median "${old_rates[@]}")
    new_rate=$(median "${new_rates[@]}")
    ratio=$(awk -v new="$new_rate" -v old="$old_rate" 'BEGIN { printf "%.2f", new / old }')
    if [ "$size" -ge 1024 ] && [ $((size % 1024)) = 0 ]; then
        size_label="$((size / 1024)) KiB"
    else
        size_label="$size B"
    fi
    table+=("$(printf "$row" "$connections x $size_label, $in_flight" \
        "$old_rate" "$new_rate" "$ratio" "$(median "${old_cpu[@]}")" "$(median "${new_cpu[@]}")")")
done

echo
echo "echo_server: old = ${commit:0:12} ($rev), new = work tree; median of $runs runs of ${duration} s; $(describe_cpus)"
echo "case: connections x payload, messages in flight per connection; CPU: server µs per message"
printf "$row\n" "case" "old msgs/s" "new msgs/s" "new/old" "old CPU" "new CPU"
printf '%s\n' "${table[@]}"
echo
echo "echo-compare: done in $((SECONDS - started)) s"
