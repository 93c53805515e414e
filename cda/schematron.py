"""ISO Schematron (ISO/IEC 19757-3) run on CDA documents, results merged into the report.

Schematron files are configuration written by the operator, not untrusted input: they
are read with their DTD and external entities expanded, as the IHE XD-LAB schematrons
need (their patterns live in `templates/*.ent` files), but only from files inside the
schematron's own folder and never from the network.

- `queryBinding` xslt / xslt1 (the default): lxml's ISO skeleton (XSLT 1.0, libxslt).
- `queryBinding` xslt2 / xslt3 (or xpath2/xpath3/xpath31): compiled here to an XSLT 3.0
  stylesheet writing SVRL and run by Saxon (saxonche).

Failed asserts and successful reports become findings; their severity comes from
`@role` (error/fatal, warning/warn, info/information/note) or, failing that, from a
leading "Error:" / "Warning:" / "Note:" in the message, otherwise error.
"""
from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from xml.sax.saxutils import quoteattr

from lxml import etree, isoschematron

from cda.document import CdaDocument, location
from cda.report import Finding, Severity, Step

ISO = "http://purl.oclc.org/dsdl/schematron"
SCH15 = "http://www.ascc.net/xml/schematron"
SVRL = "http://purl.oclc.org/dsdl/svrl"
XSL = "http://www.w3.org/1999/XSL/Transform"

XSLT1_BINDINGS = frozenset({"", "xslt", "xslt1", "xpath", "exslt"})
XSLT2_BINDINGS = frozenset({"xslt2", "xslt3", "xpath2", "xpath3", "xpath31"})

_SCH_ELEMENTS = frozenset({
    "schema", "title", "ns", "let", "phase", "active", "pattern", "rule", "assert", "report",
    "p", "emph", "dir", "span", "name", "value-of", "include", "extends", "param", "diagnostics",
    "diagnostic", "properties", "property", "key",
})


class SchematronError(ValueError):
    """A configured schematron cannot be read or compiled."""


class _LocalFilesOnly(etree.Resolver):
    """External entities and includes only from inside the schematron's folder."""

    def __init__(self, base: Path) -> None:
        super().__init__()
        self.base = base

    def resolve(self, system_url: str | None, public_id: str | None, context: Any) -> Any:
        if system_url is None:
            raise SchematronError(f"an external resource without a URL is outside the schematron folder {self.base}")
        path = Path(system_url.removeprefix("file://")).resolve()
        if not path.is_relative_to(self.base):
            raise SchematronError(f"{system_url} is outside the schematron folder {self.base}")
        return self.resolve_filename(str(path), context)


def _read(path: Path) -> etree._ElementTree:
    parser = etree.XMLParser(resolve_entities=True, load_dtd=True, no_network=True, huge_tree=False)
    parser.resolvers.add(_LocalFilesOnly(path.parent.resolve()))
    try:
        tree = etree.parse(str(path), parser)
    except (OSError, etree.XMLSyntaxError) as exc:
        raise SchematronError(f"{path}: {exc}") from None
    root = tree.getroot()
    if etree.QName(root).localname != "schema" or etree.QName(root).namespace not in (ISO, SCH15):
        raise SchematronError(f"{path}: not a schematron schema")
    # Schematron 1.5 is read as ISO; elements brought in by external entities lose the
    # default namespace of the including file in libxml2, so they are put back in it.
    for element in root.iter():
        if not isinstance(element.tag, str):
            continue
        qname = etree.QName(element)
        if qname.namespace == SCH15 or (qname.namespace is None and qname.localname in _SCH_ELEMENTS):
            element.tag = f"{{{ISO}}}{qname.localname}"
    return tree


def _severity(role: str | None, message: str) -> Severity:
    role = (role or "").strip().lower()
    if role in {"error", "fatal", "err"}:
        return Severity.ERROR
    if role in {"warning", "warn"}:
        return Severity.WARNING
    if role in {"info", "information", "note", "hint"}:
        return Severity.INFO
    head = message.lstrip().lower()
    if head.startswith("warning"):
        return Severity.WARNING
    if head.startswith(("note", "info")):
        return Severity.INFO
    return Severity.ERROR


