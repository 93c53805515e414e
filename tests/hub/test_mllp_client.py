"""The one outbound MLLP client (`hub.mllp.exchange`, `read_frame`): regional identity
servers, ITI-10 consumers and the conformance tools all use it. Whatever the peer does,
the exchange ends within its deadline and never buffers more than its cap."""
from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from hub import mllp


@pytest.fixture
def peer() -> Iterator[Callable[[Callable[[socket.socket], None]], str]]:
    """A one-connection TCP peer on loopback running `behaviour(connection)`."""
    servers: list[socket.socket] = []
    threads: list[threading.Thread] = []

    def start(behaviour: Callable[[socket.socket], None]) -> str:
        server = socket.create_server(("127.0.0.1", 0))
        servers.append(server)

        def serve() -> None:
            connection, _ = server.accept()
            with connection:
                try:
                    behaviour(connection)
                except OSError:
                    pass

        thread = threading.Thread(target=serve, daemon=True)
        thread.start()
        threads.append(thread)
        return f"127.0.0.1:{server.getsockname()[1]}"

    yield start
    for server in servers:
        server.close()
    for thread in threads:
        thread.join(timeout=5)


def test_an_answer_is_read_whole_and_unframed(peer: Callable[..., str]) -> None:
    def answer(connection: socket.socket) -> None:
        connection.recv(65536)
        for piece in (b"junk\x0bMSH|^~\\&|A", b"CK\rMSA|AA|1\r", b"\x1c\r"):
            connection.sendall(piece)
            time.sleep(0.05)

    assert mllp.exchange(peer(answer), b"MSH|^~\\&|Q\r", timeout=5) == b"MSH|^~\\&|ACK\rMSA|AA|1\r"


def test_a_peer_trickling_its_answer_does_not_stretch_the_deadline(peer: Callable[..., str]) -> None:
    def trickle(connection: socket.socket) -> None:
        connection.recv(65536)
        for _ in range(100):
            connection.sendall(b"\x0bM" if _ == 0 else b"x")
            time.sleep(0.1)

    started = time.monotonic()
    with pytest.raises(mllp.ExchangeError, match="in time"):
        mllp.exchange(peer(trickle), b"MSH|", timeout=1.0)
    assert time.monotonic() - started < 3.0


def test_an_answer_larger_than_the_cap_is_refused(peer: Callable[..., str]) -> None:
    def flood(connection: socket.socket) -> None:
        connection.recv(65536)
        connection.sendall(b"\x0b" + b"x" * 300_000)

    with pytest.raises(mllp.ExchangeError, match="larger than 100000 bytes"):
        mllp.exchange(peer(flood), b"MSH|", timeout=5, max_bytes=100_000)


def test_a_peer_closing_before_answering_is_an_error(peer: Callable[..., str]) -> None:
    def hang_up(connection: socket.socket) -> None:
        connection.recv(65536)

    with pytest.raises(mllp.ExchangeError, match="closed the connection"):
        mllp.exchange(peer(hang_up), b"MSH|", timeout=5)


def test_frames_read_past_one_answer_are_kept_for_the_next_read() -> None:
    left, right = socket.socketpair()
    with left, right:
        right.sendall(mllp.frame(b"ONE") + mllp.frame(b"TWO")[:3])
        buffer = bytearray()
        assert mllp.read_frame(left, buffer) == b"ONE"
        right.sendall(mllp.frame(b"TWO")[3:])
        assert mllp.read_frame(left, buffer) == b"TWO"
        assert buffer == b""
