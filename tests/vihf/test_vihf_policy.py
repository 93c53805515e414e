"""vihf.policy: what the assertion alone decides."""
from __future__ import annotations

from hub.soap import WSSE
from vihf import faults
from vihf.policy import AccessPolicy
from vihf.principal import PatientId
from vihf_testing import request_header

OWN = "287043523811712^^^&1.2.250.1.213.1.4.10&ISO"
OTHER = "179114410905287^^^&1.2.250.1.213.1.4.10&ISO"


def test_patient_scoped_assertion_reads_its_patient(verifier, signed) -> None:
    principal = verifier.verify_header(request_header(signed("vihf-gp-cps-directe")))
    decision = AccessPolicy().may_read_documents(principal, OWN)
    assert decision.allowed and not decision.break_the_glass


def test_patient_scoped_assertion_cannot_query_another_patient(verifier, signed) -> None:
    principal = verifier.verify_header(request_header(signed("vihf-gp-cps-directe")))
    policy = AccessPolicy()
    for decision in (
        policy.may_read_documents(principal, OTHER),
        policy.may_submit_documents(principal, OTHER),
        policy.may_query_patient(principal, PatientId.parse(OTHER)),
    ):
        assert not decision.allowed
        assert "another patient" in decision.reason and "179114410905287" not in decision.reason
        fault = decision.fault()
        assert fault.code == "Sender" and fault.subcodes == ((WSSE, faults.FAILED_AUTHENTICATION),)


def test_same_ins_under_another_authority_is_another_patient(verifier, signed) -> None:
    principal = verifier.verify_header(request_header(signed("vihf-gp-cps-directe")))
    assert not AccessPolicy().may_query_patient(principal, "287043523811712^^^&1.2.250.1.213.1.4.8&ISO")


def test_break_the_glass_is_allowed_and_flagged(verifier, signed) -> None:
    principal = verifier.verify_header(request_header(signed("vihf-break-the-glass")))
    decision = AccessPolicy().may_read_documents(principal, "292082A00421309^^^&1.2.250.1.213.1.4.10&ISO^NH")
    assert decision.allowed and decision.break_the_glass


def test_assertion_without_patient_is_not_restricted_by_it(verifier, signed) -> None:
    from vihf import names
    from vihf_testing import attribute

    def no_patient(assertion) -> None:
        element = attribute(assertion, names.RESOURCE_ID)
        element.getparent().remove(element)

    principal = verifier.verify_header(request_header(signed(edit=no_patient)))
    assert principal.patient is None
    assert AccessPolicy().may_query_patient(principal, OTHER).allowed


def test_unreadable_patient_id_is_refused(verifier, signed) -> None:
    principal = verifier.verify_header(request_header(signed()))
    assert not AccessPolicy().may_read_documents(principal, "not-a-cx")
