"""The identity transactions over a real MLLP socket against a running hub.

The project's own tests send messages composed in code (`conformance.hl7v2_samples`:
PAM France ITI-30/ITI-31, ITI-8, ITI-9, ITI-21, synthetic people) and assert the answer
the Technical Framework and HL7 table 0357 require: a scenario a hospital would send,
each accepted; one negative variant per rule, each refused for that rule; stays,
movements, cross-references, continuation and character sets.

The interoperability layer replays every HL7 v2 request sample of the corpus (the IHE,
IPF and NIST samples of `hl7v2/`, the shared composed samples of `composed/hl7v2/`) and
checks the answers the composed README and the samples call for."""
from __future__ import annotations

import json
import re
import sqlite3
import threading
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from actors.identity import ins
from conformance import hl7v2_samples as s
from conformance.hubprocess import HubProcess, launch_hub

CHVF = '["2.999.1.10.1", "2.999.1.10.6", "2.999.1.11.1"]'
CORPUS_ONLY = pytest.mark.corpus


def segments(response: bytes, codec: str = "utf-8") -> list[list[str]]:
    return [x.split("|") for x in response.decode(codec).split("\r") if x]


def seg(response: bytes, name: str) -> list[list[str]]:
    return [x for x in segments(response) if x[0] == name]


def outcome(response: bytes) -> tuple[str, list[tuple[str, str]]]:
    """MSA-1 and the (ERR-3 code, ERR-2 location) pairs."""
    msa = seg(response, "MSA")[0]
    errors = [(e[3].split("^")[0], e[2]) for e in seg(response, "ERR")]
    return msa[1], errors


def expected(case: s.Case) -> tuple[str, list[tuple[str, str]]]:
    return case.expected.code, list(case.expected.errors)


def sample(corpus: Path, name: str) -> bytes:
    return (corpus / name).read_bytes()


def db(hub: HubProcess) -> sqlite3.Connection:
    return sqlite3.connect(hub.db_url.removeprefix("sqlite:///"))


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory, pki: Path) -> Iterator[HubProcess]:
    """A hub accepting the local domains of the composed-in-code messages (and the INS
    ones, by default)."""
    domains = json.dumps(list(s.PATIENT_DOMAINS))
    process = launch_hub(tmp_path_factory.mktemp("identity-project"), pki, f"[identity]\naccepted_domains = {domains}\n")
    yield process
    process.stop()


@pytest.fixture(scope="module")
def composed_hub(tmp_path_factory: pytest.TempPathFactory, pki: Path) -> Iterator[HubProcess]:
    """A hub accepting the composed samples' local domains (and the INS ones, by default)."""
    process = launch_hub(tmp_path_factory.mktemp("identity-fr"), pki, f"[identity]\naccepted_domains = {CHVF}\n")
    yield process
    process.stop()


@pytest.fixture(scope="module")
def open_domains_hub(tmp_path_factory: pytest.TempPathFactory, pki: Path) -> Iterator[HubProcess]:
    process = launch_hub(tmp_path_factory.mktemp("identity-any"), pki, '[identity]\naccepted_domains = ["*"]\n')
    yield process
    process.stop()


# -- the project's messages: the builders themselves -------------------------------------------

def test_builders_compute_nir_keys_and_rpps_keys_as_published() -> None:
    # The INSi fixture of spec/identity-fr.md §1.3: 180032B020401, key 23 (2B read as 18).
    assert s.nir_key("180032B020401") == "23"
    assert s.nir_key("1800318020401") == "23"  # the same base, 2B read as 18
    for person in s.PEOPLE:
        value = person.ins
        assert len(value) == 15 and value[0] == ("1" if person.sex == "M" else "2")
        assert value[1:5] == person.birth_date[2:6] and value[5:10] == person.birthplace
        assert ins.is_valid(value), person
        assert 97 - int(value[:13].replace("2B", "18").replace("2A", "19")) % 97 == int(value[13:])
    assert len({p.ins for p in s.PEOPLE}) == len(s.PEOPLE)
    for doctor in (s.GP, s.CARDIOLOGIST, s.SURGEON):
        digits = [int(c) for c in doctor.rpps]
        assert len(digits) == 11 and doctor.rpps.startswith("999")
        assert sum(d if i % 2 == 0 else (2 * d - 9 if 2 * d > 9 else 2 * d) for i, d in enumerate(reversed(digits))) % 10 == 0


