"""Fixtures shared by the security tests: the development VIHF signer, and a `requests`
session on the module's `hub` fixture (each module starts the hub its finding needs)."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from conformance.hubprocess import HubProcess
from vihf.issue import Signer


@pytest.fixture(scope="session")
def signer(pki: Path) -> Signer:
    return Signer.load(pki / "vihf-signer.key", pki / "vihf-signer.pem")


@pytest.fixture(scope="module")
def http(hub: HubProcess) -> Iterator[requests.Session]:
    session = hub.session()
    yield session
    session.close()
