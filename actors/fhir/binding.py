"""The PDQm/PIXm actors' registration with the host: `/fhir/Patient`."""
from __future__ import annotations

from typing import TYPE_CHECKING

from actors.fhir.web import PatientResource

if TYPE_CHECKING:
    from hub.app import Hub


def install(hub: Hub) -> None:
    """Mount `/fhir/Patient`."""
    hub.mount("fhir/Patient", PatientResource(hub))
    hub.metrics.declare(transactions=("ITI-78", "ITI-83"))
