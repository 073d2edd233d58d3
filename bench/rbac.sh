#!/usr/bin/env bash
# Token issue with role-based access control and groups on, side by side in one run against a
# release build (SQLite): the same user refreshes tokens for two APIs defining the same 1,000
# scopes, one plain (RBAC off, no tenant claims) and one with `enforce_policies` and the
# `access_token_authz` dialect, while the tenant puts groups, roles and permissions in both
# tokens. The user is in the innermost of 10 nested groups; each group gives 10 roles of 10
# permissions (100 roles, 1,000 permissions held).
#   cargo build --release -p gatehouse && cargo install oha --locked
#   bench/rbac.sh
# Prints one Markdown table row per run: case, concurrency, requests, rps, p50, p99, statuses.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=target/release/gatehouse
PORT=${BENCH_PORT:-3919}
URL=http://127.0.0.1:$PORT
CID=BenchManagementClient00000000001
CSECRET=bench-secret-bench-secret-bench-secret-000
WORK=$(mktemp -d)
trap 'kill $SERVER 2>/dev/null || true; rm -rf "$WORK"' EXIT

GATEHOUSE_LISTEN=127.0.0.1:$PORT GATEHOUSE_DATABASE_URL="${BENCH_DATABASE_URL:-sqlite://$WORK/gh.db}" GATEHOUSE_SECRET_KEY_FILE="$WORK/key" \
GATEHOUSE_BOOTSTRAP_CLIENT_ID=$CID GATEHOUSE_BOOTSTRAP_CLIENT_SECRET=$CSECRET \
GATEHOUSE_RATE_LIMIT=0 GATEHOUSE_AUTH_RATE_LIMIT_SCALE=0 GATEHOUSE_LOG=warn "$BIN" serve > "$WORK/server.log" 2>&1 &
SERVER=$!
for _ in $(seq 1 100); do curl -sf "$URL/healthz" >/dev/null && break; sleep 0.1; done

tok=$(curl -s "$URL/oauth/token" -H 'content-type: application/json' \
  -d "{\"grant_type\":\"client_credentials\",\"client_id\":\"$CID\",\"client_secret\":\"$CSECRET\",\"audience\":\"$URL/api/v2/\"}" | jq -r .access_token)
api() { curl -sf "$URL$2" -X "$1" -H "authorization: Bearer $tok" -H 'content-type: application/json' ${3:+-d "$3"}; }

scopes=$(jq -nc '[range(0;1000) | {value: "do:thing-\(.)", description: "Thing \(.)"}]')
api POST /api/v2/resource-servers "{\"identifier\":\"https://plain.bench\",\"allow_offline_access\":true,\"scopes\":$scopes}" >/dev/null
api POST /api/v2/resource-servers "{\"identifier\":\"https://rbac.bench\",\"allow_offline_access\":true,\"enforce_policies\":true,\"token_dialect\":\"access_token_authz\",\"scopes\":$scopes}" >/dev/null
app=$(api POST /api/v2/clients '{"name":"bench app","grant_types":["http://auth0.com/oauth/grant-type/password-realm","refresh_token"],"refresh_token":{"rotation_type":"non-rotating","expiration_type":"non-expiring"}}')
app_id=$(echo "$app" | jq -r .client_id)
app_secret=$(echo "$app" | jq -r .client_secret)
db_id=$(api GET '/api/v2/connections?name=Username-Password-Authentication' | jq -r '.[0].id')
api PATCH "/api/v2/connections/$db_id" "{\"enabled_clients\":[\"$app_id\"]}" >/dev/null
user=$(api POST /api/v2/users '{"connection":"Username-Password-Authentication","email":"bench.rbac@example.com","password":"Bench-pässwörd-1"}' | jq -r .user_id)

