"""Helpers of the PDQm/PIXm tests: identities fed over MLLP (ITI-8) from FHIR Patient
samples or from a few values, and FHIR answers read back."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from conformance.hubprocess import HubProcess

FHIR_NS = "http://hl7.org/fhir"
SEX = {"female": "F", "male": "M", "unknown": "U", "other": "O"}


def ack_code(response: bytes) -> str:
    for segment in response.decode("utf-8").split("\r"):
        if segment.startswith("MSA|"):
            return segment.split("|")[1]
    raise AssertionError(f"no MSA in {response!r}")


def adt_a04(ids: list[tuple[str, str]], family: str, given: str, birth: str, sex: str, control: str,
            address: str = "", phone: str = "") -> str:
    """ITI-8 ADT^A04: PID-3 one repetition per (value, OID)."""
    pid3 = "~".join(f"{value}^^^&{oid}&ISO^PI" for value, oid in ids)
    return (
        f"MSH|^~\\&|SRC|FAC|TSNHUB|PFT|20260101120000||ADT^A04^ADT_A01|{control}|P|2.5|||||FRA|UNICODE UTF-8\r"
        "EVN|A04|20260101120000\r"
        f"PID|1||{pid3}||{family}^{given}^^^^^L||{birth}|{sex}|||{address}||{phone}\r"
        "PV1|1|O\r"
    )


def feed_patient_resource(hub: HubProcess, path: Path) -> dict[str, Any]:
    """Feed the identity a FHIR Patient sample states, through ITI-8 over MLLP."""
    patient = json.loads(path.read_text(encoding="utf-8"))
    ids = [(i["value"], i["system"].removeprefix("urn:oid:")) for i in patient["identifier"]]
    name = patient["name"][0]
    address = ""
    if patient.get("address"):
        a = patient["address"][0]
        address = f"{a.get('line', [''])[0]}^^{a.get('city', '')}^{a.get('state', '')}^{a.get('postalCode', '')}^^H"
    message = adt_a04(ids, name["family"], name["given"][0], patient["birthDate"].replace("-", ""),
                      SEX[patient["gender"]], f"FEED-{patient['id']}", address)
    assert ack_code(hub.mllp(message)) == "AA"
    return patient
