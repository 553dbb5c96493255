#!/usr/bin/env python3
# bench/ncu_summary.py — per-kernel GPU time of one profiled run, from the CSV that
#   ncu --csv --metrics gpu__time_duration.sum <program>
# writes (bench/gpu-check.sh, PROFILE=1). Prints the kernels by total time, the share of
# each and the launch count; with --steps S, times are divided by S (per training step).
import csv
import re
import sys
from collections import defaultdict


def main():
    args = sys.argv[1:]
    steps, top = 1.0, 30
    if "--steps" in args:
        i = args.index("--steps"); steps = float(args[i + 1]); del args[i:i + 2]
    if "--top" in args:
        i = args.index("--top"); top = int(args[i + 1]); del args[i:i + 2]
    if len(args) != 1:
        sys.exit("usage: ncu_summary.py [--steps S] [--top K] profile.csv")
    lines = open(args[0], errors="replace").read().splitlines()
    start = next((i for i, l in enumerate(lines) if l.startswith('"ID"')), None)
    if start is None:
        sys.exit("no ncu CSV header in " + args[0])
    tot, cnt = defaultdict(float), defaultdict(int)
    for row in csv.DictReader(lines[start:]):
        if row.get("Metric Name") != "gpu__time_duration.sum":
            continue
        unit = row.get("Metric Unit", "nsecond")
        v = float(row["Metric Value"].replace(",", ""))
        scale = {"nsecond": 1e-6, "usecond": 1e-3, "msecond": 1.0, "second": 1e3}.get(unit, 1e-6)
        name = re.sub(r"\(.*", "", row["Kernel Name"])[:70]
        tot[name] += v * scale
        cnt[name] += 1
    total = sum(tot.values())
    print(f"GPU kernel time per step: {total / steps:.2f} ms in {sum(cnt.values()) / steps:.0f} launches")
    print(f"{'ms/step':>8} {'share':>6} {'launches':>8}  kernel")
    for name, ms in sorted(tot.items(), key=lambda kv: -kv[1])[:top]:
        print(f"{ms / steps:8.3f} {100 * ms / total:5.1f}% {cnt[name] / steps:8.0f}  {name}")


if __name__ == "__main__":
    main()
