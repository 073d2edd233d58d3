#!/usr/bin/env bash
# Fault-injection checks for Gatehouse (see README.md beside this file).
#   GATEHOUSE_BIN=target/debug/gatehouse tests/faults/run.sh
# Optional: FAULTS_ONLY=1,3 (checks to run), FAULTS_PG_PORT=5433 (throwaway cluster's port),
# FAULTS_KEEP=1 (keep the work directory). Exits non-zero when any check fails.
set -uo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"

# shellcheck source=../lib/gatehouse_bin.sh
source "$repo/tests/lib/gatehouse_bin.sh"
gatehouse_bin FAULTS "$repo"
if [[ $(id -u) -ne 0 ]] || ! id postgres >/dev/null 2>&1; then
  echo "FAULTS: needs root and a 'postgres' OS user (the throwaway cluster runs as postgres)" >&2
  exit 2
fi
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  echo "FAULTS: PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin" >&2
  exit 2
fi

work="$(mktemp -d /tmp/gh-faults.XXXXXX)"
chmod 755 "$work"
export FAULTS_WORKDIR="$work" GATEHOUSE_BIN="$bin"
driver_pid=""

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  if [[ -n "$driver_pid" ]] && kill -0 "$driver_pid" 2>/dev/null; then
    kill -TERM "$driver_pid" 2>/dev/null
    for _ in $(seq 50); do kill -0 "$driver_pid" 2>/dev/null || break; sleep 0.2; done
    kill -KILL "$driver_pid" 2>/dev/null
  fi
  # Only the nodes this run started (their pids are listed by the driver).
  if [[ -f "$work/pids" ]]; then
    while read -r pid; do
      [[ -n "$pid" ]] && kill -KILL "$pid" 2>/dev/null
    done < "$work/pids"
  fi
  # Only the throwaway cluster in our own work directory.
  if [[ -f "$work/pg/postmaster.pid" ]]; then
    pg_ctl="$(ls /usr/lib/postgresql/*/bin/pg_ctl | sort | tail -1)"
    runuser -u postgres -- "$pg_ctl" -D "$work/pg" -m immediate -w stop >/dev/null 2>&1
  fi
  rm -rf "$work/pg"
  if [[ "${FAULTS_KEEP:-}" == 1 ]]; then
    echo "FAULTS: work directory kept: $work"
  elif [[ $rc -ne 0 ]]; then
    logs="$(mktemp -d /tmp/gh-faults-logs.XXXXXX)"
    cp "$work"/*.log "$logs"/ 2>/dev/null
    rm -rf "$work"
    echo "FAULTS: node and PostgreSQL logs kept in $logs"
  else
    rm -rf "$work"
  fi
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

python3 -u "$here/faults.py" &
driver_pid=$!
wait "$driver_pid"
rc=$?
driver_pid=""
if [[ $rc -ne 0 ]]; then
  echo
  echo "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!"
  echo "!!! FAULTS FAILED (exit $rc): see the FAIL lines above"
  echo "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!"
fi
exit $rc
