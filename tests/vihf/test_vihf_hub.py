"""VIHF against a running hub (`tsnhub serve`), over HTTPS, through the WhoAmI service:
issue 3 "Done when" 1 (round trip) and 2 (each refusal answered with its fault and an
audit record). Tests over a template run on the project's samples and, with the corpus,
on the shared composed templates (conftest.py)."""
from __future__ import annotations

import copy
import subprocess
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import requests
from lxml import etree
from sqlalchemy import create_engine, func, select

from conformance.hubprocess import HubProcess, launch_hub
from hub.wire import soap, xmlsafe
from hub.store.models.audit import AuditRecord
from vihf import faults, names, wsse
from hub.authentication import NS, WHOAMI_ACTION, WHOAMI_PATH, WHOAMI_TRANSACTION, WHOAMI_WSDL
from vihf_testing import OTHER_NAME_ID, OTHER_STRUCTURE, S, attribute

DS = f"{{{names.DS}}}"
WSSE_TAG = f"{{{names.WSSE}}}"


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory, pki: Path) -> Iterator[HubProcess]:
    """One hub with the default configuration (VIHF required) for the refusal tests."""
    process = launch_hub(tmp_path_factory.mktemp("vihf-hub"), pki)
    yield process
    process.stop()


def whoami_body(patient: str | None = None) -> etree._Element:
    body = etree.Element(f"{{{NS}}}WhoAmI", nsmap={"vihf": NS})
    if patient:
        etree.SubElement(body, f"{{{NS}}}PatientId").text = patient
    return body


def post(hub: HubProcess, data: bytes) -> requests.Response:
    return hub.session().post(
        hub.https_url + WHOAMI_PATH,
        data=data,
        headers={"Content-Type": f'application/soap+xml; charset=UTF-8; action="{WHOAMI_ACTION}"'},
        timeout=30,
    )


def call(hub: HubProcess, assertion: etree._Element | None, patient: str | None = None) -> requests.Response:
    return post(hub, wsse.envelope(WHOAMI_ACTION, whoami_body(patient), assertion))


def call_with_security(hub: HubProcess, security: etree._Element) -> requests.Response:
    root = xmlsafe.parse(wsse.envelope(WHOAMI_ACTION, whoami_body(), None))
    root.find(f"{{{soap.SOAP12}}}Header").append(security)
    return post(hub, etree.tostring(root))


def last_audit_id(hub: HubProcess) -> int:
    engine = create_engine(hub.db_url)
    try:
        with engine.connect() as connection:
            return connection.execute(select(func.coalesce(func.max(AuditRecord.id), 0))).scalar_one()
    finally:
        engine.dispose()


