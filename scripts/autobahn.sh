#!/usr/bin/env bash
# Autobahn|Testsuite, the WebSocket conformance suite, against rfc6455 in both roles.
#
# usage: scripts/autobahn.sh [--update] [server|client|both]
#
#   server  wstest's fuzzingclient against examples/echo_server.rs
#   client  wstest's fuzzingserver against examples/autobahn_client.rs
#   both    (default) one then the other
#
# Installs the suite on first use: a Python 3 port of autobahntestsuite 25.10.1 (upstream runs
# only on Python 2), built from the PyPI sdists of autobahntestsuite and autobahn 0.10.9 with
# scripts/autobahn/patches/ applied, and the pinned dependencies of
# scripts/autobahn/requirements.txt, into a virtualenv (needs python3 >= 3.11 with venv, pip
# reaching PyPI, and patch or git). Then it runs every case, prints a summary per role and
# compares each case's behaviour, close behaviour and close code with
# scripts/autobahn/expected-{server,client}.json. Exit status 1 on any difference, or on any
# case that is neither OK, INFORMATIONAL nor UNIMPLEMENTED. `--update` rewrites the expected
# files from this run instead (review the diff before committing it).
#
# env: AUTOBAHN_VENV  the virtualenv (default target/autobahn/venv)
#      AUTOBAHN_OUT   where reports go (default target/autobahn; index.html per role)
#      CASES          case patterns, default "*" (e.g. "1.*,2.*"; the gate needs all)
#      PYTHON         interpreter for the virtualenv (default python3)
#      TIMEOUT        seconds allowed per role (default 900)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

update=false
roles=both
for arg in "$@"; do
    case $arg in
        --update) update=true ;;
        server | client | both) roles=$arg ;;
        *) sed -n '2,23p' "$0" >&2; exit 2 ;;
    esac
done
here=scripts/autobahn
venv=${AUTOBAHN_VENV:-target/autobahn/venv}
out=${AUTOBAHN_OUT:-target/autobahn}
cases=${CASES:-*}
timeout=${TIMEOUT:-900}
python=${PYTHON:-python3}

say() { printf 'autobahn: %s\n' "$*"; }

