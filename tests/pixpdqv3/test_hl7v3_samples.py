"""The messages `conformance.hl7v3_samples` builds: the wrapper and control act each
interaction needs (always checked), and their validity against the HL7 v3 NE2008 schemas
(interoperability layer: the schemas are in the corpus), with misordered variants the
schemas must refuse, so that the check is seen to bite."""
from __future__ import annotations

import pytest
from lxml import etree

from conformance import hl7v3_samples as samples
from pixpdqv3_support import NS, Address, MessageSource, assert_valid, cases, interaction, schema

HL7 = samples.HL7
# PRPA_MT201306UV02.ParameterList: the order of the parameters a query may state.
PDQ_PARAMETER_ORDER = [
    "livingSubjectAdministrativeGender", "livingSubjectBirthTime", "livingSubjectId", "livingSubjectName",
    "mothersMaidenName", "otherIDsScopingOrganization", "patientAddress",
]

BUILT: dict[str, MessageSource] = {
    "feed-add": lambda: samples.feed([("2.999.9.1", "A-1")], "ESSAI", "JEAN", "19700101", "M"),
    "feed-add-maximal": lambda: samples.feed(
        [("2.999.9.1", "A-2")], "ESSAI", "JEANNE", "19700102", "F", named_ids=[("LOCAL", "N-2")],
        other_ids=[("2.999.9.2", "O-2")], birth_family="NAISSANCE", phone="+33100000000",
        address=Address("1 rue Haute", "Lorient", "56100", "FRA"),
        birthplace=Address(city="Lorient", postal_code="56100", country="FRA", county="56121")),
    "feed-revise": lambda: samples.feed([("2.999.9.1", "A-1")], "ESSAI", "JEAN", "19700101", "M",
                                        interaction=samples.PRPA_IN201302UV02),
    "feed-merge": lambda: samples.feed([("2.999.9.1", "A-1")], "ESSAI", "JEAN", "19700101", "M",
                                       interaction=samples.PRPA_IN201304UV02, prior=[("2.999.9.1", "A-0")]),
    "pix-query": lambda: samples.pix_query(("2.999.9.1", "A-1"), ["2.999.9.2", "2.999.9.3"]),
    "pdq-query": lambda: samples.pdq_query(family="ESSAI", given="JEAN", birth="19700101", sex="M", quantity=10),
    "pdq-query-maximal": lambda: samples.pdq_query(
        family="ESSAI", given="JEAN", birth="19700101", sex="M", domains=["2.999.9.2"], quantity=10,
        identifiers=[("2.999.9.1", "A-1")], split_name=True, mothers_maiden_name="MERE",
        address=Address("1 rue Haute", "Lorient", "56100", "FRA")),
}
TRIGGERS = {
    "PRPA_IN201301UV02": "PRPA_TE201301UV02", "PRPA_IN201302UV02": "PRPA_TE201302UV02",
    "PRPA_IN201304UV02": "PRPA_TE201304UV02", "PRPA_IN201309UV02": "PRPA_TE201309UV02",
    "PRPA_IN201305UV02": "PRPA_TE201305UV02", "QUQI_IN000003UV01": "PRPA_TE201306UV02",
}


def _local(element: etree._Element) -> str:
    return etree.QName(element).localname


@pytest.mark.parametrize("make", cases({
    **BUILT,
    "continuation": lambda: samples.continuation("Q-1", quantity=5),
    "cancel": lambda: samples.continuation("Q-1", cancel=True),
}))
def test_wrapper_and_control_act_name_the_interaction(make: MessageSource) -> None:
    message = make()
    name = _local(message).removesuffix("_Cancel")
    assert message.get("ITSVersion") == "XML_1.0"
    assert [_local(c) for c in message][:8] == [
        "id", "creationTime", "interactionId", "processingCode", "processingModeCode", "acceptAckCode", "receiver", "sender",
    ]
    interaction_id = message.find("hl7:interactionId", NS)
    assert (interaction_id.get("root"), interaction_id.get("extension")) == ("2.16.840.1.113883.1.6", name)
    assert message.find("hl7:acceptAckCode", NS).get("code") == "AL"
    act = message.find("hl7:controlActProcess", NS)
    assert (act.get("classCode"), act.get("moodCode")) == ("CACT", "EVN")
    assert act.find("hl7:code", NS).get("code") == TRIGGERS[name]


def test_feed_carries_every_identifier_where_iti44_reads_it() -> None:
    message = BUILT["feed-add-maximal"]()
    patient = message.find(".//hl7:registrationEvent/hl7:subject1/hl7:patient", NS)
    ids = [(i.get("root"), i.get("extension"), i.get("assigningAuthorityName")) for i in patient.findall("hl7:id", NS)]
    assert ids == [("2.999.9.1", "A-2", None), (None, "N-2", "LOCAL")]
    other = patient.find("hl7:patientPerson/hl7:asOtherIDs", NS)
    assert (other.find("hl7:id", NS).get("root"), other.find("hl7:id", NS).get("extension")) == ("2.999.9.2", "O-2")
    assert other.find("hl7:scopingOrganization/hl7:id", NS).get("root") == "2.999.9.2"
    names = patient.findall("hl7:patientPerson/hl7:name", NS)
    assert [n.find("hl7:family", NS).get("qualifier") for n in names] == [None, "BR"]
    assert patient.find("hl7:patientPerson/hl7:birthPlace/hl7:addr/hl7:county", NS).text == "56121"


def test_merge_states_the_prior_registration() -> None:
    message = BUILT["feed-merge"]()
    prior = message.find(".//hl7:registrationEvent/hl7:replacementOf/hl7:priorRegistration", NS)
    assert prior.find("hl7:statusCode", NS).get("code") == "obsolete"
    role_id = prior.find("hl7:subject1/hl7:priorRegisteredRole/hl7:id", NS)
    assert (role_id.get("root"), role_id.get("extension")) == ("2.999.9.1", "A-0")


def test_pdq_parameters_follow_the_parameter_list_order() -> None:
    parameters = BUILT["pdq-query-maximal"]().find(".//hl7:queryByParameter/hl7:parameterList", NS)
    names = [_local(p) for p in parameters]
    assert names == sorted(names, key=PDQ_PARAMETER_ORDER.index)
    assert set(names) == set(PDQ_PARAMETER_ORDER)
    assert names.count("livingSubjectName") == 2  # split_name: given, then family


@pytest.mark.parametrize("make", cases(BUILT, interop_only=True))
def test_built_message_is_schema_valid(make: MessageSource) -> None:
    """Interop: valid against the HL7 v3 NE2008 schema of its interaction."""
    assert_valid(make())


def _misordered_feed() -> etree._Element:
    message = BUILT["feed-add"]()
    person = message.find(".//hl7:patientPerson", NS)
    birth = person.find("hl7:birthTime", NS)
    person.remove(birth)
    person.insert(0, birth)
    return message


def _misordered_query() -> etree._Element:
    message = BUILT["pdq-query-maximal"]()
    parameters = message.find(".//hl7:parameterList", NS)
    parameters[:] = list(reversed(parameters))
    return message


@pytest.mark.parametrize("make", cases({"feed": _misordered_feed, "pdq-query": _misordered_query}, interop_only=True))
def test_misordered_message_is_refused_by_the_schema(make: MessageSource) -> None:
    """Interop: the schema check refuses a message whose elements are out of order."""
    message = make()
    checker = schema(interaction(message))
    assert not checker.validate(etree.fromstring(etree.tostring(message)))
    assert "not expected" in str(checker.error_log)
