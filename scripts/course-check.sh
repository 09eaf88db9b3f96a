#!/usr/bin/env bash
# Runs every end-to-end check of the course's systems (docs/course.md), each against the real
# example over loopback: the echo page, squares and chat in headless Chromium, chat and squares
# across two processes sharing a Redis, the telemetry lab, the ESP-IDF server, the tap, the hyper
# echo server, the echo and hello examples against Python `websockets`, and permessage-deflate
# against Python `websockets` and Node's `ws` (both roles). Prints each check's result and exits
# 1 if any failed.
#
# usage: scripts/course-check.sh
#
# Installs what it needs: Debian's chromium and redis-server packages (apt-get, as root, if
# `chromium` or `redis-server` is missing), playwright-core from npm under target/browser-check
# (by the browser checks), `ws` from npm under target/node-interop and `websockets` from PyPI in
# target/python-interop.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# Each package is named after the command it brings.
for package in chromium redis-server; do
    command -v $package >/dev/null 2>&1 && continue
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "course-check: installing $package (apt-get)"
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $package >/dev/null ||
            { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $package >/dev/null; }
    else
        echo "course-check: $package not found; install Debian's $package package (apt-get install $package)" >&2
        exit 2
    fi
done
command -v npm >/dev/null 2>&1 || { echo "course-check: npm not found (the browser checks need node and npm)" >&2; exit 2; }

cargo build --release --quiet --examples

failed=()
for check in browser-check squares-check chat-check scaleout-check telemetry-check esp-idf-check tap-check \
             hyper-check interop-python deflate-interop; do
    log=target/course-check/$check.log
    mkdir -p target/course-check
    start=$SECONDS
    if timeout 600 "scripts/$check.sh" >"$log" 2>&1; then
        echo "course-check: $check passed ($((SECONDS - start)) s)"
    else
        echo "course-check: $check FAILED ($((SECONDS - start)) s); its output:"
        sed 's/^/    /' "$log"
        failed+=("$check")
    fi
done
if [ ${#failed[@]} -gt 0 ]; then
    echo "course-check: failed: ${failed[*]}"
    exit 1
fi
echo "course-check: every check passed (logs in target/course-check/)"
