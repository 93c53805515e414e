"""Hardened XML parsing: the only way the hub turns untrusted bytes into an lxml tree.

Before libxml2 sees a byte, the whole document is scanned, in the character encoding
libxml2 will use: a document type declaration (or entity declaration) anywhere is
refused, as SOAP 1.2 requires and no IHE message needs; encodings in which markup could
hide from that scan (UTF-7, EBCDIC, ISO-2022, ...) are refused; the number of elements
and attributes, each of which costs libxml2 a node of ~120 bytes or more whatever the
size of its text, is bounded before any tree is built. The parser then loads no DTD,
expands no entity and opens no URL or file: every external resolution it might still
attempt is refused by a resolver. Error texts are fixed phrases: they never carry a
libxml2 message, which could tell a caller whether a path exists and what it is.
"""
from __future__ import annotations

import codecs
import re
import threading
from dataclasses import dataclass
from typing import Any

from lxml import etree


class UnsafeXmlError(ValueError):
    """The document is not well-formed, too large, too deep, or carries a DTD."""


@dataclass(frozen=True)
class XmlLimits:
    max_bytes: int = 64 * 1024 * 1024
    max_depth: int = 256
    # Tags (start, end, empty, comments, PIs) + attributes, counted before parsing: an
    # upper bound of the tree's nodes, each of which costs libxml2 100-250 bytes.
    max_elements: int = 500_000


DEFAULT_LIMITS = XmlLimits()


class ExternalResourceRefused(Exception):
    """Raised by the parser's resolver whenever libxml2 asks for an external resource.
    `url` is for the hub's own tests and logs, never for the caller."""

    def __init__(self, url: str | None) -> None:
        super().__init__("external resource refused")
        self.url = url


class _RefuseExternal(etree.Resolver):
    # lxml asks its resolvers before libxml2's default loader: raising here stops the
    # load before any file, FIFO or URL is opened, whatever option made libxml2 try.
    def resolve(self, system_url: str | None, public_id: str | None, context: Any) -> Any:
        raise ExternalResourceRefused(system_url)


def new_parser() -> etree.XMLParser:
    """A parser for untrusted input. `collect_ids` stays at its default: `False` makes
    lxml 6.1 / libxml2 2.14 load the external DTD subset even with `load_dtd=False`."""
    parser = etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        attribute_defaults=False,
        huge_tree=False,
        remove_blank_text=False,
    )
    parser.resolvers.add(_RefuseExternal())
    return parser


_local = threading.local()


def _thread_parser() -> etree.XMLParser:
    # lxml parser objects keep per-parse state: one per thread.
    parser = getattr(_local, "parser", None)
    if parser is None:
        parser = _local.parser = new_parser()
    return parser


# -- pre-scan -------------------------------------------------------------------------

# Byte signatures by which lxml and libxml2 pick a multi-byte encoding on their own
# (XML 1.0 appendix F), longest first: (signature, Python codec, bytes of BOM to skip).
_WIDE_SIGNATURES = (
    (b"\x00\x00\xfe\xff", "utf-32-be", 4),
    (b"\xff\xfe\x00\x00", "utf-32-le", 4),
    (b"\x00\x00\x00\x3c", "utf-32-be", 0),
    (b"\x3c\x00\x00\x00", "utf-32-le", 0),
    (b"\xfe\xff", "utf-16-be", 2),
    (b"\xff\xfe", "utf-16-le", 2),
    (b"\x00\x3c\x00\x3f", "utf-16-be", 0),
    (b"\x3c\x00\x3f\x00", "utf-16-le", 0),
)
# EBCDIC "<?xm" and the unusual UCS-4 byte orders: the scan could not read them.
_UNREADABLE_SIGNATURES = (b"\x4c\x6f\xa7\x94", b"\x00\x00\x3c\x00", b"\x00\x3c\x00\x00")

# Encodings in which every ASCII character is its own single byte, with no shift state:
# markup found in the decoded text is then found in the bytes. Python codec names.
_ASCII_COMPATIBLE = frozenset(
    {"utf-8", "ascii"}
    | {f"iso8859-{n}" for n in (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 14, 15, 16)}
    | {f"cp{n}" for n in range(1250, 1259)}
)
_UTF16 = frozenset({"utf-16", "utf-16-le", "utf-16-be"})
_UTF32 = frozenset({"utf-32", "utf-32-le", "utf-32-be"})

_ENCODING_DECL = re.compile(r"encoding\s*=\s*([\"'])([^\"'>]*)\1")

_UNSUPPORTED_ENCODING = "document encoding not supported (use UTF-8, UTF-16 or UTF-32)"


def _codec(name: str) -> str | None:
    try:
        return codecs.lookup(name).name
    except LookupError:
        return None


def _declared(text: bytes | str) -> str | None:
    """The codec named by the XML declaration at the very start of `text` (libxml2 reads
    no other): `""` when none is named, None when the name is unreadable or unknown."""
    if isinstance(text, bytes):
        if not text.startswith(b"<?xml"):
            return ""
        end = text.find(b">")
        # Latin-1 maps each byte to one character: the declaration's ASCII reads as is.
        declaration = text[: end if end >= 0 else len(text)].decode("latin-1")
    else:
        if not text.startswith("<?xml"):
            return ""
        end = text.find(">")
        declaration = text[: end if end >= 0 else len(text)]
    if "encoding" not in declaration:
        return ""
    match = _ENCODING_DECL.search(declaration)
    return _codec(match.group(2)) if match and match.group(2) else None


