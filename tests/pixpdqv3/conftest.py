"""Fixtures of the PIX/PDQ v3 tests: one hub per module accepting any assigning
authority (VIHF off; the VIHF tests start their own), and a requests session to it."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from conformance.hubprocess import HubProcess, launch_hub

OPEN_CONFIG = '[security]\nrequire_vihf = false\n\n[identity]\naccepted_domains = ["*"]\n'


@pytest.fixture(scope="module")
def v3_hub(tmp_path_factory: pytest.TempPathFactory, pki: Path) -> Iterator[HubProcess]:
    process = launch_hub(tmp_path_factory.mktemp("pixpdqv3-hub"), pki, OPEN_CONFIG)
    yield process
    process.stop()


@pytest.fixture(scope="module")
def http(v3_hub: HubProcess) -> Iterator[requests.Session]:
    session = v3_hub.session()
    yield session
    session.close()
