# Sourced by the profile scripts: builds the engine (Release), starts the embedded broker (12 partitions, or PARTITIONS) and
# `kommune run` (every built-in rule, state persisted; extra environment from ENGINE_ENV) in a temporary directory,
# and removes both at exit. RULES names another rules file (default src/Engine/demo-rules.json: every built-in family). Sets: repo, k (kommune.dll), out, b (bootstrap servers), port (the engine's metrics
# port), broker, engine; and the functions feed (starts `kommune simulate` as $sim, also stopped at exit) and stop_engine.
# With NODES=N it starts N `kommune run` processes in one consumer group, each with its own metrics port and log
# (engine.log, engine2.log, ...), all without static membership (the embedded broker does not implement KIP-345;
# Kommune.LoadTest --nodes does the same), NODES=1 included so that 1 and N nodes run alike: engines and ports list
# all N, engine and port stay the first. Without NODES: one engine, the engine's own membership setting.
repo=$(cd "$(dirname "$0")/../.." && pwd)
out=$(mktemp -d)
dotnet build -c Release "$repo/src/Engine" >/dev/null
k="$repo/src/Engine/bin/Release/net10.0/kommune.dll"
cd "$out"
dotnet "$k" broker --partitions "${PARTITIONS:-12}" --bootstrap-file bs >broker.log 2>&1 &
broker=$!
trap 'kill $broker ${sim:-} ${engines:-} 2>/dev/null || true; rm -rf "$out"' EXIT
for _ in $(seq 1 100); do [ -s bs ] && break; sleep 0.2; done
b=$(cat bs)
nodes=${NODES:-1}
membership=
if [ -n "${NODES:-}" ]; then membership=KOMMUNE_StaticMembership=false; fi
engines=; ports=
for n in $(seq 1 "$nodes"); do
  p=$((20000 + RANDOM % 20000 + n))
  log=engine.log; [ "$n" -gt 1 ] && log=engine$n.log
  env KOMMUNE_MetricsPort=$p $membership ${ENGINE_ENV:-} dotnet "$k" run -b "$b" --rules "${RULES:-$repo/src/Engine/demo-rules.json}" >"$log" 2>&1 &
  engines="$engines $!"; ports="$ports $p"
done
engine=$(echo $engines | cut -d' ' -f1); port=$(echo $ports | cut -d' ' -f1)

# feed <rate> <events>: after the engine's start-up (5 s), `kommune simulate` offers the municipal mix (10,000 sensors,
# 100 areas) at <rate> until it has sent <events>, in the background as $sim.
feed() {
  sleep 5
  dotnet "$k" simulate -b "$b" --rate "$1" --sensors 10000 --areas 100 --count "$2" >sim.log 2>&1 &
  sim=$!
}

# stop_engine: SIGTERM (a background job of a script ignores SIGINT) to every node, then wait for them to end.
stop_engine() {
  kill -TERM $engines
  for e in $engines; do wait "$e" || true; done
}
