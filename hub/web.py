"""Twisted Web resources: bounded request bodies, SOAP endpoints, `/health`, `/metrics`.

The reactor thread only reads the body and writes the answer; all parsing and store work
runs in the hub's thread pool.
"""
from __future__ import annotations

import ipaddress
import json
from typing import TYPE_CHECKING, Any

from twisted.internet import defer
from twisted.internet.interfaces import IDelayedCall
from twisted.internet.protocol import connectionDone
from twisted.python import log
from twisted.python.failure import Failure
from twisted.web import http, resource, server

from hub import endpoints
from hub.wire import soap

if TYPE_CHECKING:
    from hub.app import Hub


class BoundedRequest(server.Request):
    """A request whose body may not exceed the site's `max_request_bytes`: a larger one is
    answered 413 and the connection closed, before the rest is read."""

    _received = 0
    _too_large = False

    @property
    def _limit(self) -> int:
        site: HubSite = self.channel.site  # type: ignore[attr-defined]
        return site.max_request_bytes

    def gotLength(self, length: int | None) -> None:
        if length is not None and length > self._limit:
            self._reject()
            return
        super().gotLength(length)

    def handleContentChunk(self, data: bytes) -> None:
        if self._too_large:
            return
        self._received += len(data)
        if self._received > self._limit:
            self._reject()
            return
        super().handleContentChunk(data)

    def _reject(self) -> None:
        self._too_large = True
        self.content = None
        transport: Any = self.channel.transport
        transport.write(
            b"HTTP/1.1 413 Request Entity Too Large\r\nConnection: close\r\n"
            b"Content-Type: text/plain\r\nContent-Length: 24\r\n\r\nrequest body too large\r\n"
        )
        transport.loseConnection()

    def requestReceived(self, command: bytes, path: bytes, version: bytes) -> None:
        if self._too_large:
            return
        super().requestReceived(command, path, version)

    def write(self, data: bytes) -> None:
        # Twisted names itself and its version in a `Server` header: that only helps an
        # attacker pick an exploit, so it is dropped before the headers go out.
        if not self.startedWriting:
            self.responseHeaders.removeHeader(b"server")
        super().write(data)


class DeadlineChannel(http.HTTPChannel):
    """An HTTP/1.1 connection whose requests must arrive whole, headers and body, within
    the site's `request_deadline` of their first byte. Twisted's idle timeout restarts on
    every byte, so a client trickling one byte at a time would otherwise hold the
    connection (and its buffers) forever. A late request is answered 408 and closed."""

    _deadline: IDelayedCall | None = None

    def dataReceived(self, data: bytes) -> None:
        # Bytes read while a request is being answered belong to the next one: they are
        # buffered by Twisted and given back here once the answer is written.
        if self._deadline is None and not self._handlingRequest:
            site: HubSite = self.site  # type: ignore[attr-defined]
            self._deadline = self.callLater(site.request_deadline, self._request_too_slow)
        super().dataReceived(data)

    def allContentReceived(self) -> None:
        self._cancel_deadline()
        super().allContentReceived()

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        self._cancel_deadline()
        super().connectionLost(reason)

    def _cancel_deadline(self) -> None:
        if self._deadline is not None:
            if self._deadline.active():
                self._deadline.cancel()
            self._deadline = None

    def _request_too_slow(self) -> None:
        self._deadline = None
        self.transport.write(  # type: ignore[union-attr]
            b"HTTP/1.1 408 Request Timeout\r\nConnection: close\r\n"
            b"Content-Type: text/plain\r\nContent-Length: 29\r\n\r\nrequest not received in time\n"
        )
        # Closes, and aborts the connection if the client does not read the answer.
        self.timeoutConnection()


class HubSite(server.Site):
    requestFactory = BoundedRequest
    # HTTP/1.1 only: no ALPN is offered, so Twisted's HTTP/2-negotiating wrapper has
    # nothing to choose between.
    protocol = DeadlineChannel  # type: ignore[assignment]

    def __init__(
        self,
        root: resource.Resource,
        max_request_bytes: int,
        idle_timeout: float = 120.0,
        request_deadline: float = 30.0,
    ) -> None:
        # No endpoint reads form arguments: Twisted's decoding of POST bodies (a MIME parse
        # of the Content-Type on every SOAP POST) is turned off.
        super().__init__(root, timeout=idle_timeout, parsePOSTFormSubmission=False)
        self.max_request_bytes = max_request_bytes
        self.request_deadline = request_deadline
        self.displayTracebacks = False

    def log(self, request: Any) -> None:
        # Access logs would carry query strings (patient identifiers): metrics instead.
        return None


def _peer(request: server.Request) -> endpoints.Peer:
    address = request.getClientAddress()
    certificate = None
    transport = request.channel.transport if request.channel is not None else None
    get_certificate = getattr(transport, "getPeerCertificate", None)
    if get_certificate is not None:
        x509 = get_certificate()
        if x509 is not None:
            certificate = x509.to_cryptography()
    return endpoints.Peer(address=f"{getattr(address, 'host', '')}:{getattr(address, 'port', '')}", certificate=certificate)


