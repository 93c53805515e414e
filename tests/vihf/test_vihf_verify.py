"""vihf.verify: one test per rule of spec §6, asserting the WS-Security fault subcode.
Every test over a template runs on the project's samples and, with the corpus, on the
shared composed templates (conftest.py)."""
from __future__ import annotations

import copy
from datetime import datetime, timedelta, timezone

import pytest
from lxml import etree

from vihf import faults, names
from vihf.faults import VihfRefusal
from vihf.issue import sign
from vihf.verify import Settings, Verifier
from vihf_testing import INVALID, OTHER_ISSUER, OTHER_NAME_ID, OTHER_STRUCTURE, S, TEMPLATES, attribute, request_header

DS = f"{{{names.DS}}}"
WSSE = f"{{{names.WSSE}}}"


def refused(verifier: Verifier, header: etree._Element) -> VihfRefusal:
    with pytest.raises(VihfRefusal) as caught:
        verifier.verify_header(header)
    fault = caught.value
    assert fault.subcode in (faults.INVALID_SECURITY_TOKEN, faults.FAILED_AUTHENTICATION, faults.SECURITY_TOKEN_UNAVAILABLE)
    return fault


def security(*children: etree._Element) -> etree._Element:
    block = etree.Element(f"{WSSE}Security", nsmap={"wsse": names.WSSE})
    for child in children:
        block.append(copy.deepcopy(child))
    return block


# -- accepted ---------------------------------------------------------------------------

@pytest.mark.parametrize("name", TEMPLATES)
def test_each_valid_composed_template_is_accepted(verifier, signed, name) -> None:
    principal = verifier.verify_header(request_header(signed(name)))
    assert principal.signed
    assert principal.vihf_version == "3.0"
    assert principal.structure_name == "tsnhub development structure"


def test_principal_fields_of_the_gp_template(verifier, signed, facts) -> None:
    assertion = signed("vihf-gp-cps-directe")
    principal = verifier.verify_header(request_header(assertion))
    assert principal.assertion_id == assertion.get("ID")
    assert (principal.subject_id, principal.subject_id_type) == (facts.gp_name_id, "RPPS")
    assert principal.subject_name == facts.gp_subject_name
    assert [(r.code, r.code_system) for r in principal.roles] == [
        ("10", names.TRE_G15_PROFESSION_SANTE),
        ("SM26", names.TRE_R01_ENSEMBLE_SAVOIR_FAIRE),
    ]
    assert str(principal.sector) == facts.gp_sector == "SA07^1.2.250.1.71.4.2.4"
    assert principal.structure_id == facts.gp_structure
    assert principal.authentication_mode == names.DIRECTE
    assert principal.authn_context == names.AC_SMARTCARD_PKI
    assert principal.purpose == names.NORMAL and not principal.break_the_glass
    assert principal.patient is not None
    assert (principal.patient.id, principal.patient.assigning_authority) == (facts.gp_patient, names.INS_NIR_TEST)
    assert principal.software.name == facts.gp_software
    assert principal.software.registration_id == facts.gp_registration
    assert principal.audit_who == facts.gp_audit_who


def test_break_the_glass_is_accepted_and_shows_in_audit_who(verifier, signed) -> None:
    principal = verifier.verify_header(request_header(signed("vihf-break-the-glass")))
    assert principal.break_the_glass
    assert principal.audit_who.endswith("[bris_de_glace]")


def test_issuer_spelt_in_x500_order_names_the_same_certificate(verifier, signed, signer) -> None:
    reversed_dn = ", ".join(reversed(signer.issuer_dn.split(",")))

    def x500(assertion: etree._Element) -> None:
        assertion.find(f"{S}Issuer").text = reversed_dn

    assert verifier.verify_header(request_header(signed(edit=x500))).signed


# -- locating the assertion --------------------------------------------------------------

def test_no_security_header_is_security_token_unavailable(verifier) -> None:
    assert refused(verifier, request_header(None)).subcode == faults.SECURITY_TOKEN_UNAVAILABLE


