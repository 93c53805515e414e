"""Shared fixtures: the corpus, stores on SQLite and PostgreSQL, a development PKI, and
real hub processes on loopback."""
from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from hub import pki as hub_pki
from hub.store import Store

ROOT = Path(__file__).resolve().parent.parent
CORPUS = (ROOT / ".." / "shared" / "corpus").resolve()
POSTGRES_URL = os.environ.get("TSNHUB_TEST_POSTGRES_URL", "")


@pytest.fixture(scope="session")
def corpus() -> Path:
    assert CORPUS.is_dir(), f"the shared corpus is expected at {CORPUS}"
    return CORPUS


# -- stores -------------------------------------------------------------------------------

def _fresh_postgres_database() -> str:
    """A new empty database on the CI PostgreSQL server, so tests never share state."""
    url = make_url(POSTGRES_URL)
    name = f"tsnhub_{uuid.uuid4().hex[:12]}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return url.set(database=name).render_as_string(hide_password=False)


def _drop_postgres_database(database_url: str) -> None:
    url = make_url(database_url)
    admin = create_engine(make_url(POSTGRES_URL), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)'))
    admin.dispose()


STORE_BACKENDS = ["sqlite"] + (["postgresql"] if POSTGRES_URL else [])


@pytest.fixture(params=STORE_BACKENDS)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database URL, on each backend available (SQLite always, PostgreSQL in CI)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'store.sqlite'}"
        return
    url = _fresh_postgres_database()
    yield url
    _drop_postgres_database(url)


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    """An upgraded, empty store on each available backend."""
    instance = Store(store_url)
    instance.upgrade()
    yield instance
    instance.close()


# -- PKI ----------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("pki")
    hub_pki.init(directory)
    return directory


# -- hub processes ------------------------------------------------------------------------

LISTENING = re.compile(r"^listening (https|mllp) ([\d.]+):(\d+)$")


@dataclass
class HubProcess:
    process: subprocess.Popen[str]
    data_dir: Path
    pki: Path
    config_path: Path
    https_port: int = 0
    mllp_port: int = 0
    output: list[str] = field(default_factory=list)

    @property
    def https_url(self) -> str:
        return f"https://127.0.0.1:{self.https_port}"

    @property
    def db_url(self) -> str:
        return f"sqlite:///{(self.data_dir / 'tsnhub.sqlite').resolve()}"

    def session(self, client_cert: bool = False) -> requests.Session:
        """A requests session trusting the development CA (and ignoring the environment's
        REQUESTS_CA_BUNDLE, which would otherwise override `verify`)."""
        session = requests.Session()
        session.trust_env = False
        session.verify = str(self.pki / "ca.pem")
        if client_cert:
            session.cert = (str(self.pki / "client.pem"), str(self.pki / "client.key"))
        return session

    def mllp_connect(self, timeout: float = 10.0) -> socket.socket:
        return socket.create_connection(("127.0.0.1", self.mllp_port), timeout=timeout)

    def mllp(self, message: bytes | str, timeout: float = 10.0) -> bytes:
        """Send one HL7 v2 message framed in MLLP and return the unframed response."""
        with self.mllp_connect(timeout) as connection:
            return mllp_exchange(connection, message)

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode


def mllp_exchange(connection: socket.socket, message: bytes | str) -> bytes:
    """Write one framed message on `connection` and read one framed response."""
    data = message.encode("utf-8") if isinstance(message, str) else message
    connection.sendall(b"\x0b" + data + b"\x1c\x0d")
    return mllp_read(connection)


def mllp_read(connection: socket.socket) -> bytes:
    buffer = b""
    while b"\x1c\x0d" not in buffer:
        chunk = connection.recv(65536)
        if not chunk:
            raise ConnectionError(f"connection closed after {buffer!r}")
        buffer += chunk
    start = buffer.index(b"\x0b")
    return buffer[start + 1 : buffer.index(b"\x1c\x0d")]


def tsnhub_command() -> list[str]:
    return [sys.executable, "-m", "hub.cli"]


def launch_hub(base: Path, pki_dir: Path, config: str = "", *args: str, timeout: float = 60.0) -> HubProcess:
    data_dir = base / "data"
    data_dir.mkdir(parents=True, exist_ok=True)
    config_path = base / "hub.toml"
    config_path.write_text(config, encoding="utf-8")
    command = tsnhub_command() + [
        "serve", "--config", str(config_path), "--data-dir", str(data_dir), "--pki", str(pki_dir),
        "--https-port", "0", "--mllp-port", "0", *args,
    ]
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    process = subprocess.Popen(
        command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env
    )
    hub = HubProcess(process, data_dir, pki_dir, config_path)
    deadline = time.monotonic() + timeout
    assert process.stdout is not None
    while not (hub.https_port and hub.mllp_port):
        line = process.stdout.readline()
        if not line:
            raise RuntimeError("hub exited before listening:\n" + "".join(hub.output))
        hub.output.append(line)
        match = LISTENING.match(line.strip())
        if match:
            setattr(hub, f"{match.group(1)}_port", int(match.group(3)))
        if time.monotonic() > deadline:
            process.kill()
            raise RuntimeError("hub did not start in time:\n" + "".join(hub.output))

    def drain() -> None:
        for line in process.stdout:  # type: ignore[union-attr]
            hub.output.append(line)

    threading.Thread(target=drain, daemon=True).start()
    return hub


@pytest.fixture
def start_hub(tmp_path: Path, pki: Path) -> Iterator[Callable[..., HubProcess]]:
    """Start `tsnhub serve` with the given hub.toml text; every hub is stopped afterwards."""
    started: list[HubProcess] = []

    def start(config: str = "", *args: str) -> HubProcess:
        hub = launch_hub(tmp_path / f"hub{len(started)}", pki, config, *args)
        started.append(hub)
        return hub

    yield start
    for hub in started:
        hub.stop()


@pytest.fixture(scope="session")
def open_hub(tmp_path_factory: pytest.TempPathFactory, pki: Path) -> Iterator[HubProcess]:
    """One hub for the whole run with VIHF switched off: for transport-level tests."""
    hub = launch_hub(tmp_path_factory.mktemp("open-hub"), pki, "[security]\nrequire_vihf = false\n")
    yield hub
    hub.stop()


@pytest.fixture(scope="session")
def tsnhub_executable() -> list[str]:
    """The `tsnhub` command as installed in the virtual environment."""
    candidate = Path(sys.executable).parent / "tsnhub"
    return [str(candidate)] if candidate.exists() else tsnhub_command()

