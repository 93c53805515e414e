"""The coordination model's registration with the host: the coordination services on
`/coordination` (spyne codec behind the hub's SOAP pipeline, VIHF and audit as for every
endpoint), the care circle as a FHIR CareTeam on `/fhir/CareTeam` (the FHIR endpoints'
resource, IUA SAML token and audit as on `/fhir/Patient`), and the identity feed's
effects on the model (PAM-FR ZFA, ROL, PD1; merges)."""
from __future__ import annotations

import time
from functools import partial
from typing import TYPE_CHECKING

from hub import endpoints
from hub.config import ConfigError
from hub.wire.soap import SoapRequest, SoapResponse

from actors.coordination import careteam, identity_feed, pathways, service, soap
from actors.coordination.gate import Disclosure, Gate
from actors.fhir import binding as fhir_binding
from actors.fhir.service import HttpRequest
from actors.identity import binding as identity_binding

if TYPE_CHECKING:
    from hub.app import Hub

PATH = "/coordination"
CARETEAM_PATH = "/fhir/CareTeam"


def install(hub: Hub) -> None:
    """Register the coordination operations; a pathway catalogue that cannot be read
    stops the hub at start."""
    config = hub.config.coordination
    try:
        catalogue = pathways.load_catalogue(config.pathways or None)
    except pathways.CatalogueError as exc:
        raise ConfigError(f"[coordination] pathways: {exc}") from None
    ctx = service.CoordinationContext(hub.store, Gate.from_config(config), config, catalogue)
    codec = soap.Codec()
    endpoint = hub.soap_endpoint(PATH, codec.wsdl)
    for operation in soap.OPERATIONS:
        handler = partial(_answer, codec=codec, ctx=ctx)
        # zeep sends the WSDL's soapAction (the operation name) as wsa:Action; the
        # namespaced form is accepted too.
        endpoint.operation(operation, f"COORD-{operation}", handler)
        endpoint.operation(f"{soap.NAMESPACE}:{operation}", f"COORD-{operation}", handler)
    careteam_ctx = careteam.CareTeamContext(
        store=hub.store, gate=ctx.gate, affinity_domain=hub.config.identity.affinity_domain,
        authenticate=fhir_binding.authenticator(hub, CARETEAM_PATH),
    )
    hub.mount(CARETEAM_PATH.strip("/"), fhir_binding.FhirResource(hub, partial(_serve_careteam, hub, careteam_ctx)))
    hub.metrics.declare(transactions=careteam.TRANSACTIONS)
    identity_feed.subscribe(hub.config.identity.affinity_domain)
    if hub.config.security.require_vihf:
        # Without VIHF there is no principal and the decision is not applied (INTERFACES.md).
        identity = identity_binding.identity_service(hub)
        identity.use_disclosure(Disclosure(ctx.gate, hub.config.identity.affinity_domain))


def _answer(request: SoapRequest, codec: soap.Codec, ctx: service.CoordinationContext) -> SoapResponse:
    return codec.answer(request, service.Call(ctx, request.principal))


def _serve_careteam(hub: Hub, ctx: careteam.CareTeamContext, request: HttpRequest) -> careteam.CareTeamAnswer:
    """One request to `/fhir/CareTeam`, in the hub's thread pool, recorded with its
    patient and access decisions."""
    started = time.perf_counter()
    answer = careteam.handle(ctx, request)
    endpoints.account(hub, CARETEAM_PATH, answer.transaction, answer.outcome, started, request.peer, answer.who,
                      patient=answer.patient, detail=answer.detail)
    return answer
