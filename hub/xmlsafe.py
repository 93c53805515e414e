"""Hardened XML parsing: the only way the hub turns untrusted bytes into an lxml tree.

No DTD is loaded and no entity is expanded (billion laughs, XXE), no network access,
and documents carrying a document type declaration are refused outright: SOAP 1.2
forbids them and no IHE message needs one. Element depth and size are bounded.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass

from lxml import etree


class UnsafeXmlError(ValueError):
    """The document is not well-formed, too large, too deep, or carries a DTD."""


@dataclass(frozen=True)
class XmlLimits:
    max_bytes: int = 64 * 1024 * 1024
    max_depth: int = 256


DEFAULT_LIMITS = XmlLimits()


def _parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_blank_text=False,
        collect_ids=False,
    )


_local = threading.local()


def _thread_parser() -> etree.XMLParser:
    # lxml parser objects keep per-parse state: one per thread.
    parser = getattr(_local, "parser", None)
    if parser is None:
        parser = _local.parser = _parser()
    return parser


_deeper_than: dict[int, etree.XPath] = {}


def _depth(root: etree._Element, limit: int) -> None:
    # Whether an element sits at depth limit + 1 (the root is at depth 1), asked of
    # libxml2's XPath engine: a walk in Python costs ~25x more on every request.
    probe = _deeper_than.get(limit)
    if probe is None:
        probe = _deeper_than[limit] = etree.XPath("boolean(/" + "/".join(["*"] * (limit + 1)) + ")")
    if probe(root):
        raise UnsafeXmlError(f"element nesting deeper than {limit}")


def parse(data: bytes | memoryview, limits: XmlLimits = DEFAULT_LIMITS) -> etree._Element:
    """Parse untrusted XML into its root element, or raise `UnsafeXmlError`."""
    if len(data) > limits.max_bytes:
        raise UnsafeXmlError(f"document larger than {limits.max_bytes} bytes")
    raw = bytes(data) if isinstance(data, memoryview) else data
    head = raw[:4096]
    if b"<!DOCTYPE" in head or b"<!ENTITY" in head:
        raise UnsafeXmlError("document type declarations are not allowed")
    try:
        root = etree.fromstring(raw, _thread_parser())
    except etree.XMLSyntaxError as exc:
        raise UnsafeXmlError(f"not well-formed XML: {exc.msg}") from None
    except ValueError as exc:
        raise UnsafeXmlError(f"not well-formed XML: {exc}") from None
    if root is None:
        raise UnsafeXmlError("empty document")
    docinfo = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None:
        raise UnsafeXmlError("document type declarations are not allowed")
    _depth(root, limits.max_depth)
    return root
