"""vihf.issue and `tsnhub vihf issue`: conformant, signed VIHF 3.0 assertions."""
from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import signxml
from lxml import etree

from hub.wire import xmlsafe
from vihf import names
from vihf.issue import Signer, issue, roles_from
from vihf.principal import Code
from vihf_testing import S, attribute, request_header

DS = f"{{{names.DS}}}"


def _gp(signer: Signer, **options: object) -> etree._Element:
    return issue(
        signer,
        subject_id="899900012347",
        subject_name="MASSERAN, Aurélien, Médecine générale",
        roles=["10", "SM26"],
        structure_id="49990001234701",
        sector="SA07",
        patient="287043523811712",
        **options,
    )


def test_issued_assertion_is_accepted_by_the_verifier(verifier, signer) -> None:
    principal = verifier.verify_header(request_header(_gp(signer)))
    assert principal.subject_id == "899900012347"
    assert principal.issuer == signer.issuer_dn
    assert [str(r) for r in principal.roles] == ["10^1.2.250.1.71.1.2.7", "SM26^1.2.250.1.71.4.2.5"]
    assert str(principal.sector) == "SA07^1.2.250.1.71.4.2.4"
    assert principal.patient is not None and principal.patient.cx() == "287043523811712^^^&1.2.250.1.213.1.4.10&ISO^NH"


def test_signature_placement_and_algorithms_follow_the_spec(signer) -> None:
    assertion = _gp(signer)
    children = [c for c in assertion if isinstance(c.tag, str)]
    assert [etree.QName(c).localname for c in children] == [
        "Issuer", "Signature", "Subject", "Conditions", "AuthnStatement", "AttributeStatement"
    ]
    signed_info = children[1].find(f"{DS}SignedInfo")
    assert signed_info.find(f"{DS}CanonicalizationMethod").get("Algorithm") == names.EXC_C14N
    assert signed_info.find(f"{DS}SignatureMethod").get("Algorithm") == names.RSA_SHA256
    reference = signed_info.find(f"{DS}Reference")
    assert reference.get("URI") == "#" + assertion.get("ID")
    transforms = reference.findall(f"{DS}Transforms/{DS}Transform")
    assert [t.get("Algorithm") for t in transforms] == [names.ENVELOPED_SIGNATURE, names.EXC_C14N]
    prefixes = transforms[1].find(f"{{{names.EXC_C14N_NS}}}InclusiveNamespaces")
    assert prefixes.get("PrefixList") == "ds saml #default xsi"
    assert reference.find(f"{DS}DigestMethod").get("Algorithm") == names.SHA256
    assert children[1].find(f"{DS}KeyInfo/{DS}X509Data/{DS}X509Certificate") is not None
    assert not assertion.get("ID")[0].isdigit()


def test_signxml_verifies_what_xmlsec_signed(signer) -> None:
    """Cross-check with the other library (signxml), as ARCHITECTURE.md asks."""
    assertion = xmlsafe.parse(etree.tostring(_gp(signer)))
    result = signxml.XMLVerifier().verify(assertion, x509_cert=signer.certificate, id_attribute="ID")
    assert result.signed_xml.get("ID") == assertion.get("ID")


def test_coded_values_are_hl7_v3_ce_elements(signer) -> None:
    assertion = _gp(signer, purpose="bris_de_glace", break_the_glass_reason="urgence vitale")
    role = attribute(assertion, names.SUBJECT_ROLE).find(f"{S}AttributeValue")[0]
    assert role.tag == f"{{{names.HL7V3}}}Role" and role.get(f"{{{names.XSI}}}type") == "CE"
    purpose = attribute(assertion, names.PURPOSE_OF_USE).find(f"{S}AttributeValue")[0]
    assert (purpose.get("code"), purpose.get("codeSystem")) == ("bris_de_glace", names.JDV_J38_MODE_ACCES_CISIS)
    assert attribute(assertion, names.MODE_ACCES_RAISON).findtext(f"{S}AttributeValue") == "urgence vitale"


def test_role_code_systems_are_inferred_from_the_first_role() -> None:
    assert roles_from(["21", "A"]) == (Code("21", names.TRE_G15_PROFESSION_SANTE), Code("A", names.TRE_G05_SOUS_SECTION_CNOP))
    assert roles_from(["AUTOMATE"]) == (Code("AUTOMATE", names.TRE_A00_PRODUCTEUR_DOC_NON_PS),)
    assert roles_from(["10^1.2.250.1.71.1.2.8"]) == (Code("10", names.TRE_G16_PROFESSION_FORMATION),)


def test_a_medecin_without_specialty_is_not_issued(signer) -> None:
    with pytest.raises(ValueError, match="second role"):
        issue(signer, subject_id="899900012347", subject_name="X", roles=["10"], structure_id="1", sector="SA07")


def test_cli_prints_a_signed_assertion(tsnhub_executable: list[str], pki: Path, verifier) -> None:
    completed = subprocess.run(
        [*tsnhub_executable, "vihf", "issue", "--key", str(pki / "vihf-signer.key"), "--cert", str(pki / "vihf-signer.pem"),
         "--subject-id", "899900042344", "--subject-name", "PAPIN, Julien, Cardiologie", "--role", "60",
         "--structure-id", "1990000010", "--sector", "SA01", "--patient", "179114410905287", "--ttl", "120"],
        capture_output=True, text=True, timeout=60, check=True,
    )
    assertion = xmlsafe.parse(completed.stdout.encode())
    principal = verifier.verify_header(request_header(assertion))
    assert (principal.subject_id, principal.roles[0].code, principal.structure_id) == ("899900042344", "60", "1990000010")
    assert principal.not_on_or_after is not None and principal.not_before is not None
    assert (principal.not_on_or_after - principal.not_before).total_seconds() == 120


def test_cli_usage_error_for_a_medecin_without_specialty(tsnhub_executable: list[str], pki: Path) -> None:
    completed = subprocess.run(
        [*tsnhub_executable, "vihf", "issue", "--key", str(pki / "vihf-signer.key"), "--cert", str(pki / "vihf-signer.pem"),
         "--subject-id", "899900012347", "--subject-name", "X", "--role", "10", "--structure-id", "1", "--sector", "SA07"],
        capture_output=True, text=True, timeout=60,
    )
    assert completed.returncode == 2
    assert "second role" in completed.stderr and completed.stdout == ""
