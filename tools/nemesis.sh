#!/usr/bin/env bash
# The nemesis's long run: the same harness as the CTest `nemesis` label
# (tests/nemesis/), with a seed and a length of your choice.
#   tools/nemesis.sh [--seed N] [--minutes M] [--preset release|debug-asan] [--cluster-tls]
# --cluster-tls: the members speak TLS between them ([cluster.tls]), with
# certificates from a cluster CA the run makes.
# Needs root (it creates a network namespace and nftables rules in it; the
# host's network is never touched). Prints the seed, every fault as it runs
# and the checker's verdict; the full list of violations is left in the run's
# directory (printed at the end). Exit status: 0 when the checker found nothing.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
seed="$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')"
minutes=30
preset=release
cluster_tls=0
while (($#)); do
  case "$1" in
    --seed) seed="$2"; shift 2 ;;
    --minutes) minutes="$2"; shift 2 ;;
    --preset) preset="$2"; shift 2 ;;
    --cluster-tls) cluster_tls=1; shift ;;
    *) echo "usage: tools/nemesis.sh [--seed N] [--minutes M] [--preset release|debug-asan] [--cluster-tls]" >&2
       exit 2 ;;
  esac
done
[[ $(id -u) -eq 0 ]] || { echo "tools/nemesis.sh: needs root (network namespace, nftables)" >&2; exit 2; }
command -v nft >/dev/null || "$root/tools/setup.sh" build "$preset"  # installs nftables
binary="$root/build/$preset/tests/nemesis_tests"
if [[ ! -x "$binary" ]]; then
  cmake --preset "$preset" >/dev/null
  cmake --build "build/$preset" --target nemesis_tests authd authctl
fi
echo "nemesis: seed $seed, $minutes minutes$( ((cluster_tls)) && echo ", TLS between members")"
CASTELLAN_NEMESIS_SEED="$seed" CASTELLAN_NEMESIS_SECONDS="$((minutes * 60))" \
  CASTELLAN_NEMESIS_CLUSTER_TLS="$cluster_tls" \
  exec "$binary" --gtest_filter=Nemesis.ShortSeededRun
