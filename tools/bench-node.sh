# Sourced by the benchmark scripts (compare-redis.sh, metrics-overhead.sh,
# recovery-bench.sh, snapshot-p99.sh): one way to configure, start and log
# in to a node under test. Expects `bin` (the release tools) and `work` (a
# scratch directory) to be set.

# bench_config [MONITOR_TOML] [EXTRA_TOML] [USERS_TOML]: writes
# $work/node.toml, a node with its data in $work/data, ephemeral ports and,
# unless USERS_TOML says otherwise, argon2 at its minimum cost (logins are
# not what most of these scripts measure). BENCH_SERVER_TOML, when set, is
# added to [server] (e.g. "light_inflight = 0" to compare a setting).
bench_config() {
  cat > "$work/node.toml" <<TOML
[node]
data_dir = "$work/data"
[server]
port = 0
${BENCH_SERVER_TOML:-}
[monitor]
port = 0
${1:-}
[users]
${3:-argon2_memory_kib = 64
argon2_iterations = 1}
${2:-}
TOML
}

# bench_start: starts authd on $work/node.toml and waits until it serves.
# Sets node_pid, node_port and t0 (ns at exec); node_password is the
# bootstrap admin's, printed by the first start of a data directory.
# BENCH_NODE_CPUS, when set, pins the node to those CPUs (taskset -c), so a
# load generator pinned elsewhere does not take the node's CPU time.
bench_start() {
  rm -f "$work/ready.json"
  t0=$(date +%s%N)
  ${BENCH_NODE_CPUS:+taskset -c "$BENCH_NODE_CPUS"} "$bin/authd" --config "$work/node.toml" --ready-file "$work/ready.json" \
    >> "$work/out.txt" 2>> "$work/err.txt" &
  node_pid=$!
  for _ in $(seq 3000); do [[ -f "$work/ready.json" ]] && break; sleep 0.01; done
  [[ -f "$work/ready.json" ]] || { echo "authd did not start:" >&2; tail "$work/err.txt" >&2; exit 1; }
  node_port=$(sed -E 's/.*"client_port": ([0-9]+).*/\1/' "$work/ready.json")
  node_password=$(sed -nE 's/ *password: (.*)/\1/p' "$work/out.txt" | head -1)
}

# bench_stop [SIGNAL]: stops the node (SIGTERM unless given, e.g. KILL).
bench_stop() {
  kill "-${1:-TERM}" "$node_pid" 2>/dev/null || true
  wait "$node_pid" 2>/dev/null || true
}

# bench_admin_token: logs in as the bootstrap admin; prints the token.
bench_admin_token() {
  echo "$node_password" | "$bin/authctl" --port "$node_port" --json login admin |
    sed -E 's/.*"token":"([^"]+)".*/\1/'
}
