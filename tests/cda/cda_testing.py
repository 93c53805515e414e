"""Helpers of the CDA validation tests."""
from __future__ import annotations

from lxml import etree

from cda.report import Report

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
