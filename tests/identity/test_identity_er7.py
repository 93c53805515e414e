"""The ER7 reader of the identity feeds: delimiters, escapes, CX/XPN/XAD."""
from __future__ import annotations

from actors.identity import er7
from actors.identity.model import Cx, Hd, normalise


def test_fields_are_numbered_as_hl7_numbers_them() -> None:
    message = er7.Er7Message("MSH|^~\\&|APP|FAC|||20250101||ADT^A01|42|P|2.5\rPID|1||123^^^NS&1.2.3&ISO^PI~9^^^X||DOE^JOHN\r")
    assert message.msh.raw(3) == "APP"
    assert message.msh.raw(10) == "42"
    pid = message.first("PID")
    assert pid is not None
    assert er7.parse_cx_list(pid.raw(3)) == [Cx("123", Hd("NS", "1.2.3", "ISO"), "PI"), Cx("9", Hd("X"), "")]
    assert pid.value(5, 2) == "JOHN"


def test_escapes_are_resolved_and_written_back() -> None:
    assert er7.unescape("A\\F\\B\\S\\C\\T\\D\\R\\E\\E\\") == "A|B^C&D~E\\"
    assert er7.unescape(er7.escape("x|y^z&w~v\\u")) == "x|y^z&w~v\\u"


def test_declared_delimiters_are_used() -> None:
    message = er7.Er7Message("MSH#*~\\&#APP#FAC\rPID#1##77*^^X\r".replace("*^^", "***"))
    pid = message.first("PID")
    assert pid is not None
    assert message.delimiters.component == "*"
    assert er7.parse_cx(pid.raw(3), message.delimiters) == Cx("77", Hd("X"))


def test_french_names_and_birthplace() -> None:
    name = er7.parse_xpn("DARK^JEANNE^JEANNE MARIE CECILE^^Mme^^L")
    assert (name.family, name.given, name.further_given, name.use) == ("DARK", "JEANNE", "JEANNE MARIE CECILE", "L")
    birthplace = er7.parse_xad("^^^^^FRA^BDL^^2A004")
    assert (birthplace.use, birthplace.county) == ("BDL", "2A004")
    assert normalise("Lefèbvre-Vignal d'Ornano") == "LEFEBVRE VIGNAL D ORNANO"
