"""Issue 12, "Done when" 3: zeep, pointed at the WSDL the hub serves at
`/coordination?wsdl`, calls every coordination operation with each caller's own VIHF
assertion, without hand-written XML. Each bad input gets its SOAP fault naming the
field, an unauthorised caller gets wsse:FailedAuthentication, and the store is
unchanged after a refusal."""
from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from functools import partial
from pathlib import Path

import pytest
import sqlalchemy
import zeep.exceptions
from coordination_support import coordination_hub, coordination_service
from lxml import etree

from conformance.hubprocess import HubProcess
from vihf.issue import Signer

IPP = "2.999.1.10.1"  # the hospital's identifiers serve as the affinity domain here
PATIENT = f"200001^^^&{IPP}&ISO"
OTHER = f"200002^^^&{IPP}&ISO"
UNKNOWN = f"299999^^^&{IPP}&ISO"
COORDINATORS = "499900000001"
COORDINATION_TABLES = (
    "coordination_enrolment", "coordination_circle_member", "coordination_mandate", "coordination_opposition",
    "coordination_patient_code", "coordination_event",
)
WSSE_FAILED = "FailedAuthentication"
YESTERDAY = datetime.now(timezone.utc) - timedelta(days=1)

# Callers: (subject id, structure id, role codes)
COORDINATOR = ("810000000011", COORDINATORS, ["60"])  # nurse of the coordination structure
GP = ("810000000022", "499900000022", ["10", "SM26"])  # becomes the treating physician
OUTSIDER = ("810000000033", "499900000033", ["10", "SM26"])


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory, pki: Path) -> Iterator[HubProcess]:
    process = coordination_hub(tmp_path_factory.mktemp("coordination"), pki, IPP, COORDINATORS,
                               {"200001": "MARTIN^JEANNE", "200002": "MARTIN^JEANNE"})
    yield process
    process.stop()


@pytest.fixture(scope="module")
def client(hub: HubProcess, signer: Signer) -> Callable[..., object]:
    """`client(caller, purpose=...)`: the zeep service of `/coordination` for a caller."""
    return partial(coordination_service, hub, signer)


def _counts(hub: HubProcess) -> dict[str, int]:
    engine = sqlalchemy.create_engine(hub.db_url)
    try:
        with engine.connect() as connection:
            return {t: connection.execute(sqlalchemy.text(f"SELECT COUNT(*) FROM {t}")).scalar_one() for t in COORDINATION_TABLES}
    finally:
        engine.dispose()


def _fault(hub: HubProcess, call: Callable[[], object]) -> zeep.exceptions.Fault:
    """The fault of `call`, checking that nothing of the coordination model changed."""
    before = _counts(hub)
    with pytest.raises(zeep.exceptions.Fault) as caught:
        call()
    assert _counts(hub) == before
    return caught.value


def _subcodes(fault: zeep.exceptions.Fault) -> list[str]:
    return [etree.QName(code).localname if isinstance(code, etree.QName) else str(code).rpartition("}")[2].rpartition(":")[2]
            for code in (fault.subcodes or [])]


def test_the_wsdl_names_every_operation_of_the_contract(hub: HubProcess) -> None:
    wsdl = hub.session().get(f"{hub.https_url}/coordination?wsdl", timeout=30)
    assert wsdl.status_code == 200
    tree = etree.fromstring(wsdl.content)
    assert tree.get("targetNamespace") == "urn:tsnhub:coordination:1"
    operations = {op.get("name") for op in tree.iter("{http://schemas.xmlsoap.org/wsdl/}operation")}
    assert operations >= {
        "GetPatientStatus", "Enrol", "EndEnrolment", "ListCareCircle", "AddCareCircleMember", "RemoveCareCircleMember",
        "DeclareMandate", "SetOpposition", "WithdrawOpposition", "IssuePatientAccessCode",
    }
    addresses = [a.get("location") for a in tree.iter("{http://schemas.xmlsoap.org/wsdl/soap12/}address")]
    assert addresses and all(a == f"{hub.https_url}/coordination" for a in addresses)


def test_enrolment_circle_and_status_through_zeep(hub: HubProcess, client: Callable[..., object]) -> None:
    coordinator: object = client(COORDINATOR)
    status = coordinator.GetPatientStatus(patientId=PATIENT)  # type: ignore[attr-defined]
    assert (status.identityStatus, status.opposition, status.access.mandate) == ("PROV", "none", "none")
    assert not status.enrolments

    enrolled = coordinator.Enrol(patientId=PATIENT, pathway="PTA", consent=True,  # type: ignore[attr-defined]
                                 consentDate=datetime.now(timezone.utc) - timedelta(days=1))
    assert enrolled.status == "active" and enrolled.enrolmentId > 0
    members = coordinator.AddCareCircleMember(patientId=PATIENT, professionalId=GP[0], structureId=GP[1], role="PCP")  # type: ignore[attr-defined]
    assert [(m.professionalId, m.role) for m in members] == [(GP[0], "PCP")]

    gp: object = client(GP)
    status = gp.GetPatientStatus(patientId=PATIENT)  # type: ignore[attr-defined]
    assert [(e.pathway, e.status) for e in status.enrolments] == [("PTA", "active")]
    assert status.treatingPhysician == GP[0] and status.access.mandate == "treating-physician"
    assert [m.professionalId for m in gp.ListCareCircle(patientId=PATIENT)] == [GP[0]]  # type: ignore[attr-defined]

    # The treating physician manages the circle of their patient.
    members = gp.AddCareCircleMember(patientId=PATIENT, professionalId=OUTSIDER[0], structureId=None, role="ONESCP")  # type: ignore[attr-defined]
    assert {m.professionalId for m in members} == {GP[0], OUTSIDER[0]}
    members = gp.RemoveCareCircleMember(patientId=PATIENT, professionalId=OUTSIDER[0])  # type: ignore[attr-defined]
    assert [m.professionalId for m in members if m.until is None] == [GP[0]]

    assert gp.SetOpposition(patientId=PATIENT, scope="consultation", professionalId=None) == "consultation"  # type: ignore[attr-defined]
    assert gp.GetPatientStatus(patientId=PATIENT).opposition == "consultation"  # type: ignore[attr-defined]
    assert gp.WithdrawOpposition(patientId=PATIENT, scope="consultation", professionalId=None) == "none"  # type: ignore[attr-defined]

    assert coordinator.EndEnrolment(patientId=PATIENT, pathway="PTA", reason="fin de prise en charge") == "ended"  # type: ignore[attr-defined]
    assert coordinator.Enrol(patientId=PATIENT, pathway="PTA", consent=False).status == "proposed"  # type: ignore[attr-defined]


