"""HL7 v2.5 plumbing shared by every v2 transaction: character sets, the MSH header,
acknowledgements (ACK with MSA and ERR), and routing by MSH-9.

The MSH segment is read by splitting on its own field separator (cheap, and robust to
messages that a full parser refuses). Acknowledgements are written from a template: a
full hl7apy build costs about 2 ms, the template about 5 µs, and an ACK answers every
message of every feed. hl7apy stays the independent parser the tests read our answers
with; the identity feeds read the segments they need with `actors.identity.er7`.
"""
from __future__ import annotations

import itertools
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone


# HL7 table 0357 (message error condition codes).
ERR_SEGMENT_SEQUENCE = "100"
ERR_REQUIRED_FIELD_MISSING = "101"
ERR_DATA_TYPE = "102"
ERR_TABLE_VALUE_NOT_FOUND = "103"
ERR_UNSUPPORTED_MESSAGE_TYPE = "200"
ERR_UNSUPPORTED_EVENT_CODE = "201"
ERR_UNSUPPORTED_PROCESSING_ID = "202"
ERR_UNSUPPORTED_VERSION_ID = "203"
ERR_UNKNOWN_KEY_IDENTIFIER = "204"
ERR_DUPLICATE_KEY_IDENTIFIER = "205"
ERR_APPLICATION_RECORD_LOCKED = "206"
ERR_APPLICATION_INTERNAL = "207"

_TEXT_0357 = {
    "100": "Segment sequence error",
    "101": "Required field missing",
    "102": "Data type error",
    "103": "Table value not found",
    "200": "Unsupported message type",
    "201": "Unsupported event code",
    "202": "Unsupported processing id",
    "203": "Unsupported version id",
    "204": "Unknown key identifier",
    "205": "Duplicate key identifier",
    "206": "Application record locked",
    "207": "Application internal error",
}

# MSH-18 values (HL7 table 0211) and the Python codec each names.
CHARSETS = {
    "": "utf-8",
    "ASCII": "ascii",
    "8859/1": "latin-1",
    "8859/15": "iso8859-15",
    "UNICODE UTF-8": "utf-8",
    "UNICODE": "utf-8",
}


class Hl7ParseError(ValueError):
    """The bytes are not an HL7 v2 message (no usable MSH segment)."""


@dataclass(frozen=True)
class Hl7Error:
    """One ERR segment: ERR-2 location (e.g. `PID^1^3`), ERR-3 code (table 0357),
    ERR-4 severity (E error, W warning, I information), ERR-8 user message."""

    code: str
    location: str = ""
    severity: str = "E"
    message: str = ""


@dataclass
class Msh:
    """The fields of MSH the hub needs before choosing a handler."""

    fields: list[str]
    field_separator: str
    encoding_characters: str
    # The name of the listed MLLP sender ([[server.mllp_senders]]) the message came from,
    # set by the hub before routing; None when no listed sender matched (open listener).
    caller: str | None = None

    def get(self, number: int) -> str:
        # MSH-1 is the field separator itself, so MSH-n is fields[n-1].
        if number == 1:
            return self.field_separator
        index = number - 1
        return self.fields[index] if index < len(self.fields) else ""

    @property
    def component_separator(self) -> str:
        return self.encoding_characters[:1] or "^"

    @property
    def message_code(self) -> str:
        return self.get(9).split(self.component_separator)[0]

    @property
    def trigger_event(self) -> str:
        parts = self.get(9).split(self.component_separator)
        return parts[1] if len(parts) > 1 else ""

    @property
    def message_type(self) -> str:
        """`ADT^A01`: message code and trigger event, the routing key."""
        return f"{self.message_code}^{self.trigger_event}" if self.trigger_event else self.message_code


