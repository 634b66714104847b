#!/usr/bin/env bash
# Castellan's developer entry point, used by README.md and .ci/run.
#   tools/setup.sh start   install what is missing, build (release), start a node
#                          on the embedded default config (127.0.0.1:7400, monitor :7401)
#   tools/setup.sh test    install what is missing, build (debug-asan: ASan+UBSan),
#                          run every test with CTest, then each fuzz target for 30 s
#   tools/setup.sh build [preset]   install what is missing and build only
# Every package comes from Debian's archive; nothing is downloaded at build time.
set -euo pipefail

cd "$(dirname "$0")/.."

PACKAGES=(
  cmake g++ make pkg-config
  libcaf-dev libboost-dev libboost-system-dev libmsgpack-cxx-dev prometheus-cpp-dev
  libssl-dev openssl libsodium-dev libtomlplusplus-dev libcli11-dev libspdlog-dev nlohmann-json3-dev
  libgtest-dev libbenchmark-dev
  e2fsprogs  # chattr: the tests make an audit directory unwritable even for root
  prometheus # promtool: the tests check the /metrics output with `promtool check metrics`
  nftables   # nft: the nemesis test cuts traffic between members in its own network namespace
  clang libclang-rt-14-dev  # libFuzzer: the test command ends with a short run of each fuzz target
)

install_missing() {
  local missing=()
  for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if ((${#missing[@]} == 0)); then
    return
  fi
  echo "installing: ${missing[*]}"
  local sudo=""
  if [[ $(id -u) -ne 0 ]]; then sudo="sudo"; fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

build() {
  local preset="$1"
  cmake --preset "$preset" >/dev/null
  cmake --build --preset "$preset"
}

case "${1:-}" in
  start)
    install_missing
    build release
    exec build/release/tools/authd
    ;;
  test)
    install_missing
    build debug-asan
    export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}"
    export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
    ctest --preset debug-asan -j2  # with the nemesis's short seeded run (docs/operations.md)
    tools/fuzz.sh 30               # replays the seeds, then fuzzes each target (docs/operations.md)
    ;;
  build)
    install_missing
    build "${2:-release}"
    ;;
  *)
    echo "usage: tools/setup.sh start|test|build [preset]" >&2
    exit 2
    ;;
esac
