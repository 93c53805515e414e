"""The affinity domain's value sets for coded XDS metadata (ITI TF-3 4.2.3.1.x: codes
"from a coding scheme of the affinity domain"), read from the `[xds] value_sets` file.

The file is TOML, one key per coded attribute, each a list of `code^^codingScheme`:

    classCode = ["11488-4^^2.16.840.1.113883.6.1", "34133-9^^2.16.840.1.113883.6.1"]
    confidentialityCode = ["N^^2.16.840.1.113883.5.25"]

An attribute without a key accepts any code of the right form.
"""
from __future__ import annotations

import tomllib
from pathlib import Path

from actors.xds import constants as c

ATTRIBUTES = {
    "classCode": c.XDSDocumentEntry_classCode,
    "confidentialityCode": c.XDSDocumentEntry_confidentialityCode,
    "eventCodeList": c.XDSDocumentEntry_eventCodeList,
    "formatCode": c.XDSDocumentEntry_formatCode,
    "healthcareFacilityTypeCode": c.XDSDocumentEntry_healthCareFacilityTypeCode,
    "practiceSettingCode": c.XDSDocumentEntry_practiceSettingCode,
    "typeCode": c.XDSDocumentEntry_typeCode,
    "contentTypeCode": c.XDSSubmissionSet_contentTypeCode,
    "codeList": c.XDSFolder_codeList,
}


class ValueSetError(ValueError):
    """The value sets file cannot be read or names an unknown attribute."""


def load(path: Path) -> dict[str, frozenset[str]]:
    """Classification scheme UUID -> accepted `code^^scheme` keys."""
    try:
        raw = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ValueSetError(f"value sets {path}: {exc}") from None
    value_sets: dict[str, frozenset[str]] = {}
    for name, codes in raw.items():
        if name not in ATTRIBUTES:
            raise ValueSetError(f"value sets {path}: unknown attribute {name} (known: {', '.join(ATTRIBUTES)})")
        if not isinstance(codes, list) or not all(isinstance(x, str) and "^^" in x for x in codes):
            raise ValueSetError(f"value sets {path}: {name} must be a list of 'code^^codingScheme' strings")
        value_sets[ATTRIBUTES[name]] = frozenset(codes)
    return value_sets