def test_builders_send_the_ins_only_with_vali_and_follow_pam_fr_conventions() -> None:
    for case in s.scenario():
        lines = [x.split("|") for x in case.message.split("\r") if x]
        assert case.message.endswith("\r") and "\n" not in case.message
        msh = lines[0]
        assert msh[0] == "MSH" and msh[1] == "^~\\&" and msh[9] == case.control
        assert msh[14] == msh[15] == ""  # MSH-15/16 empty: original acknowledgment mode
        if msh[8].startswith("ADT") and msh[11] == s.PAM_VERSION:
            assert msh[20] == s.PAM_PROFILE and msh[17] in (s.UTF8, s.LATIN9)
        for pid in (line for line in lines if line[0] == "PID"):
            has_ins = s.INS_TEST_OID in pid[3]
            status = pid[32].split("~") if len(pid) > 32 else []
            assert has_ins == ("VALI" in status), (case.name, pid)
            if has_ins:
                traits = pid[5].split("^")[:3]  # family, first birth first name, birth first names
                assert traits == [s.ins_form(t) for t in traits], "INS traits are upper case without diacritics"
            for forbidden in (2, 4, 9, 10, 12, 17, 19, 20, 22):
                assert len(pid) <= forbidden or pid[forbidden] == "", (case.name, forbidden)
        for zbe in (line for line in lines if line[0] == "ZBE"):
            assert zbe[3] == "" and zbe[4] in ("INSERT", "UPDATE", "CANCEL")
            assert (zbe[4] == "INSERT") == (zbe[6] == "")
    assert len({case.control for case in s.scenario()}) == len(s.scenario())


# -- the project's messages against a running hub --------------------------------------------

@pytest.fixture(scope="module")
def fed(hub: HubProcess) -> dict[str, bytes]:
    """The scenario, sent once in order: the response to each message by case name."""
    return {case.name: hub.mllp(case.encoded()) for case in s.scenario()}


@pytest.mark.parametrize("case", s.scenario(), ids=lambda case: case.name)
def test_scenario_message_is_accepted(fed: dict[str, bytes], case: s.Case) -> None:
    response = fed[case.name]
    assert outcome(response) == expected(case), (case.rule, response)
    assert seg(response, "MSA")[0][2] == case.control


@pytest.mark.parametrize("case", s.negative_cases(), ids=lambda case: case.name)
def test_negative_variant_is_refused_for_the_rule_it_breaks(hub: HubProcess, case: s.Case) -> None:
    for message in case.before:
        assert outcome(hub.mllp(message))[0] == "AA"
    response = hub.mllp(case.encoded())
    assert outcome(response) == expected(case), (case.rule, response)
    assert seg(response, "MSA")[0][2] == case.control
    if seg(response, "QAK"):  # a query refused: RSP with QAK-2 AE
        assert seg(response, "QAK")[0][2] == "AE"


def test_the_messages_the_negative_variants_break_are_accepted_unbroken(start_hub: Callable[..., HubProcess]) -> None:
    """Each negative variant is refused for the rule it breaks, not for its base."""
    fresh = start_hub(f"[identity]\naccepted_domains = {json.dumps(list(s.PATIENT_DOMAINS))}\n")
    for case in s.negative_bases():
        assert outcome(fresh.mllp(case.encoded())) == ("AA", []), case.name


def test_iti9_returns_the_ins_of_a_known_ipp(fed: dict[str, bytes]) -> None:
    response = fed["iti9-q23-ins-of-ipp"]
    assert seg(response, "MSH")[0][8] == "RSP^K23^RSP_K23"
    assert seg(response, "QAK")[0][1:3] == ["PIX-2001", "OK"]
    assert seg(response, "PID")[0][3] == s.DELAUNAY.ins_cx


def test_iti21_answers_the_qualified_identity_in_the_requested_domains(fed: dict[str, bytes]) -> None:
    response = fed["iti21-q22-name-birth"]
    assert seg(response, "MSH")[0][8] == "RSP^K22^RSP_K21"
    assert seg(response, "QAK")[0][1:3] == ["PDQ-2002", "OK"]
    pids = seg(response, "PID")
    assert len(pids) == 1
    assert sorted(pids[0][3].split("~")) == sorted([s.QUINTARD.ipp_cx, s.QUINTARD.ins_cx])
    assert pids[0][32] == "VALI"


