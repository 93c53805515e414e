"""vihf.policy: what the assertion alone decides (on the project's samples and, with the
corpus, on the shared composed templates)."""
from __future__ import annotations

from hub import authentication
from hub.wire.soap import WSSE
from vihf import faults
from vihf.policy import AccessPolicy
from vihf.principal import PatientId
from vihf_testing import request_header


def test_patient_scoped_assertion_reads_its_patient(verifier, signed, facts) -> None:
    principal = verifier.verify_header(request_header(signed("vihf-gp-cps-directe")))
    decision = AccessPolicy().may_read_documents(principal, facts.cx(facts.gp_patient))
    assert decision.allowed and not decision.break_the_glass


def test_patient_scoped_assertion_cannot_query_another_patient(verifier, signed, facts) -> None:
    principal = verifier.verify_header(request_header(signed("vihf-gp-cps-directe")))
    policy = AccessPolicy()
    other = facts.cx(facts.other_patient)
    for decision in (
        policy.may_read_documents(principal, other),
        policy.may_submit_documents(principal, other),
        policy.may_query_patient(principal, PatientId.parse(other)),
    ):
        assert not decision.allowed
        assert "another patient" in decision.reason and facts.other_patient not in decision.reason
        refusal = decision.refusal()
        assert refusal.subcode == faults.FAILED_AUTHENTICATION
        # A SOAP endpoint answers it as a Sender fault with the wsse: subcode.
        fault = authentication.soap_fault(refusal)
        assert fault.code == "Sender" and fault.subcodes == ((WSSE, faults.FAILED_AUTHENTICATION),)


def test_same_ins_under_another_authority_is_another_patient(verifier, signed, facts) -> None:
    principal = verifier.verify_header(request_header(signed("vihf-gp-cps-directe")))
    policy = AccessPolicy()
    assert policy.may_query_patient(principal, facts.cx(facts.gp_patient)).allowed
    assert not policy.may_query_patient(principal, facts.cx(facts.gp_patient, "1.2.250.1.213.1.4.8"))


def test_break_the_glass_is_allowed_and_flagged(verifier, signed, facts) -> None:
    principal = verifier.verify_header(request_header(signed("vihf-break-the-glass")))
    decision = AccessPolicy().may_read_documents(principal, facts.cx(facts.btg_patient) + "^NH")
    assert decision.allowed and decision.break_the_glass


def test_assertion_without_patient_is_not_restricted_by_it(verifier, signed, facts) -> None:
    from vihf import names
    from vihf_testing import attribute

    def no_patient(assertion) -> None:
        element = attribute(assertion, names.RESOURCE_ID)
        element.getparent().remove(element)

    principal = verifier.verify_header(request_header(signed(edit=no_patient)))
    assert principal.patient is None
    assert AccessPolicy().may_query_patient(principal, facts.cx(facts.other_patient)).allowed


def test_unreadable_patient_id_is_refused(verifier, signed) -> None:
    principal = verifier.verify_header(request_header(signed()))
    assert not AccessPolicy().may_read_documents(principal, "not-a-cx")
