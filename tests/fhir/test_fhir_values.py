"""PDQm parameters, PIXm parameters and FHIR XML, without a server."""
from __future__ import annotations

import pytest
from lxml import etree

from actors.fhir import format as fhir_format
from actors.fhir import pdqm, pixm, resources
from actors.identity.model import Cx, Hd


def test_pdqm_string_search_is_starts_with_unless_exact() -> None:
    search = pdqm.parse([("family", "Dupont"), ("given:exact", "Jean")])
    assert (search.query.family, search.query.given) == ("Dupont*", "Jean")


def test_pdqm_identifier_forms() -> None:
    search = pdqm.parse([("identifier", "urn:oid:1.2.250.1.213.1.4.8|184127512345640"),
                         ("identifier", "urn:oid:1.2.3|"), ("identifier", "LOCAL-7")])
    assert search.query.identifiers == (
        Cx("184127512345640", Hd("", "1.2.250.1.213.1.4.8", "ISO")), Cx("LOCAL-7", Hd()),
    )
    assert search.query.domains == (Hd("", "1.2.3", "ISO"),)


def test_pdqm_birthdate_and_gender() -> None:
    search = pdqm.parse([("birthdate", "eq1958-01-30"), ("gender", "female"), ("_count", "5000")])
    assert (search.query.birth_date, search.query.sex, search.count) == ("19580130", "F", pdqm.MAX_COUNT)


@pytest.mark.parametrize("pairs", [[("family", "A"), ("family", "B")], [("address", "Paris")], [("family", "")],
                                   [("family", "A"), ("address-state", "IL")]])
def test_pdqm_refusals(pairs: list[tuple[str, str]]) -> None:
    with pytest.raises(pdqm.SearchError) as raised:
        pdqm.parse(pairs)
    assert raised.value.status == 400


def test_pixm_parameters_from_a_posted_identifier() -> None:
    query = pixm.parse([("sourceIdentifier", {"system": "urn:oid:1.2.3", "value": "X"}), ("targetSystem", "urn:oid:4.5")])
    assert query.source == Cx("X", Hd("", "1.2.3", "ISO"))
    assert query.targets == [Hd("", "4.5", "ISO")]


def test_fhir_xml_puts_primitives_in_value_and_extension_url_as_attribute() -> None:
    resource = {"resourceType": "Patient", "id": "7",
                "extension": [{"url": "http://example.org/x", "valueString": "y"}],
                "active": True, "name": [{"family": "MOHR", "given": ["ALICE", "B"]}]}
    root = etree.fromstring(fhir_format.to_xml(resource))
    ns = {"f": fhir_format.FHIR_NS}
    assert root.find("f:id", ns).get("value") == "7"
    assert root.find("f:extension", ns).get("url") == "http://example.org/x"
    assert root.find("f:active", ns).get("value") == "true"
    assert [g.get("value") for g in root.findall("f:name/f:given", ns)] == ["ALICE", "B"]


def test_ins_identifier_carries_the_fr_core_type() -> None:
    value = resources.identifier(Cx("184127512345640", Hd("", "1.2.250.1.213.1.4.8", "ISO")))
    assert value["type"]["coding"][0]["code"] == "INS-NIR"
    assert value["system"] == "urn:oid:1.2.250.1.213.1.4.8"


def test_format_negotiation() -> None:
    assert fhir_format.negotiate(None, "text/html, application/fhir+xml;q=0.9") == fhir_format.XML
    assert fhir_format.negotiate("json", "application/fhir+xml") == fhir_format.JSON
    assert fhir_format.negotiate(None, None) == fhir_format.JSON
    with pytest.raises(fhir_format.NotAcceptable):
        fhir_format.negotiate("html", None)
