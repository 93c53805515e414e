"""Rule sets written in Python, one module per specification. Each module exposes
`check(document, emit)`; `emit` records findings with the rule's id, the element it
concerns and its line."""
from __future__ import annotations

from lxml import etree

from cda.document import location
from cda.report import Finding, Severity, Step


class Emitter:
    """Turns rule failures into findings of one report step."""

    def __init__(self, step: Step) -> None:
        self.step = step

    def _emit(self, severity: Severity, rule: str, message: str, element: etree._Element | None, attribute: str | None) -> None:
        where = ""
        line = None
        if element is not None:
            where = location(element) + (f"/@{attribute}" if attribute else "")
            line = element.sourceline
        self.step.add(Finding(severity, rule, message, where, line, self.step.name))

    def error(self, rule: str, message: str, element: etree._Element | None = None, attribute: str | None = None) -> None:
        self._emit(Severity.ERROR, rule, message, element, attribute)

    def warning(self, rule: str, message: str, element: etree._Element | None = None, attribute: str | None = None) -> None:
        self._emit(Severity.WARNING, rule, message, element, attribute)

    def info(self, rule: str, message: str, element: etree._Element | None = None, attribute: str | None = None) -> None:
        self._emit(Severity.INFO, rule, message, element, attribute)
