"""XDSUnknownPatientId (ITI TF-2b 3.42.4.1.3) through the store's directory: a patient
id of the affinity domain is known when listed in xds_known_patient or when the identity
manager designates an active patient with it (an INS only once qualified); the registry
asks this with its other look-ups, in one statement."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest
from sqlalchemy import event

from actors.identity import core
from actors.identity.core import Context, IncomingIdentity, Policy
from actors.identity.model import Cx, Hd, PersonName, Traits
from actors.xds import constants as c
from actors.xds.metadata import parse_submission
from actors.xds.patients import StorePatientDirectory, add_known_patient
from actors.xds.registry import check_against_registry
from conformance.xds_metadata import DocumentSpec, submit_objects_request
from hub.store import Store

IPP = Hd("CHVF-IPP", "2.999.1.10.1", "ISO")
INS_TEST = Hd("ASIP-SANTE-INS-NIR", "1.2.250.1.213.1.4.10", "ISO")
NOW = datetime(2025, 3, 20, 10, 0, tzinfo=timezone.utc)


pytestmark = pytest.mark.usefixtures("fresh_domain_cache")


def _feed(store: Store, ids: list[Cx], codes: tuple[str, ...] = ()) -> None:
    incoming = IncomingIdentity(ids, Traits([PersonName("BREMOND", "HUGO", "HUGO", "", "L")], "19791103", "M"), list(codes), source="GAM|CHVF")
    with store.transaction() as session:
        core.feed(session, Context(Policy(accepted_domains=("2.999.1.10.1",)), NOW, "MSG-1"), incoming)


def _known(store: Store, domain: str, patient: str) -> bool:
    with store.session() as session:
        return StorePatientDirectory(session, domain).is_known(patient)


def test_an_id_listed_for_the_registry_is_known(store: Store) -> None:
    patient = "1234567890123^^^&1.2.250.1.213.1.4.8&ISO"
    assert not _known(store, "1.2.250.1.213.1.4.8", patient)
    with store.transaction() as session:
        add_known_patient(session, patient)
    assert _known(store, "1.2.250.1.213.1.4.8", patient)
    assert not _known(store, "1.2.250.1.213.1.4.9", patient)  # another affinity domain


def test_an_id_fed_to_the_identity_manager_is_known_an_unqualified_ins_is_not(store: Store) -> None:
    _feed(store, [Cx("100871", IPP, "PI"), Cx("179114410905287", INS_TEST, "INS")], codes=("PROV",))
    assert _known(store, "2.999.1.10.1", "100871^^^&2.999.1.10.1&ISO")
    assert not _known(store, "2.999.1.10.1", "100872^^^&2.999.1.10.1&ISO")
    # Fed without VALI, the INS is not integrated: it designates nobody.
    assert not _known(store, "1.2.250.1.213.1.4.10", "179114410905287^^^&1.2.250.1.213.1.4.10&ISO")
    _feed(store, [Cx("100871", IPP, "PI"), Cx("179114410905287", INS_TEST, "INS")], codes=("VALI",))
    assert _known(store, "1.2.250.1.213.1.4.10", "179114410905287^^^&1.2.250.1.213.1.4.10&ISO")


def test_the_registry_asks_the_patient_with_its_look_ups_in_one_statement(store: Store) -> None:
    _feed(store, [Cx("100871", IPP, "PI")])
    listed = "1234567890123^^^&1.2.250.1.213.1.4.8&ISO"  # a domain the identity manager never stored
    with store.transaction() as session:
        add_known_patient(session, listed)
    core.domain_cache.clear()
    statements: list[str] = []
    event.listen(store.engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
    cases = (
        ("2.999.1.10.1", "100871^^^&2.999.1.10.1&ISO", []),
        ("2.999.1.10.1", "404^^^&2.999.1.10.1&ISO", [c.XDSUnknownPatientId]),
        ("1.2.250.1.213.1.4.8", listed, []),
        ("1.2.250.1.213.1.4.8", "404^^^&1.2.250.1.213.1.4.8&ISO", [c.XDSUnknownPatientId]),
    )
    for domain, patient, expected in cases:
        statements.clear()
        submission = parse_submission(submit_objects_request(patient, documents=[DocumentSpec(), DocumentSpec()]))
        with store.session() as session:
            errors = check_against_registry(session, submission, StorePatientDirectory(session, domain))
        assert [e.code for e in errors] == expected
        assert len([s for s in statements if s.lstrip().upper().startswith("SELECT")]) == 1, statements
