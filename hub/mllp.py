"""MLLP (Minimal Lower Layer Protocol) framing over TCP as a Twisted protocol.

A frame is 0x0B <message> 0x1C 0x0D. Bytes outside a frame are dropped without closing
the connection; a frame larger than the configured maximum is answered with an AR
acknowledgement and dropped. Messages of one connection are answered one at a time, in
order; the protocol hands each complete frame, with the peer (address and TLS client
certificate), to a `process` callable returning a Deferred of the response bytes and
knows nothing of HL7 beyond that.
"""
from __future__ import annotations

import socket
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from twisted.internet import defer, protocol
from twisted.internet.interfaces import IDelayedCall
from twisted.protocols.policies import TimeoutMixin
from twisted.python import log

from hub.wire.mllp import END_BLOCK, START_BLOCK, complete_frame, frame



@dataclass(frozen=True)
class Peer:
    """Who sent a frame: `host:port`, and the client certificate the TLS handshake
    verified (None over plain TCP or when the client presented none)."""

    address: str
    certificate: x509.Certificate | None = None


Processor = Callable[[bytes, bool, Peer], "defer.Deferred[bytes]"]  # (frame, oversized, peer) -> Deferred[bytes]


@dataclass(frozen=True)
class Timeouts:
    """Seconds without a byte before the connection is closed: `in_frame` while a frame
    is half-received, `between_frames` otherwise (None: never). `frame_deadline`: seconds
    from a frame's start byte to its end, however steadily its bytes trickle in (the idle
    timeouts restart on every byte)."""

    in_frame: float | None = 120.0
    between_frames: float | None = 3600.0
    frame_deadline: float | None = 30.0


class MLLPProtocol(protocol.Protocol, TimeoutMixin):
    """One MLLP connection; closed when its peer stays silent too long (never while one of
    its messages is being answered) or takes too long over one frame (`Timeouts`)."""

    def __init__(self, process: Processor, max_message_bytes: int, timeouts: Timeouts = Timeouts()) -> None:
        self._timeouts = timeouts
        self._process = process
        self._max = max_message_bytes
        self._buffer = bytearray()
        self._in_frame = False
        self._oversized = False
        self._queue: defer.Deferred[Any] = defer.succeed(None)
        self._deadline: IDelayedCall | None = None
        self._peer_seen: Peer | None = None
        self.pending = 0

    def connectionMade(self) -> None:
        self.setTimeout(self._timeouts.between_frames)

    def connectionLost(self, reason: object = None) -> None:
        self.setTimeout(None)
        self._stop_deadline()

    def timeoutConnection(self) -> None:
        if self.pending:
            self.resetTimeout()  # a message is being answered: the peer is waiting on us
            return
        super().timeoutConnection()

    def dataReceived(self, data: bytes) -> None:
        self._frames(data)
        self.setTimeout(self._timeouts.in_frame if self._in_frame else self._timeouts.between_frames)

    def _frames(self, data: bytes) -> None:
        self._buffer += data
        while self._buffer:
            if not self._in_frame:
                start = self._buffer.find(START_BLOCK)
                if start < 0:
                    self._buffer.clear()  # garbage between frames
                    return
                del self._buffer[: start + 1]
                self._in_frame = True
                self._oversized = False
                if self._timeouts.frame_deadline is not None:
                    self._deadline = self.callLater(self._timeouts.frame_deadline, self._deadline_passed)
            end = self._buffer.find(END_BLOCK)
            if end < 0:
                if len(self._buffer) > self._max:
                    # Keep the head (for the MSH of the reject) and the last byte (the
                    # end marker may straddle two reads); drop the rest until the end.
                    self._oversized = True
                    del self._buffer[4096:-1]
                return
            message = bytes(self._buffer[:end])
            del self._buffer[: end + len(END_BLOCK)]
            self._in_frame = False
            self._stop_deadline()
            oversized = self._oversized or len(message) > self._max
            self._enqueue(message[:4096] if oversized else message, oversized)

    def _stop_deadline(self) -> None:
        if self._deadline is not None and self._deadline.active():
            self._deadline.cancel()
        self._deadline = None

    def _deadline_passed(self) -> None:
        self._deadline = None
        log.msg(f"MLLP frame from {self._peer().address} not complete within {self._timeouts.frame_deadline} s: closing")
        self._buffer.clear()
        self._in_frame = False
        if self.transport is not None:
            self.transport.loseConnection()

    def _peer(self) -> Peer:
        """The peer, read once per connection (the TLS handshake is over by the first
        frame, and its certificate does not change)."""
        if self._peer_seen is None:
            address = self.transport.getPeer() if self.transport is not None else None
            certificate: x509.Certificate | None = None
            get_certificate = getattr(self.transport, "getPeerCertificate", None)  # TLS transports only
            presented = get_certificate() if get_certificate is not None else None
            if presented is not None:
                certificate = presented.to_cryptography()
            self._peer_seen = Peer(f"{getattr(address, 'host', '')}:{getattr(address, 'port', '')}", certificate)
        return self._peer_seen

    def _enqueue(self, message: bytes, oversized: bool) -> None:
        self.pending += 1
        peer = self._peer()

        def run(_: object) -> defer.Deferred[bytes]:
            return self._process(message, oversized, peer)

        def reply(response: bytes | None) -> None:
            self.pending -= 1
            if response is not None and self.transport is not None and self.connected:
                self.transport.write(frame(response))

        def failed(failure: object) -> None:
            self.pending -= 1
            log.err(failure, "MLLP processing failed")

        self._queue.addCallback(run)
        self._queue.addCallbacks(reply, failed)


