#!/usr/bin/env bash
# The token path at its bounds (issue 20), side by side in one run (docs/benchmarks.md):
# - the server under test pinned to one core (taskset -c $BENCH_SERVER_CORE, default 1), oha
#   and PostgreSQL's processes pinned to the other (default 0), concurrency 64;
# - the bounds measured on the server's core in the same run, before and after the loads
#   (criterion: RS256 signature, argon2id hash);
# - GET /healthz first: the floor every request pays (HTTP, middleware, loopback);
# - client_credentials RS256 tokens from Gatehouse (SQLite, PostgreSQL) and from oidc-provider
#   (Node, panva) for one API with one scope; password logins and rotating refresh exchanges
#   from Gatehouse.
# - the signing floor (crates/gatehouse/examples/signing_floor.rs): an HTTP server on the same
#   stack that does nothing for a token request but sign one RS256 token, the most any token
#   endpoint can reach here.
# Needs: cargo build --release -p gatehouse --bin gatehouse --example signing_floor;
#        cargo install oha --locked;
#        npm ci --prefix tests/compat/node (for oidc-provider); taskset (util-linux).
#   bench/token_path.sh            (PostgreSQL at $BENCH_PG_URL, default postgres://postgres@127.0.0.1:5432/postgres)
# Prints Markdown tables: the runs, then each against its bound.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=target/release/gatehouse
PORT=${BENCH_PORT:-3927}
URL=http://127.0.0.1:$PORT
OP_PORT=$((PORT + 1))
N=${BENCH_REQUESTS:-20000}
C=64
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

json() { python3 -c "import sys,json; print(json.load(sys.stdin)$1)"; }

# --- bounds on the server's core -------------------------------------------------------------
# Measured before the loads and again after them: on a shared machine the bounds drift
# (argon2id, memory-bound, moved 13.7-17.4 ms between runs of one day), so each load is set
# against the mean of the two, and both are printed.
cargo bench -p gatehouse-crypto --bench crypto --no-run >/dev/null 2>&1
estimate() { python3 -c "import json; print(json.load(open('target/criterion/$1/new/estimates.json'))['mean']['point_estimate'])"; }
bounds() { # prints "sign-ns argon-ns"; fails (no stale estimates) when criterion does
  rm -rf target/criterion/rs256_sign_token target/criterion/argon2id
  taskset -c "$SCORE" cargo bench -p gatehouse-crypto --bench crypto -- "rs256_sign_token|argon2id/hash" >/dev/null 2>&1 || return 1
  local sign argon
  sign=$(estimate rs256_sign_token) && argon=$(estimate argon2id/hash_m19456_t2_p1) || return 1
  echo "$sign $argon"
}
BOUNDS_BEFORE=$(bounds) || { echo "criterion failed"; exit 1; }

# PostgreSQL's processes (and those it forks later) off the server's core.
for p in $PG_PIDS; do taskset -a -p -c "$LCORE" "$p" >/dev/null 2>&1 || true; done

RESULTS=$WORK/results.tsv
: > "$RESULTS"
record() { # label file
  python3 - "$1" "$2" >> "$RESULTS" <<'PY'
import json, sys
label, path = sys.argv[1:3]
label = label.replace("\\t", "\t")  # labels are written "grant\tserver\tdatabase"
r = json.load(open(path))
s = r["summary"]; p = r["latencyPercentiles"]
codes = ",".join(f"{k}x{v}" for k, v in sorted(r.get("statusCodeDistribution", {}).items()))
total = sum(r.get("statusCodeDistribution", {}).values())
print(f"{label}\t{total}\t{s['requestsPerSec']:.0f}\t{p['p50']*1000:.2f}\t{p['p99']*1000:.2f}\t{codes}")
PY
}
load() { # label n method-args...
  local label=$1 n=$2; shift 2
  taskset -c "$LCORE" oha --no-tui --output-format json -c "$C" -n "$((n / 10))" "$@" > /dev/null
  taskset -c "$LCORE" oha --no-tui --output-format json -c "$C" -n "$n" "$@" > "$WORK/r.json"
  record "$label" "$WORK/r.json"
}

