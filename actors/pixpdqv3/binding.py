"""The PIX/PDQ v3 actors' registration with the host: `/pix` and `/pdq`."""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import wsdl
from actors.pixpdqv3 import hl7v3, service

if TYPE_CHECKING:
    from hub.app import Hub

WSDL_DIR = Path(wsdl.__file__).resolve().parent
PIX_WSDL = WSDL_DIR / "PIXManager.wsdl"
PDQ_WSDL = WSDL_DIR / "PDQSupplier.wsdl"


def install(hub: Hub) -> None:
    """Register ITI-44/ITI-45 on `/pix` and ITI-47 on `/pdq`."""
    pix = hub.soap_endpoint("/pix", PIX_WSDL)
    for interaction in (hl7v3.PRPA_IN201301UV02, hl7v3.PRPA_IN201302UV02, hl7v3.PRPA_IN201304UV02):
        pix.operation(service.ACTION_PREFIX + interaction, "ITI-44", service.iti44)
    pix.operation(service.ACTION_PREFIX + hl7v3.PRPA_IN201309UV02, "ITI-45", service.iti45)
    pdq = hub.soap_endpoint("/pdq", PDQ_WSDL)
    pdq.operation(service.ACTION_PREFIX + hl7v3.PRPA_IN201305UV02, "ITI-47", service.iti47)
    pdq.operation(service.CONTINUE_ACTION, "ITI-47", service.iti47_continue)
    pdq.operation(service.CANCEL_ACTION, "ITI-47", service.iti47_cancel)