class MLLPFactory(protocol.ServerFactory):
    def __init__(self, process: Processor, max_message_bytes: int, timeouts: Timeouts = Timeouts()) -> None:
        self._process = process
        self._max = max_message_bytes
        self._timeouts = timeouts
        self.connections: set[MLLPProtocol] = set()

    def buildProtocol(self, addr: object) -> MLLPProtocol:
        proto = MLLPProtocol(self._process, self._max, self._timeouts)
        proto.factory = self
        return proto


# -- outbound connections ---------------------------------------------------------------------

TLS_SCHEME = "mllps://"


def client_context(ca_file: str | Path | None, cert_file: str | Path | None = None, key_file: str | Path | None = None) -> ssl.SSLContext:
    """TLS 1.2+ client context for MLLP over TLS: the peer verified against `ca_file`
    (the system's CAs when None), our certificate presented when given (mutual TLS)."""
    context = ssl.create_default_context(cafile=str(ca_file) if ca_file else None)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if cert_file:
        context.load_cert_chain(str(cert_file), str(key_file) if key_file else None)
    return context


def is_tls(address: str) -> bool:
    return address.lower().startswith(TLS_SCHEME)


def host_port(address: str) -> tuple[str, int]:
    """`host:port` of an address written `host:port` (MLLP over TCP) or
    `mllps://host:port` (MLLP over TLS); ValueError when the port is missing."""
    bare = address[len(TLS_SCHEME):] if is_tls(address) else address
    host, _, port = bare.rpartition(":")
    if not host or not port.isdigit():
        raise ValueError(f"MLLP address {address!r} is not host:port or mllps://host:port")
    return host, int(port)


def connect(address: str, timeout: float, context: Callable[[], ssl.SSLContext] | None = None) -> socket.socket:
    """A client connection to an MLLP peer; over TLS (with the context `context` makes,
    checking the peer's certificate for its host name) when the address is `mllps://`."""
    host, port = host_port(address)
    connection = socket.create_connection((host, port), timeout=timeout)
    if not is_tls(address):
        return connection
    try:
        tls_context = context() if context is not None else client_context(None)
        return tls_context.wrap_socket(connection, server_hostname=host)
    except BaseException:
        connection.close()
        raise


# -- the one outbound client ---------------------------------------------------------------

# Largest answer an MLLP peer may send back (an RSP^K22 page of a regional server).
MAX_ANSWER_BYTES = 16 * 1024 * 1024


class ExchangeError(ConnectionError):
    """An MLLP peer that closed, stayed silent past the deadline or answered too much;
    the text names the peer and what happened, never the message."""


def read_frame(connection: socket.socket, buffer: bytearray, deadline: float | None = None,
               max_bytes: int = MAX_ANSWER_BYTES, peer: str = "the peer") -> bytes:
    """The content of the next frame read on `connection`; `buffer` holds what was read
    before and keeps what follows the frame (pipelining). `deadline` (time.monotonic())
    bounds the whole read however slowly the bytes arrive; a frame larger than
    `max_bytes` is refused."""
    while (content := complete_frame(buffer)) is None:
        if deadline is not None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise ExchangeError(f"no answer from {peer} in time")
            connection.settimeout(remaining)
        try:
            chunk = connection.recv(65536)
        except socket.timeout:
            raise ExchangeError(f"no answer from {peer} in time") from None
        if not chunk:
            raise ExchangeError(f"{peer} closed the connection before answering")
        buffer += chunk
        if len(buffer) > max_bytes:
            raise ExchangeError(f"the answer of {peer} is larger than {max_bytes} bytes")
    return content


def exchange(address: str, message: bytes, timeout: float, context: Callable[[], ssl.SSLContext] | None = None,
             max_bytes: int = MAX_ANSWER_BYTES) -> bytes:
    """One request/response with the MLLP peer at `address` (`host:port`, or
    `mllps://host:port` over TLS with the context `context` makes): connection, sending
    and the whole answer within `timeout` seconds. Raises ExchangeError, or OSError when
    the peer cannot be reached."""
    deadline = time.monotonic() + timeout
    with connect(address, timeout, context) as connection:
        connection.sendall(frame(message))
        return read_frame(connection, bytearray(), deadline, max_bytes, address)