def test_pdq_finds_the_identity_fed_in_another_domain_with_its_cross_references(hub: HubProcess, fed: dict[str, bytes]) -> None:
    """The hospital record and the clinic's ITI-8 v2.3.1 record share the INS: one person."""
    query = s.iti21_q22("CAB-X1", "TAG-X1", [("PID.5.1.1", "DELAUNAY-ORSO"), ("PID.7.1", s.DELAUNAY.birth_date)],
                        [s.CLINIC_IPP, s.IPP])
    response = hub.mllp(query)
    assert seg(response, "QAK")[0][2] == "OK"
    pids = seg(response, "PID")
    assert len(pids) == 1
    assert sorted(pids[0][3].split("~")) == sorted([s.DELAUNAY.ipp_cx, s.CLINIC_IPP.cx(s.CLINIC_IPP_OF_DELAUNAY, "PI")])


def test_iti31_stay_and_movements_are_stored(hub: HubProcess, fed: dict[str, bytes]) -> None:
    stay = s.STAY_DELAUNAY
    with db(hub) as connection:
        status, admitted, discharged, stay_id, patient = connection.execute(
            "SELECT status, admitted_at, discharged_at, id, patient_id FROM identity_encounter WHERE visit_number = ?",
            (stay.visit,),
        ).fetchone()
        movements = connection.execute(
            "SELECT movement_id, trigger, nature, cancelled FROM identity_movement WHERE encounter_id = ? ORDER BY started_at",
            (stay_id,),
        ).fetchall()
        others = dict(connection.execute(
            "SELECT visit_number, status FROM identity_encounter WHERE visit_number IN (?, ?, ?)",
            (s.STAY_BERTILLON.visit, s.STAY_SALVETAT.visit, s.STAY_ORLIAC.visit),
        ).fetchall())
        kinds = [k for (k,) in connection.execute(
            "SELECT kind FROM identity_event WHERE kind LIKE 'encounter.%' AND patient_id = ? ORDER BY id", (patient,))]
    assert status == "discharged" and admitted and discharged
    assert [tuple(m) for m in movements] == [
        (stay.movement_id(1), "A01", "HMS", 0), (stay.movement_id(2), "A02", "SH", 0), (stay.movement_id(3), "A21", "H", 0),
        (stay.movement_id(4), "A22", "H", 0), (stay.movement_id(5), "A03", "HMS", 0),
    ]
    assert others == {s.STAY_BERTILLON.visit: "admitted", s.STAY_SALVETAT.visit: "cancelled", s.STAY_ORLIAC.visit: "cancelled"}
    assert kinds == ["encounter.admitted", "encounter.discharged"]


def test_cancelled_admission_cannot_be_cancelled_twice(hub: HubProcess, fed: dict[str, bytes]) -> None:
    stay = s.STAY_ORLIAC
    with db(hub) as connection:
        assert connection.execute(
            "SELECT cancelled FROM identity_movement WHERE movement_id = ?", (stay.movement_id(1),)).fetchone() == (1,)
    again = s.iti31("A11", stay, 1, "20250628080000", "HBJ-1012B", action="CANCEL", original="A01")
    assert outcome(hub.mllp(again)) == ("AE", [("204", "ZBE^1^1")])


def test_merge_and_identifier_change_retire_the_prior_identifiers(hub: HubProcess, fed: dict[str, bytes]) -> None:
    for retired in ("399303", s.SALVETAT.ipp):
        response = hub.mllp(s.iti9_q23(f"CAB-R{retired}", "TAG-R", s.IPP.cx(retired, "PI")))
        assert outcome(response) == ("AE", [("204", "QPD^1^3^1^1")]), retired
    survivor = hub.mllp(s.iti9_q23("CAB-R2", "TAG-R2", s.IPP.cx("300555", "PI"), [s.INS]))
    assert seg(survivor, "PID")[0][3] == s.SALVETAT.ins_cx


def test_refused_encounter_leaves_no_stay_nor_movement(hub: HubProcess) -> None:
    case = next(c for c in s.negative_cases() if c.name == "zbe4-unknown-action")
    assert outcome(hub.mllp(case.encoded())) == expected(case)
    with db(hub) as connection:
        assert connection.execute("SELECT count(*) FROM identity_movement WHERE movement_id = 'MVT-890001-01'").fetchone() == (0,)
        assert connection.execute("SELECT count(*) FROM identity_encounter WHERE visit_number = '890001'").fetchone() == (0,)


def test_ins_with_a_wrong_key_is_102_and_not_stored(hub: HubProcess) -> None:
    case = next(c for c in s.negative_cases() if c.name == "ins-wrong-key")
    assert outcome(hub.mllp(case.encoded())) == ("AE", [("102", "PID^1^3^2^1")])
    with db(hub) as connection:
        assert connection.execute("SELECT count(*) FROM identity_identifier WHERE value = '390009'").fetchone() == (0,)


