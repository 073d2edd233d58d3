"""Writes a users file in Auth0's import format (a JSON array) with N users to stdout.

Every user carries a bcrypt `password_hash` made here by Python's bcrypt (cost 10, one hash
shared by all users: an import stores hashes as given, so this measures the import, not
hashing), email_verified, names and a little metadata. `user_id`s are random 24-hex ids, as
real tenants have (ids in creation order once hid an export that repeated and dropped users).
With --sequential-ids they are `scale0000000`, `scale0000001`, … instead (to measure what
random ids cost). Written as it goes: memory stays flat.
Usage: python3 make_users.py N [--ndjson] [--sequential-ids] > users.json
"""

import json
import random
import sys

import bcrypt

n = int(sys.argv[1])
ndjson = "--ndjson" in sys.argv
sequential = "--sequential-ids" in sys.argv
ids = random.Random()
password_hash = bcrypt.hashpw(b"scale-Passw0rd", bcrypt.gensalt(rounds=10, prefix=b"2b")).decode()
out = sys.stdout
out.write("" if ndjson else "[\n")
for i in range(n):
    row = {
        "email": f"user{i:07d}@scale.example.com",
        "user_id": f"scale{i:07d}" if sequential else f"{ids.getrandbits(96):024x}",
        "email_verified": i % 3 != 0,
        "given_name": f"Given{i % 1000}",
        "family_name": f"Family{i % 997}",
        "user_metadata": {"plan": ("free", "pro", "team")[i % 3], "n": i},
        "password_hash": password_hash,
    }
    sep = "\n" if ndjson else (",\n" if i + 1 < n else "\n")
    out.write(json.dumps(row, separators=(",", ":")) + sep)
out.write("" if ndjson else "]\n")
