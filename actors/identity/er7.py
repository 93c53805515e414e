"""A small ER7 (HL7 v2 pipe-and-hat) reader and writer for the identity transactions.

A full hl7apy parse of an ADT costs ~7 ms; the feeds only need a few segments, so they are
split here on the delimiters the message declares in MSH-1/MSH-2, and escape sequences are
resolved only in the fields that are read. Positions follow HL7 numbering: `field(seg, 3)`
is PID-3, `MSH-n` keeps the HL7 offset (MSH-1 is the field separator).
"""
from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from actors.identity.model import Address, Cx, Hd, PersonName
from hub.wire.hl7v2 import escape as escape


@dataclass(frozen=True)
class Delimiters:
    """MSH-1, the field separator, and the four encoding characters of MSH-2."""

    field: str
    component: str
    repetition: str
    escape: str
    subcomponent: str

    @classmethod
    def from_msh(cls, msh: str) -> Delimiters:
        """The delimiters an MSH segment declares (the standard `|^~\\&` when it declares none)."""
        field_sep = msh[3] if len(msh) > 3 else "|"
        encoding = msh[4:].split(field_sep, 1)[0]
        padded = (encoding + "^~\\&")[:4] if len(encoding) < 4 else encoding[:4]
        return cls(field_sep, padded[0], padded[1], padded[2], padded[3])


DEFAULT = Delimiters.from_msh("MSH|^~\\&")


class Segment:
    """One segment: its name and raw fields (index n is field n; MSH keeps HL7 offsets)."""

    __slots__ = ("name", "fields", "delimiters")

    def __init__(self, raw: str, delimiters: Delimiters) -> None:
        self.delimiters = delimiters
        parts = raw.split(delimiters.field)
        self.name = parts[0]
        if self.name == "MSH":
            parts = ["MSH", delimiters.field] + parts[1:]
        self.fields = parts

    def raw(self, number: int) -> str:
        return self.fields[number] if number < len(self.fields) else ""

    def repetitions(self, number: int) -> list[str]:
        value = self.raw(number)
        if not value:
            return []
        if self.name == "MSH" and number == 2:
            return [value]
        return value.split(self.delimiters.repetition)

    def components(self, number: int, repetition: int = 0) -> list[str]:
        reps = self.repetitions(number)
        if repetition >= len(reps):
            return []
        return reps[repetition].split(self.delimiters.component)

    def value(self, number: int, component: int = 1, subcomponent: int = 1) -> str:
        """The unescaped text of field.component.subcomponent of the first repetition."""
        comps = self.components(number)
        if component > len(comps):
            return ""
        subs = comps[component - 1].split(self.delimiters.subcomponent)
        if subcomponent > len(subs):
            return ""
        return unescape(subs[subcomponent - 1], self.delimiters)


class Er7Message:
    """The segments of one message, in order."""

    def __init__(self, text: str) -> None:
        lines = [s for s in text.replace("\r\n", "\r").replace("\n", "\r").split("\r") if s.strip()]
        if not lines or not lines[0].startswith("MSH") or len(lines[0]) < 8:
            raise ValueError("message does not start with an MSH segment")
        self.delimiters = Delimiters.from_msh(lines[0])
        self.segments = [Segment(line.rstrip(), self.delimiters) for line in lines]

    @property
    def msh(self) -> Segment:
        return self.segments[0]

    def all(self, name: str) -> list[tuple[int, Segment]]:
        """Segments named `name` with their 1-based position among segments of that name."""
        found = [s for s in self.segments if s.name == name]
        return list(enumerate(found, start=1))

    def first(self, name: str) -> Segment | None:
        for segment in self.segments:
            if segment.name == name:
                return segment
        return None

    def names(self) -> list[str]:
        return [s.name for s in self.segments]


def unescape(text: str, d: Delimiters = DEFAULT) -> str:
    """Resolve the delimiter escapes \\F\\ \\S\\ \\T\\ \\R\\ \\E\\ (other escapes kept as text)."""
    if d.escape not in text:
        return text
    out: list[str] = []
    i = 0
    mapping = {"F": d.field, "S": d.component, "T": d.subcomponent, "R": d.repetition, "E": d.escape}
    while i < len(text):
        c = text[i]
        if c == d.escape:
            end = text.find(d.escape, i + 1)
            if end > i + 1:
                code = text[i + 1 : end]
                if code in mapping:
                    out.append(mapping[code])
                    i = end + 1
                    continue
                if code.startswith("X") and all(ch in "0123456789ABCDEFabcdef" for ch in code[1:]):
                    try:
                        out.append(bytes.fromhex(code[1:]).decode("latin-1"))
                        i = end + 1
                        continue
                    except ValueError:
                        pass
        out.append(c)
        i += 1
    return "".join(out)


# -- control characters -----------------------------------------------------------------

# C0 control characters are never text in an HL7 v2 field: 0x0B and 0x1C frame MLLP, CR
# ends a segment. Raw ones (other than the segment terminators the reader already split
# on) or ones written as hexadecimal escapes (`\X0B\`) would be stored as data and sent
# back inside other consumers' answers.
_C0 = re.compile(r"[\x00-\x1f]")
_RAW_C0 = re.compile(r"[\x00-\x09\x0b\x0c\x0e-\x1f]")