def charset_of(raw: bytes) -> str:
    """The Python codec named by MSH-18, read without decoding the message."""
    end = raw.find(b"\r")
    first = raw[: end if end >= 0 else len(raw)]
    if not first.startswith(b"MSH") or len(first) < 4:
        return "utf-8"
    separator = first[3:4]
    fields = first.split(separator)
    value = fields[17].decode("ascii", "replace").split("~")[0].strip() if len(fields) > 17 else ""
    return CHARSETS.get(value.upper(), "utf-8")


def decode(raw: bytes) -> tuple[str, str]:
    """Decode a message in the character set its MSH-18 declares; returns (text, codec)."""
    codec = charset_of(raw)
    try:
        return raw.decode(codec), codec
    except UnicodeDecodeError:
        # Senders that declare UTF-8 but send Latin-1 are common; Latin-1 never fails.
        return raw.decode("latin-1"), "latin-1"


def segments(message: str) -> list[str]:
    """Split on the segment terminator, tolerating LF and CRLF from careless senders."""
    return [s for s in message.replace("\r\n", "\r").replace("\n", "\r").split("\r") if s.strip()]


def parse_msh(message: str) -> Msh:
    first = segments(message)[:1]
    if not first or not first[0].startswith("MSH") or len(first[0]) < 8:
        raise Hl7ParseError("message does not start with an MSH segment")
    segment = first[0]
    separator = segment[3]
    fields = segment.split(separator)
    # fields[0] = "MSH", fields[1] = encoding characters; shift so get(2) is MSH-2.
    return Msh(fields=[separator] + fields[1:], field_separator=separator, encoding_characters=fields[1])


_control_ids = itertools.count(1)
_prefix = f"{os.getpid():x}{int(time.time()):x}"


def new_control_id() -> str:
    return f"TSN{_prefix}{next(_control_ids)}"


def hl7_timestamp(moment: datetime | None = None) -> str:
    moment = moment or datetime.now(timezone.utc)
    return moment.astimezone(timezone.utc).strftime("%Y%m%d%H%M%S+0000")


@dataclass
class Identity:
    """Who the hub is on the v2 wire (MSH-3/MSH-4 of its responses)."""

    application: str = "TSNHUB"
    facility: str = "TSNHUB"


def ack(
    request: Msh | None,
    code: str,
    errors: list[Hl7Error] | None = None,
    identity: Identity | None = None,
    text: str = "",
) -> str:
    """Build an HL7 v2.5 original-mode ACK (MSH, MSA, ERR*) answering `request`.

    `code` is MSA-1: AA accept, AE error, AR reject. MSH-9 is `ACK^<trigger>^ACK`.
    Written from a template (an ACK is on the hot path of every feed): header fields
    copied from the request keep the request's encoding when it uses the standard
    delimiters and are reduced to their escaped text otherwise."""
    identity = identity or Identity()
    fields = [""] * 20
    fields[3], fields[4], fields[9], fields[11] = identity.application, identity.facility, "ACK", "P"
    standard = True
    if request is not None:
        standard = request.field_separator == "|" and request.encoding_characters[:4] == "^~\\&"

        def copied(number: int) -> str:
            value = request.get(number)
            return value if standard else escape(value)

        fields[3] = copied(5) or escape(identity.application)
        fields[4] = copied(6) or escape(identity.facility)
        fields[5] = copied(3)
        fields[6] = copied(4)
        trigger = request.trigger_event
        fields[9] = f"ACK^{escape(trigger)}^ACK" if trigger else "ACK"
        fields[11] = copied(11) or "P"
        fields[18] = copied(18)
        fields[19] = copied(19)
    else:
        fields[3], fields[4] = escape(identity.application), escape(identity.facility)
    fields[7] = hl7_timestamp()
    fields[10] = new_control_id()
    fields[12] = "2.5"
    msh = "MSH|^~\\&|" + "|".join(fields[3:]).rstrip("|")
    control_id = request.get(10) if request is not None else ""
    if request is not None and not standard:
        control_id = escape(control_id)
    msa = f"MSA|{code}|{control_id}"
    if text:
        msa += f"|{escape(text)}"
    segments = [msh, msa]
    for error in errors or []:
        err = ["ERR", "", error.location, f"{error.code}^{_TEXT_0357.get(error.code, '')}^HL70357", error.severity]
        if error.message:
            err += ["", "", "", escape(error.message)]
        segments.append("|".join(err))
    return "\r".join(segments) + "\r"


