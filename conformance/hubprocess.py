"""A hub started as a real `tsnhub serve` subprocess on loopback ports, and the client
helpers to talk to it (HTTPS session trusting the development CA, MLLP framing). Used by
the test suite, the benchmarks and the conformance runner."""
from __future__ import annotations

import os
import re
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import requests

from hub import mllp
from hub.wire.mllp import frame

ROOT = Path(__file__).resolve().parent.parent

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
    # `[server] mllp_tls` / `require_client_cert` of the configuration it was started with.
    mllp_tls: bool = False
    client_cert: bool = False

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
        """A connection to the MLLP listener (over TLS, trusting the development CA, when
        the hub serves MLLP over TLS)."""
        connection = socket.create_connection(("127.0.0.1", self.mllp_port), timeout=timeout)
        if not self.mllp_tls:
            return connection
        context = ssl.create_default_context(cafile=str(self.pki / "ca.pem"))
        if self.client_cert:
            context.load_cert_chain(str(self.pki / "client.pem"), str(self.pki / "client.key"))
        return context.wrap_socket(connection, server_hostname="127.0.0.1")

    def mllp_connection(self, timeout: float = 10.0) -> MllpConnection:
        """A client connection that can pipeline several frames."""
        return MllpConnection(self.mllp_connect(timeout))

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


class MllpConnection:
    """A client MLLP connection that keeps what it read past one frame, for pipelining."""

    def __init__(self, connection: socket.socket) -> None:
        self.socket = connection
        self._buffer = bytearray()

    def send(self, message: bytes | str) -> None:
        data = message.encode("utf-8") if isinstance(message, str) else message
        self.socket.sendall(frame(data))

    def read(self) -> bytes:
        return mllp.read_frame(self.socket, self._buffer)

    def exchange(self, message: bytes | str) -> bytes:
        self.send(message)
        return self.read()

    def __enter__(self) -> "MllpConnection":
        return self

    def __exit__(self, *exc: object) -> None:
        self.socket.close()


def mllp_exchange(connection: socket.socket, message: bytes | str) -> bytes:
    """Write one framed message on `connection` and read one framed response."""
    data = message.encode("utf-8") if isinstance(message, str) else message
    connection.sendall(frame(data))
    return mllp_read(connection)


def mllp_read(connection: socket.socket) -> bytes:
    return mllp.read_frame(connection, bytearray())


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
    server = tomllib.loads(config).get("server", {}) if config else {}
    hub = HubProcess(
        process, data_dir, pki_dir, config_path,
        mllp_tls=bool(server.get("mllp_tls", False)), client_cert=bool(server.get("require_client_cert", False)),
    )
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
        assert process.stdout is not None
        for line in process.stdout:
            hub.output.append(line)

    threading.Thread(target=drain, daemon=True).start()
    return hub
