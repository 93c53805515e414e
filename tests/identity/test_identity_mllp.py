"""The identity transactions over a real MLLP socket against a running hub: every HL7 v2
request sample of the corpus answered as the Technical Framework (and the composed
README) requires, ITI-9 and ITI-21 cases, ITI-31 stays and movements, character sets."""
from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from conformance.hubprocess import HubProcess, launch_hub

CHVF = '["2.999.1.10.1", "2.999.1.10.6", "2.999.1.11.1"]'


def segments(response: bytes, codec: str = "utf-8") -> list[list[str]]:
    return [s.split("|") for s in response.decode(codec).split("\r") if s]


def seg(response: bytes, name: str) -> list[list[str]]:
    return [s for s in segments(response) if s[0] == name]


def outcome(response: bytes) -> tuple[str, list[tuple[str, str]]]:
    """MSA-1 and the (ERR-3 code, ERR-2 location) pairs."""
    msa = seg(response, "MSA")[0]
    errors = [(e[3].split("^")[0], e[2]) for e in seg(response, "ERR")]
    return msa[1], errors


def sample(corpus: Path, name: str) -> bytes:
    return (corpus / name).read_bytes()


@pytest.fixture(scope="module")
def french_hub(tmp_path_factory: pytest.TempPathFactory, pki: Path) -> Iterator[HubProcess]:
    """A hub accepting the composed samples' local domains (and the INS ones, by default)."""
    hub = launch_hub(tmp_path_factory.mktemp("identity-fr"), pki, f"[identity]\naccepted_domains = {CHVF}\n")
    yield hub
    hub.stop()


@pytest.fixture(scope="module")
def open_domains_hub(tmp_path_factory: pytest.TempPathFactory, pki: Path) -> Iterator[HubProcess]:
    hub = launch_hub(tmp_path_factory.mktemp("identity-any"), pki, '[identity]\naccepted_domains = ["*"]\n')
    yield hub
    hub.stop()


def db(hub: HubProcess) -> sqlite3.Connection:
    return sqlite3.connect(hub.db_url.removeprefix("sqlite:///"))


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


def test_every_composed_sample_is_answered_as_expected(french_hub: HubProcess, corpus: Path) -> None:
    folder = corpus / "composed" / "hl7v2"
    assert {name for name, _code, _errors in COMPOSED} == {p.name for p in folder.glob("*.hl7")}
    for name, code, errors in COMPOSED:
        response = french_hub.mllp(sample(folder, name))
        assert outcome(response) == (code, errors), (name, response)
        assert seg(response, "MSA")[0][2] == re.split(r"\|", sample(folder, name).decode().split("\r")[0])[9]


def test_pdq_finds_the_identity_fed_in_another_domain_with_its_cross_references(french_hub: HubProcess, corpus: Path) -> None:
    folder = corpus / "composed" / "hl7v2"
    french_hub.mllp(sample(folder, "iti31-a01-admit.hl7"))  # BREMOND at CHVF (ignored if already there)
    french_hub.mllp(sample(folder, "iti8-a01-with-ins.hl7"))  # BREMOND at the clinic, same INS
    query = (
        "MSH|^~\\&|LGC|CAB|TSNHUB|PFT|20250402101000||QBP^Q22^QBP_Q21|Q-X1|P|2.5|||||FRA|UNICODE UTF-8\r"
        "QPD|IHE PDQ Query|TAG-X1|@PID.5.1.1^BREMOND~@PID.7.1^19791103|||||^^^CLA-IPP&2.999.1.11.1&ISO~^^^CHVF-IPP&2.999.1.10.1&ISO\r"
        "RCP|I\r"
    )
    response = french_hub.mllp(query)
    assert seg(response, "QAK")[0][2] == "OK"
    pids = seg(response, "PID")
    assert len(pids) == 1
    assert sorted(pids[0][3].split("~")) == ["100871^^^CHVF-IPP&2.999.1.10.1&ISO^PI", "CLA-55120^^^CLA-IPP&2.999.1.11.1&ISO^PI"]


