"""lxml and xmlsec must link the same libxml2, or signature work fails in obscure ways
("lxml & xmlsec libxml2 library version mismatch"). Checked once, at start-up."""
from __future__ import annotations

from lxml import etree


class XmlLibraryMismatch(RuntimeError):
    """lxml and xmlsec were built against different libxml2 releases."""


def check() -> None:
    """Raise `XmlLibraryMismatch` with the versions and the remedy when they differ."""
    try:
        import xmlsec
    except Exception as exc:  # the import itself fails on a mismatch in some builds
        raise XmlLibraryMismatch(
            f"xmlsec cannot be loaded next to lxml {etree.__version__} ({exc}); "
            "install the lxml and xmlsec versions pinned in setup.cfg"
        ) from None
    lxml_version = etree.LIBXML_VERSION[:2]
    xmlsec_version = tuple(xmlsec.get_libxml_version()[:2])
    if lxml_version != xmlsec_version:
        raise XmlLibraryMismatch(
            f"lxml uses libxml2 {lxml_version} but xmlsec uses {xmlsec_version}; "
            "install the lxml and xmlsec versions pinned in setup.cfg"
        )