def test_mandates_and_patient_codes_through_zeep(hub: HubProcess, client: Callable[..., object]) -> None:
    coordinator: object = client(COORDINATOR)
    outsider: object = client(OUTSIDER)
    declared = outsider.DeclareMandate(patientId=OTHER, kind="care-team", reason=None, patientCode=None)  # type: ignore[attr-defined]
    assert declared.kind == "care-team"
    assert timedelta(days=29) < declared.until - datetime.now(timezone.utc) <= timedelta(days=30)
    assert outsider.GetPatientStatus(patientId=OTHER).access.mandate == "care-team"  # type: ignore[attr-defined]

    btg = outsider.DeclareMandate(patientId=OTHER, kind="break-the-glass", reason="urgence vitale", patientCode=None)  # type: ignore[attr-defined]
    assert btg.kind == "break-the-glass" and btg.until - datetime.now(timezone.utc) <= timedelta(hours=4)

    issued = coordinator.IssuePatientAccessCode(patientId=OTHER)  # type: ignore[attr-defined]
    assert issued.code and issued.until > datetime.now(timezone.utc)
    gp: object = client(GP)
    fault = _fault(hub, lambda: gp.DeclareMandate(patientId=OTHER, kind="patient-code", reason=None, patientCode="WRONG123"))  # type: ignore[attr-defined]
    assert "patientCode" in fault.message
    used = gp.DeclareMandate(patientId=OTHER, kind="patient-code", reason=None, patientCode=issued.code)  # type: ignore[attr-defined]
    assert used.kind == "patient-code"
    fault = _fault(hub, lambda: gp.DeclareMandate(patientId=OTHER, kind="patient-code", reason=None, patientCode=issued.code))  # type: ignore[attr-defined]
    assert "patientCode" in fault.message


@pytest.mark.parametrize(
    "name, call, field",
    [
        ("unknown pathway", lambda s: s.Enrol(patientId=OTHER, pathway="NOPE", consent=True, consentDate=YESTERDAY), "pathway"),
        ("unknown patient", lambda s: s.GetPatientStatus(patientId=UNKNOWN), "patientId"),
        ("unreadable patient id", lambda s: s.ListCareCircle(patientId="not a CX"), "patientId"),
        ("break-the-glass without reason",
         lambda s: s.DeclareMandate(patientId=OTHER, kind="break-the-glass", reason=None, patientCode=None), "reason"),
        ("consent dated in the future",
         lambda s: s.Enrol(patientId=OTHER, pathway="PAERPA", consent=True,
                           consentDate=datetime.now(timezone.utc) + timedelta(days=3)), "consentDate"),
        ("opposition to a professional without the professional",
         lambda s: s.SetOpposition(patientId=OTHER, scope="professional", professionalId=None), "professionalId"),
        ("removing a professional outside the circle",
         lambda s: s.RemoveCareCircleMember(patientId=OTHER, professionalId="810000009999"), "professionalId"),
    ],
)
def test_bad_input_is_a_sender_fault_naming_the_field(hub: HubProcess, client: Callable[..., object], name: str,
                                                     call: Callable[[object], object], field: str) -> None:
    fault = _fault(hub, lambda: call(client(COORDINATOR)))
    assert fault.code is not None and "Sender" in str(fault.code)
    assert fault.message.startswith(f"{field}:"), (name, fault.message)


def test_an_enrolment_that_exists_is_refused(hub: HubProcess, client: Callable[..., object]) -> None:
    coordinator: object = client(COORDINATOR)
    assert coordinator.Enrol(patientId=OTHER, pathway="ONCO", consent=True, consentDate=YESTERDAY).status == "active"  # type: ignore[attr-defined]
    fault = _fault(hub, lambda: coordinator.Enrol(patientId=OTHER, pathway="ONCO", consent=True, consentDate=YESTERDAY))  # type: ignore[attr-defined]
    assert fault.message.startswith("pathway:")


def test_a_caller_outside_the_rules_gets_failed_authentication(hub: HubProcess, client: Callable[..., object]) -> None:
    outsider: object = client(OUTSIDER)
    for call in (
        lambda: outsider.Enrol(patientId=OTHER, pathway="DIAB", consent=True, consentDate=YESTERDAY),  # type: ignore[attr-defined]
        lambda: outsider.AddCareCircleMember(patientId=OTHER, professionalId=OUTSIDER[0], structureId=None, role="PCP"),  # type: ignore[attr-defined]
        lambda: outsider.IssuePatientAccessCode(patientId=PATIENT),  # type: ignore[attr-defined]
    ):
        fault = _fault(hub, call)
        assert WSSE_FAILED in _subcodes(fault), fault.subcodes
        assert fault.message.startswith("not authorised (R9-")
