#!/usr/bin/env bash
# Validate p99 while a snapshot of SESSIONS sessions is written, against the
# same node idle. The snapshotter is due 1 s after authbench's own logins, so
# it runs inside the measured window (its duration is printed from the log).
# Not part of the test run.
#   tools/setup.sh build release && tools/snapshot-p99.sh [SESSIONS] [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."

sessions="${1:-1000000}"
seconds="${2:-3}"
bin=build/release/tools
work=$(mktemp -d)
pid=
trap 'kill -9 $pid 2>/dev/null || true; rm -rf "$work"' EXIT

run() {  # $1: snapshots.interval_s; prints "p99_us rps"
  rm -rf "$work/data" "$work/ready.json"
  cat > "$work/node.toml" <<TOML
[node]
data_dir = "$work/data"
[server]
port = 0
[monitor]
port = 0
[users]
argon2_memory_kib = 64   # bench only
argon2_iterations = 1
[sessions]
max_sessions = $((sessions + 10000))
[snapshots]
every_records = $((sessions * 10))
interval_s = $1
[testing]
populate = true
TOML
  "$bin/authd" --config "$work/node.toml" --ready-file "$work/ready.json" > "$work/out.txt" 2> "$work/err.txt" &
  pid=$!
  for _ in $(seq 600); do [[ -f "$work/ready.json" ]] && break; sleep 0.01; done
  local port password token
  port=$(sed -E 's/.*"client_port": ([0-9]+).*/\1/' "$work/ready.json")
  password=$(sed -nE 's/ *password: (.*)/\1/p' "$work/out.txt")
  token=$(echo "$password" | "$bin/authctl" --port "$port" --json login admin | sed -E 's/.*"token":"([^"]+)".*/\1/')
  "$bin/authctl" --port "$port" debug-populate "$sessions" "$token" > /dev/null
  sleep $(( $1 < 5 ? $1 + 1 : 1 ))  # let a due snapshot of the populated sessions finish first
  AUTHBENCH_PASSWORD="$password" "$bin/authbench" --port "$port" --user admin -c 50 -P 1 \
      -d "$seconds" --warmup 0.5 --json | sed -E 's/.*"throughput_rps":([0-9.]+).*"p99":([0-9.]+).*/\2 \1/'
  grep -h "snapshot at" "$work/err.txt" | tail -1 | sed 's/^/  /' >&2
  kill "$pid"; wait "$pid" 2>/dev/null || true
}

read -r idle_p99 idle_rps < <(run 3600)
echo "idle:            validate p99 ${idle_p99} us, ${idle_rps}/s"
read -r snap_p99 snap_rps < <(run 1)
echo "during snapshot: validate p99 ${snap_p99} us, ${snap_rps}/s  (ratio $(awk -v a="$snap_p99" -v b="$idle_p99" 'BEGIN { printf "%.2f", a / b }'))"
