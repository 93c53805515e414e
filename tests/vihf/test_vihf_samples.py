"""conformance.vihf_samples: the VIHF assertions the project composes in code are what the
profile requires (spec/vihf.md), their identifiers are synthetic and well formed, every
positive sample is accepted once signed and every negative one is refused for the rule it
breaks, and nothing else."""
from __future__ import annotations

import dataclasses
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from lxml import etree

from conformance import vihf_samples as samples
from vihf import faults, names
from vihf.faults import VihfRefusal
from vihf.issue import build
from vihf.parse import attributes, parse_assertion, text
from hub.store.replay import ReplayCache
from vihf.trust import TrustStore
from vihf.verify import Settings, Verifier
from vihf_testing import S, TEMPLATES, attribute, request_header

H = f"{{{names.HL7V3}}}"
XSI_TYPE = f"{{{names.XSI}}}type"


def ids(sample: samples.VihfSample) -> str:
    return sample.name


# -- identifiers -------------------------------------------------------------------------------

def test_check_digit_helpers_follow_the_published_rules() -> None:
    # Luhn: the classic worked example; FINESS 750100125 and NIR 1 84 12 75 123 456 40 are
    # the illustrative values of spec/vihf.md §7.
    assert samples.luhn_valid("79927398713") and not samples.luhn_valid("79927398714")
    assert samples.luhn_valid("750100125")
    assert samples.nir_key("1841275123456") == "40"
    # Corsica: 2A and 2B are read as 19 and 18 for the key.
    assert samples.nir_key("284112A247106") == f"{97 - 2841119247106 % 97:02d}"
    assert samples.nir_key("284112B247106") == f"{97 - 2841118247106 % 97:02d}"
    assert samples.rpps("0041003") == "99900410038" and samples.luhn_valid(samples.rpps("0041003"))
    with pytest.raises(ValueError):
        samples.finess("12345")


@pytest.mark.parametrize("sample", samples.POSITIVE, ids=ids)
def test_identifiers_are_synthetic_and_well_formed(sample: samples.VihfSample) -> None:
    # NameID = IdNat_PS `8` + RPPS; RPPS in the invented 999 range with its Luhn key.
    assert re.fullmatch(r"8999\d{8}", sample.name_id) and samples.luhn_valid(sample.name_id[1:])
    # Identifiant_Structure: `1` + FINESS of department 99, or `4` + RPPS + 2-digit rank.
    structure = sample.structure.idnat
    if structure.startswith("1"):
        assert re.fullmatch(r"199\d{7}", structure) and samples.luhn_valid(structure[1:])
    else:
        assert re.fullmatch(r"4999\d{10}", structure) and samples.luhn_valid(structure[1:12])
    assert f"OU={structure}," in sample.structure.issuer_dn
    # INS: a 15-character NIR with its key, under the INS test OID.
    assert sample.patient is not None
    ins = sample.patient.ins
    assert len(ins) == 15 and samples.nir_key(ins[:13]) == ins[13:]
    assert sample.patient.cx == f"{ins}^^^&{names.INS_NIR_TEST}&ISO^NH"
    assert (sample.software.instance_id or "").startswith("2.999.")


def test_samples_name_different_people() -> None:
    people = {samples.GP, samples.NURSE, samples.EMERGENCY_PHYSICIAN, samples.REGULATOR, samples.BIOLOGIST}
    assert len({p.rpps for p in people}) == len(people)
    assert len({s.idnat for s in (samples.PRACTICE, samples.HOSPITAL, samples.LABORATORY)}) == 3
    assert len({p.ins for p in (samples.PELLEGRIN, samples.KERAVEC, samples.SANTUCCI)}) == 3


def test_the_catalogue_covers_the_templates_the_tests_use() -> None:
    assert set(TEMPLATES) <= {s.name for s in samples.POSITIVE}
    assert all(s.valid for s in samples.POSITIVE) and not any(s.valid for s in samples.NEGATIVE)
    assert samples.SAMPLES["invalid-missing-subject-id"].breaks == (names.SUBJECT_ID,)
    assert samples.SAMPLES["invalid-missing-vihf-version"].breaks == (names.VIHF_VERSION,)


# -- the unsigned assertion ------------------------------------------------------------------

