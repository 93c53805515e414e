"""The /validation SOAP 1.2 service against a running hub (`tsnhub serve`), called by
zeep through the WSDL the hub serves, by a hand-built MTOM request, and under the hub's
VIHF security, on documents the project composes (`conformance.cda_samples`); the hub
validates with the HL7 schema of the corpus in the interoperability layer."""
from __future__ import annotations

import subprocess
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from lxml import etree

from cda.service import ACTION_VALIDATE, NAMESPACE
from cda_testing import document_bytes, line_of
from conformance import cda_samples
from hub.wire import soap, xmlsafe
from vihf import wsse

VAL = f"{{{NAMESPACE}}}"


def cda_section(schema_dir: Path | None) -> str:
    return f'[cda]\nschema_dir = "{schema_dir}"\n' if schema_dir is not None else ""


OPEN_VALIDATION = '[security]\nopen_endpoints = ["/validation"]\n'


@pytest.fixture
def validation_hub(start_hub: Callable[..., object]):  # type: ignore[no-untyped-def]
    """A hub validating with the Python rules (no schema folder), /validation open."""
    return start_hub(OPEN_VALIDATION)


def zeep_client(hub, plugins=None, wsse_plugin=None):  # type: ignore[no-untyped-def]
    import zeep
    from zeep.transports import Transport
    from zeep.wsa import WsAddressingPlugin

    session = hub.session()
    session.trust_env = False
    return zeep.Client(
        f"{hub.https_url}/validation?wsdl",
        transport=Transport(session=session),
        plugins=[WsAddressingPlugin(), *(plugins or [])],
        wsse=wsse_plugin,
    )


def test_wsdl_is_served_with_the_hub_address(validation_hub) -> None:  # type: ignore[no-untyped-def]
    response = validation_hub.session().get(f"{validation_hub.https_url}/validation?wsdl", timeout=30)
    assert response.status_code == 200
    wsdl = xmlsafe.parse(response.content)
    address = wsdl.find(".//{http://schemas.xmlsoap.org/wsdl/soap12/}address")
    assert address is not None and address.get("location") == f"{validation_hub.https_url}/validation"


def test_zeep_validates_a_valid_and_an_invalid_document(start_hub, with_schema: Path | None) -> None:  # type: ignore[no-untyped-def]
    client = zeep_client(start_hub(OPEN_VALIDATION + cda_section(with_schema)))
    valid = client.service.Validate(Document=cda_samples.sample("vac-carnet"), Name="vac.xml")
    assert valid.Valid is True
    assert valid.Profile == "ci-sis"
    assert valid.RuleSets == "cda-r2 ci-sis-header vac"
    assert {s.name: s.status for s in valid.Step}["schema"] == ("passed" if with_schema else "skipped")

    invalid_document = document_bytes("missing-custodian")
    invalid = client.service.Validate(Document=invalid_document, Profile="ci-sis")
    assert invalid.Valid is False
    findings = [(f.rule, f.severity, f.line) for s in invalid.Step for f in s.Finding]
    assert ("CISIS-HDR-CUSTODIAN", "error", line_of(invalid_document, "/cda:ClinicalDocument")) in findings
    schema_finding = ("CDA-XSD", "error", line_of(invalid_document, "cda:legalAuthenticator"))
    assert (schema_finding in findings) is (with_schema is not None)
    detailed = invalid.DetailedResult._value_1
    assert detailed.findtext("ValidationResultsOverview/ValidationTestResult") == "FAILED"