start_server() {
  GATEHOUSE_LISTEN=127.0.0.1:$PORT GATEHOUSE_DATABASE_URL="$1" GATEHOUSE_SECRET_KEY_FILE="$WORK/key" \
  GATEHOUSE_BOOTSTRAP_CLIENT_ID=$CID GATEHOUSE_BOOTSTRAP_CLIENT_SECRET=$CSECRET \
  GATEHOUSE_RATE_LIMIT=0 GATEHOUSE_AUTH_RATE_LIMIT_SCALE=0 GATEHOUSE_LOG=warn \
    taskset -c "$SCORE" "$BIN" serve > "$WORK/server.log" 2>&1 &
  SERVER=$!
  for _ in $(seq 1 100); do curl -sf "$URL/healthz" >/dev/null && return; sleep 0.1; done
  echo "server did not start"; cat "$WORK/server.log"; exit 1
}

run_gatehouse() { # db-label url
  local db=$1
  start_server "$2"
  local tok api="https://bench-api.example.com/"
  tok=$(curl -s "$URL/oauth/token" -H 'content-type: application/json' \
    -d "{\"grant_type\":\"client_credentials\",\"client_id\":\"$CID\",\"client_secret\":\"$CSECRET\",\"audience\":\"$URL/api/v2/\"}" | json '["access_token"]')
  mgmt() { curl -s "$URL/api/v2/$1" -H "authorization: Bearer $tok" -H 'content-type: application/json' -d "$2"; }
  mgmt resource-servers "{\"identifier\":\"$api\",\"name\":\"bench\",\"token_lifetime\":86400,\"scopes\":[{\"value\":\"read:things\"}]}" > /dev/null
  local m2m mcid msecret
  m2m=$(mgmt clients '{"name":"bench m2m","app_type":"non_interactive","grant_types":["client_credentials"]}')
  mcid=$(echo "$m2m" | json '["client_id"]'); msecret=$(echo "$m2m" | json '["client_secret"]')
  mgmt client-grants "{\"client_id\":\"$mcid\",\"audience\":\"$api\",\"scope\":[\"read:things\"]}" > /dev/null
  # The floor every request pays before any work of its own: HTTP, the middleware (request
  # id, metrics, CORS, limits, deadline) and the kernel's loopback, on the same core.
  load "GET /healthz (no work)\tGatehouse\t$db" "$N" "$URL/healthz"
  load "client_credentials\tGatehouse\t$db" "$N" -m POST -T application/x-www-form-urlencoded \
    -d "grant_type=client_credentials&client_id=$mcid&client_secret=$msecret&audience=$api" "$URL/oauth/token"

  # Password logins (one argon2id verification each) and rotating refresh exchanges (two
  # signatures; a token replayed within the one-hour leeway takes the path of a first use).
  mgmt users '{"connection":"Username-Password-Authentication","email":"bench@example.com","password":"Bench-passw0rd!"}' > /dev/null
  # One user logging in 64 times at once from one address is what brute-force protection
  # stops (attempts in flight count against its limit of 10): switched off for this run,
  # with the connection's `brute_force_protection` option.
  local conn
  conn=$(curl -s "$URL/api/v2/connections?name=Username-Password-Authentication" -H "authorization: Bearer $tok" | json '[0]["id"]')
  curl -s -X PATCH "$URL/api/v2/connections/$conn" -H "authorization: Bearer $tok" \
    -H 'content-type: application/json' -d '{"options":{"brute_force_protection":false}}' > /dev/null
  local app acid asecret
  app=$(mgmt clients '{"name":"bench app","grant_types":["password","refresh_token"],"refresh_token":{"leeway":3600}}')
  acid=$(echo "$app" | json '["client_id"]'); asecret=$(echo "$app" | json '["client_secret"]')
  local login="grant_type=password&client_id=$acid&client_secret=$asecret&username=bench%40example.com&password=Bench-passw0rd%21&scope=openid%20offline_access"
  load "password\tGatehouse\t$db" 640 -m POST -T application/x-www-form-urlencoded -d "$login" "$URL/oauth/token"
  local rt
  rt=$(curl -s "$URL/oauth/token" -H 'content-type: application/x-www-form-urlencoded' -d "$login" | json '["refresh_token"]')
  load "refresh_token (rotating)\tGatehouse\t$db" "$((N / 2))" -m POST -T application/x-www-form-urlencoded \
    -d "grant_type=refresh_token&client_id=$acid&client_secret=$asecret&refresh_token=$rt" "$URL/oauth/token"
  kill "$SERVER"; wait "$SERVER" 2>/dev/null || true; SERVER=""
}

run_gatehouse SQLite "sqlite://$WORK/bench.db"
name=gh_bench_$$
psql "$PG_ADMIN" -qc "CREATE DATABASE $name" >/dev/null
run_gatehouse PostgreSQL "${PG_ADMIN%/*}/$name"
psql "$PG_ADMIN" -qc "DROP DATABASE $name WITH (FORCE)" >/dev/null

