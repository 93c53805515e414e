"""INS matricule: format and control key (spec/identity-fr.md §1.3)."""
from __future__ import annotations

import pytest

from actors.identity import ins


def test_key_of_the_insi_fixture_with_a_corsican_department() -> None:
    # INSi test fixture: 180032B020401 has key 23 (2B read as 18).
    assert ins.control_key("180032B020401") == "23"
    assert ins.check("180032B02040123").value == "180032B02040123"


@pytest.mark.parametrize(
    "matricule",
    ["287043523811712", "179114410905287", "119015935030127", "150093306319996", "296032123106402",
     "103053818514450", "292082A00421309", "184127512345640", "260058815400233"],
)
def test_keys_of_the_composed_people_are_valid(matricule: str) -> None:
    assert ins.is_valid(matricule)


def test_corsica_2a_is_read_as_19() -> None:
    base = "292082A004213"
    assert ins.control_key(base) == f"{97 - int('2920819004213') % 97:02d}"


@pytest.mark.parametrize("matricule", ["276037510669380", "260058815400244", "287043523811713"])
def test_a_wrong_key_is_refused_with_the_expected_key(matricule: str) -> None:
    with pytest.raises(ins.InsError, match="control key"):
        ins.check(matricule)


@pytest.mark.parametrize("matricule", ["28704352381171", "2870435238117123", "28704352381171A", "2870X3523811712", "287042C23811712"])
def test_a_malformed_matricule_is_refused(matricule: str) -> None:
    with pytest.raises(ins.InsError, match="15 characters"):
        ins.check(matricule)


def test_billing_nir_is_not_claimed_as_ins() -> None:
    assert not ins.claims_ins(ins.OID_INS_NIR, "ASIP-SANTE-NIR", "NH")
    assert ins.claims_ins(ins.OID_INS_NIR_TEST, "ASIP-SANTE-INS-NIR", "INS")
    assert ins.claims_ins("1.2.250.1.213.1.4.5", "", "INS")
