"""Fixtures of the CDA validation tests: the corpus documents and schema folder, and
helpers to derive documents from the corpus ones (one rule broken at a time)."""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from lxml import etree

from cda.engine import Validator, ValidatorConfig


@pytest.fixture(scope="session")
def schema_dir(corpus: Path) -> Path:
    return corpus / "cda-schema"


@pytest.fixture(scope="session")
def validator(schema_dir: Path) -> Validator:
    """Schema + Python rules, no schematron."""
    return Validator(ValidatorConfig(schema_dir=str(schema_dir)))


@pytest.fixture(scope="session")
def rules_only() -> Validator:
    """Python rules only (schema step skipped): isolates one rule from schema errors."""
    return Validator()


@pytest.fixture(scope="session")
def composed(corpus: Path) -> Path:
    return corpus / "composed" / "cda"


Mutation = Callable[[etree._Element], None]


@pytest.fixture
def mutate(composed: Path) -> Callable[[str, Mutation], bytes]:
    """A composed corpus document changed by `change` (applied to a parsed copy)."""

    def apply(name: str, change: Mutation) -> bytes:
        root = etree.fromstring((composed / name).read_bytes())
        change(root)
        return etree.tostring(root, encoding="UTF-8", xml_declaration=True)

    return apply
