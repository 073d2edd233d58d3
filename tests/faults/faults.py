#!/usr/bin/env python3
"""Fault-injection checks for Gatehouse: the real binary, killed with SIGKILL, and a
throwaway PostgreSQL cluster stopped under it.

Python 3.11 standard library only. Started by tests/faults/run.sh, which passes:
  GATEHOUSE_BIN    the server binary (required)
  FAULTS_WORKDIR   a scratch directory for databases, logs and the PostgreSQL cluster
  FAULTS_PG_PORT   port of the throwaway cluster (default 5433)
  FAULTS_ONLY      comma-separated check numbers to run (default: all)

Every PostgreSQL fault is injected on a cluster this script creates (initdb as the
`postgres` OS user, trust auth, 127.0.0.1 only) in FAULTS_WORKDIR; it never touches
any other cluster. See README.md beside this file.
"""

from __future__ import annotations

import http.client
import json
import os
import random
import shutil
import signal
import socket
import socketserver
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

# ---------------------------------------------------------------------------------------
# Thresholds and sizes. Every pass/fail decision below compares against one of these.
# ---------------------------------------------------------------------------------------

# Check 1: two nodes on one PostgreSQL.
PUBLIC_URL = "http://gatehouse.test"  # the same GATEHOUSE_PUBLIC_URL on both nodes
CALLBACK = "https://app.example.com/callback"

# Check 2: kill -9 of the node running an import.
IMPORT_USERS = 40_000
IMPORT_JOB_LEASE_MS = 3_000
IMPORT_JOB_POLL_MS = 200
IMPORT_KILL_AT_FRACTION = 0.25  # kill the runner once this share of rows is processed
IMPORT_TIMEOUT_S = 100.0  # the whole job (upload to completed) must finish within this
IMPORT_TAKEOVER_MAX_S = 10.0  # the survivor must be making progress this long after the kill

# Check 3: PostgreSQL outage under a write load.
OUTAGE_WRITERS = 4
OUTAGE_BEFORE_S = 5.0  # writes before the cluster is stopped
OUTAGE_S = 30.0  # how long the cluster stays down
OUTAGE_AFTER_S = 15.0  # writes after the cluster is back
ERROR_ANSWER_MAX_S = 5.0  # each error answer (503) during the outage within this
RECOVERY_GRACE_S = 5.0  # no error for a write started this long after the database is back
READYZ_ANSWER_MAX_S = 5.0  # each /readyz answer during the outage within this
READYZ_RECOVERY_MAX_S = 5.0  # /readyz answers 200 within this after the database is back
READYZ_PROBE_EVERY_S = 0.5
OUTAGE_CLIENT_TIMEOUT_S = 60.0  # the client gives up (and records a timeout) after this

# Check 4: kill -9 with verification emails queued.
EMAIL_USERS = 30
EMAIL_SLOW_SMTP_S = 0.3  # the sink answers each DATA this late before the crash
EMAIL_KILL_WAIT_MAX_S = 3.0  # kill at the first SMTP delivery, or this long after the last 201
EMAIL_AFTER_RESTART_MAX_S = 5.0  # every address has its email within this after the restart
EMAIL_WAIT_LIMIT_S = 90.0  # how long we keep waiting to measure a late delivery

# Check 5: kill -9 of an SQLite node during writes.
SQLITE_WRITERS = 8
SQLITE_KILL_AFTER_S = 5.0

# General.
NODE_START_TIMEOUT_S = 60.0
CLIENT_ID = "FaultsMgmtClient0000000000000001"
CLIENT_SECRET = "faults-secret-faults-secret-faults-secret-0123456789"
DB_CONNECTION = "Username-Password-Authentication"
PASSWORD = "Fault-Passw0rd!x"

# ---------------------------------------------------------------------------------------

T0 = time.monotonic()
WORKDIR = Path(os.environ.get("FAULTS_WORKDIR") or tempfile.mkdtemp(prefix="gh-faults-"))
WORKDIR.mkdir(parents=True, exist_ok=True)
PG_PORT = int(os.environ.get("FAULTS_PG_PORT", "5433"))
BIN = os.environ.get("GATEHOUSE_BIN", "")

_procs: list[subprocess.Popen] = []
_procs_lock = threading.Lock()


def log(msg: str) -> None:
    print(f"[{time.monotonic() - T0:7.1f}s] {msg}", flush=True)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_in_use(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


# --------------------------------------------------------------------------- HTTP client


@dataclass
class Resp:
    status: int  # 0 when no answer (connection refused/reset, timeout)
    headers: dict
    body: object
    text: str
    elapsed: float
    error: str = ""
    set_cookies: list = field(default_factory=list)


def request(
    base: str,
    method: str,
    path: str,
    *,
    token: Optional[str] = None,
    body: object = None,
    raw: Optional[bytes] = None,
    content_type: Optional[str] = None,
    headers: Optional[dict] = None,
    timeout: float = 30.0,
) -> Resp:
    u = urllib.parse.urlsplit(base)
    h = dict(headers or {})
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        h["content-type"] = "application/json"
    elif raw is not None:
        data = raw
        h["content-type"] = content_type or "application/octet-stream"
    if token:
        h["authorization"] = f"Bearer {token}"
    h.setdefault("connection", "close")
    start = time.monotonic()
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=timeout)
    try:
        conn.request(method, path, body=data, headers=h)
        r = conn.getresponse()
        payload = r.read()
        elapsed = time.monotonic() - start
        text = payload.decode("utf-8", "replace")
        try:
            parsed = json.loads(text) if text else None
        except ValueError:
            parsed = text
        return Resp(
            r.status,
            {k.lower(): v for k, v in r.getheaders()},
            parsed,
            text,
            elapsed,
            set_cookies=r.headers.get_all("set-cookie") or [],
        )
    except (OSError, http.client.HTTPException) as e:
        return Resp(0, {}, None, "", time.monotonic() - start, error=f"{type(e).__name__}: {e}")
    finally:
        conn.close()


def get_token(base: str, audience_base: str) -> str:
    r = request(
        base,
        "POST",
        "/oauth/token",
        body={
            "grant_type": "client_credentials",
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "audience": f"{audience_base}/api/v2/",
        },
    )
    if r.status != 200:
        raise RuntimeError(f"token from {base}: {r.status} {r.text[:300]} {r.error}")
    return r.body["access_token"]


