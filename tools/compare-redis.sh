#!/usr/bin/env bash
# validate against Redis GET, side by side in one run (issue 17's measure):
# a node holding SESSIONS sessions (debug_populate) and a Redis holding as
# many 64-byte values (DEBUG POPULATE, no persistence); for each load, ROUNDS
# interleaved runs of SECONDS each (authbench validate, then redis-benchmark
# GET with the same -c/-P), medians printed, with the median of the rounds'
# ratios. Then the memory each holds per session: RSS over SESSIONS, and the
# growth populating caused. Not part of the test run. Needs redis-server and
# redis-tools (apt-get install redis-server redis-tools) and a release build:
#   tools/setup.sh build release && tools/compare-redis.sh [SECONDS] [ROUNDS] [SESSIONS]
#   tools/compare-redis.sh 5 3 1000000
# BENCH_NODE_CPUS pins the node (bench-node.sh), BENCH_PEER_CPUS Redis,
# BENCH_CLIENT_CPUS both load generators (taskset -c lists).
set -euo pipefail
cd "$(dirname "$0")/.."
source tools/bench-node.sh

seconds="${1:-5}"
rounds="${2:-3}"
sessions="${3:-1000000}"
bin=build/release/tools
work=$(mktemp -d)
node_pid=
redis_pid=
trap 'kill $node_pid $redis_pid 2>/dev/null || true; rm -rf "$work"' EXIT

rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }
client() { ${BENCH_CLIENT_CPUS:+taskset -c "$BENCH_CLIENT_CPUS"} "$@"; }
median() { sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

bench_config "" "[log]
level = \"warn\"
[sessions]
max_sessions = $((sessions + 100000))
[testing]
populate = true"
bench_start
port=$node_port
password=$node_password
node_rss_empty=$(rss_kib "$node_pid")
"$bin/authctl" --port "$port" debug-populate "$sessions" "$(bench_admin_token)" > /dev/null
# RSS once the snapshot that covers the populate is written: what the node
# keeps per session, not what a snapshot in progress holds for a moment.
monitor_port=$(sed -E 's/.*"monitor_port": ([0-9]+).*/\1/' "$work/ready.json")
for _ in $(seq 120); do
  covered=$(curl -s "http://127.0.0.1:$monitor_port/metrics" |
    awk '/^castellan_snapshot_last_position / { printf "%d", $2 }')
  [[ -n "$covered" && "$covered" -gt "$sessions" ]] && break
  sleep 0.5
done
node_rss=$(rss_kib "$node_pid")

redis_port=$((20000 + RANDOM % 20000))
${BENCH_PEER_CPUS:+taskset -c "$BENCH_PEER_CPUS"} redis-server --port "$redis_port" --bind 127.0.0.1 \
  --save '' --appendonly no --enable-debug-command local --daemonize no > "$work/redis.log" 2>&1 &
redis_pid=$!
for _ in $(seq 50); do redis-cli -p "$redis_port" ping > /dev/null 2>&1 && break; sleep 0.1; done
redis_rss_empty=$(rss_kib "$redis_pid")
populated=$(redis-cli -p "$redis_port" debug populate "$sessions" key 64)
[[ "$populated" == OK ]] || { echo "redis DEBUG POPULATE failed: $populated" >&2; exit 1; }
redis_rss=$(rss_kib "$redis_pid")

validate_run() {  # prints "validates/s p99-us"
  AUTHBENCH_PASSWORD="$password" client "$bin/authbench" --port "$port" --user admin "$@" \
    -d "$seconds" --json |
    sed -E 's/.*"throughput_rps":([0-9.]+).*"latency_us":\{[^}]*"p99":([0-9.]+).*/\1 \2/'
}
get_run() {  # prints "GETs/s p99-us"; -n sized to last about as long as the validate run
  local n="$1"
  shift
  # -r: random keys among those populated (key:0 .. key:SESSIONS-1).
  client redis-benchmark -p "$redis_port" -t get -d 64 -r "$sessions" "$@" -n "$n" --csv 2>/dev/null |
    awk -F'","' '/^"GET/ { print $2, $7 * 1000 }'
}

printf '| load | castellan validates/s | p99 us | redis GETs/s | p99 us | ratio (median of rounds) |\n'
printf '|---|---|---|---|---|---|\n'
for load in "-c 50 -P 1" "-c 50 -P 16" "-c 1 -P 1"; do
  cr=() cp=() rr=() rp=() ratio=()
  for _ in $(seq "$rounds"); do
    # shellcheck disable=SC2086
    read -r c_rps c_p99 < <(validate_run $load)
    n=$(awk -v r="$c_rps" -v s="$seconds" 'BEGIN { printf "%d", r * s }')
    # shellcheck disable=SC2086
    read -r r_rps r_p99 < <(get_run "$n" $load)
    cr+=("$c_rps") cp+=("$c_p99") rr+=("$r_rps") rp+=("$r_p99")
    ratio+=("$(awk -v a="$c_rps" -v b="$r_rps" 'BEGIN { print a / b }')")
  done
  printf '| `%s` | %.0f | %.0f | %.0f | %.0f | %.2f |\n' "$load" \
    "$(printf '%s\n' "${cr[@]}" | median)" "$(printf '%s\n' "${cp[@]}" | median)" \
    "$(printf '%s\n' "${rr[@]}" | median)" "$(printf '%s\n' "${rp[@]}" | median)" \
    "$(printf '%s\n' "${ratio[@]}" | median)"
done

printf '\n| with %s sessions | RSS | bytes per session (RSS / sessions) | growth per session |\n' "$sessions"
printf '|---|---|---|---|\n'
for who in node redis; do
  full="${who}_rss" empty="${who}_rss_empty" label="$who"
  [[ "$who" == node ]] && label=castellan
  awk -v w="$label" -v f="${!full}" -v e="${!empty}" -v n="$sessions" \
    'BEGIN { printf "| %s | %.0f MB | %.0f | %.0f |\n", w, f / 1024, f * 1024 / n, (f - e) * 1024 / n }'
done
