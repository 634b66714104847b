#!/usr/bin/env bash
# A login spike on one node at the default argon2 cost (docs/operations.md,
# "Overload"). Measures the idle login latency and the login capacity, then
# offers FACTOR times that capacity open-loop for SECONDS with a 1 s client
# deadline, while a modest validate client runs on its own connections, and
# prints the goodput, the latency of admitted and of refused logins, and the
# validate p99 against the same client on the idle node. Not part of the test
# run.
#   tools/setup.sh build release && tools/overload-bench.sh [FACTOR] [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
source tools/bench-node.sh

factor="${1:-10}"
seconds="${2:-30}"
validate_rate=2000
bin=build/release/tools
work=$(mktemp -d)
node_pid=
trap 'kill -9 $node_pid 2>/dev/null || true; rm -rf "$work"' EXIT

# The default argon2 cost (the bootstrap admin's hash is made with it), and
# limits no run reaches: admission is measured here, not the limiter.
generous='rate_per_s = 1000000
burst = 1000000
lockout_after = 0'
bench_config "" "[limiter.user]
$generous
[limiter.ip]
$generous
[limiter.user_ip]
$generous" "# the default argon2 cost"
bench_start
export AUTHBENCH_PASSWORD="$node_password"

# json KEY [SECTION]: a number from authbench's JSON on stdin (inside SECTION's
# object when given, e.g. latency_ok_us).
json() {
  local text
  text=$(cat)
  [[ -n "${2:-}" ]] && text=${text#*\"$2\":}
  grep -oE "\"$1\":[0-9.]+" <<< "$text" | head -1 | cut -d: -f2
}
bench() { "$bin/authbench" --port "$node_port" --user admin --json "$@"; }
ms() { awk -v us="$1" 'BEGIN { printf "%.1f", us / 1000 }'; }

# authd's resident memory in MiB, from /proc.
rss_now() { awk '/^VmRSS/ { printf "%.0f", $2 / 1024 }' "/proc/$node_pid/status"; }
rss_before=$(rss_now)
rss() { echo "$rss_before"; }

idle_login=$(bench --op login -c 1 --rate 5 -d 5 --warmup 1)
idle_p99=$(json p99 latency_ok_us <<< "$idle_login")
# Capacity: `ok` logins per second with a few always waiting, closed loop.
capacity=$(bench --op login -c 4 -d 5 --warmup 1 | json ok_rps)
idle_validate=$(bench --op validate -c 4 --rate "$validate_rate" -d 10 --warmup 1 | json p99)
rate=$(awk -v c="$capacity" -v f="$factor" 'BEGIN { printf "%.0f", c * f }')
echo "idle: login p50 $(ms "$(json p50 latency_ok_us <<< "$idle_login")") ms, p99 $(ms "$idle_p99") ms;" \
     "capacity ${capacity%.*} logins/s; validate p99 $(ms "$idle_validate") ms at ${validate_rate}/s"

# The validate client logs in first (its warmup covers the storm's start);
# both measure the same window.
bench --op validate -c 4 --rate "$validate_rate" -d "$seconds" --warmup 2 > "$work/validate.json" &
validate_pid=$!
sleep 1
storm=$(bench --op login -c 50 --rate "$rate" -d "$seconds" --warmup 1 --deadline-ms 1000)
wait "$validate_pid"
good=$(json goodput_rps <<< "$storm")
admitted_p99=$(json p99 latency_ok_us <<< "$storm")
storm_validate=$(json p99 < "$work/validate.json")
echo "storm: ${rate}/s offered for ${seconds} s (${factor}x capacity), 1 s client deadline"
echo "  goodput ${good%.*}/s ok within the deadline: $(awk -v g="$good" -v c="$capacity" 'BEGIN { printf "%.0f", 100 * g / c }')% of capacity"
echo "  admitted logins: p50 $(ms "$(json p50 latency_ok_us <<< "$storm")") ms, p99 $(ms "$admitted_p99") ms" \
     "($(awk -v a="$admitted_p99" -v b="$idle_p99" 'BEGIN { printf "%.1f", a / b }')x idle p99)"
echo "  refused (unavailable): $(json unavailable <<< "$storm") in all, p99 $(ms "$(json p99 latency_error_us <<< "$storm")") ms;" \
     "late $(json late <<< "$storm"), unanswered $(json unanswered <<< "$storm")"
echo "  validate p99 $(ms "$storm_validate") ms ($(awk -v a="$storm_validate" -v b="$idle_validate" 'BEGIN { printf "%.1f", a / b }')x idle)"
echo "  authd resident memory: $(rss) MiB before the runs, $(rss_now) MiB after"
bench_stop
