"""The identity actor's registration with the host: the v2 routes of PIX, PDQ and PAM on
the MLLP router, the identity service the other transports share, the links to regional
identity servers and the ITI-10 notification job."""
from __future__ import annotations

import socket
import ssl
from typing import TYPE_CHECKING, Any

from twisted.internet.task import LoopingCall

from hub import mllp
from hub.wire import hl7v2

from actors.identity import er7, pam, pdq, pix, query, upstream
from actors.identity.notify import RETRY_AFTER, TIMEOUT_SECONDS, Notifier
from actors.identity.service import IdentityService, policy_from_config

if TYPE_CHECKING:
    from hub.app import Hub


def install(hub: Hub) -> None:
    """Register every identity message type on the hub's MLLP router."""
    service = identity_service(hub)
    forwarder = _forwarder(hub, service)
    for route in pix.routes(service) + pdq.routes(service) + pam.routes(service):
        handler = route.handler
        if forwarder is not None and route.transaction in ("ITI-8", "ITI-30"):
            handler = forwarder.wrap(handler)
        hub.mllp.register(route.message_type, route.transaction, checked(service, handler))


def identity_service(hub: Hub) -> IdentityService:
    """The hub's one identity service, which the v2, v3 and FHIR transports share: made
    on first ask with its ITI-10 notifier and its links to regional identity servers."""
    return hub.shared(IdentityService, lambda: _make_service(hub))


def _make_service(hub: Hub) -> IdentityService:
    identity = hub.config.identity
    service = IdentityService(hub.store, policy_from_config(identity), hub.mllp.identity,
                              pdq_limits=query.Limits.from_config(identity))
    suppliers = upstream.suppliers_from_config(identity.upstream_pdq)
    if suppliers:
        service.upstream_pdq = upstream.UpstreamPdq(suppliers, {"mllp": upstream.Iti21Consumer(_mllp_link)})
    if identity.pix_consumers or identity.upstream_pix:
        _notify_consumers(hub, service, tuple(identity.pix_consumers))
    return service


def _mllp_link(supplier: upstream.UpstreamSupplier, message: bytes) -> bytes:
    """`upstream.MllpLink` over the host's MLLP client."""
    def context() -> ssl.SSLContext:
        return mllp.client_context(supplier.ca_file or None, supplier.client_cert or None, supplier.client_key or None)

    address, timeout = supplier.address, supplier.timeout_seconds
    try:
        return mllp.exchange(address, message, timeout, context, upstream.MAX_RESPONSE_BYTES)
    except mllp.ExchangeError as exc:
        raise upstream.UpstreamError(str(exc)) from None
    except socket.timeout:
        raise upstream.UpstreamError(f"no answer from {address} within {timeout:g} s") from None
    except OSError as exc:
        raise upstream.UpstreamError(f"{address}: {exc.strerror or exc}") from None


def checked(service: Any, handler: Any) -> Any:
    """Refuse what no identity transaction can answer before reading further: (AR)
    MSH-11 processing id other than P, T, D (202) and MSH-12 versions other than 2.x
    (203); (AE) a field holding a C0 control character (102 at that field)."""

    def handle(message: str, msh: hl7v2.Msh) -> str:
        processing = msh.get(11).split(msh.component_separator)[0]
        version = msh.get(12).split(msh.component_separator)[0]
        if processing not in ("P", "T", "D"):
            error = hl7v2.Hl7Error(hl7v2.ERR_UNSUPPORTED_PROCESSING_ID, "MSH^1^11", message=f"processing id {processing!r} is not P, T or D")
            return hl7v2.ack(msh, "AR", [error], service.identity)
        if not version.startswith("2."):
            error = hl7v2.Hl7Error(hl7v2.ERR_UNSUPPORTED_VERSION_ID, "MSH^1^12", message=f"HL7 version {version!r} is not 2.x")
            return hl7v2.ack(msh, "AR", [error], service.identity)
        # A control character (raw, or escaped as `\X0B\`) is never stored, nor echoed
        # into another consumer's answer where 0x1C 0x0D would end its MLLP frame.
        found = er7.control_character(message)
        if found is not None:
            error = hl7v2.Hl7Error(
                hl7v2.ERR_DATA_TYPE, found.location,
                message=f"{found.segment}-{found.field} holds the control character 0x{ord(found.character):02X}",
            )
            return hl7v2.ack(msh, "AE", [error], service.identity)
        return str(handler(message, msh))

    return handle


def _forwarder(hub: Hub, service: IdentityService) -> upstream.PixForwarder | None:
    """The forwarder of accepted feeds to the upstream PIX managers ([identity]
    upstream_pix), None when none is configured; it wakes the ITI-10 notifier, which
    sends them."""
    managers = hub.config.identity.upstream_pix
    if not managers:
        return None
    notifier = hub.shared(Notifier, lambda: _notifier(hub, service))

    def wake() -> None:
        hub.clock.callFromThread(hub.in_thread, notifier.send_pending)

    return upstream.PixForwarder(hub.store, managers, service.identity, service.clock, wake)


def _notifier(hub: Hub, service: IdentityService) -> Notifier:
    # `mllps://host:port` consumers and upstream PIX managers: TLS with the hub's CA and
    # client certificate (the PKI folder), as its own listeners use them.
    return Notifier(hub.store, service.clock,
                    lambda peer, message: mllp.exchange(peer, message, TIMEOUT_SECONDS, hub.client_tls_context))


def _notify_consumers(hub: Hub, service: IdentityService, consumers: tuple[str, ...]) -> None:
    """ITI-10 (and feeds forwarded upstream, same outbox): notifications are sent from the
    thread pool after each transaction that wrote some, and every 30 s for those still
    due (a consumer that was down)."""
    notifier = hub.shared(Notifier, lambda: _notifier(hub, service))
    service.pix_consumers = consumers

    def after_commit(ctx: Any) -> None:
        if ctx.notifications:
            hub.clock.callFromThread(hub.in_thread, notifier.send_pending)

    service.on_commit.append(after_commit)
    retry = LoopingCall(lambda: hub.in_thread(notifier.send_pending))
    retry.clock = hub.clock
    retry.start(RETRY_AFTER.total_seconds(), now=False)
