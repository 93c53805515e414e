"""SOAP 1.2 document validation service at `/validation` (wsdl/validation.wsdl): the same
engine as `tsnhub validate`, under the hub's SOAP security (VIHF unless the endpoint is
opened in `[security] open_endpoints` or VIHF is switched off).

Action `urn:tsnhub:validation:Validate`: `ValidateRequest` (Document as base64Binary,
inline or MTOM; optional Profile and Name) -> `ValidateResponse` (Valid, Profile,
RuleSets, one Step per validation step with its findings, and the Gazelle-like
`detailedResult`).
"""
from __future__ import annotations

from lxml import etree

from cda import render
from cda.engine import Validator
from cda.profiles import PROFILES
from cda.report import Report
from hub.wire import soap

NAMESPACE = "urn:tsnhub:validation"
ACTION_VALIDATE = "urn:tsnhub:validation:Validate"
ACTION_VALIDATE_RESPONSE = "urn:tsnhub:validation:ValidateResponse"


def _q(local: str) -> str:
    return f"{{{NAMESPACE}}}{local}"


def response_body(report: Report) -> etree._Element:
    """The ValidateResponse element of a report."""
    body = etree.Element(_q("ValidateResponse"), nsmap={"val": NAMESPACE})
    etree.SubElement(body, _q("Valid")).text = "true" if report.valid else "false"
    etree.SubElement(body, _q("Profile")).text = report.profile
    etree.SubElement(body, _q("RuleSets")).text = " ".join(report.detected)
    for step in report.steps:
        step_element = etree.SubElement(body, _q("Step"), name=step.name, status=step.status.value)
        if step.detail:
            step_element.set("detail", step.detail)
        for finding in step.findings:
            item = etree.SubElement(step_element, _q("Finding"), severity=finding.severity.value, rule=finding.rule)
            if finding.location:
                item.set("location", finding.location)
            if finding.line:
                item.set("line", str(finding.line))
            etree.SubElement(item, _q("Message")).text = finding.message
    etree.SubElement(body, _q("DetailedResult")).append(render.gazelle(report))
    return body


class ValidationService:
    """Handler of the Validate operation."""

    def __init__(self, validator: Validator) -> None:
        self.validator = validator

    def validate(self, request: soap.SoapRequest) -> soap.SoapResponse:
        body = request.body
        if body.tag != _q("ValidateRequest"):
            raise soap.sender_fault(f"expected {{{NAMESPACE}}}ValidateRequest")
        document = body.find(_q("Document"))
        if document is None:
            raise soap.sender_fault("ValidateRequest/Document is required")
        profile = (body.findtext(_q("Profile")) or "auto").strip()
        if profile not in PROFILES:
            raise soap.sender_fault(f"unknown profile {profile!r}: one of {', '.join(PROFILES)}")
        name = (body.findtext(_q("Name")) or "document").strip()
        data = request.binary(document)
        report = self.validator.validate(data, profile, name)
        return soap.SoapResponse(response_body(report), ACTION_VALIDATE_RESPONSE)
