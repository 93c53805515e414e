"""SOAP endpoints and the way a SOAP request travels through the hub:

codec (parse, MTOM) -> router (WS-Addressing Action) -> security (VIHF -> Principal)
-> actor handler (one store transaction) -> audit -> codec.

Everything here runs in the hub's thread pool; `hub.web` only moves bytes.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from lxml import etree

from hub import audit, authentication
from hub.wire import soap
from vihf.faults import VihfRefusal

if TYPE_CHECKING:
    from hub.app import Hub

log = logging.getLogger(__name__)

# An operation's handler: the request in, the answer out. What else it needs (store,
# settings, services) the actor's binding gives it when it registers (a context value
# bound with functools.partial), never the hub itself.
SoapHandler = Callable[[soap.SoapRequest], soap.SoapResponse]


class Authenticator(Protocol):
    """Turns the security header of a request into a Principal, or raises SoapFault.
    Implemented by `vihf`; the principal must expose `audit_who` (a short, loggable
    identification of the caller, never the assertion itself)."""

    def authenticate(self, request: soap.SoapRequest, transaction: str) -> Any: ...

    def authenticate_assertion(self, assertion: etree._Element, transaction: str) -> Any:
        """The same for an assertion carried otherwise (a FHIR request's IUA SAML token);
        raises `vihf.faults.VihfRefusal`."""


@dataclass
class Operation:
    action: str
    transaction: str
    handler: SoapHandler


@dataclass
class SoapEndpoint:
    path: str
    # The WSDL file, or its text when a library describes the service (spyne).
    wsdl: Path | bytes | None = None
    operations: dict[str, Operation] = field(default_factory=dict)
    # Served by the hub's store pool (see `Hub.in_store_thread`).
    store_bound: bool = False

    def operation(self, action: str, transaction: str, handler: SoapHandler) -> None:
        self.operations[action] = Operation(action, transaction, handler)

    def wsdl_for(self, location: str) -> bytes:
        """The WSDL with every SOAP address set to `location`, the endpoint's URL under the
        hub's public base URL (never one taken from the request)."""
        if self.wsdl is None:
            raise FileNotFoundError(self.path)
        parser = etree.XMLParser(resolve_entities=False, no_network=True)
        if isinstance(self.wsdl, bytes):
            tree = etree.ElementTree(etree.fromstring(self.wsdl, parser))
        else:
            tree = etree.parse(str(self.wsdl), parser)
        for element in tree.iter("{http://schemas.xmlsoap.org/wsdl/soap12/}address", "{http://schemas.xmlsoap.org/wsdl/soap/}address"):
            element.set("location", location)
        return bytes(etree.tostring(tree, encoding="UTF-8", xml_declaration=True))


@dataclass
class Peer:
    address: str = ""
    certificate: Any = None


def _who(principal: Any) -> str | None:
    return getattr(principal, "audit_who", None) if principal is not None else None


def account(
    hub: Hub, path: str, transaction: str, outcome: str, started: float, peer: str,
    who: str | None = None, patient: str | None = None, detail: str | None = None,
) -> None:
    """The one record every request leaves, whatever its transport (SOAP here, FHIR
    through its binding): an audit event, and the endpoint's count and latency."""
    hub.audit(audit.AuditEvent(transaction, outcome, who=who, patient=patient, peer=peer, detail=detail))
    hub.metrics.observe("https", path, transaction, outcome, time.perf_counter() - started)


def handle(hub: Hub, endpoint: SoapEndpoint, content_type: str, body: bytes, peer: Peer) -> soap.Encoded:
    """Process one SOAP POST to `endpoint` and return the encoded answer (never raises)."""
    started = time.perf_counter()
    transaction = "unknown"
    outcome = "refused"
    who: str | None = None
    patient: str | None = None
    detail: str | None = None
    request: soap.SoapRequest | None = None
    try:
        request = soap.parse_request(content_type, body, hub.soap_limits)
        request.endpoint = endpoint.path
        request.peer = peer.address
        request.peer_certificate = peer.certificate
        operation = endpoint.operations.get(request.action)
        if operation is None:
            raise soap.action_not_supported(request.action, request.message_id)
        transaction = operation.transaction
        if hub.requires_vihf(endpoint.path):
            if hub.authenticator is None:
                raise soap.SoapFault("Receiver", "no VIHF verifier is configured on this hub")
            request.principal = hub.authenticator.authenticate(request, transaction)
            who = _who(request.principal)
        response = operation.handler(request)
        outcome = "refused" if response.audit_refusal else "success" if response.http_status < 400 else "error"
        patient, detail = response.audit_patient, response.audit_refusal or response.audit_access
        return soap.encode_response(response, request)
    except (soap.SoapFault, VihfRefusal) as raised:
        # An actor refusing the caller raises vihf's refusal; SOAP answers it as a fault.
        fault = authentication.soap_fault(raised) if isinstance(raised, VihfRefusal) else raised
        if fault.relates_to is None and request is not None:
            fault.relates_to = request.message_id
        outcome = "refused" if fault.code != "Receiver" else "error"
        detail = fault.reason
        return soap.encode_fault(fault)
    except Exception:
        log.exception("internal error in %s %s", endpoint.path, transaction)
        outcome, detail, who = "error", "internal error", None
        internal = soap.SoapFault("Receiver", "internal error; the request was not processed")
        internal.relates_to = request.message_id if request is not None else None
        return soap.encode_fault(internal)
    finally:
        account(hub, endpoint.path, transaction, outcome, started, peer.address, who, patient, detail)