def test_empty_security_header_is_security_token_unavailable(verifier) -> None:
    fault = refused(verifier, request_header(None, security=security()))
    assert fault.subcode == faults.SECURITY_TOKEN_UNAVAILABLE


# -- signature ---------------------------------------------------------------------------

def test_unsigned_assertion_fails_authentication(verifier, template) -> None:
    fault = refused(verifier, request_header(template()))
    assert fault.subcode == faults.FAILED_AUTHENTICATION
    assert "not signed" in fault.reason


def test_value_altered_after_signing_fails_authentication(verifier, signed) -> None:
    assertion = signed()
    assertion.find(f"{S}Subject/{S}NameID").text = OTHER_NAME_ID
    fault = refused(verifier, request_header(assertion))
    assert fault.subcode == faults.FAILED_AUTHENTICATION
    assert OTHER_NAME_ID not in fault.reason


def test_signature_by_a_certificate_outside_the_trust_store_fails(verifier, signed, foreign_signer) -> None:
    fault = refused(verifier, request_header(signed(by=foreign_signer)))
    assert fault.subcode == faults.FAILED_AUTHENTICATION
    assert "trusted" in fault.reason


def test_signature_by_an_expired_certificate_of_the_trusted_ca_fails(verifier, signed, expired_signer) -> None:
    fault = refused(verifier, request_header(signed(by=expired_signer)))
    assert fault.subcode == faults.FAILED_AUTHENTICATION
    assert "validity period" in fault.reason


def test_a_ca_certificate_may_not_sign_assertions(verifier, signed, ca_signer) -> None:
    assert refused(verifier, request_header(signed(by=ca_signer))).subcode == faults.FAILED_AUTHENTICATION


def test_issuer_other_than_the_certificate_subject_fails(verifier, signed) -> None:
    def other_issuer(assertion: etree._Element) -> None:
        assertion.find(f"{S}Issuer").text = OTHER_ISSUER

    fault = refused(verifier, request_header(signed(edit=other_issuer)))
    assert fault.subcode == faults.FAILED_AUTHENTICATION
    assert "Issuer" in fault.reason


def test_rsa_sha1_is_refused_by_default(verifier, signed) -> None:
    fault = refused(verifier, request_header(signed(sha1=True)))
    assert fault.subcode == faults.INVALID_SECURITY_TOKEN


def test_rsa_sha1_is_accepted_when_configuration_allows_it(pki, store, signed) -> None:
    from hub.store.replay import ReplayCache
    from vihf.trust import TrustStore

    legacy = Verifier(TrustStore.load(pki / "ca.pem"), ReplayCache(store), Settings(allow_sha1=True))
    assert legacy.verify_header(request_header(signed(sha1=True))).signed


def test_signature_appended_after_the_statements_is_refused(verifier, signed) -> None:
    assertion = signed()
    assertion.append(assertion.find(f"{DS}Signature"))  # moves it to the end
    assert refused(verifier, request_header(assertion)).subcode == faults.INVALID_SECURITY_TOKEN


# -- signature wrapping --------------------------------------------------------------------

def test_wrapping_second_assertion_in_security_is_refused(verifier, signed) -> None:
    fault = refused(verifier, request_header(None, security=security(signed(), signed("vihf-automate"))))
    assert fault.subcode == faults.INVALID_SECURITY_TOKEN


def test_wrapping_signed_assertion_moved_next_to_a_forgery_with_its_id(verifier, signed) -> None:
    """The genuine signed assertion is hidden in the Body; a forged copy with the same ID
    and the genuine signature stands in wsse:Security."""
    genuine = signed()
    forged = copy.deepcopy(genuine)
    forged.find(f"{S}Subject/{S}NameID").text = OTHER_NAME_ID
    header = request_header(forged)
    body = header.getparent().find("{http://www.w3.org/2003/05/soap-envelope}Body")
    body[0].append(copy.deepcopy(genuine))
    fault = refused(verifier, header)
    assert fault.subcode == faults.INVALID_SECURITY_TOKEN
    assert "not unique" in fault.reason


