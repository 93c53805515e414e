"""A patient's coordination state as values: enrolments, care circle, access mandates,
oppositions and protected access (coordination.md §5, §9, §10).

The access decision (`actors.coordination.decision`) reads these values and nothing
else; whoever loads them from the store builds one `PatientState` per patient and
request. Every datetime is timezone-aware UTC, as the store keeps them. Codes follow the
store (`hub.store.models.coordination`): enrolment statuses `proposed` / `active` /
`suspended` / `ended`; mandate kinds `treating-physician` / `circle` / `care-team` /
`break-the-glass` / `patient-code`; opposition scopes `consultation` / `professional` /
`feeding`; confidentiality levels `N` / `R` / `V`; classCodes as the registry stores them
(`code^^codingScheme`). An empty scope reaches every code, as in the store.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from vihf.principal import PatientId

# TRE_R259-HL7ParticipationFunction: the treating physician (médecin traitant).
TREATING_PHYSICIAN_ROLE = "PCP"

# An enrolment in either status keeps the patient "in a pathway": a suspension pauses the
# coordination, it does not take the patient out of it.
ENROLLED_STATUSES = frozenset({"active", "suspended"})

BREAK_THE_GLASS = "break-the-glass"

MandateKind = Literal["treating-physician", "circle", "care-team", "break-the-glass", "patient-code"]
OppositionScope = Literal["consultation", "professional", "feeding"]


def _within(now: datetime, since: datetime, until: datetime | None) -> bool:
    return since <= now and (until is None or now < until)


@dataclass(frozen=True, slots=True)
class Enrolment:
    """An enrolment in a care pathway of the catalogue (`actors.coordination.pathways`)."""

    pathway: str
    status: str
    since: datetime
    until: datetime | None = None

    def active_at(self, now: datetime) -> bool:
        return self.status in ENROLLED_STATUSES and _within(now, self.since, self.until)


@dataclass(frozen=True, slots=True)
class CircleMember:
    """A period of membership of the care circle (CDSCareTeam participant, §5). A member
    with no structure (a PAM ROL feed) matches on the professional id alone."""

    professional_id: str
    structure_id: str | None
    role: str
    since: datetime
    until: datetime | None = None

    def active_at(self, now: datetime) -> bool:
        return _within(now, self.since, self.until)

    def matches(self, professional_id: str, structure_id: str | None) -> bool:
        """The member is this professional acting in this structure (INTERFACES.md: the
        membership matches on the professional id when the feed names no structure)."""
        return self.professional_id == professional_id and (
            self.structure_id is None or self.structure_id == structure_id
        )

    @property
    def treating_physician(self) -> bool:
        return self.role == TREATING_PHYSICIAN_ROLE


@dataclass(frozen=True, slots=True)
class Scope:
    """What an access reaches: confidentiality levels (N/R/V) and XDS classCodes
    (`code^^codingScheme`); an empty set reaches every code."""

    confidentiality: frozenset[str] = frozenset()
    classes: frozenset[str] = frozenset()

    def covers(self, level: str, class_code: str | None) -> bool:
        """A document of this level and class is within the scope. A document without
        classCode is outside any scope that names classes."""
        if self.confidentiality and level not in self.confidentiality:
            return False
        return not self.classes or class_code in self.classes


@dataclass(frozen=True, slots=True)
class Mandate:
    """An access mandate of one professional on this patient (§10), limited in time and
    in scope. A break-the-glass mandate is declared with its reason (INTERFACES.md)."""

    holder_id: str
    holder_structure: str | None
    kind: MandateKind
    scope_confidentiality: frozenset[str]
    scope_classes: frozenset[str]
    starts: datetime
    ends: datetime
    reason: str | None = None

    def __post_init__(self) -> None:
        if self.kind == BREAK_THE_GLASS and not (self.reason and self.reason.strip()):
            raise ValueError("a break-the-glass mandate is declared with its reason")

    def active_at(self, now: datetime) -> bool:
        return _within(now, self.starts, self.ends)

    def held_by(self, professional_id: str, structure_id: str | None) -> bool:
        """The holder is this professional; a mandate declared in a structure holds only
        when they act in that structure."""
        return self.holder_id == professional_id and (
            self.holder_structure is None or self.holder_structure == structure_id
        )

    @property
    def break_the_glass(self) -> bool:
        return self.kind == BREAK_THE_GLASS

    @property
    def scope(self) -> Scope:
        return Scope(self.scope_confidentiality, self.scope_classes)


@dataclass(frozen=True, slots=True)
class Opposition:
    """The patient's opposition (§9): to consultation (ZFA-11 `INC`), to one professional,
    or to feeding (ZFA-9 `IO`). It holds from the moment it is recorded until withdrawn:
    `since` (the date the patient expressed it) does not delay it, so that a clock or a
    date in the future never lets a request through that the patient refused."""

    scope: OppositionScope
    professional_id: str | None
    since: datetime
    withdrawn: datetime | None = None

    def __post_init__(self) -> None:
        if (self.scope == "professional") != (self.professional_id is not None):
            raise ValueError("an opposition names a professional exactly when its scope is 'professional'")

    def active_at(self, now: datetime) -> bool:
        return self.withdrawn is None or now < self.withdrawn


@dataclass(frozen=True, slots=True)
class PatientState:
    """Everything the access decision knows of one patient. `patient` is the id in the
    affinity domain (the registry's patient id); `other_ids` the same person's other
    identifiers (PIX cross-references) that an assertion's resource-id may name.
    `protected` is PAM-FR PD1-12 `Y` in force (protected access)."""

    patient: PatientId
    enrolments: tuple[Enrolment, ...] = ()
    circle: tuple[CircleMember, ...] = ()
    mandates: tuple[Mandate, ...] = ()
    oppositions: tuple[Opposition, ...] = ()
    protected: bool = False
    other_ids: tuple[PatientId, ...] = ()

    def identifies(self, patient: PatientId) -> bool:
        """`patient` names this person (any of their identifiers)."""
        return self.patient.same_patient(patient) or any(known.same_patient(patient) for known in self.other_ids)

    def active_enrolments(self, now: datetime) -> tuple[Enrolment, ...]:
        return tuple(e for e in self.enrolments if e.active_at(now))

    def enrolled(self, now: datetime) -> bool:
        """In at least one pathway (INTERFACES.md `unenrolled_patients` governs the others)."""
        return any(e.active_at(now) for e in self.enrolments)

    def active_circle(self, now: datetime) -> tuple[CircleMember, ...]:
        return tuple(m for m in self.circle if m.active_at(now))

    def treating_physicians(self, now: datetime) -> tuple[CircleMember, ...]:
        return tuple(m for m in self.circle if m.treating_physician and m.active_at(now))

    def active_mandates(self, now: datetime) -> tuple[Mandate, ...]:
        return tuple(m for m in self.mandates if m.active_at(now))

    def active_oppositions(self, now: datetime) -> tuple[Opposition, ...]:
        return tuple(o for o in self.oppositions if o.active_at(now))

    def opposes(self, scope: OppositionScope, now: datetime, professional_id: str | None = None) -> bool:
        """An opposition of this scope is in force (for `professional`: to that professional)."""
        return any(
            o.scope == scope and o.active_at(now) and (scope != "professional" or o.professional_id == professional_id)
            for o in self.oppositions
        )