@pytest.mark.parametrize("sample", samples.POSITIVE, ids=ids)
def test_skeleton_follows_the_saml_schema_order_and_the_vihf_table(sample: samples.VihfSample) -> None:
    now = datetime(2026, 3, 2, 9, 15, 30, 250000, tzinfo=timezone.utc)
    assertion = sample.compose(now=now)
    assert assertion.tag == f"{S}Assertion"
    assert (assertion.get("Version"), assertion.get("IssueInstant")) == ("2.0", "2026-03-02T09:15:30.250Z")
    assert re.fullmatch(r"_[0-9a-f-]{36}", assertion.get("ID") or "")  # an xs:ID never starts with a digit
    assert assertion.nsmap.get("xsi") == names.XSI
    assert [etree.QName(child).localname for child in assertion] == [
        "Issuer", "Subject", "Conditions", "AuthnStatement", "AttributeStatement"
    ]
    issuer = assertion.find(f"{S}Issuer")
    assert (issuer.get("Format"), issuer.text) == (names.NAMEID_X509_SUBJECT, sample.structure.issuer_dn)
    assert assertion.find(f"{S}Subject/{S}NameID").get("Format") is None
    assert assertion.find(f"{S}Subject/{S}SubjectConfirmation") is None
    conditions = assertion.find(f"{S}Conditions")
    assert conditions.get("NotBefore") == "2026-03-02T09:15:30.250Z"
    assert len(conditions) == 0  # no AudienceRestriction ("ne pas renseigner")
    authn = assertion.find(f"{S}AuthnStatement")
    assert authn.get("AuthnInstant") < assertion.get("IssueInstant")
    assert authn.findtext(f"{S}AuthnContext/{S}AuthnContextClassRef").startswith(names.AC_CLASSES)
    found = attributes(assertion)
    assert set(names.MANDATORY_ATTRIBUTES) <= set(found)
    for value in found[names.SUBJECT_ROLE] + found[names.PURPOSE_OF_USE]:
        (ce,) = value
        assert ce.tag in (f"{H}Role", f"{H}PurposeOfUse") and ce.get(XSI_TYPE) == "CE"
        assert ce.get("code") and ce.get("codeSystem")
    for name, values in found.items():
        if name not in (names.SUBJECT_ROLE, names.PURPOSE_OF_USE):
            assert len(values) == 1 and len(values[0]) == 0 and text(values[0]), name  # plain text


def test_composition_matches_what_vihf_issue_builds() -> None:
    """Two builders of the same profile, written separately, agree on the GP assertion:
    same elements, same attributes in the same order, same values."""
    sample = samples.GP_CPS_DIRECTE
    now = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)
    ours = sample.compose(now=now, authenticated=timedelta(0), assertion_id="_same")
    theirs = build(
        issuer=sample.structure.issuer_dn, subject_id=sample.name_id, subject_name=sample.subject_id,
        roles=sample.roles, structure_id=sample.structure.idnat, sector=sample.structure.sector,
        patient=sample.patient.ins if sample.patient else None, authentication_mode=sample.authentication_mode,
        authn_context=sample.authn_context, software=sample.software, now=now, assertion_id="_same",
    )

    def values(assertion: etree._Element) -> list[tuple[str, list[str]]]:
        return [
            (name, [text(v) or etree.tostring(v[0], method="c14n").decode() for v in found])
            for name, found in attributes(assertion).items()
        ]

    assert values(ours) == values(theirs)
    assert [child.tag for child in ours.iter()] == [child.tag for child in theirs.iter()]
    assert parse_assertion(ours) == parse_assertion(theirs)


@pytest.mark.parametrize("sample", samples.NEGATIVE, ids=ids)
def test_a_negative_sample_differs_from_its_base_only_by_the_attribute_it_lacks(sample: samples.VihfSample) -> None:
    now = datetime.now(timezone.utc)
    base = samples.HOSPITAL_NURSE_INDIRECTE.compose(now=now, assertion_id="_x")
    (missing,) = sample.breaks
    element = attribute(base, missing)
    element.getparent().remove(element)
    assert etree.tostring(sample.compose(now=now, assertion_id="_x")) == etree.tostring(base)


def test_air_sample_declares_the_browser_authentication_and_a_short_life() -> None:
    assertion = samples.AIR_PHYSICIAN.compose()
    context = assertion.find(f"{S}AuthnStatement/{S}AuthnContext")
    assert [etree.QName(c).localname for c in context] == ["AuthnContextClassRef", "AuthnContextDecl"]
    assert context[1].text == names.AUTHN_DECL_APP_BROWSER
    principal = parse_assertion(assertion)
    assert principal.authentication_mode == names.INDIRECTE_RENFORCEE
    assert principal.not_on_or_after - principal.not_before == timedelta(seconds=30)


# -- verified ---------------------------------------------------------------------------------

