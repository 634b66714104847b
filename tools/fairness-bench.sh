#!/usr/bin/env bash
# Fairness under a validate flood (docs/performance.md, "A validate flood"):
# a modest open-loop client (RATE validates/s on 4 connections of its own)
# measured on the idle node, then while 1,000 connections keep 16 validates
# each in flight. Prints the modest client's p99 both ways and the flood's
# throughput against the node's capacity (the flood alone). Not part of the
# test run.
#   tools/setup.sh build release && tools/fairness-bench.sh [SECONDS] [RATE]
set -euo pipefail
cd "$(dirname "$0")/.."
source tools/bench-node.sh

seconds="${1:-10}"
rate="${2:-200}"
bin=build/release/tools
work=$(mktemp -d)
node_pid=
trap 'kill -9 $node_pid 2>/dev/null || true; rm -rf "$work"' EXIT

generous='rate_per_s = 1000000
burst = 1000000
lockout_after = 0'
bench_config "" "[limiter.user]
$generous
[limiter.ip]
$generous
[limiter.user_ip]
$generous"
bench_start
export AUTHBENCH_PASSWORD="$node_password"

json() {
  local text
  text=$(cat)
  [[ -n "${2:-}" ]] && text=${text#*\"$2\":}
  grep -oE "\"$1\":[0-9.]+" <<< "$text" | head -1 | cut -d: -f2
}
bench() { "$bin/authbench" --port "$node_port" --user admin --json "$@"; }
ms() { awk -v us="$1" 'BEGIN { printf "%.2f", us / 1000 }'; }
# Placement (all optional): FLOOD_NICE / MODEST_NICE (nice values),
# FLOOD_CPUS / MODEST_CPUS (taskset -c lists), MODEST_RT=1 (the modest
# client at SCHED_FIFO, so what it measures is the node, not its own wait for
# a CPU); BENCH_NODE_CPUS pins the node (bench-node.sh).
place() {
  local cpus="$1" niceness="$2" rt="$3"
  shift 3
  ${cpus:+taskset -c "$cpus"} ${niceness:+nice -n "$niceness"} ${rt:+chrt -f 10} "$@"
}
flood() { place "${FLOOD_CPUS:-}" "${FLOOD_NICE:-}" "" "$bin/authbench" --port "$node_port" --user admin --json --op validate -c 1000 -P 16 "$@"; }
modest() { place "${MODEST_CPUS:-}" "${MODEST_NICE:-}" "${MODEST_RT:-}" "$bin/authbench" --port "$node_port" --user admin --json --op validate -c 4 --rate "$rate" --deadline-ms 5000 -d "$seconds" --warmup 1; }

idle=$(modest)
capacity=$(flood -d "$seconds" --warmup 2 | json throughput_rps)
flood -d "$((seconds + 6))" --warmup 2 > "$work/flood.json" &
flood_pid=$!
sleep 4
loaded=$(modest)
wait "$flood_pid"
under=$(json throughput_rps < "$work/flood.json")
printf 'modest client (%s/s, 4 connections): p99 idle %s ms, under the flood %s ms (%.1fx); p50 %s / %s ms\n' \
  "$rate" "$(ms "$(json p99 <<< "$idle")")" "$(ms "$(json p99 <<< "$loaded")")" \
  "$(awk -v a="$(json p99 <<< "$loaded")" -v b="$(json p99 <<< "$idle")" 'BEGIN { print a / b }')" \
  "$(ms "$(json p50 <<< "$idle")")" "$(ms "$(json p50 <<< "$loaded")")"
printf 'flood (1000 connections x 16): %.0f validates/s alone, %.0f/s with the modest client (%.0f%%); flood p99 %s ms\n' \
  "$capacity" "$under" "$(awk -v a="$under" -v b="$capacity" 'BEGIN { print 100 * a / b }')" \
  "$(ms "$(json p99 < "$work/flood.json")")"
