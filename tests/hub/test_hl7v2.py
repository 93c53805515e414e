"""HL7 v2 plumbing: MSH reading, character sets, acknowledgements, MLLP framing."""
from __future__ import annotations

from hl7apy.parser import parse_message
from twisted.internet import defer
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport

from hub import mllp
from hub.wire import hl7v2

MSG = "MSH|^~\\&|GAM|CHVF|TSNHUB|PFT|20260101120000||ADT^A28^ADT_A05|C42|P|2.5^FRA^2.11|||||FRA|8859/1\rPID|||1\r"


def test_msh_fields_are_numbered_as_the_standard_numbers_them() -> None:
    msh = hl7v2.parse_msh(MSG)
    assert msh.get(1) == "|"
    assert msh.get(2) == "^~\\&"
    assert msh.get(3) == "GAM"
    assert msh.get(10) == "C42"
    assert msh.message_type == "ADT^A28"
    assert msh.get(18) == "8859/1"


def test_charset_follows_msh_18() -> None:
    raw = MSG.replace("PID|||1", "PID|||1||HÉLÈNE").encode("latin-1")
    text, codec = hl7v2.decode(raw)
    assert codec == "latin-1"
    assert "HÉLÈNE" in text
    utf8 = MSG.replace("8859/1", "UNICODE UTF-8").replace("PID|||1", "PID|||1||JOSÉPHINE").encode("utf-8")
    assert "JOSÉPHINE" in hl7v2.decode(utf8)[0]


def test_ack_answers_the_sender_with_msa_and_err() -> None:
    msh = hl7v2.parse_msh(MSG)
    errors = [hl7v2.Hl7Error(hl7v2.ERR_REQUIRED_FIELD_MISSING, "PID^1^3", message="PID-3 | missing")]
    ack = parse_message(hl7v2.ack(msh, "AE", errors), find_groups=False)
    assert ack.msh.msh_5.to_er7() == "GAM"
    assert ack.msh.msh_6.to_er7() == "CHVF"
    assert ack.msh.msh_9.to_er7() == "ACK^A28^ACK"
    assert ack.msh.msh_12.to_er7() == "2.5"
    assert ack.msa.msa_1.to_er7() == "AE"
    assert ack.msa.msa_2.to_er7() == "C42"
    assert ack.err.err_2.to_er7() == "PID^1^3"
    assert ack.err.err_3.to_er7() == "101^Required field missing^HL70357"
    assert ack.err.err_4.to_er7() == "E"
    assert ack.err.err_8.to_er7() == "PID-3 \\F\\ missing"


def test_router_prefers_the_exact_trigger_and_rejects_unknown_events() -> None:
    router = hl7v2.Router()
    router.register("ADT^A01", "ITI-8", lambda message, msh: "a01")
    router.register("QCN", "ITI-21", lambda message, msh: "qcn")
    assert router.lookup(hl7v2.parse_msh(MSG.replace("ADT^A28^ADT_A05", "ADT^A01^ADT_A01")))[0] == "ITI-8"
    assert router.lookup(hl7v2.parse_msh(MSG.replace("ADT^A28^ADT_A05", "QCN^J01^QCN_J01")))[0] == "ITI-21"
    unknown_event = hl7v2.parse_msh(MSG)
    assert router.lookup(unknown_event) is None
    assert "201^Unsupported event code" in router.reject_unknown(unknown_event)


class _Echo:
    def __init__(self) -> None:
        self.seen: list[tuple[bytes, bool]] = []

    def __call__(self, frame: bytes, oversized: bool, peer: str) -> defer.Deferred:
        self.seen.append((frame, oversized))
        return defer.succeed(b"ACK:" + frame[:8])


def _connected(
    process: _Echo, limit: int = 1000, timeouts: mllp.Timeouts = mllp.Timeouts(), clock: Clock | None = None
) -> tuple[mllp.MLLPProtocol, StringTransport]:
    protocol = mllp.MLLPFactory(process, limit, timeouts).buildProtocol(None)
    if clock is not None:
        protocol.callLater = clock.callLater  # type: ignore[method-assign]
    transport = StringTransport()
    protocol.makeConnection(transport)
    return protocol, transport


def test_frames_split_across_reads_and_garbage_between_them() -> None:
    process = _Echo()
    protocol, transport = _connected(process)
    stream = b"noise" + mllp.frame(b"MSH|first") + b"\r\n" + mllp.frame(b"MSH|second")
    for byte in stream:
        protocol.dataReceived(bytes([byte]))
    assert [f for f, _ in process.seen] == [b"MSH|first", b"MSH|second"]
    assert transport.value() == mllp.frame(b"ACK:MSH|firs") + mllp.frame(b"ACK:MSH|seco")


def test_oversized_frame_is_flagged_with_its_head_kept() -> None:
    process = _Echo()
    protocol, _ = _connected(process, limit=100)
    body = b"MSH|big" + b"x" * 10000
    for i in range(0, len(body), 333):
        protocol.dataReceived((b"\x0b" if i == 0 else b"") + body[i : i + 333])
    protocol.dataReceived(b"\x1c")
    protocol.dataReceived(b"\x0d" + mllp.frame(b"MSH|small"))
    assert process.seen[0][1] is True and process.seen[0][0].startswith(b"MSH|big")
    assert process.seen[1] == (b"MSH|small", False)


def test_acknowledgement_reading_for_the_audit_trail() -> None:
    msh = hl7v2.parse_msh(MSG)
    answer = hl7v2.ack(msh, "AE", [hl7v2.Hl7Error("204", "QPD^1^3")])
    assert hl7v2.acknowledgement_code(answer) == "AE"
    assert hl7v2.error_summary(answer) == "QPD^1^3:204"
    assert hl7v2.sender(msh) == "GAM@CHVF"
    message = MSG.replace("PID|||1", "PID|||100455^^^CHVF-IPP&2.999.1.10.1&ISO^PI~287043523811712^^^&1.2.250.1.213.1.4.10&ISO^INS||FONTANIER^CAMILLE")
    assert hl7v2.first_patient_id(message) == "100455^^^CHVF-IPP&2.999.1.10.1&ISO"


def test_a_half_sent_frame_is_closed_after_the_in_frame_timeout() -> None:
    clock = Clock()
    protocol, transport = _connected(_Echo(), timeouts=mllp.Timeouts(in_frame=30, between_frames=3600), clock=clock)
    protocol.dataReceived(b"\x0bMSH|never ending")
    clock.advance(29)
    assert not transport.disconnecting
    clock.advance(2)
    assert transport.disconnecting


def test_an_idle_connection_between_frames_stays_open_until_its_own_timeout() -> None:
    clock = Clock()
    protocol, transport = _connected(_Echo(), timeouts=mllp.Timeouts(in_frame=30, between_frames=3600), clock=clock)
    protocol.dataReceived(mllp.frame(b"MSH|one"))
    clock.advance(600)
    assert not transport.disconnecting
    clock.advance(3001)
    assert transport.disconnecting