install_suite() {
    local suite_version=25.10.1 suite_sha256=b083d6e15330fc16f3e5f0975cce2b15f21bfa0c6db09547316b1852c6dbd6df
    local autobahn_version=0.10.9 autobahn_sha256=3fecc1e2a26a0421128ddcfb4e577f0bc669dd65d0e0fdad1c773965cbcef75a
    local stamp want
    want=$(cat "$0" "$here/requirements.txt" "$here"/patches/*.patch | sha256sum | cut -d' ' -f1)
    stamp=$venv/.rfc6455-autobahn-stamp
    if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && "$venv/bin/wstest" --autobahnversion >/dev/null 2>&1; then
        return
    fi
    say "installing the suite into $venv (once, about a minute)"
    "$python" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "python >= 3.11 needed (set PYTHON)")'
    [ -x "$venv/bin/python" ] || "$python" -m venv "$venv"
    local pip=("$venv/bin/python" -m pip --disable-pip-version-check -q)
    # autobahn 0.10.9's setup.py needs a setuptools older than 72.
    "${pip[@]}" install setuptools==69.5.1 wheel==0.45.1
    "${pip[@]}" install -r "$here/requirements.txt"
    local work
    work=$(mktemp -d)
    "${pip[@]}" download --no-deps --no-binary :all: -d "$work" \
        "autobahn==$autobahn_version" "autobahntestsuite==$suite_version"
    (cd "$work" && sha256sum -c --quiet - <<SUMS
$autobahn_sha256  autobahn-$autobahn_version.tar.gz
$suite_sha256  autobahntestsuite-$suite_version.tar.gz
SUMS
    )
    local package
    for package in "autobahn-$autobahn_version" "autobahntestsuite-$suite_version"; do
        tar -xzf "$work/$package.tar.gz" -C "$work"
        if command -v patch >/dev/null 2>&1; then
            patch -s -p1 -d "$work/$package" <"$here/patches/$package-py3.patch"
        else
            git -C "$work/$package" apply -p1 "$PWD/$here/patches/$package-py3.patch"
        fi
    done
    "${pip[@]}" install --no-deps --no-build-isolation --force-reinstall --no-cache-dir \
        "$work/autobahn-$autobahn_version" "$work/autobahntestsuite-$suite_version"
    rm -rf "$work"
    "$venv/bin/python" -c 'from autobahntestsuite.case import Cases; assert len(Cases) == 517, len(Cases)'
    echo "$want" >"$stamp"
}

free_port() {
    "$python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

wait_for_port() { # PORT PID
    local _
    for _ in $(seq 1 600); do
        kill -0 "$2" 2>/dev/null || return 1
        "$python" -c 'import socket, sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1).close()' "$1" \
            2>/dev/null && return 0
        sleep 0.1
    done
    return 1
}

# Writes the suite's spec for MODE (fuzzingclient: a URL to test; fuzzingserver: a port to
# listen on) into OUTDIR.
write_spec() { # MODE URL OUTDIR
    "$venv/bin/python" - "$@" "$cases" <<'PY'
import json, sys
mode, url, outdir, cases = sys.argv[1:5]
spec = {"outdir": outdir, "cases": cases.split(","), "exclude-cases": [], "exclude-agent-cases": {}}
if mode == "fuzzingclient":
    spec["servers"] = [{"agent": "rfc6455", "url": url}]
else:
    spec["url"] = url
    spec["interface"] = "127.0.0.1"  # an option of the port: listen on loopback only
with open(f"{outdir}/{mode}.json", "w") as f:
    json.dump(spec, f, indent=2)
PY
}

pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; }
trap cleanup EXIT

run_server_role() {
    local dir=$out/server port server
    rm -rf "$dir" && mkdir -p "$dir" && dir=$(cd "$dir" && pwd)
    port=$(free_port)
    # The suite sends messages up to 16 MiB (9.*): the echo server takes 64 MiB here.
    BIND_ADDRESS=127.0.0.1 BIND_PORT=$port HEARTBEAT_INTERVAL=0 MAX_MESSAGE_SIZE=67108864 \
        HIGH_WATER_MARK=67108864 PERMESSAGE_DEFLATE=1 target/release/examples/echo_server 2>"$dir/echo_server.log" &
    server=$!
    pids+=("$server")
    wait_for_port "$port" "$server" || { say "echo_server did not start"; cat "$dir/echo_server.log" >&2; return 1; }
    write_spec fuzzingclient "ws://127.0.0.1:$port" "$dir"
    local start=$SECONDS
    (cd "$dir" && timeout -k 10 "$timeout" "$wstest" -m fuzzingclient -s fuzzingclient.json) \
        >"$dir/wstest.log" 2>&1 || say "wstest fuzzingclient exited with $? (see $dir/wstest.log)"
    kill "$server" 2>/dev/null || true
    say "server role: $((SECONDS - start)) s"
}

run_client_role() {
    local dir=$out/client port suite
    rm -rf "$dir" && mkdir -p "$dir" && dir=$(cd "$dir" && pwd)
    port=$(free_port)
    write_spec fuzzingserver "ws://127.0.0.1:$port" "$dir"
    (cd "$dir" && exec timeout -k 10 "$timeout" "$wstest" -m fuzzingserver -s fuzzingserver.json --webport 0) \
        >"$dir/wstest.log" 2>&1 </dev/null &
    suite=$!
    pids+=("$suite")
    wait_for_port "$port" "$suite" || { say "wstest fuzzingserver did not start"; tail -5 "$dir/wstest.log" >&2; return 1; }
    local start=$SECONDS
    timeout -k 10 "$timeout" target/release/examples/autobahn_client "ws://127.0.0.1:$port" rfc6455 \
        2>"$dir/autobahn_client.log" || say "autobahn_client exited with $? (see $dir/autobahn_client.log)"
    kill "$suite" 2>/dev/null || true
    say "client role: $((SECONDS - start)) s"
}

install_suite
wstest=$(cd "$venv" && pwd)/bin/wstest
cargo build --release --quiet --example echo_server --example autobahn_client

status=0
# The two roles are independent (their own ports and report folders): with both, they run side by
# side, each in a subshell that stops its own processes, so the waits of one overlap the work of
# the other.
role_pids=()
for role in server client; do
    [ "$roles" = both ] || [ "$roles" = "$role" ] || continue
    (pids=(); trap cleanup EXIT; "run_${role}_role") &
    role_pids+=("$!")
done
for pid in "${role_pids[@]}"; do wait "$pid" || status=1; done
for role in server client; do
    [ "$roles" = both ] || [ "$roles" = "$role" ] || continue
    if $update; then
        "$venv/bin/python" "$here/report.py" save "$out/$role" "$here/expected-$role.json" || status=1
    else
        "$venv/bin/python" "$here/report.py" check "$out/$role" "$here/expected-$role.json" || status=1
    fi
done
exit $status
