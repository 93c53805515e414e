"""Fixtures of the coordination tests."""
from __future__ import annotations

from pathlib import Path

import pytest

from vihf.issue import Signer


@pytest.fixture(scope="session")
def signer(pki: Path) -> Signer:
    """The development PKI's VIHF signer."""
    return Signer.load(pki / "vihf-signer.key", pki / "vihf-signer.pem")
