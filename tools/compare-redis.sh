#!/usr/bin/env bash
# Measures validate throughput and p99 with authbench, then redis-benchmark GET
# (-d 64, no persistence) with the same -c/-P right after, and prints ratios.
# Not part of the test run (it takes about a minute). Needs redis-server and
# redis-tools (apt-get install redis-server redis-tools) and a release build:
#   tools/setup.sh build release && tools/compare-redis.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
source tools/bench-node.sh

seconds="${1:-5}"
bin=build/release/tools
work=$(mktemp -d)
node_pid=
redis_pid=
trap 'kill $node_pid $redis_pid 2>/dev/null || true; rm -rf "$work"' EXIT

bench_config "" '[log]
level = "warn"'
bench_start
port=$node_port
password=$node_password

redis_port=$((20000 + RANDOM % 20000))
redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no --daemonize no \
  > "$work/redis.log" 2>&1 &
redis_pid=$!
for _ in $(seq 50); do redis-cli -p "$redis_port" ping > /dev/null 2>&1 && break; sleep 0.1; done
redis-cli -p "$redis_port" set key:__rand_int__ "$(head -c 64 /dev/zero | tr '\0' x)" > /dev/null

printf "%-14s %14s %10s %14s %10s %8s\n" "load" "castellan/s" "p99 us" "redis/s" "p99 us" "ratio"
for load in "-c 50 -P 1" "-c 50 -P 16" "-c 1 -P 1"; do
  read -r c_rps c_p99 < <(AUTHBENCH_PASSWORD="$password" "$bin/authbench" --port "$port" \
      --user admin $load -d "$seconds" --json |
    sed -E 's/.*"throughput_rps":([0-9.]+).*"latency_us":\{[^}]*"p99":([0-9.]+).*/\1 \2/')
  # -n scaled to take about as long as the authbench run.
  n=$(awk -v r="$c_rps" -v s="$seconds" 'BEGIN { printf "%d", r * s }')
  read -r r_rps r_p99 < <(redis-benchmark -p "$redis_port" -t get -d 64 $load -n "$n" --csv 2>/dev/null |
    awk -F'","' '/^"GET/ { print $2, $7 * 1000 }')
  printf "%-14s %14.0f %10.0f %14.0f %10.0f %8.2f\n" "$load" "$c_rps" "$c_p99" "$r_rps" "$r_p99" \
    "$(awk -v a="$c_rps" -v b="$r_rps" 'BEGIN { print a / b }')"
done
