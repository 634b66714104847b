#!/usr/bin/env bash
# What request metrics cost on validate: authbench against a node with
# monitor.request_metrics on, then off, alternating ROUNDS times (the machine
# is noisy: compare pairs run back to back). Not part of the test run.
#   tools/setup.sh build release && tools/metrics-overhead.sh [SECONDS] [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/.."
source tools/bench-node.sh

seconds="${1:-5}"
rounds="${2:-3}"
bin=build/release/tools
work=$(mktemp -d)
node_pid=
trap 'kill $node_pid 2>/dev/null || true; rm -rf "$work"' EXIT

printf "%-6s %-12s %-8s %14s %10s\n" "round" "load" "metrics" "validate/s" "p99 us"
for round in $(seq "$rounds"); do
  for metrics in true false; do
    rm -rf "$work/data" "$work/out.txt"
    bench_config "request_metrics = $metrics" '[log]
level = "warn"'
    bench_start
    for load in "-c 50 -P 1" "-c 50 -P 16"; do
      read -r rps p99 < <(AUTHBENCH_PASSWORD="$node_password" "$bin/authbench" --port "$node_port" \
          --user admin $load -d "$seconds" --json |
        sed -E 's/.*"throughput_rps":([0-9.]+).*"p99":([0-9.]+).*/\1 \2/')
      printf "%-6s %-12s %-8s %14.0f %10.0f\n" "$round" "$load" "$metrics" "$rps" "$p99"
    done
    bench_stop
  done
done
