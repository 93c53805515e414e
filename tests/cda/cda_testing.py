"""Helpers of the CDA validation tests."""
from __future__ import annotations

from lxml import etree

from cda.report import Report
from conformance import cda_samples

NS = {"cda": "urn:hl7-org:v3", "xsi": "http://www.w3.org/2001/XMLSchema-instance"}


def rules_of(report: Report) -> set[str]:
    return {f.rule for f in report.errors}


def find(root: etree._Element, path: str) -> etree._Element:
    found = root.xpath(path, namespaces=NS)
    assert found, path
    element = found[0]
    assert isinstance(element, etree._Element)
    return element


def remove(root: etree._Element, path: str) -> None:
    for element in root.xpath(path, namespaces=NS):
        element.getparent().remove(element)


def document_bytes(name: str) -> bytes:
    """A positive sample or a negative variant of `conformance.cda_samples`, by name."""
    return cda_samples.sample(name) if name in cda_samples.SAMPLES else cda_samples.variant(name)


def line_of(data: bytes, path: str) -> int:
    """The line of the first element `path` (XPath from ClinicalDocument, prefix cda)
    selects in the serialised document `data`."""
    line = find(etree.fromstring(data), path).sourceline
    assert line is not None
    return int(line)