# -- ITI-9 ------------------------------------------------------------------------------------

def test_iti9_not_found_in_the_requested_domain(hub: HubProcess) -> None:
    alone = replace(s.ORLIAC, family="Seulement", ipp="NF-77", order="643", qualified=False)
    assert outcome(hub.mllp(s.iti30_a28(alone, "NF-1"))) == ("AA", [])
    response = hub.mllp(s.iti9_q23("CAB-NF", "PIX-NF", alone.ipp_cx, [s.SITE2_IPP]))
    assert outcome(response) == ("AA", [])
    assert seg(response, "QAK")[0][2] == "NF"
    assert seg(response, "PID") == []


def test_a28_with_an_ins_but_a_provisional_status_keeps_no_ins(hub: HubProcess) -> None:
    """PAM-FR: a receiver getting an INS without PID-32 VALI integrates the message
    without the INS."""
    person = replace(s.MORVANDEAU, ipp="PI-77")
    message = s.iti30_a28(person, "PROV-INS").replace(
        person.ipp_cx + "|", person.ipp_cx + "~" + person.ins_cx + "|")
    assert person.ins_cx in message and "|PROV\r" in message
    assert outcome(hub.mllp(message)) == ("AA", [])
    response = hub.mllp(s.iti9_q23("CAB-P", "PIX-P", person.ipp_cx, [s.INS]))
    assert seg(response, "QAK")[0][2] == "NF"


# -- ITI-21 continuation and cancel -------------------------------------------------------------

def test_iti21_continuation_then_cancel(hub: HubProcess) -> None:
    for n in range(8):
        person = replace(s.SALVETAT, family="Fernandou", givens=("Paul",), birth_date=f"1960010{n + 1}", ipp=f"G{n}",
                         order=f"7{n}0", qualified=False)
        assert outcome(hub.mllp(s.iti30_a28(person, f"G-{n}")))[0] == "AA"
    parameters = [("PID.5.1.1", "FERNANDOU"), ("PID.8", "M")]

    def ask(control: str, pointer: str = "") -> bytes:
        return hub.mllp(s.iti21_q22(control, "PDQ-CONT", parameters, [s.IPP, s.INS], quantity=5, pointer=pointer))

    first = ask("Q-1")
    assert seg(first, "QAK")[0][2] == "OK"
    assert len(seg(first, "PID")) == 5
    pointer = seg(first, "DSC")[0][1]
    second = ask("Q-2", pointer)
    assert outcome(second) == ("AA", [])
    rest = seg(second, "PID")
    assert len(rest) == 3 and seg(second, "DSC") == []
    assert not {p[3] for p in rest} & {p[3] for p in seg(first, "PID")}
    # Pointers are single use, and a cancel drops the pending ones.
    assert outcome(ask("Q-3", pointer))[1] == [("204", "DSC^1^1")]
    pointer = seg(ask("Q-4"), "DSC")[0][1]
    assert outcome(hub.mllp(s.iti21_cancel("Q-5", "PDQ-CONT"))) == ("AA", [])
    assert outcome(ask("Q-6", pointer)) == ("AE", [("204", "DSC^1^1")])


# -- character sets and concurrency ---------------------------------------------------------

def test_latin9_message_is_stored_and_answered_in_each_charset(hub: HubProcess) -> None:
    person = replace(s.MORVANDEAU, family="Vallérand", givens=("Joséphine",), ipp="L9-1", order="231")
    message = s.iti30_a28(person, "L9-A28", charset=s.LATIN9).encode("iso8859-15")
    assert outcome(hub.mllp(message)) == ("AA", [])
    query = s.iti21_q22("Q-L9", "TAG-L9", [("PID.5.1.1", "VALLERAND"), ("PID.5.2", "JOSEPHINE")], [s.IPP])
    pid = seg(hub.mllp(query), "PID")[0]
    assert pid[5].split("^")[:2] == ["Vallérand", "Joséphine"]