def test_iti31_stay_and_movements_are_stored(french_hub: HubProcess, corpus: Path) -> None:
    with db(french_hub) as connection:
        status, admitted, discharged, stay = connection.execute(
            "SELECT status, admitted_at, discharged_at, id FROM identity_encounter WHERE visit_number = '700321'"
        ).fetchone()
        movements = connection.execute(
            "SELECT movement_id, trigger, nature, cancelled FROM identity_movement WHERE encounter_id = ? ORDER BY started_at", (stay,)
        ).fetchall()
        preadmission = connection.execute("SELECT status FROM identity_encounter WHERE visit_number = '700388'").fetchone()
        kinds = [k for (k,) in connection.execute("SELECT kind FROM identity_event WHERE kind LIKE 'encounter.%' ORDER BY id")]
    assert status == "discharged" and admitted and discharged
    assert [(m[0], m[1], m[2]) for m in movements] == [
        ("MVT-700321-01", "A01", "HMS"), ("MVT-700321-02", "A02", "SH"), ("MVT-700321-03", "A21", "H"),
        ("MVT-700321-04", "A22", "H"), ("MVT-700321-05", "A03", "HMS"),
    ]
    assert preadmission == ("cancelled",)
    assert kinds[:4] == ["encounter.admitted", "encounter.discharged", "encounter.admitted", "encounter.cancelled"]


def test_refused_encounter_leaves_no_stay_nor_movement(french_hub: HubProcess, corpus: Path) -> None:
    response = french_hub.mllp(sample(corpus / "composed" / "hl7v2", "invalid-zbe-unknown-action.hl7"))
    assert outcome(response)[0] == "AE"
    with db(french_hub) as connection:
        assert connection.execute("SELECT count(*) FROM identity_movement WHERE movement_id = 'MVT-700515-01'").fetchone() == (0,)
        assert connection.execute("SELECT count(*) FROM identity_encounter WHERE visit_number = '700515'").fetchone() == (0,)


def test_cancelling_an_admission_fed_before(french_hub: HubProcess, corpus: Path) -> None:
    folder = corpus / "composed" / "hl7v2"
    cancel = sample(folder, "iti31-a11-cancel-admit.hl7").decode()
    admit = (
        cancel.replace("ADT^A11^ADT_A09", "ADT^A01^ADT_A01").replace("VF-000244", "VF-000243")
        .replace("|CANCEL|N|A01|", "|INSERT|N||")
    )
    assert outcome(french_hub.mllp(admit)) == ("AA", [])
    assert outcome(french_hub.mllp(cancel)) == ("AA", [])
    with db(french_hub) as connection:
        assert connection.execute("SELECT status FROM identity_encounter WHERE visit_number = '700400'").fetchone() == ("cancelled",)
        assert connection.execute("SELECT cancelled FROM identity_movement WHERE movement_id = 'MVT-700400-01'").fetchone() == (1,)
    assert outcome(french_hub.mllp(cancel))[1] == [("204", "ZBE^1^1")]


# -- ITI-9 ------------------------------------------------------------------------------------

def pix_query(identifier: str, domains: str = "") -> str:
    return (
        "MSH|^~\\&|LGC|CAB|TSNHUB|PFT|20250402102000||QBP^Q23^QBP_Q21|PIX-1|P|2.5|||||FRA|UNICODE UTF-8\r"
        f"QPD|IHE PIX Query|PIX-TAG|{identifier}|{domains}\rRCP|I\r"
    )


def test_iti9_returns_the_ins_of_a_known_ipp(french_hub: HubProcess, corpus: Path) -> None:
    french_hub.mllp(sample(corpus / "composed" / "hl7v2", "iti31-a01-admit.hl7"))
    response = french_hub.mllp(sample(corpus / "composed" / "hl7v2", "iti9-q23-ins-for-ipp.hl7"))
    assert seg(response, "MSH")[0][8] == "RSP^K23^RSP_K23"
    assert seg(response, "QAK")[0][1:3] == ["PIX-CAB-1005", "OK"]
    assert seg(response, "PID")[0][3] == "179114410905287^^^ASIP-SANTE-INS-NIR&1.2.250.1.213.1.4.10&ISO^INS"


