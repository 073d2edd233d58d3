#!/usr/bin/env bash
# Custom-database logins under load against a release build (SQLite), side by side in one run:
# a database user (argon2id), a legacy-mode script login with a bcrypt cost-10 compare (the
# script runs at every login), the same user after import mode moved it (argon2id again),
# and a script that checks nothing (the sandbox's own cost at the endpoint).
#   cargo build --release -p gatehouse && cargo install oha --locked
#   bench/custom_db.sh
# Prints one Markdown table row per run: login, concurrency, requests, rps, p50, p99, statuses.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=target/release/gatehouse
PORT=${BENCH_PORT:-3918}
URL=http://127.0.0.1:$PORT
CID=BenchManagementClient00000000001
CSECRET=bench-secret-bench-secret-bench-secret-000
WORK=$(mktemp -d)
trap 'kill $SERVER 2>/dev/null || true; rm -rf "$WORK"' EXIT

GATEHOUSE_LISTEN=127.0.0.1:$PORT GATEHOUSE_DATABASE_URL="sqlite://$WORK/gh.db" GATEHOUSE_SECRET_KEY_FILE="$WORK/key" \
GATEHOUSE_BOOTSTRAP_CLIENT_ID=$CID GATEHOUSE_BOOTSTRAP_CLIENT_SECRET=$CSECRET \
GATEHOUSE_RATE_LIMIT=0 GATEHOUSE_AUTH_RATE_LIMIT_SCALE=0 GATEHOUSE_LOG=warn "$BIN" serve > "$WORK/server.log" 2>&1 &
SERVER=$!
for _ in $(seq 1 100); do curl -sf "$URL/healthz" >/dev/null && break; sleep 0.1; done

tok=$(curl -s "$URL/oauth/token" -H 'content-type: application/json' \
  -d "{\"grant_type\":\"client_credentials\",\"client_id\":\"$CID\",\"client_secret\":\"$CSECRET\",\"audience\":\"$URL/api/v2/\"}" | jq -r .access_token)
api() { curl -sf "$URL$2" -X "$1" -H "authorization: Bearer $tok" -H 'content-type: application/json' ${3:+-d "$3"}; }

app=$(api POST /api/v2/clients '{"name":"bench app","grant_types":["http://auth0.com/oauth/grant-type/password-realm"]}')
app_id=$(echo "$app" | jq -r .client_id)
app_secret=$(echo "$app" | jq -r .client_secret)
# Zoë's row of tests/fixtures/custom-db/legacy-users.json: a pyca/bcrypt cost-10 hash.
zoe_email=zoe.okafor@example.com
zoe_password='Zoë-pässwörd-2019'
zoe_hash=$(jq -r '.users[] | select(.id == 7) | .hash' tests/fixtures/custom-db/legacy-users.json)
bcrypt_login=$(cat <<JS
function login(email, password, callback) {
  const bcrypt = require('bcrypt');
  if (email !== '$zoe_email') return callback(new WrongUsernameOrPasswordError(email));
  bcrypt.compare(password, '$zoe_hash', function (err, isValid) {
    if (err || !isValid) return callback(err || new WrongUsernameOrPasswordError(email));
    callback(null, { user_id: 7, nickname: 'Zoë', email: email });
  });
}
JS
)
trivial_login="function login(email, password, callback) { callback(null, { user_id: 7, nickname: 'Zoë', email: email }); }"
connection() { # name import_mode script
  jq -n --arg name "$1" --argjson importing "$2" --arg login "$3" --arg app "$app_id" \
    '{name: $name, strategy: "auth0", enabled_clients: [$app], options: {enabledDatabaseCustomization: true,
      import_mode: $importing, brute_force_protection: false, customScripts: {login: $login}}}' \
    | curl -sf "$URL/api/v2/connections" -H "authorization: Bearer $tok" -H 'content-type: application/json' -d @- >/dev/null
}
connection legacy-bcrypt false "$bcrypt_login"
connection moved true "$bcrypt_login"
connection legacy-trivial false "$trivial_login"
db_id=$(api GET '/api/v2/connections?name=Username-Password-Authentication' | jq -r '.[0].id')
api PATCH "/api/v2/connections/$db_id" "{\"enabled_clients\":[\"$app_id\"],\"options\":{\"brute_force_protection\":false,\"passwordPolicy\":\"good\"}}" >/dev/null
api POST /api/v2/users "{\"connection\":\"Username-Password-Authentication\",\"email\":\"$zoe_email\",\"password\":\"$zoe_password\"}" >/dev/null

body() { jq -cn --arg realm "$1" --arg id "$app_id" --arg secret "$app_secret" --arg u "$zoe_email" --arg p "$zoe_password" \
  '{grant_type: "http://auth0.com/oauth/grant-type/password-realm", client_id: $id, client_secret: $secret, realm: $realm, username: $u, password: $p}'; }
# The first login moves the user into Gatehouse; every later one checks argon2id.
curl -sf "$URL/oauth/token" -H 'content-type: application/json' -d "$(body moved)" >/dev/null

row() { # label concurrency json-file
  python3 - "$@" <<'PY'
import json, sys
label, c, path = sys.argv[1:4]
r = json.load(open(path))
s = r["summary"]; p = r["latencyPercentiles"]
codes = ",".join(f"{k}x{v}" for k, v in sorted(r.get("statusCodeDistribution", {}).items()))
total = sum(r.get("statusCodeDistribution", {}).values())
print(f"| {label} | {c} | {total} | {s['requestsPerSec']:.1f} | {p['p50']*1000:.2f} ms | {p['p99']*1000:.2f} ms | {codes} |")
PY
}
for spec in "1 60" "16 400"; do
  set -- $spec
  for realm in Username-Password-Authentication legacy-bcrypt moved legacy-trivial; do
    n=$2
    [ "$realm" = legacy-trivial ] && n=$(( $2 * 5 ))
    oha --no-tui --output-format json -c "$1" -n "$n" -m POST -T application/json -d "$(body $realm)" "$URL/oauth/token" > "$WORK/r.json"
    row "$realm" "$1" "$WORK/r.json"
  done
done