@pytest.mark.parametrize("sample", samples.POSITIVE, ids=ids)
def test_each_positive_sample_is_accepted_and_reads_as_composed(verifier, signer, sample: samples.VihfSample) -> None:
    assertion = samples.issue(sample, signer)
    principal = verifier.verify_header(request_header(assertion))
    assert principal.signed and principal.assertion_id == assertion.get("ID")
    assert principal.vihf_version == "3.0"
    assert (principal.subject_id, principal.subject_id_type) == (sample.name_id, "RPPS")
    assert principal.subject_name == sample.subject_id
    assert [(r.code, r.code_system) for r in principal.roles] == [(r.code, r.code_system) for r in sample.roles]
    assert str(principal.sector) == sample.structure.sector_value
    assert principal.structure_id == sample.structure.idnat
    assert principal.structure_name == "tsnhub development structure"  # O= of the signer, the Issuer
    assert (principal.authentication_mode, principal.authn_context) == (sample.authentication_mode, sample.authn_context)
    assert principal.purpose == sample.purpose
    assert principal.break_the_glass == (sample.purpose != names.NORMAL)
    assert principal.patient is not None and sample.patient is not None
    assert (principal.patient.id, principal.patient.assigning_authority) == (sample.patient.ins, names.INS_NIR_TEST)
    assert principal.resource_urn == samples.DMP_URN
    assert principal.software == sample.software


@pytest.mark.parametrize("sample", samples.POSITIVE, ids=ids)
def test_each_positive_sample_is_accepted_in_vihf_4_0_and_without_conditions(verifier, signer, sample) -> None:
    version_4 = samples.issue(dataclasses.replace(sample, vihf_version="4.0"), signer)
    assert verifier.verify_header(request_header(version_4)).vihf_version == "4.0"
    bare = samples.issue(sample, signer, conditions=False)
    assert bare.find(f"{S}Conditions") is None
    assert verifier.verify_header(request_header(bare)).not_on_or_after is None


@pytest.mark.parametrize("sample", samples.NEGATIVE, ids=ids)
def test_each_negative_sample_is_refused_for_the_rule_it_breaks(verifier, signer, sample: samples.VihfSample) -> None:
    with pytest.raises(VihfRefusal) as caught:
        verifier.verify_header(request_header(samples.issue(sample, signer)))
    (missing,) = sample.breaks
    assert caught.value.subcode == faults.INVALID_SECURITY_TOKEN
    assert caught.value.reason == f"mandatory attribute {missing} is missing or empty"


def test_a_sample_in_a_version_the_hub_does_not_accept_is_refused(pki: Path, store, signer) -> None:
    only_3 = Verifier(TrustStore.load(pki / "ca.pem"), ReplayCache(store), Settings(accepted_vihf_versions=["3.0"]))
    version_4 = samples.issue(dataclasses.replace(samples.GP_CPS_DIRECTE, vihf_version="4.0"), signer)
    with pytest.raises(VihfRefusal) as caught:
        only_3.verify_header(request_header(version_4))
    assert caught.value.subcode == faults.INVALID_SECURITY_TOKEN and names.VIHF_VERSION in caught.value.reason


def test_an_expired_air_sample_is_refused(verifier, signer) -> None:
    """AIR: 30 s lifetime; 3 minutes later it is outside the window even with the skew."""
    old = datetime.now(timezone.utc) - timedelta(minutes=3)
    with pytest.raises(VihfRefusal) as caught:
        verifier.verify_header(request_header(samples.issue(samples.AIR_PHYSICIAN, signer, now=old)))
    assert caught.value.subcode == faults.FAILED_AUTHENTICATION and "expired" in caught.value.reason


# -- for testers ---------------------------------------------------------------------------------

def test_command_line_lists_and_prints_signed_samples(capsys, pki: Path, verifier) -> None:
    assert samples.main(["--list"]) == 0
    listed = capsys.readouterr().out
    assert all(name in listed for name in samples.SAMPLES)
    assert samples.main(["vihf-automate", "--key", str(pki / "vihf-signer.key"), "--cert", str(pki / "vihf-signer.pem")]) == 0
    assertion = etree.fromstring(capsys.readouterr().out.encode())
    principal = verifier.verify_header(request_header(assertion))
    assert principal.roles[0].code == "AUTOMATE" and principal.subject_id == samples.BIOLOGIST.idnat_ps
    assert samples.main(["invalid-missing-subject-id"]) == 0
    unsigned = etree.fromstring(capsys.readouterr().out.encode())
    assert unsigned.find(f"{{{names.DS}}}Signature") is None
    assert names.SUBJECT_ID not in attributes(unsigned)
