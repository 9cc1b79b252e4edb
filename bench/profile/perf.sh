#!/usr/bin/env bash
# On-CPU profile of `kommune run` (every built-in rule, state persisted) with Linux perf, fed by `kommune simulate` at a
# fixed rate (municipal mix, 10,000 sensors, 100 areas): broker, simulator and engine as three processes. Unlike
# dotnet-trace's sampled thread time, perf counts only time on a CPU (a thread waiting for a GC or in a blocked native
# call is not charged). The engine runs with the runtime's perf map and without W^X, so perf can name JIT-compiled frames.
# Needs perf (Debian: linux-perf). Then, for example:
#   perf report -i <out>/perf.data --children --sort sym -g none | head -80
#   perf report -i <out>/perf.data --no-children --sort comm -g none
# PERF_WARM sets the seconds between the simulator's start and the recording (default 15); with NODES=N (mix.sh) the
# engine is N nodes in one group and the first of them is recorded.
# Usage: bench/profile/perf.sh [rate] [out-dir]     (defaults: 25000, ./perf-out)
set -euo pipefail
rate=${1:-25000}
dest=$(mkdir -p "${2:-perf-out}" && cd "${2:-perf-out}" && pwd)
ENGINE_ENV="DOTNET_PerfMapEnabled=1 DOTNET_EnableWriteXorExecute=0 ${ENGINE_ENV:-}"
. "$(dirname "$0")/mix.sh"
feed "$rate" $((rate * 60))
sleep ${PERF_WARM:-15}
perf record -F 499 -g -p "$engine" -o "$dest/perf.data" -- sleep 15 >"$dest/perf.log" 2>&1
stop_engine
echo "$dest/perf.data (the engine's perf map stays in /tmp/perf-$engine.map for perf report)"
