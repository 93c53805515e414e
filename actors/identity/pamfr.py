"""Value checks of the French extension's Z segments (IHE PAM France 2.11, spec
identity-fr.md §4.5): a coded field outside its table is `103 Table value not found` at
its ERR-2 location; empty fields are not checked (they are RE or O). ZBE is read and
checked by `pam.read_zbe`."""
from __future__ import annotations

from hub.wire import hl7v2

from actors.identity import er7
from actors.identity.v2 import refusal

# (segment, field) -> allowed values of component 1.
TABLES: dict[tuple[str, int], frozenset[str]] = {
    ("ZFA", 1): frozenset({"ACTIF", "FERME", "INEXISTANT"}),
    ("ZFA", 9): frozenset({"NA", "IO", "INO"}),
    ("ZFA", 11): frozenset({"NA", "INC", "IC"}),
    ("ZFD", 3): frozenset({"Y", "N"}),
    ("ZFD", 4): frozenset({"Y", "N"}),
    ("ZFD", 5): frozenset({"SM", "CV", "INSI", "CB", "RFID"}),
    ("ZFD", 7): frozenset({"AN", "CC", "CE", "CM", "CN", "CS", "LE", "PA", "PC", "TC"}),
    ("ZFM", 1): frozenset({"0", "6", "7", "8", "N", "O"}),
    ("ZFM", 2): frozenset({"0", "4", "5", "6", "7", "8", "9"}),
    ("ZFM", 3): frozenset({"1", "2", "3", "4", "5", "6", "7", "R", "9", "U"}),
    ("ZFM", 4): frozenset({"1", "2", "3", "4", "6", "7", "8"}),
    ("ZFM", 5): frozenset({"5", "U", "V"}),
    ("ZFP", 1): frozenset({"1", "2", "3", "4", "5", "6", "7", "8"}),
    ("ZFV", 11): frozenset({"MED", "PARAMED", "AUCUN"}),
}
_SEGMENTS = frozenset(name for name, _field in TABLES)


def check_z_segments(message: er7.Er7Message) -> None:
    """Refuse a coded ZFA/ZFD/ZFM/ZFP/ZFV value outside its PAM-FR table."""
    counters: dict[str, int] = {}
    for segment in message.segments:
        if segment.name not in _SEGMENTS:
            continue
        counters[segment.name] = sequence = counters.get(segment.name, 0) + 1
        for (name, number), allowed in TABLES.items():
            if name != segment.name:
                continue
            value = segment.value(number).strip().upper()
            if value and value not in allowed:
                raise refusal(
                    hl7v2.ERR_TABLE_VALUE_NOT_FOUND, f"{name}^{sequence}^{number}",
                    f"{name}-{number} {value!r} is not in the PAM-FR table ({', '.join(sorted(allowed))})",
                )
