"""Bulk user import with foreign password hashes, through auth0-python v6, against Gatehouse.

Every hash is made while the test runs, by the library that defines its format
(``bcrypt``, ``argon2-cffi``, ``passlib``, ``hashlib``/``hmac``, ``cryptography``
for Firebase's scrypt) -- none is hard-coded. All users go into one file, with
a few deliberately broken rows among them, and are uploaded once with the
SDK's ``jobs.users_imports.create``. The job is then followed with
``jobs.get`` / ``jobs.errors.get``, and every imported user logs in through the
password-realm grant (``GetToken.login``): a wrong password is refused, the
right one is accepted, the stored hash (read from the server's SQLite file,
read-only) has become argon2id, and the password still works against it.

SDK calls used (auth0-python 6.8.0; the v4 names ``jobs.import_users`` /
``jobs.get_failed_job`` no longer exist in v6):

* ``Auth0(...).jobs.users_imports.create(users=<file>, connection_id=...,
  upsert=..., external_id=..., send_completion_email=...)``
* ``Auth0(...).jobs.get(id)`` and ``Auth0(...).jobs.errors.get(id)``
* ``GetToken(domain, client_id, client_secret=..., protocol="http").login(
  username=..., password=..., realm=...)`` -- grant
  ``http://auth0.com/oauth/grant-type/password-realm`` by default.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import json
import os
import secrets
import sqlite3
import time
import uuid
import warnings
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional

import pytest

import argon2
import argon2.low_level
import bcrypt

with warnings.catch_warnings():
    # passlib 1.7.4 imports the stdlib `crypt` module (deprecated in 3.11, gone
    # in 3.13, where passlib does without it); the ldap/scrypt handlers used
    # here do not need it.
    warnings.simplefilter("ignore", DeprecationWarning)
    from passlib import hash as passlib_hash

from auth0.authentication import GetToken
from auth0.authentication.exceptions import Auth0Error
from auth0.management import Auth0
from auth0.management.core.api_error import ApiError

DB_CONNECTION = "Username-Password-Authentication"
PASSWORD_REALM_GRANT = "http://auth0.com/oauth/grant-type/password-realm"
# Gatehouse's own hash, written on the first successful login with an imported one.
ARGON2ID_PREFIX = "$argon2id$v=19$m=19456,t=2,p=1$"
IMPORTED_PREFIX = "$gh-imported$"
JOB_TIMEOUT_S = 60.0

# One run id for this module: every imported email and user_id carries it.
RUN = uuid.uuid4().hex[:10]


# --------------------------------------------------------------------------
# encodings and reference implementations
# --------------------------------------------------------------------------


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def b64_nopad(data: bytes) -> str:
    return b64(data).rstrip("=")


def _md4_factory() -> Optional[Callable[[bytes], "hashlib._Hash"]]:
    """hashlib's MD4 when OpenSSL still offers it, else passlib's pure-Python MD4."""
    try:
        hashlib.new("md4", b"")
        return lambda data=b"": hashlib.new("md4", data)
    except ValueError:
        pass
    try:
        from passlib.crypto._md4 import md4  # pure-Python fallback shipped by passlib
    except ImportError:  # pragma: no cover - passlib without it
        return None
    return md4


MD4 = _md4_factory()


def digest_of(alg: str, data: bytes) -> bytes:
    if alg == "md4":
        assert MD4 is not None
        return MD4(data).digest()
    return hashlib.new(alg, data).digest()


try:  # Firebase's scrypt needs AES-256-CTR; `cryptography` comes with auth0-python.
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    HAVE_CRYPTOGRAPHY = True
except ImportError:  # pragma: no cover
    HAVE_CRYPTOGRAPHY = False


# --------------------------------------------------------------------------
# the cases: one imported user each
# --------------------------------------------------------------------------

Row = Dict[str, Any]


@dataclass(frozen=True)
class Case:
    id: str
    build: Callable[[str], Row]  # password -> the row's hash field(s)
    # What the users table holds before the first login: "as-is" (the imported
    # string itself: bcrypt, argon2 PHC) or "imported" ($gh-imported$ description).
    stored: str = "imported"
    # Characters the password is made of, besides the random ASCII part.
    extra_chars: str = ""
    skip: Optional[str] = None

    def password(self) -> str:
        return f"Imp{self.extra_chars}-{secrets.token_urlsafe(9)}-9!"

    def email(self) -> str:
        return f"imp-{self.id}-{RUN}@import.example.com"

    def user_id(self) -> str:
        return f"imp{RUN}{self.id.replace('-', '')}"


def custom(algorithm: str, hash_: Dict[str, Any], **rest: Any) -> Row:
    return {"custom_password_hash": {"algorithm": algorithm, "hash": hash_, **rest}}


# -- bcrypt ----------------------------------------------------------------


def bcrypt_hash(password: str, rounds: int, prefix: bytes) -> str:
    h = bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=rounds, prefix=prefix)).decode()
    assert h.startswith(f"${prefix.decode()}${rounds:02d}$"), h
    return h


def bcrypt_2y(password: str) -> Row:
    # PHP's $2y$ is bcrypt byte for byte the same as $2b$; the python library
    # only writes $2a$/$2b$, so a $2b$ hash is relabelled (and still checks).
    h = "$2y$" + bcrypt_hash(password, 4, b"2b")[4:]
    assert bcrypt.checkpw(password.encode(), h.encode())
    return {"password_hash": h}


# -- argon2 ----------------------------------------------------------------


def argon2_hasher(type_: argon2.Type) -> argon2.PasswordHasher:
    return argon2.PasswordHasher(
        time_cost=1, memory_cost=1024, parallelism=1, hash_len=32, salt_len=16, type=type_
    )


def argon2_row(type_: argon2.Type, prefix: str) -> Callable[[str], Row]:
    def build(password: str) -> Row:
        h = argon2_hasher(type_).hash(password)
        assert h.startswith(prefix), h
        return custom("argon2", {"value": h})

    return build


def argon2d_row(password: str) -> Row:
    h = argon2.low_level.hash_secret(
        password.encode(),
        os.urandom(16),
        time_cost=2,
        memory_cost=512,
        parallelism=2,
        hash_len=24,
        type=argon2.low_level.Type.D,
    ).decode()
    assert h.startswith("$argon2d$v=19$m=512,t=2,p=2$"), h
    return custom("argon2", {"value": h, "encoding": "utf8"})


# -- pbkdf2 ----------------------------------------------------------------


def pbkdf2_phc(digest: str, password: str, iterations: int, keylen: int, *, claimed_len=None) -> str:
    salt = os.urandom(16)
    dk = hashlib.pbkdf2_hmac(digest, password.encode(), salt, iterations, keylen)
    length = keylen if claimed_len is None else claimed_len
    return f"$pbkdf2-{digest}$i={iterations},l={length}${b64_nopad(salt)}${b64_nopad(dk)}"


def pbkdf2_row(digest: str, iterations: int, keylen: int) -> Callable[[str], Row]:
    return lambda pw: custom("pbkdf2", {"value": pbkdf2_phc(digest, pw, iterations, keylen)})


# -- scrypt ----------------------------------------------------------------


def scrypt_passlib_phc(password: str) -> Row:
    # passlib's own $scrypt$ format (its "ab64" alphabet: '.' for '+', no padding).
    h = passlib_hash.scrypt.using(rounds=12, block_size=8, parallelism=1).hash(password)
    assert h.startswith("$scrypt$ln=12,r=8,p=1$"), h
    return custom("scrypt", {"value": h})


def scrypt_hashlib_phc(password: str) -> Row:
    salt = os.urandom(16)
    dk = hashlib.scrypt(password.encode(), salt=salt, n=2**11, r=8, p=2, dklen=32)
    return custom("scrypt", {"value": f"$scrypt$ln=11,r=8,p=2${b64_nopad(salt)}${b64_nopad(dk)}"})


def scrypt_fields_hex(password: str) -> Row:
    salt = f"NaCl-{secrets.token_hex(6)}"
    dk = hashlib.scrypt(password.encode(), salt=salt.encode(), n=2**12, r=8, p=1, dklen=64)
    return custom(
        "scrypt",
        {"value": dk.hex(), "encoding": "hex"},
        salt={"value": salt, "encoding": "utf8"},
        keylen=64,
        cost=2**12,
        blockSize=8,
        parallelization=1,
    )


def scrypt_fields_base64(password: str) -> Row:
    salt = os.urandom(24)
    dk = hashlib.scrypt(password.encode(), salt=salt, n=2**13, r=4, p=1, dklen=32)
    return custom(
        "scrypt",
        {"value": b64(dk), "encoding": "base64"},
        salt={"value": b64(salt), "encoding": "base64"},
        keylen=32,
        cost=2**13,
        blockSize=4,
        parallelization=1,
    )


# -- hmac ------------------------------------------------------------------


def hmac_sha256_hex(password: str) -> Row:
    key = f"k-{secrets.token_hex(8)}"
    salt = f"s-{secrets.token_hex(4)}"
    mac = hmac.new(key.encode(), salt.encode() + password.encode(), hashlib.sha256).hexdigest()
    return custom(
        "hmac",
        {"value": mac, "encoding": "hex", "digest": "sha256", "key": {"value": key, "encoding": "utf8"}},
        salt={"value": salt, "encoding": "utf8", "position": "prefix"},
    )


def hmac_sha512_base64(password: str) -> Row:
    key = os.urandom(32)
    salt = os.urandom(8)
    mac = hmac.new(key, password.encode() + salt, hashlib.sha512).digest()
    return custom(
        "hmac",
        {"value": b64(mac), "encoding": "base64", "digest": "sha512",
         "key": {"value": b64(key), "encoding": "base64"}},
        salt={"value": salt.hex(), "encoding": "hex", "position": "suffix"},
    )


def hmac_sha1_unsalted(password: str) -> Row:
    key = os.urandom(20)
    mac = hmac.new(key, password.encode(), hashlib.sha1).hexdigest()
    return custom(
        "hmac",
        {"value": mac, "encoding": "hex", "digest": "sha1", "key": {"value": key.hex(), "encoding": "hex"}},
    )


# -- ldap (RFC 2307) -------------------------------------------------------


def ldap_row(handler, scheme: str) -> Callable[[str], Row]:
    def build(password: str) -> Row:
        h = handler.hash(password)
        assert h.startswith(scheme), h
        return custom("ldap", {"value": h})

    return build


# -- plain salted digests --------------------------------------------------


def digest_row(
    alg: str,
    position: Optional[str],
    encoding: str,
    *,
    salt_encoding: str = "utf8",
    password_encoding: Optional[str] = None,
) -> Callable[[str], Row]:
    python_codec = {None: "utf-8", "utf8": "utf-8", "latin1": "latin-1",
                    "utf16le": "utf-16-le", "ascii": "ascii"}[password_encoding]

    def build(password: str) -> Row:
        pw = password.encode(python_codec)
        salt_field = None
        if position is None:
            data = pw
        else:
            salt = os.urandom(12) if salt_encoding != "utf8" else f"salt{secrets.token_hex(5)}".encode()
            data = salt + pw if position == "prefix" else pw + salt
            value = {"utf8": lambda s: s.decode(), "hex": bytes.hex, "base64": b64}[salt_encoding](salt)
            salt_field = {"value": value, "encoding": salt_encoding, "position": position}
        d = digest_of(alg, data)
        hash_value = d.hex() if encoding == "hex" else b64(d)
        row = custom(alg, {"value": hash_value, "encoding": encoding})
        spec = row["custom_password_hash"]
        if salt_field is not None:
            spec["salt"] = salt_field
        if password_encoding is not None:
            spec["password"] = {"encoding": password_encoding}
        return row

    return build


# -- Firebase's scrypt -----------------------------------------------------


def firebase_scrypt(password: str) -> Row:
    """Firebase Auth's modified scrypt, as its exported users describe it.

    key = scrypt(password, salt ‖ salt_separator, N=2^mem_cost, r=rounds, p=1, 32 bytes);
    hash = AES-256-CTR(key, IV = 16 zero bytes) encrypting the project's signer key.
    """
    signer_key = os.urandom(64)
    salt_separator = base64.b64decode("Bw==")  # Firebase's usual separator
    salt = os.urandom(16)
    rounds, mem_cost = 8, 14
    key = hashlib.scrypt(
        password.encode(), salt=salt + salt_separator, n=2**mem_cost, r=rounds, p=1,
        dklen=32, maxmem=64 * 1024 * 1024,
    )
    enc = Cipher(algorithms.AES(key), modes.CTR(b"\0" * 16)).encryptor()
    hashed = enc.update(signer_key) + enc.finalize()
    return {
        "custom_password_hash": {
            "algorithm": "firebase-scrypt",
            "hash": {"value": b64(hashed), "encoding": "base64"},
            "salt": {"value": b64(salt), "encoding": "base64"},
            "firebase": {
                "signer_key": b64(signer_key),
                "salt_separator": b64(salt_separator),
                "rounds": rounds,
                "mem_cost": mem_cost,
            },
        }
    }


CASES: List[Case] = [
    # bcrypt: Auth0's password_hash field, and custom_password_hash "bcrypt"
    Case("bcrypt-2a", lambda pw: {"password_hash": bcrypt_hash(pw, 4, b"2a")}, "as-is"),
    Case("bcrypt-2b", lambda pw: {"password_hash": bcrypt_hash(pw, 6, b"2b")}, "as-is"),
    Case("bcrypt-2y", bcrypt_2y, "as-is"),
    Case("bcrypt-custom", lambda pw: custom("bcrypt", {"value": bcrypt_hash(pw, 5, b"2b")}), "as-is"),
    # argon2 PHC strings (argon2-cffi)
    Case("argon2id", argon2_row(argon2.Type.ID, "$argon2id$v=19$m=1024,t=1,p=1$"), "as-is"),
    Case("argon2i", argon2_row(argon2.Type.I, "$argon2i$v=19$m=1024,t=1,p=1$"), "as-is"),
    Case("argon2d", argon2d_row, "as-is"),
    # pbkdf2 (hashlib) in the $pbkdf2-<digest>$i=..,l=..$salt$hash form
    Case("pbkdf2-sha1", pbkdf2_row("sha1", 20_000, 20)),
    Case("pbkdf2-sha256", pbkdf2_row("sha256", 20_000, 32)),
    Case("pbkdf2-sha512", pbkdf2_row("sha512", 10_000, 64)),
    # scrypt: PHC strings and Auth0's separate fields
    Case("scrypt-phc-passlib", scrypt_passlib_phc),
    Case("scrypt-phc-hashlib", scrypt_hashlib_phc),
    Case("scrypt-fields-hex", scrypt_fields_hex),
    Case("scrypt-fields-base64", scrypt_fields_base64),
    # hmac
    Case("hmac-sha256-hex-prefix", hmac_sha256_hex),
    Case("hmac-sha512-b64-suffix", hmac_sha512_base64),
    Case("hmac-sha1-unsalted", hmac_sha1_unsalted),
    # ldap RFC 2307 (passlib)
    Case("ldap-ssha", ldap_row(passlib_hash.ldap_salted_sha1, "{SSHA}")),
    Case("ldap-ssha256", ldap_row(passlib_hash.ldap_salted_sha256, "{SSHA256}")),
    Case("ldap-ssha512", ldap_row(passlib_hash.ldap_salted_sha512, "{SSHA512}")),
    Case("ldap-smd5", ldap_row(passlib_hash.ldap_salted_md5, "{SMD5}")),
    Case("ldap-sha", ldap_row(passlib_hash.ldap_sha1, "{SHA}")),
    Case("ldap-md5", ldap_row(passlib_hash.ldap_md5, "{MD5}")),
    # salted digests (hashlib): both salt positions, hex and base64
    Case("md5-prefix-hex", digest_row("md5", "prefix", "hex")),
    Case("md5-suffix-b64", digest_row("md5", "suffix", "base64", salt_encoding="base64")),
    Case("sha1-prefix-b64", digest_row("sha1", "prefix", "base64", salt_encoding="hex")),
    Case("sha1-suffix-hex", digest_row("sha1", "suffix", "hex")),
    Case("sha256-prefix-hex", digest_row("sha256", "prefix", "hex", salt_encoding="base64")),
    Case("sha256-suffix-b64", digest_row("sha256", "suffix", "base64")),
    Case("sha512-prefix-b64", digest_row("sha512", "prefix", "base64")),
    Case("sha512-suffix-hex", digest_row("sha512", "suffix", "hex", salt_encoding="hex")),
    Case("sha256-unsalted-hex", digest_row("sha256", None, "hex")),
    Case(
        "md4-suffix-hex",
        digest_row("md4", "suffix", "hex"),
        skip=None if MD4 is not None else "no MD4 implementation (hashlib/OpenSSL 3, passlib)",
    ),
    # password encodings other than utf8
    Case(
        "sha256-latin1",
        digest_row("sha256", "suffix", "hex", password_encoding="latin1"),
        extra_chars="Grüße-Café-ÿ",
    ),
    Case(
        "sha1-utf16le",
        digest_row("sha1", "prefix", "base64", password_encoding="utf16le"),
        extra_chars="Pässwörd-€",
    ),
    Case(
        "firebase-scrypt",
        firebase_scrypt,
        skip=None if HAVE_CRYPTOGRAPHY else "the cryptography package is not installed",
    ),
]

ACTIVE_CASES = [c for c in CASES if c.skip is None]


# Rows that must be refused, each with where in the file it goes, the path the
# error must name (exact, or a prefix ending in "."/"*") and the error code.
@dataclass(frozen=True)
class BadRow:
    id: str
    position: int  # index in the users file
    build: Callable[[str], Row]  # email -> row
    path: str
    code: str


def _pbkdf2_wrong_length(email: str) -> Row:
    # 32 bytes of sha256 output, but the string claims l=64.
    return {"email": email,
            "custom_password_hash": {"algorithm": "pbkdf2",
                                     "hash": {"value": pbkdf2_phc("sha256", "whatever-1", 10_000, 32,
                                                                  claimed_len=64)}}}


BAD_ROWS: List[BadRow] = [
    BadRow("unknown-algorithm", 0,
           lambda e: {"email": e, "custom_password_hash": {
               "algorithm": "crc32", "hash": {"value": hashlib.sha256(b"x").hexdigest(), "encoding": "hex"}}},
           "custom_password_hash", "INVALID_FORMAT"),
    BadRow("malformed-bcrypt", 7,
           # a real bcrypt hash, cut short
           lambda e: {"email": e, "password_hash": bcrypt_hash("whatever-2", 4, b"2b")[:40]},
           "password_hash", "INVALID_FORMAT"),
    BadRow("pbkdf2-wrong-length", 15, _pbkdf2_wrong_length, "custom_password_hash", "INVALID_FORMAT"),
    BadRow("extra-property", -1,  # last row
           lambda e: {"email": e, "password_hash": bcrypt_hash("whatever-3", 4, b"2b"),
                      "favourite_colour": "teal"},
           "favourite_colour", "OBJECT_ADDITIONAL_PROPERTIES"),
]


# --------------------------------------------------------------------------
# fixtures
# --------------------------------------------------------------------------


def get_token(server) -> Dict[str, Any]:
    auth = GetToken(server.host, server.client_id, client_secret=server.client_secret, protocol="http")
    return auth.client_credentials(audience=server.audience)


@pytest.fixture(scope="module")
def mgmt(gatehouse) -> Auth0:
    return Auth0(base_url=gatehouse.management_url, token=get_token(gatehouse)["access_token"])


@pytest.fixture(scope="module")
def login_client(gatehouse, mgmt):
    """An application allowed the password-realm grant, created via the Management API."""
    client = mgmt.clients.create(
        name=f"import-hashes-{RUN}",
        app_type="regular_web",
        grant_types=[PASSWORD_REALM_GRANT],
    )
    assert client.client_id and client.client_secret
    yield client
    try:
        mgmt.clients.delete(client.client_id)
    except ApiError:
        pass


def login(server, client, username: str, password: str) -> Dict[str, Any]:
    auth = GetToken(server.host, client.client_id, client_secret=client.client_secret,
                    protocol="http", timeout=30)
    return auth.login(username=username, password=password, realm=DB_CONNECTION)


def stored_hash(server, email: str) -> Optional[str]:
    db = server.workdir / "gh.db"
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
    try:
        rows = con.execute("SELECT password_hash FROM users WHERE email = ?", (email,)).fetchall()
    finally:
        con.close()
    assert len(rows) == 1, f"{email}: {len(rows)} rows in users"
    return rows[0][0]


@dataclass
class ImportRun:
    created: Any  # the SDK's CreateImportUsersResponseContent
    created_json: Dict[str, Any]
    connection_id: str
    external_id: str
    job: Any  # GetJobResponseContent once finished
    errors: Any  # jobs.errors.get(): list of GetJobErrorResponseContent
    errors_json: Any
    passwords: Dict[str, str]  # case id -> password
    originals: Dict[str, Row]  # case id -> the row as uploaded
    bad_index: Dict[str, int]  # bad row id -> index in the file
    rows: List[Row]


@pytest.fixture(scope="module")
def imported(gatehouse, mgmt) -> ImportRun:
    # The database connection's id, through the SDK's default call (checkpoint paging,
    # take=50).
    page = mgmt.connections.list(name=DB_CONNECTION)
    conns = [c for c in page.items if c.name == DB_CONNECTION]
    assert len(conns) == 1, page.items
    connection_id = conns[0].id

    passwords: Dict[str, str] = {}
    originals: Dict[str, Row] = {}
    rows: List[Row] = []
    for case in ACTIVE_CASES:
        pw = case.password()
        row = {"email": case.email(), "user_id": case.user_id(), "email_verified": True,
               "given_name": "Imported", "user_metadata": {"case": case.id}}
        row.update(case.build(pw))
        passwords[case.id] = pw
        originals[case.id] = row
        rows.append(row)

    bad_index: Dict[str, int] = {}
    for bad in sorted(BAD_ROWS, key=lambda b: b.position if b.position >= 0 else 10**9):
        row = bad.build(f"imp-bad-{bad.id}-{RUN}@import.example.com")
        pos = len(rows) if bad.position < 0 else bad.position
        rows.insert(pos, row)
    # positions shift as rows are inserted: find the final indexes by email
    for bad in BAD_ROWS:
        email = f"imp-bad-{bad.id}-{RUN}@import.example.com"
        bad_index[bad.id] = next(i for i, r in enumerate(rows) if r["email"] == email)

    external_id = f"hashes-{RUN}"
    payload = json.dumps(rows, ensure_ascii=False).encode("utf-8")
    raw = mgmt.jobs.users_imports.with_raw_response.create(
        users=("users.json", io.BytesIO(payload), "application/json"),
        connection_id=connection_id,
        upsert=False,
        external_id=external_id,
        send_completion_email=False,
    )
    assert raw.status_code == 202, raw._response.text
    created = raw.data

    deadline = time.monotonic() + JOB_TIMEOUT_S
    while True:
        job = mgmt.jobs.get(created.id)
        if job.status not in ("pending", "processing"):
            break
        assert time.monotonic() < deadline, f"job still {job.status} after {JOB_TIMEOUT_S}s"
        time.sleep(0.25)

    errors_raw = mgmt.jobs.errors.with_raw_response.get(created.id)
    run = ImportRun(
        created=created,
        created_json=raw._response.json(),
        connection_id=connection_id,
        external_id=external_id,
        job=job,
        errors=errors_raw.data,
        errors_json=errors_raw._response.json() if errors_raw._response.status_code == 200 else None,
        passwords=passwords,
        originals=originals,
        bad_index=bad_index,
        rows=rows,
    )
    yield run

    for case in ACTIVE_CASES:
        try:
            mgmt.users.delete(f"auth0|{case.user_id()}")
        except ApiError:
            pass


# --------------------------------------------------------------------------
# the job
# --------------------------------------------------------------------------


def test_import_job_is_created_pending(imported):
    c = imported.created
    assert c.id.startswith("job_")
    assert c.type == "users_import"
    # A worker may already have taken the job by the time the answer is written.
    assert c.status in ("pending", "processing")
    assert c.connection_id == imported.connection_id
    assert c.external_id == imported.external_id
    body = imported.created_json
    assert body["connection"] == DB_CONNECTION
    assert body["upsert"] is False
    assert body["send_completion_email"] is False


def test_import_job_completes_with_exact_summary(imported):
    job = imported.job
    assert job.status == "completed", job
    assert job.type == "users_import"
    assert job.id == imported.created.id
    assert job.connection_id == imported.connection_id
    good, bad = len(ACTIVE_CASES), len(BAD_ROWS)
    assert len(imported.rows) == good + bad
    s = job.summary
    assert (s.inserted, s.updated, s.failed, s.total) == (good, 0, bad, good + bad), s


def test_import_errors_name_each_bad_row(imported):
    assert imported.errors is not None, "GET /jobs/{id}/errors answered 204 (no errors)"
    report = imported.errors_json
    assert isinstance(report, list)
    # The SDK parses it as a list of GetJobErrorResponseContent.
    assert isinstance(imported.errors, list) and len(imported.errors) == len(report)
    by_index = {e["index"]: e for e in report}
    assert sorted(by_index) == sorted(imported.bad_index.values()), report

    for bad in BAD_ROWS:
        entry = by_index[imported.bad_index[bad.id]]
        assert entry["user"]["email"] == f"imp-bad-{bad.id}-{RUN}@import.example.com"
        # Secrets never come back.
        for secret in ("password_hash", "custom_password_hash"):
            if secret in imported.rows[imported.bad_index[bad.id]]:
                assert entry["user"][secret] == "*****", entry
        assert entry["errors"], entry
        err = entry["errors"][0]
        assert err["code"] == bad.code, (bad.id, entry)
        assert err["path"] == bad.path or err["path"].startswith(bad.path + "."), (bad.id, entry)
        assert err["message"], entry

    # The SDK's typed view agrees with the raw body.
    for typed, raw in zip(imported.errors, report):
        assert typed.errors[0].code == raw["errors"][0]["code"]
        assert typed.errors[0].path == raw["errors"][0]["path"]
        assert typed.user["email"] == raw["user"]["email"]


def test_imported_users_are_visible(imported, mgmt):
    for case in ACTIVE_CASES:
        user = mgmt.users.get(f"auth0|{case.user_id()}")
        assert user.email == case.email()
        assert user.email_verified is True
        assert user.given_name == "Imported"
        assert user.user_metadata == {"case": case.id}
        assert user.identities[0].connection == DB_CONNECTION
    for bad in BAD_ROWS:
        assert mgmt.users.list_users_by_email(email=f"imp-bad-{bad.id}-{RUN}@import.example.com") == []


# --------------------------------------------------------------------------
# logins with each imported hash
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "case",
    [pytest.param(c, id=c.id, marks=[pytest.mark.skip(reason=c.skip)] if c.skip else []) for c in CASES],
)
def test_login_with_imported_hash_then_argon2id(gatehouse, login_client, imported, case):
    email = case.email()
    password = imported.passwords[case.id]
    original = imported.originals[case.id]

    before = stored_hash(gatehouse, email)
    if case.stored == "as-is":
        spec = original.get("custom_password_hash")
        assert before == (spec["hash"]["value"] if spec else original["password_hash"])
    else:
        assert before.startswith(IMPORTED_PREFIX), before

    # Wrong password: refused, and the imported hash is left alone.
    with pytest.raises(Auth0Error) as excinfo:
        login(gatehouse, login_client, email, password + "x")
    assert excinfo.value.status_code == 403
    assert excinfo.value.error_code == "invalid_grant"
    assert excinfo.value.message == "Wrong email or password."
    assert stored_hash(gatehouse, email) == before

    # Right password, checked against the imported hash.
    tokens = login(gatehouse, login_client, email, password)
    assert tokens["token_type"] == "Bearer" and tokens["access_token"]

    # ...which has now been replaced by Gatehouse's argon2id.
    after = stored_hash(gatehouse, email)
    assert after.startswith(ARGON2ID_PREFIX), after
    assert after != before
    assert argon2.PasswordHasher().verify(after, password)  # a real argon2id of that password

    # Same password again, now against argon2id; a wrong one is still refused.
    again = login(gatehouse, login_client, email, password)
    assert again["access_token"]
    assert stored_hash(gatehouse, email) == after
    with pytest.raises(Auth0Error) as excinfo:
        login(gatehouse, login_client, email, password[:-1])
    assert excinfo.value.status_code == 403
    assert excinfo.value.error_code == "invalid_grant"
