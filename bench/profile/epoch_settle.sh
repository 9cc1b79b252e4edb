#!/usr/bin/env bash
# Exactly-once mode: how long the engine's epochs hold intake before they commit (kommune_epoch_settle_seconds), at a
# fixed rate: broker, `kommune simulate` (municipal mix, 10,000 sensors, 100 areas) and `kommune run
# --processing-guarantee exactly-once` (every built-in rule, state persisted) as three processes; the histogram read
# from /metrics at the start and the end of a window after a warm-up. Prints the epochs in the window, the mean time
# each held intake, the share of the window held, how many held longer than each bucket bound, and the events processed.
# Usage: bench/profile/epoch_settle.sh [rate] [warm-up s] [window s]     (defaults: 25000, 10, 20)
set -euo pipefail
rate=${1:-25000}
warm=${2:-10}
window=${3:-20}
ENGINE_ENV="KOMMUNE_ProcessingGuarantee=exactly-once ${ENGINE_ENV:-}"
. "$(dirname "$0")/mix.sh"
feed "$rate" $((rate * (warm + window + 30)))
sleep "$warm"
scrape() { curl -s "http://127.0.0.1:$port/metrics" | grep -E '^kommune_epoch_settle_seconds|^kommune_events_processed_total'; }
scrape >before.txt
sleep "$window"
scrape >after.txt
stop_engine
awk -v w="$window" -v r="$rate" '
  function key(line) { split(line, f, " "); return f[1] }
  function value(line) { split(line, f, " "); return f[2] }
  FNR == NR { b[key($0)] = value($0); next }
  { a = value($0) - b[key($0)]
    if (key($0) ~ /^kommune_events_processed_total/) processed += a
    else if (key($0) ~ /_sum$/) sum = a
    else if (key($0) ~ /_count$/) count = a
    else if (key($0) ~ /_bucket/) { match(key($0), /le="[^"]+"/); le = substr(key($0), RSTART + 4, RLENGTH - 5); les[++n] = le; below[le] = a } }
  END {
    printf "offered %d/s, processed %.0f/s; %d epochs in %d s, intake held %.1f ms per epoch on average, %.1f %% of the window\n", r, processed / w, count, w, count ? 1000 * sum / count : 0, 100 * sum / w
    printf "epochs that held intake longer than:"
    for (i = 1; i <= n; i++) if (les[i] != "+Inf" && les[i] + 0 >= 0.025 && les[i] + 0 <= 2.5) printf "  %s s: %d", les[i], count - below[les[i]]
    printf "\n" }' before.txt after.txt
