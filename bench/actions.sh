#!/usr/bin/env bash
# Post-login actions on the token path (issue 21), side by side in one run: password-realm
# logins and rotating refresh exchanges with 0, 1 and 5 post-login actions bound, on SQLite
# and PostgreSQL. The server pinned to one core (taskset -c $BENCH_SERVER_CORE, default 1), oha
# and PostgreSQL on the other (default 0), concurrency 64. The five actions are the kind a
# tenant binds: roles in both tokens, email in the access token, a deny by email domain that
# lets this user through, claims from user_metadata, a claim plus a scope.
# Needs: cargo build --release -p gatehouse; cargo install oha --locked; taskset (util-linux).
#   bench/actions.sh        (PostgreSQL at $BENCH_PG_URL, default postgres://postgres@127.0.0.1:5432/postgres)
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=target/release/gatehouse
PORT=${BENCH_PORT:-3937}
URL=http://127.0.0.1:$PORT
C=64
LOGINS=${BENCH_LOGINS:-640}
REFRESHES=${BENCH_REFRESHES:-10000}
SCORE=${BENCH_SERVER_CORE:-1}
LCORE=${BENCH_LOAD_CORE:-0}
CID=BenchManagementClient00000000001
CSECRET=bench-secret-bench-secret-bench-secret-000
PG_ADMIN=${BENCH_PG_URL:-postgres://postgres@127.0.0.1:5432/postgres}
WORK=$(mktemp -d)
SERVER=""
PG_PIDS=$(pgrep -x postgres || pgrep -f 'postgres:' || true)
cleanup() {
  [ -n "$SERVER" ] && kill "$SERVER" 2>/dev/null || true
  for p in $PG_PIDS; do taskset -a -p -c 0-$(($(nproc) - 1)) "$p" >/dev/null 2>&1 || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT
for p in $PG_PIDS; do taskset -a -p -c "$LCORE" "$p" >/dev/null 2>&1 || true; done

json() { python3 -c "import sys,json; print(json.load(sys.stdin)$1)"; }
RESULTS=$WORK/results.tsv
: > "$RESULTS"
record() { # label file
  python3 - "$1" "$2" >> "$RESULTS" <<'PY'
import json, sys
label, path = sys.argv[1:3]
r = json.load(open(path))
s = r["summary"]; p = r["latencyPercentiles"]
codes = ",".join(f"{k}x{v}" for k, v in sorted(r.get("statusCodeDistribution", {}).items()))
print(f"{label}\t{s['requestsPerSec']:.1f}\t{p['p50']*1000:.2f}\t{p['p99']*1000:.2f}\t{codes}")
PY
}
load() { # label n oha-args...
  local label=$1 n=$2; shift 2
  taskset -c "$LCORE" oha --no-tui --output-format json -c "$C" -n "$((n / 10))" "$@" > /dev/null
  taskset -c "$LCORE" oha --no-tui --output-format json -c "$C" -n "$n" "$@" > "$WORK/r.json"
  record "$label" "$WORK/r.json"
}

ACTIONS=(
'exports.onExecutePostLogin = async (event, api) => {
  const namespace = "https://bench.example";
  api.idToken.setCustomClaim(`${namespace}/roles`, event.authorization.roles);
  api.accessToken.setCustomClaim(`${namespace}/roles`, event.authorization.roles);
};'
'exports.onExecutePostLogin = async (event, api) => {
  api.accessToken.setCustomClaim("https://bench.example/email", event.user.email);
};'
'exports.onExecutePostLogin = async (event, api) => {
  if (event.user.email && event.user.email.endsWith("@contractor.example")) {
    api.access.deny("Contractors use the other portal.");
  }
};'
'exports.onExecutePostLogin = async (event, api) => {
  const { favorite_color, preferred_contact } = event.user.user_metadata;
  api.idToken.setCustomClaim("https://bench.example/favorite_color", favorite_color);
  api.idToken.setCustomClaim("https://bench.example/preferred_contact", preferred_contact);
};'
'exports.onExecutePostLogin = async (event, api) => {
  api.accessToken.setCustomClaim("https://bench.example/tier", event.user.app_metadata.tier || "free");
  api.accessToken.addScope("read:things");
};'
)