def _markup(raw: bytes) -> bytes | str:
    """`raw` as libxml2 will read it, for the scan: the bytes themselves when the
    encoding is ASCII-compatible, else the decoded text. Refuses unreadable encodings."""
    head = raw[:4]
    if head in _UNREADABLE_SIGNATURES:
        raise UnsafeXmlError(_UNSUPPORTED_ENCODING)
    for signature, codec, bom in _WIDE_SIGNATURES:
        if head.startswith(signature):
            try:
                text = raw[bom:].decode(codec)
            except UnicodeDecodeError:
                raise UnsafeXmlError("not well-formed XML (invalid character encoding)") from None
            family = _UTF16 if codec in _UTF16 else _UTF32
            declared = _declared(text)
            if declared != "" and declared not in family:
                raise UnsafeXmlError(_UNSUPPORTED_ENCODING)
            return text
    declared = _declared(raw[3:] if raw.startswith(codecs.BOM_UTF8) else raw)
    if declared != "" and declared not in _ASCII_COMPATIBLE:
        raise UnsafeXmlError(_UNSUPPORTED_ENCODING)
    return raw


_DECLARATION = re.compile(rb"<!(?:DOCTYPE|ENTITY)")
_DECLARATION_TEXT = re.compile(r"<!(?:DOCTYPE|ENTITY)")


def _prescan(raw: bytes, limits: XmlLimits) -> None:
    # Three linear passes (one search, two single-byte counts): the cheapest found,
    # about 1 ns per byte. Every element, comment or PI opens with "<" and every
    # attribute or namespace declaration has an "=": tags + "=" bound the tree's nodes.
    markup = _markup(raw)
    if isinstance(markup, bytes):
        doctype = _DECLARATION.search(markup) is not None
        nodes = markup.count(b"<") + markup.count(b"=")
    else:
        doctype = _DECLARATION_TEXT.search(markup) is not None
        nodes = markup.count("<") + markup.count("=")
    if doctype:
        raise UnsafeXmlError("document type declarations are not allowed")
    if nodes > limits.max_elements:
        raise UnsafeXmlError(f"document has more than {limits.max_elements} tags and attributes")


# -- after the parse ------------------------------------------------------------------

_deeper_than: dict[int, etree.XPath] = {}


def _depth(root: etree._Element, limit: int) -> None:
    # Whether an element sits at depth limit + 1 (the root is at depth 1), asked of
    # libxml2's XPath engine: a walk in Python costs ~25x more on every request.
    probe = _deeper_than.get(limit)
    if probe is None:
        probe = _deeper_than[limit] = etree.XPath("boolean(/" + "/".join(["*"] * (limit + 1)) + ")")
    if probe(root):
        raise UnsafeXmlError(f"element nesting deeper than {limit}")


def _syntax_error(exc: etree.XMLSyntaxError) -> UnsafeXmlError:
    # Only the position: libxml2's message may name a file, an errno or a DTD subset.
    position = getattr(exc, "position", None)
    if isinstance(position, tuple) and len(position) == 2 and all(isinstance(n, int) for n in position):
        return UnsafeXmlError(f"not well-formed XML (line {position[0]}, column {position[1]})")
    return UnsafeXmlError("not well-formed XML")


def parse(data: bytes | memoryview, limits: XmlLimits = DEFAULT_LIMITS) -> etree._Element:
    """Parse untrusted XML into its root element, or raise `UnsafeXmlError`."""
    if len(data) > limits.max_bytes:
        raise UnsafeXmlError(f"document larger than {limits.max_bytes} bytes")
    raw = bytes(data) if isinstance(data, memoryview) else data
    _prescan(raw, limits)
    return _parse(raw, limits)


def parse_own(data: bytes) -> etree._Element:
    """Parse XML that lxml serialised for this hub from a tree it already holds: the
    ebRIM it stored from a submission that came through `parse`, a C14N form, an
    assertion it signed. lxml never writes a document type declaration for an element
    and the nodes were counted when the bytes first came in, so the pre-scan is skipped
    (it cost ITI-18 about 5 % in re-reading every stored entry); the parser is the same
    one, which opens nothing."""
    return _parse(data, DEFAULT_LIMITS)


def _parse(raw: bytes, limits: XmlLimits) -> etree._Element:
    try:
        root = etree.fromstring(raw, _thread_parser())
    except ExternalResourceRefused:
        raise UnsafeXmlError("external resources are not allowed") from None
    except etree.XMLSyntaxError as exc:
        raise _syntax_error(exc) from None
    except ValueError:
        raise UnsafeXmlError("not well-formed XML") from None
    if root is None:
        raise UnsafeXmlError("empty document")
    docinfo = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None:
        raise UnsafeXmlError("document type declarations are not allowed")
    _depth(root, limits.max_depth)
    return root
