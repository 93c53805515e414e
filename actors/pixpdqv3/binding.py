"""The PIX/PDQ v3 actors' registration with the host: `/pix` and `/pdq`, and the ITI-47
consumer of the links to regional identity servers (suppliers of protocol `soap`),
which goes through the host's outbound SOAP client."""
from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from lxml import etree

import wsdl
from hub import soapclient
from vihf import wsse

from actors.identity import binding as identity_binding
from actors.identity import upstream
from actors.pixpdqv3 import consumer, hl7v3, service

if TYPE_CHECKING:
    from hub.app import Hub

WSDL_DIR = Path(wsdl.__file__).resolve().parent
PIX_WSDL = WSDL_DIR / "PIXManager.wsdl"
PDQ_WSDL = WSDL_DIR / "PDQSupplier.wsdl"
PDQ_BINDING = "{urn:ihe:iti:pdqv3:2007}PDQSupplier_Binding_Soap12"
PDQ_OPERATION = "PDQSupplier_PRPA_IN201305UV02"


def install(hub: Hub) -> None:
    """Register ITI-44/ITI-45 on `/pix` and ITI-47 on `/pdq`; ask the `soap` regional
    identity servers with ITI-47."""
    identity = identity_binding.identity_service(hub)
    ctx = service.V3Context(hub.store, hub.config.identity, device_id(hub), identity)
    pix = hub.soap_endpoint("/pix", PIX_WSDL)
    for interaction in (hl7v3.PRPA_IN201301UV02, hl7v3.PRPA_IN201302UV02, hl7v3.PRPA_IN201304UV02):
        pix.operation(service.ACTION_PREFIX + interaction, "ITI-44", partial(service.iti44, ctx=ctx))
    pix.operation(service.ACTION_PREFIX + hl7v3.PRPA_IN201309UV02, "ITI-45", partial(service.iti45, ctx=ctx))
    pdq = hub.soap_endpoint("/pdq", PDQ_WSDL)
    pdq.operation(service.ACTION_PREFIX + hl7v3.PRPA_IN201305UV02, "ITI-47", partial(service.iti47, ctx=ctx))
    pdq.operation(service.CONTINUE_ACTION, "ITI-47", partial(service.iti47_continue, ctx=ctx))
    pdq.operation(service.CANCEL_ACTION, "ITI-47", partial(service.iti47_cancel, ctx=ctx))
    if identity.upstream_pdq is not None:
        # A VIHF signer that cannot be loaded is a configuration error: the hub does not start.
        assertions = {s.name: upstream.vihf_source(s) for s in identity.upstream_pdq.suppliers if s.protocol == "soap"}
        identity.upstream_pdq.use("soap", consumer.Iti47Consumer(_soap_link, device_id(hub), assertions))


def device_id(hub: Hub) -> str:
    """The hub's device id in the transmission wrapper: the home community OID."""
    return hub.config.xds.home_community_id.removeprefix("urn:oid:")


def _soap_link(supplier: upstream.UpstreamSupplier, message: etree._Element,
               assertion: etree._Element | None) -> etree._Element:
    """`consumer.SoapLink` over the host's outbound SOAP client."""
    partner = soapclient.Partner(supplier.address, PDQ_WSDL, PDQ_BINDING, supplier.timeout_seconds,
                                 supplier.ca_file, supplier.client_cert, supplier.client_key)
    security = wsse.VihfSecurity(assertion) if assertion is not None else None
    try:
        return soapclient.call(partner, PDQ_OPERATION, message, security, upstream.MAX_RESPONSE_BYTES)
    except soapclient.SoapCallError as exc:
        raise upstream.UpstreamError(str(exc)) from None
