"""The CDA submission gate on ITI-41 (`[cda] submission_gate`), against a running hub with
real VIHF assertions: reject refuses an invalid document with an XDS error naming the
rules and stores nothing; warn stores it and returns the findings as warnings; a valid
document passes clean. The documents are composed by the project
(`conformance.cda_samples`); the hub validates with the Python rules, and also with the
HL7 schema of the corpus in the interoperability layer."""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from xds_support import assertion_source
from xds_support import DOMAIN, REPOSITORY

from actors.xds import constants as c
from actors.xds.patients import add_known_patient
from conformance import cda_samples
from conformance.hubprocess import HubProcess
from conformance.xds_client import XdsClient
from conformance.xds_metadata import CodeSpec, DocumentSpec, submit_objects_request
from hub.store import Store
from vihf.issue import Signer

# The patient of the CI-SIS samples (a synthetic INS) in the affinity domain.
PATIENT = f"{cda_samples.ADELINE.ins}^^^&{DOMAIN}&ISO"
# The gate recognises CDA by formatCode or, as here, by an XML mimeType and a
# ClinicalDocument root.
MIME_SUFFICIENT = CodeSpec("urn:ihe:iti:xds:2017:mimeTypeSufficient", "1.3.6.1.4.1.19376.1.2.3", "mimeType Sufficient")


@pytest.fixture(params=[pytest.param(False, id="rules"), pytest.param(True, id="hl7-schema", marks=pytest.mark.corpus)])
def schema_dir(request: pytest.FixtureRequest) -> Path | None:
    """No schema folder (the Python rules), then the corpus HL7 CDA schemas."""
    if not request.param:
        return None
    corpus: Path = request.getfixturevalue("corpus")
    return corpus / "cda-schema"


def _hub(start_hub: Callable[..., HubProcess], schema_dir: Path | None, policy: str) -> HubProcess:
    schema = f'schema_dir = "{schema_dir}"\n' if schema_dir is not None else ""
    hub = start_hub(
        f'[identity]\naffinity_domain = "{DOMAIN}"\n[xds]\nrepository_unique_id = "{REPOSITORY}"\n'
        f'[coordination]\nunenrolled_patients = "allow"\n[cda]\nsubmission_gate = "{policy}"\n{schema}'
    )
    store = Store(hub.db_url)
    with store.transaction() as session:
        add_known_patient(session, PATIENT)
    store.close()
    return hub


def _document(name: str) -> DocumentSpec:
    """A `cda_samples` positive sample or negative variant, by name."""
    content = cda_samples.sample(name) if name in cda_samples.SAMPLES else cda_samples.variant(name)
    return DocumentSpec(content=content, mime_type="text/xml", format_code=MIME_SUFFICIENT)


def _submit(hub: HubProcess, signer: Signer, document: DocumentSpec):  # type: ignore[no-untyped-def]
    client = XdsClient(hub.session(), hub.https_url, assertion_source(signer))
    answer = client.provide_and_register(submit_objects_request(PATIENT, documents=[document]), [document])
    found = client.stored_query(c.GET_DOCUMENTS, {"$XDSDocumentEntryUniqueId": f"('{document.unique_id}')"}, "ObjectRef")
    return answer, len(list(found.body.iter(f"{{{c.RIM}}}ObjectRef")))


def _contexts(answer) -> list[str]:  # type: ignore[no-untyped-def]
    return [e.get("codeContext", "") for e in answer.body.iter(f"{{{c.RS}}}RegistryError")]


def test_reject_refuses_an_invalid_cda_naming_the_rules(start_hub, schema_dir: Path | None, signer: Signer) -> None:  # type: ignore[no-untyped-def]
    hub = _hub(start_hub, schema_dir, "reject")
    answer, stored = _submit(hub, signer, _document("missing-custodian"))
    assert answer.registry_status == c.RESPONSE_FAILURE
    assert {code for code, _ in answer.errors} == {c.XDSRepositoryError}
    assert any("CISIS-HDR-CUSTODIAN" in context for context in _contexts(answer))
    # CDA R2 requires the custodian too: with the HL7 schema, the schema rule is named as well.
    assert any("CDA-XSD" in context for context in _contexts(answer)) is (schema_dir is not None)
    assert all(e.get("severity") == c.SEVERITY_ERROR for e in answer.body.iter(f"{{{c.RS}}}RegistryError"))
    assert stored == 0


def test_reject_accepts_a_valid_cda(start_hub, schema_dir: Path | None, signer: Signer) -> None:  # type: ignore[no-untyped-def]
    hub = _hub(start_hub, schema_dir, "reject")
    answer, stored = _submit(hub, signer, _document("cisis-structuration-minimale"))
    assert (answer.registry_status, answer.errors, stored) == (c.RESPONSE_SUCCESS, [], 1)


def test_warn_stores_an_invalid_cda_and_returns_warnings(start_hub, schema_dir: Path | None, signer: Signer) -> None:  # type: ignore[no-untyped-def]
    hub = _hub(start_hub, schema_dir, "warn")
    answer, stored = _submit(hub, signer, _document("missing-hl7france-templateid"))
    assert answer.registry_status == c.RESPONSE_SUCCESS
    assert stored == 1
    severities = {e.get("severity") for e in answer.body.iter(f"{{{c.RS}}}RegistryError")}
    assert severities == {c.SEVERITY_WARNING}
    assert any("CISIS-HDR-TEMPLATEID-HL7FR" in context for context in _contexts(answer))


def test_off_does_not_look_at_the_document(start_hub, schema_dir: Path | None, signer: Signer) -> None:  # type: ignore[no-untyped-def]
    hub = _hub(start_hub, schema_dir, "off")
    answer, stored = _submit(hub, signer, _document("missing-custodian"))
    assert (answer.registry_status, answer.errors, stored) == (c.RESPONSE_SUCCESS, [], 1)


def test_an_unknown_policy_stops_the_hub_at_start(tmp_path: Path, pki: Path) -> None:
    from conformance.hubprocess import launch_hub

    with pytest.raises(RuntimeError, match="submission_gate"):
        launch_hub(tmp_path, pki, '[cda]\nsubmission_gate = "maybe"\n')