@dataclass
class Schematron:
    """One compiled schematron, run by lxml (XSLT 1.0) or Saxon (XSLT 2.0/3.0)."""

    path: Path
    binding: str
    phase: str
    _run: Any
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def name(self) -> str:
        return self.path.name

    def validate(self, document: CdaDocument, step: Step) -> None:
        """Run on `document`; every failed assert / successful report becomes a finding."""
        step.detail = f"{self.path} (queryBinding {self.binding or 'xslt'}, phase {self.phase})"
        try:
            with self._lock:
                svrl = self._run(document)
        except (etree.XSLTApplyError, SchematronError) as exc:
            # A schematron that cannot be evaluated on a document proves nothing about it.
            step.add(Finding(Severity.ERROR, "SCH-EVALUATION",
                             f"the schematron could not be evaluated on this document: {exc}", "", None, step.name))
            return
        pattern = ""
        for element in svrl.iter(f"{{{SVRL}}}active-pattern", f"{{{SVRL}}}failed-assert", f"{{{SVRL}}}successful-report"):
            local = etree.QName(element).localname
            if local == "active-pattern":
                pattern = element.get("id") or element.get("name") or ""
                continue
            message = " ".join("".join(element.findtext(f"{{{SVRL}}}text") or "").split())
            rule = "SCH:" + (element.get("id") or pattern or self.path.stem)
            target = _locate(document, element.get("location", ""))
            step.add(
                Finding(
                    _severity(element.get("role"), message),
                    rule,
                    message or f"{local}: {element.get('test', '')}",
                    location(target) if target is not None else element.get("location", ""),
                    target.sourceline if target is not None else None,
                    step.name,
                )
            )


_QNAME_STEP = re.compile(r"Q\{([^}]*)\}([\w.\-]+)")


def _locate(document: CdaDocument, path: str) -> etree._Element | None:
    """The element an SVRL @location names (lxml's local-name() paths or XPath 3 path())."""
    if not path:
        return None
    expression = _QNAME_STEP.sub(lambda m: f"*[local-name()='{m.group(2)}' and namespace-uri()='{m.group(1)}']", path)
    try:
        found = document.root.getroottree().xpath(expression)
    except etree.XPathError:
        return None
    if isinstance(found, list) and found:
        target = found[0]
        if isinstance(target, etree._Element):
            return target
        parent = getattr(target, "getparent", lambda: None)()
        return parent if isinstance(parent, etree._Element) else None
    return None


def parse_spec(spec: str) -> tuple[Path, str | None]:
    """A configured schematron: `FILE` or `FILE#PHASE` (when FILE#PHASE is not itself a file)."""
    if "#" in spec and not Path(spec).exists():
        file, _, phase = spec.rpartition("#")
        return Path(file), phase or None
    return Path(spec), None


def load(path: Path, phase: str | None = None) -> Schematron:
    """Read and compile the schematron at `path` (phase: the one requested, else the
    schema's defaultPhase, else #ALL)."""
    path = Path(path)
    tree = _read(path)
    root = tree.getroot()
    binding = (root.get("queryBinding") or "").strip().lower()
    chosen = phase or root.get("defaultPhase") or "#ALL"
    if binding in XSLT1_BINDINGS:
        try:
            compiled = isoschematron.Schematron(
                tree, phase=None if chosen == "#ALL" else chosen, store_report=True, validate_schema=False
            )
        except (etree.SchematronParseError, etree.XSLTParseError, etree.XSLTApplyError) as exc:
            raise SchematronError(f"{path}: {exc}") from None

        def run_lxml(document: CdaDocument) -> etree._Element:
            compiled.validate(document.root.getroottree())
            report = compiled.validation_report
            assert report is not None
            return report.getroot()

        return Schematron(path, binding, chosen, run_lxml)
    if binding in XSLT2_BINDINGS:
        stylesheet = compile_xslt3(tree, path, chosen)
        return Schematron(path, binding, chosen, _saxon_runner(stylesheet, path))
    raise SchematronError(f"{path}: unsupported queryBinding {binding!r}")


# -- XSLT 2.0/3.0 through Saxon -----------------------------------------------------------

_saxon_lock = threading.Lock()
_saxon_processor: Any = None


def _processor() -> Any:
    global _saxon_processor
    if _saxon_processor is None:
        try:
            from saxonche import PySaxonProcessor
        except ImportError as exc:  # the `cda` extra of setup.cfg
            raise SchematronError("XSLT 2/3 schematrons need saxonche (pip install tsnhub[cda])") from exc
        _saxon_processor = PySaxonProcessor(license=False)
    return _saxon_processor


