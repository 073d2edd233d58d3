"""Checks an export against the users file it came from: every user exactly once.

Reads the import file (a JSON array written one user per line by make_users.py) and the
gzipped NDJSON export, and fails unless the export's user_ids are distinct and are exactly
the file's ids (with the `auth0|` prefix). A line count alone misses an export that writes
some users twice and leaves as many out.
Usage: python3 check_export.py users.json export.json.gz
"""

import gzip
import json
import sys

users_file, export_file = sys.argv[1], sys.argv[2]
expected = set()
with open(users_file) as f:
    for line in f:
        line = line.strip().rstrip(",")
        if line in ("[", "]", ""):
            continue
        expected.add("auth0|" + json.loads(line)["user_id"])
lines = 0
seen = set()
repeated = 0
with gzip.open(export_file, "rt") as f:
    for line in f:
        lines += 1
        user_id = json.loads(line)["user_id"]
        if user_id in seen:
            repeated += 1
        seen.add(user_id)
missing = len(expected - seen)
unexpected = len(seen - expected)
print(f"export check: {lines} lines, {len(seen)} distinct users, {repeated} repeated, "
      f"{missing} missing, {unexpected} not in the file")
if repeated or missing or unexpected or lines != len(expected):
    sys.exit(1)
