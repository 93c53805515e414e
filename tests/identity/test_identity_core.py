"""The identity core and the query core, without a server: feed, INS rules, merge,
identifier change, link/unlink, PIX and PDQ queries, continuation, directory."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from actors.identity import core, directory, events, query
from actors.identity.core import Context, IdentityError, IncomingIdentity, Policy
from actors.identity.model import Cx, Hd, IdentityStatus, PersonName, Traits
from hub.wire import hl7v2
from hub.store import Store
from hub.store.models.identity import IdentityEvent, IdentityHistory, IdentityIdentifier, IdentityPatient

IPP = Hd("CHVF-IPP", "2.999.1.10.1", "ISO")
SITE2 = Hd("CHVF-SITE2-IPP", "2.999.1.10.6", "ISO")
CLINIC = Hd("CLA-IPP", "2.999.1.11.1", "ISO")
INS_TEST = Hd("ASIP-SANTE-INS-NIR", "1.2.250.1.213.1.4.10", "ISO")
POLICY = Policy(accepted_domains=("2.999.1.10.1", "2.999.1.10.6", "CLA-IPP"))
NOW = datetime(2025, 3, 20, 10, 0, tzinfo=timezone.utc)


pytestmark = pytest.mark.usefixtures("fresh_domain_cache")


def ctx() -> Context:
    return Context(POLICY, NOW, "MSG-1")


def person(ids: list[Cx], family: str = "BREMOND", given: str = "HUGO", birth: str = "19791103", sex: str = "M",
           codes: tuple[str, ...] = (), source: str = "GAM|CHVF") -> IncomingIdentity:
    return IncomingIdentity(ids, Traits([PersonName(family, given, given, "", "L")], birth, sex), list(codes), source=source)


def feed(store: Store, incoming: IncomingIdentity) -> core.FeedResult:
    with store.transaction() as session:
        result = core.feed(session, ctx(), incoming)
    return result


def count(session: Session, model: type) -> int:
    return int(session.scalar(select(func.count()).select_from(model)) or 0)


def test_feed_creates_then_updates_the_same_record(store: Store) -> None:
    first = feed(store, person([Cx("100871", IPP, "PI")]))
    second = feed(store, person([Cx("100871", IPP, "PI")], family="BRÉMOND"))
    assert first.created and not second.created
    assert first.patient_id == second.patient_id
    with store.session() as session:
        patient = session.get(IdentityPatient, first.patient_id)
        assert patient is not None and patient.family_norm == "BREMOND" and patient.family_name == "BRÉMOND"


def test_ins_with_vali_makes_a_qualified_identity(store: Store) -> None:
    result = feed(store, person([Cx("100871", IPP, "PI"), Cx("179114410905287", INS_TEST, "INS")], codes=("VALI",)))
    assert result.status is IdentityStatus.QUAL
    with store.session() as session:
        assert directory.is_known(session, "179114410905287^^^ASIP-SANTE-INS-NIR&1.2.250.1.213.1.4.10&ISO^INS")


def test_ins_without_vali_is_integrated_without_the_ins(store: Store) -> None:
    result = feed(store, person([Cx("100871", IPP, "PI"), Cx("179114410905287", INS_TEST, "INS")], codes=("PROV",)))
    assert result.status is IdentityStatus.PROV
    with store.session() as session:
        assert not directory.is_known(session, Cx("179114410905287", INS_TEST, "INS"))
        assert directory.is_known(session, Cx("100871", IPP, "PI"))


def test_vali_without_ins_is_a_validated_identity(store: Store) -> None:
    assert feed(store, person([Cx("100871", IPP, "PI")], codes=("VALI",))).status is IdentityStatus.VALI


def test_ins_with_a_wrong_key_is_refused_and_nothing_is_written(store: Store) -> None:
    with pytest.raises(IdentityError) as refused:
        feed(store, person([Cx("100871", IPP, "PI"), Cx("179114410905288", INS_TEST, "INS")], codes=("VALI",)))
    assert refused.value.code == hl7v2.ERR_DATA_TYPE
    assert refused.value.location == core.Location("PID", 1, 3, 2, 1)
    with store.session() as session:
        assert count(session, IdentityPatient) == 0
        assert count(session, IdentityIdentifier) == 0


def test_ins_under_a_wrong_oid_is_refused(store: Store) -> None:
    with pytest.raises(IdentityError) as refused:
        feed(store, person([Cx("179114410905287", Hd("ASIP-SANTE-INS-NIR", "1.2.250.1.213.1.4.5", "ISO"), "INS")], codes=("VALI",)))
    assert refused.value.code == hl7v2.ERR_TABLE_VALUE_NOT_FOUND
    assert refused.value.location == core.Location("PID", 1, 3, 1, 4)


def test_unaccepted_domain_is_unknown_key_204(store: Store) -> None:
    with pytest.raises(IdentityError) as refused:
        feed(store, person([Cx("1", Hd("OTHER", "2.999.77", "ISO"), "PI")]))
    assert refused.value.code == hl7v2.ERR_UNKNOWN_KEY_IDENTIFIER
    with store.session() as session:
        assert count(session, IdentityPatient) == 0


def test_identifiers_of_two_patients_in_one_message_are_205(store: Store) -> None:
    feed(store, person([Cx("1", IPP, "PI")]))
    feed(store, person([Cx("2", SITE2, "PI")]))
    with pytest.raises(IdentityError) as refused:
        feed(store, person([Cx("1", IPP, "PI"), Cx("2", SITE2, "PI")]))
    assert refused.value.code == hl7v2.ERR_DUPLICATE_KEY_IDENTIFIER


def test_a_second_domain_sharing_the_ins_is_cross_referenced(store: Store) -> None:
    feed(store, person([Cx("100871", IPP, "PI"), Cx("179114410905287", INS_TEST, "INS")], codes=("VALI",)))
    feed(store, person([Cx("CLA-55120", CLINIC, "PI"), Cx("179114410905287", INS_TEST, "INS")], codes=("VALI",), source="DPI|CLA"))
    with store.session() as session:
        found = query.cross_references(session, Cx("CLA-55120", CLINIC), [IPP])
    assert [c.value for c in found] == ["100871"]


def test_merge_moves_identifiers_and_publishes_the_event_in_the_transaction(store: Store) -> None:
    feed(store, person([Cx("100455", IPP, "PI")]))
    feed(store, person([Cx("100456", IPP, "PI"), Cx("S2-1", SITE2, "PI")]))
    seen: list[tuple[events.PatientsMerged, int]] = []

    def on_merge(session: Session, event: events.PatientsMerged) -> None:
        # The subscriber works in the merging transaction: it sees the merged state.
        seen.append((event, count(session, IdentityHistory)))

    events.subscribe(events.PatientsMerged, on_merge)
    try:
        with store.transaction() as session:
            core.merge(session, ctx(), person([Cx("100455", IPP, "PI")]), [Cx("100456", IPP, "PI")], core.Location("MRG", 1, 1))
    finally:
        events.unsubscribe(events.PatientsMerged, on_merge)
    assert len(seen) == 1
    event, history = seen[0]
    assert history == 1
    assert event.surviving[0].value == "100455"
    assert [c.value for c in event.retired] == ["100456"]  # S2-1 moves and stays valid
    with store.session() as session:
        assert not directory.is_known(session, Cx("100456", IPP))
        assert directory.is_known(session, Cx("S2-1", SITE2))
        assert [c.value for c in directory.current_identifiers(session, Cx("100456", IPP))] == ["100455", "S2-1"]
        assert [c.value for c in query.cross_references(session, Cx("100455", IPP), [SITE2])] == ["S2-1"]
        assert session.scalars(select(IdentityEvent.kind)).all() == ["identity.merged"]


def test_a_failing_merge_subscriber_rolls_the_merge_back(store: Store) -> None:
    feed(store, person([Cx("100455", IPP, "PI")]))
    feed(store, person([Cx("100456", IPP, "PI")]))

    def broken(session: Session, event: events.PatientsMerged) -> None:
        raise RuntimeError("registry unavailable")

    events.subscribe(events.PatientsMerged, broken)
    try:
        with pytest.raises(RuntimeError):
            with store.transaction() as session:
                core.merge(session, ctx(), person([Cx("100455", IPP, "PI")]), [Cx("100456", IPP, "PI")], core.Location("MRG", 1, 1))
    finally:
        events.unsubscribe(events.PatientsMerged, broken)
    with store.session() as session:
        assert directory.is_known(session, Cx("100456", IPP))


def test_ins_removal_marker_deletes_every_ins(store: Store) -> None:
    feed(store, person([Cx("101290", IPP, "PI"), Cx("296032123106402", INS_TEST, "INS")], codes=("VALI",)))
    with store.transaction() as session:
        core.change_identifier(
            session, ctx(), person([Cx("101290", IPP, "PI"), Cx('""', INS_TEST, "INS")], codes=("PROV",)),
            [Cx("296032123106402", INS_TEST, "INS")], core.Location("MRG", 1, 1),
        )
    with store.session() as session:
        assert not directory.is_known(session, Cx("296032123106402", INS_TEST))
        patient = session.scalars(select(IdentityPatient)).one()
        assert patient.status == "PROV"


def test_change_of_identifier_retires_the_prior_one(store: Store) -> None:
    feed(store, person([Cx("901290", IPP, "PI")]))
    with store.transaction() as session:
        core.change_identifier(session, ctx(), person([Cx("101290", IPP, "PI")]), [Cx("901290", IPP, "PI")], core.Location("MRG", 1, 1))
    with store.session() as session:
        assert directory.is_known(session, Cx("101290", IPP))
        assert not directory.is_known(session, Cx("901290", IPP))


def test_link_then_unlink(store: Store) -> None:
    a = person([Cx("100455", IPP, "PI")])
    b = person([Cx("S2-004411", SITE2, "PI")])
    with store.transaction() as session:
        core.link(session, ctx(), a, b)
    with store.session() as session:
        assert [c.value for c in query.cross_references(session, Cx("100455", IPP), [SITE2])] == ["S2-004411"]
    with store.transaction() as session:
        core.unlink(session, ctx(), a, b)
    with store.session() as session:
        assert query.cross_references(session, Cx("100455", IPP), [SITE2]) == []


def test_pix_query_of_an_unknown_identifier(store: Store) -> None:
    feed(store, person([Cx("1", IPP, "PI")]))
    with store.session() as session, pytest.raises(query.UnknownIdentifier):
        query.cross_references(session, Cx("2", IPP), [])


def test_pdq_finds_by_birth_or_used_name_and_prefix(store: Store) -> None:
    married = IncomingIdentity(
        [Cx("7", IPP, "PI")],
        Traits([PersonName("DARK", "JEANNE", "JEANNE MARIE", "", "L"), PersonName("DUPONT", "MARIE", "", "", "D")], "19600530", "F"),
    )
    feed(store, married)
    with store.session() as session:
        for family in ("dark", "Dupont", "DUP*"):
            page = query.search(session, query.DemographicsQuery(family=family, birth_date="19600530"), 10)
            assert [v.identifiers[0].value for v in page.results] == ["7"], family
        assert query.search(session, query.DemographicsQuery(family="DARK", birth_date="19600531"), 10).results == []


def test_pdq_never_returns_an_ins_of_an_unqualified_identity(store: Store) -> None:
    feed(store, person([Cx("1", IPP, "PI"), Cx("179114410905287", INS_TEST, "INS")], codes=("VALI",)))
    with store.transaction() as session:
        patient = session.scalars(select(IdentityPatient)).one()
        patient.status = "VALI"  # e.g. downgraded by identity vigilance
    with store.session() as session:
        view = query.search(session, query.DemographicsQuery(family="BREMOND"), 10).results[0]
    assert [c.value for c in view.identifiers] == ["1"]


def test_pdq_pages_with_continuation_kept_in_the_store(store: Store) -> None:
    for n in range(12):
        feed(store, person([Cx(f"P{n:02d}", IPP, "PI")], family="GIRAUDEAU", birth=f"1950{n + 1:02d}01"))
    q = query.DemographicsQuery(family="GIRAUDEAU", domains=(IPP,))
    seen: list[str] = []
    after = 0
    pointers = 0
    while True:
        with store.transaction() as session:
            if pointers:
                after = query.take_continuation(session, pointer, "TAG", q, NOW)
            page = query.search(session, q, 5, after)
            seen += [v.identifiers[0].value for v in page.results]
            if page.next_after is None:
                break
            pointer = query.save_continuation(session, "TAG", "LGC|CAB", q, page.next_after, NOW)
            pointers += 1
    assert seen == [f"P{n:02d}" for n in range(12)]
    assert pointers == 2
    with store.transaction() as session, pytest.raises(query.UnknownContinuation):
        query.take_continuation(session, pointer, "TAG", q, NOW)  # consumed


def test_query_cancel_drops_the_pointers(store: Store) -> None:
    q = query.DemographicsQuery(family="X")
    with store.transaction() as session:
        pointer = query.save_continuation(session, "TAG", "LGC|CAB", q, 3, NOW)
    with store.transaction() as session:
        assert query.cancel(session, "TAG", "LGC|CAB") == 1
    with store.transaction() as session, pytest.raises(query.UnknownContinuation):
        query.take_continuation(session, pointer, "TAG", q, NOW)


# -- EMPI ------------------------------------------------------------------------------------

def persons_of(store: Store) -> list[int]:
    with store.session() as session:
        return list(session.scalars(select(IdentityPatient.person_id).order_by(IdentityPatient.id)))


def test_empi_links_the_same_person_arriving_from_a_new_domain(store: Store) -> None:
    feed(store, IncomingIdentity([Cx("100871", IPP, "PI")], Traits(
        [PersonName("BREMOND", "HUGO", "HUGO PAUL", "", "L")], "19791103", "M", "44109")))
    feed(store, IncomingIdentity([Cx("CLA-1", CLINIC, "PI")], Traits(
        [PersonName("BRÉMOND", "Hugo", "Hugo Paul", "", "L")], "19791103", "M", "44109"), source="DPI|CLA"))
    first, second = persons_of(store)
    assert first == second
    with store.session() as session:
        assert [c.value for c in query.cross_references(session, Cx("CLA-1", CLINIC), [IPP])] == ["100871"]


def test_empi_keeps_twins_apart_and_same_domain_records_apart(store: Store) -> None:
    feed(store, person([Cx("T-1", IPP, "PI")], given="LOUIS"))
    feed(store, person([Cx("T-2", CLINIC, "PI")], given="ARTHUR", source="DPI|CLA"))  # twin, other domain
    feed(store, person([Cx("T-3", IPP, "PI")], given="LOUIS"))  # duplicate within one domain: the source's A40
    assert len(set(persons_of(store))) == 3


def test_empi_grey_zone_goes_to_identity_review(store: Store) -> None:
    from actors.empi import Matcher, PartialDate, Traits as EmpiTraits
    from hub.store.models.identity import IdentityMatchCandidate

    known = person([Cx("R-1", IPP, "PI")], family="FONTANIER", given="CAMILLE", birth="19870412", sex="F")
    arriving = IncomingIdentity([Cx("R-2", CLINIC, "PI")], Traits([PersonName("FONTANIER", "", "", "", "L")], "1987", "F"))
    # The pair is in the EMPI's grey zone (given names missing, birth year only).
    decision = Matcher().compare(
        EmpiTraits(birth_name="FONTANIER", given_names=("CAMILLE",), birth_date=datetime(1987, 4, 12).date(), sex="F"),
        EmpiTraits(birth_name="FONTANIER", birth_date=PartialDate(1987), sex="F"),
    ).decision
    assert decision == "review"
    feed(store, known)
    feed(store, arriving)
    first, second = persons_of(store)
    assert first != second
    with store.session() as session:
        candidate = session.scalars(select(IdentityMatchCandidate)).one()
        assert (candidate.candidate_person_id, candidate.status) == (first, "pending")


def test_an_ins_designates_a_patient_only_while_qualified(store: Store) -> None:
    ins_cx = Cx("179114410905287", INS_TEST, "INS")
    feed(store, person([Cx("1", IPP, "PI"), ins_cx], codes=("VALI",)))
    with store.session() as session:
        assert directory.is_known(session, ins_cx)
    # The same source downgrades the identity (PID-32 PROV) without removing the INS.
    feed(store, person([Cx("1", IPP, "PI")], codes=("PROV",)))
    with store.session() as session:
        assert not directory.is_known(session, ins_cx)
        assert directory.is_known(session, Cx("1", IPP))


def test_a_continuation_expires(store: Store) -> None:
    from datetime import timedelta

    q = query.DemographicsQuery(family="X")
    with store.transaction() as session:
        pointer = query.save_continuation(session, "TAG", "LGC|CAB", q, 3, NOW)
    later = NOW + query.CONTINUATION_TTL + timedelta(seconds=1)
    with store.transaction() as session, pytest.raises(query.UnknownContinuation):
        query.take_continuation(session, pointer, "TAG", q, later)
    with store.transaction() as session:
        query.purge_expired(session, later)
    with store.session() as session:
        from hub.store.models.identity import PdqContinuation

        assert count(session, PdqContinuation) == 0


NIA = Hd("ASIP-SANTE-INS-NIA", "1.2.250.1.213.1.4.9", "ISO")


def test_a31_with_nia_and_nir_keeps_the_nir(store: Store) -> None:
    # PAM-FR 4.4: NIA -> NIR, the receiver picks the NIR.
    feed(store, person([Cx("1", IPP, "PI"), Cx("184127512345640", NIA, "INS")], codes=("VALI",)))
    feed(store, person([Cx("1", IPP, "PI"), Cx("184127512345640", NIA, "INS"), Cx("260058815400233", INS_TEST, "INS")], codes=("VALI",)))
    with store.session() as session:
        assert directory.is_known(session, Cx("260058815400233", INS_TEST))
        assert [c.value for c in directory.current_identifiers(session, Cx("1", IPP))] == ["1", "260058815400233"]


def test_a47_new_ins_matricule_retires_the_previous(store: Store) -> None:
    feed(store, person([Cx("1", IPP, "PI"), Cx("184127512345640", INS_TEST, "INS")], codes=("VALI",)))
    with store.transaction() as session:
        core.change_identifier(
            session, ctx(), person([Cx("1", IPP, "PI"), Cx("260058815400233", INS_TEST, "INS")], codes=("VALI",)),
            [Cx("184127512345640", INS_TEST, "INS")], core.Location("MRG", 1, 1),
        )
    with store.session() as session:
        assert not directory.is_known(session, Cx("184127512345640", INS_TEST))
        assert directory.is_known(session, Cx("260058815400233", INS_TEST))
