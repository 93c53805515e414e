"""A parsed CDA document and the helpers the rules share: XPath evaluation in the HL7 v3
namespace, readable XPath locations, template ids.

Untrusted bytes are parsed only through `hub.wire.xmlsafe` (no DTD, no entity expansion).
"""
from __future__ import annotations

import threading
from dataclasses import dataclass

from lxml import etree

from cda.oids import HL7V3, NS
from hub.wire import xmlsafe

_PREFIXES = {v: k for k, v in NS.items()}

# Compiled XPath expressions, one cache per thread (lxml evaluators keep per-call state).
_local = threading.local()


def _compiled(expression: str) -> etree.XPath:
    cache: dict[str, etree.XPath] | None = getattr(_local, "xpaths", None)
    if cache is None:
        cache = _local.xpaths = {}
    compiled = cache.get(expression)
    if compiled is None:
        compiled = cache[expression] = etree.XPath(expression, namespaces=NS)
    return compiled


class NotWellFormed(ValueError):
    """The bytes are not a well-formed, safe XML document."""


@dataclass
class CdaDocument:
    root: etree._Element

    @classmethod
    def parse(cls, data: bytes | memoryview, limits: xmlsafe.XmlLimits = xmlsafe.DEFAULT_LIMITS) -> CdaDocument:
        try:
            return cls(xmlsafe.parse(data, limits))
        except xmlsafe.UnsafeXmlError as exc:
            raise NotWellFormed(str(exc)) from None

    @property
    def is_clinical_document(self) -> bool:
        return bool(self.root.tag == f"{{{HL7V3}}}ClinicalDocument")

    def xpath(self, expression: str, context: etree._Element | None = None) -> list[etree._Element]:
        """Elements selected by `expression` (prefixes `cda`, `sdtc`, `lab`, `xsi`)."""
        result = _compiled(expression)(self.root if context is None else context)
        assert isinstance(result, list)
        return [e for e in result if isinstance(e, etree._Element)]

    def first(self, expression: str, context: etree._Element | None = None) -> etree._Element | None:
        found = self.xpath(expression, context)
        return found[0] if found else None

    def template_ids(self, element: etree._Element | None = None) -> set[str]:
        """The `templateId/@root` values of `element` (the ClinicalDocument by default)."""
        target = self.root if element is None else element
        return {t.get("root", "") for t in target.findall(f"{{{HL7V3}}}templateId")}

    def uses_namespace(self, namespace: str) -> bool:
        """Whether any element or attribute of the document is in `namespace`."""
        prefix = f"{{{namespace}}}"
        for element in self.root.iter():
            if isinstance(element.tag, str) and element.tag.startswith(prefix):
                return True
            if any(name.startswith(prefix) for name in element.attrib):
                return True
        return False


def location(element: etree._Element) -> str:
    """A readable XPath of `element`: `/ClinicalDocument/recordTarget/patientRole/id[2]`
    (HL7 v3 names unprefixed, other namespaces with their usual prefix, positions only
    where siblings share the name)."""
    steps: list[str] = []
    current: etree._Element | None = element
    while current is not None and isinstance(current.tag, str):
        qname = etree.QName(current)
        if qname.namespace in (HL7V3, None):
            name = qname.localname
        else:
            name = f"{_PREFIXES.get(qname.namespace, 'ns')}:{qname.localname}"
        parent = current.getparent()
        if parent is not None:
            same = [c for c in parent if c.tag == current.tag]
            if len(same) > 1:
                name += f"[{same.index(current) + 1}]"
        steps.append(name)
        current = parent
    return "/" + "/".join(reversed(steps))


def attribute_location(element: etree._Element, attribute: str) -> str:
    return f"{location(element)}/@{attribute}"
