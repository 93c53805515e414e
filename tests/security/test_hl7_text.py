"""Finding 9 of issue 18: HL7 v2 text handling.

HL7 v2.5 2.7 (escape sequences in text): a field is split on its delimiters first and the
escapes of each piece are resolved after, so `\\T\\` is an `&` inside the text, never a
subcomponent break. C0 control characters are not text: written as `\\X0B\\` / `\\X1C\\`
(the MLLP framing bytes) they would be stored and sent back inside other consumers'
answers. Such a field is refused with AE and an ERR naming it (102, data type error), and
nothing is stored.
"""
from __future__ import annotations

from collections.abc import Callable

import pytest
from hl7apy.parser import parse_message

from actors.identity import er7
from conformance.hubprocess import HubProcess

DOMAIN = "1.2.250.1.999.61.1"


def _feed(control_id: str, patient: str, pid5: str, pid11: str = "", pid13: str = "", trigger: str = "A28") -> bytes:
    return (
        f"MSH|^~\\&|GAM|CHVF|TSNHUB|PFT|20260101120000||ADT^{trigger}^ADT_A05|{control_id}|P|2.5\r"
        f"EVN|{trigger}|20260101120000\r"
        f"PID|1||{patient}^^^&{DOMAIN}&ISO^PI||{pid5}||19700101|M|||{pid11}||{pid13}\r"
        "PV1|1|N\r"
    ).encode("latin-1")


def _query(control_id: str, patient: str) -> bytes:
    return (
        f"MSH|^~\\&|GAM|CHVF|TSNHUB|PFT|20260101120000||QBP^Q22^QBP_Q21|{control_id}|P|2.5\r"
        f"QPD|IHE PDQ Query|{control_id}|@PID.3.1^{patient}~@PID.3.4.2^{DOMAIN}~@PID.3.4.3^ISO\r"
        "RCP|I|10^RD\r"
    ).encode()


def _segments(response: bytes, name: str) -> list[list[str]]:
    return [s.split("|") for s in response.decode("latin-1").split("\r") if s.startswith(name + "|")]


@pytest.fixture
def hub(start_hub: Callable[..., HubProcess]) -> HubProcess:
    return start_hub('[identity]\naccepted_domains = ["*"]\n')


# -- split first, then unescape ---------------------------------------------------------------

def test_an_escaped_subcomponent_separator_stays_in_the_name() -> None:
    name = er7.parse_xpn("DUPONT\\T\\MARTIN^JEAN")
    assert (name.family, name.given) == ("DUPONT&MARTIN", "JEAN")
    assert er7.parse_xpn("DUPONT&VAN^JEAN").family == "DUPONT"  # a real subcomponent: FN.1 only
    assert er7.parse_xad("12 RUE A\\T\\B^^PARIS").street == "12 RUE A&B"


def test_a_family_name_with_an_escaped_ampersand_is_stored_whole(hub: HubProcess) -> None:
    accepted = hub.mllp(_feed("TXT-1", "TXT-1", "DUPONT\\T\\MARTIN^JEAN^^^^^L", pid11="12 RUE A\\T\\B^^PARIS^^75001^FRA^H"))
    assert _segments(accepted, "MSA")[0][1] == "AA"
    answer = hub.mllp(_query("TXT-2", "TXT-1"))
    # hl7apy, an independent reader, keeps escapes as written: FN.1 must be the whole
    # surname, with `&` escaped (`\T\`), not `DUPONT` alone.
    message = parse_message(answer.decode(), find_groups=False)
    pids = [s for s in message.children if s.name == "PID"]
    assert len(pids) == 1
    family = pids[0].pid_5.xpn_1.fn_1.to_er7()
    assert family.replace("\\T\\", "&") == "DUPONT&MARTIN"
    assert pids[0].pid_5.xpn_2.to_er7() == "JEAN"
    assert pids[0].pid_11.xad_1.sad_1.to_er7().replace("\\T\\", "&") == "12 RUE A&B"


# -- control characters -----------------------------------------------------------------------

@pytest.mark.parametrize(
    ("pid5", "pid13", "location"),
    [
        ("DUPONT\\X0B\\^JEAN", "", "PID^1^5"),
        ("DUPONT^JEAN", "^PRN^PH^^^^^^^^^01\\X1C\\99", "PID^1^13"),
        ("DUPONT\\X1C0D\\^JEAN", "", "PID^1^5"),  # the MLLP end of frame, escaped
        ("DUPONT\x0b^JEAN", "", "PID^1^5"),  # raw: a start byte inside the frame
    ],
    ids=["X0B-in-PID-5", "X1C-in-PID-13", "X1C0D-in-PID-5", "raw-0B-in-PID-5"],
)
def test_a_control_character_in_stored_text_is_refused_and_never_answered(
    hub: HubProcess, pid5: str, pid13: str, location: str
) -> None:
    refused = hub.mllp(_feed("TXT-3", "TXT-3", pid5, pid13=pid13))
    assert _segments(refused, "MSA")[0][1] == "AE"
    err = _segments(refused, "ERR")[0]
    assert (err[2], err[3].split("^")[0], err[4]) == (location, "102", "E")
    assert answer_is_clean(refused)
    # Nothing stored: the identifier is unknown to PDQ.
    nobody = hub.mllp(_query("TXT-4", "TXT-3"))
    assert _segments(nobody, "QAK")[0][2] == "NF"

    # An update of a known patient is refused too, and the PDQ answer keeps the clean name.
    assert _segments(hub.mllp(_feed("TXT-5", "TXT-5", "DURAND^JEAN")), "MSA")[0][1] == "AA"
    update = hub.mllp(_feed("TXT-6", "TXT-5", pid5, pid13=pid13, trigger="A31"))
    assert _segments(update, "MSA")[0][1] == "AE"
    answer = hub.mllp(_query("TXT-7", "TXT-5"))
    assert answer_is_clean(answer)
    (pid,) = _segments(answer, "PID")
    assert pid[5].split("^")[0] == "DURAND" and pid[13] == ""


def test_a_control_character_in_a_query_is_refused(hub: HubProcess) -> None:
    response = hub.mllp(_query("TXT-8", "TXT\\X0B\\8"))
    assert _segments(response, "MSA")[0][1] == "AE"
    assert _segments(response, "ERR")[0][2] == "QPD^1^3"
    assert answer_is_clean(response)


def answer_is_clean(response: bytes) -> bool:
    """No MLLP framing byte inside an answer (its frame was already removed)."""
    return b"\x0b" not in response and b"\x1c" not in response
