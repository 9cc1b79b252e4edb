#!/usr/bin/env python3
"""A process's CPU seconds by thread name over a window, from /proc/<pid>/task/*/stat (user + system time; threads
of the same name summed, e.g. the thread pool's workers, the server GC's threads, librdkafka's threads).
Usage: cpu_by_thread.py <pid> [window s]     (default 20)"""
import collections
import os
import sys
import time

pid, window = int(sys.argv[1]), float(sys.argv[2]) if len(sys.argv) > 2 else 20.0
ticks = os.sysconf("SC_CLK_TCK")


def snapshot():
    cpu = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/stat") as f:
                stat = f.read()
        except OSError:
            continue  # the thread ended
        name = stat[stat.index("(") + 1:stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2:].split()
        cpu[tid] = (name, (int(fields[11]) + int(fields[12])) / ticks)
    return cpu


before = snapshot()
time.sleep(window)
after = snapshot()
by_name, threads = collections.Counter(), collections.Counter()
for tid, (name, seconds) in after.items():
    by_name[name] += seconds - before.get(tid, (name, 0.0))[1]
    threads[name] += 1
total = sum(by_name.values())
print(f"CPU {total:.2f} s in {window:.0f} s ({total / window:.2f} cores)")
for name, seconds in by_name.most_common():
    if seconds > 0:
        print(f"{seconds:8.2f} s  {seconds / total:6.1%}  {name} ({threads[name]} threads)")
