"""Start the real Gatehouse binary for the Auth0 SDK compatibility tests.

The server under test is the compiled binary, not a mock: each server
instance gets a free port, a fresh SQLite database in a pytest temp dir and
fixed bootstrap client credentials, and is stopped (terminate + wait) when
the session ends. Its stdout/stderr go to files next to the database; the
paths are printed in the terminal summary.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional

import pytest

REPO_ROOT = Path(__file__).resolve().parents[3]

# Fixed bootstrap machine-to-machine credentials (client id: alphanumeric,
# secret: >= 32 characters).
CLIENT_ID = "GhCompatPy0123456789abcdefABCDEF"
CLIENT_SECRET = "gatehouse-compat-python-secret-0123456789-abcdefghij"

STARTUP_TIMEOUT_S = float(os.environ.get("GATEHOUSE_STARTUP_TIMEOUT", "60"))

_server_logs: List[Path] = []


def _resolve_binary() -> Path:
    """GATEHOUSE_BIN, else target/release/gatehouse, else target/debug/gatehouse.

    A rebuild can remove the binary for a moment, so wait a little for it.
    """
    explicit = os.environ.get("GATEHOUSE_BIN")
    if explicit:
        candidates = [Path(explicit) if Path(explicit).is_absolute() else REPO_ROOT / explicit]
    else:
        candidates = [
            REPO_ROOT / "target" / "release" / "gatehouse",
            REPO_ROOT / "target" / "debug" / "gatehouse",
        ]
    deadline = time.monotonic() + 30
    while True:
        for candidate in candidates:
            if candidate.is_file() and os.access(candidate, os.X_OK):
                return candidate
        if time.monotonic() > deadline:
            pytest.exit(
                "gatehouse binary not found (tried: "
                + ", ".join(str(c) for c in candidates)
                + "); build it or set GATEHOUSE_BIN",
                returncode=2,
            )
        time.sleep(1)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class GatehouseServer:
    """One running gatehouse process."""

    binary: Path
    workdir: Path
    rate_limit: Optional[int] = None
    extra_env: Dict[str, str] = field(default_factory=dict)
    client_id: str = CLIENT_ID
    client_secret: str = CLIENT_SECRET
    port: int = 0
    process: Optional[subprocess.Popen] = None

    # -- addresses ---------------------------------------------------------
    @property
    def host(self) -> str:
        """host:port, what the SDKs call the tenant "domain"."""
        return f"127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        return f"http://{self.host}"

    @property
    def management_url(self) -> str:
        """Base URL for the Management API client (no trailing slash)."""
        return f"{self.base_url}/api/v2"

    @property
    def audience(self) -> str:
        return f"{self.base_url}/api/v2/"

    @property
    def stderr_path(self) -> Path:
        return self.workdir / "gatehouse.stderr.log"

    @property
    def stdout_path(self) -> Path:
        return self.workdir / "gatehouse.stdout.log"

    # -- lifecycle ---------------------------------------------------------
    def start(self) -> "GatehouseServer":
        last_error = ""
        for _attempt in range(3):  # a free port can be grabbed by someone else
            self.port = _free_port()
            if self._spawn_and_wait():
                return self
            last_error = self._stderr_tail()
            self.stop()
        raise RuntimeError(
            f"gatehouse did not become healthy; stderr ({self.stderr_path}):\n{last_error}"
        )

    def _spawn_and_wait(self) -> bool:
        self.workdir.mkdir(parents=True, exist_ok=True)
        db = self.workdir / "gh.db"
        for leftover in self.workdir.glob("gh.db*"):
            leftover.unlink()
        env = dict(os.environ)
        env.update(
            {
                "GATEHOUSE_BOOTSTRAP_CLIENT_ID": self.client_id,
                "GATEHOUSE_BOOTSTRAP_CLIENT_SECRET": self.client_secret,
                "GATEHOUSE_SECRET_KEY_FILE": str(self.workdir / "secret.key"),
                "RUST_BACKTRACE": "1",
            }
        )
        # Settings we pass explicitly must not be overridden from the outside.
        for name in ("GATEHOUSE_LISTEN", "GATEHOUSE_DATABASE_URL", "GATEHOUSE_PUBLIC_URL",
                     "GATEHOUSE_SECRET_KEY", "GATEHOUSE_RATE_LIMIT"):
            env.pop(name, None)
        if self.rate_limit is not None:
            env["GATEHOUSE_RATE_LIMIT"] = str(self.rate_limit)
        env.update(self.extra_env)

        self._stdout = open(self.stdout_path, "ab")
        self._stderr = open(self.stderr_path, "ab")
        self.process = subprocess.Popen(
            [
                str(self.binary),
                "serve",
                "--listen",
                self.host,
                "--database-url",
                f"sqlite://{db}",
            ],
            cwd=str(self.workdir),
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=self._stdout,
            stderr=self._stderr,
        )
        _server_logs.append(self.stderr_path)

        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                return False
            try:
                with urllib.request.urlopen(f"{self.base_url}/healthz", timeout=2) as resp:
                    if resp.status == 200:
                        return True
            except (urllib.error.URLError, ConnectionError, OSError):
                pass
            time.sleep(0.1)
        return False

    def stop(self) -> None:
        if self.process is not None:
            if self.process.poll() is None:
                self.process.terminate()
                try:
                    self.process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    self.process.kill()
                    self.process.wait(timeout=15)
            self.process = None
        for fh in (getattr(self, "_stdout", None), getattr(self, "_stderr", None)):
            if fh is not None and not fh.closed:
                fh.close()

    def _stderr_tail(self, lines: int = 40) -> str:
        try:
            text = self.stderr_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


@pytest.fixture(scope="session")
def gatehouse_bin() -> Path:
    return _resolve_binary()


@pytest.fixture(scope="session")
def gatehouse(gatehouse_bin: Path, tmp_path_factory: pytest.TempPathFactory):
    """The main server: default rate limit, shared by the whole session.

    The whole session logs in from one address (over 150 password grants in a few seconds,
    36 imported-hash cases alone make 144), more than the per-IP password-grant bucket's
    burst of 100 refilling 10/s lets through; those buckets are the integration suite's
    subject (security_review), so here they are ten times wider.
    """
    server = GatehouseServer(
        binary=gatehouse_bin,
        workdir=tmp_path_factory.mktemp("gatehouse-main"),
        extra_env={"GATEHOUSE_AUTH_RATE_LIMIT_SCALE": "10"},
    ).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def gatehouse_rate_limited(gatehouse_bin: Path, tmp_path_factory: pytest.TempPathFactory):
    """A second server with GATEHOUSE_RATE_LIMIT=2 (2 requests/s per client)."""
    server = GatehouseServer(
        binary=gatehouse_bin,
        workdir=tmp_path_factory.mktemp("gatehouse-ratelimit"),
        rate_limit=2,
    ).start()
    yield server
    server.stop()


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    if _server_logs:
        terminalreporter.write_line("gatehouse stderr logs:")
        for path in dict.fromkeys(_server_logs):
            terminalreporter.write_line(f"  {path}")