def test_wrapping_signature_referencing_another_id_is_refused(verifier, signed) -> None:
    """A forged assertion (new ID) carries the genuine signature, whose reference points
    at the genuine assertion placed elsewhere in the message."""
    genuine = signed()
    forged = copy.deepcopy(genuine)
    forged.set("ID", "_forged")
    forged.find(f"{S}Subject/{S}NameID").text = OTHER_NAME_ID
    holder = etree.Element(f"{WSSE}SecurityTokenReference")
    holder.append(copy.deepcopy(genuine))
    fault = refused(verifier, request_header(None, security=security(forged, holder)))
    assert fault.subcode == faults.INVALID_SECURITY_TOKEN
    assert "own ID" in fault.reason


def test_wrapping_genuine_assertion_nested_in_a_forgery_is_refused(verifier, signed) -> None:
    genuine = signed()
    forged = copy.deepcopy(genuine)
    forged.set("ID", "_forged")
    forged.find(f"{S}Subject/{S}NameID").text = OTHER_NAME_ID
    forged.remove(forged.find(f"{DS}Signature"))
    advice = etree.SubElement(forged, f"{S}Advice")
    advice.append(copy.deepcopy(genuine))
    forged.find(f"{S}Issuer").addnext(advice)
    fault = refused(verifier, request_header(forged))
    assert fault.subcode == faults.INVALID_SECURITY_TOKEN


def test_wrapping_signature_moved_out_of_the_assertion_is_refused(verifier, signed) -> None:
    genuine = signed()
    detached = genuine.find(f"{DS}Signature")
    genuine.remove(detached)
    fault = refused(verifier, request_header(None, security=security(genuine, detached)))
    assert fault.subcode == faults.FAILED_AUTHENTICATION
    assert "not signed" in fault.reason


def test_comment_inside_a_signed_value_cannot_shorten_it(verifier, signed, facts) -> None:
    """Exclusive c14n drops comments, so `8999000<!---->12347` keeps a valid signature;
    the value read must still be the whole signed value, never the text before the comment."""
    assertion = signed()
    name_id = assertion.find(f"{S}Subject/{S}NameID")
    name_id.text = facts.gp_name_id[:7]
    comment = etree.Comment("x")
    comment.tail = facts.gp_name_id[7:]
    name_id.append(comment)
    principal = verifier.verify_header(request_header(assertion))
    assert principal.subject_id == facts.gp_name_id


def test_comment_inside_a_signed_attribute_value_cannot_split_it(verifier, signed, facts) -> None:
    assertion = signed()
    value = attribute(assertion, names.IDENTIFIANT_STRUCTURE).find(f"{S}AttributeValue")
    value.text = facts.gp_structure[:4]
    comment = etree.Comment("")
    comment.tail = facts.gp_structure[4:]
    value.append(comment)
    assert verifier.verify_header(request_header(assertion)).structure_id == facts.gp_structure


# -- validity window -----------------------------------------------------------------------

def test_expired_assertion_fails_authentication(verifier, signed) -> None:
    old = datetime.now(timezone.utc) - timedelta(minutes=10)
    fault = refused(verifier, request_header(signed(now=old)))
    assert fault.subcode == faults.FAILED_AUTHENTICATION
    assert "expired" in fault.reason


def test_not_yet_valid_assertion_fails_authentication(verifier, signed) -> None:
    later = datetime.now(timezone.utc) + timedelta(minutes=10)
    fault = refused(verifier, request_header(signed(now=later)))
    assert fault.subcode == faults.FAILED_AUTHENTICATION


def test_clock_skew_tolerates_a_slightly_early_assertion(verifier, signed) -> None:
    soon = datetime.now(timezone.utc) + timedelta(seconds=30)
    assert verifier.verify_header(request_header(signed(now=soon))).signed


