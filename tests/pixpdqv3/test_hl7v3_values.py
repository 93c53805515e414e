"""HL7 v3 data types read into the identity core's values, without a server."""
from __future__ import annotations

from lxml import etree

from actors.identity.model import Cx, Hd
from actors.pixpdqv3 import hl7v3

HL7 = "urn:hl7-org:v3"


def _names(xml: str) -> list[etree._Element]:
    return etree.fromstring(f'<patientPerson xmlns="{HL7}">{xml}</patientPerson>').findall(f"{{{HL7}}}name")


def test_birth_name_is_the_BR_family_and_the_other_the_used_name() -> None:
    """ITI-44 sample: 'Muster Maja' then birth name 'Tauxe' (qualifier BR)."""
    names = hl7v3.person_names(_names(
        "<name><family>Muster</family><given>Maja</given></name>"
        '<name><family qualifier="BR">Tauxe</family><given>Maja</given></name>'
    ))
    assert [(n.family, n.given, n.use) for n in names] == [("Tauxe", "Maja", "L"), ("Muster", "Maja", "D")]


def test_all_given_names_are_the_list_of_birth_first_names() -> None:
    names = hl7v3.person_names(_names("<name><given>JEANNE</given><given>MARIE</given><family>DARK</family></name>"))
    assert (names[0].given, names[0].further_given) == ("JEANNE", "JEANNE MARIE")


def test_null_flavored_names_are_ignored() -> None:
    assert hl7v3.person_names(_names('<name nullFlavor="UNK"/>')) == []


def test_ii_root_is_the_assigning_authority() -> None:
    ii = hl7v3.II("1.2.250.1.213.1.4.10", "184127512345640", "ASIP-SANTE-INS-NIR")
    assert hl7v3.ii_to_cx(ii) == Cx("184127512345640", Hd("ASIP-SANTE-INS-NIR", "1.2.250.1.213.1.4.10", "ISO"))
    assert hl7v3.cx_to_ii(hl7v3.ii_to_cx(ii)) == ii


def test_echo_resolves_prefixed_xsi_type_in_the_hl7_namespace() -> None:
    source = etree.fromstring(
        f'<ns1:root xmlns:ns1="{HL7}" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
        '<ns1:queryByParameter><ns1:initialQuantity xsi:type="ns1:INT" value="3"/></ns1:queryByParameter></ns1:root>'
    )
    copied = hl7v3.echo(source[0])
    assert copied[0].get("{http://www.w3.org/2001/XMLSchema-instance}type") == "INT"


def test_wrapper_with_another_interaction_id_is_rejected_201() -> None:
    message = etree.fromstring(
        f'<PRPA_IN201301UV02 xmlns="{HL7}"><id root="1.2"/><interactionId root="2.16.840.1.113883.1.6" extension="PRPA_IN201302UV02"/>'
        '<processingCode code="P"/></PRPA_IN201301UV02>'
    )
    try:
        hl7v3.read_wrapper(message, "PRPA_IN201301UV02")
    except hl7v3.MessageError as exc:
        assert exc.ack_code == "AR"
        assert [(d.code, d.location) for d in exc.details] == [("201", "/PRPA_IN201301UV02/interactionId")]
    else:
        raise AssertionError("the wrapper was accepted")


def test_unsupported_processing_code_is_rejected_202() -> None:
    message = etree.fromstring(
        f'<PRPA_IN201301UV02 xmlns="{HL7}"><id root="1.2"/><interactionId root="2.16.840.1.113883.1.6" extension="PRPA_IN201301UV02"/>'
        '<processingCode code="X"/></PRPA_IN201301UV02>'
    )
    try:
        hl7v3.read_wrapper(message, "PRPA_IN201301UV02")
    except hl7v3.MessageError as exc:
        assert [d.code for d in exc.details] == ["202"]
    else:
        raise AssertionError("the wrapper was accepted")