def test_xxe_document_is_refused_by_the_service(validation_hub, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    secret = tmp_path / "secret.txt"
    secret.write_text("SECRET-OUTSIDE-THE-DOCUMENT")
    client = zeep_client(validation_hub)
    result = client.service.Validate(Document=cda_samples.external_entity_document(secret.as_uri()))
    assert result.Valid is False
    assert [f.rule for s in result.Step for f in s.Finding] == ["XML-WELLFORMED"]
    output = "".join(validation_hub.output)
    assert "EXPANDED" not in output and "SECRET-OUTSIDE-THE-DOCUMENT" not in output


def test_corpus_xxe_document_is_refused_by_the_service(validation_hub, corpus: Path) -> None:  # type: ignore[no-untyped-def]
    client = zeep_client(validation_hub)
    result = client.service.Validate(Document=(corpus / "cda/CDADocumentWithXXEInjection.xml").read_bytes())
    assert result.Valid is False
    assert [f.rule for s in result.Step for f in s.Finding] == ["XML-WELLFORMED"]
    assert "VULNERABLE" not in "".join(validation_hub.output)


def test_document_as_an_mtom_part(validation_hub) -> None:  # type: ignore[no-untyped-def]
    document = cda_samples.sample("cr-bio")
    boundary = f"MIMEBoundary_{uuid.uuid4().hex}"
    envelope = (
        f'<soap:Envelope xmlns:soap="{soap.SOAP12}" xmlns:wsa="{soap.WSA}">'
        f"<soap:Header><wsa:Action>{ACTION_VALIDATE}</wsa:Action>"
        f"<wsa:MessageID>urn:uuid:{uuid.uuid4()}</wsa:MessageID></soap:Header>"
        f'<soap:Body><val:ValidateRequest xmlns:val="{NAMESPACE}"><val:Document>'
        f'<xop:Include xmlns:xop="{soap.XOP}" href="cid:doc@test"/></val:Document>'
        "<val:Profile>auto</val:Profile></val:ValidateRequest></soap:Body></soap:Envelope>"
    ).encode()
    body = (
        f"--{boundary}\r\nContent-Type: application/xop+xml; charset=UTF-8; type=\"application/soap+xml\"\r\n"
        "Content-Transfer-Encoding: binary\r\nContent-ID: <root@test>\r\n\r\n"
    ).encode() + envelope + (
        f"\r\n--{boundary}\r\nContent-Type: text/xml\r\nContent-Transfer-Encoding: binary\r\n"
        "Content-ID: <doc@test>\r\n\r\n"
    ).encode() + document + f"\r\n--{boundary}--\r\n".encode()
    content_type = (
        f'multipart/related; type="application/xop+xml"; boundary="{boundary}"; '
        f'start="<root@test>"; start-info="application/soap+xml"; action="{ACTION_VALIDATE}"'
    )
    response = validation_hub.session().post(
        f"{validation_hub.https_url}/validation", data=body, headers={"Content-Type": content_type}, timeout=60
    )
    assert response.status_code == 200, response.text
    result = xmlsafe.parse(response.content).find(f".//{VAL}ValidateResponse")
    assert result is not None
    assert result.findtext(f"{VAL}Valid") == "true"
    assert result.findtext(f"{VAL}RuleSets") == "cda-r2 ci-sis-header xd-lab cr-bio"


def test_unknown_profile_is_a_sender_fault(validation_hub) -> None:  # type: ignore[no-untyped-def]
    # The WSDL enumerates the profiles, so zeep would refuse to send this one: raw XML.
    body = etree.fromstring(
        f'<val:ValidateRequest xmlns:val="{NAMESPACE}"><val:Document>PHgvPg==</val:Document>'
        "<val:Profile>hl7</val:Profile></val:ValidateRequest>"
    )
    response = validation_hub.session().post(
        f"{validation_hub.https_url}/validation", data=wsse.envelope(ACTION_VALIDATE, body, None),
        headers={"Content-Type": "application/soap+xml; charset=UTF-8"}, timeout=30,
    )
    assert response.status_code == 400
    fault = xmlsafe.parse(response.content)
    assert fault.findtext(f".//{{{soap.SOAP12}}}Code/{{{soap.SOAP12}}}Value") == "soap:Sender"
    assert "unknown profile 'hl7'" in (fault.findtext(f".//{{{soap.SOAP12}}}Text") or "")


def issue_assertion(tsnhub_executable: list[str], pki: Path) -> etree._Element:
    result = subprocess.run(
        [*tsnhub_executable, "vihf", "issue", "--key", str(pki / "vihf-signer.key"), "--cert", str(pki / "vihf-signer.pem"),
         "--subject-id", "899900012347", "--subject-name", "MASSERAN, Aurélien", "--role", "10", "--role", "SM54",
         "--structure-id", "49990001234701", "--sector", "SA07"],
        capture_output=True, timeout=60, check=True,
    )
    return xmlsafe.parse(result.stdout)


def test_service_follows_the_vihf_security_setting(
    start_hub, with_schema: Path | None, pki: Path, tsnhub_executable: list[str]  # type: ignore[no-untyped-def]
) -> None:
    import zeep.exceptions

    hub = start_hub(cda_section(with_schema))
    document = cda_samples.sample("cisis-structuration-minimale")
    with pytest.raises(zeep.exceptions.Fault):
        zeep_client(hub).service.Validate(Document=document)
    assertion = issue_assertion(tsnhub_executable, pki)
    client = zeep_client(hub, wsse_plugin=wsse.VihfSecurity(lambda: assertion))
    result = client.service.Validate(Document=document)
    assert result.Valid is True


def test_unusable_cda_configuration_stops_the_hub(start_hub, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(RuntimeError, match="schema directory"):
        start_hub(f'[cda]\nschema_dir = "{tmp_path / "absent"}"\n')
    with pytest.raises(RuntimeError, match="submission_gate"):
        start_hub('[cda]\nsubmission_gate = "block"\n')
