"""The hub's one access decision: a requester, an action, a patient's coordination state
and (for document actions) a document's facts give a `Decision` (issue #12).

Pure: no I/O, no store, no clock. The caller passes `now` and the state it loaded; the
same inputs always give the same decision. The rules are evaluated in the order of
coordination.md §10 ("hub enforcement proposal") and are listed, one row per
`Decision.rule`, in `ACCESS.md` at the repository root, which also says where the
specification was silent and what was chosen:

- R0  the assertion itself (resource-id; a patient acts on their own record; operator);
- R1  the patient's oppositions (professional, feeding, consultation);
- R2  visibility codes of the document (TRE_A07) against the requester's category;
- R3  the author reads their own document;
- R4  care-circle membership, treating physician, mandates, unenrolled patients;
- R5  the profession x document-class matrix, which only narrows R4 and R6;
- R6  break-the-glass (`bris_de_glace`, `centre_15`) under a break-the-glass mandate;
- R7  identity queries (PIX, PDQ) about protected or opposing patients;
- R8  submission and update;
- R9  the coordination services (enrol, circle, opposition, status, codes, mandates).

Per-patient work (matching the requester against the circle, the mandates and the
oppositions) is done once by `Access`; `filter_entries` then costs a few attribute reads
per document entry (ITI-18 answers of thousands of entries).
"""
from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Literal

from actors.coordination.state import Mandate, PatientState, Scope
from vihf import names
from vihf.principal import PatientId, Principal


class Category(StrEnum):
    """Who the requester is, from the first VIHF role value (vihf.md §4.1)."""

    PROFESSIONAL = "professional"  # TRE_G15 health professional, TRE_G16 in training
    PATIENT = "patient"  # TRE_A00 EXP_PATIENT: the patient's own expression
    THIRD_PARTY = "third-party"  # other TRE_A00: ALIM_AM, DISPOSITIF, SECRETARIAT_MEDICAL, AUTOMATE
    OPERATOR = "operator"  # the command line, no assertion (INTERFACES.md: XDM export)


class Action(StrEnum):
    """What the requester asks to do; ACCESS.md names the transactions of each."""

    READ_DOCUMENTS = "read-documents"
    SUBMIT = "submit"
    UPDATE = "update"
    QUERY_IDENTITY = "query-identity"
    EXPORT = "export"
    MANAGE_CIRCLE = "manage-circle"
    ENROL = "enrol"
    SET_OPPOSITION = "set-opposition"
    GET_STATUS = "get-status"
    ISSUE_PATIENT_CODE = "issue-patient-code"
    DECLARE_MANDATE = "declare-mandate"


class Effect(StrEnum):
    ALLOW = "allow"
    DENY = "deny"
    # A question about all of a patient's documents (no `document` given): go on, and
    # decide each entry with `Access.decide` / `filter_entries`.
    FILTER = "filter"


