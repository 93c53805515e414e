"""XDS error values (ITI TF-3 4.2.4) and the ebRS 3.0 RegistryResponse that carries them.

Errors are values of the transaction: handlers collect `RegistryError`s and the response
is built here, in one place, with the exact errorCode, codeContext, location and severity.
"""
from __future__ import annotations

from dataclasses import dataclass

from lxml import etree

from actors.xds import constants as c


@dataclass(frozen=True)
class RegistryError:
    """One rs:RegistryError: `code` is an ITI TF-3 Table 4.2.4.1-2 code, `context` the
    human-readable codeContext, `location` the id of the offending object or parameter."""

    code: str
    context: str
    location: str = ""
    severity: str = c.SEVERITY_ERROR

    @property
    def is_error(self) -> bool:
        return self.severity == c.SEVERITY_ERROR


class XdsFailure(Exception):
    """Raised inside a transaction to abandon it (and roll the store back) with errors."""

    def __init__(self, errors: list[RegistryError]) -> None:
        super().__init__("; ".join(f"{e.code}: {e.context}" for e in errors))
        self.errors = errors


def fail(code: str, context: str, location: str = "") -> XdsFailure:
    return XdsFailure([RegistryError(code, context, location)])


def status_of(errors: list[RegistryError], partial: bool = False) -> str:
    """Failure when any error is an Error; PartialSuccess when the transaction allows it."""
    if any(e.is_error for e in errors):
        return c.RESPONSE_PARTIAL_SUCCESS if partial else c.RESPONSE_FAILURE
    return c.RESPONSE_SUCCESS


def error_list(errors: list[RegistryError]) -> etree._Element:
    """rs:RegistryErrorList with one rs:RegistryError per error."""
    element = etree.Element(f"{{{c.RS}}}RegistryErrorList", nsmap={"rs": c.RS})
    highest = c.SEVERITY_ERROR if any(e.is_error for e in errors) else c.SEVERITY_WARNING
    element.set("highestSeverity", highest)
    for error in errors:
        item = etree.SubElement(element, f"{{{c.RS}}}RegistryError")
        item.set("errorCode", error.code)
        item.set("codeContext", error.context)
        item.set("severity", error.severity)
        if error.location:
            item.set("location", error.location)
    return element


def registry_response(errors: list[RegistryError], partial: bool = False) -> etree._Element:
    """rs:RegistryResponse for ITI-41, ITI-42 and ITI-57."""
    element = etree.Element(f"{{{c.RS}}}RegistryResponse", nsmap={"rs": c.RS})
    element.set("status", status_of(errors, partial))
    if errors:
        element.append(error_list(errors))
    return element
