"""Patient identity manager: PIX Manager (ITI-8, ITI-9), PDQ Supplier (ITI-21), PAM
consumer (ITI-30, ITI-31) over HL7 v2/MLLP, on one sans-IO identity core (`core`) and one
query core (`query`) that the HL7 v3 and FHIR transports share.

For other packages: `directory.is_known(session, cx)`, and the `events.PatientsMerged`
event published in the merging transaction (`events.subscribe`).
"""
from __future__ import annotations

from typing import Any


def install(hub: Any) -> None:
    """Register every identity message type on the hub's MLLP router."""
    from actors.identity import pam, pdq, pix
    from actors.identity.service import IdentityService, policy_from_config

    service = IdentityService(hub.store, policy_from_config(hub.config.identity), hub.mllp.identity)
    hub.identity_service = service
    for route in pix.routes(service) + pdq.routes(service) + pam.routes(service):
        hub.mllp.register(route.message_type, route.transaction, route.handler)
