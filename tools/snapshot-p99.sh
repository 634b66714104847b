#!/usr/bin/env bash
# Validate p99 while a snapshot of SESSIONS sessions is written, against the
# same node idle. The snapshotter is due 1 s after authbench's own logins, so
# it runs inside the measured window (its duration is printed from the log).
# Not part of the test run.
#   tools/setup.sh build release && tools/snapshot-p99.sh [SESSIONS] [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
source tools/bench-node.sh

sessions="${1:-1000000}"
seconds="${2:-3}"
bin=build/release/tools
work=$(mktemp -d)
node_pid=
trap 'kill -9 $node_pid 2>/dev/null || true; rm -rf "$work"' EXIT

run() {  # $1: snapshots.interval_s; prints "p99_us rps"
  rm -rf "$work/data" "$work/out.txt" "$work/err.txt"
  bench_config "" "[sessions]
max_sessions = $((2 * sessions))
[snapshots]
every_records = $((sessions * 10))
interval_s = $1
[testing]
populate = true"
  bench_start
  "$bin/authctl" --port "$node_port" debug-populate "$sessions" "$(bench_admin_token)" > /dev/null
  sleep $(( $1 < 5 ? $1 + 1 : 1 ))  # let a due snapshot of the populated sessions finish first
  AUTHBENCH_PASSWORD="$node_password" "$bin/authbench" --port "$node_port" --user admin -c 50 -P 1 \
      -d "$seconds" --warmup 0.5 --json | sed -E 's/.*"throughput_rps":([0-9.]+).*"latency_us":\{[^}]*"p99":([0-9.]+).*/\2 \1/'
  grep -h "snapshot at" "$work/err.txt" | tail -1 | sed 's/^/  /' >&2
  bench_stop
}

read -r idle_p99 idle_rps < <(run 3600)
echo "idle:            validate p99 ${idle_p99} us, ${idle_rps}/s"
read -r snap_p99 snap_rps < <(run 1)
echo "during snapshot: validate p99 ${snap_p99} us, ${snap_rps}/s  (ratio $(awk -v a="$snap_p99" -v b="$idle_p99" 'BEGIN { printf "%.2f", a / b }'))"
