"""Finding 10 of issue 18, MLLP side: a half-sent frame has a deadline.

The idle timeout restarts on every byte, so a client trickling one byte every 0.7 s kept
a connection forever. `[server] request_deadline_seconds` bounds the time from a frame's
start byte (0x0B) to its end (0x1C 0x0D), however steadily the bytes arrive.
"""
from __future__ import annotations

import select
import socket
import time
from collections.abc import Callable

from twisted.internet import defer
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport

from conformance.hubprocess import HubProcess
from hub import mllp


def _protocol(clock: Clock, timeouts: mllp.Timeouts) -> tuple[mllp.MLLPProtocol, StringTransport]:
    protocol = mllp.MLLPFactory(lambda frame, oversized, peer: defer.succeed(b"ACK"), 1000, timeouts).buildProtocol(None)
    protocol.callLater = clock.callLater  # type: ignore[method-assign]
    transport = StringTransport()
    protocol.makeConnection(transport)
    return protocol, transport


def test_a_trickled_frame_is_closed_at_the_deadline_despite_the_idle_timer() -> None:
    clock = Clock()
    protocol, transport = _protocol(clock, mllp.Timeouts(in_frame=30, between_frames=3600, frame_deadline=2))
    protocol.dataReceived(b"\x0b")
    for byte in b"MSH|^~\\&|":
        clock.advance(0.7)
        if transport.disconnecting:
            break
        protocol.dataReceived(bytes([byte]))
    assert transport.disconnecting
    assert clock.seconds() <= 2.1


def test_a_frame_completed_in_time_clears_its_deadline() -> None:
    clock = Clock()
    protocol, transport = _protocol(clock, mllp.Timeouts(in_frame=30, between_frames=3600, frame_deadline=2))
    protocol.dataReceived(b"\x0bMSH|one")
    clock.advance(1.5)
    protocol.dataReceived(b"\x1c\x0d")
    clock.advance(100)  # well past the deadline, within the idle timeout between frames
    assert not transport.disconnecting
    assert transport.value() == mllp.frame(b"ACK")


def test_a_slow_mllp_client_is_disconnected_by_the_running_hub(start_hub: Callable[..., HubProcess]) -> None:
    hub = start_hub("[server]\nrequest_deadline_seconds = 2\n")
    started = time.monotonic()
    closed_after = None
    with socket.create_connection(("127.0.0.1", hub.mllp_port), timeout=5) as connection:
        payload = b"\x0bMSH|^~\\&|SLOW|LORIS|TSNHUB|PFT|20260101120000||ADT^A28^ADT_A05|1|P|2.5\r"
        for byte in payload:
            try:
                connection.sendall(bytes([byte]))
            except OSError:
                closed_after = time.monotonic() - started
                break
            readable, _, _ = select.select([connection], [], [], 0.7)
            if readable and _closed(connection):
                closed_after = time.monotonic() - started
                break
            if time.monotonic() - started > 8:
                break
    assert closed_after is not None, "the connection was still open after 8 s of trickling"
    assert 1.5 <= closed_after < 4


def _closed(connection: socket.socket) -> bool:
    try:
        return connection.recv(1024) == b""
    except OSError:  # reset by the hub
        return True