def _saxon_runner(stylesheet: str, path: Path) -> Any:
    with _saxon_lock:
        processor = _processor()
        xslt = processor.new_xslt30_processor()
        try:
            executable = xslt.compile_stylesheet(stylesheet_text=stylesheet)
        except Exception as exc:  # saxonche raises PySaxonApiError without a public base
            raise SchematronError(f"{path}: XSLT 3.0 compilation failed: {exc}") from None
        if executable is None:
            raise SchematronError(f"{path}: XSLT 3.0 compilation failed")

    def run_saxon(document: CdaDocument) -> etree._Element:
        data = etree.tostring(document.root, encoding="unicode")
        with _saxon_lock:
            node = processor.parse_xml(xml_text=data)
            output = executable.transform_to_string(xdm_node=node)
        if output is None:
            raise SchematronError(f"{path}: the schematron stylesheet failed on this document")
        return etree.fromstring(output.encode("utf-8"), etree.XMLParser(resolve_entities=False, no_network=True))

    return run_saxon


def _iso(local: str) -> str:
    return f"{{{ISO}}}{local}"


def _expand_includes(root: etree._Element, base: Path) -> None:
    for include in list(root.iter(_iso("include"))):
        href = include.get("href", "")
        target = (base / href).resolve()
        if not target.is_relative_to(base.resolve()):
            raise SchematronError(f"include {href} is outside the schematron folder")
        included = _read_fragment(target)
        parent = include.getparent()
        assert parent is not None
        parent.replace(include, included)


def _read_fragment(path: Path) -> etree._Element:
    parser = etree.XMLParser(resolve_entities=True, load_dtd=True, no_network=True)
    parser.resolvers.add(_LocalFilesOnly(path.parent.resolve()))
    try:
        element = etree.parse(str(path), parser).getroot()
    except (OSError, etree.XMLSyntaxError) as exc:
        raise SchematronError(f"{path}: {exc}") from None
    _expand_includes(element, path.parent)
    return element


def _substitute(text: str, params: dict[str, str]) -> str:
    # Abstract-pattern parameters: longest names first so $ab is not cut by $a.
    for name in sorted(params, key=len, reverse=True):
        text = text.replace(f"${name}", params[name])
    return text


def _instantiate(pattern: etree._Element, abstracts: dict[str, etree._Element]) -> etree._Element:
    base = pattern.get("is-a")
    if not base:
        return pattern
    if base not in abstracts:
        raise SchematronError(f"pattern {pattern.get('id')} is-a unknown abstract pattern {base}")
    params = {p.get("name", ""): p.get("value", "") for p in pattern.findall(_iso("param"))}
    instance = etree.fromstring(etree.tostring(abstracts[base]))
    if "abstract" in instance.attrib:
        del instance.attrib["abstract"]
    if pattern.get("id"):
        instance.set("id", pattern.get("id", ""))
    for element in instance.iter():
        for attribute in ("context", "test", "select", "value", "path"):
            if element.get(attribute) is not None:
                element.set(attribute, _substitute(element.get(attribute, ""), params))
    return instance


