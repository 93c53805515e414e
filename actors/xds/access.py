"""The one place where XDS transactions ask the VIHF access policy (`vihf.policy`).

A request without principal only reaches the actors when the hub runs with
`[security] require_vihf = false` (local tests): it is then allowed.
"""
from __future__ import annotations

from typing import Any

from vihf.policy import AccessPolicy

_POLICY = AccessPolicy()


def check_read(principal: Any, patient_id: str) -> None:
    """ITI-18 / ITI-43: raise the policy's SOAP fault when `principal` may not read the
    documents of `patient_id`."""
    if principal is None:
        return
    decision = _POLICY.may_read_documents(principal, patient_id)
    if not decision.allowed:
        raise decision.fault()


def check_submit(principal: Any, patient_id: str) -> None:
    """ITI-41 / ITI-42 / ITI-57: raise the policy's SOAP fault when `principal` may not
    submit documents for `patient_id`."""
    if principal is None:
        return
    decision = _POLICY.may_submit_documents(principal, patient_id)
    if not decision.allowed:
        raise decision.fault()
