"""ITI-83 Mobile Patient Identifier Cross-reference Query (PIXm, `$ihe-pix`): the
`sourceIdentifier` and `targetSystem` parameters read from a GET query or a POSTed
`Parameters` resource, the errors of PIXm 2:3.83.4.2.3, and the output `Parameters`.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from actors.fhir import resources
from actors.identity.model import Cx, Hd


class PixmError(resources.FhirError):
    """A refusal of ITI-83."""


# PIXm 2:3.83.4.2.3: the three failure cases and their exact answers.
def source_domain_not_found() -> PixmError:
    return PixmError(404, "code-invalid", "sourceIdentifier Assigning Authority not found")


def source_not_found() -> PixmError:
    return PixmError(404, "not-found", "sourceIdentifier Patient Identifier not found")


def target_system_not_found() -> PixmError:
    return PixmError(403, "code-invalid", "targetSystem not found")


@dataclass
class PixQuery:
    source: Cx
    targets: list[Hd] = field(default_factory=list)


def _token(name: str, value: Any) -> str:
    """A token parameter as `system|value`: a query string as it is, a posted
    valueIdentifier from its system and value (strings, or the request is refused)."""
    if isinstance(value, dict):
        system, ident = value.get("system", ""), value.get("value", "")
        if not isinstance(system, str) or not isinstance(ident, str):
            raise PixmError(400, "invalid", f"{name}: the system and value of an Identifier are strings")
        return f"{system}|{ident}"
    return str(value or "")


def parse(pairs: list[tuple[str, Any]]) -> PixQuery:
    """Read ITI-83 parameters (GET query pairs or Parameters entries); raises `PixmError`."""
    sources: list[str] = []
    targets: list[Hd] = []
    for name, value in pairs:
        if name == "sourceIdentifier":
            sources.append(_token(name, value))
        elif name == "targetSystem":
            system = _token(name, value)
            if not system:
                raise PixmError(400, "invalid", "targetSystem has no value")
            targets.append(resources.authority_of(system))
        elif name != "_format":
            raise PixmError(400, "not-supported", f"unknown parameter {name} of $ihe-pix")
    if len(sources) != 1:
        raise PixmError(400, "required", "exactly one sourceIdentifier is required")
    system, bar, ident = sources[0].rpartition("|")
    if not bar or not system or not ident:
        raise PixmError(400, "invalid", "sourceIdentifier must be system|value")
    return PixQuery(Cx(ident, resources.authority_of(system)), targets)


def output(found: list[tuple[Cx, str]]) -> dict[str, Any]:
    """Parameters (IHE.PIXm.Query.Parameters.Out): for each identifier, the reference of
    the Patient resource holding it (`targetId`) and the identifier (`targetIdentifier`)."""
    parameters: list[dict[str, Any]] = []
    for cx, resource_id in found:
        parameters.append({"name": "targetId", "valueReference": {"reference": f"Patient/{resource_id}"}})
        parameters.append({
            "name": "targetIdentifier",
            "valueIdentifier": {"system": resources.system_of(cx.authority), "value": cx.value},
        })
    resource: dict[str, Any] = {"resourceType": "Parameters"}
    if parameters:
        resource["parameter"] = parameters
    return resource
