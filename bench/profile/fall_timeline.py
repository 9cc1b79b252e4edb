#!/usr/bin/env python3
"""Fall latency over a load-test run, from the load test's --fall-dump CSV.

Usage: python3 bench/profile/fall_timeline.py falls.csv [bucket-seconds]
       python3 bench/profile/fall_timeline.py falls.csv --minute

Per bucket of intended send time (default 1 s) and per run in the file: the falls, their median and worst latency (ms),
and the worst one's split into the engine's part (intended send time to the output's record timestamp, which the
engine's producer stamps) and the output's part (record timestamp to readable). A run still warming up shows as a
rising or high median in its first buckets; '*' marks buckets in the measured window. After each run's buckets, the p99
of its falls in the warm-up (from the generator's start: a pipe's first seconds under load) and in the measured window.

With --minute: per run, the measured falls by the second of the minute of their event time (the fall id's suffix, Unix
ms): falls, median and worst latency (ms). The watermark passes a minute (every minute window closes at once) when the
events of second 5 of the next minute are read (5 s out-of-orderness), so a burst of window closings shows as a worse
second 5 to 7 in a run that measured them.
"""
import csv
import math
import statistics
import sys
from collections import defaultdict


def p99(latencies):
    """The nearest-rank 99th percentile."""
    ordered = sorted(latencies)
    return ordered[max(0, math.ceil(len(ordered) * 0.99) - 1)] if ordered else float("nan")


path = sys.argv[1]
if len(sys.argv) > 2 and sys.argv[2] == "--minute":
    seconds = defaultdict(lambda: defaultdict(list))
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            if row["measured"] == "1":
                event_ms = int(row["fall"].rsplit(":", 1)[1])
                seconds[row["run"]][event_ms // 1000 % 60].append(int(row["readable_ms"]) - int(row["intended_ms"]))
    for run, by_second in seconds.items():
        print(f"--- {run}")
        print(f"{'second':>6} {'falls':>5} {'p50 ms':>7} {'max ms':>7}")
        for second in sorted(by_second):
            latencies = by_second[second]
            print(f"{second:6d} {len(latencies):5d} {statistics.median(latencies):7.0f} {max(latencies):7d}")
    sys.exit(0)

bucket = float(sys.argv[2]) if len(sys.argv) > 2 else 1.0
runs = defaultdict(lambda: defaultdict(list))
with open(path, newline="") as f:
    for row in csv.DictReader(f):
        intended, produced, readable = (int(row[k]) for k in ("intended_ms", "produced_ms", "readable_ms"))
        runs[row["run"]][int(intended / 1000 / bucket)].append((readable - intended, produced - intended, readable - produced, row["measured"] == "1"))

for run, buckets in runs.items():
    print(f"--- {run}")
    print(f"{'from s':>7} {'falls':>5} {'p50 ms':>7} {'max ms':>7} {'engine':>7} {'output':>7}")
    for key in sorted(buckets):
        falls = buckets[key]
        worst = max(falls)
        measured = "*" if any(f[3] for f in falls) else ""
        print(f"{key * bucket:7.1f} {len(falls):5d} {statistics.median(f[0] for f in falls):7.0f} {worst[0]:7d} {worst[1]:7d} {worst[2]:7d} {measured}")
    warm = [f[0] for falls in buckets.values() for f in falls if not f[3]]
    measured = [f[0] for falls in buckets.values() for f in falls if f[3]]
    print(f"p99: warm-up {p99(warm):.0f} ms ({len(warm)} falls), measured {p99(measured):.0f} ms ({len(measured)} falls)")