# 10 nested groups (g0 ⊃ g1 ⊃ … ⊃ g9), each giving 10 roles of 10 permissions.
parent=""
innermost=""
for g in $(seq 0 9); do
  gid=$(api POST /api/v2/groups "{\"name\":\"Level $g\"}" | jq -r .id)
  [ -n "$parent" ] && api POST "/api/v2/groups/$parent/nested" "{\"groups\":[\"$gid\"]}" >/dev/null
  roles="[]"
  for r in $(seq 0 9); do
    n=$((g * 10 + r))
    rid=$(api POST /api/v2/roles "{\"name\":\"Role $n\"}" | jq -r .id)
    perms=$(jq -nc --argjson n "$n" '{permissions: [range(0;10) | {resource_server_identifier: "https://rbac.bench", permission_name: "do:thing-\($n * 10 + .)"}]}')
    api POST "/api/v2/roles/$rid/permissions" "$perms" >/dev/null
    roles=$(echo "$roles" | jq -c --arg r "$rid" '. + [$r]')
  done
  api POST "/api/v2/groups/$gid/roles" "{\"roles\":$roles}" >/dev/null
  parent=$gid
  innermost=$gid
done
api POST "/api/v2/groups/$innermost/members" "{\"members\":[\"$user\"]}" >/dev/null

refresh_for() { # audience
  curl -sf "$URL/oauth/token" -H 'content-type: application/json' -d "{\"grant_type\":\"http://auth0.com/oauth/grant-type/password-realm\",
    \"realm\":\"Username-Password-Authentication\",\"client_id\":\"$app_id\",\"client_secret\":\"$app_secret\",
    \"username\":\"bench.rbac@example.com\",\"password\":\"Bench-pässwörd-1\",\"audience\":\"$1\",
    \"scope\":\"openid profile offline_access do:thing-1 do:thing-500 do:thing-999\"}" | jq -r .refresh_token
}
plain_refresh=$(refresh_for https://plain.bench)
# The tenant's claims apply to every token: they are turned on last.
run() { # label concurrency requests refresh_token
  local body="{\"grant_type\":\"refresh_token\",\"client_id\":\"$app_id\",\"client_secret\":\"$app_secret\",\"refresh_token\":\"$4\"}"
  local out
  out=$(oha --no-tui --output-format json -c "$2" -n "$3" -m POST -H 'content-type: application/json' -d "$body" "$URL/oauth/token")
  echo "$out" | jq -r --arg l "$1" --arg c "$2" --arg n "$3" \
    '"| \($l) | \($c) | \($n) | \(.summary.requestsPerSec | floor) | \(.latencyPercentiles.p50 * 1000 * 100 | floor / 100) ms | \(.latencyPercentiles.p99 * 1000 * 100 | floor / 100) ms | \(.statusCodeDistribution | to_entries | map("\(.key)x\(.value)") | join(",")) |"'
}
echo "| case | concurrency | requests | req/s | p50 | p99 | statuses |"
echo "|---|---|---|---|---|---|---|"
run "refresh, RBAC off" 1 1000 "$plain_refresh"
run "refresh, RBAC off" 32 8000 "$plain_refresh"
rbac_refresh=$(refresh_for https://rbac.bench)
run "refresh, RBAC on (enforce_policies, access_token_authz)" 1 1000 "$rbac_refresh"
run "refresh, RBAC on (enforce_policies, access_token_authz)" 32 8000 "$rbac_refresh"
api PATCH /api/v2/tenants/settings '{"authorization":{"groups_in_token":true,"roles_in_token":true,"permissions_in_token":true}}' >/dev/null
sample=$(curl -sf "$URL/oauth/token" -H 'content-type: application/json' -d "{\"grant_type\":\"refresh_token\",\"client_id\":\"$app_id\",\"client_secret\":\"$app_secret\",\"refresh_token\":\"$rbac_refresh\"}")
echo "$sample" | jq -r '.access_token | split(".")[1] | gsub("-";"+") | gsub("_";"/") | @base64d | fromjson
  | "RBAC token: scope=\(.scope), permissions=\(.permissions | length), roles=\(.["'"$URL"'/roles"] | length), groups=\(.["'"$URL"'/groups"] | length), bytes=" ' | tr -d '\n'
echo "$sample" | jq -r '.access_token | length'
run "refresh, RBAC on + groups, roles, permissions in both tokens" 1 1000 "$rbac_refresh"
run "refresh, RBAC on + groups, roles, permissions in both tokens" 32 8000 "$rbac_refresh"
