"""The catalogue of care pathways a patient may be enrolled in (`[coordination] pathways`).

The file is TOML, one `[[pathway]]` table per pathway:

    [[pathway]]
    code = "PAERPA"
    label = "Personnes âgées en risque de perte d'autonomie"

`code` is what `Enrol` names and the store keeps (`coordination_enrolment.pathway`);
`label` is shown to people. Without a file, the built-in `pathways.toml` beside this
module is the catalogue.
"""
from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DEFAULT_CATALOGUE = Path(__file__).resolve().parent / "pathways.toml"

# coordination_enrolment.pathway is String(64).
MAX_CODE_LEN = 64
ENTRY_KEYS = frozenset({"code", "label"})


class CatalogueError(ValueError):
    """The pathway catalogue cannot be read, or one of its entries is not valid."""


@dataclass(frozen=True)
class Pathway:
    code: str
    label: str


def load_catalogue(path: str | Path | None) -> dict[str, Pathway]:
    """Pathway code -> `Pathway`, in the file's order; `None` or "" reads the built-in
    catalogue. A `CatalogueError` names the file and the entry at fault."""
    source = DEFAULT_CATALOGUE if path is None or path == "" else Path(path)
    try:
        raw = tomllib.loads(source.read_text(encoding="utf-8"))
    except OSError as exc:
        raise CatalogueError(f"pathway catalogue {source}: {exc.strerror or exc}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise CatalogueError(f"pathway catalogue {source}: not TOML: {exc}") from None
    unknown = sorted(set(raw) - {"pathway"})
    if unknown:
        raise CatalogueError(f"pathway catalogue {source}: unknown key(s) {', '.join(unknown)} (expected [[pathway]] tables)")
    entries = raw.get("pathway", [])
    if not isinstance(entries, list) or not entries:
        raise CatalogueError(f"pathway catalogue {source}: no [[pathway]] table")
    catalogue: dict[str, Pathway] = {}
    for number, entry in enumerate(entries, start=1):
        pathway = _pathway(entry, f"pathway catalogue {source}: [[pathway]] #{number}")
        if pathway.code in catalogue:
            raise CatalogueError(f"pathway catalogue {source}: [[pathway]] #{number}: code {pathway.code!r} is listed twice")
        catalogue[pathway.code] = pathway
    return catalogue


def _pathway(entry: Any, where: str) -> Pathway:
    if not isinstance(entry, dict):
        raise CatalogueError(f"{where} must be a table")
    unknown = sorted(set(entry) - ENTRY_KEYS)
    if unknown:
        raise CatalogueError(f"{where}: unknown key(s) {', '.join(unknown)}")
    code = entry.get("code")
    if not isinstance(code, str) or not code or any(ch.isspace() for ch in code):
        raise CatalogueError(f"{where}: code must be a non-empty string without spaces")
    if len(code) > MAX_CODE_LEN:
        raise CatalogueError(f"{where} ({code}): code is longer than {MAX_CODE_LEN} characters")
    label = entry.get("label")
    if not isinstance(label, str) or not label.strip():
        raise CatalogueError(f"{where} ({code}): label is missing")
    return Pathway(code=code, label=label.strip())
