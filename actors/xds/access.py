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

Those three read the VIHF assertion alone. The coordination model's access decision
(`actors.coordination.gate`: oppositions, visibility codes, circle, mandates,
break-the-glass) is asked through `Reader`, one per request: per DocumentEntry for
ITI-18 and ITI-43 (an entry the caller may not read is left out of a query and
answered as unknown by the repository), per patient for the other objects, and
`may_submit` for ITI-41/42.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any
from datetime import datetime, timezone

from sqlalchemy import Integer, bindparam, literal_column, select, union_all
from sqlalchemy.orm import Session

from actors.coordination import records
from actors.coordination.decision import Action, DocumentFacts, Requester, decide
from actors.coordination.gate import Check, Gate
from actors.xds import constants as c
from actors.xds.errors import RegistryError
from hub.wire import xmlsafe
from hub.store.models.xds import XdsAuthor, XdsCode, XdsDocumentEntry, XdsFolder
from vihf.policy import AccessPolicy
from vihf.policy import Decision as PolicyDecision
from vihf.principal import Principal

_POLICY = AccessPolicy()
_XON_IDENTIFIER = 9  # XON.10, the organization identifier (ITI TF-3 Table 4.2.3.1.7-2)


def check_read(principal: Principal | None, patient_id: str) -> None:
    """ITI-18 / ITI-43: raise the policy's refusal when `principal` may not read the
    documents of `patient_id`."""
    _check(principal, patient_id, _POLICY.may_read_documents)


def check_submit(principal: Principal | None, patient_id: str) -> None:
    """ITI-41 / ITI-42 / ITI-57: raise the policy's refusal when `principal` may not
    submit documents for `patient_id`."""
    _check(principal, patient_id, _POLICY.may_submit_documents)


def _check(principal: Principal | None, patient_id: str, ask: Callable[[Principal, str], PolicyDecision]) -> None:
    if principal is not None:
        decision = ask(principal, patient_id)
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
UPDATE_REFUSED = "not authorised (R8-update-not-author): only an author structure of the object (authorInstitution or submitter) may change it"


# -- the coordination model's decision ----------------------------------------------------

CONFIDENTIALITY = "confidentialityCode"  # XdsCode.kind of the confidentialityCode values


# The confidentiality codes and authorPerson values of many entries: one statement, built once.
_FACTS: Any = union_all(
    select(literal_column("1", Integer).label("is_code"), XdsCode.object_uuid, XdsCode.code.label("value"))
    .where(XdsCode.kind == CONFIDENTIALITY, XdsCode.object_uuid.in_(bindparam("uuids", expanding=True))),
    select(literal_column("0", Integer), XdsAuthor.object_uuid, XdsAuthor.person)
    .where(XdsAuthor.object_uuid.in_(bindparam("uuids", expanding=True))),
)


def entry_facts(session: Session, entries: Sequence[XdsDocumentEntry]) -> list[DocumentFacts]:
    """What the decision reads of each entry: its authorPerson ids (XCN.1, the VIHF
    subject-id form of French professionals), author structures (the submitter's), its
    confidentialityCode values and classCode. Two queries for all the entries."""
    uuids = [entry.uuid for entry in entries]
    codes: dict[str, set[tuple[str, str]]] = defaultdict(set)
    authors: dict[str, set[str]] = defaultdict(set)
    for start in range(0, len(uuids), 1000):
        for is_code, uuid_, value in session.execute(_FACTS, {"uuids": uuids[start:start + 1000]}):
            if is_code:
                code, _, scheme = value.partition("^^")
                codes[uuid_].add((code, scheme))
            elif identifier := value.split("^", 1)[0].strip():
                authors[uuid_].add(identifier)
    return [
        DocumentFacts(
            author_ids=frozenset(authors.get(entry.uuid, ())),
            author_structures=frozenset((entry.submitter_structure,) if entry.submitter_structure else ()),
            confidentiality_codes=frozenset(codes.get(entry.uuid, ())),
            class_code=entry.class_code or None,
            type_code=entry.type_code or None,
        )
        for entry in entries
    ]


class Reader:
    """One request's reading rights: the assertion's (`may_read`) and the coordination
    model's (`Check`), asked per DocumentEntry and per patient."""

    def __init__(self, session: Session, gate: Gate | None, principal: Principal | None,
                 check: Check | None = None, action: Action = Action.READ_DOCUMENTS) -> None:
        """`check`: a decision made for another requester than a VIHF principal (the
        operator of an export); `action`: what reading is for (read-documents, export)."""
        self.session = session
        self.principal = principal
        self.action = action
        self.check: Check | None = check
        if check is None and gate is not None and principal is not None:
            self.check = gate.check(session, principal)

    def patient_visible(self, patient: str) -> bool:
        """Whether the objects of `patient` other than DocumentEntries (submission sets,
        folders) may be shown: the patient's entries are not all withheld."""
        if not may_read(self.principal, patient):
            return False
        if self.check is None:
            return True
        decision = self.check.decide(Action.READ_DOCUMENTS, patient)
        return decision is None or not decision.denied

    def entries(self, entries: Sequence[XdsDocumentEntry]) -> list[bool]:
        """Whether each DocumentEntry may be shown (or its document retrieved)."""
        if not entries:
            return []
        assertion = [may_read(self.principal, entry.patient_id) for entry in entries]
        if self.check is None:
            return assertion
        facts = entry_facts(self.session, entries)
        decided = self.check.entries([(entry.patient_id, f) for entry, f in zip(entries, facts)], self.action)
        return [a and d for a, d in zip(assertion, decided)]

    def summary(self) -> str | None:
        return self.check.summary() if self.check is not None else None

    def break_the_glass(self) -> set[str]:
        return set(self.check.break_the_glass) if self.check is not None else set()


def refused_submission(session: Session, gate: Gate | None, principal: Principal | None, patient: str,
                       code: str) -> RegistryError | None:
    """ITI-41/42: the coordination model's refusal of a submission for `patient` (the
    patient opposes feeding), as the transaction's error naming the rule; None when
    the submission may go on."""
    if gate is None or principal is None:
        return None
    now = datetime.now(timezone.utc)
    requester = Requester.from_principal(principal, gate.settings.coordinator_structures)
    decision = decide(requester, Action.SUBMIT, records.submission_state(session, patient, now), gate.settings, now)
    if decision.allowed:
        return None
    return RegistryError(code, f"not authorised ({decision.rule}): {decision.reason}")
