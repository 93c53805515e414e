"""The one place where XDS transactions ask the VIHF access policy (`vihf.policy`).

A request without principal only reaches the actors when the hub runs with
`[security] require_vihf = false` (local tests): it is then allowed, and none of the
rules below applies.

Three questions are asked here:

- `check_read` / `check_submit`: may the caller read or submit documents of a patient
  the request names (a refusal is a SOAP fault: the request itself is out of bounds);
- `may_read`: may the caller see an object it reached by its id; an object it may not
  see is answered exactly as one that does not exist (no existence oracle);
- `may_update`: may the caller change a registered object's status or metadata (ITI-57,
  and the replacements of ITI-41/42): only an author structure of the object may.

The coordination model's access decision (mandates, care team) will replace the bodies
of these functions; their callers stay as they are.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from actors.xds import constants as c
from hub.wire import xmlsafe
from hub.store.models.xds import XdsDocumentEntry, XdsFolder
from vihf.policy import AccessPolicy
from vihf.principal import Principal

_POLICY = AccessPolicy()
_XON_IDENTIFIER = 9  # XON.10, the organization identifier (ITI TF-3 Table 4.2.3.1.7-2)


def check_read(principal: Principal | None, patient_id: str) -> None:
    """ITI-18 / ITI-43: raise the policy's SOAP fault when `principal` may not read the
    documents of `patient_id`."""
    if principal is None:
        return
    decision = _POLICY.may_read_documents(principal, patient_id)
    if not decision.allowed:
        raise decision.refusal()


def check_submit(principal: Principal | None, patient_id: str) -> None:
    """ITI-41 / ITI-42 / ITI-57: raise the policy's SOAP fault when `principal` may not
    submit documents for `patient_id`."""
    if principal is None:
        return
    decision = _POLICY.may_submit_documents(principal, patient_id)
    if not decision.allowed:
        raise decision.refusal()


def may_read(principal: Principal | None, patient_id: str) -> bool:
    """Whether `principal` may see the registry objects and documents of `patient_id`.
    Callers answer a `False` exactly as they answer an unknown id."""
    if principal is None:
        return True
    return _POLICY.may_read_documents(principal, patient_id).allowed


def structure_of(principal: Principal | None) -> str | None:
    """The VIHF structure id of the caller, as recorded with its submissions."""
    if principal is None or not principal.structure_id:
        return None
    return principal.structure_id.strip() or None


@dataclass(frozen=True)
class UpdateTarget:
    """What the update rule reads of a registered object: the structures named by the
    authorInstitution values of its authors, and the structure that submitted it."""

    author_structures: frozenset[str]
    submitter_structure: str | None

    @classmethod
    def of(cls, xml: str, submitter_structure: str | None) -> UpdateTarget:
        """From the stored ebRIM of a DocumentEntry or Folder (Folders have no author)."""
        element = xmlsafe.parse_own(xml.encode("utf-8"))
        institutions = [
            value.text or ""
            for classification in element.iterchildren(f"{{{c.RIM}}}Classification")
            if classification.get("classificationScheme") == c.XDSDocumentEntry_author
            for slot in classification.iterchildren(f"{{{c.RIM}}}Slot")
            if slot.get("name") == "authorInstitution"
            for value in slot.iter(f"{{{c.RIM}}}Value")
        ]
        return cls(frozenset(_xon_structures(institutions)), submitter_structure)


def _xon_structures(values: Iterable[str]) -> Iterable[str]:
    """XON.10 of each authorInstitution: the structure id (national structure id or
    OID); a value without XON.10 names an organization, not an identified structure."""
    for value in values:
        components = value.split("^")
        if len(components) > _XON_IDENTIFIER and components[_XON_IDENTIFIER].strip():
            yield components[_XON_IDENTIFIER].strip()


def may_update(principal: Principal | None, entry: XdsDocumentEntry | XdsFolder) -> bool:
    """ITI-57 (status change, new version) and ITI-41/42 replacement: only an author
    structure of the registered `entry` may change it — one named in its
    authorInstitution, or the structure that submitted it. Mandates of the coordination
    model will widen this."""
    if principal is None:
        return True
    structure = structure_of(principal)
    if structure is None:
        return False
    target = UpdateTarget.of(entry.xml, entry.submitter_structure)
    return structure in target.author_structures or structure == target.submitter_structure


# The codeContext of a refused update: says why, echoes no identifier of the caller.
UPDATE_REFUSED = "not authorised: only an author structure of the object (authorInstitution or submitter) may change it"