# The rule table (ACCESS.md): id -> loggable reason. No reason names a patient or a person.
RULES: dict[str, str] = {
    "R0-assertion-other-patient": "the assertion names another patient (resource-id)",
    "R0-patient-self-only": "a patient acts only on their own record, with an assertion naming it",
    "R0-operator-export": "export from the command line: an operator action, allowed and audited",
    "R0-operator": "the command line only exports; other operations need an authenticated requester",
    "R1-opposition-professional": "the patient opposes access by this professional",
    "R1-opposition-feeding": "the patient opposes the feeding of their record (ZFA-9 IO)",
    "R1-opposition-consultation": "the patient opposes the consultation of their record (ZFA-11 INC)",
    "R2-masque-ps": "document masked from health professionals (MASQUE_PS)",
    "R2-masque-pt": "document masked from third parties (MASQUE_PT)",
    "R2-invisible-patient": "document not visible to the patient (INVISIBLE_PATIENT)",
    "R2-invisible-representants": "document not visible to legal representatives (INVISIBLE_REPRESENTANTS_LEGAUX)",
    "R3-author": "the author reads their own document",
    "R4-patient-self": "the patient reads their own record",
    "R4-treating-physician": "treating physician of the patient (care circle, PCP)",
    "R4-circle": "active member of the patient's care circle",
    "R4-mandate": "active access mandate on the patient",
    "R4-unenrolled-allow": "patient in no pathway, unenrolled_patients = allow: any authenticated professional",
    "R4-unenrolled-deny": "patient in no pathway, unenrolled_patients = deny: the author only",
    "R4-out-of-scope": "no circle membership or mandate of the requester reaches this confidentiality level or class",
    "R4-no-relationship": "no care-circle membership and no active mandate on the patient",
    "R5-matrix": "the profession x document-class matrix excludes this class for this profession",
    "R6-break-the-glass": "break-the-glass access under an active break-the-glass mandate",
    "R6-btg-no-mandate": "break-the-glass access without an active break-the-glass mandate (DeclareMandate)",
    "R6-btg-out-of-scope": "the break-the-glass mandate does not reach this confidentiality level or class",
    "R7-identity-open": "identity queries are open to authenticated requesters",
    "R7-identity-authorised": "protected or opposing patient, disclosed to a coordinator, circle member, mandate holder or the patient",
    "R7-identity-protected": "protected or opposing patient, not disclosed to this requester",
    "R8-submit": "any authenticated requester submits for a known patient",
    "R8-update-author-structure": "the requester's structure is an author structure of the object",
    "R8-update-not-author": "only an author structure of the object (authorInstitution or submitter) may change it",
    "R9-coordinator": "professional of a coordinator structure",
    "R9-treating-physician": "the treating physician manages the circle of their patient",
    "R9-circle-member": "active member of the patient's care circle",
    "R9-mandate-holder": "holder of an active mandate on the patient",
    "R9-patient-self": "the patient acts on their own record",
    "R9-declare-mandate": "a health professional declares their own mandate",
    "R9-not-allowed": "this operation is for coordinators, the treating physician or circle members",
}

# Decisions that record a break-the-glass access, and refused attempts at one: both are
# audited with high severity.
_BREAK_THE_GLASS_RULES = frozenset({"R6-break-the-glass"})
_HIGH_SEVERITY_RULES = frozenset({"R6-break-the-glass", "R6-btg-no-mandate", "R6-btg-out-of-scope"})


@dataclass(frozen=True, slots=True)
class Decision:
    """The answer: `effect`, the `rule` (a row id of ACCESS.md) that gave it and its
    loggable `reason`. `break_the_glass` marks an access granted in break-the-glass;
    `high_severity` asks the audit record for it (granted or refused break-the-glass)."""

    effect: Effect
    rule: str
    reason: str
    break_the_glass: bool = False
    high_severity: bool = False

    @property
    def allowed(self) -> bool:
        return self.effect is Effect.ALLOW

    @property
    def denied(self) -> bool:
        return self.effect is Effect.DENY


def _build_decisions() -> dict[tuple[str, Effect], Decision]:
    return {
        (rule, effect): Decision(
            effect, rule, reason, rule in _BREAK_THE_GLASS_RULES, rule in _HIGH_SEVERITY_RULES
        )
        for rule, reason in RULES.items()
        for effect in Effect
    }


# Decisions are values: one instance per (rule, effect), shared by every answer.
_DECISIONS = _build_decisions()


def _allow(rule: str) -> Decision:
    return _DECISIONS[(rule, Effect.ALLOW)]


def _deny(rule: str) -> Decision:
    return _DECISIONS[(rule, Effect.DENY)]


def _filter(rule: str) -> Decision:
    return _DECISIONS[(rule, Effect.FILTER)]