def escape(text: str) -> str:
    """HL7 escape sequences for the delimiters, so a value never breaks the message."""
    if not any(c in text for c in "|^~\\&\r\n"):
        return text
    return (
        text.replace("\\", "\\E\\")
        .replace("|", "\\F\\")
        .replace("^", "\\S\\")
        .replace("&", "\\T\\")
        .replace("~", "\\R\\")
        .replace("\r", " ")
        .replace("\n", " ")
    )


Handler = Callable[[str, Msh], str]


class Router:
    """Routes a decoded message to the handler registered for its MSH-9 (`ADT^A01`, or a
    bare message code such as `QCN`). Handlers return the ER7 response text."""

    def __init__(self, identity: Identity | None = None) -> None:
        self.identity = identity or Identity()
        self._handlers: dict[str, tuple[str, Handler]] = {}

    def register(self, message_type: str, transaction: str, handler: Handler) -> None:
        self._handlers[message_type] = (transaction, handler)

    def transactions(self) -> set[str]:
        """The transactions of the registered message types (the hub's metric labels)."""
        return {transaction for transaction, _ in self._handlers.values()}

    def lookup(self, msh: Msh) -> tuple[str, Handler] | None:
        return self._handlers.get(msh.message_type) or self._handlers.get(msh.message_code)

    def reject_unknown(self, msh: Msh) -> str:
        known_codes = {key.split("^")[0] for key in self._handlers}
        if not msh.get(9).strip():
            # MSH-9 is required (HL7 v2.5 2.14.9.9): without it the structure is unknown.
            error = Hl7Error(ERR_REQUIRED_FIELD_MISSING, "MSH^1^9", message="MSH-9 (message type) is required")
        elif msh.message_code in known_codes:
            error = Hl7Error(ERR_UNSUPPORTED_EVENT_CODE, "MSH^1^9^2", message=f"unsupported event {msh.get(9)}")
        else:
            error = Hl7Error(ERR_UNSUPPORTED_MESSAGE_TYPE, "MSH^1^9^1", message=f"unsupported message type {msh.get(9)}")
        return ack(msh, "AR", [error], self.identity)


def acknowledgement_code(response: str) -> str | None:
    """MSA-1 of an ER7 acknowledgement or query response (AA, AE, AR ...)."""
    for segment in segments(response):
        if segment.startswith("MSA"):
            fields = segment.split(segment[3:4] or "|")
            return fields[1] if len(fields) > 1 else None
    return None


def error_summary(response: str) -> str | None:
    """ERR-2 locations and ERR-3 codes of a response, e.g. `PID^1^3:101`, for audit."""
    found = []
    for segment in segments(response):
        if segment.startswith("ERR"):
            fields = segment.split(segment[3:4] or "|")
            location = fields[2] if len(fields) > 2 else ""
            code = fields[3].split("^")[0] if len(fields) > 3 else ""
            found.append(f"{location}:{code}" if location else code)
    return " ".join(found) or None


def sender(msh: Msh) -> str:
    """Sending application and facility (MSH-3@MSH-4), who a v2 message comes from."""
    return f"{msh.get(3)}@{msh.get(4)}"


def first_patient_id(message: str) -> str | None:
    """The first PID-3 identifier of a message (CX.1 and CX.4), the patient of its audit
    record; never names or other traits."""
    for segment in segments(message):
        if segment.startswith("PID"):
            fields = segment.split(segment[3:4] or "|")
            if len(fields) > 3 and fields[3]:
                components = fields[3].split("~")[0].split("^")
                authority = components[3] if len(components) > 3 else ""
                return f"{components[0]}^^^{authority}" if authority else components[0]
    return None