run_db() { # db-label url
  local db=$1
  GATEHOUSE_LISTEN=127.0.0.1:$PORT GATEHOUSE_DATABASE_URL="$2" GATEHOUSE_SECRET_KEY_FILE="$WORK/key" \
  GATEHOUSE_BOOTSTRAP_CLIENT_ID=$CID GATEHOUSE_BOOTSTRAP_CLIENT_SECRET=$CSECRET \
  GATEHOUSE_RATE_LIMIT=0 GATEHOUSE_AUTH_RATE_LIMIT_SCALE=0 GATEHOUSE_LOG=warn \
    taskset -c "$SCORE" "$BIN" serve > "$WORK/server.log" 2>&1 &
  SERVER=$!
  for _ in $(seq 1 100); do curl -sf "$URL/healthz" >/dev/null && break; sleep 0.1; done
  local tok
  tok=$(curl -s "$URL/oauth/token" -H 'content-type: application/json' \
    -d "{\"grant_type\":\"client_credentials\",\"client_id\":\"$CID\",\"client_secret\":\"$CSECRET\",\"audience\":\"$URL/api/v2/\"}" | json '["access_token"]')
  mgmt() { curl -s -X "$1" "$URL/api/v2/$2" -H "authorization: Bearer $tok" -H 'content-type: application/json' -d "$3"; }
  mgmt POST users '{"connection":"Username-Password-Authentication","email":"bench@example.com","password":"Bench-passw0rd!","user_metadata":{"favorite_color":"teal","preferred_contact":"email"}}' > /dev/null
  local conn
  conn=$(curl -s "$URL/api/v2/connections?name=Username-Password-Authentication" -H "authorization: Bearer $tok" | json '[0]["id"]')
  mgmt PATCH "connections/$conn" '{"options":{"brute_force_protection":false}}' > /dev/null
  local app acid asecret
  app=$(mgmt POST clients '{"name":"bench app","grant_types":["http://auth0.com/oauth/grant-type/password-realm","refresh_token"],"refresh_token":{"leeway":3600}}')
  acid=$(echo "$app" | json '["client_id"]'); asecret=$(echo "$app" | json '["client_secret"]')
  local i=0 names=()
  for code in "${ACTIONS[@]}"; do
    i=$((i + 1))
    local body id
    body=$(python3 -c 'import json,sys; print(json.dumps({"name": sys.argv[1], "supported_triggers": [{"id": "post-login"}], "code": sys.argv[2]}))' "bench $i" "$code")
    id=$(mgmt POST actions/actions "$body" | json '["id"]')
    mgmt POST "actions/actions/$id/deploy" '{}' > /dev/null
    names+=("bench $i")
  done
  local login="grant_type=http%3A%2F%2Fauth0.com%2Foauth%2Fgrant-type%2Fpassword-realm&realm=Username-Password-Authentication&client_id=$acid&client_secret=$asecret&username=bench%40example.com&password=Bench-passw0rd%21&scope=openid%20offline_access"
  for n in 0 1 5; do
    local bindings
    bindings=$(python3 -c 'import json,sys; print(json.dumps({"bindings": [{"ref": {"type": "action_name", "value": v}} for v in sys.argv[1:]]}))' "${names[@]:0:$n}")
    mgmt PATCH actions/triggers/post-login/bindings "$bindings" > /dev/null
    load "password-realm\t$n\t$db" "$LOGINS" -m POST -T application/x-www-form-urlencoded -d "$login" "$URL/oauth/token"
    local rt
    rt=$(curl -s "$URL/oauth/token" -H 'content-type: application/x-www-form-urlencoded' -d "$login" | json '["refresh_token"]')
    load "refresh_token (rotating)\t$n\t$db" "$REFRESHES" -m POST -T application/x-www-form-urlencoded \
      -d "grant_type=refresh_token&client_id=$acid&client_secret=$asecret&refresh_token=$rt" "$URL/oauth/token"
  done
  kill "$SERVER"; wait "$SERVER" 2>/dev/null || true; SERVER=""
}

run_db SQLite "sqlite://$WORK/bench.db"
name=gh_bench_actions_$$
psql "$PG_ADMIN" -qc "CREATE DATABASE $name" >/dev/null
run_db PostgreSQL "${PG_ADMIN%/*}/$name"
psql "$PG_ADMIN" -qc "DROP DATABASE $name WITH (FORCE)" >/dev/null

python3 - "$RESULTS" "$C" <<'PY'
import sys
rows = [l.rstrip("\n").replace("\\t", "\t").split("\t") for l in open(sys.argv[1])]
print("| grant | actions bound | database | req/s | vs no actions | p50 | p99 | statuses |")
print("|---|---|---|---|---|---|---|---|")
base = {(r[0], r[2]): float(r[3]) for r in rows if r[1] == "0"}
for g, n, db, rps, p50, p99, codes in rows:
    ratio = float(rps) / base[(g, db)]
    print(f"| {g} | {n} | {db} | {float(rps):,.0f} | {ratio:.2f} | {p50} ms | {p99} ms | {codes} |")
PY