def test_iti9_not_found_in_the_requested_domain(french_hub: HubProcess) -> None:
    french_hub.mllp(
        "MSH|^~\\&|GAM|CHVF|TSNHUB|PFT|20250101||ADT^A28^ADT_A05|NF-1|P|2.5\rEVN||20250101\r"
        "PID|1||NF-77^^^CHVF-IPP&2.999.1.10.1&ISO^PI||SEUL^ALAIN||19700101|M\rPV1|1|N\r"
    )
    response = french_hub.mllp(pix_query("NF-77^^^CHVF-IPP&2.999.1.10.1&ISO^PI", "^^^CHVF-SITE2-IPP&2.999.1.10.6&ISO"))
    assert outcome(response) == ("AA", [])
    assert seg(response, "QAK")[0][2] == "NF"
    assert seg(response, "PID") == []


@pytest.mark.parametrize(
    ("identifier", "domains", "location"),
    [
        ("NOBODY^^^CHVF-IPP&2.999.1.10.1&ISO^PI", "", "QPD^1^3^1^1"),
        ("100871^^^ELSEWHERE&2.999.42&ISO^PI", "", "QPD^1^3^1^4"),
        ("100871^^^CHVF-IPP&2.999.1.10.1&ISO^PI", "^^^UNKNOWN&2.999.43&ISO", "QPD^1^4^1"),
    ],
)
def test_iti9_unknown_identifier_or_domain_is_204(french_hub: HubProcess, identifier: str, domains: str, location: str) -> None:
    response = french_hub.mllp(pix_query(identifier, domains))
    assert outcome(response) == ("AE", [("204", location)])
    assert seg(response, "QAK")[0][2] == "AE"


# -- ITI-21 continuation and cancel -------------------------------------------------------------

def a28(ipp: str, family: str, given: str, birth: str, sex: str = "M", charset: str = "UNICODE UTF-8") -> str:
    return (
        f"MSH|^~\\&|GAM_VF|CH_VALFLEURI|TSNHUB|PFT_REGION|20250312093000||ADT^A28^ADT_A05|A28-{ipp}|P|2.5^FRA^2.11|||||FRA|{charset}\r"
        f"EVN||20250312093000\rPID|1||{ipp}^^^CHVF-IPP&2.999.1.10.1&ISO^PI||{family}^{given}^{given}^^^^L||{birth}|{sex}"
        f"{'|' * 22}N||PROV\r"  # PID-30 death indicator N, PID-32 PROV
        "PV1|1|N\r"
    )


def test_iti21_continuation_then_cancel(french_hub: HubProcess, corpus: Path) -> None:
    folder = corpus / "composed" / "hl7v2"
    for n in range(8):
        assert outcome(french_hub.mllp(a28(f"G{n}", "GIRAUDEAU", "PAUL", f"1960010{n + 1}")))[0] == "AA"
    first = french_hub.mllp(sample(folder, "iti21-q22-quantity-limited.hl7"))
    assert seg(first, "QAK")[0][2] == "OK"
    assert len(seg(first, "PID")) == 5
    pointer = seg(first, "DSC")[0][1]
    template = sample(folder, "iti21-q22-continuation.hl7").decode()

    def follow_up(with_pointer: str) -> str:
        return template.replace("DSC|PDQ-CAB-1002:6|I", f"DSC|{with_pointer}|I")

    second = french_hub.mllp(follow_up(pointer))
    assert outcome(second) == ("AA", [])
    rest = seg(second, "PID")
    assert 1 <= len(rest) <= 5
    assert not {p[3] for p in rest} & {p[3] for p in seg(first, "PID")}
    # Pointers are single use, and a cancel drops the pending ones.
    assert outcome(french_hub.mllp(follow_up(pointer)))[1] == [("204", "DSC^1^1")]
    again = french_hub.mllp(sample(folder, "iti21-q22-quantity-limited.hl7"))
    pointer = seg(again, "DSC")[0][1]
    assert outcome(french_hub.mllp(sample(folder, "iti21-qcn-j01-cancel.hl7"))) == ("AA", [])
    assert outcome(french_hub.mllp(follow_up(pointer))) == ("AE", [("204", "DSC^1^1")])


