#!/usr/bin/env bash
# What a restore has to read, without the engine's restore: builds up state as bench/profile/restore.py does (broker
# with 256 partitions, `kommune run` with src/Engine/demo-rules.json, `kommune simulate --sensors 100000 --areas 1000
# --rate 2000`) for SECONDS, stops the engine with SIGTERM, then reads the whole state topic with kcat and prints the
# records, the time kcat took, and librdkafka's fetch responses (one `MessageSet size` line per partition per fetch
# response that carried data): how many, their bytes, and the most for one partition.
# Usage: bench/profile/state_topic_read.sh [seconds] [out dir]     (defaults: 150, state-topic-out)
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
secs=${1:-150}
out=$(mkdir -p "${2:-state-topic-out}" && cd "${2:-state-topic-out}" && pwd)
dotnet build -c Release "$repo/src/Engine" >/dev/null
dll=$repo/src/Engine/bin/Release/net10.0/kommune.dll
cd "$out"
rm -f bs
dotnet "$dll" broker --partitions 256 --bootstrap-file bs >broker.log 2>&1 &
broker=$!
trap 'kill $broker ${sim:-} ${eng:-} 2>/dev/null || true' EXIT
while [ ! -s bs ]; do sleep 0.2; done
b=$(cat bs)
dotnet "$dll" run -b "$b" --rules "$repo/src/Engine/demo-rules.json" --metrics-port 9482 >engine.log 2>&1 &
eng=$!
until grep -q '"EventId":3013' engine.log; do sleep 0.5; done
dotnet "$dll" simulate -b "$b" --sensors 100000 --areas 1000 --rate 2000 --count 1000000000000 >sim.log 2>&1 &
sim=$!
sleep "$secs"
kill -TERM $eng; wait $eng || true; eng=
kill -TERM $sim; wait $sim || true; sim=
s=$(date +%s.%N)
kcat -b "$b" -C -t kommune.state -e -q -f '%p\n' -d fetch,msg 2>fetch.log | wc -l | awk '{print "records read: " $1}'
e=$(date +%s.%N)
awk -v s="$s" -v e="$e" 'BEGIN {printf "kcat read the state topic in %.2f s\n", e - s}'
grep "MessageSet size" fetch.log | awk '{for (i = 1; i <= NF; i++) if ($i == "size") {gsub(",", "", $(i + 1)); n++; bytes += $(i + 1)}} END {printf "fetch responses with data (per partition): %d, %.1f MB\n", n, bytes / 1e6}'
grep "MessageSet size" fetch.log | grep -o "kommune.state \[[0-9]*\]" | sort | uniq -c | sort -n | tail -1 | awk '{print "most fetch responses for one partition: " $1}'
