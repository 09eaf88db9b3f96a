#!/usr/bin/env bash
# Counts instructions (callgrind) spent inside criterion's timed loop for one benchmark, so two
# implementations can be compared independently of machine load.
#
# usage: scripts/bench-instructions.sh BENCH FILTER [PER_CALL_OF]
#   e.g. scripts/bench-instructions.sh connection '^connection/client_to_server/16B/rfc6455$' 'Connection::receive$'
# With PER_CALL_OF (a regular expression matching one function's name), also prints the
# instructions per call of that function (e.g. per message sent).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bench="$1"
filter="$2"
binary=$(cargo bench --bench "$bench" --no-run --message-format=json 2>/dev/null |
    python3 -c 'import json,sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m["target"]["name"] == sys.argv[1]:
        print(m["executable"])' "$bench" | tail -1)
out=$(mktemp)
valgrind --tool=callgrind --callgrind-out-file="$out" --toggle-collect='criterion::bencher::Bencher*iter*' \
    "$binary" --bench --profile-time 2 "$filter" >/dev/null 2>&1
total=$(callgrind_annotate "$out" 2>/dev/null | awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1}')
echo "$filter: $total instructions in the timed loop"
if [ $# -ge 3 ]; then
    python3 - "$out" "$3" "$total" <<'PY'
import re, sys
path, pattern, total = sys.argv[1], re.compile(sys.argv[2]), int(sys.argv[3])
names, calls, callee = {}, {}, None
for line in open(path):
    m = re.match(r'(c?fn)=\((\d+)\)(?: (.*))?', line)
    if m:
        kind, ident, name = m.groups()
        if name:
            names[ident] = name.strip()
        if kind == 'cfn':
            callee = ident
        continue
    m = re.match(r'calls=(\d+)', line)
    if m and callee:
        calls[callee] = calls.get(callee, 0) + int(m.group(1))
matching = [(calls[i], names[i]) for i in calls if i in names and pattern.search(names[i])]
for count, name in matching:
    print(f"{total / count:10.0f} instructions per call of {name} ({count} calls)")
PY
fi
echo "profile: $out (callgrind_annotate --inclusive=yes $out)"
