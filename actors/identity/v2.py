"""HL7 v2 side of the identity manager: reading PID into an `IncomingIdentity`, writing
PID for responses, checking segment order, and turning core refusals into ACK/ERR.

Errors are produced here only: `Refusal` carries an HL7 table 0357 code and an ERR-2
location; `refusal_ack` writes the acknowledgement.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from hub.wire import hl7v2

from actors.identity import er7, ins
from actors.identity.core import IdentityError, IncomingIdentity, Location
from actors.identity.model import IdentityStatus, Traits
from actors.identity.query import PatientView

PARIS = ZoneInfo("Europe/Paris")

# HL7 table 0445 (identity reliability code): base values and the PAM-FR ones.
TABLE_0445 = frozenset({
    "AL", "UA", "UD", "US",
    "VIDE", "PROV", "VALI", "DOUB", "DESA", "DPOT", "DOUA", "COLP", "COLV", "FILI", "CACH", "ANOM",
    "IDVER", "RECD", "IDRA", "USUR", "HOMD", "HOMA", "INVA", "FICT", "DOUT",
})


class Refusal(Exception):
    """A message refused by a v2 transaction: MSA-1 (AE or AR) and its ERR segments."""

    def __init__(self, errors: Sequence[hl7v2.Hl7Error], code: str = "AE") -> None:
        super().__init__("; ".join(e.message for e in errors))
        self.errors = list(errors)
        self.code = code


def location_text(location: Location | None) -> str:
    """ERR-2 (ERL): segment ^ sequence ^ field ^ repetition ^ component."""
    if location is None:
        return ""
    parts = [location.segment, str(location.sequence)]
    for value in (location.field, location.repetition, location.component):
        if not value:
            break
        parts.append(str(value))
    return "^".join(parts)


def refusal(code: str, location: str, message: str) -> Refusal:
    return Refusal([hl7v2.Hl7Error(code, location, message=message)])


def from_identity_error(error: IdentityError) -> Refusal:
    return refusal(error.code, location_text(error.location), error.message)


def refusal_ack(msh: hl7v2.Msh, refused: Refusal, identity: hl7v2.Identity) -> str:
    return hl7v2.ack(msh, refused.code, refused.errors, identity)


def parse(message: str) -> er7.Er7Message:
    try:
        return er7.Er7Message(message)
    except ValueError as exc:
        raise Refusal([hl7v2.Hl7Error(hl7v2.ERR_SEGMENT_SEQUENCE, "MSH^1", message=str(exc))], "AR") from exc


def require_order(message: er7.Er7Message, order: Sequence[str], required: Sequence[str]) -> None:
    """Check that the segments named in `order` appear in that relative order and that
    the `required` ones are present (HL7 v2.5 abstract message syntax, reduced to the
    segments a transaction reads): 100 Segment sequence error otherwise, at the first
    out-of-place or missing segment."""
    names = message.names()
    for name in required:
        if name not in names:
            raise refusal(hl7v2.ERR_SEGMENT_SEQUENCE, name, f"required segment {name} is missing")
    rank = {name: i for i, name in enumerate(order)}
    highest = -1
    counters: dict[str, int] = {}
    for name in names:
        counters[name] = counters.get(name, 0) + 1
        if name not in rank:
            continue
        if rank[name] < highest:
            raise refusal(
                hl7v2.ERR_SEGMENT_SEQUENCE, f"{name}^{counters[name]}",
                f"segment {name} is out of sequence (expected order {' '.join(order)})",
            )
        highest = max(highest, rank[name])


def source_of(msh: hl7v2.Msh) -> str:
    """MSH-3 | MSH-4: the sending application and facility, naming the source."""
    return f"{msh.get(3)}|{msh.get(4)}"


def _phone(segment: er7.Segment) -> str:
    comps = segment.components(13)
    if not comps:
        return ""
    for index in (12, 1, 4):
        if len(comps) >= index and comps[index - 1]:
            return er7.unescape(comps[index - 1], segment.delimiters)
    return ""


def incoming_from_pid(pid: er7.Segment, sequence: int, source: str, details: dict[str, object] | None = None) -> IncomingIdentity:
    """PID -> IncomingIdentity: PID-3 identifiers (HL7 nulls `""` dropped, except an
    INS one: PAM-FR's INS removal), PID-5 names, PID-6, PID-7, PID-8, PID-11 (with the
    birthplace in the BDL address), PID-13, PID-32 reliability codes."""
    d = pid.delimiters
    identifiers = []
    for rep in pid.repetitions(3):
        cx = er7.parse_cx(rep, d)
        if not cx.value and not cx.authority:
            continue
        identifiers.append(cx)
    names = [er7.parse_xpn(rep, d) for rep in pid.repetitions(5)]
    names = [n for n in names if n.family or n.given]
    addresses = [er7.parse_xad(rep, d) for rep in pid.repetitions(11)]
    birthplace = next((a for a in addresses if a.use == "BDL"), None)
    mother = er7.parse_xpn(pid.repetitions(6)[0], d).family if pid.repetitions(6) else ""
    traits = Traits(
        names=names,
        birth_date=pid.value(7)[:8],
        sex=pid.value(8)[:1].upper(),
        birthplace_code=birthplace.county if birthplace else "",
        birthplace_city=birthplace.city if birthplace else "",
        birthplace_postal_code=birthplace.postal_code if birthplace else "",
        birthplace_country=birthplace.country if birthplace else "",
        addresses=[a for a in addresses if a.use != "BDL"],
        phone=_phone(pid),
        mother_maiden_name=mother,
    )
    codes = [er7.unescape(c, d).strip().upper() for c in pid.repetitions(32)]
    for repetition, code in enumerate(codes, start=1):
        if code and code not in TABLE_0445:
            raise refusal(hl7v2.ERR_TABLE_VALUE_NOT_FOUND, f"PID^{sequence}^32^{repetition}",
                          f"PID-32 {code!r} is not an identity reliability code (table 0445)")
    if {"FICT", "DOUT"} <= set(codes):
        raise refusal(hl7v2.ERR_TABLE_VALUE_NOT_FOUND, f"PID^{sequence}^32",
                      "an identity cannot be both fictitious (FICT) and doubtful (DOUT)")
    return IncomingIdentity(
        identifiers=identifiers,
        traits=traits,
        reliability_codes=[c for c in codes if c],
        details=details or {},
        source=source,
        sequence=sequence,
    )


def without_nulls(incoming: IncomingIdentity) -> IncomingIdentity:
    """Drop HL7 null identifiers (`""`) except those presented as INS (removal marker)."""
    kept = [
        cx for cx in incoming.identifiers
        if cx.value != '""' or ins.claims_ins(cx.authority.universal_id, cx.authority.namespace, cx.type_code)
    ]
    incoming.identifiers = kept
    return incoming


def complements(message: er7.Er7Message, names: Sequence[str]) -> dict[str, object]:
    """Raw fields of the French complement segments (ZFA, ZFD, ZFS, ROL ...) to keep."""
    found: dict[str, list[list[str]]] = {}
    for segment in message.segments:
        if segment.name in names:
            found.setdefault(segment.name, []).append(segment.fields[1:])
    return dict(found)


# -- timestamps -------------------------------------------------------------------------------

def parse_ts(value: str) -> datetime | None:
    """HL7 TS `YYYY[MM[DD[HH[MM[SS[.S]]]]]][+/-ZZZZ]`; without an offset the sender's local
    time (Europe/Paris for the French extension) is assumed. Returns UTC."""
    value = value.strip()
    if not value:
        return None
    offset = None
    for sign in ("+", "-"):
        if sign in value[4:]:
            at = value.rindex(sign)
            value, zone = value[:at], value[at:]
            if len(zone) == 5 and zone[1:].isdigit():
                minutes = int(zone[1:3]) * 60 + int(zone[3:5])
                offset = timezone(timedelta(minutes=minutes if sign == "+" else -minutes))
            break
    value = value.split(".")[0]
    if not value.isdigit() or len(value) < 8:
        raise ValueError(f"not an HL7 timestamp: {value!r}")
    padded = (value + "000000")[:14]
    naive = datetime.strptime(padded, "%Y%m%d%H%M%S")
    aware = naive.replace(tzinfo=offset) if offset is not None else naive.replace(tzinfo=PARIS)
    return aware.astimezone(timezone.utc)


# -- writing ----------------------------------------------------------------------------------

def v2_reliability(view: PatientView) -> str:
    """PID-32 of an outgoing identity: PAM-FR says `VALI` only with an INS (qualified)."""
    codes = [c for c in view.reliability_codes if c in {"HOMA", "DOUT", "FICT"}]
    status = "VALI" if view.status == IdentityStatus.QUAL else "PROV"
    return "~".join([status, *codes])


def format_pid(view: PatientView, set_id: int) -> str:
    """A PID segment of a PDQ response: identifiers, names, birth date, sex, address,
    phone, and the identity reliability code."""
    traits = view.traits
    fields = [""] * 32
    fields[0] = str(set_id)
    fields[2] = "~".join(er7.format_cx(cx) for cx in view.identifiers)
    fields[4] = "~".join(er7.format_xpn(n) for n in traits.names)
    fields[5] = er7.escape(traits.mother_maiden_name)
    fields[6] = traits.birth_date
    fields[7] = traits.sex
    addresses = [er7.format_xad(a) for a in traits.addresses]
    birthplace = traits.birthplace_address()
    if birthplace is not None:
        addresses.append(er7.format_xad(birthplace))
    fields[10] = "~".join(addresses)
    fields[12] = f"^PRN^PH^^^^^^^^^{er7.escape(traits.phone)}" if traits.phone else ""
    fields[31] = v2_reliability(view)
    return er7.segment("PID", fields)


def response_msh(request: hl7v2.Msh, message_type: str, identity: hl7v2.Identity) -> str:
    """MSH of a response (RSP^K22^RSP_K21, RSP^K23^RSP_K23): addressed back to the sender."""
    fields = [
        request.get(5) or identity.application, request.get(6) or identity.facility,
        request.get(3), request.get(4), hl7v2.hl7_timestamp(), "", message_type,
        hl7v2.new_control_id(), request.get(11) or "P", "2.5", "", "", "", "", "", request.get(18),
    ]
    return er7.segment("MSH|^~\\&", fields)


Handler = Callable[[str, hl7v2.Msh], str]


@dataclass(frozen=True)
class Route:
    message_type: str
    transaction: str
    handler: Handler
