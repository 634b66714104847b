#!/usr/bin/env bash
# Runs the three-node example cluster of examples/cluster-3 on 127.0.0.1.
#   tools/cluster-3.sh start    build (release) if needed, then start node-a, -b, -c
#                               (clients 7411-7413, cluster 7511-7513, monitor 7611-7613)
#   tools/cluster-3.sh status   `authctl cluster status` on each member
#   tools/cluster-3.sh stop     SIGTERM every member (each hands its ranges over)
# State lives in ./cluster-3-data: shared users file, token keys and secret,
# one data directory per member, and each member's log (node-X.log).
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
bin="${CASTELLAN_BIN:-$root/build/release/tools}"
data="cluster-3-data"

start() {
  [[ -x "$bin/authd" && -x "$bin/authctl" ]] || "$root/tools/setup.sh" build release
  mkdir -p "$data"
  chmod 700 "$data"
  if [[ ! -s "$data/secret" ]]; then
    (umask 077; head -c 32 /dev/urandom | base64 > "$data/secret")
  fi
  for n in a b c; do
    if [[ -f "$data/node-$n.pid" ]] && kill -0 "$(cat "$data/node-$n.pid")" 2>/dev/null; then
      echo "node-$n is already running (pid $(cat "$data/node-$n.pid"))"
      continue
    fi
    "$bin/authd" --config "$root/examples/cluster-3/node-$n.toml" >"$data/node-$n.log" 2>&1 &
    echo $! > "$data/node-$n.pid"
    # The first member creates the shared users file and keys; the others read them.
    for _ in $(seq 100); do
      grep -q "serving clients" "$data/node-$n.log" 2>/dev/null && break
      sleep 0.1
    done
    echo "node-$n started (pid $(cat "$data/node-$n.pid")), log: $data/node-$n.log"
  done
  grep -h -B1 "password:" "$data"/node-*.log 2>/dev/null || true
}

status() {
  for p in 7411 7412 7413; do
    "$bin/authctl" --port "$p" cluster status || true
  done
}

stop() {
  for n in a b c; do
    if [[ -f "$data/node-$n.pid" ]]; then
      kill -TERM "$(cat "$data/node-$n.pid")" 2>/dev/null || true
      rm -f "$data/node-$n.pid"
    fi
  done
}

case "${1:-}" in
  start) start ;;
  status) status ;;
  stop) stop ;;
  *) echo "usage: $0 start|status|stop" >&2; exit 2 ;;
esac
