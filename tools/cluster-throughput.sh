#!/usr/bin/env bash
# validate throughput of one node against the three-node example cluster on
# this machine (docs/performance.md, "Cluster"). Not part of the test run.
#   tools/setup.sh build release && tools/cluster-throughput.sh [SECONDS]
# One node: authbench -c 48 against it. Cluster: three authbench runs at
# once, -c 16 each, one per member (a gateway spreads over members), summed;
# then -c 48 against one member only (two thirds of its validates forwarded).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
source tools/bench-node.sh

seconds="${1:-5}"
bin="${CASTELLAN_BIN:-$root/build/release/tools}"
work=$(mktemp -d)
node_pid=
trap 'kill $node_pid 2>/dev/null || true; (cd "$work" && CASTELLAN_BIN="$bin" "$root/tools/cluster-3.sh" stop) || true; sleep 1; rm -rf "$work"' EXIT

rps() { sed -E 's/.*"throughput_rps":([0-9.]+).*/\1/'; }
p99() { sed -E 's/.*"p99":([0-9.]+).*/\1/'; }

bench_config "" '[log]
level = "warn"'
bench_start
for pipeline in 1 16; do
  out=$(AUTHBENCH_PASSWORD="$node_password" "$bin/authbench" --port "$node_port" --user admin \
        -c 48 -P "$pipeline" -d "$seconds" --json)
  printf "one node        -c 48 -P %-3s %10.0f validates/s  p99 %6.0f us\n" "$pipeline" \
    "$(echo "$out" | rps)" "$(echo "$out" | p99)"
done
bench_stop

cd "$work"
CASTELLAN_BIN="$bin" "$root/tools/cluster-3.sh" start > start.txt
password=$(sed -nE 's/ *password: (.*)/\1/p' cluster-3-data/node-a.log | head -1)
for _ in $(seq 100); do
  "$bin/authctl" -p 7411 cluster status > /dev/null 2>&1 && break
  sleep 0.1
done
for pipeline in 1 16; do
  pids=()
  for port in 7411 7412 7413; do
    AUTHBENCH_PASSWORD="$password" "$bin/authbench" --port "$port" --user admin -c 16 \
      -P "$pipeline" -d "$seconds" --json > "bench-$port.json" &
    pids+=($!)
  done
  wait "${pids[@]}"
  total=$(cat bench-741?.json | rps | awk '{ s += $1 } END { printf "%d", s }')
  worst=$(cat bench-741?.json | p99 | sort -n | tail -1)
  printf "three members   -c 3x16 -P %-3s %8.0f validates/s  p99 %6.0f us (worst member)\n" \
    "$pipeline" "$total" "$worst"
  out=$(AUTHBENCH_PASSWORD="$password" "$bin/authbench" --port 7411 --user admin -c 48 \
        -P "$pipeline" -d "$seconds" --json)
  printf "one member of 3 -c 48 -P %-3s %10.0f validates/s  p99 %6.0f us\n" "$pipeline" \
    "$(echo "$out" | rps)" "$(echo "$out" | p99)"
done