def test_expired_within_clock_skew_is_still_accepted(verifier, signed) -> None:
    # NotOnOrAfter = issued + 5 min; 5 min 30 s later it is within the 120 s skew.
    issued = datetime.now(timezone.utc) - timedelta(minutes=5, seconds=30)
    assert verifier.verify_header(request_header(signed(now=issued))).signed


def test_inverted_validity_window_is_an_invalid_token(verifier, signed) -> None:
    def invert(assertion: etree._Element) -> None:
        conditions = assertion.find(f"{S}Conditions")
        conditions.set("NotOnOrAfter", "2020-01-01T00:00:00.000Z")

    assert refused(verifier, request_header(signed(edit=invert))).subcode == faults.INVALID_SECURITY_TOKEN


def test_without_conditions_the_maximum_age_applies(verifier, signed) -> None:
    def no_conditions(assertion: etree._Element) -> None:
        assertion.remove(assertion.find(f"{S}Conditions"))

    fresh = verifier.verify_header(request_header(signed(edit=no_conditions)))
    assert fresh.not_on_or_after is None
    old = datetime.now(timezone.utc) - timedelta(minutes=8)
    fault = refused(verifier, request_header(signed(edit=no_conditions, now=old)))
    assert fault.subcode == faults.FAILED_AUTHENTICATION


# -- content -------------------------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(INVALID))
def test_composed_invalid_templates_are_invalid_tokens(verifier, signed, name) -> None:
    fault = refused(verifier, request_header(signed(name)))
    assert fault.subcode == faults.INVALID_SECURITY_TOKEN
    assert f"mandatory attribute {INVALID[name]} is missing" in fault.reason


@pytest.mark.parametrize("name", [n for n in names.MANDATORY_ATTRIBUTES])
def test_each_mandatory_attribute_is_required(verifier, signed, name) -> None:
    def drop(assertion: etree._Element) -> None:
        element = attribute(assertion, name)
        element.getparent().remove(element)

    fault = refused(verifier, request_header(signed(edit=drop)))
    assert fault.subcode == faults.INVALID_SECURITY_TOKEN
    assert name in fault.reason


def test_unknown_vihf_version_is_an_invalid_token(verifier, signed) -> None:
    def version_2(assertion: etree._Element) -> None:
        attribute(assertion, names.VIHF_VERSION).find(f"{S}AttributeValue").text = "2.0"

    fault = refused(verifier, request_header(signed(edit=version_2)))
    assert fault.subcode == faults.INVALID_SECURITY_TOKEN
    assert names.VIHF_VERSION in fault.reason


def test_version_4_is_accepted_and_configuration_can_narrow_the_versions(pki, store, signed) -> None:
    from hub.store.replay import ReplayCache
    from vihf.trust import TrustStore

    def version_4(assertion: etree._Element) -> None:
        attribute(assertion, names.VIHF_VERSION).find(f"{S}AttributeValue").text = "4.0"

    trust = TrustStore.load(pki / "ca.pem")
    assert Verifier(trust, ReplayCache(store)).verify_header(request_header(signed(edit=version_4))).vihf_version == "4.0"
    only_3 = Verifier(trust, ReplayCache(store), Settings(accepted_vihf_versions=["3.0"]))
    assert refused(only_3, request_header(signed(edit=version_4))).subcode == faults.INVALID_SECURITY_TOKEN


def _set_first_role(code: str, system: str):
    def edit(assertion: etree._Element) -> None:
        role = attribute(assertion, names.SUBJECT_ROLE).find(f"{S}AttributeValue")[0]
        role.set("code", code)
        role.set("codeSystem", system)

    return edit


def test_first_role_from_an_unknown_code_system_is_refused(verifier, signed) -> None:
    edit = _set_first_role("10", "2.16.756.5.30.1.127.3.10.6")
    assert refused(verifier, request_header(signed(edit=edit))).subcode == faults.INVALID_SECURITY_TOKEN


def test_pharmacist_needs_a_cnop_section_as_second_role(verifier, signed) -> None:
    edit = _set_first_role("21", names.TRE_G15_PROFESSION_SANTE)  # second value stays R01 SM26
    fault = refused(verifier, request_header(signed(edit=edit)))
    assert fault.subcode == faults.INVALID_SECURITY_TOKEN
    assert names.TRE_G05_SOUS_SECTION_CNOP in fault.reason


