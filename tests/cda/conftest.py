"""Fixtures of the CDA validation tests.

The project's own tests validate documents the project composes
(`conformance.cda_samples`: positive samples and negative variants, one rule broken at a
time) with the Python rules. The HL7 CDA schemas, the XD-LAB schematrons and the real
samples come from the third-party corpus: fixtures reading them (`schema_dir`,
`validator`, `composed`) put a test in the interoperability layer, and `with_schema`
runs a test twice, on the rules alone always and with the HL7 schema in the layer.
"""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from lxml import etree

from cda.engine import Validator, ValidatorConfig
from cda_testing import document_bytes
from conformance import cda_samples


@pytest.fixture(scope="session")
def schema_dir(corpus: Path) -> Path:
    """The HL7 CDA R2 schemas (CDA.xsd, CDA_SDTC.xsd, LabCDA.xsd) of the corpus."""
    return corpus / "cda-schema"


@pytest.fixture(scope="session")
def validator(schema_dir: Path) -> Validator:
    """Schema + Python rules, no schematron (interoperability layer)."""
    return Validator(ValidatorConfig(schema_dir=str(schema_dir)))


@pytest.fixture(scope="session")
def rules_only() -> Validator:
    """Python rules only (schema step skipped): isolates one rule from schema errors."""
    return Validator()


@pytest.fixture(scope="session")
def composed(corpus: Path) -> Path:
    """The corpus' composed CDA documents (interoperability layer)."""
    return corpus / "composed" / "cda"


@pytest.fixture(
    params=[pytest.param(False, id="rules"), pytest.param(True, id="hl7-schema", marks=pytest.mark.corpus)]
)
def with_schema(request: pytest.FixtureRequest) -> Path | None:
    """None (Python rules only), then the corpus HL7 schema folder (interoperability
    layer): a test taking it runs on both."""
    if not request.param:
        return None
    corpus: Path = request.getfixturevalue("corpus")
    return corpus / "cda-schema"


Mutation = Callable[[etree._Element], None]


@pytest.fixture
def mutate() -> Callable[[str, Mutation], bytes]:
    """A project sample (`cda_samples.SAMPLES` name) changed by `change`."""
    return cda_samples.mutated


@pytest.fixture
def document_file(tmp_path: Path) -> Callable[[str], Path]:
    """Writes a sample or variant to `<tmp>/<name>.xml` and returns its path."""

    def write(name: str) -> Path:
        path = tmp_path / f"{name}.xml"
        path.write_bytes(document_bytes(name))
        return path

    return write