def test_iti21_unknown_domain_in_qpd8_is_204(french_hub: HubProcess) -> None:
    query = (
        "MSH|^~\\&|LGC|CAB|TSNHUB|PFT|20250402101000||QBP^Q22^QBP_Q21|Q-D|P|2.5\r"
        "QPD|IHE PDQ Query|TAG-D|@PID.5.1.1^FONTANIER|||||^^^CHVF-IPP&2.999.1.10.1&ISO~^^^NOPE&2.999.404&ISO\rRCP|I\r"
    )
    assert outcome(french_hub.mllp(query)) == ("AE", [("204", "QPD^1^8^2")])


def test_iti21_without_parameters_is_101(french_hub: HubProcess) -> None:
    query = "MSH|^~\\&|LGC|CAB|TSNHUB|PFT|20250402101000||QBP^Q22^QBP_Q21|Q-E|P|2.5\rQPD|IHE PDQ Query|TAG-E|\rRCP|I\r"
    assert outcome(french_hub.mllp(query)) == ("AE", [("101", "QPD^1^3")])


# -- malformed feeds --------------------------------------------------------------------------

def test_missing_pid3_is_101(french_hub: HubProcess) -> None:
    message = a28("X1", "VIDE", "PID", "19800101").replace("PID|1||X1^^^CHVF-IPP&2.999.1.10.1&ISO^PI||", "PID|1||||")
    assert outcome(french_hub.mllp(message)) == ("AE", [("101", "PID^1^3")])


def test_wrong_segment_order_is_100(french_hub: HubProcess) -> None:
    message = a28("X2", "ORDRE", "PV1", "19800101")
    lines = message.split("\r")
    reordered = "\r".join([lines[0], lines[1], lines[3], lines[2]]) + "\r"
    assert outcome(french_hub.mllp(reordered)) == ("AE", [("100", "PID^1")])


def test_ins_with_a_wrong_key_is_102_and_not_stored(french_hub: HubProcess) -> None:
    message = (
        "MSH|^~\\&|GAM|CHVF|TSNHUB|PFT|20250101||ADT^A28^ADT_A05|BADKEY|P|2.5^FRA^2.11\rEVN||20250101\r"
        "PID|1||BK-1^^^CHVF-IPP&2.999.1.10.1&ISO^PI~287043523811713^^^ASIP-SANTE-INS-NIR&1.2.250.1.213.1.4.10&ISO^INS||CLEF^FAUSSE||19870412|F"
        f"{'|' * 22}N||VALI\r"
        "PV1|1|N\r"
    )
    assert outcome(french_hub.mllp(message)) == ("AE", [("102", "PID^1^3^2^1")])
    with db(french_hub) as connection:
        assert connection.execute("SELECT count(*) FROM identity_identifier WHERE value = 'BK-1'").fetchone() == (0,)


def test_latin9_message_is_stored_and_answered_in_each_charset(french_hub: HubProcess) -> None:
    message = a28("L9-1", "VALLERAND", "Joséphine", "19781002", "F", "8859/15").encode("iso8859-15")
    assert outcome(french_hub.mllp(message)) == ("AA", [])
    query = (
        "MSH|^~\\&|LGC|CAB|TSNHUB|PFT|20250402101000||QBP^Q22^QBP_Q21|Q-L9|P|2.5|||||FRA|UNICODE UTF-8\r"
        "QPD|IHE PDQ Query|TAG-L9|@PID.5.1.1^VALLERAND~@PID.5.2^JOSEPHINE|||||^^^CHVF-IPP&2.999.1.10.1&ISO\rRCP|I\r"
    )
    pid = seg(french_hub.mllp(query), "PID")[0]
    assert pid[5].split("^")[1] == "Joséphine"