@dataclass(frozen=True, slots=True)
class Requester:
    """The caller as the decision sees it. `profession` / `specialty` are the codes of the
    first two VIHF role values; `purpose` the lower-case TRE_R248 access mode; `patient`
    the resource-id of a patient-scoped assertion; `coordinator` whether the requester is
    a professional of a coordinator structure."""

    subject_id: str
    category: Category
    profession: str | None = None
    specialty: str | None = None
    structure_id: str | None = None
    purpose: str = names.NORMAL
    patient: PatientId | None = None
    coordinator: bool = False

    @property
    def break_the_glass(self) -> bool:
        """Access outside the normal authorisation (`bris_de_glace`, `centre_15`)."""
        return self.purpose in (names.BRIS_DE_GLACE, names.CENTRE_15)

    @classmethod
    def from_principal(cls, principal: Principal, coordinator_structures: Collection[str]) -> Requester:
        """The requester of a verified VIHF assertion."""
        first = principal.profession
        category = _category(first.code if first else None, first.code_system if first else None)
        structure = principal.structure_id.strip() if principal.structure_id else None
        return cls(
            subject_id=principal.subject_id,
            category=category,
            profession=first.code if first else None,
            specialty=principal.specialty.code if principal.specialty else None,
            structure_id=structure or None,
            purpose=principal.purpose or names.NORMAL,
            patient=principal.patient,
            coordinator=category is Category.PROFESSIONAL and bool(structure) and structure in coordinator_structures,
        )

    @classmethod
    def operator(cls, name: str) -> Requester:
        """The command line's operator (`tsnhub xdm export`)."""
        return cls(subject_id=name, category=Category.OPERATOR)


def _category(code: str | None, code_system: str | None) -> Category:
    if code_system in (names.TRE_G15_PROFESSION_SANTE, names.TRE_G16_PROFESSION_FORMATION):
        return Category.PROFESSIONAL
    if code_system == names.TRE_A00_PRODUCTEUR_DOC_NON_PS and code == "EXP_PATIENT":
        return Category.PATIENT
    # Other non-PS producers, and anything verification would not let through: the
    # category with the fewest rights.
    return Category.THIRD_PARTY


# Confidentiality levels (HL7 v3 Confidentiality, JDV_J08) from the least to the most restricted.
_LEVEL_RANK = {"N": 0, "R": 1, "V": 2}
# TRE_A07-StatutVisibiliteDocument (coordination.md §8), and the spelling of the HL7 v2
# document-transmission flag for the legal-representatives code.
MASQUE_PS = "MASQUE_PS"
MASQUE_PT = "MASQUE_PT"
MASQUE_PSOCIAL = "MASQUE_PSOCIAL"
INVISIBLE_PATIENT = "INVISIBLE_PATIENT"
INVISIBLE_REPRESENTANTS_LEGAUX = "INVISIBLE_REPRESENTANTS_LEGAUX"
_VISIBILITY_ALIASES = {"INVISIBLE_REP_LEGAUX": INVISIBLE_REPRESENTANTS_LEGAUX}
_VISIBILITY_CODES = frozenset({MASQUE_PS, MASQUE_PT, MASQUE_PSOCIAL, INVISIBLE_PATIENT, INVISIBLE_REPRESENTANTS_LEGAUX})

# R2: visibility code -> rule, for the codes that hide a document from each category.
# MASQUE_PSOCIAL hides nothing yet: no requester is a social-care professional (VIHF
# verification accepts TRE_G15/G16/A00 first roles only). The hub cannot tell a patient
# from their legal representative, so INVISIBLE_REPRESENTANTS_LEGAUX hides the document
# from the patient side altogether.
_HIDDEN: dict[Category, dict[str, str]] = {
    Category.PROFESSIONAL: {MASQUE_PS: "R2-masque-ps"},
    Category.THIRD_PARTY: {MASQUE_PS: "R2-masque-ps", MASQUE_PT: "R2-masque-pt"},
    Category.PATIENT: {INVISIBLE_PATIENT: "R2-invisible-patient", INVISIBLE_REPRESENTANTS_LEGAUX: "R2-invisible-representants"},
    Category.OPERATOR: {},
}