def list_all_users(base: str, token: str, take: int = 100) -> list[dict]:
    """Every user, through checkpoint paging (take/from in user_id order)."""
    out: list[dict] = []
    last = None
    while True:
        q = {"take": str(take), "fields": "user_id,email", "include_fields": "true"}
        if last:
            q["from"] = last
        r = request(base, "GET", "/api/v2/users?" + urllib.parse.urlencode(q), token=token, timeout=60)
        if r.status != 200:
            raise RuntimeError(f"paging users: {r.status} {r.text[:300]} {r.error}")
        page = r.body["users"] if isinstance(r.body, dict) else r.body
        out.extend(page)
        if len(page) < take:
            return out
        last = page[-1]["user_id"]


def users_total(base: str, token: str) -> int:
    r = request(base, "GET", "/api/v2/users?per_page=1&include_totals=true", token=token, timeout=60)
    if r.status != 200:
        raise RuntimeError(f"users total: {r.status} {r.text[:300]}")
    return int(r.body["total"])


def connection_id(base: str, token: str, name: str = DB_CONNECTION) -> str:
    r = request(base, "GET", "/api/v2/connections?name=" + urllib.parse.quote(name), token=token)
    if r.status != 200 or not r.body:
        raise RuntimeError(f"connection {name}: {r.status} {r.text[:300]}")
    return r.body[0]["id"]


# ---------------------------------------------------------------------------------- nodes


class Node:
    """One gatehouse process, logging JSON lines to a file."""

    def __init__(self, name: str, database_url: str, secret_key: str, extra_env: Optional[dict] = None,
                 port: Optional[int] = None):
        self.name = name
        self.database_url = database_url
        self.secret_key = secret_key
        self.extra_env = dict(extra_env or {})
        self.port = port or free_port()
        self.proc: Optional[subprocess.Popen] = None
        self.log_path = WORKDIR / f"node-{name}.log"
        self.started_at = 0.0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, wait: bool = True) -> "Node":
        env = {k: v for k, v in os.environ.items() if not k.startswith("GATEHOUSE_")}
        env.update(
            {
                "GATEHOUSE_LISTEN": f"127.0.0.1:{self.port}",
                "GATEHOUSE_DATABASE_URL": self.database_url,
                "GATEHOUSE_SECRET_KEY": self.secret_key,
                "GATEHOUSE_BOOTSTRAP_CLIENT_ID": CLIENT_ID,
                "GATEHOUSE_BOOTSTRAP_CLIENT_SECRET": CLIENT_SECRET,
                "GATEHOUSE_LOG_FORMAT": "json",
                "GATEHOUSE_LOG": "info",
                "RUST_BACKTRACE": "1",
            }
        )
        env.update(self.extra_env)
        logf = open(self.log_path, "ab")
        logf.write(f"\n===== start {time.strftime('%H:%M:%S')} =====\n".encode())
        logf.flush()
        self.started_at = time.monotonic()
        self.proc = subprocess.Popen(
            [BIN, "serve"], cwd=str(WORKDIR), env=env, stdin=subprocess.DEVNULL,
            stdout=logf, stderr=subprocess.STDOUT, start_new_session=True,
        )
        logf.close()
        with _procs_lock:
            _procs.append(self.proc)
        with open(WORKDIR / "pids", "a") as f:
            f.write(f"{self.proc.pid}\n")
        if wait:
            self.wait_healthy()
        return self

    def wait_healthy(self, timeout: float = NODE_START_TIMEOUT_S) -> float:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"node {self.name} exited with {self.proc.returncode}; log: {self.log_path}\n"
                                   + self.log_tail())
            r = request(self.url, "GET", "/healthz", timeout=2)
            if r.status == 200:
                return time.monotonic() - self.started_at
            time.sleep(0.05)
        raise RuntimeError(f"node {self.name} not healthy after {timeout}s; log: {self.log_path}\n" + self.log_tail())

    def kill9(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)

    def stop(self) -> None:
        if _interrupted:
            self.kill9()
            return
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def log_tail(self, n: int = 25) -> str:
        return "\n".join(self.log_text().splitlines()[-n:])


def kill_all_nodes() -> None:
    with _procs_lock:
        for p in _procs:
            if p.poll() is None:
                try:
                    os.kill(p.pid, signal.SIGKILL)
                    p.wait(timeout=10)
                except (OSError, subprocess.TimeoutExpired):
                    pass


def new_secret_key() -> str:
    return os.urandom(32).hex()


# ----------------------------------------------------------------------------- PostgreSQL


def pg_bin(tool: str) -> str:
    import glob

    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{tool}"))
    if not found:
        raise RuntimeError(f"{tool} not found under /usr/lib/postgresql/*/bin")
    return found[-1]


