#!/usr/bin/env bash
# What each garbage collection of the engine costs and why, at a fixed rate: the setup of gc_pauses.sh (broker,
# `kommune simulate` with the municipal mix, `kommune run` with every built-in rule), 15 s of the runtime's GC events at
# verbose level (dotnet-trace), then one line per collection from bench/profile/alloc --gcs: generation, pause, bytes
# promoted, and the mark phase's time and promoted bytes by kind of root ("older": what old objects' dirty cards point
# at). Extra environment for the engine only comes from ENGINE_ENV. Needs dotnet-trace.
# Usage: bench/profile/gc_trace.sh [rate] [out-dir]     (defaults: 22781, ./gc-out)
set -euo pipefail
rate=${1:-22781}
dest=$(mkdir -p "${2:-gc-out}" && cd "${2:-gc-out}" && pwd)
trace=${DOTNET_TRACE:-$HOME/.dotnet/tools/dotnet-trace}
. "$(dirname "$0")/mix.sh"
dotnet build -c Release "$repo/bench/profile/alloc" >/dev/null
feed "$rate" $((rate * 45))
sleep 15
"$trace" collect -p "$engine" --providers Microsoft-Windows-DotNETRuntime:0x1:5 --duration 00:00:00:15 \
  -o "$dest/engine.nettrace" >"$dest/trace.log" 2>&1
stop_engine
dotnet "$repo/bench/profile/alloc/bin/Release/net10.0/Kommune.AllocationProfile.dll" --gcs "$dest/engine.nettrace" \
  | tee "$dest/gcs.txt"