def audits_after(hub: HubProcess, after: int) -> list[AuditRecord]:
    engine = create_engine(hub.db_url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(select(AuditRecord).where(AuditRecord.id > after).order_by(AuditRecord.id))
            return list(rows)
    finally:
        engine.dispose()


def assert_refused(hub: HubProcess, response: requests.Response, subcode: str, before: int) -> str:
    """The SOAP 1.2 fault is Sender / wsse:`subcode`, and one audit record says refused."""
    assert response.status_code == 400, response.text
    root = xmlsafe.parse(response.content)
    fault = root.find(f"{{{soap.SOAP12}}}Body/{{{soap.SOAP12}}}Fault")
    assert fault is not None, response.text
    code = fault.find(f"{{{soap.SOAP12}}}Code")
    assert code.findtext(f"{{{soap.SOAP12}}}Value") == "soap:Sender"
    value = code.find(f"{{{soap.SOAP12}}}Subcode/{{{soap.SOAP12}}}Value")
    prefix, _, local = value.text.partition(":")
    assert (value.nsmap[prefix], local) == (soap.WSSE, subcode)
    reason = fault.findtext(f"{{{soap.SOAP12}}}Reason/{{{soap.SOAP12}}}Text")
    records = audits_after(hub, before)
    assert [(r.transaction, r.outcome) for r in records] == [(WHOAMI_TRANSACTION, "refused")]
    assert records[0].detail == reason
    return reason


# -- Done when 1: round trip -------------------------------------------------------------

def test_round_trip_assertion_from_tsnhub_vihf_issue(start_hub, pki: Path, tsnhub_executable) -> None:
    hub = start_hub()
    issued = subprocess.run(
        [*tsnhub_executable, "vihf", "issue", "--key", str(pki / "vihf-signer.key"), "--cert", str(pki / "vihf-signer.pem"),
         "--subject-id", "899900012347", "--subject-name", "MASSERAN, Aurélien, Médecine générale",
         "--role", "10", "--role", "SM26", "--structure-id", "49990001234701", "--sector", "SA07",
         "--patient", "287043523811712", "--purpose", "normal", "--ttl", "300",
         "--software-name", "LGC-TEST", "--registration-id", "TEST-HOMOLOG-0001"],
        capture_output=True, text=True, timeout=60, check=True,
    )
    assertion = xmlsafe.parse(issued.stdout.encode())
    before = last_audit_id(hub)
    response = call(hub, assertion, patient="287043523811712^^^&1.2.250.1.213.1.4.10&ISO")
    assert response.status_code == 200, response.text
    answer = xmlsafe.parse(response.content).find(f"{{{soap.SOAP12}}}Body/{{{NS}}}WhoAmIResponse")
    assert answer is not None

    def read(name: str) -> etree._Element:
        element = answer.find(f"{{{NS}}}{name}")
        assert element is not None, name
        return element

    assert read("AssertionID").text == assertion.get("ID")
    assert read("VihfVersion").text == "3.0"
    subject = read("Subject")
    assert (subject.get("id"), subject.get("type"), subject.text) == (
        "899900012347", "RPPS", "MASSERAN, Aurélien, Médecine générale"
    )
    assert [(r.get("code"), r.get("codeSystem")) for r in answer.findall(f"{{{NS}}}Role")] == [
        ("10", names.TRE_G15_PROFESSION_SANTE), ("SM26", names.TRE_R01_ENSEMBLE_SAVOIR_FAIRE)
    ]
    assert (read("Sector").get("code"), read("Sector").get("codeSystem")) == ("SA07", names.TRE_R02_SECTEUR_ACTIVITE)
    assert read("Structure").get("id") == "49990001234701"
    assert read("Structure").get("name") == "tsnhub development structure"
    assert read("PurposeOfUse").get("code") == "normal"
    assert read("Patient").get("id") == "287043523811712"
    assert read("Software").get("name") == "LGC-TEST"
    assert read("Software").get("registrationId") == "TEST-HOMOLOG-0001"
    assert read("Access").get("allowed") == "true"
    records = audits_after(hub, before)
    assert [(r.transaction, r.outcome, r.who) for r in records] == [
        (WHOAMI_TRANSACTION, "success", "RPPS 899900012347 (structure 49990001234701)")
    ]
    assert records[0].patient == "287043523811712^^^&1.2.250.1.213.1.4.10&ISO"


def test_zeep_style_plugin_adds_the_header_the_hub_accepts(hub: HubProcess, signed, facts) -> None:
    plugin = wsse.VihfSecurity(lambda: signed("vihf-hospital-indirecte-nurse"))
    root = xmlsafe.parse(wsse.envelope(WHOAMI_ACTION, whoami_body(), None))
    root, _ = plugin.apply(root, {})
    response = post(hub, etree.tostring(root))
    assert response.status_code == 200, response.text
    assert facts.nurse_name_id.encode() in response.content


def test_zeep_client_with_the_vihf_plugin_reaches_whoami(hub: HubProcess, signed, facts) -> None:
    """A zeep client built from the WhoAmI WSDL, with WS-Addressing and `VihfSecurity` as
    its `wsse=` plugin: one fresh assertion per call, so two calls are both accepted."""
    from zeep import Client, Settings
    from zeep.transports import Transport
    from zeep.wsa import WsAddressingPlugin

    client = Client(
        str(WHOAMI_WSDL),
        transport=Transport(session=hub.session()),
        wsse=wsse.VihfSecurity(lambda: signed("vihf-automate")),
        plugins=[WsAddressingPlugin()],
        settings=Settings(strict=False),
    )
    service = client.create_service("{urn:tsnhub:vihf}VihfWhoAmIBinding", hub.https_url + WHOAMI_PATH)
    for _ in range(2):
        with client.settings(raw_response=True):
            response = service.WhoAmI()
        assert response.status_code == 200, response.text
        subject = xmlsafe.parse(response.content).find(f".//{{{NS}}}Subject")
        assert (subject.get("id"), subject.text) == (facts.automate_name_id, facts.automate_subject_name)


def test_break_the_glass_is_accepted_and_recorded(hub: HubProcess, signed, facts) -> None:
    before = last_audit_id(hub)
    response = call(hub, signed("vihf-break-the-glass"), patient=facts.cx(facts.btg_patient))
    assert response.status_code == 200, response.text
    access = xmlsafe.parse(response.content).find(f".//{{{NS}}}Access")
    assert access.get("breakTheGlass") == "true"
    (record,) = audits_after(hub, before)
    assert record.outcome == "success" and record.who.endswith("[bris_de_glace]")


# -- Done when 2: refusals ---------------------------------------------------------------

def test_refused_without_assertion(hub: HubProcess) -> None:
    before = last_audit_id(hub)
    assert_refused(hub, call(hub, None), faults.SECURITY_TOKEN_UNAVAILABLE, before)


def test_refused_unsigned_assertion(hub: HubProcess, template) -> None:
    before = last_audit_id(hub)
    assert_refused(hub, call(hub, template()), faults.FAILED_AUTHENTICATION, before)


def test_refused_value_altered_after_signing(hub: HubProcess, signed) -> None:
    assertion = signed()
    attribute(assertion, names.IDENTIFIANT_STRUCTURE).find(f"{S}AttributeValue").text = OTHER_STRUCTURE
    before = last_audit_id(hub)
    reason = assert_refused(hub, call(hub, assertion), faults.FAILED_AUTHENTICATION, before)
    assert OTHER_STRUCTURE not in reason


def test_refused_signature_by_a_certificate_outside_the_trust_store(hub: HubProcess, signed, foreign_signer) -> None:
    before = last_audit_id(hub)
    assert_refused(hub, call(hub, signed(by=foreign_signer)), faults.FAILED_AUTHENTICATION, before)


def test_refused_expired(hub: HubProcess, signed) -> None:
    before = last_audit_id(hub)
    old = datetime.now(timezone.utc) - timedelta(minutes=30)
    reason = assert_refused(hub, call(hub, signed(now=old)), faults.FAILED_AUTHENTICATION, before)
    assert "expired" in reason


def test_refused_not_yet_valid(hub: HubProcess, signed) -> None:
    before = last_audit_id(hub)
    later = datetime.now(timezone.utc) + timedelta(minutes=30)
    assert_refused(hub, call(hub, signed(now=later)), faults.FAILED_AUTHENTICATION, before)


def test_refused_missing_mandatory_attribute(hub: HubProcess, signed) -> None:
    before = last_audit_id(hub)
    reason = assert_refused(hub, call(hub, signed("invalid-missing-vihf-version")), faults.INVALID_SECURITY_TOKEN, before)
    assert names.VIHF_VERSION in reason


def test_refused_unknown_vihf_version(hub: HubProcess, signed) -> None:
    def version_2(assertion: etree._Element) -> None:
        attribute(assertion, names.VIHF_VERSION).find(f"{S}AttributeValue").text = "2.0"

    before = last_audit_id(hub)
    assert_refused(hub, call(hub, signed(edit=version_2)), faults.INVALID_SECURITY_TOKEN, before)


def test_refused_replayed_assertion_id(hub: HubProcess, signed) -> None:
    assertion = signed()
    assert call(hub, assertion).status_code == 200
    before = last_audit_id(hub)
    reason = assert_refused(hub, call(hub, assertion), faults.FAILED_AUTHENTICATION, before)
    assert "replay" in reason


def test_refused_wrapping_second_assertion(hub: HubProcess, signed) -> None:
    security = etree.Element(f"{WSSE_TAG}Security", nsmap={"wsse": names.WSSE})
    security.append(signed())
    security.append(signed("vihf-automate"))
    before = last_audit_id(hub)
    assert_refused(hub, call_with_security(hub, security), faults.INVALID_SECURITY_TOKEN, before)


def test_refused_wrapping_moved_signed_element(hub: HubProcess, signed) -> None:
    """Forgery in wsse:Security with the genuine ID and signature; the genuine assertion
    moved into the Body."""
    genuine = signed()
    forged = copy.deepcopy(genuine)
    forged.find(f"{S}Subject/{S}NameID").text = OTHER_NAME_ID
    body = whoami_body()
    body.append(copy.deepcopy(genuine))
    before = last_audit_id(hub)
    response = post(hub, wsse.envelope(WHOAMI_ACTION, body, forged))
    assert_refused(hub, response, faults.INVALID_SECURITY_TOKEN, before)


def test_refused_wrapping_signature_referencing_another_id(hub: HubProcess, signed) -> None:
    genuine = signed()
    forged = copy.deepcopy(genuine)
    forged.set("ID", "_forged-0001")
    forged.find(f"{S}Subject/{S}NameID").text = OTHER_NAME_ID
    holder = etree.Element(f"{WSSE_TAG}SecurityTokenReference")
    holder.append(copy.deepcopy(genuine))
    security = etree.Element(f"{WSSE_TAG}Security", nsmap={"wsse": names.WSSE})
    security.append(forged)
    security.append(holder)
    before = last_audit_id(hub)
    assert_refused(hub, call_with_security(hub, security), faults.INVALID_SECURITY_TOKEN, before)


def test_wrapping_comment_inside_a_value_reads_the_whole_signed_value(hub: HubProcess, signed, facts) -> None:
    assertion = signed()
    name_id = assertion.find(f"{S}Subject/{S}NameID")
    name_id.text = facts.gp_name_id[:7]
    comment = etree.Comment("x")
    comment.tail = facts.gp_name_id[7:]
    name_id.append(comment)
    response = call(hub, assertion)
    assert response.status_code == 200, response.text
    subject = xmlsafe.parse(response.content).find(f".//{{{NS}}}Subject")
    assert subject.get("id") == facts.gp_name_id


def test_refused_patient_other_than_the_assertion_patient(hub: HubProcess, signed, facts) -> None:
    before = last_audit_id(hub)
    other = facts.cx(facts.other_patient)
    reason = assert_refused(hub, call(hub, signed(), patient=other), faults.FAILED_AUTHENTICATION, before)
    assert "another patient" in reason and facts.other_patient not in reason
    (record,) = audits_after(hub, before)
    assert record.who == facts.gp_audit_who


def test_whoami_verifies_even_where_vihf_is_not_required(open_hub: HubProcess, template, signed, facts) -> None:
    """WhoAmI exists to check assertions: on a hub with `require_vihf = false` it still
    verifies the assertion it is given."""
    before = last_audit_id(open_hub)
    assert_refused(open_hub, call(open_hub, template()), faults.FAILED_AUTHENTICATION, before)
    response = call(open_hub, signed("vihf-hospital-indirecte-nurse"))
    assert response.status_code == 200, response.text
    assert xmlsafe.parse(response.content).find(f".//{{{NS}}}Subject").get("id") == facts.nurse_name_id
