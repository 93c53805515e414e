"""An ITI-44 feed that creates a cross-reference is notified to the configured PIX
consumers (ITI-10 ADT^A31 over MLLP), as an ITI-8 feed is."""
from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from conformance.hubprocess import launch_hub
from pixpdqv3_support import ACTION, feed, send


class Consumer:
    """A PIX consumer on loopback recording the messages it acknowledges."""

    def __init__(self) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.received: list[str] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                connection, _ = self.server.accept()
            except OSError:
                return
            with connection:
                buffer = b""
                while b"\x1c\x0d" not in buffer:
                    chunk = connection.recv(65536)
                    if not chunk:
                        break
                    buffer += chunk
                message = buffer[buffer.find(b"\x0b") + 1: buffer.find(b"\x1c\x0d")].decode()
                control = message.split("\r")[0].split("|")[9]
                self.received.append(message)
                connection.sendall(
                    f"\x0bMSH|^~\\&|C|C|TSNHUB|TSNHUB|20260101||ACK^A31^ACK|A{control}|P|2.5\rMSA|AA|{control}\r\x1c\x0d".encode()
                )

    def wait(self, count: int, timeout: float = 15.0) -> list[str]:
        deadline = time.monotonic() + timeout
        while len(self.received) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.received


@pytest.fixture
def consumer() -> Iterator[Consumer]:
    fake = Consumer()
    yield fake
    fake.server.close()


def test_iti44_new_cross_reference_is_notified_by_iti10(tmp_path: Path, pki: Path, consumer: Consumer) -> None:
    config = (
        '[security]\nrequire_vihf = false\n\n[identity]\n'
        f'accepted_domains = ["1.2.250.1.999.10.1", "1.2.250.1.999.10.2"]\npix_consumers = ["127.0.0.1:{consumer.port}"]\n'
    )
    hub = launch_hub(tmp_path / "hub", pki, config)
    try:
        session = hub.session()
        message = feed([("1.2.250.1.999.10.1", "N-1"), ("1.2.250.1.999.10.2", "N-2")], "NOTIFIE", "ANNE", "19700101", "F")
        assert send(hub.https_url, session, "/pix", ACTION + "PRPA_IN201301UV02", message).ack_code == "AA"
        received = consumer.wait(1)
    finally:
        hub.stop()
    assert len(received) == 1
    segments = [s.split("|") for s in received[0].split("\r") if s]
    assert segments[0][8] == "ADT^A31^ADT_A05"
    pid = next(s for s in segments if s[0] == "PID")
    assert {rep.split("^")[0] for rep in pid[3].split("~")} == {"N-1", "N-2"}
