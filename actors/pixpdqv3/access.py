"""The one place where PIX v3 and PDQ v3 answers consult the access policy of the VIHF
assertion (`vihf.policy.AccessPolicy`): a patient-scoped assertion may only learn about
its own patient."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from actors.identity.model import Cx
from actors.identity.query import PatientView
from vihf.policy import AccessPolicy, Decision

_POLICY = AccessPolicy()


def cx_text(cx: Cx) -> str:
    """An identifier as the HL7 v2 CX text the policy reads (`id^^^&OID&ISO`)."""
    return f"{cx.value}^^^{cx.authority.namespace}&{cx.authority.universal_id}&ISO"


def may_see(principal: Any, identifiers: Sequence[Cx]) -> Decision | None:
    """Whether the caller may learn about the person holding `identifiers`: allowed when
    the policy allows any one of them. None when the hub runs without VIHF (no principal)."""
    if principal is None:
        return None
    refused: Decision | None = None
    for cx in identifiers:
        if not cx.authority.universal_id:
            continue
        decision = _POLICY.may_query_patient(principal, cx_text(cx))
        if decision.allowed:
            return decision
        refused = decision
    return refused or Decision(False, "cannot query the patient: no identifier the assertion may use")


def visible(principal: Any, results: list[PatientView]) -> list[PatientView]:
    """PDQ answers (v3 and FHIR) keep only the persons the caller's assertion may learn about."""
    kept = []
    for view in results:
        decision = may_see(principal, view.identifiers)
        if decision is None or decision.allowed:
            kept.append(view)
    return kept
