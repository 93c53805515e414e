"""The `/coordination` operation that imports an XDM medium uploaded by a platform user
(`urn:tsnhub:coordination:ImportXdmMedium`, wsdl/coordination.wsdl).

Same path as `tsnhub xdm import`: the medium is checked whole, then each submission set
is registered in its own transaction. The answer is an ebRS RegistryResponse: Success,
PartialSuccess when some submission sets were refused, Failure when none was imported or
the medium itself was refused (XDSRepositoryMetadataError located at the medium).
"""
from __future__ import annotations

from pathlib import Path
from lxml import etree

from actors.xdm import medium as xdm_medium
from actors.xdm.importer import ImportSettings, import_medium
from actors.xds import constants as c
from actors.xds.content import cda_gate
from actors.xds.errors import RegistryError, registry_response
from hub.config import Config
from hub.store import Store
from hub.wire import soap

PATH = "/coordination"
NAMESPACE = "urn:tsnhub:coordination"
ACTION = "urn:tsnhub:coordination:ImportXdmMedium"
RESPONSE_ACTION = "urn:tsnhub:coordination:ImportXdmMediumResponse"
TRANSACTION = "XDM-Import"
WSDL = Path(__file__).resolve().parents[2] / "wsdl" / "coordination.wsdl"


def settings_of(config: Config, patient: str | None) -> ImportSettings:
    """The import settings of the hub's configuration, for a medium of `patient` (None:
    the medium's own patient, reconciled)."""
    xdm = config.xdm
    return ImportSettings(
        repository_unique_id=config.xds.repository_unique_id,
        affinity_domain=config.identity.affinity_domain,
        source_id=xdm.source_id,
        patient=patient,
        completion=dict(xdm.completion),
        limits=xdm_medium.Limits(xdm.max_entries, xdm.max_total_bytes, xdm.max_entry_bytes, xdm.max_ratio),
        gate=cda_gate(config),
    )


def import_xdm_medium(request: soap.SoapRequest, store: Store, config: Config) -> soap.SoapResponse:
    """ImportXdmMedium: register an uploaded XDM medium."""
    body = request.body
    if etree.QName(body).text != f"{{{NAMESPACE}}}ImportXdmMediumRequest":
        raise soap.sender_fault("the body is not a coordination ImportXdmMediumRequest")
    medium_element = body.find(f"{{{NAMESPACE}}}Medium")
    if medium_element is None:
        raise soap.sender_fault("ImportXdmMediumRequest has no Medium")
    patient = (body.findtext(f"{{{NAMESPACE}}}PatientId") or "").strip() or None
    data = bytes(request.binary(medium_element))
    try:
        result = import_medium(store, data, settings_of(config, patient))
    except xdm_medium.MediumError as exc:
        errors = [RegistryError(c.XDSRepositoryMetadataError, f"medium refused: {exc}", "medium")]
        return soap.SoapResponse(registry_response(errors), RESPONSE_ACTION)
    errors = [
        RegistryError(e.code, e.context, f"{subset.subset}/{e.location}" if e.location else subset.subset, e.severity)
        for subset in result.subsets
        for e in subset.errors
    ]
    partial = any(s.imported for s in result.subsets)
    response = soap.SoapResponse(registry_response(errors, partial=partial), RESPONSE_ACTION)
    response.audit_patient = patient
    return response
