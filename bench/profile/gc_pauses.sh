#!/usr/bin/env bash
# The engine's garbage-collection pauses per second at a fixed rate: broker, `kommune simulate` (municipal mix, 10,000
# sensors, 100 areas) and `kommune run` (every built-in rule, state persisted) as three processes; after a warm-up, the
# growth of dotnet_gc_pause_seconds_total on /metrics each second for a window, then the collections and bytes
# allocated over it. Extra environment for the engine only comes from ENGINE_ENV (as in cpu_per_event.sh).
# Usage: bench/profile/gc_pauses.sh [rate] [window s]     (defaults: 22781, 20)
set -euo pipefail
rate=${1:-22781}
window=${2:-20}
. "$(dirname "$0")/mix.sh"
feed "$rate" $((rate * (window + 40)))
sleep 15
metrics() { curl -s "http://127.0.0.1:$port/metrics"; }
pause() { metrics | awk '/^dotnet_gc_pause_seconds_total/ {print $2}'; }
totals() { metrics | awk '/^dotnet_collection_count_total|^dotnet_gc_allocated_bytes_total/ {v[$1] = $2} END {for (k in v) print k, v[k]}' | sort; }
totals >before.txt
prev=$(pause)
line=""
for _ in $(seq 1 "$window"); do
  sleep 1
  cur=$(pause)
  line="$line $(awk -v a="$prev" -v b="$cur" 'BEGIN {printf "%.0f", (b - a) * 1000}')"
  prev=$cur
done
totals >after.txt
stop_engine
echo "engine env: ${ENGINE_ENV:-default}  offered $rate/s  GC pause ms in each second:$line"
join before.txt after.txt | awk -v w="$window" '{d = $3 - $2; if ($1 ~ /allocated/) printf "  allocated %.0f MB/s\n", d / w / 1e6; else printf "  %s: %d in %d s\n", $1, d, w}'
