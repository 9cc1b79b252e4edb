#!/usr/bin/env bash
# Runs the whole test suite: first makes sure the system tools the tests use are present (installing Debian
# packages when run as root, as CI is; otherwise saying what to install), then `dotnet test Engine.sln`.
# Extra arguments go to dotnet test, e.g. ./test.sh --filter FullyQualifiedName~Restart
set -euo pipefail
cd "$(dirname "$0")"

# Debian packages the tests use: kcat (the kcat interop test talks to the engine through Kafka with it),
# prometheus (a real Prometheus server scrapes the engine; promtool checks the scrape and the shipped rules) and
# chromium (the console's browser tests drive it headless through Playwright; no browser is downloaded).
packages=()
command -v kcat >/dev/null 2>&1 || packages+=(kcat)
{ command -v prometheus && command -v promtool; } >/dev/null 2>&1 || packages+=(prometheus)
[ -x /usr/bin/chromium ] || packages+=(chromium)

if ((${#packages[@]} > 0)); then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "Installing Debian packages the tests need: ${packages[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${packages[@]}" >/dev/null
  else
    echo "The tests need these Debian packages: ${packages[*]}" >&2
    echo "Install them with: sudo apt-get install ${packages[*]}" >&2
    exit 1
  fi
fi

log=$(mktemp)
trap 'rm -f "$log"' EXIT
set +e
# A test that hangs is stopped after five minutes and named (the longest test takes about one), so a hang shows as a
# failure instead of holding the run past CI's limit.
dotnet test Engine.sln --blame-hang-timeout 5m --blame-hang-dump-type none "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e

# One closing line over all test assemblies.
awk '/(Passed|Failed)!/ {
       for (i = 1; i <= NF; i++) {
         if ($i == "Failed:") failed += $(i+1) + 0
         if ($i == "Passed:") passed += $(i+1) + 0
         if ($i == "Skipped:") skipped += $(i+1) + 0
       }
     }
     END { printf "tests: %d passed, %d failed, %d skipped\n", passed, failed, skipped }' "$log"
exit "$status"