# Another server's client-credentials tokens: started on the server's core, waited for at
# `ready-url`, loaded with the form body, stopped.
run_reference() { # label ready-url token-url body command...
  local label=$1 ready=$2 url=$3 body=$4; shift 4
  taskset -c "$SCORE" "$@" > "$WORK/reference.log" 2>&1 &
  SERVER=$!
  for _ in $(seq 1 100); do curl -sf "$ready" >/dev/null && break; sleep 0.1; done
  load "client_credentials\t$label" "$N" -m POST -T application/x-www-form-urlencoded -d "$body" "$url"
  kill "$SERVER"; wait "$SERVER" 2>/dev/null || true; SERVER=""
}
run_reference "oidc-provider 8 (Node $(node --version))\t(memory)" \
  "http://127.0.0.1:$OP_PORT/.well-known/openid-configuration" "http://127.0.0.1:$OP_PORT/token" \
  "grant_type=client_credentials&client_id=bench-client&client_secret=bench-client-secret-bench-client-secret-0001&resource=https%3A%2F%2Fbench-api.example.com%2F&scope=read%3Athings" \
  node bench/oidc_provider_cc.mjs "$OP_PORT"
FLOOR_PORT=$((PORT + 2))
run_reference "signing floor (no work but the signature)\t(none)" \
  "http://127.0.0.1:$FLOOR_PORT/healthz" "http://127.0.0.1:$FLOOR_PORT/oauth/token" \
  "grant_type=client_credentials&client_id=bench-client&client_secret=x&audience=https%3A%2F%2Fbench-api.example.com%2F" \
  target/release/examples/signing_floor "127.0.0.1:$FLOOR_PORT"

BOUNDS_AFTER=$(bounds) || { echo "criterion failed"; exit 1; }

cat "$RESULTS" >&2
python3 - "$RESULTS" "$BOUNDS_BEFORE" "$BOUNDS_AFTER" "$C" <<'PY'
import sys
path, before, after, c = sys.argv[1], sys.argv[2].split(), sys.argv[3].split(), sys.argv[4]
sign_ns = (float(before[0]) + float(after[0])) / 2
argon_ns = (float(before[1]) + float(after[1])) / 2
rows = [l.rstrip("\n").split("\t") for l in open(path)]
sign = 1e9 / sign_ns
argon = 1e9 / argon_ns
print(f"Bounds on the server's core, the mean of before and after the loads: RS256 signature "
      f"{sign_ns/1000:.0f} µs ({sign:,.0f} /s; {float(before[0])/1000:.0f} before, "
      f"{float(after[0])/1000:.0f} after), argon2id {argon_ns/1e6:.1f} ms ({argon:,.1f} /s; "
      f"{float(before[1])/1e6:.1f} before, {float(after[1])/1e6:.1f} after).\n")
print("| grant | server | database | concurrency | requests | req/s | p50 | p99 | statuses |")
print("|---|---|---|---|---|---|---|---|---|")
for g, srv, db, n, rps, p50, p99, codes in rows:
    print(f"| {g} | {srv} | {db} | {c} | {n} | {rps} | {p50} ms | {p99} ms | {codes} |")
print()
op = next((float(r[4]) for r in rows if r[1].startswith("oidc-provider")), None)
floor = next((float(r[4]) for r in rows if r[1].startswith("signing floor")), None)
print("| grant | server | database | req/s | bound | vs bound | vs oidc-provider | vs signing floor |")
print("|---|---|---|---|---|---|---|---|")
for g, srv, db, n, rps, *_ in rows:
    rps = float(rps)
    if g.startswith("GET /healthz"):
        floor_us, sign_us = 1e6 / rps, sign_ns / 1000
        ceiling = sign_us / (sign_us + floor_us)
        print(f"| {g} | {srv} | {db} | {rps:,.0f} | {floor_us:.0f} µs a request (the floor) | "
              f"{ceiling:.2f}: the most one signature plus the floor allows | | |")
        continue
    if g == "password":
        bound, what = argon, "one argon2id"
    elif g.startswith("refresh"):
        bound, what = sign / 2, "two RS256 signatures"
    else:
        bound, what = sign, "one RS256 signature"
    vs_op = f"{rps / op:.2f}" if op and g == "client_credentials" else ""
    vs_floor = f"{rps / floor:.2f}" if floor and g == "client_credentials" else ""
    print(f"| {g} | {srv} | {db} | {rps:,.0f} | {bound:,.0f} /s ({what}) | {rps / bound:.2f} | {vs_op} | {vs_floor} |")
PY