def test_concurrent_feeds_of_one_new_patient_make_one_record(hub: HubProcess) -> None:
    person = replace(s.MORVANDEAU, family="Concurrent", givens=("Pat",), ipp="RACE-1", order="232")
    answers: list[tuple[str, list[tuple[str, str]]]] = []

    def send(n: int) -> None:
        answers.append(outcome(hub.mllp(s.iti30_a28(person, f"RACE-{n}"))))

    threads = [threading.Thread(target=send, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert answers == [("AA", [])] * 6
    with db(hub) as connection:
        assert connection.execute("SELECT count(*) FROM identity_identifier WHERE value = 'RACE-1'").fetchone() == (1,)
        assert connection.execute("SELECT count(*) FROM identity_patient WHERE family_name = 'Concurrent'").fetchone() == (1,)


# -- ITI-31 corrections and cancellations of the advanced encounter management ----------------

def _movement(hub: HubProcess, movement_id: str) -> tuple[str, str, int]:
    with db(hub) as connection:
        row = connection.execute(
            "SELECT started_at, trigger, cancelled FROM identity_movement WHERE movement_id = ?", (movement_id,)
        ).fetchone()
    assert row is not None, movement_id
    return row


def _stay(visit: str, order: str) -> s.Stay:
    return s.Stay(replace(s.DELAUNAY, ipp=f"Z{visit}", order=order), visit, f"N{visit}")


def test_z99_corrects_a_movement(hub: HubProcess) -> None:
    stay = _stay("900001", "501")
    assert outcome(hub.mllp(s.admission(stay, "Z-1", "20250320101000"))) == ("AA", [])
    correction = s.iti31("Z99", stay, 1, "20250320113000", "Z-2", action="UPDATE", original="A01")
    assert outcome(hub.mllp(correction)) == ("AA", [])
    started, trigger, cancelled = _movement(hub, stay.movement_id(1))
    assert started.startswith("2025-03-20 10:30:00") and trigger == "A01" and not cancelled  # 11:30 in Paris (CET)
    wrong = s.iti31("Z99", stay, 1, "20250320113000", "Z-3", action="UPDATE", original="A02")
    assert outcome(hub.mllp(wrong)) == ("AE", [("103", "ZBE^1^6")])
    insert = s.iti31("Z99", stay, 1, "20250320113000", "Z-4")
    assert outcome(hub.mllp(insert)) == ("AE", [("103", "ZBE^1^4")])


def test_a52_cancels_a_leave_of_absence(hub: HubProcess) -> None:
    stay = _stay("900002", "502")
    leave = s.iti31("A21", stay, 2, "20250323090000", "L-2", nature="H")
    cancel = s.iti31("A52", stay, 2, "20250323090000", "L-3", action="CANCEL", original="A21", nature="H")
    for message in (s.admission(stay, "L-1", "20250320101000"), leave):
        assert outcome(hub.mllp(message)) == ("AA", [])
    with db(hub) as connection:
        assert connection.execute("SELECT status FROM identity_encounter WHERE visit_number = '900002'").fetchone() == ("on-leave",)
    assert outcome(hub.mllp(cancel)) == ("AA", [])
    assert _movement(hub, stay.movement_id(2))[2] == 1
    with db(hub) as connection:
        assert connection.execute("SELECT status FROM identity_encounter WHERE visit_number = '900002'").fetchone() == ("admitted",)


# -- the interoperability layer: the composed samples --------------------------------------------

# The composed samples in the order a hospital would send them, with the answer the
# composed README expects.
COMPOSED = [
    ("iti30-a28-create-provisional.hl7", "AA", []),
    ("iti30-a31-update-qualified-ins.hl7", "AA", []),
    ("iti31-a01-admit.hl7", "AA", []),
    ("iti31-a02-transfer.hl7", "AA", []),
    ("iti31-a21-leave-of-absence.hl7", "AA", []),
    ("iti31-a22-return-from-leave.hl7", "AA", []),
    ("iti31-a03-discharge.hl7", "AA", []),
    ("iti31-a04-outpatient.hl7", "AA", []),
    ("iti31-a05-preadmit.hl7", "AA", []),
    ("iti31-a38-cancel-preadmit.hl7", "AA", []),
    ("iti31-a11-cancel-admit.hl7", "AE", [("204", "PV1^1^19")]),
    ("iti30-a40-merge.hl7", "AA", []),
    ("iti30-a47-change-ipp.hl7", "AA", []),
    ("iti30-a24-link.hl7", "AA", []),
    ("iti30-a37-unlink.hl7", "AA", []),
    ("iti8-a01-with-ins.hl7", "AA", []),
    ("iti9-q23-ins-for-ipp.hl7", "AA", []),
    ("iti21-q22-name-birthdate.hl7", "AA", []),
    ("iti21-q22-quantity-limited.hl7", "AA", []),
    ("iti21-qcn-j01-cancel.hl7", "AA", []),
    ("iti21-q22-continuation.hl7", "AE", [("204", "DSC^1^1")]),
    ("invalid-msh-missing-msh9.hl7", "AR", [("101", "MSH^1^9")]),
    ("invalid-zbe-unknown-action.hl7", "AE", [("103", "ZBE^1^4")]),
    ("invalid-a40-without-mrg.hl7", "AE", [("100", "MRG")]),
]


@pytest.fixture(scope="module")
def composed(composed_hub: HubProcess, corpus: Path) -> dict[str, bytes]:
    """Every composed sample sent once, in the order above, before any other composed
    test: the response to each by file name."""
    folder = corpus / "composed" / "hl7v2"
    return {name: composed_hub.mllp(sample(folder, name)) for name, _code, _errors in COMPOSED}


def test_every_composed_sample_is_answered_as_expected(composed: dict[str, bytes], corpus: Path) -> None:
    folder = corpus / "composed" / "hl7v2"
    assert {name for name, _code, _errors in COMPOSED} == {p.name for p in folder.glob("*.hl7")}
    for name, code, errors in COMPOSED:
        response = composed[name]
        assert outcome(response) == (code, errors), (name, response)
        assert seg(response, "MSA")[0][2] == re.split(r"\|", sample(folder, name).decode().split("\r")[0])[9]


def test_composed_iti9_returns_the_ins_of_a_known_ipp(composed: dict[str, bytes]) -> None:
    response = composed["iti9-q23-ins-for-ipp.hl7"]
    assert seg(response, "MSH")[0][8] == "RSP^K23^RSP_K23"
    assert seg(response, "QAK")[0][1:3] == ["PIX-CAB-1005", "OK"]
    assert seg(response, "PID")[0][3] == "179114410905287^^^ASIP-SANTE-INS-NIR&1.2.250.1.213.1.4.10&ISO^INS"


def test_composed_pdq_finds_the_identity_fed_in_another_domain(composed_hub: HubProcess, composed: dict[str, bytes]) -> None:
    """BREMOND at CHVF (iti31-a01) and at the clinic (iti8-a01, same INS): one person."""
    query = (
        "MSH|^~\\&|LGC|CAB|TSNHUB|PFT|20250402101000||QBP^Q22^QBP_Q21|Q-X1|P|2.5|||||FRA|UNICODE UTF-8\r"
        "QPD|IHE PDQ Query|TAG-X1|@PID.5.1.1^BREMOND~@PID.7.1^19791103|||||^^^CLA-IPP&2.999.1.11.1&ISO~^^^CHVF-IPP&2.999.1.10.1&ISO\r"
        "RCP|I\r"
    )
    response = composed_hub.mllp(query)
    assert seg(response, "QAK")[0][2] == "OK"
    pids = seg(response, "PID")
    assert len(pids) == 1
    assert sorted(pids[0][3].split("~")) == ["100871^^^CHVF-IPP&2.999.1.10.1&ISO^PI", "CLA-55120^^^CLA-IPP&2.999.1.11.1&ISO^PI"]


def test_composed_stay_and_movements_are_stored(composed_hub: HubProcess, composed: dict[str, bytes]) -> None:
    with db(composed_hub) as connection:
        status, admitted, discharged, stay = connection.execute(
            "SELECT status, admitted_at, discharged_at, id FROM identity_encounter WHERE visit_number = '700321'"
        ).fetchone()
        movements = connection.execute(
            "SELECT movement_id, trigger, nature, cancelled FROM identity_movement WHERE encounter_id = ? ORDER BY started_at", (stay,)
        ).fetchall()
        preadmission = connection.execute("SELECT status FROM identity_encounter WHERE visit_number = '700388'").fetchone()
        kinds = [k for (k,) in connection.execute("SELECT kind FROM identity_event WHERE kind LIKE 'encounter.%' ORDER BY id")]
        refused = connection.execute("SELECT count(*) FROM identity_movement WHERE movement_id = 'MVT-700515-01'").fetchone()
    assert status == "discharged" and admitted and discharged
    assert [(m[0], m[1], m[2]) for m in movements] == [
        ("MVT-700321-01", "A01", "HMS"), ("MVT-700321-02", "A02", "SH"), ("MVT-700321-03", "A21", "H"),
        ("MVT-700321-04", "A22", "H"), ("MVT-700321-05", "A03", "HMS"),
    ]
    assert preadmission == ("cancelled",)
    assert kinds[:4] == ["encounter.admitted", "encounter.discharged", "encounter.admitted", "encounter.cancelled"]
    assert refused == (0,)  # invalid-zbe-unknown-action.hl7 left no movement


def test_composed_cancel_admit_after_its_admission(composed_hub: HubProcess, composed: dict[str, bytes], corpus: Path) -> None:
    """The README: feed an A01 with the cancelled movement first, then the A11 is AA."""
    cancel = sample(corpus / "composed" / "hl7v2", "iti31-a11-cancel-admit.hl7").decode()
    admit = (
        cancel.replace("ADT^A11^ADT_A09", "ADT^A01^ADT_A01").replace("VF-000244", "VF-000243")
        .replace("|CANCEL|N|A01|", "|INSERT|N||")
    )
    assert outcome(composed_hub.mllp(admit)) == ("AA", [])
    assert outcome(composed_hub.mllp(cancel)) == ("AA", [])
    with db(composed_hub) as connection:
        assert connection.execute("SELECT status FROM identity_encounter WHERE visit_number = '700400'").fetchone() == ("cancelled",)
        assert connection.execute("SELECT cancelled FROM identity_movement WHERE movement_id = 'MVT-700400-01'").fetchone() == (1,)
    assert outcome(composed_hub.mllp(cancel))[1] == [("204", "ZBE^1^1")]


def test_composed_iti21_continuation_then_cancel(composed_hub: HubProcess, composed: dict[str, bytes], corpus: Path) -> None:
    """The README: DSC-1 of iti21-q22-continuation.hl7 is a placeholder, replaced by the
    pointer the supplier returned for iti21-q22-quantity-limited.hl7."""
    folder = corpus / "composed" / "hl7v2"
    chvf = s.Domain("CHVF-IPP", "2.999.1.10.1")
    for n in range(8):
        person = replace(s.BERTILLON, family="GIRAUDEAU", givens=("PAUL",), birth_date=f"1960010{n + 1}", ipp=f"G{n}",
                         order=f"8{n}0", qualified=False)
        assert outcome(composed_hub.mllp(s.iti30_a28(person, f"G-{n}").replace(s.IPP.hd, chvf.hd)))[0] == "AA"
    first = composed_hub.mllp(sample(folder, "iti21-q22-quantity-limited.hl7"))
    assert seg(first, "QAK")[0][2] == "OK"
    assert len(seg(first, "PID")) == 5
    pointer = seg(first, "DSC")[0][1]
    template = sample(folder, "iti21-q22-continuation.hl7").decode()

    def follow_up(with_pointer: str) -> str:
        return template.replace("DSC|PDQ-CAB-1002:6|I", f"DSC|{with_pointer}|I")

    second = composed_hub.mllp(follow_up(pointer))
    assert outcome(second) == ("AA", [])
    rest = seg(second, "PID")
    assert 1 <= len(rest) <= 5
    assert not {p[3] for p in rest} & {p[3] for p in seg(first, "PID")}
    assert outcome(composed_hub.mllp(follow_up(pointer)))[1] == [("204", "DSC^1^1")]
    again = composed_hub.mllp(sample(folder, "iti21-q22-quantity-limited.hl7"))
    pointer = seg(again, "DSC")[0][1]
    assert outcome(composed_hub.mllp(sample(folder, "iti21-qcn-j01-cancel.hl7"))) == ("AA", [])
    assert outcome(composed_hub.mllp(follow_up(pointer))) == ("AE", [("204", "DSC^1^1")])


# -- the interoperability layer: the other corpus samples (IHE/IPF/NIST) ------------------------

IPF = [
    ("A01-2.txt", "AA", []),
    ("A01.hl7", "AA", []),
    ("A04.hl7", "AA", []),
    ("A08.hl7", "AA", []),
    ("A40.hl7", "AA", []),
    ("PIX_FEED_REG_Maximal_Request.hl7", "AA", []),
    ("PIX_FEED_MERGE_Maximal_Request.hl7", "AA", []),
    ("adt-a31-1.hl7", "AA", []),
    ("iti8-a40.hl7", "AA", []),
    # PID-3 without assigning authority (CX-4 is required in ITI-8).
    ("hl7v2message.hl7", "AE", [("101", "PID^1^3^1^4")]),
    ("A01.txt", "AE", [("101", "PID^1^3^1^4")]),  # a template: PID-3 is "$pid$"
    ("iti8-a01-incomplete.hl7", "AE", [("100", "PID")]),
    ("PDQ_ID_Query.hl7", "AA", []),
    # QPD-8 domains known from the feeds above (A04.hl7, PIX_FEED_REG_Maximal_Request.hl7).
    ("PDQ_Maximal_Query.hl7", "AA", []),
    ("qbp.hl7", "AA", []),
]
RESPONSES = ["ACK.txt", "PDQ_Maximal_Query_Response.hl7", "PDQ_Response.hl7", "PDQ_connectathon2011_namespaces_issue_Response.hl7",
             "err-1_Response.hl7", "ipf-fhir_pdq_ok-1_Response.hl7", "ipf-fhir_pix_ok-1_Response.hl7", "nf-1_Response.hl7",
             "ok-1_Response.hl7", "ok-2_Response.hl7", "ok-4_Response.hl7", "rsp.hl7"]


def test_every_corpus_request_is_answered(open_domains_hub: HubProcess, corpus: Path) -> None:
    folder = corpus / "hl7v2"
    assert {n for n, _c, _e in IPF} | set(RESPONSES) == {p.name for p in folder.iterdir()}
    for name, code, errors in IPF:
        assert outcome(open_domains_hub.mllp(sample(folder, name))) == (code, errors), name
    # Before any feed in its domain, the same PDQ query names an unknown domain.
    unknown = sample(folder, "qbp.hl7").replace(b"1.3.6.1.4.1.21367.2005.1.1", b"1.3.6.1.4.1.21367.2005.9.9")
    assert outcome(open_domains_hub.mllp(unknown)) == ("AE", [("204", "QPD^1^8^1")])
    # Responses are not requests: the hub refuses them as unsupported message types.
    for name in RESPONSES:
        assert outcome(open_domains_hub.mllp(sample(folder, name))) == ("AR", [("200", "MSH^1^9^1")]), name


# -- merge: a project-made A40 and the IPF sample ----------------------------------------------

SOURCES = ["project", pytest.param("corpus", marks=CORPUS_ONLY)]


@pytest.mark.parametrize("source", SOURCES)
def test_merge_retires_the_prior_identifiers(open_domains_hub: HubProcess, request: pytest.FixtureRequest, source: str) -> None:
    """An A40 retires MRG-1: the prior identifier is unknown to PIX afterwards, and the
    survivor keeps its own identifiers without it."""
    if source == "corpus":
        corpus: Path = request.getfixturevalue("corpus")
        authority, mpi = "BBB&2.16.840.1.113883.3.37.4.1.1.2.611.1&ISO", "MPI-NS-P&2.16.840.1.113883.3.37.4.1.1.2.1.1&ISO"
        prior, kept, survivor = f"7200117359^^^{authority}", ("7200117317", authority), f"305014^^^{mpi}"
        feed = (
            "MSH|^~\\&|ICW|ENT|TSNHUB|PFT|20120510||ADT^A04|PRE-1|P|2.3.1\rEVN|A04|20120510\r"
            f"PID|1||{prior}~305010^^^{mpi}||STILLER^BEN||19810327|M\rPV1||O\r"
        )
        merge = sample(corpus / "hl7v2", "iti8-a40.hl7").decode()
    else:
        person = replace(s.BERTILLON, family="Fusionnet", ipp="M-KEEP", order="119", qualified=False)
        prior, kept, survivor = s.IPP.cx("M-OLD", "PI"), ("M-KEEP", s.IPP.hd), s.SITE2_IPP.cx("S2-KEEP", "PI")
        feed = s.iti30_a28(replace(person, ipp="M-OLD"), "PRE-M")
        merge = s.iti30_a40(person, "M-OLD", "MRG-M", extra_ids=[survivor])
    assert outcome(open_domains_hub.mllp(feed))[0] == "AA"
    assert outcome(open_domains_hub.mllp(merge))[0] == "AA"
    assert outcome(open_domains_hub.mllp(s.iti9_q23("PIX-M1", "TAG-M1", prior))) == ("AE", [("204", "QPD^1^3^1^1")])
    found = open_domains_hub.mllp(s.iti9_q23("PIX-M2", "TAG-M2", survivor))
    # Domains are named by their OID; the namespace is the one first seen for it.
    ids = {(cx.split("^")[0], cx.split("^")[3].split("&")[1]) for cx in seg(found, "PID")[0][3].split("~")}
    oid = kept[1].split("&")[1]
    assert (prior.split("^")[0], oid) not in ids
    assert (kept[0], oid) in ids