@dataclass(frozen=True, slots=True)
class DocumentFacts:
    """What the decision reads of one DocumentEntry. `author_ids` are the authorPerson
    ids in the VIHF subject-id form; `author_structures` the authorInstitution structure
    ids plus the submitter's structure; `confidentiality_codes` the (code, codeSystem)
    pairs of confidentialityCode; `class_code` / `type_code` as the registry stores them
    (`code^^codingScheme`).

    Codes are recognised by their code, case-insensitively, whatever their scheme: a
    missing or mistyped scheme must not unmask a document. `level` is the most
    restricted of N/R/V present (N when none is); `visibility` the TRE_A07 codes present."""

    author_ids: frozenset[str]
    author_structures: frozenset[str]
    confidentiality_codes: frozenset[tuple[str, str]]
    class_code: str | None
    type_code: str | None = None
    level: str = field(init=False, repr=False, compare=False)
    visibility: frozenset[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        level = "N"
        visibility: set[str] = set()
        for code, _scheme in self.confidentiality_codes:
            upper = code.strip().upper()
            upper = _VISIBILITY_ALIASES.get(upper, upper)
            if upper in _LEVEL_RANK:
                if _LEVEL_RANK[upper] > _LEVEL_RANK[level]:
                    level = upper
            elif upper in _VISIBILITY_CODES:
                visibility.add(upper)
        object.__setattr__(self, "level", level)
        object.__setattr__(self, "visibility", frozenset(visibility))


UnenrolledPatients = Literal["allow", "care-team", "deny"]
_UNENROLLED = ("allow", "care-team", "deny")


@dataclass(frozen=True, slots=True)
class Settings:
    """The `[coordination]` keys the decision reads. `matrix` maps (profession code,
    classCode) to allowed: a `False` removes that class from what R4/R6 grant to that
    profession, a `True` changes nothing (the matrix only narrows). `circle_scope` and
    `treating_physician_scope` are what membership of the circle reaches, as the
    `circle_*` / `treating_physician_*` keys say for the mandates of those kinds."""

    unenrolled_patients: UnenrolledPatients = "care-team"
    matrix: Mapping[tuple[str, str], bool] = field(default_factory=dict)
    coordinator_structures: frozenset[str] = frozenset()
    circle_scope: Scope = Scope()
    treating_physician_scope: Scope = Scope()
    narrowed: Mapping[str, frozenset[str]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.unenrolled_patients not in _UNENROLLED:
            raise ValueError(f"unenrolled_patients is one of {', '.join(_UNENROLLED)}")
        narrowed: dict[str, set[str]] = {}
        for (profession, class_code), allowed in self.matrix.items():
            if not allowed:
                narrowed.setdefault(profession, set()).add(class_code)
        object.__setattr__(self, "narrowed", {p: frozenset(c) for p, c in narrowed.items()})


_DOCUMENT_ACTIONS = (Action.READ_DOCUMENTS, Action.EXPORT)
# Actions a professional-scoped opposition takes from that professional. Submission and
# update are the contract's (feeding opposition only); the coordination services stay
# available during an opposition (INTERFACES.md).
_EXCLUDED_ACTIONS = frozenset(
    {Action.READ_DOCUMENTS, Action.EXPORT, Action.QUERY_IDENTITY, Action.DECLARE_MANDATE, Action.ISSUE_PATIENT_CODE}
)
_EMPTY: frozenset[str] = frozenset()
_EVERYTHING = Scope()


class Access:
    """One requester on one patient at one moment: the per-patient part of the decision,
    computed once, then `decide` for any action and document."""

    __slots__ = (
        "requester", "_refusal", "_self", "_excluded", "_feeding", "_consultation", "_undisclosed",
        "_member", "_treating", "_mandate_holder", "_btg", "_grants", "_no_grant", "_narrowed", "_hidden",
    )

    def __init__(self, requester: Requester, state: PatientState, settings: Settings, now: datetime) -> None:
        self.requester = requester
        category = requester.category
        self._refusal = _refusal(requester, state)
        self._self = category is Category.PATIENT and self._refusal is None
        on_behalf = category is Category.PROFESSIONAL or category is Category.THIRD_PARTY
        subject, structure = requester.subject_id, requester.structure_id

        # One pass over each collection; the requester is matched before the time bounds.
        self._excluded = self._feeding = self._consultation = False
        for opposition in state.oppositions:
            if opposition.active_at(now):
                if opposition.scope == "consultation":
                    self._consultation = True
                elif opposition.scope == "feeding":
                    self._feeding = True
                elif on_behalf and opposition.professional_id == subject:
                    self._excluded = True
        # R7: "patients in protected access (PD1-12 Y) and patients who oppose" consultation.
        self._undisclosed = state.protected or self._consultation

        self._member = self._treating = False
        mandates: list[Mandate] = []
        btg_mandates: list[Mandate] = []
        if on_behalf:
            for member in state.circle:
                if member.matches(subject, structure) and member.active_at(now):
                    self._member = True
                    self._treating = self._treating or member.treating_physician
            for mandate in state.mandates:
                if mandate.held_by(subject, structure) and mandate.active_at(now):
                    (btg_mandates if mandate.break_the_glass else mandates).append(mandate)
        self._mandate_holder = bool(mandates)
        # Break-the-glass needs both the declared mandate and the VIHF access mode.
        self._btg = requester.break_the_glass and bool(btg_mandates)

        grants: list[tuple[str, Scope]] = []
        enrolled = state.enrolled(now)
        if not enrolled and settings.unenrolled_patients == "deny":
            no_grant = "R4-unenrolled-deny"
        else:
            if self._self:
                grants.append(("R4-patient-self", _EVERYTHING))
            if self._treating:
                grants.append(("R4-treating-physician", settings.treating_physician_scope))
            if self._member:
                grants.append(("R4-circle", settings.circle_scope))
            grants.extend(("R4-mandate", m.scope) for m in mandates)
            if not enrolled and settings.unenrolled_patients == "allow" and category is Category.PROFESSIONAL:
                grants.append(("R4-unenrolled-allow", _EVERYTHING))
            if self._btg:
                grants.extend(("R6-break-the-glass", m.scope) for m in btg_mandates)
            if requester.break_the_glass:
                no_grant = "R6-btg-out-of-scope" if btg_mandates else "R6-btg-no-mandate"
            else:
                no_grant = "R4-out-of-scope" if grants else "R4-no-relationship"
        self._grants = tuple(grants)
        self._no_grant = no_grant
        self._narrowed = _EMPTY if self._self else settings.narrowed.get(requester.profession or "", _EMPTY)
        self._hidden = _HIDDEN[category]

    def decide(self, action: Action, document: DocumentFacts | None = None) -> Decision:
        """The decision for `action`; `document` is read by read-documents and export (one
        entry; without it, the answer about all entries: deny, allow or filter) and is
        required by update."""
        if self.requester.category is Category.OPERATOR:
            return _allow("R0-operator-export") if action is Action.EXPORT else _deny("R0-operator")
        if self._refusal is not None:
            return self._refusal
        if self._excluded and action in _EXCLUDED_ACTIONS:
            return _deny("R1-opposition-professional")
        if action in _DOCUMENT_ACTIONS:
            return self._entry(document) if document is not None else self._entries()
        if action is Action.QUERY_IDENTITY:
            return self._identity()
        if action is Action.SUBMIT:
            return _deny("R1-opposition-feeding") if self._feeding else _allow("R8-submit")
        if action is Action.UPDATE:
            if document is None:
                raise ValueError("update is decided on the document's facts")
            structure = self.requester.structure_id
            if structure is not None and structure in document.author_structures:
                return _allow("R8-update-author-structure")
            return _deny("R8-update-not-author")
        return self._service(action)

    def entries(self, documents: Iterable[DocumentFacts], action: Action = Action.READ_DOCUMENTS) -> list[Decision]:
        """One decision per document, in order (ITI-18 entries, ITI-43 documents, XDM export)."""
        if action in _DOCUMENT_ACTIONS and self.requester.category is not Category.OPERATOR:
            whole = self.decide(action)
            if whole.denied:
                return [whole for _ in documents]
            entry = self._entry
            return [entry(document) for document in documents]
        return [self.decide(action, document) for document in documents]

    def _entries(self) -> Decision:
        """The answer about all of the patient's entries: each is then decided by `_entry`."""
        if self._consultation and not self._self:
            return _filter("R1-opposition-consultation")
        return _filter(self._grants[0][0] if self._grants else self._no_grant)

    def _entry(self, document: DocumentFacts) -> Decision:
        # R1 and R2 spare the author of the entry (R3): the author's own document is not a
        # consultation of the patient's record by others, and its codes hide nothing from them.
        if self.requester.subject_id in document.author_ids:
            return _allow("R3-author")
        if self._consultation and not self._self:
            return _deny("R1-opposition-consultation")
        if document.visibility and self._hidden:
            for code in document.visibility:
                rule = self._hidden.get(code)
                if rule is not None:
                    return _deny(rule)
        level, class_code = document.level, document.class_code
        for rule, scope in self._grants:
            if scope.covers(level, class_code):
                if class_code in self._narrowed:
                    return _deny("R5-matrix")
                return _allow(rule)
        return _deny(self._no_grant)

    def _identity(self) -> Decision:
        if not self._undisclosed:
            return _allow("R7-identity-open")
        if self._self or self.requester.coordinator or self._member or self._mandate_holder:
            return _allow("R7-identity-authorised")
        if self._btg:
            return _allow("R6-break-the-glass")
        return _deny("R7-identity-protected")

    def _service(self, action: Action) -> Decision:
        """R9: the coordination services (INTERFACES.md, "Who may call what")."""
        coordinator = self.requester.coordinator
        if action is Action.DECLARE_MANDATE:
            if self.requester.category is Category.PROFESSIONAL:
                return _allow("R9-declare-mandate")
            return _deny("R9-not-allowed")
        if action is Action.ENROL:
            return _allow("R9-coordinator") if coordinator else _deny("R9-not-allowed")
        if action is Action.MANAGE_CIRCLE:
            if coordinator:
                return _allow("R9-coordinator")
            return _allow("R9-treating-physician") if self._treating else _deny("R9-not-allowed")
        # set-opposition, issue-patient-code, get-status
        if coordinator:
            return _allow("R9-coordinator")
        if self._member:
            return _allow("R9-circle-member")
        if self._self:
            return _allow("R9-patient-self")
        if action is Action.GET_STATUS:
            if self._mandate_holder:
                return _allow("R9-mandate-holder")
            if self._btg:
                return _allow("R6-break-the-glass")
        return _deny("R9-not-allowed")


def _refusal(requester: Requester, state: PatientState) -> Decision | None:
    """R0: what the assertion itself forbids, whatever the action."""
    if requester.patient is not None and not state.identifies(requester.patient):
        return _deny("R0-assertion-other-patient")
    if requester.category is Category.PATIENT and requester.patient is None:
        return _deny("R0-patient-self-only")
    return None


def decide(
    requester: Requester,
    action: Action,
    state: PatientState,
    settings: Settings,
    now: datetime,
    document: DocumentFacts | None = None,
) -> Decision:
    """May `requester` do `action` on the patient of `state` (and on `document`) at `now`."""
    return Access(requester, state, settings, now).decide(action, document)


def filter_entries(
    requester: Requester,
    state: PatientState,
    settings: Settings,
    now: datetime,
    documents: Iterable[DocumentFacts],
    action: Action = Action.READ_DOCUMENTS,
) -> list[Decision]:
    """ITI-18 / ITI-43 / XDM export: one decision per document of one patient, the
    per-patient work done once."""
    return Access(requester, state, settings, now).entries(documents, action)
