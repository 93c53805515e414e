"""Rule sets written in Python, one module per specification. Each module exposes
`check(document, emit)`; `emit` records findings with the rule's id, the element it
concerns and its line."""
from __future__ import annotations

from lxml import etree

from cda.document import CdaDocument, location
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


def present_or(element: etree._Element | None, parent: etree._Element | None) -> etree._Element | None:
    """Where a finding about a wrong or missing `element` is located: the element, or
    `parent` when it is absent."""
    return element if element is not None else parent


def require_template(document: CdaDocument, emit: Emitter, rule: str, template: str) -> None:
    """`rule`: the ClinicalDocument declares the templateId `template`."""
    if template not in document.template_ids():
        emit.error(rule, f"ClinicalDocument/templateId[@root='{template}'] is required", document.root)


def required(
    document: CdaDocument, emit: Emitter, rule: str, path: str, what: str, context: etree._Element | None = None
) -> etree._Element | None:
    """The first element at `path` below `context` (the ClinicalDocument by default); when
    there is none, the error `rule` "`what` is required", located at `context`."""
    element = document.first(path, context)
    if element is None:
        emit.error(rule, f"{what} is required", present_or(context, document.root))
    return element