def _finish(request: server.Request, status: int, content_type: str, chunks: list[Any]) -> None:
    if request._disconnected or request.finished:
        return
    request.setResponseCode(status)
    request.setHeader(b"content-type", content_type.encode("latin-1"))
    request.setHeader(b"content-length", str(sum(len(c) for c in chunks)).encode("ascii"))
    for chunk in chunks:
        request.write(bytes(chunk) if isinstance(chunk, memoryview) else chunk)
    request.finish()


class HubResource(resource.Resource):
    """A resource that answers for its whole subtree (a leaf) with the hub's threads,
    store and configuration."""

    isLeaf = True

    def __init__(self, hub: Hub) -> None:
        super().__init__()
        self.hub = hub


class SoapResource(HubResource):
    def __init__(self, hub: Hub, endpoint: endpoints.SoapEndpoint) -> None:
        super().__init__(hub)
        self.endpoint = endpoint

    def render_POST(self, request: server.Request) -> Any:
        body = request.content.read() if request.content is not None else b""
        content_type = (request.getHeader(b"content-type") or b"").decode("latin-1")
        run = self.hub.in_store_thread if self.endpoint.store_bound else self.hub.in_thread
        d = run(endpoints.handle, self.hub, self.endpoint, content_type, body, _peer(request))
        d.addCallback(lambda encoded: _finish(request, encoded.status, encoded.content_type, encoded.chunks))
        d.addErrback(self._failed, request)
        return server.NOT_DONE_YET

    def render_GET(self, request: server.Request) -> bytes:
        # `?wsdl` has no `=`: Twisted's request.args leaves such a key out, so read the query.
        query = request.uri.split(b"?", 1)[1] if b"?" in request.uri else b""
        asked = {part.split(b"=", 1)[0].lower() for part in query.split(b"&")}
        if b"wsdl" not in asked or self.endpoint.wsdl is None:
            request.setResponseCode(405)
            request.setHeader(b"allow", b"POST")
            return b"SOAP 1.2 endpoint: POST an envelope, or GET ?wsdl\n"
        request.setHeader(b"content-type", b"text/xml; charset=UTF-8")
        return self.endpoint.wsdl_for(self.hub.public_base_url + self.endpoint.path)

    def _failed(self, failure: Any, request: server.Request) -> None:
        log.err(failure, "SOAP endpoint failure")
        encoded = soap.encode_fault(soap.SoapFault("Receiver", "internal error"))
        _finish(request, encoded.status, encoded.content_type, encoded.chunks)


class HealthResource(HubResource):
    def render_GET(self, request: server.Request) -> Any:
        d = self.hub.in_thread(self.hub.check_store)

        def answer(store_ok: bool) -> None:
            body = json.dumps({"status": "ok" if store_ok else "degraded", "store": "ok" if store_ok else "unreachable"})
            _finish(request, 200 if store_ok else 503, "application/json", [body.encode()])

        d.addCallback(answer)
        d.addErrback(lambda f: _finish(request, 503, "application/json", [b'{"status":"degraded"}']))
        return server.NOT_DONE_YET


Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class MetricsResource(HubResource):
    """`/metrics`, open to the clients of `[server] metrics_allow` (any when empty) that
    present a verified TLS client certificate when `metrics_require_client_cert` says so;
    anyone else gets 403."""

    def __init__(self, hub: Hub, allow: tuple[Network, ...] = (), require_client_cert: bool = False) -> None:
        super().__init__(hub)
        self.allow = allow
        self.require_client_cert = require_client_cert

    def render_GET(self, request: server.Request) -> bytes:
        if not self._allowed(request):
            request.setResponseCode(403)
            request.setHeader(b"content-type", b"text/plain")
            return b"/metrics is not open to this client\n"
        request.setHeader(b"content-type", self.hub.metrics.content_type.encode())
        return self.hub.metrics.render()

    def _allowed(self, request: server.Request) -> bool:
        if self.allow:
            try:
                address = ipaddress.ip_address(getattr(request.getClientAddress(), "host", ""))
            except ValueError:
                return False
            if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
                address = address.ipv4_mapped
            if not any(address in network for network in self.allow):
                return False
        # The TLS layer only lets through a certificate it verified (hub.app.tls_options).
        return not self.require_client_cert or _peer(request).certificate is not None


class Root(resource.Resource):
    """Maps the first path segments to endpoints: `/xds/registry`, `/pix`, `/fhir/...`."""

    def __init__(self) -> None:
        super().__init__()

    def mount(self, path: str, child: resource.Resource) -> None:
        segments = [s.encode() for s in path.strip("/").split("/")]
        parent: resource.Resource = self
        for segment in segments[:-1]:
            existing = parent.children.get(segment)
            if existing is None:
                existing = resource.Resource()
                parent.putChild(segment, existing)
            parent = existing
        parent.putChild(segments[-1], child)

    def getChild(self, path: bytes, request: server.Request) -> resource.Resource:
        return resource.NoResource()


def wait_all(deferreds: set[defer.Deferred[Any]], timeout: float, clock: Any) -> defer.Deferred[Any]:
    """Wait for in-flight requests to finish, at most `timeout` seconds."""
    if not deferreds:
        return defer.succeed(None)
    waiting = defer.DeferredList(list(deferreds), consumeErrors=True)
    return waiting.addTimeout(timeout, clock).addErrback(lambda _: None)