@dataclass(frozen=True)
class ControlCharacter:
    """Where a control character was found: segment, its sequence among the segments of
    that name, field number (HL7 numbering), and the character."""

    segment: str
    sequence: int
    field: int
    character: str

    @property
    def location(self) -> str:
        """ERR-2 (ERL): segment ^ sequence ^ field."""
        return f"{self.segment}^{self.sequence}^{self.field}"


def control_character(text: str) -> ControlCharacter | None:
    """The first field of `text` whose value holds a C0 control character, raw or once
    its escapes are resolved (each subcomponent on its own, as the readers resolve them).
    A message with neither a raw control character nor a hexadecimal escape, the usual
    case, is answered by two scans of the text."""
    d = Delimiters.from_msh(text)
    hex_escape = d.escape + "X"
    if hex_escape not in text and not _RAW_C0.search(text):
        return None
    try:
        message = Er7Message(text)
    except ValueError:
        return None  # not ER7 at all: the transaction's own reader refuses it
    counts: dict[str, int] = {}
    for segment in message.segments:
        counts[segment.name] = sequence = counts.get(segment.name, 0) + 1
        for number, value in enumerate(segment.fields[1:], start=1):
            if segment.name == "MSH" and number <= 2:
                continue  # the delimiters themselves
            found = _RAW_C0.search(value)
            if found is None and hex_escape in value:
                found = next(
                    (
                        hit
                        for rep in value.split(d.repetition)
                        for component in rep.split(d.component)
                        for sub in component.split(d.subcomponent)
                        if (hit := _C0.search(unescape(sub, d))) is not None
                    ),
                    None,
                )
            if found is not None:
                return ControlCharacter(segment.name, sequence, number, found.group())
    return None


# -- data types ---------------------------------------------------------------------------

def _subs(component: str, d: Delimiters) -> list[str]:
    return [unescape(s, d) for s in component.split(d.subcomponent)]


def parse_hd(component: str, d: Delimiters = DEFAULT) -> Hd:
    """HD inside a component (subcomponents): namespace & universal id & type."""
    subs = _subs(component, d) + ["", "", ""]
    return Hd(subs[0].strip(), subs[1].strip(), subs[2].strip())


def parse_hd_field(value: str, d: Delimiters = DEFAULT) -> Hd:
    """HD as a whole field (components), as in MSH-3 or a QPD-4 domain given as HD."""
    comps = [unescape(c, d) for c in value.split(d.component)] + ["", "", ""]
    return Hd(comps[0].strip(), comps[1].strip(), comps[2].strip())


def parse_cx(repetition: str, d: Delimiters = DEFAULT) -> Cx:
    comps = repetition.split(d.component) + [""] * 5
    return Cx(unescape(comps[0], d).strip(), parse_hd(comps[3], d), unescape(comps[4], d).strip())


def parse_cx_list(value: str, d: Delimiters = DEFAULT) -> list[Cx]:
    return [parse_cx(rep, d) for rep in value.split(d.repetition)] if value else []


def _first_sub(component: str, d: Delimiters) -> str:
    """The unescaped first subcomponent: split before unescaping, so an escaped `\\T\\`
    stays an `&` in the text instead of cutting it."""
    return unescape(component.split(d.subcomponent, 1)[0], d)


def parse_xpn(repetition: str, d: Delimiters = DEFAULT) -> PersonName:
    raw = repetition.split(d.component)
    comps = [unescape(c, d) for c in raw] + [""] * 7
    family = _first_sub(raw[0], d)  # XPN-1 is FN: surname & own surname prefix & ...
    return PersonName(family.strip(), comps[1].strip(), comps[2].strip(), comps[4].strip(), comps[6].strip() or "L")


def parse_xad(repetition: str, d: Delimiters = DEFAULT) -> Address:
    raw = repetition.split(d.component)
    comps = [unescape(c, d) for c in raw] + [""] * 9
    return Address(
        street=_first_sub(raw[0], d).strip(),  # XAD-1 is SAD: street & street name & number
        other=comps[1].strip(),
        city=comps[2].strip(),
        state=comps[3].strip(),
        postal_code=comps[4].strip(),
        country=comps[5].strip(),
        use=comps[6].strip(),
        county=comps[8].strip(),
    )


# -- writing ------------------------------------------------------------------------------

def format_hd(hd: Hd) -> str:
    if not hd:
        return ""
    if hd.universal_id:
        return f"{escape(hd.namespace)}&{escape(hd.universal_id)}&{escape(hd.universal_id_type or 'ISO')}"
    return escape(hd.namespace)


def format_cx(cx: Cx) -> str:
    text = f"{escape(cx.value)}^^^{format_hd(cx.authority)}"
    if cx.type_code:
        text += f"^{escape(cx.type_code)}"
    return text


def format_xpn(name: PersonName) -> str:
    parts = [name.family, name.given, name.further_given, "", name.prefix, "", name.use]
    return "^".join(escape(p) for p in parts).rstrip("^")


def format_xad(address: Address) -> str:
    parts = [
        address.street, address.other, address.city, address.state, address.postal_code,
        address.country, address.use, "", address.county,
    ]
    return "^".join(escape(p) for p in parts).rstrip("^")


def segment(name: str, fields: Iterable[str]) -> str:
    """One ER7 segment from already formatted fields (field 1 first)."""
    return "|".join([name, *fields]).rstrip("|")
