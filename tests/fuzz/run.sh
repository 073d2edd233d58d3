#!/usr/bin/env bash
# Property-based fuzzing of the Management API (see README.md beside this file).
#   GATEHOUSE_BIN=target/debug/gatehouse tests/fuzz/run.sh
# Optional: FUZZ_EXAMPLES (test cases per operation, default 50), FUZZ_SEED (default fixed, so a
# CI run is repeatable; FUZZ_SEED=random for a fresh one), FUZZ_KEEP=1 (keep the work
# directory), FUZZ_VENV (a virtualenv with requirements.txt installed; made when missing).
# Further arguments go to `schemathesis run`, e.g. --include-path /clients --include-method POST.
# Exits non-zero when schemathesis finds a failure or the server logs a panic.
set -uo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
examples="${FUZZ_EXAMPLES:-50}"
seed="${FUZZ_SEED:-20261204}"
[[ "$seed" == random ]] && seed="$RANDOM$RANDOM"

# shellcheck source=../lib/gatehouse_bin.sh
source "$repo/tests/lib/gatehouse_bin.sh"
gatehouse_bin FUZZ "$repo"

venv="${FUZZ_VENV:-/tmp/gatehouse-fuzz-venv}"
if ! "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$here/requirements.txt"; then
  python3 -m venv "$venv" || { echo "FUZZ: cannot make a virtualenv at $venv" >&2; exit 2; }
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$here/requirements.txt" \
    || { echo "FUZZ: cannot install $here/requirements.txt" >&2; exit 2; }
fi

work="$(mktemp -d /tmp/gh-fuzz.XXXXXX)"
server_pid=""
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  if [[ -n "$server_pid" ]] && kill -0 "$server_pid" 2>/dev/null; then
    kill -TERM "$server_pid" 2>/dev/null
    for _ in $(seq 50); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.2; done
    kill -KILL "$server_pid" 2>/dev/null
  fi
  if [[ "${FUZZ_KEEP:-}" == 1 || $rc -ne 0 ]]; then
    echo "FUZZ: work directory (server log, reports) kept: $work"
  else
    rm -rf "$work"
  fi
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
base="http://127.0.0.1:$port"
client_id="GhFuzz0123456789abcdefABCDEFghij"
client_secret="gatehouse-fuzz-secret-$(python3 -c 'import secrets; print(secrets.token_hex(16))')"

# Only our settings: nothing from the caller's environment reaches the server, so it calls no
# outside service (breached-password range, hosts for scripts, SMTP) whatever is set here.
env -i PATH="$PATH" HOME="$work" RUST_BACKTRACE=1 \
  GATEHOUSE_BOOTSTRAP_CLIENT_ID="$client_id" \
  GATEHOUSE_BOOTSTRAP_CLIENT_SECRET="$client_secret" \
  GATEHOUSE_SECRET_KEY_FILE="$work/secret.key" \
  GATEHOUSE_RATE_LIMIT=0 \
  GATEHOUSE_SCRIPT_TIME_LIMIT_MS=2000 \
  "$bin" serve --listen "127.0.0.1:$port" --database-url "sqlite://$work/gh.db" \
  >"$work/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 300); do
  curl -fs "$base/healthz" >/dev/null 2>&1 && break
  kill -0 "$server_pid" 2>/dev/null || { echo "FUZZ: the server exited at start:"; tail -20 "$work/server.log"; exit 2; }
  sleep 0.2
done

token="$(curl -fsS "$base/oauth/token" -H 'content-type: application/json' \
  -d "{\"grant_type\":\"client_credentials\",\"client_id\":\"$client_id\",\"client_secret\":\"$client_secret\",\"audience\":\"$base/api/v2/\"}" \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')" \
  || { echo "FUZZ: no Management API token"; exit 2; }

echo "FUZZ: schemathesis $("$venv/bin/schemathesis" --version | awk '{print $NF}'), $examples examples per operation, seed $seed, server $base"
started=$(date +%s)
# One worker: with two, Hypothesis's error reporting in a worker thread trips a CPython 3.11.7
# bug ("SystemError: AST constructor recursion depth mismatch") and the run reports an error
# of its own instead of the server's. Run from the work directory: schemathesis leaves files.
cd "$work" || exit 2
"$venv/bin/schemathesis" run "$base/api/v2/openapi.json" \
  --url "$base/api/v2" \
  -H "Authorization: Bearer $token" \
  --checks not_a_server_error,response_schema_conformance,status_code_conformance,content_type_conformance \
  --phases examples,coverage,fuzzing \
  --max-examples "$examples" \
  --seed "$seed" \
  --workers 1 \
  --request-timeout 30 \
  --generation-database none \
  --no-color \
  --report junit --report-dir "$work/report" \
  "$@"
rc=$?
echo "FUZZ: schemathesis finished in $(( $(date +%s) - started )) s (exit $rc)"

if grep -q "panicked at" "$work/server.log"; then
  echo "FUZZ: the server panicked:"
  grep -A5 "panicked at" "$work/server.log" | head -40
  rc=1
fi
if [[ $rc -ne 0 ]]; then
  echo
  echo "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!"
  echo "!!! FUZZ FAILED (exit $rc): see the failures above and $work/server.log"
  echo "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!"
fi
exit $rc
