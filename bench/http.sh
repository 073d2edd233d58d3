#!/usr/bin/env bash
# Load runs against a release build, on SQLite and PostgreSQL, with oha.
#   cargo build --release -p gatehouse && cargo install oha --locked
#   bench/http.sh [sqlite|postgres|both]      (PostgreSQL at $BENCH_PG_URL, default postgres://postgres@127.0.0.1:5432/postgres)
# Prints one Markdown table row per run: endpoint, database, concurrency, requests, rps, p50, p99, statuses.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=target/release/gatehouse
PORT=${BENCH_PORT:-3917}
URL=http://127.0.0.1:$PORT
CID=BenchManagementClient00000000001
CSECRET=bench-secret-bench-secret-bench-secret-000
PG_ADMIN=${BENCH_PG_URL:-postgres://postgres@127.0.0.1:5432/postgres}
WORK=$(mktemp -d)
trap 'kill $SERVER 2>/dev/null || true; rm -rf "$WORK"' EXIT

start_server() {
  GATEHOUSE_LISTEN=127.0.0.1:$PORT GATEHOUSE_DATABASE_URL="$1" GATEHOUSE_SECRET_KEY_FILE="$WORK/key" \
  GATEHOUSE_BOOTSTRAP_CLIENT_ID=$CID GATEHOUSE_BOOTSTRAP_CLIENT_SECRET=$CSECRET \
  GATEHOUSE_RATE_LIMIT=0 GATEHOUSE_AUTH_RATE_LIMIT_SCALE=0 GATEHOUSE_LOG=warn "$BIN" serve > "$WORK/server.log" 2>&1 &
  SERVER=$!
  for _ in $(seq 1 100); do curl -sf "$URL/healthz" >/dev/null && return; sleep 0.1; done
  echo "server did not start"; cat "$WORK/server.log"; exit 1
}

token_body() {
  printf '{"grant_type":"client_credentials","client_id":"%s","client_secret":"%s","audience":"%s/api/v2/"}' "$CID" "$CSECRET" "$URL"
}

row() { # label db concurrency json-file
  python3 - "$@" <<'PY'
import json, sys
label, db, c, path = sys.argv[1:5]
r = json.load(open(path))
s = r["summary"]; p = r["latencyPercentiles"]
codes = ",".join(f"{k}x{v}" for k, v in sorted(r.get("statusCodeDistribution", {}).items()))
total = sum(r.get("statusCodeDistribution", {}).values())
print(f"| {label} | {db} | {c} | {total} | {s['requestsPerSec']:.0f} | {p['p50']*1000:.2f} ms | {p['p99']*1000:.2f} ms | {codes} |")
PY
}

run_db() {
  local db=$1 url=$2
  start_server "$url"
  local tok
  tok=$(curl -s "$URL/oauth/token" -H 'content-type: application/json' -d "$(token_body)" | python3 -c 'import sys,json; print(json.load(sys.stdin)["access_token"])')
  local uid
  uid=$(curl -s "$URL/api/v2/users" -H "authorization: Bearer $tok" -H 'content-type: application/json' \
    -d '{"connection":"Username-Password-Authentication","email":"bench@example.com","password":"Bench-passw0rd!","user_metadata":{"plan":"gold","prefs":{"theme":"dark"}}}' \
    | python3 -c 'import sys,json; print(json.load(sys.stdin)["user_id"])')
  local upath="$URL/api/v2/users/${uid/|/%7C}"
  for spec in "1 3000" "32 30000"; do
    set -- $spec
    oha --no-tui --output-format json -c "$1" -n "$2" -H "authorization: Bearer $tok" "$upath" > "$WORK/r.json"
    row "GET /api/v2/users/{id}" "$db" "$1" "$WORK/r.json"
  done
  for spec in "1 1000" "32 8000"; do
    set -- $spec
    oha --no-tui --output-format json -c "$1" -n "$2" -m POST -T application/json -d "$(token_body)" "$URL/oauth/token" > "$WORK/r.json"
    row "POST /oauth/token" "$db" "$1" "$WORK/r.json"
  done
  for spec in "1 100" "32 600"; do
    set -- $spec
    python3 -c "
import sys
for i in range(50 * int(sys.argv[2])):  # many more lines than requests: oha picks lines at random
    print('{\"connection\":\"Username-Password-Authentication\",\"email\":\"load-%s-%d@example.com\",\"password\":\"Bench-passw0rd!\"}' % (sys.argv[1], i))
" "$1" "$2" > "$WORK/bodies.ndjson"
    oha --no-tui --output-format json -c "$1" -n "$2" -m POST -T application/json -H "authorization: Bearer $tok" -Z "$WORK/bodies.ndjson" "$URL/api/v2/users" > "$WORK/r.json"
    row "POST /api/v2/users" "$db" "$1" "$WORK/r.json"
  done
  # A web application allowed the password grant; every login hashes once (argon2id).
  local app cid_app secret_app
  app=$(curl -s "$URL/api/v2/clients" -H "authorization: Bearer $tok" -H 'content-type: application/json' \
    -d '{"name":"bench app","grant_types":["password"]}')
  cid_app=$(echo "$app" | python3 -c 'import sys,json; print(json.load(sys.stdin)["client_id"])')
  secret_app=$(echo "$app" | python3 -c 'import sys,json; print(json.load(sys.stdin)["client_secret"])')
  local login_body
  login_body=$(printf '{"grant_type":"password","client_id":"%s","client_secret":"%s","username":"bench@example.com","password":"Bench-passw0rd!","scope":"openid profile email"}' "$cid_app" "$secret_app")
  for spec in "1 100" "32 600"; do
    set -- $spec
    oha --no-tui --output-format json -c "$1" -n "$2" -m POST -T application/json -d "$login_body" "$URL/oauth/token" > "$WORK/r.json"
    row "POST /oauth/token (password)" "$db" "$1" "$WORK/r.json"
  done
  # Refresh tokens. Non-rotating: one token serves every request. Rotating: a token reused
  # within the client's leeway takes the same path as a first use (look-up, mark used, sign,
  # store the next token), so one token can be replayed by oha without tripping reuse detection.
  for policy in non-rotating rotating; do
    local body rt
    if [ $policy = non-rotating ]; then
      body='{"name":"bench refresh","grant_types":["password","refresh_token"],"refresh_token":{"rotation_type":"non-rotating","expiration_type":"non-expiring"}}'
    else
      body='{"name":"bench refresh","grant_types":["password","refresh_token"],"refresh_token":{"leeway":3600}}'
    fi
    app=$(curl -s "$URL/api/v2/clients" -H "authorization: Bearer $tok" -H 'content-type: application/json' -d "$body")
    cid_app=$(echo "$app" | python3 -c 'import sys,json; print(json.load(sys.stdin)["client_id"])')
    secret_app=$(echo "$app" | python3 -c 'import sys,json; print(json.load(sys.stdin)["client_secret"])')
    rt=$(curl -s "$URL/oauth/token" -H 'content-type: application/json' \
      -d "$(printf '{"grant_type":"password","client_id":"%s","client_secret":"%s","username":"bench@example.com","password":"Bench-passw0rd!","scope":"openid offline_access"}' "$cid_app" "$secret_app")" \
      | python3 -c 'import sys,json; print(json.load(sys.stdin)["refresh_token"])')
    local refresh_body
    refresh_body=$(printf '{"grant_type":"refresh_token","client_id":"%s","client_secret":"%s","refresh_token":"%s"}' "$cid_app" "$secret_app" "$rt")
    for spec in "1 1000" "32 8000"; do
      set -- $spec
      oha --no-tui --output-format json -c "$1" -n "$2" -m POST -T application/json -d "$refresh_body" "$URL/oauth/token" > "$WORK/r.json"
      row "POST /oauth/token (refresh_token, $policy)" "$db" "$1" "$WORK/r.json"
    done
  done
  kill $SERVER; wait $SERVER 2>/dev/null || true
}

echo "| endpoint | database | concurrency | requests | req/s | p50 | p99 | statuses |"
echo "|---|---|---|---|---|---|---|---|"
case "${1:-both}" in
  sqlite|both) run_db SQLite "sqlite://$WORK/bench.db" ;;
esac
case "${1:-both}" in
  postgres|both)
    name=gh_bench_$$
    psql "$PG_ADMIN" -qc "CREATE DATABASE $name" >/dev/null
    run_db PostgreSQL "${PG_ADMIN%/*}/$name"
    psql "$PG_ADMIN" -qc "DROP DATABASE $name WITH (FORCE)" >/dev/null ;;
esac