# -- the other corpus samples (IHE/IPF/NIST) --------------------------------------------------

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


def test_ipf_merge_retires_the_prior_identifiers(open_domains_hub: HubProcess, corpus: Path) -> None:
    folder = corpus / "hl7v2"
    prior = "7200117359^^^BBB&2.16.840.1.113883.3.37.4.1.1.2.611.1&ISO"
    feed = (
        "MSH|^~\\&|ICW|ENT|TSNHUB|PFT|20120510||ADT^A04|PRE-1|P|2.3.1\rEVN|A04|20120510\r"
        f"PID|1||{prior}~305010^^^MPI-NS-P&2.16.840.1.113883.3.37.4.1.1.2.1.1&ISO||STILLER^BEN||19810327|M\rPV1||O\r"
    )
    assert outcome(open_domains_hub.mllp(feed))[0] == "AA"
    assert outcome(open_domains_hub.mllp(sample(folder, "iti8-a40.hl7")))[0] == "AA"
    response = open_domains_hub.mllp(pix_query(prior))
    assert outcome(response) == ("AE", [("204", "QPD^1^3^1^1")])
    survivor = open_domains_hub.mllp(pix_query("305014^^^MPI-NS-P&2.16.840.1.113883.3.37.4.1.1.2.1.1&ISO"))
    # Domains are named by their OID; the namespace is the one first seen for it.
    ids = {(cx.split("^")[0], cx.split("^")[3].split("&")[1]) for cx in seg(survivor, "PID")[0][3].split("~")}
    assert ("7200117317", "2.16.840.1.113883.3.37.4.1.1.2.611.1") in ids
    assert ("7200117359", "2.16.840.1.113883.3.37.4.1.1.2.611.1") not in ids


# -- ITI-31 corrections and cancellations of the advanced encounter management ----------------

def stay_message(corpus: Path, name: str, visit: str, control: str, **zbe: str) -> str:
    """A composed BREMOND encounter message moved to another stay (`visit`), with its ZBE
    fields replaced (`movement`, `start`, `action`, `trigger`)."""
    text = sample(corpus / "composed" / "hl7v2", name).decode()
    text = text.replace("700321^^^CHVF-VENUE", f"{visit}^^^CHVF-VENUE")
    lines = text.split("\r")
    msh = lines[0].split("|")
    msh[9] = control
    if "event" in zbe:
        msh[8] = zbe["event"]
    lines[0] = "|".join(msh)
    for index, line in enumerate(lines):
        if line.startswith("ZBE|"):
            fields = line.split("|")
            fields[1] = f"{zbe.get('movement', fields[1].split('^')[0])}^CHVF-MVT^2.999.1.10.4^ISO"
            fields[2] = zbe.get("start", fields[2])
            fields[4] = zbe.get("action", fields[4])
            fields[6] = zbe.get("trigger", fields[6])
            lines[index] = "|".join(fields)
    return "\r".join(lines)


def movement(hub: HubProcess, movement_id: str) -> tuple[str, str, int]:
    with db(hub) as connection:
        row = connection.execute(
            "SELECT started_at, trigger, cancelled FROM identity_movement WHERE movement_id = ?", (movement_id,)
        ).fetchone()
    assert row is not None, movement_id
    return row


def test_z99_corrects_a_movement(french_hub: HubProcess, corpus: Path) -> None:
    admit = stay_message(corpus, "iti31-a01-admit.hl7", "900001", "Z-1", movement="MVT-900001-01")
    assert outcome(french_hub.mllp(admit)) == ("AA", [])
    correction = stay_message(
        corpus, "iti31-a01-admit.hl7", "900001", "Z-2", event="ADT^Z99^ADT_A01", movement="MVT-900001-01",
        start="20250320113000", action="UPDATE", trigger="A01",
    )
    assert outcome(french_hub.mllp(correction)) == ("AA", [])
    started, trigger, cancelled = movement(french_hub, "MVT-900001-01")
    assert started.startswith("2025-03-20 10:30:00") and trigger == "A01" and not cancelled  # 11:30 in Paris (CET)
    wrong = correction.replace("|UPDATE|N|A01|", "|UPDATE|N|A02|").replace("|Z-2|", "|Z-3|")
    assert outcome(french_hub.mllp(wrong)) == ("AE", [("103", "ZBE^1^6")])
    insert = correction.replace("|UPDATE|N|A01|", "|INSERT|N||").replace("|Z-2|", "|Z-4|")
    assert outcome(french_hub.mllp(insert)) == ("AE", [("103", "ZBE^1^4")])


