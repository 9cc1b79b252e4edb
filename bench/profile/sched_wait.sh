#!/usr/bin/env bash
# How long the load test's threads wait for a CPU once woken, in the raw pipe's measured window and in the engine's:
# runs the fall-alert p99 row's load test (p99_row.sh; or the load test with the arguments given after the out-dir;
# Release build of this checkout; every part in one process) and records 4 s of scheduler events (`perf sched record`)
# 14 s into each pipe's run, then prints `perf sched latency` for each, sorted by the average wait (per thread name:
# runtime, switches, average and longest wait). Needs perf (Debian: linux-perf) and root.
# Usage: bench/profile/sched_wait.sh [out-dir] [load-test arguments]
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
. "$(dirname "$0")/p99_row.sh"
row_args sched-wait "$@"
dotnet build -c Release "$repo/bench/Kommune.LoadTest" >"$dest/build.log" 2>&1
dotnet "$repo/bench/Kommune.LoadTest/bin/Release/net10.0/Kommune.LoadTest.dll" "${args[@]}" >"$dest/loadtest.txt" 2>&1 &
load=$!
trap 'kill $load 2>/dev/null || true' EXIT
for phase in "raw Confluent.Kafka pipe at" "engine, at-least-once at"; do
  until grep -q "$phase" "$dest/loadtest.txt"; do
    kill -0 $load 2>/dev/null || { echo "the load test ended before \"$phase\": $dest/loadtest.txt" >&2; exit 1; }
    sleep 1
  done
  sleep 14
  name=$(echo "$phase" | cut -d' ' -f1 | tr -d ,)
  perf sched record -o "$dest/$name.data" -- sleep 4 >/dev/null 2>&1
done
wait $load
grep '^| ' "$dest/loadtest.txt" | awk 'NR <= 5'
for name in raw engine; do
  echo "--- $name window"
  perf sched latency -i "$dest/$name.data" --sort avg 2>/dev/null | grep -E '^ +[^ -]' | awk 'NR <= 14'
done
