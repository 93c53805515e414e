"""Fixtures of the XDS tests: a hub requiring VIHF, a Document Source/Consumer client
sending fresh signed assertions, and direct access to the hub's store for seeding."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from lxml import etree
from xds_support import DOMAIN, REPOSITORY, assertion_source

from conformance.hubprocess import HubProcess, launch_hub
from conformance.xds_client import XdsClient
from hub.store import Store
from vihf.issue import Signer

HUB_CONFIG = f"""
[identity]
affinity_domain = "{DOMAIN}"

[xds]
repository_unique_id = "{REPOSITORY}"
max_query_results = 50

# These tests look at the registry and repository; the CDA submission gate is tested
# on its own (tests/xds/test_xds_cda_gate.py).
[cda]
submission_gate = "off"
# These tests look at XDS itself: documents of patients in no pathway are open to every
# authenticated professional here (the coordination model's rules: tests/coordination).
[coordination]
unenrolled_patients = "allow"
"""


@pytest.fixture(scope="session")
def signer(pki: Path) -> Signer:
    return Signer.load(pki / "vihf-signer.key", pki / "vihf-signer.pem")


@pytest.fixture(scope="module")
def xds_hub(tmp_path_factory: pytest.TempPathFactory, pki: Path) -> Iterator[HubProcess]:
    """One hub (VIHF required) for the XDS integration tests of a module."""
    process = launch_hub(tmp_path_factory.mktemp("xds-hub"), pki, HUB_CONFIG)
    yield process
    process.stop()


@pytest.fixture(scope="module")
def hub_store(xds_hub: HubProcess) -> Iterator[Store]:
    store = Store(xds_hub.db_url)
    yield store
    store.close()


@pytest.fixture
def client(xds_hub: HubProcess, signer: Signer) -> XdsClient:
    return XdsClient(xds_hub.session(), xds_hub.https_url, assertion_source(signer))
