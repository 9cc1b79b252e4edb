#!/usr/bin/env bash
# Where the engine allocates: `kommune run` (every built-in rule, state persisted) fed by `kommune simulate` at a fixed
# rate, as run.sh does, with 15 s of dotnet-trace's gc-verbose profile (an allocation tick about every 100 KB, with its
# type and stack); then bench/profile/alloc sums them by type and by the engine frame that allocated.
# Needs dotnet-trace (`dotnet tool install -g dotnet-trace`).
# Usage: bench/profile/alloc.sh [rate] [out-dir]     (defaults: 7500, ./alloc-out)
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
rate=${1:-7500}
out=$(mkdir -p "${2:-alloc-out}" && cd "${2:-alloc-out}" && pwd)
trace=${DOTNET_TRACE:-$HOME/.dotnet/tools/dotnet-trace}
dotnet build -c Release "$repo/src/Engine" >/dev/null
dotnet build -c Release "$repo/bench/profile/alloc" >/dev/null
k="$repo/src/Engine/bin/Release/net10.0/kommune.dll"
cd "$out"
rm -f bs engine.nettrace
dotnet "$k" broker --partitions 12 --bootstrap-file bs >broker.log 2>&1 &
broker=$!
trap 'kill $broker 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do [ -s bs ] && break; sleep 0.2; done
b=$(cat bs)
dotnet "$k" run -b "$b" --rules "$repo/src/Engine/demo-rules.json" >engine.log 2>&1 &
engine=$!
sleep 5
dotnet "$k" simulate -b "$b" --rate "$rate" --sensors 10000 --areas 100 --count $((rate * 45)) >sim.log 2>&1 &
sim=$!
sleep 10
"$trace" collect -p "$engine" --profile gc-verbose --duration 00:00:00:15 -o engine.nettrace >trace.log 2>&1
kill "$sim" 2>/dev/null || true
kill -TERM "$engine"   # SIGTERM: a background job of a script ignores SIGINT
wait "$engine" || true
dotnet "$repo/bench/profile/alloc/bin/Release/net10.0/Kommune.AllocationProfile.dll" engine.nettrace 30 >allocations.txt
cat allocations.txt