def test_a52_cancels_a_leave_of_absence(french_hub: HubProcess, corpus: Path) -> None:
    admit = stay_message(corpus, "iti31-a01-admit.hl7", "900002", "L-1", movement="MVT-900002-01")
    leave = stay_message(corpus, "iti31-a21-leave-of-absence.hl7", "900002", "L-2", movement="MVT-900002-02")
    cancel = stay_message(
        corpus, "iti31-a21-leave-of-absence.hl7", "900002", "L-3", event="ADT^A52^ADT_A52", movement="MVT-900002-02",
        action="CANCEL", trigger="A21",
    )
    for message in (admit, leave):
        assert outcome(french_hub.mllp(message)) == ("AA", [])
    with db(french_hub) as connection:
        assert connection.execute("SELECT status FROM identity_encounter WHERE visit_number = '900002'").fetchone() == ("on-leave",)
    assert outcome(french_hub.mllp(cancel)) == ("AA", [])
    assert movement(french_hub, "MVT-900002-02")[2] == 1
    with db(french_hub) as connection:
        assert connection.execute("SELECT status FROM identity_encounter WHERE visit_number = '900002'").fetchone() == ("admitted",)


def test_a_movement_id_is_recorded_once(french_hub: HubProcess, corpus: Path) -> None:
    admit = stay_message(corpus, "iti31-a01-admit.hl7", "900003", "D-1", movement="MVT-900003-01")
    assert outcome(french_hub.mllp(admit)) == ("AA", [])
    again = admit.replace("|D-1|", "|D-2|")
    assert outcome(french_hub.mllp(again)) == ("AE", [("205", "ZBE^1^1")])


@pytest.mark.parametrize(
    ("field", "value", "code"),
    [(11, "X", "202"), (12, "3.0", "203"), (12, "", "203")],
)
def test_unsupported_processing_id_or_version_is_rejected(french_hub: HubProcess, field: int, value: str, code: str) -> None:
    message = a28("V1", "VERSION", "TEST", "19800101").split("\r")
    msh = message[0].split("|")
    msh[field - 1] = value
    message[0] = "|".join(msh)
    assert outcome(french_hub.mllp("\r".join(message))) == ("AR", [(code, f"MSH^1^{field}")])


