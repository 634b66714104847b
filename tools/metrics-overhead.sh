#!/usr/bin/env bash
# What request metrics cost on validate: authbench against a node with
# monitor.request_metrics on, then off, alternating ROUNDS times (the machine
# is noisy: compare pairs run back to back). Not part of the test run.
#   tools/setup.sh build release && tools/metrics-overhead.sh [SECONDS] [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${1:-5}"
rounds="${2:-3}"
bin=build/release/tools
work=$(mktemp -d)
authd_pid=
trap 'kill $authd_pid 2>/dev/null || true; rm -rf "$work"' EXIT

# Starts a node with request metrics $1 (true/false); sets port and password.
start_node() {
  rm -rf "$work/data" "$work/ready.json"
  cat > "$work/bench.toml" <<TOML
[node]
data_dir = "$work/data"
[server]
port = 0
[monitor]
port = 0
request_metrics = $1
[users]
argon2_memory_kib = 64   # bench only: logins are not what is measured here
argon2_iterations = 1
[log]
level = "warn"
TOML
  "$bin/authd" --config "$work/bench.toml" --ready-file "$work/ready.json" > "$work/out.txt" &
  authd_pid=$!
  for _ in $(seq 100); do [[ -f "$work/ready.json" ]] && break; sleep 0.1; done
  port=$(sed -E 's/.*"client_port": ([0-9]+).*/\1/' "$work/ready.json")
  password=$(sed -nE 's/ *password: (.*)/\1/p' "$work/out.txt")
}

printf "%-6s %-12s %-8s %14s %10s\n" "round" "load" "metrics" "validate/s" "p99 us"
for round in $(seq "$rounds"); do
  for metrics in true false; do
    start_node "$metrics"
    for load in "-c 50 -P 1" "-c 50 -P 16"; do
      read -r rps p99 < <(AUTHBENCH_PASSWORD="$password" "$bin/authbench" --port "$port" \
          --user admin $load -d "$seconds" --json |
        sed -E 's/.*"throughput_rps":([0-9.]+).*"p99":([0-9.]+).*/\1 \2/')
      printf "%-6s %-12s %-8s %14.0f %10.0f\n" "$round" "$load" "$metrics" "$rps" "$p99"
    done
    kill "$authd_pid"; wait "$authd_pid" 2>/dev/null || true
  done
done
