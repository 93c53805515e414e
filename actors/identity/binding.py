"""The identity actor's registration with the host: the v2 routes of PIX, PDQ and PAM on
the MLLP router, the identity service the other transports share, the links to regional
identity servers and the ITI-10 notification job."""
from __future__ import annotations

from typing import Any

from twisted.internet.task import LoopingCall

from hub import mllp
from hub.wire import hl7v2

from actors.identity import er7, pam, pdq, pix, query, upstream
from actors.identity.notify import RETRY_AFTER, TIMEOUT_SECONDS, Notifier
from actors.identity.service import IdentityService, policy_from_config


def install(hub: Any) -> None:
    """Register every identity message type on the hub's MLLP router."""
    service = IdentityService(hub.store, policy_from_config(hub.config.identity), hub.mllp.identity,
                              pdq_limits=query.Limits.from_config(hub.config.identity))
    hub.identity_service = service
    consumers = tuple(hub.config.identity.pix_consumers)
    forwarder = _upstream(hub, service)
    if consumers or forwarder is not None:
        _notify_consumers(hub, service, consumers)
    for route in pix.routes(service) + pdq.routes(service) + pam.routes(service):
        handler = route.handler
        if forwarder is not None and route.transaction in ("ITI-8", "ITI-30"):
            handler = forwarder.wrap(handler)
        hub.mllp.register(route.message_type, route.transaction, checked(service, handler))


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


def _upstream(hub: Any, service: Any) -> Any:
    """Links to regional identity servers ([identity] upstream_pdq, upstream_pix): the
    suppliers the PDQ Supplier consults, and the forwarder of feeds to upstream PIX
    managers (returned, None when none is configured)."""
    identity = hub.config.identity
    suppliers = upstream.suppliers_from_config(identity.upstream_pdq)
    if suppliers:
        service.upstream_pdq = upstream.UpstreamPdq(suppliers, hub.config.xds.home_community_id.removeprefix("urn:oid:"))
    if not identity.upstream_pix:
        return None

    def wake() -> None:
        notifier = getattr(hub, "identity_notifier", None)
        if notifier is not None:
            hub.clock.callFromThread(hub.in_thread, notifier.send_pending)

    return upstream.PixForwarder(hub.store, identity.upstream_pix, service.identity, service.clock, wake)


def _notify_consumers(hub: Any, service: Any, consumers: tuple[str, ...]) -> None:
    """ITI-10 (and feeds forwarded upstream, same outbox): notifications are sent from the
    thread pool after each transaction that wrote some, and every 30 s for those still
    due (a consumer that was down)."""
    # `mllps://host:port` consumers and upstream PIX managers: TLS with the hub's CA and
    # client certificate (the PKI folder), as its own listeners use them.
    notifier = Notifier(hub.store, service.clock, lambda peer, message: mllp.exchange(peer, message, TIMEOUT_SECONDS, hub.client_tls_context))
    service.pix_consumers = consumers

    def after_commit(ctx: Any) -> None:
        if ctx.notifications:
            hub.clock.callFromThread(hub.in_thread, notifier.send_pending)

    service.on_commit.append(after_commit)
    retry = LoopingCall(lambda: hub.in_thread(notifier.send_pending))
    retry.clock = hub.clock
    retry.start(RETRY_AFTER.total_seconds(), now=False)
    hub.identity_notifier = notifier
