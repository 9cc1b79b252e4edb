#!/usr/bin/env python3
"""The engine's managed CPU time by frame, from a dotnet-trace sampled-thread-time profile converted to speedscope:
for every sample whose innermost frame is CPU_TIME, each distinct frame on its stack is charged (inclusive time).
Usage: cpu_by_frame.py engine.speedscope.json [top]"""
import collections
import json
import sys

doc = json.load(open(sys.argv[1]))
top = int(sys.argv[2]) if len(sys.argv) > 2 else 40
frames = [f["name"] for f in doc["shared"]["frames"]]
inclusive = collections.Counter()
total = 0.0
for profile in doc["profiles"]:
    if profile.get("type") != "evented":
        continue
    stack, last = [], profile["startValue"]
    for event in profile["events"]:
        at = event["at"]
        if stack and frames[stack[-1]] == "CPU_TIME":
            total += at - last
            for frame in set(stack):
                inclusive[frame] += at - last
        last = at
        if event["type"] == "O":
            stack.append(event["frame"])
        else:
            stack.pop()
print(f"CPU time sampled: {total / 1000:.1f} s")
for frame, time in inclusive.most_common(top):
    print(f"{time / total:6.1%}  {frames[frame][:160]}")
