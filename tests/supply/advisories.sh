#!/usr/bin/env bash
# Checks Cargo.lock against a checkout of the RustSec advisory database, offline:
#   tests/supply/advisories.sh /path/to/advisory-db
# (CI cannot reach the database's git host; give it a checkout when one is at hand.)
set -euo pipefail
cd "$(dirname "$0")/../.."
db="$(cd "$1" && pwd)"
# cargo deny looks for the default database under db-path (deny.toml) by this name.
mkdir -p target/advisory-dbs
ln -sfn "$db" target/advisory-dbs/advisory-db-3157b0e258782691
cargo deny --offline --log-level error check advisories
