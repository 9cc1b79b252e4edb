# Sourced by the profile scripts that run issue 18's fall-alert p99 row: the load test's arguments for that row
# (bench/README.md), the default when a script is given none of its own.
p99_row=(--rate 22781 --duration 20 --warmup 10 --sensors 10000 --areas 100)
