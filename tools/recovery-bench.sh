#!/usr/bin/env bash
# Restart time with many live sessions, against Redis loading as many keys.
# Castellan: SESSIONS sessions via debug_populate (snapshot), then a log
# tail of TAIL more, kill -9, restart: time from exec to the first validate
# answered. Redis 7: DEBUG POPULATE SESSIONS keys of 64 B, saved as RDB and
# as a plain AOF, restarted: time from exec to the first PING answered (not
# LOADING). Also: bytes per session in the snapshot. Not part of the test run.
#   tools/setup.sh build release && tools/recovery-bench.sh [SESSIONS] [TAIL]
set -euo pipefail
cd "$(dirname "$0")/.."
source tools/bench-node.sh

sessions="${1:-1000000}"
tail_n="${2:-50000}"
bin=build/release/tools
work=$(mktemp -d)
pids=()
trap 'kill -9 "${pids[@]}" 2>/dev/null || true; [[ -n "${KEEP:-}" ]] || rm -rf "$work"' EXIT

now_ns() { date +%s%N; }

bench_config "" "[sessions]
max_sessions = $((2 * (sessions + tail_n)))
[snapshots]
every_records = $sessions
interval_s = 3600
[testing]
populate = true"

bench_start
pids+=("$node_pid")
token=$(bench_admin_token)
echo "populating $sessions sessions..."
"$bin/authctl" --port "$node_port" debug-populate "$sessions" "$token"
for _ in $(seq 600); do
  ls "$work/data/snapshots/"*.snap > /dev/null 2>&1 && break; sleep 0.1
done
snap=$(ls -t "$work/data/snapshots/"*.snap | head -1)
echo "snapshot: $(stat -c %s "$snap") bytes, $(awk -v b="$(stat -c %s "$snap")" -v n="$sessions" 'BEGIN { printf "%.1f", b / n }') bytes per session"
"$bin/authctl" --port "$node_port" debug-populate "$tail_n" "$token"
bench_stop KILL

bench_start  # returns once the listener is open, i.e. recovery is done
pids+=("$node_pid")
for _ in $(seq 10000); do
  "$bin/authctl" --port "$node_port" validate "$token" > /dev/null 2>&1 && break
  sleep 0.002
done
t1=$(now_ns)
echo "castellan: start to serving validate with $((sessions + tail_n + 1)) sessions: $(( (t1 - t0) / 1000000 )) ms"
grep -E "audit log|recovered|serving" "$work/err.txt" | tail -3
bench_stop

# Redis: the same number of keys, 64-byte values.
redis_port=$((20000 + RANDOM % 20000))
rdir="$work/redis"; mkdir -p "$rdir"
redis_start() {  # $@: extra args; sets t0
  t0=$(now_ns)
  redis-server --port "$redis_port" --bind 127.0.0.1 --dir "$rdir" "$@" --daemonize no > "$rdir/log.txt" 2>&1 &
  pids+=($!)
}
redis_wait() { for _ in $(seq 100000); do [[ "$(redis-cli -p "$redis_port" ping 2>/dev/null)" == PONG ]] && return; sleep 0.002; done; }

redis_start --save '' --appendonly no --enable-debug-command local; redis_wait
redis-cli -p "$redis_port" debug populate "$sessions" key 64 > /dev/null
redis-cli -p "$redis_port" save > /dev/null
redis-cli -p "$redis_port" config set appendonly yes > /dev/null
redis-cli -p "$redis_port" config set aof-use-rdb-preamble no > /dev/null
redis-cli -p "$redis_port" bgrewriteaof > /dev/null
for _ in $(seq 600); do
  [[ "$(redis-cli -p "$redis_port" info persistence | grep -c 'aof_rewrite_in_progress:0')" == 1 ]] &&
    [[ "$(redis-cli -p "$redis_port" info persistence | grep -c 'aof_rewrite_scheduled:0')" == 1 ]] && break
  sleep 0.1
done
sleep 0.5
redis-cli -p "$redis_port" shutdown nosave > /dev/null 2>&1 || true
sleep 0.5

redis_start --save '' --appendonly no --dbfilename dump.rdb; redis_wait; t1=$(now_ns)
echo "redis RDB: start to serving with $(redis-cli -p "$redis_port" dbsize) keys: $(( (t1 - t0) / 1000000 )) ms"
redis-cli -p "$redis_port" shutdown nosave > /dev/null 2>&1 || true; sleep 0.5
mv "$rdir/dump.rdb" "$rdir/dump.rdb.off"
redis_start --save '' --appendonly yes --aof-use-rdb-preamble no; redis_wait; t1=$(now_ns)
echo "redis AOF: start to serving with $(redis-cli -p "$redis_port" dbsize) keys: $(( (t1 - t0) / 1000000 )) ms"
redis-cli -p "$redis_port" shutdown nosave > /dev/null 2>&1 || true
