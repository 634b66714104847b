#!/usr/bin/env bash
# validate over TLS against plaintext, side by side in one run (issue 16's
# measure): two nodes on this machine, one with [server.tls] (a throwaway CA
# and certificate made here with the openssl command), one without; for each
# load, ROUNDS interleaved runs of SECONDS each against both, medians printed.
# authbench speaks TLS itself, so its own TLS cost shares the machine too,
# unless the two are pinned apart: BENCH_NODE_CPUS pins both nodes
# (bench-node.sh), BENCH_CLIENT_CPUS the clients (taskset -c lists).
#   tools/setup.sh build release && tools/tls-bench.sh [SECONDS] [ROUNDS]
#   BENCH_NODE_CPUS=1 BENCH_CLIENT_CPUS=0 tools/tls-bench.sh 5 5
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${1:-5}"
rounds="${2:-3}"
bin=build/release/tools
root=$(mktemp -d)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true; rm -rf "$root"' EXIT

pki="$root/pki"
mkdir -p "$pki"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$pki/ca.key" \
  -out "$pki/ca.pem" -days 2 -subj /CN=bench-ca 2> /dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$pki/node.key" \
  -out "$pki/node.csr" -subj /CN=node 2> /dev/null
printf 'subjectAltName=IP:127.0.0.1\n' > "$pki/node.ext"
openssl x509 -req -in "$pki/node.csr" -CA "$pki/ca.pem" -CAkey "$pki/ca.key" -CAcreateserial \
  -days 2 -extfile "$pki/node.ext" -out "$pki/node.pem" 2> /dev/null
chmod 600 "$pki/node.key"

source tools/bench-node.sh
start_node() {  # start_node NAME EXTRA_TOML: sets port_NAME and password_NAME
  work="$root/$1"
  mkdir -p "$work"
  bench_config "" "$2"
  bench_start
  pids+=("$node_pid")
  printf -v "pid_$1" '%s' "$node_pid"
  printf -v "port_$1" '%s' "$node_port"
  printf -v "password_$1" '%s' "$node_password"
}
start_node tls "[server.tls]
cert_file = \"$pki/node.pem\"
key_file = \"$pki/node.key\""
start_node plain ""

# The node's CPU time so far (user + system), in clock ticks.
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
tick_us=$((1000000 / $(getconf CLK_TCK)))

rate() {  # rate NAME ARGS...: "validates/s node-CPU-us-per-validate" of one run
  local name="$1" port password pid before rps after
  shift
  port="port_$name"
  password="password_$name"
  pid="pid_$name"
  local tls=()
  [[ "$name" == tls ]] && tls=(--ca "$pki/ca.pem")
  before=$(cpu_ticks "${!pid}")
  rps=$(AUTHBENCH_PASSWORD="${!password}" ${BENCH_CLIENT_CPUS:+taskset -c "$BENCH_CLIENT_CPUS"} \
    "$bin/authbench" --port "${!port}" "${tls[@]}" --user admin --op validate -d "$seconds" --warmup 1 --json "$@" |
    grep -oE '"throughput_rps":[0-9.]+' | cut -d: -f2)
  after=$(cpu_ticks "${!pid}")
  # CPU over the warm-up and the run, per validate at the run's rate over both.
  awk -v r="$rps" -v t=$((after - before)) -v us="$tick_us" -v s="$seconds" \
    'BEGIN { printf "%s %.3f\n", r, t * us / (r * (s + 1)) }'
}
median() { sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

# Each round runs TLS and plaintext back to back, so a round's ratio sees the
# same host; the ratio printed is the median of the rounds' ratios (with
# their range). The node's CPU per validate is the steadier measure on a
# noisy host: a node that has the CPU to itself serves in proportion to it.
printf '| load | TLS validates/s | plaintext validates/s | ratio (median of rounds) | ratios (min-max) | node CPU per validate, TLS / plaintext |\n'
printf '|---|---|---|---|---|---|\n'
for load in "-c 50 -P 1" "-c 50 -P 16" "-c 1 -P 1"; do
  t=() p=() r=() tc=() pc=()
  for _ in $(seq "$rounds"); do
    # shellcheck disable=SC2086
    read -r tr tcpu < <(rate tls $load)
    # shellcheck disable=SC2086
    read -r pr pcpu < <(rate plain $load)
    t+=("$tr") p+=("$pr") tc+=("$tcpu") pc+=("$pcpu")
    r+=("$(awk -v a="$tr" -v b="$pr" 'BEGIN { print a / b }')")
  done
  tm=$(printf '%s\n' "${t[@]}" | median)
  pm=$(printf '%s\n' "${p[@]}" | median)
  rm_=$(printf '%s\n' "${r[@]}" | median)
  range=$(printf '%s\n' "${r[@]}" | sort -g | awk 'NR == 1 { lo = $1 } { hi = $1 } END { printf "%.2f-%.2f", lo, hi }')
  tcm=$(printf '%s\n' "${tc[@]}" | median)
  pcm=$(printf '%s\n' "${pc[@]}" | median)
  printf '| `%s` | %.0f | %.0f | %.2f | %s | %.2f us / %.2f us |\n' "$load" "$tm" "$pm" "$rm_" "$range" "$tcm" "$pcm"
done

handshake_rate() {  # handshake_rate CLIENTS: new connections/s over one run of SECONDS
  local clients=() t0 t1 out="$root/s_time"
  rm -f "$out".*
  t0=$(date +%s%N)
  for i in $(seq "$1"); do
    ${BENCH_CLIENT_CPUS:+taskset -c "$BENCH_CLIENT_CPUS"} openssl s_time -connect "127.0.0.1:$port_tls" -new -time "$seconds" -CAfile "$pki/ca.pem" \
      > "$out.$i" 2>&1 &
    clients+=($!)
  done
  wait "${clients[@]}"
  t1=$(date +%s%N)
  # Each client prints "N connections in T real seconds"; their sum over the wall time.
  cat "$out".* | sed -nE 's/^([0-9]+) connections in [0-9.]+ real seconds.*/\1/p' |
    awk -v ns=$((t1 - t0)) '{ n += $1 } END { print n / (ns / 1e9) }'
}

printf '\n| s_time clients | new TLS connections/s (full handshakes) |\n|---|---|\n'
for clients in 1 4; do
  h=()
  for _ in $(seq "$rounds"); do h+=("$(handshake_rate "$clients")"); done
  printf '| %s | %.0f |\n' "$clients" "$(printf '%s\n' "${h[@]}" | median)"
done
