"""Fixtures of the PDQm/PIXm tests: one hub per module accepting any assigning authority;
the patient the project makes (a FHIR Patient resource built in code, synthetic) and, in
the interoperability layer, the IHE PIXm sample patient Alice Mohr, each fed over MLLP
(ITI-8) before the queries."""
from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from conformance.hubprocess import HubProcess, launch_hub
from fhir_support import feed_patient_resource

CONFIG = '[security]\nrequire_vihf = false\n\n[identity]\naccepted_domains = ["*"]\n'

# Three invented identification domains under the ITU-T example arc (2.999) and an
# invented person living in the invented town of Bois-Joli.
ROUGE, BLEU, VERT = "urn:oid:2.999.60.1", "urn:oid:2.999.60.2", "urn:oid:2.999.60.3"
PROJECT_PATIENT: dict[str, Any] = {
    "resourceType": "Patient",
    "id": "Patient-VernadetAurore",
    "identifier": [
        {"system": BLEU, "value": "BJB-417"},
        {"system": VERT, "value": "BJV-417"},
        {"system": ROUGE, "value": "BJR-417"},
    ],
    "active": True,
    "name": [{"use": "official", "family": "VERNADET", "given": ["AURORE"]}],
    "gender": "female",
    "birthDate": "1963-03-11",
    "address": [{"use": "home", "line": ["14 ALLEE DES CHARMES"], "city": "BOIS-JOLI", "postalCode": "99420"}],
}


@pytest.fixture(scope="module")
def fhir_hub(tmp_path_factory: pytest.TempPathFactory, pki: Path) -> Iterator[HubProcess]:
    process = launch_hub(tmp_path_factory.mktemp("fhir-hub"), pki, CONFIG)
    yield process
    process.stop()


@pytest.fixture(scope="module")
def http(fhir_hub: HubProcess) -> Iterator[requests.Session]:
    session = fhir_hub.session()
    yield session
    session.close()


@pytest.fixture(scope="module")
def project_patient(fhir_hub: HubProcess, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The project's Patient resource, fed to the module's hub."""
    path = tmp_path_factory.mktemp("patient") / f"{PROJECT_PATIENT['id']}.json"
    path.write_text(json.dumps(PROJECT_PATIENT), encoding="utf-8")
    return feed_patient_resource(fhir_hub, path)


@pytest.fixture(scope="module")
def corpus_patient(fhir_hub: HubProcess, corpus: Path) -> dict[str, Any]:
    """The IHE PIXm sample patient (Patient-MohrAlice.json), fed to the module's hub."""
    return feed_patient_resource(fhir_hub, corpus / "fhir" / "Patient-MohrAlice.json")


@pytest.fixture(params=["project", pytest.param("corpus", marks=pytest.mark.corpus)])
def sample_patient(request: pytest.FixtureRequest) -> dict[str, Any]:
    """The project's patient always; Alice Mohr as well when the corpus is present."""
    patient: dict[str, Any] = request.getfixturevalue(f"{request.param}_patient")
    return patient