def compile_xslt3(tree: etree._ElementTree, path: Path, phase: str) -> str:
    """ISO Schematron -> XSLT 3.0 writing SVRL: includes, abstract patterns and rules,
    lets, phases, value-of/name in messages. First matching rule of a pattern wins, as
    the standard requires, through template priorities in one mode per pattern."""
    root = etree.fromstring(etree.tostring(tree.getroot()))
    _expand_includes(root, path.parent)
    namespaces = {ns.get("prefix", ""): ns.get("uri", "") for ns in root.iter(_iso("ns"))}
    patterns_all = list(root.iter(_iso("pattern")))
    abstracts = {p.get("id", ""): p for p in patterns_all if p.get("abstract") == "true"}
    abstract_rules = {r.get("id", ""): r for r in root.iter(_iso("rule")) if r.get("abstract") == "true"}
    patterns = [_instantiate(p, abstracts) for p in patterns_all if p.get("abstract") != "true"]
    if phase != "#ALL":
        phases = {p.get("id"): p for p in root.findall(_iso("phase"))}
        if phase not in phases:
            raise SchematronError(f"{path}: no phase {phase}")
        active = {a.get("pattern") for a in phases[phase].findall(_iso("active"))}
        patterns = [p for p in patterns if p.get("id") in active]

    declarations = " ".join(f"xmlns:{prefix}={quoteattr(uri)}" for prefix, uri in namespaces.items() if prefix)
    out: list[str] = [
        f'<xsl:stylesheet version="3.0" xmlns:xsl="{XSL}" xmlns:svrl="{SVRL}" {declarations} '
        'exclude-result-prefixes="#all">',
        '<xsl:output method="xml" indent="no"/>',
    ]
    for child in root:
        if isinstance(child.tag, str) and etree.QName(child).namespace == XSL:
            out.append(etree.tostring(child, encoding="unicode"))
    for let in root.findall(_iso("let")):
        out.append(_variable(let))
    out.append('<xsl:template match="/"><svrl:schematron-output>')
    for index, pattern in enumerate(patterns):
        out.append(f"<svrl:active-pattern id={quoteattr(pattern.get('id') or f'pattern-{index}')}/>")
        out.append(f'<xsl:apply-templates select="/" mode="M{index}"/>')
    out.append("</svrl:schematron-output></xsl:template>")
    for index, pattern in enumerate(patterns):
        pattern_lets = "".join(_variable(let) for let in pattern.findall(_iso("let")))
        rules = [r for r in pattern.findall(_iso("rule")) if r.get("abstract") != "true"]
        for position, rule in enumerate(rules):
            context = rule.get("context", "")
            priority = 1000 - position
            out.append(f"<xsl:template match={quoteattr(context)} priority=\"{priority}\" mode=\"M{index}\">")
            out.append(pattern_lets)
            for let in rule.findall(_iso("let")):
                out.append(_variable(let))
            out.append(f"<svrl:fired-rule context={quoteattr(_avt(context))}/>")
            checks: list[etree._Element] = []
            for child in rule:
                if not isinstance(child.tag, str):
                    continue
                local = etree.QName(child).localname
                if local in ("assert", "report"):
                    checks.append(child)
                elif local == "extends":
                    base = abstract_rules.get(child.get("rule", ""))
                    if base is None:
                        raise SchematronError(f"{path}: extends names unknown abstract rule {child.get('rule')}")
                    checks.extend(c for c in base if isinstance(c.tag, str) and etree.QName(c).localname in ("assert", "report"))
            for item in checks:
                out.append(_check(item))
            out.append(f'<xsl:apply-templates select="@*|node()" mode="M{index}"/></xsl:template>')
        out.append(f'<xsl:template match="text()" priority="-1" mode="M{index}"/>')
        out.append(f'<xsl:template match="@*|node()" priority="-2" mode="M{index}">'
                   f'<xsl:apply-templates select="@*|node()" mode="M{index}"/></xsl:template>')
    out.append("</xsl:stylesheet>")
    return "\n".join(out)


def _variable(let: etree._Element) -> str:
    value = let.get("value")
    if value is None:
        raise SchematronError(f"let {let.get('name')} without @value")
    return f"<xsl:variable name={quoteattr(let.get('name', ''))} select={quoteattr(value)}/>"


def _check(item: etree._Element) -> str:
    local = etree.QName(item).localname
    test = item.get("test", "")
    attributes = f"test={quoteattr(_avt(test))}"
    for name in ("id", "role", "flag"):
        if item.get(name):
            attributes += f" {name}={quoteattr(_avt(item.get(name, '')))}"
    body = (
        f"<svrl:{'failed-assert' if local == 'assert' else 'successful-report'} {attributes}>"
        '<xsl:attribute name="location" select="path()"/>'
        f"<svrl:text>{_message(item)}</svrl:text>"
        f"</svrl:{'failed-assert' if local == 'assert' else 'successful-report'}>"
    )
    if local == "assert":
        return f"<xsl:if test={quoteattr(f'not({test})')}>{body}</xsl:if>"
    return f"<xsl:if test={quoteattr(test)}>{body}</xsl:if>"


def _message(item: etree._Element) -> str:
    parts: list[str] = [_text(item.text)]
    for child in item:
        if isinstance(child.tag, str):
            local = etree.QName(child).localname
            if local == "value-of":
                parts.append(f"<xsl:value-of select={quoteattr(child.get('select', '.'))}/>")
            elif local == "name":
                parts.append(f"<xsl:value-of select={quoteattr('name(' + child.get('path', '.') + ')')}/>")
            else:
                parts.append(_text("".join(child.itertext())))
        parts.append(_text(child.tail))
    return "".join(parts)


def _avt(value: str) -> str:
    """A literal attribute value inside a literal result element (no AVT expansion)."""
    return value.replace("{", "{{").replace("}", "}}")


def _text(value: str | None) -> str:
    if not value:
        return ""
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
