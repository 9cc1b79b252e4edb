#!/usr/bin/env bash
# Where a fall's time goes, hop by hop: the load test (raw pipe, then the engine; all in one process, as its p99 row is
# measured) with an engine that stamps every fall event a rule takes at each hop. The stamps are a diagnostic, not part
# of the engine: hop_trace.patch adds them to a worktree of the committed HEAD (uncommitted changes are not in it), which
# is built there and removed at exit. Prints hop_trace.py's table; keeps hops.csv, falls.csv and the load test's output
# in the out-dir. Arguments after the out-dir go to the load test instead of the default below.
# Usage: bench/profile/hop_trace.sh [out-dir] [load-test arguments]
#   default: issue 18's fall-alert p99 row (p99_row.sh)
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
. "$(dirname "$0")/p99_row.sh"
row_args hop-trace "$@"
wt=$(mktemp -d)
trap 'git -C "$repo" worktree remove --force "$wt/src" >/dev/null 2>&1 || true; rm -rf "$wt"' EXIT
git -C "$repo" worktree add --detach "$wt/src" HEAD >/dev/null 2>&1
git -C "$wt/src" apply bench/profile/hop_trace.patch
dotnet build -c Release "$wt/src/bench/Kommune.LoadTest" >"$dest/build.log" 2>&1
KOMMUNE_HOP_TRACE="$dest/hops.csv" dotnet "$wt/src/bench/Kommune.LoadTest/bin/Release/net10.0/Kommune.LoadTest.dll" \
  "${args[@]}" --fall-dump "$dest/falls.csv" >"$dest/loadtest.txt" 2>&1
grep '^| ' "$dest/loadtest.txt" | awk 'NR <= 5'
python3 "$repo/bench/profile/hop_trace.py" "$dest/hops.csv" "$dest/falls.csv"