class PgCluster:
    """A throwaway cluster in WORKDIR/pg, owned by the postgres OS user, on 127.0.0.1:PG_PORT."""

    def __init__(self, port: int):
        self.port = port
        self.dir = WORKDIR / "pg"
        self.logfile = WORKDIR / "pg.log"
        self.ready = False

    def _as_postgres(self, args: list[str], check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess:
        cmd = ["runuser", "-u", "postgres", "--"] + args
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        if check and p.returncode != 0:
            raise RuntimeError(f"{' '.join(args)} failed ({p.returncode}): {p.stdout}\n{p.stderr}")
        return p

    def init(self) -> None:
        if port_in_use(self.port):
            raise RuntimeError(f"port {self.port} is already in use; set FAULTS_PG_PORT to a free port")
        os.chmod(WORKDIR, 0o755)
        self.dir.mkdir(mode=0o700)
        shutil.chown(self.dir, "postgres", "postgres")
        self.logfile.touch()
        shutil.chown(self.logfile, "postgres", "postgres")
        self._as_postgres([pg_bin("initdb"), "-D", str(self.dir), "-A", "trust", "-U", "postgres",
                           "--no-sync", "-E", "UTF8"])
        with open(self.dir / "postgresql.conf", "a") as f:
            f.write(f"\nlisten_addresses = '127.0.0.1'\nport = {self.port}\n"
                    "unix_socket_directories = '/tmp'\nmax_connections = 200\nfsync = on\n")
        self.start()
        self.ready = True

    def start(self) -> None:
        self._as_postgres([pg_bin("pg_ctl"), "-D", str(self.dir), "-o", f"-p {self.port} -k /tmp",
                           "-l", str(self.logfile), "-w", "-t", "60", "start"])

    def stop_immediate(self) -> None:
        self._as_postgres([pg_bin("pg_ctl"), "-D", str(self.dir), "-m", "immediate", "-w", "stop"])

    def running(self) -> bool:
        p = self._as_postgres([pg_bin("pg_ctl"), "-D", str(self.dir), "status"], check=False)
        return p.returncode == 0

    def create_db(self, name: str) -> str:
        p = subprocess.run([pg_bin("createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", name],
                           capture_output=True, text=True, timeout=60)
        if p.returncode != 0:
            raise RuntimeError(f"createdb {name}: {p.stderr}")
        return f"postgres://postgres@127.0.0.1:{self.port}/{name}"

    def destroy(self) -> None:
        if self.dir.exists():
            if (self.dir / "postmaster.pid").exists():
                self._as_postgres([pg_bin("pg_ctl"), "-D", str(self.dir), "-m", "immediate", "-w", "stop"],
                                  check=False)
            shutil.rmtree(self.dir, ignore_errors=True)


_pg: Optional[PgCluster] = None
_interrupted = False


def pg() -> PgCluster:
    global _pg
    if _pg is None:
        _pg = PgCluster(PG_PORT)
        log(f"creating a throwaway PostgreSQL cluster in {_pg.dir} on 127.0.0.1:{PG_PORT}")
        _pg.init()
    elif not _pg.running():
        _pg.start()
    return _pg


# ------------------------------------------------------------------------------ results


class Check:
    """Collects the assertions of one check; one PASS/FAIL line at the end."""

    def __init__(self, num: int, title: str):
        self.num, self.title = num, title
        self.items: list[tuple[bool, str]] = []
        self.error: Optional[str] = None
        self.summary = ""  # the headline numbers, shown on the PASS line
        self.started = time.monotonic()
        self.took: Optional[float] = None

    def expect(self, ok: bool, what: str) -> bool:
        self.items.append((bool(ok), what))
        print(f"    {'ok  ' if ok else 'FAIL'}  {what}", flush=True)
        return ok

    def info(self, what: str) -> None:
        print(f"    info  {what}", flush=True)

    @property
    def passed(self) -> bool:
        return self.error is None and bool(self.items) and all(ok for ok, _ in self.items)

    def line(self) -> str:
        if self.took is None:
            self.took = time.monotonic() - self.started
        took = self.took
        if self.error:
            detail = f"error: {self.error}"
        else:
            failed = [w for ok, w in self.items if not ok]
            detail = "; ".join(failed) if failed else (self.summary or "; ".join(w for _, w in self.items))
        return f"{'PASS' if self.passed else 'FAIL'} check {self.num} ({self.title}, {took:.0f}s): {detail}"


def fmt_lat(xs: list[float]) -> str:
    if not xs:
        return "n=0"
    xs = sorted(xs)
    p = lambda q: xs[min(len(xs) - 1, int(q * (len(xs) - 1) + 0.5))]  # noqa: E731
    return f"n={len(xs)} min={xs[0]:.2f}s median={statistics.median(xs):.2f}s p95={p(0.95):.2f}s max={xs[-1]:.2f}s"


# ------------------------------------------------------------------------ write load


@dataclass
class Write:
    start: float
    end: float
    status: int
    email: str
    user_id: Optional[str]
    error: str


class Writers:
    """Threads POSTing users continuously to one node; every answer is recorded."""

    def __init__(self, base: str, token: str, threads: int, prefix: str, timeout: float = 30.0):
        self.base, self.token, self.n, self.prefix, self.timeout = base, token, threads, prefix, timeout
        self.stop_flag = threading.Event()
        self.results: list[Write] = []
        self.lock = threading.Lock()
        self.threads: list[threading.Thread] = []

    def _run(self, i: int) -> None:
        k = 0
        while not self.stop_flag.is_set():
            k += 1
            email = f"{self.prefix}-{i}-{k}-{random.randrange(1 << 30):x}@faults.test"
            start = time.monotonic()
            r = request(self.base, "POST", "/api/v2/users", token=self.token, timeout=self.timeout,
                        body={"connection": DB_CONNECTION, "email": email, "password": PASSWORD,
                              "verify_email": False})
            uid = r.body.get("user_id") if r.status == 201 and isinstance(r.body, dict) else None
            w = Write(start, time.monotonic(), r.status, email, uid,
                      r.error or (r.text[:200] if r.status != 201 else ""))
            with self.lock:
                self.results.append(w)
            if r.status == 0:
                time.sleep(0.05)  # connection refused: do not spin

    def start(self) -> "Writers":
        for i in range(self.n):
            t = threading.Thread(target=self._run, args=(i,), daemon=True)
            t.start()
            self.threads.append(t)
        return self

    def stop(self, join_timeout: float = 90.0) -> list[Write]:
        self.stop_flag.set()
        for t in self.threads:
            t.join(join_timeout)
        with self.lock:
            return list(self.results)


# ============================================================================== checks


def check1_two_nodes() -> Check:
    c = Check(1, "two nodes on one PostgreSQL")
    cluster = pg()
    db = cluster.create_db("gh_two_nodes")
    key = new_secret_key()
    env = {"GATEHOUSE_PUBLIC_URL": PUBLIC_URL}
    a = Node("c1-a", db, key, env).start()
    b = Node("c1-b", db, key, env).start()
    try:
        c.info(f"node A {a.url}, node B {b.url}, both GATEHOUSE_PUBLIC_URL={PUBLIC_URL}")
        token = get_token(a.url, PUBLIC_URL)
        r = request(b.url, "GET", "/api/v2/users?per_page=1", token=token)
        c.expect(r.status == 200, f"token from A accepted by B: GET /api/v2/users on B -> {r.status}")

        email = f"twonodes-{random.randrange(1 << 30):x}@faults.test"
        r = request(a.url, "POST", "/api/v2/users", token=token,
                    body={"connection": DB_CONNECTION, "email": email, "password": PASSWORD,
                          "email_verified": True, "verify_email": False})
        if not c.expect(r.status == 201, f"user created on A -> {r.status}"):
            c.info(r.text[:300])
            return c
        uid = r.body["user_id"]
        created = time.monotonic()
        r1 = request(b.url, "GET", "/api/v2/users/" + urllib.parse.quote(uid, safe=""), token=token)
        r2 = request(b.url, "GET", "/api/v2/users-by-email?email=" + urllib.parse.quote(email), token=token)
        seen = time.monotonic() - created
        c.expect(r1.status == 200 and isinstance(r1.body, dict) and r1.body.get("email") == email,
                 f"user found on B by id at once -> {r1.status} ({seen * 1000:.0f} ms after the 201)")
        ids = [u.get("user_id") for u in r2.body] if r2.status == 200 and isinstance(r2.body, list) else []
        c.expect(uid in ids, f"user found on B by email at once -> {r2.status}, {len(ids)} match(es)")

        # An application for the browser flow (confidential, code flow, our callback).
        r = request(a.url, "POST", "/api/v2/clients", token=token,
                    body={"name": "Faults SSO", "callbacks": [CALLBACK],
                          "grant_types": ["authorization_code", "refresh_token"]})
        if not c.expect(r.status == 201, f"application created on A -> {r.status}"):
            c.info(r.text[:300])
            return c
        app_id = r.body["client_id"]

        def authorize_path(state: str, extra: str = "") -> str:
            return ("/authorize?" + urllib.parse.urlencode({
                "response_type": "code", "client_id": app_id, "redirect_uri": CALLBACK,
                "scope": "openid profile email", "state": state}) + extra)

        browser = Browser(PUBLIC_URL)
        page = browser.visit(a.url, authorize_path("on-a"))
        form_ok = page.status == 200 and page.input("_csrf") and page.input("state")
        if not c.expect(bool(form_ok), f"A shows the hosted login form with a CSRF token -> {page.status}"):
            c.info(page.text[:300])
            return c
        done = browser.submit_login(a.url, page, email, PASSWORD)
        code_a = done.callback_param("code")
        c.expect(bool(code_a) and str(done.location).startswith(CALLBACK),
                 f"login on A ends at the callback with a code -> {done.status} {str(done.location)[:48]}...")
        c.expect("gh_session" in browser.cookies, "A set the gh_session cookie")

        silent = browser.get(b.url, authorize_path("on-b", "&prompt=none"))
        code_b = silent.callback_param("code")
        err = silent.callback_param("error")
        c.expect(bool(code_b) and not err,
                 f"/authorize?prompt=none on B with A's session -> {silent.status}, "
                 f"{'code' if code_b else 'error=' + str(err)}")
        c.summary = (f"A's token accepted by B; user from A read on B by id and by email "
                     f"{seen * 1000:.0f} ms after its 201; prompt=none on B with A's session -> "
                     f"{'code' if code_b else 'error=' + str(err)}")
    finally:
        a.stop()
        b.stop()
    return c


class Browser:
    """Keeps cookies; maps the public URL onto whichever node is addressed."""

    def __init__(self, public: str):
        self.public = public.rstrip("/")
        self.cookies: dict[str, str] = {}

    def _send(self, node: str, method: str, path: str, form: Optional[dict] = None) -> "Page":
        headers = {}
        if self.cookies:
            headers["cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        raw = urllib.parse.urlencode(form).encode() if form is not None else None
        r = request(node, method, path, raw=raw, content_type="application/x-www-form-urlencoded",
                    headers=headers)
        for sc in r.set_cookies:
            pair, _, attrs = sc.partition(";")
            k, _, v = pair.partition("=")
            if "max-age=0" in attrs.lower().replace(" ", ""):
                self.cookies.pop(k.strip(), None)
            else:
                self.cookies[k.strip()] = v.strip()
        loc = r.headers.get("location")
        if loc and loc.startswith("/"):
            loc = self.public + loc
        return Page(r.status, loc, r.text)

    def get(self, node: str, path: str) -> "Page":
        return self._send(node, "GET", path)

    def follow(self, node: str, page: "Page") -> "Page":
        for _ in range(10):
            if 300 <= page.status < 400 and page.location and page.location.startswith(self.public):
                page = self.get(node, page.location[len(self.public):])
            else:
                return page
        raise RuntimeError("redirect loop")

    def visit(self, node: str, path: str) -> "Page":
        return self.follow(node, self.get(node, path))

    def submit_login(self, node: str, page: "Page", username: str, password: str) -> "Page":
        p = self._send(node, "POST", "/u/login", form={
            "state": page.input("state"), "_csrf": page.input("_csrf"),
            "username": username, "password": password})
        return self.follow(node, p)


@dataclass
class Page:
    status: int
    location: Optional[str]
    text: str

    def input(self, name: str) -> Optional[str]:
        marker = f'name="{name}" value="'
        i = self.text.find(marker)
        if i < 0:
            return None
        i += len(marker)
        j = self.text.find('"', i)
        import html

        return html.unescape(self.text[i:j])

    def callback_param(self, name: str) -> Optional[str]:
        if not self.location:
            return None
        u = urllib.parse.urlsplit(self.location)
        for part in (u.query, u.fragment):
            v = urllib.parse.parse_qs(part).get(name)
            if v:
                return v[0]
        return None


def multipart(fields: dict, file_field: str, filename: str, file_bytes: bytes) -> tuple[bytes, str]:
    boundary = "----faults" + os.urandom(8).hex()
    out = bytearray()
    for k, v in fields.items():
        out += (f"--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n").encode()
    out += (f"--{boundary}\r\nContent-Disposition: form-data; name=\"{file_field}\"; filename=\"{filename}\"\r\n"
            "Content-Type: application/json\r\n\r\n").encode()
    out += file_bytes + b"\r\n" + f"--{boundary}--\r\n".encode()
    return bytes(out), f"multipart/form-data; boundary={boundary}"


def job_started_on(node: Node, job_id: str) -> int:
    """How many times the node's log says it started (or resumed) this job."""
    n = 0
    for line in node.log_text().splitlines():
        if job_id in line and "job started" in line:
            n += 1
    return n


def check2_import_kill() -> Check:
    c = Check(2, "kill -9 of the node running an import")
    cluster = pg()
    db = cluster.create_db("gh_import_kill")
    key = new_secret_key()
    env = {"GATEHOUSE_PUBLIC_URL": PUBLIC_URL, "GATEHOUSE_JOB_LEASE_MS": str(IMPORT_JOB_LEASE_MS),
           "GATEHOUSE_JOB_POLL_MS": str(IMPORT_JOB_POLL_MS)}
    a = Node("c2-a", db, key, env).start()
    b = Node("c2-b", db, key, env).start()
    nodes = {"A": a, "B": b}
    try:
        token = get_token(a.url, PUBLIC_URL)
        conn_id = connection_id(a.url, token)
        emails = [f"imp{i:06d}@faults.test" for i in range(IMPORT_USERS)]
        data = "\n".join(json.dumps({"email": e, "email_verified": True, "name": f"Imported {i}"})
                         for i, e in enumerate(emails)).encode()
        body, ctype = multipart({"connection_id": conn_id, "upsert": "false", "send_completion_email": "false"},
                                "users", "users.ndjson", data)
        t_upload = time.monotonic()
        r = request(a.url, "POST", "/api/v2/jobs/users-imports", token=token, raw=body, content_type=ctype,
                    timeout=120)
        if not c.expect(r.status in (200, 201, 202), f"import of {IMPORT_USERS} users ({len(data) / 1e6:.1f} MB) "
                                                      f"accepted by A -> {r.status}"):
            c.info(r.text[:300])
            return c
        job_id = r.body["id"]
        job_path = f"/api/v2/jobs/{job_id}"

        # Which node runs it? Its log says "job started" with the job id.
        runner_name = None
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not runner_name:
            for name, node in nodes.items():
                if job_started_on(node, job_id):
                    runner_name = name
            time.sleep(0.05)
        if not c.expect(runner_name is not None, "a node started the job"):
            return c
        runner = nodes[runner_name]
        survivor_name = "B" if runner_name == "A" else "A"
        survivor = nodes[survivor_name]

        kill_at = int(IMPORT_USERS * IMPORT_KILL_AT_FRACTION)
        processed_before = 0
        while time.monotonic() - t_upload < IMPORT_TIMEOUT_S:
            r = request(survivor.url, "GET", job_path, token=token)
            if r.status == 200:
                processed_before = int(r.body.get("processed") or 0)
                if processed_before >= kill_at or r.body.get("status") in ("completed", "failed"):
                    break
            time.sleep(0.05)
        runner.kill9()
        t_kill = time.monotonic()
        r = request(survivor.url, "GET", job_path, token=token)
        status_at_kill = r.body.get("status") if r.status == 200 else "?"
        processed_at_kill = int(r.body.get("processed") or 0) if r.status == 200 else processed_before
        c.info(f"job {job_id} ran on node {runner_name}; killed -9 at processed={processed_at_kill}/"
               f"{IMPORT_USERS} ({t_kill - t_upload:.1f}s after upload), status then {status_at_kill}")
        c.expect(status_at_kill not in ("completed", "failed"), "the kill landed while the job was running")

        takeover = None
        job = None
        last_progress = time.monotonic()
        last_processed = processed_at_kill
        while time.monotonic() - t_upload < IMPORT_TIMEOUT_S + 20:
            r = request(survivor.url, "GET", job_path, token=token)
            if r.status == 200:
                job = r.body
                if takeover is None and job_started_on(survivor, job_id):
                    takeover = time.monotonic() - t_kill
                p = int(job.get("processed") or 0)
                if p != last_processed:
                    last_processed, last_progress = p, time.monotonic()
                if job.get("status") in ("completed", "failed"):
                    break
            time.sleep(0.1)
        t_done = time.monotonic()
        status = job.get("status") if job else None
        c.expect(takeover is not None and takeover <= IMPORT_TAKEOVER_MAX_S,
                 f"node {survivor_name} resumed the job "
                 + (f"{takeover:.1f}s after the kill" if takeover is not None else "never")
                 + f" (lease {IMPORT_JOB_LEASE_MS} ms, limit {IMPORT_TAKEOVER_MAX_S:.0f}s)")
        c.expect(status == "completed" and t_done - t_upload <= IMPORT_TIMEOUT_S,
                 f"job status {status} {t_done - t_upload:.1f}s after upload (limit {IMPORT_TIMEOUT_S:.0f}s)")
        summary = (job or {}).get("summary") or {}
        c.expect(summary.get("inserted") == IMPORT_USERS and summary.get("failed") == 0,
                 f"summary inserted={summary.get('inserted')} updated={summary.get('updated')} "
                 f"failed={summary.get('failed')} (want inserted={IMPORT_USERS}, failed=0)")
        if status != "completed":
            c.info(f"job: {json.dumps(job)[:400]}")
        # The API's total is exact up to 1,000 and capped beyond (x-total-capped); the exact
        # count is the checkpoint walk's below.
        total = users_total(survivor.url, token)
        want_total = min(IMPORT_USERS, 1000)
        c.expect(total == want_total, f"users total {total} (want {want_total}, the API's cap)")
        t_walk = time.monotonic()
        users = list_all_users(survivor.url, token)
        got = [u.get("email") for u in users]
        distinct = set(got)
        missing = len(set(emails) - distinct)
        c.expect(len(got) == IMPORT_USERS and len(distinct) == IMPORT_USERS and missing == 0,
                 f"checkpoint paging walked {len(got)} users, {len(distinct)} distinct emails, "
                 f"{len(got) - len(distinct)} duplicate(s), {missing} missing ({time.monotonic() - t_walk:.1f}s)")
        c.summary = (f"runner killed at {processed_at_kill}/{IMPORT_USERS}, node {survivor_name} resumed "
                     + (f"{takeover:.1f}s" if takeover is not None else "never") + " later, completed "
                     f"{t_done - t_upload:.1f}s after upload; inserted={summary.get('inserted')}, "
                     f"total={total}, paged {len(got)} users / {len(distinct)} distinct emails")
    finally:
        a.stop()
        b.stop()
    return c


def check3_pg_outage() -> Check:
    c = Check(3, f"PostgreSQL down {OUTAGE_S:.0f}s under a write load")
    cluster = pg()
    db = cluster.create_db("gh_outage")
    node = Node("c3", db, new_secret_key()).start()
    try:
        token = get_token(node.url, node.url)
        writers = Writers(node.url, token, OUTAGE_WRITERS, "outage", timeout=OUTAGE_CLIENT_TIMEOUT_S)
        probes: list[tuple[float, float, int, str]] = []
        probes_lock = threading.Lock()
        stop_probes = threading.Event()

        def probe() -> None:
            s = time.monotonic()
            r = request(node.url, "GET", "/readyz", timeout=OUTAGE_CLIENT_TIMEOUT_S)
            with probes_lock:
                probes.append((s, time.monotonic(), r.status, r.error))

        def prober() -> None:
            while not stop_probes.is_set():
                threading.Thread(target=probe, daemon=True).start()
                time.sleep(READYZ_PROBE_EVERY_S)

        pt = threading.Thread(target=prober, daemon=True)
        writers.start()
        pt.start()
        time.sleep(OUTAGE_BEFORE_S)
        cluster.stop_immediate()
        t_down = time.monotonic()
        log(f"check 3: cluster stopped (immediate); down for {OUTAGE_S:.0f}s")
        time.sleep(OUTAGE_S)
        t_start = time.monotonic()
        cluster.start()
        t_up = time.monotonic()  # pg_ctl -w returned: the cluster accepts connections
        log(f"check 3: cluster started again (pg_ctl start took {t_up - t_start:.1f}s; "
            f"{t_up - t_down:.1f}s after the stop)")
        time.sleep(OUTAGE_AFTER_S)
        stop_probes.set()
        pt.join()
        results = writers.stop(join_timeout=OUTAGE_CLIENT_TIMEOUT_S + 5)
        time.sleep(0.5)
        with probes_lock:
            probes = sorted(probes)

        ok = [w for w in results if w.status == 201]
        errs = [w for w in results if w.status != 201]
        c.info(f"{len(results)} writes: {len(ok)} answered 201, {len(errs)} not "
               f"(statuses {summarise_statuses(errs)}); cluster stopped at t=0, start issued at "
               f"t={t_start - t_down:.1f}s, up (pg_ctl -w returned) at t={t_up - t_down:.1f}s; "
               f"times below '+' are from 'up'")

        # Errors for writes that overlapped the outage (started before the restart).
        during = [w for w in errs if w.start < t_up]
        c.expect(len(during) > 0 and all(w.status == 503 for w in during),
                 f"writes during the outage answered 503: {len(during)} errors, statuses "
                 f"{summarise_statuses(during)}")
        lat = [w.end - w.start for w in during]
        slow = [w for w in during if w.end - w.start > ERROR_ANSWER_MAX_S]
        c.expect(bool(lat) and not slow,
                 f"each error answer within {ERROR_ANSWER_MAX_S:.0f}s: {fmt_lat(lat)}; {len(slow)} slower")
        ok_during = [w for w in ok if t_down + 1 < w.start and w.end < t_up]
        if ok_during:
            c.info(f"{len(ok_during)} writes started and answered 201 while the cluster was down")

        # After the restart.
        after = [w for w in results if w.start >= t_up]
        after_errs = [w for w in after if w.status != 201]
        last_err = max((w.start - t_up for w in after_errs), default=None)
        last_err_end = max((w.end - t_up for w in errs), default=0.0)
        first_ok = min((w.end - t_up for w in ok if w.end >= t_up), default=None)
        c.expect(bool(after) and (last_err is None or last_err <= RECOVERY_GRACE_S),
                 f"no errors after the database is back: {len(after_errs)} of {len(after)} writes started after "
                 f"the restart failed, last one started at +{last_err or 0:.1f}s (grace {RECOVERY_GRACE_S:.0f}s); "
                 f"last error answer at +{last_err_end:.1f}s; first 201 at "
                 + (f"+{first_ok:.1f}s" if first_ok is not None else "never"))

        # Every acknowledged write is there.
        token = get_token(node.url, node.url)
        stored = {u["user_id"]: u.get("email") for u in list_all_users(node.url, token)}
        lost = [w for w in ok if w.user_id not in stored]
        c.expect(not lost, f"every 201 write is present afterwards: {len(ok) - len(lost)}/{len(ok)} "
                           f"({len(stored)} users stored)")

        # /readyz.
        # Probes sent while the cluster was certainly down (after the stop, before the start
        # was issued): those answered before the start must be 503; those with a full
        # READYZ_ANSWER_MAX_S window before the start must answer within it.
        down = [p for p in probes if t_down + 0.5 < p[0] < t_start]
        pr_during = [p for p in down if p[1] < t_start]
        pr_over = [p for p in down if p[1] >= t_start]
        timed = [p for p in down if p[0] + READYZ_ANSWER_MAX_S < t_start]
        r_lat = [p[1] - p[0] for p in timed]
        c.expect(bool(pr_during) and all(p[2] == 503 for p in pr_during),
                 f"/readyz during the outage: {len(pr_during)} probes answered while down, statuses "
                 f"{summarise_codes([p[2] for p in pr_during])}"
                 + (f" (+{len(pr_over)} answered only after the start: "
                    f"{summarise_codes([p[2] for p in pr_over])})" if pr_over else ""))
        c.expect(bool(r_lat) and max(r_lat) <= READYZ_ANSWER_MAX_S,
                 f"each /readyz during the outage answered within {READYZ_ANSWER_MAX_S:.0f}s: {fmt_lat(r_lat)}")
        after_pr = [p for p in probes if p[0] >= t_up]
        not_ready = [p for p in after_pr if p[2] != 200]
        first_200 = min((p[1] - t_up for p in after_pr if p[2] == 200), default=None)
        last_bad = max((p[0] - t_up for p in not_ready), default=None)
        c.expect(first_200 is not None and first_200 <= READYZ_RECOVERY_MAX_S
                 and (last_bad is None or last_bad <= READYZ_RECOVERY_MAX_S),
                 "/readyz 200 after the restart at "
                 + (f"+{first_200:.1f}s" if first_200 is not None else "never")
                 + f" (limit {READYZ_RECOVERY_MAX_S:.0f}s); {len(not_ready)} non-200 probe(s) after the restart"
                 + (f", last started at +{last_bad:.1f}s" if last_bad is not None else ""))
        c.summary = (f"{len(ok)} writes acknowledged, all present; {len(during)} errors during the outage "
                     f"({summarise_statuses(during)}), answered in {fmt_lat(lat)}; first 201 after restart at "
                     + (f"+{first_ok:.1f}s" if first_ok is not None else "never")
                     + "; /readyz 503 during the outage, 200 at "
                     + (f"+{first_200:.1f}s" if first_200 is not None else "never"))
    finally:
        node.stop()
        if not _interrupted and not cluster.running():
            cluster.start()
    return c


def summarise_statuses(ws: list[Write]) -> str:
    return summarise_codes([w.status for w in ws])


def summarise_codes(codes: list[int]) -> str:
    counts: dict[int, int] = {}
    for s in codes:
        counts[s] = counts.get(s, 0) + 1
    return ", ".join(f"{'no answer' if k == 0 else k}: {v}" for k, v in sorted(counts.items())) or "none"


# ------------------------------------------------------------------------------ SMTP sink


class SmtpSink:
    """Enough SMTP for lettre: EHLO/HELO, MAIL, RCPT, DATA, RSET, NOOP, QUIT. A message is
    recorded once its final 250 has been written (as a real relay accepts it)."""

    def __init__(self):
        self.messages: list[dict] = []
        self.lock = threading.Lock()
        self.data_delay = 0.0
        self.sessions = 0
        sink = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self):
                with sink.lock:
                    sink.sessions += 1
                w = self.wfile
                try:
                    w.write(b"220 faults-sink ESMTP\r\n")
                    rcpts: list[str] = []
                    while True:
                        line = self.rfile.readline()
                        if not line:
                            return
                        cmd = line.decode("utf-8", "replace").rstrip("\r\n")
                        up = cmd.upper()
                        if up.startswith("EHLO"):
                            w.write(b"250-faults-sink\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n")
                        elif up.startswith(("HELO", "NOOP")):
                            w.write(b"250 OK\r\n")
                        elif up.startswith("MAIL"):
                            rcpts = []
                            w.write(b"250 OK\r\n")
                        elif up.startswith("RSET"):
                            rcpts = []
                            w.write(b"250 OK\r\n")
                        elif up.startswith("RCPT"):
                            addr = cmd.split(":", 1)[1].strip().split()[0].strip("<>")
                            rcpts.append(addr.lower())
                            w.write(b"250 OK\r\n")
                        elif up.startswith("DATA"):
                            w.write(b"354 go ahead\r\n")
                            lines = []
                            while True:
                                dl = self.rfile.readline()
                                if not dl:
                                    return
                                s = dl.decode("utf-8", "replace").rstrip("\r\n")
                                if s == ".":
                                    break
                                lines.append(s[1:] if s.startswith(".") else s)
                            if sink.data_delay:
                                time.sleep(sink.data_delay)
                            w.write(b"250 queued\r\n")
                            w.flush()
                            msg_id = None
                            for hl in lines:
                                if not hl:
                                    break
                                if hl.lower().startswith("message-id:"):
                                    msg_id = hl.split(":", 1)[1].strip()
                            with sink.lock:
                                sink.messages.append({"to": list(rcpts), "message_id": msg_id,
                                                      "at": time.monotonic()})
                            rcpts = []
                        elif up.startswith("QUIT"):
                            w.write(b"221 bye\r\n")
                            return
                        else:
                            w.write(b"502 not implemented\r\n")
                        w.flush()
                except OSError:
                    return

        class Server(socketserver.ThreadingTCPServer):
            daemon_threads = True
            allow_reuse_address = True

        self.server = Server(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def snapshot(self) -> list[dict]:
        with self.lock:
            return list(self.messages)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def check4_email_after_kill() -> Check:
    c = Check(4, "kill -9 with verification emails queued")
    sink = SmtpSink()
    sink.data_delay = EMAIL_SLOW_SMTP_S
    dbdir = WORKDIR / "c4"
    dbdir.mkdir(exist_ok=True)
    db = f"sqlite://{dbdir / 'gh.db'}"
    key = new_secret_key()
    env = {"GATEHOUSE_SMTP_URL": f"smtp://127.0.0.1:{sink.port}"}
    node = Node("c4", db, key, env).start()
    try:
        token = get_token(node.url, node.url)
        emails = [f"verify{i:03d}-{random.randrange(1 << 20):x}@faults.test" for i in range(EMAIL_USERS)]
        statuses: list[int] = []
        lock = threading.Lock()

        def create(chunk: list[str]) -> None:
            for e in chunk:
                r = request(node.url, "POST", "/api/v2/users", token=token,
                            body={"connection": DB_CONNECTION, "email": e, "password": PASSWORD,
                                  "verify_email": True})
                with lock:
                    statuses.append(r.status)

        ts = [threading.Thread(target=create, args=(emails[i::4],)) for i in range(4)]
        t_create = time.monotonic()
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        t_created = time.monotonic()
        c.expect(statuses.count(201) == EMAIL_USERS,
                 f"{statuses.count(201)}/{EMAIL_USERS} users with verify_email created "
                 f"in {t_created - t_create:.1f}s")
        # Kill at the first SMTP delivery (the sender has leased its batch), or at the latest
        # EMAIL_KILL_WAIT_MAX_S after the last 201.
        while time.monotonic() - t_created < EMAIL_KILL_WAIT_MAX_S and sink.sessions == 0:
            time.sleep(0.005)
        node.kill9()
        t_kill = time.monotonic()
        before = sink.snapshot()
        c.info(f"killed -9 {1000 * (t_kill - t_created):.0f} ms after the last 201; SMTP sessions so far "
               f"{sink.sessions}, messages accepted before the kill {len(before)}")
        sink.data_delay = 0.0

        node.start(wait=False)
        t_restart = time.monotonic()
        healthy = node.wait_healthy()
        c.info(f"restarted on the same database; healthy {healthy:.1f}s after spawn")
        want = {e.lower() for e in emails}
        all_at = None
        while time.monotonic() - t_restart < EMAIL_WAIT_LIMIT_S:
            got = {r for m in sink.snapshot() for r in m["to"]}
            if want <= got:
                all_at = time.monotonic() - t_restart
                break
            time.sleep(0.1)
        time.sleep(1.5)  # let stragglers (duplicates) arrive
        msgs = sink.snapshot()
        by_addr: dict[str, list[dict]] = {}
        for m in msgs:
            for r in m["to"]:
                by_addr.setdefault(r, []).append(m)
        missing = [e for e in want if e not in by_addr]
        per_addr_first = sorted(min(m["at"] for m in by_addr[e]) - t_restart for e in want if e in by_addr)
        after_restart = [t for t in per_addr_first if t >= 0]
        c.expect(not missing and all_at is not None and all_at <= EMAIL_AFTER_RESTART_MAX_S,
                 f"every address has its verification email within {EMAIL_AFTER_RESTART_MAX_S:.0f}s of the restart: "
                 + (f"all {len(want)} by +{all_at:.1f}s" if all_at is not None else
                    f"{len(want) - len(missing)}/{len(want)} after {EMAIL_WAIT_LIMIT_S:.0f}s")
                 + f" ({len(want) - len(after_restart)} before the restart; after it first "
                 + (f"+{after_restart[0]:.1f}s, last +{after_restart[-1]:.1f}s)" if after_restart else "none)"))
        in_time = sum(1 for e in want if e in by_addr
                      and min(m["at"] for m in by_addr[e]) - t_restart <= EMAIL_AFTER_RESTART_MAX_S)
        c.info(f"{in_time}/{len(want)} addresses had their email by +{EMAIL_AFTER_RESTART_MAX_S:.0f}s after the "
               f"restart; {len(want) - in_time} waited longer")
        diff_ids = {e: {m["message_id"] for m in ms} for e, ms in by_addr.items() if e in want}
        conflicting = {e: ids for e, ids in diff_ids.items() if len(ids) > 1}
        same_dupes = sum(1 for e, ms in by_addr.items() if e in want and len(ms) > 1 and len(diff_ids[e]) == 1)
        no_id = sum(1 for m in msgs if not m["message_id"])
        c.expect(not conflicting and no_id == 0,
                 f"no address got two messages with different Message-IDs: {len(conflicting)} such address(es); "
                 f"{same_dupes} resent with the same Message-ID; {len(msgs)} messages, {no_id} without Message-ID")
        c.summary = (f"{len(want) - len(missing)}/{len(want)} addresses served"
                     + (f", the last at +{all_at:.1f}s" if all_at is not None else "")
                     + f" after the restart ({in_time} within {EMAIL_AFTER_RESTART_MAX_S:.0f}s); "
                     f"{len(conflicting)} conflicting Message-IDs, {same_dupes} same-ID resends")
    finally:
        node.stop()
        sink.close()
    return c


def check5_sqlite_kill() -> Check:
    c = Check(5, "kill -9 of an SQLite node during writes")
    dbdir = WORKDIR / "c5"
    dbdir.mkdir(exist_ok=True)
    dbfile = dbdir / "gh.db"
    db = f"sqlite://{dbfile}"
    key = new_secret_key()
    node = Node("c5", db, key).start()
    try:
        token = get_token(node.url, node.url)
        writers = Writers(node.url, token, SQLITE_WRITERS, "sqlite", timeout=30).start()
        time.sleep(SQLITE_KILL_AFTER_S)
        in_flight_before = len(writers.results)
        node.kill9()
        t_kill = time.monotonic()
        results = writers.stop()
        ok = [w for w in results if w.status == 201]
        cut = [w for w in results if w.status != 201 and w.start < t_kill]
        c.info(f"{len(results)} writes ({in_flight_before} answered before the kill at "
               f"{SQLITE_KILL_AFTER_S:.0f}s): {len(ok)} x 201, {len(cut)} cut off by the kill "
               f"({summarise_statuses(cut)})")
        c.expect(len(ok) > 0, f"{len(ok)} acknowledged writes before the kill")
        node.start(wait=False)
        healthy = node.wait_healthy()
        c.expect(True, f"restarted on the same file, healthy {healthy:.1f}s after spawn")
        token = get_token(node.url, node.url)
        stored = {u["user_id"] for u in list_all_users(node.url, token)}
        lost = [w for w in ok if w.user_id not in stored]
        c.expect(not lost, f"every 201 write present after the restart: {len(ok) - len(lost)}/{len(ok)} "
                           f"({len(stored)} users stored)")
        r = request(node.url, "POST", "/api/v2/users", token=token,
                    body={"connection": DB_CONNECTION, "email": "after-restart@faults.test",
                          "password": PASSWORD, "verify_email": False})
        c.expect(r.status == 201, f"a write after the restart -> {r.status}")
        node.stop()
        con = sqlite3.connect(str(dbfile))
        try:
            res = [row[0] for row in con.execute("PRAGMA integrity_check")]
            n = con.execute("SELECT count(*) FROM users").fetchone()[0]
        finally:
            con.close()
        c.expect(res == ["ok"], f"PRAGMA integrity_check -> {res[:3]} ({n} rows in users)")
        c.summary = (f"killed -9 after {len(ok)} acknowledged writes ({len(cut)} in flight); all {len(ok) - len(lost)} "
                     f"present after restart; integrity_check {res[0] if res else '?'}")
    finally:
        node.stop()
    return c


CHECKS: dict[int, Callable[[], Check]] = {
    1: check1_two_nodes,
    2: check2_import_kill,
    3: check3_pg_outage,
    4: check4_email_after_kill,
    5: check5_sqlite_kill,
}


def cleanup() -> None:
    kill_all_nodes()
    if _pg is not None:
        _pg.destroy()


def main() -> int:
    if not BIN or not os.access(BIN, os.X_OK):
        print(f"GATEHOUSE_BIN must name the gatehouse binary (got {BIN!r})", file=sys.stderr)
        return 2
    only = os.environ.get("FAULTS_ONLY", "")
    selected = [int(x) for x in only.split(",") if x.strip()] or list(CHECKS)

    def on_signal(signum, _frame):
        global _interrupted
        _interrupted = True
        print(f"\nFAULTS: interrupted by signal {signum}; cleaning up", flush=True)
        sys.exit(128 + signum)  # main's finally kills the nodes and removes the cluster

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    log(f"binary {BIN}; work dir {WORKDIR}; checks {selected}")
    results: list[Check] = []
    try:
        for n in selected:
            print(f"\n=== check {n}", flush=True)
            c = Check(n, CHECKS[n].__name__)
            try:
                c = CHECKS[n]()
            except Exception as e:  # noqa: BLE001 - an exception fails the check, loudly
                traceback.print_exc()
                c.error = f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
            kill_all_nodes()
            print(c.line(), flush=True)
            results.append(c)
    finally:
        cleanup()
    print("\n" + "=" * 78)
    for c in results:
        print(c.line())
    failed = [c for c in results if not c.passed]
    print("=" * 78)
    total = time.monotonic() - T0
    if failed:
        print(f"FAULTS: {len(failed)} of {len(results)} checks FAILED "
              f"({', '.join(str(c.num) for c in failed)}) in {total:.0f}s")
        return 1
    print(f"FAULTS: all {len(results)} checks passed in {total:.0f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
