# Sourced by the profile scripts that run issue 18's fall-alert p99 row: the load test's arguments for that row
# (bench/README.md), the default when a script is given none of its own.
p99_row=(--rate 22781 --duration 20 --warmup 10 --sensors 10000 --areas 100)

# row_args <default out-dir> [out-dir] [load-test arguments]: the scripts' common arguments. Sets dest (the out-dir,
# made and absolute) and args (the load-test arguments given, or the p99 row's).
row_args() {
  local default=$1
  shift
  dest=$(mkdir -p "${1:-$default}" && cd "${1:-$default}" && pwd)
  shift || true
  args=("$@")
  if [ ${#args[@]} -eq 0 ]; then args=("${p99_row[@]}"); fi
}
