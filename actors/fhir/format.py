"""FHIR R4 representations for the PDQm / PIXm resources: the JSON form of a resource
(a dict, built in the element order of its StructureDefinition) written as JSON or as
FHIR XML, the format a client asks for (`_format`, then `Accept`), and the reading of a
`Parameters` resource in either form (ITI-83 POST).
"""
from __future__ import annotations

import json
from typing import Any

from lxml import etree

from hub.wire import xmlsafe

FHIR_NS = "http://hl7.org/fhir"
JSON = "application/fhir+json"
XML = "application/fhir+xml"

_FORMATS = {
    "json": JSON, "application/json": JSON, "application/fhir+json": JSON, "application/json+fhir": JSON,
    "xml": XML, "text/xml": XML, "application/xml": XML, "application/fhir+xml": XML, "application/xml+fhir": XML,
}


class NotAcceptable(ValueError):
    """A `_format` the server does not produce (HTTP 406)."""


def negotiate(format_parameter: str | None, accept: str | None) -> str:
    """The media type of the answer: `_format` wins over `Accept`; JSON by default
    (FHIR R4 http.html#mime-type)."""
    if format_parameter:
        media = _FORMATS.get(format_parameter.split(";")[0].strip().lower())
        if media is None:
            raise NotAcceptable(format_parameter)
        return media
    for part in (accept or "").split(","):
        media = _FORMATS.get(part.split(";")[0].strip().lower())
        if media is not None:
            return media
    return JSON


def content_type(media: str) -> str:
    return f"{media}; charset=utf-8"


def _fill(element: etree._Element, values: dict[str, Any]) -> None:
    for key, value in values.items():
        if key == "resourceType":
            continue
        if key == "url" and etree.QName(element).localname == "extension":
            element.set("url", value)
            continue
        for item in value if isinstance(value, list) else [value]:
            child = etree.SubElement(element, f"{{{FHIR_NS}}}{key}")
            if isinstance(item, dict) and "resourceType" in item:
                inner = etree.SubElement(child, f"{{{FHIR_NS}}}{item['resourceType']}")
                _fill(inner, item)
            elif isinstance(item, dict):
                _fill(child, item)
            elif isinstance(item, bool):
                child.set("value", "true" if item else "false")
            else:
                child.set("value", str(item))


def to_xml(resource: dict[str, Any]) -> bytes:
    """FHIR XML of a resource (http://hl7.org/fhir namespace, primitives in `value`)."""
    root = etree.Element(f"{{{FHIR_NS}}}{resource['resourceType']}", nsmap={None: FHIR_NS})
    _fill(root, resource)
    return bytes(etree.tostring(root, encoding="UTF-8", xml_declaration=True))


def serialise(resource: dict[str, Any], media: str) -> bytes:
    if media == XML:
        return to_xml(resource)
    return json.dumps(resource, ensure_ascii=False).encode("utf-8")


class InvalidResource(ValueError):
    """A request body that is not the resource expected."""


def _xml_parameter(element: etree._Element) -> tuple[str, Any]:
    name_element = element.find(f"{{{FHIR_NS}}}name")
    name = name_element.get("value", "") if name_element is not None else ""
    for child in element:
        if not isinstance(child.tag, str):
            continue
        local = etree.QName(child).localname
        if local.startswith("value"):
            if child.get("value") is not None:
                return name, child.get("value")
            return name, {etree.QName(c).localname: c.get("value", "") for c in child if isinstance(c.tag, str)}
    return name, None


def read_parameters(body: bytes, media_type: str) -> list[tuple[str, Any]]:
    """(name, value) of each parameter of a `Parameters` resource: a primitive value as a
    string, a complex one (valueIdentifier) as a dict of its primitive children."""
    if "xml" in media_type:
        try:
            root = xmlsafe.parse(body)
        except xmlsafe.UnsafeXmlError as exc:
            raise InvalidResource(str(exc)) from None
        if root.tag != f"{{{FHIR_NS}}}Parameters":
            raise InvalidResource("the body is not a FHIR Parameters resource")
        return [_xml_parameter(p) for p in root.findall(f"{{{FHIR_NS}}}parameter")]
    try:
        resource = json.loads(body)
    except (ValueError, RecursionError):
        # The parser's message would echo the body; nesting deep enough to exhaust the
        # stack is no more JSON to this endpoint than a syntax error.
        raise InvalidResource("the body is not JSON") from None
    if not isinstance(resource, dict) or resource.get("resourceType") != "Parameters":
        raise InvalidResource("the body is not a FHIR Parameters resource")
    parameters = resource.get("parameter", [])
    if not isinstance(parameters, list):
        raise InvalidResource("Parameters.parameter is not a list")
    found: list[tuple[str, Any]] = []
    for parameter in parameters:
        if not isinstance(parameter, dict):
            raise InvalidResource("a parameter is not an object")
        name = parameter.get("name", "")
        if not isinstance(name, str):
            raise InvalidResource("a parameter name is not a string")
        value = next((v for k, v in parameter.items() if k.startswith("value")), None)
        if not _json_value(value):
            raise InvalidResource(f"the value of parameter {name} is neither a primitive nor a datatype")
        found.append((name, value))
    return found


def _json_value(value: Any) -> bool:
    """A `value[x]` is a primitive or a datatype (an object), never a list."""
    return value is None or isinstance(value, (str, int, float, bool, dict))
