"""CDA R2 schema validation (W3C XML Schema, HL7 POCD_MT000040).

The project does not ship the HL7 schemas: they are loaded from a configured folder
holding `CDA.xsd` (CDA R2), `CDA_SDTC.xsd` (CDA R2 with the SDTC extensions) and/or
`LabCDA.xsd` (CDA R2 with the IHE XD-LAB `lab:` extensions), at its top or anywhere
below it (e.g. `infrastructure/cda/CDA.xsd`). The schema used for a document is the one
its extension namespaces need: `lab:` elements need LabCDA.xsd, `sdtc:` ones
CDA_SDTC.xsd, otherwise CDA.xsd.
"""
from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from pathlib import Path

from lxml import etree

from cda.document import CdaDocument, location
from cda.oids import HL7V3, IHE_LAB, SDTC
from cda.report import Finding, Severity, Step, StepStatus

CDA_XSD = "CDA.xsd"
CDA_SDTC_XSD = "CDA_SDTC.xsd"
LAB_CDA_XSD = "LabCDA.xsd"
SCHEMA_FILES = (CDA_XSD, CDA_SDTC_XSD, LAB_CDA_XSD)

RULE = "CDA-XSD"


class SchemaConfigurationError(ValueError):
    """The configured schema folder does not exist or holds no usable CDA schema."""


@dataclass
class _Compiled:
    path: Path
    schema: etree.XMLSchema
    # libxml2 schema validation contexts are not shared between threads.
    lock: threading.Lock = field(default_factory=threading.Lock)


_cache: dict[Path, _Compiled] = {}
_cache_lock = threading.Lock()


def _compile(path: Path) -> _Compiled:
    with _cache_lock:
        compiled = _cache.get(path)
        if compiled is None:
            parser = etree.XMLParser(no_network=True, resolve_entities=False)
            try:
                schema = etree.XMLSchema(etree.parse(str(path), parser))
            except (etree.XMLSchemaParseError, etree.XMLSyntaxError, OSError) as exc:
                raise SchemaConfigurationError(f"{path}: not a usable XML schema: {exc}") from None
            compiled = _cache[path] = _Compiled(path, schema)
        return compiled


def _find(directory: Path, name: str) -> Path | None:
    direct = directory / name
    if direct.is_file():
        return direct
    found = sorted(directory.rglob(name), key=lambda p: (len(p.parts), str(p)))
    return found[0] if found else None


class SchemaSet:
    """The CDA schemas found in one folder (compiled on first use, then shared)."""

    def __init__(self, directory: Path) -> None:
        if not directory.is_dir():
            raise SchemaConfigurationError(f"schema directory {directory} does not exist")
        self.directory = directory
        self.paths: dict[str, Path] = {}
        for name in SCHEMA_FILES:
            path = _find(directory, name)
            if path is not None:
                self.paths[name] = path.resolve()
        if not self.paths:
            raise SchemaConfigurationError(
                f"schema directory {directory} holds none of {', '.join(SCHEMA_FILES)}"
            )

    def choose(self, document: CdaDocument) -> tuple[str, str]:
        """(schema file name, reason) for `document`."""
        if document.uses_namespace(IHE_LAB):
            wanted = [LAB_CDA_XSD, CDA_SDTC_XSD, CDA_XSD]
            reason = "document uses XD-LAB extension elements (lab:)"
        elif document.uses_namespace(SDTC):
            wanted = [CDA_SDTC_XSD, CDA_XSD, LAB_CDA_XSD]
            reason = "document uses SDTC extensions (sdtc:)"
        else:
            wanted = [CDA_XSD, CDA_SDTC_XSD, LAB_CDA_XSD]
            reason = "plain CDA R2"
        for name in wanted:
            if name in self.paths:
                if name != wanted[0]:
                    reason += f"; {wanted[0]} not found, using {name}"
                return name, reason
        raise AssertionError("SchemaSet always holds one schema")

    def validate(self, document: CdaDocument, step: Step) -> None:
        """Validate against the schema `choose` names; errors become findings."""
        name, reason = self.choose(document)
        compiled = _compile(self.paths[name])
        step.detail = f"{name} ({reason})"
        with compiled.lock:
            compiled.schema.validate(document.root.getroottree())
            entries = list(compiled.schema.error_log)
        for entry in entries:
            element = _element_at(document, entry.line, entry.message)
            step.add(
                Finding(
                    Severity.ERROR,
                    RULE,
                    _readable(entry.message),
                    location(element) if element is not None else "",
                    entry.line or None,
                    step.name,
                )
            )
        if not step.findings:
            step.status = StepStatus.PASSED


_ELEMENT_NAME = re.compile(r"Element '(\{[^}]*\})?([^']+)'")


def _element_at(document: CdaDocument, line: int, message: str) -> etree._Element | None:
    match = _ELEMENT_NAME.search(message)
    candidates = [e for e in document.root.iter() if isinstance(e.tag, str) and e.sourceline == line]
    if match:
        named = [e for e in candidates if etree.QName(e).localname == match.group(2).split(":")[-1]]
        if named:
            return named[0]
    return candidates[0] if candidates else None


def _readable(message: str) -> str:
    return message.replace(f"{{{HL7V3}}}", "")
