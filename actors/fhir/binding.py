"""The PDQm/PIXm actors' registration with the host: the Twisted resource of
`/fhir/Patient`. It reads the request on the reactor thread, hands it to
`actors.fhir.service` in the hub's thread pool, records it through the host's one
endpoint pipeline (`hub.endpoints.account`: audit and metrics, as for SOAP) and writes
the answer. `FhirResource` does the same for any FHIR endpoint given its handler (the
care circle's `/fhir/CareTeam`, `actors.coordination.binding`), and `authenticator`
gives it the host's verifier of IUA SAML tokens. Links in the answers (`fullUrl`,
`self`, `next`) start at the hub's public base URL (`Hub.public_base_url`), never at
the request's Host header: any client writes that one, and links built from it would
send the next page, with its query, wherever the client chose."""
from __future__ import annotations

import time
from collections.abc import Callable, Collection
from functools import partial
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlsplit

from twisted.python import log
from twisted.web import server

from hub import endpoints
from hub.web import HubResource
from hub.wire import soap

from actors.fhir import security, service
from actors.identity import binding as identity_binding
from actors.identity import upstream

if TYPE_CHECKING:
    from hub.app import Hub

PATH = "/fhir/Patient"


def install(hub: Hub) -> None:
    """Mount `/fhir/Patient`."""
    ctx = context(hub)
    hub.mount(PATH.strip("/"), FhirResource(hub, partial(_serve, hub, ctx), methods=("GET", "POST")))
    hub.metrics.declare(transactions=("ITI-78", "ITI-83"))


def context(hub: Hub) -> service.FhirContext:
    """The handlers' context: the host's VIHF authenticator when `/fhir/Patient` requires
    VIHF, and the identity service's regional servers."""
    identity = identity_binding.identity_service(hub)
    return service.FhirContext(
        store=hub.store,
        identity=hub.config.identity,
        authenticate=authenticator(hub, PATH),
        consult_upstream=partial(upstream.consult, identity),
        disclose_for=identity.disclose_to_principal,
    )


def authenticator(hub: Hub, path: str) -> security.Authenticate | None:
    """How a FHIR endpoint at `path` verifies the caller's IUA SAML token: the host's
    VIHF authenticator, None when the hub does not require VIHF there."""
    return _authenticate(hub) if hub.requires_vihf(path) else None


def _authenticate(hub: Hub) -> security.Authenticate:
    def authenticate(assertion: Any, transaction: str) -> Any:
        if hub.authenticator is None:
            raise security.Unauthenticated(500, "exception", "no VIHF verifier is configured on this hub")
        try:
            return hub.authenticator.authenticate_assertion(assertion, transaction)
        except soap.SoapFault as fault:  # the hub cannot verify assertions (trust store)
            raise security.Unauthenticated(401, "security", fault.reason) from None

    return authenticate


def _serve(hub: Hub, ctx: service.FhirContext, request: service.HttpRequest) -> service.Answer:
    started = time.perf_counter()
    answer = service.handle(ctx, request)
    endpoints.account(hub, PATH, answer.transaction, answer.outcome, started, request.peer, answer.who)
    return answer


def _write(request: server.Request, answer: service.Answer) -> None:
    if request._disconnected or request.finished:
        return
    request.setResponseCode(answer.status)
    request.setHeader(b"content-type", answer.content_type.encode("latin-1"))
    request.setHeader(b"content-length", str(len(answer.body)).encode("ascii"))
    for name, value in answer.headers:
        request.setHeader(name.encode("latin-1"), value.encode("latin-1"))
    request.write(answer.body)
    request.finish()


class FhirResource(HubResource):
    """A FHIR endpoint and what lies under it: `/fhir/Patient` (ITI-78 search and
    retrieve, `$ihe-pix` ITI-83), `/fhir/CareTeam` (PCC-45/46/47). `serve` answers one
    request in the hub's thread pool and records it (`hub.endpoints.account`); a method
    outside `methods` is answered 405 here, every method reaches `serve` when `methods`
    is None."""

    def __init__(self, hub: Hub, serve: Callable[[service.HttpRequest], service.Answer],
                 methods: Collection[str] | None = None) -> None:
        super().__init__(hub)
        self.serve = serve
        self.methods = methods

    def render(self, request: server.Request) -> Any:
        method = request.method.decode("ascii", "replace")
        if self.methods is not None and method not in self.methods:
            request.setResponseCode(405)
            request.setHeader(b"allow", ", ".join(self.methods).encode("ascii"))
            return b""
        query = urlsplit(request.uri).query.decode("utf-8", "replace")
        address = request.getClientAddress()
        http_request = service.HttpRequest(
            method=method,
            path=[segment.decode("utf-8", "replace") for segment in request.postpath or [] if segment],
            parameters=parse_qsl(query, keep_blank_values=True),
            accept=(request.getHeader(b"accept") or b"").decode("latin-1"),
            content_type=(request.getHeader(b"content-type") or b"").decode("latin-1"),
            body=request.content.read() if request.content is not None else b"",
            base_url=f"{self.hub.public_base_url}/fhir",
            peer=f"{getattr(address, 'host', '')}:{getattr(address, 'port', '')}",
            authorization=(request.getHeader(b"authorization") or b"").decode("latin-1"),
        )
        d = self.hub.in_thread(self.serve, http_request)
        d.addCallback(lambda answer: _write(request, answer))
        d.addErrback(self._failed, request)
        return server.NOT_DONE_YET

    def _failed(self, failure: Any, request: server.Request) -> None:
        log.err(failure, "FHIR endpoint failure")
        _write(request, service.Answer(500, "text/plain", b"internal error\n"))
