#!/usr/bin/env bash
# User-search latency at scale, against a release build, on SQLite and PostgreSQL.
#   cargo build --release -p gatehouse && cargo install oha --locked
#   bench/search.sh [sqlite|postgres|both] [users]       (default: both, 1000000)
# Seeds a population with `gatehouse dev seed` (kept in $BENCH_DIR between runs), then runs
# each query of the mix with oha at concurrency 1 and prints p50/p99 per query.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=target/release/gatehouse
USERS=${2:-1000000}
PORT=${BENCH_PORT:-3918}
URL=http://127.0.0.1:$PORT
DIR=${BENCH_DIR:-/tmp/gatehouse-search-bench}
CID=BenchManagementClient00000000001
CSECRET=bench-secret-bench-secret-bench-secret-000
PG_ADMIN=${BENCH_PG_URL:-postgres://postgres@127.0.0.1:5432/postgres}
N=${BENCH_REQUESTS:-200}
mkdir -p "$DIR"
SERVER=
trap '[ -n "$SERVER" ] && kill $SERVER 2>/dev/null || true' EXIT

env_for() {
  export GATEHOUSE_DATABASE_URL="$1" GATEHOUSE_SECRET_KEY_FILE="$DIR/key" GATEHOUSE_BOOTSTRAP_CLIENT_ID=$CID \
    GATEHOUSE_BOOTSTRAP_CLIENT_SECRET=$CSECRET GATEHOUSE_RATE_LIMIT=0 GATEHOUSE_LOG=warn
}

q() { python3 -c 'import sys,urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=""))' "$1"; }

run_db() {
  local label=$1 url=$2 marker=$3
  env_for "$url"
  if [ ! -f "$marker" ]; then
    echo "seeding $USERS users into $label..." >&2
    "$BIN" dev seed --users "$USERS" --batch 5000 >&2
    touch "$marker"
  fi
  GATEHOUSE_LISTEN=127.0.0.1:$PORT "$BIN" serve > "$DIR/server.log" 2>&1 &
  SERVER=$!
  for _ in $(seq 1 300); do curl -sf "$URL/healthz" >/dev/null && break; sleep 0.1; done
  local tok
  tok=$(curl -s "$URL/oauth/token" -H 'content-type: application/json' \
    -d "{\"grant_type\":\"client_credentials\",\"client_id\":\"$CID\",\"client_secret\":\"$CSECRET\",\"audience\":\"$URL/api/v2/\"}" \
    | python3 -c 'import sys,json; print(json.load(sys.stdin)["access_token"])')
  # A real user from the middle of the population supplies the values to look for.
  local probe email first last
  probe=$(curl -s "$URL/api/v2/users?q=$(q "app_metadata.customer_id:cus_$(printf %08d $((USERS / 2)))")" -H "authorization: Bearer $tok")
  email=$(echo "$probe" | python3 -c 'import sys,json; print(json.load(sys.stdin)[0]["email"])')
  first=$(echo "$probe" | python3 -c 'import sys,json; print(json.load(sys.stdin)[0]["given_name"])')
  last=$(echo "$probe" | python3 -c 'import sys,json; print(json.load(sys.stdin)[0]["family_name"])')
  local mix=(
    "email equality|q=$(q "email:\"$email\"")"
    "email prefix (typeahead)|q=$(q "email:${email:0:12}*")"
    "name prefix|q=$(q "name:${first}\\ ${last:0:3}*")"
    "family_name suffix|q=$(q "family_name:*${last:2}")"
    "app_metadata equality (customer id)|q=$(q "app_metadata.customer_id:cus_$(printf %08d $((USERS / 3)))")"
    "app_metadata equality (plan, 25%)|q=$(q "app_metadata.plan:gold")"
    "app_metadata range|q=$(q "app_metadata.seats:[100 TO 102]")"
    "three-clause boolean|q=$(q "family_name:$last AND app_metadata.plan:gold AND NOT blocked:true")"
    "_exists_|q=$(q "_exists_:app_metadata.subscription")"
    "include_totals, broad|q=$(q "email_verified:true")&include_totals=true"
  )
  for entry in "${mix[@]}"; do
    local name=${entry%%|*} query=${entry#*|}
    oha --no-tui --output-format json -c 1 -n "$N" -H "authorization: Bearer $tok" "$URL/api/v2/users?search_engine=v3&$query" > "$DIR/r.json"
    python3 - "$name" "$label" "$DIR/r.json" <<'PY'
import json, sys
name, db, path = sys.argv[1:4]
r = json.load(open(path)); p = r["latencyPercentiles"]
codes = ",".join(f"{k}x{v}" for k, v in sorted(r.get("statusCodeDistribution", {}).items()))
print(f"| {name} | {db} | {p['p50']*1000:.1f} ms | {p['p99']*1000:.1f} ms | {codes} |")
PY
  done
  kill $SERVER; wait $SERVER 2>/dev/null || true; SERVER=
}

echo "| query | database | p50 | p99 | statuses |"
echo "|---|---|---|---|---|"
case "${1:-both}" in
  sqlite|both) run_db SQLite "sqlite://$DIR/search-$USERS.db" "$DIR/search-$USERS.sqlite.seeded" ;;
esac
case "${1:-both}" in
  postgres|both)
    name=gh_search_$USERS
    if [ ! -f "$DIR/search-$USERS.pg.seeded" ]; then
      psql "$PG_ADMIN" -qc "DROP DATABASE IF EXISTS $name WITH (FORCE)" >/dev/null
      psql "$PG_ADMIN" -qc "CREATE DATABASE $name" >/dev/null
    fi
    run_db PostgreSQL "${PG_ADMIN%/*}/$name" "$DIR/search-$USERS.pg.seeded" ;;
esac
