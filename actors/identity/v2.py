"""HL7 v2 side of the identity manager: reading PID into an `IncomingIdentity`, writing
PID for responses, checking segment order, and turning core refusals into ACK/ERR.

Errors are produced here only: `Refusal` carries an HL7 table 0357 code and an ERR-2
location; `refusal_ack` writes the acknowledgement.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from hub.wire import hl7v2

from actors.identity import er7, ins
from actors.identity.core import Complements, IdentityError, IncomingIdentity, Location
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
        complements=read_complements(details or {}, d),
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


# The national identifiers of health professionals (identity-fr.md §5.1): XCN-9 authority,
# XCN-13 type `IDNPS` (IdNat_PS, already prefixed), `RPPS` (11 digits, IdNat_PS `8`+RPPS)
# or `ADELI` (IdNat_PS `0`+ADELI).
OID_PS = "1.2.250.1.71.4.2.1"
_IDNAT_PREFIX = {"IDNPS": "", "RPPS": "8", "ADELI": "0"}
# HL7 table 0443 as PAM-FR extends it: the treating physician (médecin traitant).
ROLE_TREATING_PHYSICIAN = "ODRP"
# ROL-2 action code: the role is deleted.
ROL_DELETE = "DE"
# A professional id as the coordination store keeps it (VIHF subject ids are short).
_MAX_PROFESSIONAL_ID = 128


def professional_id(xcn: str, d: er7.Delimiters = er7.DEFAULT) -> str | None:
    """The VIHF subject-id form (IdNat_PS) of a person XCN with a national identifier:
    `8` + RPPS, `0` + ADELI, an IDNPS as it is; an XCN without type under the PS
    authority is read as an RPPS when it has 11 digits, an IdNat_PS otherwise. None for
    a local identifier (`EI`) or none."""
    comps = xcn.split(d.component) + [""] * 13
    value = er7.unescape(comps[0], d).strip()
    kind = er7.unescape(comps[12], d).strip().upper()
    if not value:
        return None
    if kind in _IDNAT_PREFIX:
        found = _IDNAT_PREFIX[kind] + value
    elif not kind and er7.parse_hd(comps[8], d).universal_id == OID_PS:
        found = "8" + value if len(value) == 11 and value.isdigit() else value
    else:
        return None
    if len(found) > _MAX_PROFESSIONAL_ID or any(ch.isspace() for ch in found):
        return None
    return found


def _component(fields: Sequence[str], number: int, d: er7.Delimiters) -> str:
    """Component 1 of field `number` (HL7 numbering) of a raw complement segment."""
    raw = fields[number - 1] if number <= len(fields) else ""
    return er7.unescape(raw.split(d.repetition)[0].split(d.component)[0], d).strip().upper()


def read_complements(details: Mapping[str, object], d: er7.Delimiters = er7.DEFAULT) -> Complements:
    """What the coordination layer keeps of the raw complements (`complements(...)` of
    ZFA, ROL, PD1): ZFA-11 `INC` / `IC` (`NA` says nothing), ZFA-9 `IO` / `INO` / `NA`,
    the ROL-3 `ODRP` professionals (ROL-4) named or deleted (ROL-2 `DE`), PD1-12."""
    def segments(name: str) -> list[list[str]]:
        found = details.get(name)
        return [fields for fields in found if isinstance(fields, list)] if isinstance(found, list) else []

    opposition = feeding = ""
    for zfa in segments("ZFA"):
        opposition = _component(zfa, 11, d) or opposition
        feeding = _component(zfa, 9, d) or feeding
    named: list[str] = []
    deleted: list[str] = []
    for rol in segments("ROL"):
        if _component(rol, 3, d) != ROLE_TREATING_PHYSICIAN:
            continue
        person = rol[3].split(d.repetition) if len(rol) > 3 else []
        ids = [found for found in (professional_id(xcn, d) for xcn in person) if found]
        if ids:
            (deleted if _component(rol, 2, d) == ROL_DELETE else named).append(ids[0])
    protected: bool | None = None
    for pd1 in segments("PD1"):
        flag = _component(pd1, 12, d)
        protected = True if flag == "Y" else False if flag == "N" else protected
    return Complements(
        opposition=opposition if opposition in ("INC", "IC") else "",
        feeding=feeding if feeding in ("IO", "INO", "NA") else "",
        treating_physicians=tuple(dict.fromkeys(named)),
        former_treating_physicians=tuple(dict.fromkeys(p for p in deleted if p not in named)),
        protected=protected,
    )


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


def query_response(
    request: hl7v2.Msh, message_type: str, identity: hl7v2.Identity, qpd: er7.Segment | None, status: str,
    errors: Sequence[hl7v2.Hl7Error] | None,
) -> list[str]:
    """The first segments of the answer to a query (ITI-9 RSP^K23, ITI-21 RSP^K22): MSH,
    MSA (AE with `errors`, AA without), one ERR per error, QAK with the query tag and
    `status`, the QPD echoed. The caller adds what follows."""
    segments = [response_msh(request, message_type, identity), f"MSA|{'AE' if errors else 'AA'}|{request.get(10)}"]
    for error in errors or []:
        code = f"{error.code}^{hl7v2._TEXT_0357.get(error.code, '')}^HL70357"
        segments.append(er7.segment("ERR", ["", error.location, code, error.severity, "", "", "", er7.escape(error.message)]))
    segments.append(f"QAK|{qpd.raw(2) if qpd is not None else ''}|{status}")
    if qpd is not None:
        segments.append("|".join(qpd.fields))
    return segments


Handler = Callable[[str, hl7v2.Msh], str]


@dataclass(frozen=True)
class Route:
    message_type: str
    transaction: str
    handler: Handler
