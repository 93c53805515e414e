"""Fixtures of the PDQm/PIXm tests: one hub per module accepting any assigning authority."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from conformance.hubprocess import HubProcess, launch_hub

CONFIG = '[security]\nrequire_vihf = false\n\n[identity]\naccepted_domains = ["*"]\n'


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
