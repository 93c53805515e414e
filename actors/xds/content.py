"""Content gate of the repository: CDA documents of a Provide and Register (ITI-41, and
XDM media imported through the same path) are validated under the affinity domain's
`[cda] submission_gate` policy (`cda.gate`).

- reject: an invalid document refuses the whole submission with XDSRepositoryError,
  one error naming the failed rules and one per finding (the first MAX_FINDINGS);
- warn: the document is stored and its findings come back as Warning-severity
  RegistryErrors in the RegistryResponse;
- off: documents are not validated.

Documents that are not CDA (by formatCode, mimeType and root element) pass untouched.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from actors.xds import constants as c
from actors.xds.errors import RegistryError
from actors.xds.metadata import DocumentEntry

Gate = Callable[[DocumentEntry, bytes | memoryview], list[RegistryError]]
MAX_FINDINGS = 20


def cda_gate(config: Any) -> Gate | None:
    """The gate of the hub `Config` (or its `CdaConfig`), or None when it is off."""
    from cda import gate

    section = getattr(config, "cda", config)
    policy = section.submission_gate
    if policy not in gate.POLICIES:
        raise gate.UnknownPolicy(f"[cda] submission_gate {policy!r}: one of {', '.join(gate.POLICIES)}")
    if policy == "off":
        return None

    def check(entry: DocumentEntry, content: bytes | memoryview) -> list[RegistryError]:
        format_code = entry.code(c.XDSDocumentEntry_formatCode)
        if not gate.is_cda(entry.mime_type or "", format_code.code if format_code else "", content):
            return []
        result = gate.check(content, policy, section, name=entry.id)
        findings = result.errors if not result.accepted else result.warnings
        if not findings:
            return []
        severity = c.SEVERITY_ERROR if not result.accepted else c.SEVERITY_WARNING
        answer = [RegistryError(c.XDSRepositoryError, result.summary(), entry.id, severity)]
        answer += [
            RegistryError(c.XDSRepositoryError, f"{f.rule}: {f.message}" + (f" at {f.location}" if f.location else ""), entry.id, severity)
            for f in findings[:MAX_FINDINGS]
        ]
        return answer

    return check
