#!/usr/bin/env python3
"""Summarise criterion results as throughputs and ratios within each group.

Usage: scripts/bench-summary.py [GROUP_PREFIX] [--reference NAME]

Reads target/criterion/*/*/new/{estimates,benchmark}.json (written by `cargo bench`) and prints,
for every group whose name starts with GROUP_PREFIX, each benchmark's mean time, its throughput,
and its speed relative to the reference benchmark of the same group (default: `memcpy` if the
group has one, else the first benchmark whose name starts with `tungstenite`).
"""
import json
import pathlib
import sys


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    prefix = args[0] if args else ""
    reference = None
    if "--reference" in sys.argv:
        reference = sys.argv[sys.argv.index("--reference") + 1]
        args = [a for a in args if a != reference]
        prefix = args[0] if args else ""
    root = pathlib.Path(__file__).resolve().parent.parent / "target" / "criterion"
    groups = {}
    for estimates in sorted(root.glob("**/new/estimates.json")):
        meta = json.loads((estimates.parent / "benchmark.json").read_text())
        group = meta["group_id"]
        if not group.startswith(prefix):
            continue
        name = meta.get("function_id") or meta.get("value_str") or ""
        mean_ns = json.loads(estimates.read_text())["mean"]["point_estimate"]
        throughput = meta.get("throughput") or {}
        size = throughput.get("Bytes") or throughput.get("BytesDecimal")
        elements = throughput.get("Elements")
        groups.setdefault(group, []).append((name, mean_ns, size, elements))
    if not groups:
        sys.exit(f"no criterion results under {root} for {prefix!r}: run cargo bench first")
    for group, rows in groups.items():
        names = [name for name, *_ in rows]
        ref = reference if reference in names else None
        if ref is None:
            ref = "memcpy" if "memcpy" in names else next((n for n in names if n.startswith("tungstenite")), None)
        ref_ns = next((ns for name, ns, *_ in rows if name == ref), None)
        print(group)
        for name, ns, size, elements in rows:
            rate = ""
            if size:
                rate = f"{size / ns:8.2f} GB/s"
            elif elements:
                rate = f"{elements / ns * 1e3:8.1f} M/s"
            ratio = f"{ref_ns / ns:6.2f}x {ref}" if ref_ns else ""
            print(f"  {name:<24} {ns:12.1f} ns  {rate}  {ratio}")


if __name__ == "__main__":
    main()