def test_sector_outside_tre_r02_is_refused(verifier, signed) -> None:
    def sector(assertion: etree._Element) -> None:
        attribute(assertion, names.SECTEUR_ACTIVITE).find(f"{S}AttributeValue").text = "SA07^1.2.250.1.71.4.2.9"

    assert refused(verifier, request_header(signed(edit=sector))).subcode == faults.INVALID_SECURITY_TOKEN


def test_unknown_purpose_of_use_is_refused_and_case_is_ignored(verifier, signed) -> None:
    def purpose(code: str):
        def edit(assertion: etree._Element) -> None:
            attribute(assertion, names.PURPOSE_OF_USE).find(f"{S}AttributeValue")[0].set("code", code)

        return edit

    assert verifier.verify_header(request_header(signed(edit=purpose("BRIS_DE_GLACE")))).break_the_glass
    fault = refused(verifier, request_header(signed(edit=purpose("TREATMENT"))))
    assert fault.subcode == faults.INVALID_SECURITY_TOKEN


def test_patient_under_a_non_ins_authority_is_refused(verifier, signed, facts) -> None:
    def wrong_oid(assertion: etree._Element) -> None:
        value = attribute(assertion, names.RESOURCE_ID).find(f"{S}AttributeValue")
        value.text = facts.cx(facts.gp_patient, "1.2.250.1.213.1.4.5") + "^NH"

    assert refused(verifier, request_header(signed(edit=wrong_oid))).subcode == faults.INVALID_SECURITY_TOKEN


def test_unknown_authentication_mode_is_refused(verifier, signed) -> None:
    def mode(assertion: etree._Element) -> None:
        attribute(assertion, names.AUTHENTIFICATION_MODE).find(f"{S}AttributeValue").text = "CPS"

    assert refused(verifier, request_header(signed(edit=mode))).subcode == faults.INVALID_SECURITY_TOKEN


def test_a_single_valued_attribute_given_twice_is_refused(verifier, signed) -> None:
    def twice(assertion: etree._Element) -> None:
        element = attribute(assertion, names.IDENTIFIANT_STRUCTURE)
        etree.SubElement(element, f"{S}AttributeValue").text = OTHER_STRUCTURE

    assert refused(verifier, request_header(signed(edit=twice))).subcode == faults.INVALID_SECURITY_TOKEN


# -- replay ------------------------------------------------------------------------------

def test_replayed_assertion_id_fails_authentication(verifier, signed) -> None:
    assertion = signed()
    verifier.verify_header(request_header(assertion))
    fault = refused(verifier, request_header(assertion))
    assert fault.subcode == faults.FAILED_AUTHENTICATION
    assert "replay" in fault.reason


def test_replay_is_detected_by_another_process_on_the_same_store(pki, store, signed) -> None:
    from hub.store.replay import ReplayCache
    from vihf.trust import TrustStore

    first = Verifier(TrustStore.load(pki / "ca.pem"), ReplayCache(store))
    second = Verifier(TrustStore.load(pki / "ca.pem"), ReplayCache(store))
    assertion = signed()
    first.verify_header(request_header(assertion))
    assert refused(second, request_header(assertion)).subcode == faults.FAILED_AUTHENTICATION


def test_a_refused_assertion_does_not_consume_its_id(verifier, signed) -> None:
    assertion = signed()
    tampered = copy.deepcopy(assertion)
    tampered.find(f"{S}Subject/{S}NameID").text = OTHER_NAME_ID
    refused(verifier, request_header(tampered))
    assert verifier.verify_header(request_header(assertion)).signed


def test_resigned_template_keeps_only_one_signature(verifier, signed, signer) -> None:
    assertion = sign(signed(), signer)
    assert len(assertion.findall(f"{DS}Signature")) == 1
    assert verifier.verify_header(request_header(assertion)).signed
