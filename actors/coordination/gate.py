"""The one access decision as every path of the hub asks it: who the caller is, the
coordination state of the patients concerned (read from the store, one query per table
for all of a request's patients), and `decision.Access` for each.

A path builds one `Check` per request and asks it. A request without principal reaches
the actors only when the hub runs with `[security] require_vihf = false`: the decision
is then not applied (INTERFACES.md, access rules), and `Check` answers allow.

Every decision is counted by rule in `Check.summary()`, which the path puts in its audit
record; an access granted by break-the-glass is also returned by `Check.break_the_glass`
so that the path records the coordination event and the high-severity audit entry.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import partial

from sqlalchemy import select
from sqlalchemy.orm import Session

from actors.coordination import records
from actors.coordination.decision import Access, Action, Category, Decision, DocumentFacts, Requester, Settings
from actors.coordination.state import Scope
from actors.identity.query import Disclose, PatientView
from hub.config import CoordinationConfig
from hub.store.models.identity import IdentityDomain, IdentityIdentifier, IdentityPatient
from vihf.principal import Principal


def settings_from_config(config: CoordinationConfig) -> Settings:
    """The decision's settings from `[coordination]`."""
    def scope(prefix: str) -> Scope:
        return Scope(frozenset(getattr(config, f"{prefix}_confidentiality")), frozenset(getattr(config, f"{prefix}_classes")))

    return Settings(
        unenrolled_patients=config.unenrolled_patients,  # type: ignore[arg-type]  # checked by validate()
        coordinator_structures=frozenset(s.strip() for s in config.coordinator_structures),
        circle_scope=scope("circle"),
        treating_physician_scope=scope("treating_physician"),
    )


@dataclass(frozen=True)
class Gate:
    """The platform's access settings: what each request's `Check` decides with."""

    settings: Settings = field(default_factory=Settings)

    @classmethod
    def from_config(cls, config: CoordinationConfig) -> Gate:
        return cls(settings_from_config(config))

    def check(self, session: Session, principal: Principal | None, now: datetime | None = None) -> Check:
        requester = Requester.from_principal(principal, self.settings.coordinator_structures) if principal else None
        return Check(self, session, requester, now or datetime.now(timezone.utc))

    def requester_check(self, session: Session, requester: Requester, now: datetime | None = None) -> Check:
        return Check(self, session, requester, now or datetime.now(timezone.utc))

    def operator(self, session: Session, name: str, now: datetime | None = None) -> Check:
        """The decision for an operator's action (an XDM export from the command line)."""
        return Check(self, session, Requester.operator(name), now or datetime.now(timezone.utc))


class Check:
    """One request's decisions: per patient, the state is loaded once and decided once."""

    def __init__(self, gate: Gate, session: Session, requester: Requester | None, now: datetime) -> None:
        self.gate = gate
        self.session = session
        self.requester = requester
        self.now = now
        self.counts: Counter[str] = Counter()
        self.break_the_glass: set[str] = set()  # patients reached by break-the-glass
        self._access: dict[str, Access] = {}

    @property
    def applied(self) -> bool:
        """False when the request has no principal: every answer is allow."""
        return self.requester is not None

    def prepare(self, patients: Iterable[str]) -> None:
        """Load the state of every patient of the request at once."""
        if self.requester is None:
            return
        missing = sorted({p for p in patients if p and p not in self._access})
        if not missing:
            return
        states = records.load_states(self.session, missing, self.now)
        for patient in missing:
            self._access[patient] = Access(self.requester, states[patient], self.gate.settings, self.now)

    def _of(self, patient: str) -> Access:
        self.prepare([patient])
        return self._access[patient]

    def _count(self, decision: Decision, patient: str) -> Decision:
        self.counts[f"{decision.effect}:{decision.rule}"] += 1
        if decision.allowed and decision.break_the_glass:
            self.break_the_glass.add(patient)
        return decision

    def decide(self, action: Action, patient: str, document: DocumentFacts | None = None) -> Decision | None:
        """The decision for `action` on `patient` (None: not applied, no principal)."""
        if self.requester is None:
            return None
        return self._count(self._of(patient).decide(action, document), patient)

    def allows(self, action: Action, patient: str, document: DocumentFacts | None = None) -> bool:
        decision = self.decide(action, patient, document)
        return decision is None or decision.allowed

    def entries(self, items: Sequence[tuple[str, DocumentFacts]], action: Action = Action.READ_DOCUMENTS) -> list[bool]:
        """For (patient, facts) pairs: whether each entry may be shown."""
        if self.requester is None:
            return [True] * len(items)
        self.prepare(patient for patient, _ in items)
        return [self._count(self._access[patient].decide(action, facts), patient).allowed for patient, facts in items]

    def summary(self) -> str | None:
        """The decisions of the request for its audit record: `access allow:R4-circle=3 ...`."""
        if not self.counts:
            return None
        parts = " ".join(f"{key}={count}" for key, count in sorted(self.counts.items()))
        flag = " BREAK-THE-GLASS" if self.break_the_glass else ""
        return f"access{flag} {parts}"[:480]


class Disclosure:
    """`actors.identity.query.Disclosure`: which persons a PDQ or PIX answer may name.
    A patient in protected access (PD1-12 `Y`) or who opposes consultation is withheld
    from callers the decision does not authorise (R7); a person with no identifier in
    the affinity domain has no coordination state and is shown."""

    def __init__(self, gate: Gate, affinity_domain: str) -> None:
        self.gate = gate
        self.affinity_domain = affinity_domain

    def for_principal(self, principal: Principal | None) -> Disclose | None:
        if principal is None:
            return None
        return partial(self._disclose, Requester.from_principal(principal, self.gate.settings.coordinator_structures))

    def for_sender(self, sender: str) -> Disclose:
        """An MLLP caller, known by its sender entry: no relationship with any patient."""
        return partial(self._disclose, Requester(subject_id=sender or "mllp", category=Category.THIRD_PARTY))

    def _disclose(self, requester: Requester, session: Session, views: list[PatientView]) -> list[PatientView]:
        keys = _affinity_keys(session, [view.person_id for view in views], self.affinity_domain)
        check = self.gate.requester_check(session, requester)
        check.prepare(keys.values())
        return [view for view in views
                if view.person_id not in keys or check.allows(Action.QUERY_IDENTITY, keys[view.person_id])]


def _affinity_keys(session: Session, persons: Sequence[int], affinity_domain: str) -> dict[int, str]:
    """person id -> the CX (`id^^^&OID&ISO`) of its identifier in the affinity domain."""
    rows = session.execute(
        select(IdentityPatient.person_id, IdentityIdentifier.value)
        .join(IdentityIdentifier, IdentityIdentifier.patient_id == IdentityPatient.id)
        .join(IdentityDomain, IdentityDomain.id == IdentityIdentifier.domain_id)
        .where(IdentityPatient.person_id.in_(sorted(set(persons))), IdentityDomain.universal_id == affinity_domain,
               IdentityIdentifier.active.is_(True))
    )
    return {person: f"{value}^^^&{affinity_domain}&ISO" for person, value in rows}
