#!/usr/bin/env python3
"""Reads an Autobahn|Testsuite report (OUTDIR/index.json) for scripts/autobahn.sh.

usage: report.py check OUTDIR EXPECTED   summary, then every difference from EXPECTED
       report.py save OUTDIR EXPECTED    summary, then write EXPECTED from this report

Per case, the suite records a behaviour (OK, NON-STRICT, INFORMATIONAL, UNIMPLEMENTED, FAILED,
WRONG CODE, UNCLEAN...), a close behaviour and the close code our side sent. Those three are
what EXPECTED pins; durations are not compared. `check` exits 1 on any difference and on any
case whose behaviour or close behaviour is not acceptable (OK, INFORMATIONAL, UNIMPLEMENTED),
whatever EXPECTED says; `save` refuses to pin such a case.
"""
import collections
import json
import os
import sys

FIELDS = ("behavior", "behaviorClose", "remoteCloseCode")
ACCEPTABLE = {"OK", "INFORMATIONAL", "UNIMPLEMENTED"}


def case_key(case):
    return tuple(int(part) for part in case.split("."))


def load_report(outdir):
    path = os.path.join(outdir, "index.json")
    if not os.path.exists(path):
        sys.exit(f"autobahn: no report in {outdir} (see wstest.log there)")
    with open(path, encoding="utf-8") as f:
        agents = json.load(f)
    if list(agents) != ["rfc6455"]:
        sys.exit(f"autobahn: {path}: expected one agent rfc6455, got {sorted(agents)}")
    cases = agents["rfc6455"]
    return {case: {field: cases[case].get(field) for field in FIELDS} for case in sorted(cases, key=case_key)}


def unacceptable(report):
    return [
        f"{case}({result['behavior']}/{result['behaviorClose']})"
        for case, result in report.items()
        if result["behavior"] not in ACCEPTABLE or result["behaviorClose"] not in ACCEPTABLE
    ]


def summary(outdir, report):
    role = os.path.basename(os.path.normpath(outdir))
    counts = collections.Counter(result["behavior"] for result in report.values())
    order = ["OK", "INFORMATIONAL", "UNIMPLEMENTED", "NON-STRICT"]
    parts = [f"{name}={counts.pop(name, 0)}" for name in order]
    parts += [f"{name}={count}" for name, count in sorted(counts.items())]
    bad = unacceptable(report)
    print(f"autobahn: {role} role: {len(report)} cases: {' '.join(parts)}; not acceptable: {bad or 'none'}")
    return bad


def main():
    if len(sys.argv) != 4 or sys.argv[1] not in ("check", "save"):
        sys.exit(__doc__)
    command, outdir, expected_path = sys.argv[1:]
    report = load_report(outdir)
    bad = summary(outdir, report)
    if command == "save":
        if bad:
            sys.exit(f"autobahn: not saving {expected_path}: fix {', '.join(bad)} first")
        lines = [f"  {json.dumps(case)}: {json.dumps(result)}" for case, result in report.items()]
        with open(expected_path, "w", encoding="utf-8") as f:
            f.write("{\n" + ",\n".join(lines) + "\n}\n")
        print(f"autobahn: wrote {expected_path} ({len(report)} cases)")
        return 0
    with open(expected_path, encoding="utf-8") as f:
        expected = json.load(f)
    differences = []
    for case in sorted(set(report) | set(expected), key=case_key):
        got, want = report.get(case), expected.get(case)
        if got is None or want is None:
            differences.append(f"{case}: {'not run' if got is None else 'not in ' + expected_path}")
        elif got != want:
            changed = [f"{field} {want[field]!r} -> {got[field]!r}" for field in FIELDS if got[field] != want[field]]
            differences.append(f"{case}: {'; '.join(changed)}")
    for line in differences:
        print(f"autobahn:   {line}")
    verdict = "same as" if not differences else f"{len(differences)} difference(s) from"
    print(f"autobahn: {verdict} {expected_path}")
    return 1 if differences or bad else 0


if __name__ == "__main__":
    sys.exit(main())
