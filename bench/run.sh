#!/usr/bin/env bash
# Benchmarks fairlead against nginx and HAProxy, with the backend alone as the ceiling.
#
#   bench/run.sh [--quick] [--scenario NAME]... [--runs N] [--duration S] [--warmup S] [--out FILE]
#   bench/run.sh --profile [--requests N]      # callgrind profiles, see bench/README.md
#
# Installs what is missing (wrk, h2load, nginx, HAProxy) with apt-get, builds fairlead and the
# bench backend (release; --quick uses the debug build CI already has), and runs the harness in
# bench/harness. Every process it starts is stopped by PID when it ends, however it ends.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

quick=0
profile=0
for arg in "$@"; do
  case "$arg" in
    --quick) quick=1 ;;
    --profile) profile=1 ;;
    -h|--help)
      sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'
      exec python3 bench/harness/main.py --help --fairlead x --backend x ;;
  esac
done

log() { echo "[bench] $*" >&2; }

need_tools() {
  local missing=()
  command -v wrk >/dev/null || missing+=(wrk)
  command -v h2load >/dev/null || missing+=(nghttp2-client)
  command -v nginx >/dev/null || missing+=(nginx)
  command -v haproxy >/dev/null || missing+=(haproxy)
  command -v openssl >/dev/null || missing+=(openssl)
  command -v python3 >/dev/null || missing+=(python3)
  if [ "$profile" = 1 ]; then
    command -v valgrind >/dev/null || missing+=(valgrind)
  fi
  [ ${#missing[@]} -eq 0 ] && return 0
  log "installing ${missing[*]}"
  local sudo=()
  [ "$(id -u)" -ne 0 ] && sudo=(sudo -n)
  # Packages must not start their system services: we run our own instances, by PID.
  local guard=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' | "${sudo[@]}" tee /usr/sbin/policy-rc.d >/dev/null
    "${sudo[@]}" chmod +x /usr/sbin/policy-rc.d
    guard=1
  fi
  local status=0
  DEBIAN_FRONTEND=noninteractive timeout 600 "${sudo[@]}" apt-get update -qq || status=$?
  if [ $status -eq 0 ]; then
    DEBIAN_FRONTEND=noninteractive timeout 900 "${sudo[@]}" apt-get install -y -qq --no-install-recommends \
      "${missing[@]}" >/dev/null || status=$?
  fi
  [ $guard = 1 ] && "${sudo[@]}" rm -f /usr/sbin/policy-rc.d
  if [ $status -ne 0 ]; then
    log "could not install ${missing[*]} (apt-get exit $status)"
    exit 1
  fi
}

need_tools

if [ "$quick" = 1 ]; then
  profile_dir=debug
  build=(cargo build -p fairlead -p fairlead-bench-backend)
else
  profile_dir=release
  build=(cargo build --release -p fairlead -p fairlead-bench-backend)
fi
mkdir -p target/bench
# One run at a time on this machine: two would measure each other.
exec 9>"$root/target/bench/run.lock"
if ! flock -n 9; then
  log "another bench/run.sh is running; waiting for it (at most 2 hours)"
  flock -w 7200 9 || { log "gave up waiting for the other run"; exit 1; }
fi

if [ -z "${FAIRLEAD_BIN:-}" ] || [ -z "${BENCH_BACKEND_BIN:-}" ]; then
  log "building: ${build[*]}"
  timeout 3600 "${build[@]}" >&2
fi
# Cargo honours CARGO_TARGET_DIR; so must we when finding what it built.
cargo_target=${CARGO_TARGET_DIR:-$root/target}
fairlead_bin=$(realpath "${FAIRLEAD_BIN:-$cargo_target/$profile_dir/fairlead}")
backend_bin=$(realpath "${BENCH_BACKEND_BIN:-$cargo_target/$profile_dir/fairlead-bench-backend}")
for bin in "$fairlead_bin" "$backend_bin"; do
  [ -x "$bin" ] || { log "missing binary $bin"; exit 1; }
done
# Run private copies: a build during the run (someone else's cargo) must not swap the binary
# between scenarios.
bin_dir=$(mktemp -d "$root/target/bench/bin.XXXXXX")
cp "$fairlead_bin" "$bin_dir/fairlead"
cp "$backend_bin" "$bin_dir/fairlead-bench-backend"
fairlead_bin=$bin_dir/fairlead
backend_bin=$bin_dir/fairlead-bench-backend

pid_file=$(mktemp "$root/target/bench/pids.XXXXXX")
harness_pid=
cleanup() {
  if [ -n "$harness_pid" ] && kill -0 "$harness_pid" 2>/dev/null; then
    kill -TERM "$harness_pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$harness_pid" 2>/dev/null || break; sleep 0.1; done
  fi
  # Whatever the harness could not stop itself (it was killed, say): its children, by PID.
  if [ -s "$pid_file" ]; then
    while read -r pid; do
      [ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null || true
    done < "$pid_file"
    sleep 1
    while read -r pid; do
      [ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null || true
    done < "$pid_file"
  fi
  rm -f "$pid_file"
  rm -rf "$bin_dir"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

if [ "$profile" = 1 ]; then
  limit=1800
  script=bench/harness/profile.py
else
  limit=$([ "$quick" = 1 ] && echo 900 || echo 7200)
  script=bench/harness/main.py
fi
status=0
build_label=$profile_dir
if [ -n "${FAIRLEAD_BIN:-}" ]; then build_label="prebuilt (FAIRLEAD_BIN)"; fi
timeout --signal=TERM --kill-after=30 "$limit" python3 "$script" \
  --fairlead "$fairlead_bin" --backend "$backend_bin" --build "$build_label" \
  --pid-file "$pid_file" --command "bench/run.sh $*" "$@" &
harness_pid=$!
wait "$harness_pid" || status=$?
harness_pid=
exit $status
