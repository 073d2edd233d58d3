#!/usr/bin/env bash
# Imports a 1,000,000-user file (bcrypt hashes, pre-hashed, random user_ids) with the release
# binary, checks the exact count, exports every user back and checks that each user is in the
# export exactly once (distinct ids, not just a line count); prints the time and peak memory
# of each step. On SQLite, and on PostgreSQL when GATEHOUSE_TEST_DATABASE_URL
# names a server (a scratch database is created and dropped), with SCALE_PG_USERS users
# (default: the same N; CI uses fewer, PostgreSQL's import being slower, see benchmarks.md).
# Usage: tests/scale/million.sh [N]   (GATEHOUSE_BIN defaults to target/release/gatehouse;
# SCALE_SEQUENTIAL_IDS=1 makes ids in creation order, to compare with the random default)
set -euo pipefail
cd "$(dirname "$0")/../.."
N="${1:-1000000}"
BIN="${GATEHOUSE_BIN:-target/release/gatehouse}"
dir="$(mktemp -d)"
trap 'rm -rf "$dir"' EXIT
make_file() {
  python3 tests/scale/make_users.py "$N" ${SCALE_SEQUENTIAL_IDS:+--sequential-ids} > "$dir/users.json"
  echo "users file: $N users, $(du -m "$dir/users.json" | cut -f1) MB"
}
make_file

measure() { # label, then the command; prints seconds and peak RSS
  local label="$1"; shift
  /usr/bin/time -f "%e %M" -o "$dir/time" "$@"
  read -r secs kb < "$dir/time"
  echo "$label: ${secs}s, peak RSS $((kb / 1024)) MiB, $(python3 -c "print(round($N / max($secs, 0.001)))") users/s"
}

run() { # database URL
  export GATEHOUSE_DATABASE_URL="$1" GATEHOUSE_SECRET_KEY_FILE="$dir/key" GATEHOUSE_LOG=warn
  measure "import ($2)" "$BIN" import "$dir/users.json" --connection Username-Password-Authentication 2> "$dir/import.log"
  grep -q "completed: $N inserted, 0 updated, 0 failed of $N" "$dir/import.log" || { cat "$dir/import.log"; exit 1; }
  measure "export json ($2)" sh -c "\"$BIN\" export --format json --gzip > \"$dir/export.json.gz\" 2> \"$dir/export.log\""
  python3 tests/scale/check_export.py "$dir/users.json" "$dir/export.json.gz" || { cat "$dir/export.log"; exit 1; }
  echo "export file: $(du -m "$dir/export.json.gz" | cut -f1) MB gzipped"
}

run "sqlite://$dir/scale.db" sqlite
if [ -n "${GATEHOUSE_TEST_DATABASE_URL:-}" ]; then
  db="gh_scale_$$"
  base="${GATEHOUSE_TEST_DATABASE_URL%/*}"
  if [ "${SCALE_PG_USERS:-$N}" != "$N" ]; then N="$SCALE_PG_USERS"; make_file; fi
  psql "$GATEHOUSE_TEST_DATABASE_URL" -qc "CREATE DATABASE $db"
  trap 'psql "$GATEHOUSE_TEST_DATABASE_URL" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)"; rm -rf "$dir"' EXIT
  run "$base/$db" postgres
fi
echo "scale check passed"
