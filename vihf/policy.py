"""Access decisions taken from the VIHF assertion alone.

Actor handlers ask the policy before answering; it never raises, it returns a `Decision`:

    decision = AccessPolicy().may_read_documents(request.principal, patient_id)
    if not decision.allowed:
        raise decision.refusal()             # VihfRefusal, wsse:FailedAuthentication
        # ... or answer in the transaction's own vocabulary with decision.reason
        # (e.g. an XDS RegistryError, an HL7 v3 acknowledgement detail)

Methods (patient ids are `PatientId` values or HL7 v2 CX strings such as
`287043523811712^^^&1.2.250.1.213.1.4.10&ISO`):

- `may_read_documents(principal, patient_id)` — ITI-18 / ITI-43;
- `may_submit_documents(principal, patient_id)` — ITI-41 / ITI-42 / ITI-57;
- `may_query_patient(principal, patient_id)` — PIX / PDQ about one identified patient.

Rules of this version (what the assertion itself decides):

- an assertion naming a patient (`resource-id`) may only be used for that patient; a
  request about another patient is refused;
- break-the-glass (`bris_de_glace`) and `centre_15` accesses are allowed and flagged
  (`Decision.break_the_glass`): the caller records them (the audit `who` of such a
  principal already carries the access mode);
- a request whose patient id cannot be read is refused.

The care-team, mandate, consent and opposition rules of the coordination model will be
added behind the same methods.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

from vihf import faults
from vihf.principal import PatientId, Principal

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Decision:
    """The answer of the policy; `reason` is loggable and echoes no identifier."""

    allowed: bool
    reason: str
    break_the_glass: bool = False

    def refusal(self) -> faults.VihfRefusal:
        """The refusal to raise (wsse:FailedAuthentication: the token is not authorised
        for this request; a SOAP endpoint answers it as a Sender fault)."""
        return faults.failed_authentication(self.reason)

    def __bool__(self) -> bool:
        return self.allowed


class AccessPolicy:
    """What a principal may do, as far as its assertion decides."""

    def may_read_documents(self, principal: Principal, patient_id: PatientId | str) -> Decision:
        """ITI-18 / ITI-43: read the documents of one patient."""
        return self._about_patient(principal, patient_id, "read documents")

    def may_submit_documents(self, principal: Principal, patient_id: PatientId | str) -> Decision:
        """ITI-41 / ITI-42 / ITI-57: submit or update documents of one patient."""
        return self._about_patient(principal, patient_id, "submit documents")

    def may_query_patient(self, principal: Principal, patient_id: PatientId | str) -> Decision:
        """PIX / PDQ about one identified patient."""
        return self._about_patient(principal, patient_id, "query the patient")

    def _about_patient(self, principal: Principal, patient_id: PatientId | str, action: str) -> Decision:
        try:
            requested = patient_id if isinstance(patient_id, PatientId) else PatientId.parse(patient_id)
        except ValueError:
            return Decision(False, f"cannot {action}: the patient identifier of the request is not a CX identifier")
        if principal.patient is not None and not principal.patient.same_patient(requested):
            return Decision(False, f"cannot {action}: the assertion is about another patient")
        if principal.break_the_glass:
            log.warning("%s access by %s", principal.purpose, principal.audit_who)
            return Decision(True, f"{action}: {principal.purpose} access", break_the_glass=True)
        return Decision(True, action)
