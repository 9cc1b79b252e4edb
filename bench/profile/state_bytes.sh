#!/usr/bin/env bash
# Bytes the engine writes to its state topic, by key type: broker, `kommune simulate` (municipal mix, 10,000 sensors,
# 100 areas) and `kommune run` (every built-in rule, state persisted) as three processes, at a fixed rate for a fixed
# time; then kcat reads the state topic. Extra environment for the engine comes from ENGINE_ENV, for example
#   ENGINE_ENV="KOMMUNE_StateDeltas=true" bench/profile/state_bytes.sh 7500    (large states written as deltas of a base)
# Usage: bench/profile/state_bytes.sh [rate] [seconds]     (defaults: 7500, 30)
set -euo pipefail
rate=${1:-7500}
seconds=${2:-30}
. "$(dirname "$0")/mix.sh"
feed "$rate" $((rate * seconds))
wait "$sim" || true
sleep 3
stop_engine
topic=$(kcat -b "$b" -L 2>/dev/null | awk -F'"' '/topic ".*state/ {print $2; exit}')
kcat -b "$b" -C -t "$topic" -e -q -f '%k\t%S\n' 2>/dev/null | awk -F'\t' -v e="${ENGINE_ENV:-default}" -v r="$rate" -v s="$seconds" '
  { k = $1; kind = (k ~ /\x1fb[01]$/) ? "base" : "head"; sub(/:.*/, "", k); split($1, parts, ":"); id = parts[2];
    type = (id ~ /^area/ || k == "area") ? "area" : (id ~ /energy|meter/ ? "energy" : (id ~ /parking/ ? "parking" : (id ~ /road|traffic/ ? "road" : (id ~ /fall|wear/ ? "fall" : "other"))));
    n[type " " kind]++; b[type " " kind] += $2; total += $2; records++ }
  END { printf "engine env: %s  %d events/s for %d s: %d state records, %.1f MB\n", e, r, s, records, total / 1e6;
        for (x in n) printf "  %-16s %7d records %10.0f B  mean %6.0f B\n", x, n[x], b[x], b[x] / n[x] }'
