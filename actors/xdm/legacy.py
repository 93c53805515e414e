"""Metadata of older XDM media, brought to the ebRS/ebRIM 3.0 form the registry reads.

XDM media written before XDS.b (2007 and earlier) carry an ebXML Registry 2.1
`rs:SubmitObjectsRequest` with a `LeafRegistryObjectList`, `ObjectRef` declarations,
children in another order, ExternalIdentifiers without `registryObject`, and short
association types (`HasMember`), which some 3.0 writers still use. Importing such a medium
is a conversion, not a relaxation: the converted request then passes the same validation
as an ITI-41.
"""
from __future__ import annotations

import uuid

from lxml import etree

from actors.xds import constants as c

RIM21 = "urn:oasis:names:tc:ebxml-regrep:rim:xsd:2.1"
RS21 = "urn:oasis:names:tc:ebxml-regrep:registry:xsd:2.1"
ASSOCIATION_PREFIX = "urn:oasis:names:tc:ebxml-regrep:AssociationType:"
# ebRIM 3.0 order of a RegistryObject's children.
_ORDER = {"Slot": 0, "Name": 1, "Description": 2, "VersionInfo": 3, "Classification": 4, "ExternalIdentifier": 5}


def _rename(element: etree._Element) -> etree._Element:
    """Copy a rim 2.1 tree into the rim 3.0 namespace."""
    local = etree.QName(element).localname
    copy = etree.Element(f"{{{c.RIM}}}{local}", attrib=dict(element.attrib), nsmap={"rim": c.RIM})
    copy.text = element.text
    for child in element:
        if isinstance(child.tag, str):
            copy.append(_rename(child))
    return copy


def _reorder(element: etree._Element) -> None:
    children = [child for child in element if isinstance(child.tag, str)]
    ranked = [(_ORDER.get(etree.QName(child).localname), index, child) for index, child in enumerate(children)]
    if all(rank is not None for rank, _, _ in ranked):
        for child in children:
            element.remove(child)
        for _, _, child in sorted(ranked, key=lambda item: (item[0], item[1])):
            element.append(child)
    for child in children:
        _reorder(child)


def normalise(root: etree._Element) -> etree._Element:
    """Return an `lcm:SubmitObjectsRequest` (3.0) for a 2.1 or 3.0 request."""
    if etree.QName(root).namespace == RS21:
        converted = etree.Element(f"{{{c.LCM}}}SubmitObjectsRequest", nsmap={"lcm": c.LCM, "rim": c.RIM})
        converted_list = etree.SubElement(converted, f"{{{c.RIM}}}RegistryObjectList")
        leaf_list = root.find(f"{{{RIM21}}}LeafRegistryObjectList")
        for child in leaf_list if leaf_list is not None else []:
            if isinstance(child.tag, str) and etree.QName(child).localname != "ObjectRef":
                converted_list.append(_rename(child))
        root = converted
        _reorder(converted_list)
    object_list = root.find(f"{{{c.RIM}}}RegistryObjectList")
    if object_list is None:
        return root
    for association in object_list.iter(f"{{{c.RIM}}}Association"):
        kind = association.get("associationType", "")
        if kind and ":" not in kind:
            association.set("associationType", ASSOCIATION_PREFIX + kind)
    for owner in object_list:
        owner_id = owner.get("id", "")
        for identifier in owner.iterchildren(f"{{{c.RIM}}}ExternalIdentifier"):
            if not identifier.get("registryObject"):
                identifier.set("registryObject", owner_id)
    for element in object_list.iter(f"{{{c.RIM}}}ExternalIdentifier", f"{{{c.RIM}}}Classification", f"{{{c.RIM}}}Association"):
        if not element.get("id"):
            element.set("id", f"urn:uuid:{uuid.uuid4()}")
    return root
