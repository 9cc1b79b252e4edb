#!/usr/bin/env bash
# Profiles `kommune run` (every built-in rule, state persisted) for 20 s while `kommune simulate` offers events of the
# municipal mix; broker, simulator and engine run as three processes. Needs dotnet-trace
# (`dotnet tool install -g dotnet-trace`). Then: python3 bench/profile/cpu_by_frame.py <out>/engine.speedscope.json
# Extra environment for the engine only comes from ENGINE_ENV (as in cpu_per_event.sh).
# Usage: bench/profile/run.sh [rate] [out-dir]     (defaults: 12000, ./profile-out)
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
rate=${1:-12000}
out=$(mkdir -p "${2:-profile-out}" && cd "${2:-profile-out}" && pwd)
trace=${DOTNET_TRACE:-$HOME/.dotnet/tools/dotnet-trace}
dotnet build -c Release "$repo/src/Engine" >/dev/null
k="$repo/src/Engine/bin/Release/net10.0/kommune.dll"
cd "$out"
rm -f bs engine.nettrace engine.speedscope.json
dotnet "$k" broker --partitions 12 --bootstrap-file bs >broker.log 2>&1 &
broker=$!
trap 'kill $broker 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do [ -s bs ] && break; sleep 0.2; done
b=$(cat bs)
env ${ENGINE_ENV:-} dotnet "$k" run -b "$b" --rules "$repo/src/Engine/demo-rules.json" >engine.log 2>&1 &
engine=$!
sleep 5
dotnet "$k" simulate -b "$b" --rate "$rate" --sensors 10000 --areas 100 --count $((rate * 60)) >sim.log 2>&1 &
sim=$!
sleep 10
"$trace" collect -p "$engine" --profile dotnet-sampled-thread-time --duration 00:00:00:20 -o engine.nettrace >trace.log 2>&1
kill "$sim" 2>/dev/null || true
kill -TERM "$engine"   # SIGTERM: a background job of a script ignores SIGINT
wait "$engine" || true
"$trace" convert engine.nettrace --format speedscope -o engine.speedscope.json >convert.log 2>&1
ls "$out"/*.json
