"""vihf.parse on real published assertions (corpus/saml, interoperability layer) and on the
templates (the project's samples and, with the corpus, the shared composed templates)."""
from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree

from hub.wire import xmlsafe
from vihf import dn, faults, names, signature
from vihf.faults import VihfRefusal
from vihf.parse import AssertionFormatError, parse_assertion
from vihf.principal import PatientId

ASSERTION = f"{{{names.SAML}}}Assertion"
ANS_EXAMPLE = "vihf/ansforge-IG-transmission-cda-r2_mapping_VIHF-automate-example.xml"


def real_assertions(corpus: Path) -> list[tuple[str, etree._Element]]:
    found = []
    for path in sorted((corpus / "saml").rglob("*.xml")):
        root = xmlsafe.parse(path.read_bytes())
        for index, assertion in enumerate(root.iter(ASSERTION)):
            found.append((f"{path.relative_to(corpus / 'saml')}#{index}", assertion))
    return found


def test_every_real_assertion_of_the_corpus_parses(corpus: Path) -> None:
    assertions = real_assertions(corpus)
    assert len(assertions) >= 15
    for label, assertion in assertions:
        principal = parse_assertion(assertion)
        assert principal.assertion_id == assertion.get("ID"), label
        assert principal.subject_id and principal.subject_id == principal.subject_id.strip(), label
        assert not principal.signed


def test_real_assertion_signatures_cannot_be_checked_and_are_never_accepted(corpus: Path) -> None:
    """Signature checks of the published samples are skipped: their signing certificates
    are not available (placeholders such as `WWWW`, `omitted for brevity`, or no KeyInfo
    certificate at all), and the one sample with a real certificate (a Swiss test
    certificate whose CA we do not hold) does not verify as published. What this test does
    assert: the verifier refuses each of them rather than accepting an assertion whose
    signature it could not verify."""
    for label, assertion in real_assertions(corpus):
        with pytest.raises(VihfRefusal) as caught:
            signature.verify(assertion, allow_sha1=True)
        assert caught.value.subcode in (faults.INVALID_SECURITY_TOKEN, faults.FAILED_AUTHENTICATION), label


def test_ans_automate_example_reads_as_the_ans_table_says(corpus: Path) -> None:
    root = xmlsafe.parse((corpus / "saml" / ANS_EXAMPLE).read_bytes())
    principal = parse_assertion(root.find(ASSERTION))
    assert principal.vihf_version == "3.0"
    assert principal.subject_id == "XXXXX/XXXXXX" and principal.subject_id_type == "local"
    assert principal.subject_name == "XX,XX, XX"  # the comment before the value is not part of it
    assert principal.authentication_mode == names.INDIRECTE
    assert str(principal.sector) == "SA41^1.2.250.1.71.4.2.4"
    assert [(r.code, r.code_system) for r in principal.roles] == [("AUTOMATE", names.TRE_A00_PRODUCTEUR_DOC_NON_PS)]
    assert principal.purpose == names.NORMAL
    assert principal.patient == PatientId("XXXXXXX", names.INS_NIR_TEST, "NH")
    assert principal.authn_context == names.AC_UNSPECIFIED
    assert principal.software.name == "EVOSIPS" and principal.software.instance_id == "1.2.250.1.259.1.1.1234567890"
    assert principal.structure_name == "XXXXXX"  # O= of the X.500-order Issuer
    assert principal.not_on_or_after is None


def test_swiss_xua_assertion_reads_its_common_xspa_attributes(corpus: Path) -> None:
    root = xmlsafe.parse((corpus / "saml" / "ipf" / "xua-assertion.xml").read_bytes())
    principal = parse_assertion(root if root.tag == ASSERTION else root.find(f".//{ASSERTION}"))
    assert principal.subject_id == "9801000050702"
    assert principal.vihf_version is None  # not a VIHF: verification would refuse it
    assert principal.roles[0].code == "HCP"
    assert principal.patient is not None and principal.patient.assigning_authority == "2.16.756.5.30.1.127.3.10.3"


def test_composed_break_the_glass_template(template, facts) -> None:
    principal = parse_assertion(template("vihf-break-the-glass"))
    assert principal.purpose == names.BRIS_DE_GLACE and principal.break_the_glass
    assert principal.patient is not None and principal.patient.id == facts.btg_patient
    assert principal.patient.assigning_authority == names.INS_NIR_TEST
    assert not principal.signed


def test_assertion_without_name_id_is_a_format_error(template) -> None:
    assertion = template("vihf-automate")
    subject = assertion.find(f"{{{names.SAML}}}Subject")
    subject.remove(subject[0])
    with pytest.raises(AssertionFormatError, match="NameID"):
        parse_assertion(assertion)


def test_malformed_resource_id_is_a_format_error(template, facts) -> None:
    assertion = template("vihf-automate")
    for element in assertion.iter(f"{{{names.SAML}}}Attribute"):
        if element.get("Name") == names.RESOURCE_ID:
            element[0].text = facts.gp_patient
    with pytest.raises(AssertionFormatError, match="CX"):
        parse_assertion(assertion)


@pytest.mark.parametrize(
    "written",
    [
        "CN=DMP SIGN,OU=XXXXXXXX,O=XXXXXX,ST=Paris (75),C=FR",
        "C=FR, ST=Paris (75), O=XXXXXX, OU=XXXXXXXX, CN=DMP SIGN",
        "CN=DMP SIGN, OU=XXXXXXXX,S=Paris (75),O=XXXXXX,C=FR",
    ],
)
def test_issuer_dn_comparison_is_rdn_aware(written: str) -> None:
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "FR"),
            x509.NameAttribute(NameOID.STATE_OR_PROVINCE_NAME, "Paris (75)"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "XXXXXX"),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "XXXXXXXX"),
            x509.NameAttribute(NameOID.COMMON_NAME, "DMP SIGN"),
        ]
    )
    assert dn.same_subject(written, subject)
    assert not dn.same_subject(written.replace("DMP SIGN", "DMP SIGN 2"), subject)


def test_cx_identifier_forms() -> None:
    assert PatientId.parse("287043523811712^^^&1.2.250.1.213.1.4.10&ISO^NH") == PatientId(
        "287043523811712", names.INS_NIR_TEST, "NH"
    )
    named = PatientId.parse("184127512345640^^^ASIP-SANTE-INS-NIR&1.2.250.1.213.1.4.8&ISO^INS")
    assert named.is_ins and named.same_patient(PatientId("184127512345640", names.INS_NIR, "NH"))
    with pytest.raises(ValueError):
        PatientId.parse("184127512345640")