def test_concurrent_feeds_of_one_new_patient_make_one_record(french_hub: HubProcess) -> None:
    import threading

    answers: list[tuple[str, list[tuple[str, str]]]] = []

    def send(n: int) -> None:
        message = a28("RACE-1", "CONCURRENT", "PAT", "19900101").replace("|A28-RACE-1|", f"|RACE-{n}|")
        answers.append(outcome(french_hub.mllp(message)))

    threads = [threading.Thread(target=send, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert answers == [("AA", [])] * 6
    with db(french_hub) as connection:
        assert connection.execute("SELECT count(*) FROM identity_identifier WHERE value = 'RACE-1'").fetchone() == (1,)
        assert connection.execute("SELECT count(*) FROM identity_patient WHERE family_name = 'CONCURRENT'").fetchone() == (1,)


# -- ITI-30 refusals --------------------------------------------------------------------------

def test_a47_without_mrg_is_100(french_hub: HubProcess, corpus: Path) -> None:
    text = sample(corpus / "composed" / "hl7v2", "iti30-a47-change-ipp.hl7").decode()
    without_mrg = "\r".join(line for line in text.split("\r") if not line.startswith("MRG")).replace("VF-000150", "VF-E47")
    assert outcome(french_hub.mllp(without_mrg)) == ("AE", [("100", "MRG")])


def test_a24_with_one_pid_is_100(french_hub: HubProcess, corpus: Path) -> None:
    text = sample(corpus / "composed" / "hl7v2", "iti30-a24-link.hl7").decode()
    one_pid = "\r".join(line for line in text.split("\r") if not line.startswith("PID|2|")).replace("VF-000163", "VF-E24")
    assert outcome(french_hub.mllp(one_pid)) == ("AE", [("100", "PID^2")])


def test_a37_of_unknown_patients_is_204(french_hub: HubProcess, corpus: Path) -> None:
    text = sample(corpus / "composed" / "hl7v2", "iti30-a37-unlink.hl7").decode()
    unknown = (
        text.replace("100455^", "UNKNOWN-1^").replace("VF-000171", "VF-E37")
        .replace("~150093306319996^^^ASIP-SANTE-INS-NIR&1.2.250.1.213.1.4.10&ISO^INS", "")
    )
    assert outcome(french_hub.mllp(unknown)) == ("AE", [("204", "PID^1^3^1^1")])


def test_a28_with_an_ins_but_a_provisional_status_keeps_no_ins(french_hub: HubProcess) -> None:
    message = (
        "MSH|^~\\&|GAM|CHVF|TSNHUB|PFT|20250101||ADT^A28^ADT_A05|PROV-INS|P|2.5^FRA^2.11\rEVN||20250101\r"
        "PID|1||PI-77^^^CHVF-IPP&2.999.1.10.1&ISO^PI~296032123106402^^^ASIP-SANTE-INS-NIR&1.2.250.1.213.1.4.10&ISO^INS||"
        f"PERRAUDIN^MARIE-LOU||19960315|F{'|' * 24}PROV\rPV1|1|N\r"
    )
    assert outcome(french_hub.mllp(message)) == ("AA", [])
    response = french_hub.mllp(pix_query("PI-77^^^CHVF-IPP&2.999.1.10.1&ISO^PI", "^^^ASIP-SANTE-INS-NIR&1.2.250.1.213.1.4.10&ISO"))
    assert seg(response, "QAK")[0][2] == "NF"


@pytest.mark.parametrize(
    ("name", "segment", "field", "value", "location"),
    [
        ("iti30-a28-create-provisional.hl7", "ZFA", 1, "OUVERT", "ZFA^1^1"),
        ("iti30-a31-update-qualified-ins.hl7", "ZFD", 5, "TELEPATHIE", "ZFD^1^5"),
        ("iti30-a31-update-qualified-ins.hl7", "ZFD", 7, "XX", "ZFD^1^7"),
        ("iti31-a01-admit.hl7", "ZFM", 1, "3", "ZFM^1^1"),
    ],
)
def test_french_z_segment_value_outside_its_table_is_103(
    french_hub: HubProcess, corpus: Path, name: str, segment: str, field: int, value: str, location: str
) -> None:
    lines = sample(corpus / "composed" / "hl7v2", name).decode().split("\r")
    for index, line in enumerate(lines):
        if line.startswith(segment + "|"):
            fields = line.split("|") + [""] * field
            fields[field] = value
            lines[index] = "|".join(fields).rstrip("|")
        if line.startswith("MSH|"):
            msh = line.split("|")
            msh[9] = f"Z-{segment}-{field}"
            lines[index] = "|".join(msh)
    assert outcome(french_hub.mllp("\r".join(lines))) == ("AE", [("103", location)])


@pytest.mark.parametrize(
    ("codes", "location"),
    [("QUAL", "PID^1^32^1"), ("PROV~XYZ", "PID^1^32^2"), ("PROV~FICT~DOUT", "PID^1^32")],
)
def test_identity_reliability_code_outside_table_0445_is_103(french_hub: HubProcess, codes: str, location: str) -> None:
    message = a28("R0445", "FIABILITE", "CODE", "19800101").replace("|N||PROV\r", f"|N||{codes}\r")
    assert outcome(french_hub.mllp(message)) == ("AE", [("103", location)])
