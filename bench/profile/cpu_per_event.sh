#!/usr/bin/env bash
# The engine's CPU seconds per 1,000 events at a fixed rate: broker, `kommune simulate` (municipal mix, 10,000
# sensors, 100 areas) and `kommune run` (every built-in rule, state persisted) as three processes; the engine's CPU
# from /proc/<pid>/stat and its processed events from /metrics, over a window after a warm-up. Extra environment for
# the engine only (a GC mode, a thread-pool setting) comes from ENGINE_ENV, for example
#   ENGINE_ENV="DOTNET_gcServer=0" bench/profile/cpu_per_event.sh 7500    (workstation GC; the engine runs server GC)
# The broker's CPU over the same window is printed too: what the engine writes costs the broker, which shares the
# cores (lz4-compressed state records cost it about a quarter more; bench/README.md, round twenty-one).
# With THREADS=1 it also prints the engine's CPU by thread name over the window (cpu_by_thread.py).
# With NODES=N the engine is N nodes in one consumer group (mix.sh) and the figures are summed over the nodes:
# issue 18's row "CPU seconds per 1,000 events summed over the nodes, 3 nodes against 1" is
#   NODES=1 bench/profile/cpu_per_event.sh 10000 40 20    against    NODES=3 bench/profile/cpu_per_event.sh 10000 40 20
# (40 s of warm-up: a group of three takes about 20 s to settle and then catches up).
# Usage: bench/profile/cpu_per_event.sh [rate] [warm-up s] [window s]     (defaults: 7500, 15, 20)
set -euo pipefail
rate=${1:-7500}
warm=${2:-15}
window=${3:-20}
. "$(dirname "$0")/mix.sh"
feed "$rate" $((rate * (warm + window + 30)))
sleep "$warm"
ticks=$(getconf CLK_TCK)
cpu() { for e in $engines; do cat "/proc/$e/stat"; done | awk '{s += $14 + $15} END {print s}'; }
broker_cpu() { awk '{print $14 + $15}' "/proc/$broker/stat"; }
metric() { for p in $ports; do curl -s "http://127.0.0.1:$p/metrics"; done | awk -v m="^$1" '$0 ~ m {s += $2} END {printf "%.0f\n", s}'; }
processed() { metric kommune_events_processed_total; }
states() { metric kommune_state_records_written_total; }
threads=
if [ -n "${THREADS:-}" ]; then python3 "$repo/bench/profile/cpu_by_thread.py" "$engine" "$window" >threads.txt & threads=$!; fi
c0=$(cpu); b0=$(broker_cpu); p0=$(processed); s0=$(states)
sleep "$window"
c1=$(cpu); b1=$(broker_cpu); p1=$(processed); s1=$(states)
if [ -n "$threads" ]; then wait "$threads"; cat threads.txt; fi
stop_engine
awk -v c=$((c1 - c0)) -v b=$((b1 - b0)) -v t="$ticks" -v p=$((p1 - p0)) -v s=$((s1 - s0)) -v w="$window" -v r="$rate" -v e="${ENGINE_ENV:-default}" -v n="${NODES:-1}" 'BEGIN {
  printf "nodes: %d  engine env: %s  offered %d/s  processed %.0f/s  engine CPU %.2f s in %d s  = %.4f CPU s per 1,000 events, %.0f state records per 1,000 events; broker CPU %.2f s\n", n, e, r, p / w, c / t, w, (c / t) / (p / 1000), s / (p / 1000), b / t }'
