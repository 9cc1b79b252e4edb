#!/usr/bin/env python3
"""Where a fall's time goes, hop by hop, from hop_trace.sh's files (hops.csv from the patched engine, falls.csv from the
load test's --fall-dump). Per hop: p50, p90, p99 and max in ms over the falls of the measured window (a fall the
engine took counts once it is in falls.csv as measured; without falls.csv, the last two thirds of hops.csv).

  generator      intended send time (the event's time) -> the generator's produce call (the record's Kafka timestamp)
  broker, fetch  produce call -> the engine's consumer hands the record to the consume loop
  dispatch       -> dispatched (the channel, then a thread-pool turn)
  router         -> the router's turn;  area -> the area's turn;  sensor -> the sensor's turn
  rules          the sensor's rules run and their outputs handed to the producer
  output         the alert's record timestamp -> readable by the load test's reader (linger, broker, fetch)

Usage: hop_trace.py hops.csv [falls.csv]"""
import csv
import sys

hops = list(csv.DictReader(open(sys.argv[1])))
measured = None
output = {}
others = {}  # the other runs in falls.csv (the raw pipe, the broker hop): their two parts, for comparison
if len(sys.argv) > 2:
    measured = set()
    for r in csv.DictReader(open(sys.argv[2])):
        if r["measured"] != "1":
            continue
        intended, produced, readable = (int(r[k]) for k in ("intended_ms", "produced_ms", "readable_ms"))
        if r["run"].startswith("engine"):
            measured.add(r["fall"])
            output[r["fall"]] = readable - produced
        else:
            others.setdefault(r["run"], []).append((produced - intended, readable - produced, readable - intended))
if measured is None:
    hops = hops[len(hops) // 3:]
else:
    hops = [h for h in hops if f"{h['sensor']}:{h['event_ms']}" in measured]

columns = {
    "generator": lambda h: int(h["kafka_ms"]) - int(h["event_ms"]),
    "broker, fetch": lambda h: int(h["consumed_wall_ms"]) - int(h["kafka_ms"]),
    "dispatch": lambda h: float(h["dispatch"]),
    "router": lambda h: float(h["router"]),
    "area": lambda h: float(h["area"]),
    "sensor": lambda h: float(h["sensor_start"]),
    "rules": lambda h: float(h["sensor_done"]),
    "engine (dispatch..rules)": lambda h: sum(float(h[c]) for c in ("dispatch", "router", "area", "sensor_start", "sensor_done")),
}
if output:
    columns["output"] = lambda h: output[f"{h['sensor']}:{h['event_ms']}"]
    columns["all (intended -> readable)"] = lambda h: int(h["consumed_wall_ms"]) - int(h["event_ms"]) + columns["engine (dispatch..rules)"](h) + columns["output"](h)


def pct(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


print(f"{len(hops)} falls")
print(f"| {'hop':<26} | {'p50':>6} | {'p90':>6} | {'p99':>6} | {'max':>6} |")
print(f"|{'-' * 28}|{'-' * 7}:|{'-' * 7}:|{'-' * 7}:|{'-' * 7}:|")
for name, of in columns.items():
    values = [of(h) for h in hops]
    print(f"| {name:<26} | {pct(values, .5):6.1f} | {pct(values, .9):6.1f} | {pct(values, .99):6.1f} | {max(values):6.1f} |")
for run, falls in others.items():
    print(f"\n{run}, {len(falls)} falls: intended -> its output's record timestamp, then -> readable")
    for i, name in enumerate(("-> produced", "output", "all (intended -> readable)")):
        values = [f[i] for f in falls]
        print(f"| {name:<26} | {pct(values, .5):6.1f} | {pct(values, .9):6.1f} | {pct(values, .99):6.1f} | {max(values):6.1f} |")
