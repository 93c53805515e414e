"""Issue 12, "Done when" 1 and 2, on a running hub: several principals, each with its
own VIHF assertion, read one patient's documents and identity through ITI-18, ITI-43 and
PDQm (and an MLLP sender through PDQ v2, the operator through `tsnhub xdm export`); each
gets exactly what the rule table (ACCESS.md) says. An opposition set through
`/coordination` or through a PAM-FR ZFA-11 `INC` holds on the very next request of every
path, and its withdrawal too."""
from __future__ import annotations

import base64
import subprocess
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import requests
import sqlalchemy
from coordination_support import assertions, coordination_hub, coordination_service, pam
from lxml import etree

from actors.xds import constants as c
from conformance.hubprocess import HubProcess, tsnhub_command
from conformance.xds_client import XdsClient, quoted, quoted_list
from conformance.xds_metadata import CodeSpec, DocumentSpec, submit_objects_request
from vihf.issue import Signer

IPP = "2.999.1.20.1"
PATIENT = f"300001^^^&{IPP}&ISO"
COORDINATORS = "499900000101"
CONFIDENTIALITY = "2.16.840.1.113883.5.25"
VISIBILITY = "1.2.250.1.213.1.1.4.13"

# (subject id, structure id, roles)
COORDINATOR = ("810000000101", COORDINATORS, ["60"])
TREATING = ("810000000102", "499900000102", ["10", "SM26"])
MEMBER = ("810000000103", "499900000103", ["60"])
CARE_TEAM = ("810000000104", "499900000104", ["10", "SM26"])
BREAK_GLASS = ("810000000105", "499900000105", ["10", "SM26"])
OUTSIDER = ("810000000106", "499900000106", ["10", "SM26"])
EXCLUDED = ("810000000107", "499900000107", ["10", "SM26"])
AUTHOR = ("810000000108", "499900000108", ["10", "SM26"])

DOCUMENTS = {
    "normal": [CodeSpec("N", CONFIDENTIALITY, "Normal")],
    "restricted": [CodeSpec("R", CONFIDENTIALITY, "Restreint")],
    "very-restricted": [CodeSpec("V", CONFIDENTIALITY, "Très restreint")],
    "masked": [CodeSpec("N", CONFIDENTIALITY, "Normal"), CodeSpec("MASQUE_PS", VISIBILITY, "Masqué aux PS")],
}
ALL = set(DOCUMENTS)

# What each principal reads of the patient's documents (ACCESS.md): the treating
# physician and circle members reach N, R, V; self-declared care team and break-the-glass
# mandates N and R; MASQUE_PS hides from every professional but the author; an outside
# professional, and one the patient excluded, read nothing; the author (of all four)
# reads their own documents, the masked one included (R3).
EXPECTED = {
    "treating": {"normal", "restricted", "very-restricted"},
    "member": {"normal", "restricted", "very-restricted"},
    "care-team": {"normal", "restricted"},
    "break-the-glass": {"normal", "restricted"},
    "outsider": set(),
    "excluded": set(),
    "author": ALL,
}


def _pam(trigger: str, control: str, zfa11: str = "", zfa9: str = "") -> str:
    return pam(IPP, "300001", "ACCESSIBLE^CLAIRE", control, trigger, zfa9=zfa9, zfa11=zfa11)


_source = assertions


PRINCIPALS: dict[str, tuple[tuple[str, str, list[str]], str]] = {
    "treating": (TREATING, "normal"),
    "member": (MEMBER, "normal"),
    "care-team": (CARE_TEAM, "normal"),
    "break-the-glass": (BREAK_GLASS, "bris_de_glace"),
    "outsider": (OUTSIDER, "normal"),
    "excluded": (EXCLUDED, "normal"),
    "author": (AUTHOR, "normal"),
}


class World:
    def __init__(self, hub: HubProcess, signer: Signer) -> None:
        self.hub = hub
        self.signer = signer
        self.unique_ids: dict[str, str] = {}

    def coordination(self, caller: tuple[str, str, list[str]], purpose: str = "normal") -> object:
        return coordination_service(self.hub, self.signer, caller, purpose)

    def xds(self, name: str) -> XdsClient:
        caller, purpose = PRINCIPALS[name]
        return XdsClient(self.hub.session(), self.hub.https_url, _source(self.signer, caller, purpose))

    def found(self, name: str) -> set[str]:
        answer = self.xds(name).stored_query(
            c.FIND_DOCUMENTS,
            {"$XDSDocumentEntryPatientId": quoted(PATIENT), "$XDSDocumentEntryStatus": quoted_list(c.STATUS_APPROVED)},
        )
        assert answer.registry_status == c.RESPONSE_SUCCESS, answer.errors
        ids = {e.get("value", "") for e in answer.body.iter(f"{{{c.RIM}}}ExternalIdentifier")
               if e.get("identificationScheme") == c.XDSDocumentEntry_uniqueId}
        return {label for label, unique_id in self.unique_ids.items() if unique_id in ids}

    def retrieved(self, name: str) -> set[str]:
        repository = self.repository
        _answer, contents = self.xds(name).retrieve([(repository, u) for u in self.unique_ids.values()], mtom_=False)
        return {label for label, unique_id in self.unique_ids.items() if unique_id in contents}

    def pdqm(self, name: str) -> bool:
        caller, purpose = PRINCIPALS[name]
        token = base64.urlsafe_b64encode(etree.tostring(_source(self.signer, caller, purpose)())).decode().rstrip("=")
        response = self.hub.session().get(f"{self.hub.https_url}/fhir/Patient?family=ACCESSIBLE",
                                          headers={"Authorization": f"SAML {token}"}, timeout=30)
        assert response.status_code == 200, response.text
        return bool(response.json().get("entry"))

    def pdq_v2(self) -> bool:
        query = ("MSH|^~\\&|CONSUMER|CH|TSNHUB|PFT|20250318161000||QBP^Q22^QBP_Q21|Q-{n}|P|2.5\r"
                 "QPD|IHE PDQ Query|TAG{n}|@PID.5.1.1^ACCESSIBLE\rRCP|I|10^RD\r")
        self.queries = getattr(self, "queries", 0) + 1
        answer = self.hub.mllp(query.format(n=self.queries)).decode()
        assert "MSA|AA" in answer, answer
        return "\rPID|" in answer

    def pix_v2(self) -> bool:
        """ITI-9 from an MLLP sender: True when the patient is known to the caller (AA; a
        withheld patient is answered AE, unknown identifier, as one that does not exist)."""
        query = ("MSH|^~\\&|CONSUMER|CH|TSNHUB|PFT|20250318161000||QBP^Q23^QBP_Q21|X-{n}|P|2.5\r"
                 f"QPD|IHE PIX Query|PIX{{n}}|300001^^^CH-IPP&{IPP}&ISO^PI\rRCP|I\r")
        self.queries = getattr(self, "queries", 0) + 1
        answer = self.hub.mllp(query.format(n=self.queries)).decode()
        assert "MSA|AA" in answer or "ERR|" in answer, answer
        return "MSA|AA" in answer

    @property
    def repository(self) -> str:
        return "1.2.250.1.213.1.999.1"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, pki: Path, signer: Signer) -> Iterator[World]:
    hub = coordination_hub(tmp_path_factory.mktemp("access"), pki, IPP, COORDINATORS, {"300001": "ACCESSIBLE^CLAIRE"},
                           '[cda]\nsubmission_gate = "off"\n[server]\nmllp_open = true\n')
    w = World(hub, signer)
    try:
        coordinator = w.coordination(COORDINATOR)
        coordinator.Enrol(patientId=PATIENT, pathway="PTA", consent=True,  # type: ignore[attr-defined]
                          consentDate=datetime.now(timezone.utc) - timedelta(days=1))
        coordinator.AddCareCircleMember(patientId=PATIENT, professionalId=TREATING[0], structureId=None, role="PCP")  # type: ignore[attr-defined]
        for member in (MEMBER, EXCLUDED):
            coordinator.AddCareCircleMember(patientId=PATIENT, professionalId=member[0], structureId=None, role="ONESCP")  # type: ignore[attr-defined]
        coordinator.SetOpposition(patientId=PATIENT, scope="professional", professionalId=EXCLUDED[0])  # type: ignore[attr-defined]
        w.coordination(CARE_TEAM).DeclareMandate(patientId=PATIENT, kind="care-team", reason=None, patientCode=None)  # type: ignore[attr-defined]
        w.coordination(BREAK_GLASS).DeclareMandate(  # type: ignore[attr-defined]
            patientId=PATIENT, kind="break-the-glass", reason="détresse respiratoire", patientCode=None)
        documents = []
        for label, codes in DOCUMENTS.items():
            spec = DocumentSpec(content=label.encode(), confidentiality_codes=codes, title=label,
                                author_person=f"{AUTHOR[0]}^AUTEUR^Anne^^^^^^&1.2.250.1.71.4.2.1&ISO")
            documents.append(spec)
            w.unique_ids[label] = spec.unique_id
        answer = w.xds("author").provide_and_register(submit_objects_request(PATIENT, documents=documents), documents)
        assert (answer.registry_status, answer.errors) == (c.RESPONSE_SUCCESS, [])
        yield w
    finally:
        hub.stop()


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_principal_reads_what_the_rule_table_says(world: World, name: str) -> None:
    assert world.found(name) == EXPECTED[name]
    assert world.retrieved(name) == EXPECTED[name]
    # The patient is neither protected nor opposing: identity queries are open (R7),
    # except to the professional the patient excluded (R1-opposition-professional).
    assert world.pdqm(name) is (name != "excluded")


def test_an_assertion_about_another_patient_reads_nothing(world: World) -> None:
    other = XdsClient(world.hub.session(), world.hub.https_url,
                      _source(world.signer, TREATING, patient=f"399999^^^&{IPP}&ISO"))
    answer, contents = other.retrieve([(world.repository, u) for u in world.unique_ids.values()], mtom_=False)
    assert contents == {}


def test_break_the_glass_is_audited_and_recorded(world: World) -> None:
    assert world.found("break-the-glass") == EXPECTED["break-the-glass"]
    engine = sqlalchemy.create_engine(world.hub.db_url)
    try:
        with engine.connect() as connection:
            events = connection.execute(sqlalchemy.text(
                "SELECT COUNT(*) FROM coordination_event WHERE event_type = 'BTG' AND patient_id = :p"), {"p": PATIENT}).scalar_one()
            details = [row[0] for row in connection.execute(sqlalchemy.text(
                "SELECT detail FROM audit_record WHERE \"transaction\" = 'ITI-18' AND detail LIKE 'access BREAK-THE-GLASS%'"))]
    finally:
        engine.dispose()
    assert events >= 1
    assert details and "R6-break-the-glass" in details[-1]


def test_the_operator_export_is_allowed_and_audited(world: World, tmp_path: Path) -> None:
    out = tmp_path / "export.zip"
    result = subprocess.run(
        tsnhub_command() + ["xdm", "export", "--db", world.hub.db_url, "--patient", PATIENT, "--out", str(out)],
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "4 document(s)" in result.stdout
    engine = sqlalchemy.create_engine(world.hub.db_url)
    try:
        with engine.connect() as connection:
            detail = connection.execute(sqlalchemy.text(
                "SELECT detail FROM audit_record WHERE \"transaction\" = 'XDM-Export' ORDER BY id DESC")).scalar()
    finally:
        engine.dispose()
    assert detail and "allow:R0-operator-export=4" in detail


def _every_path(world: World) -> dict[str, object]:
    return {
        "ITI-18 treating": world.found("treating"),
        "ITI-43 treating": world.retrieved("treating"),
        "ITI-18 care-team": world.found("care-team"),
        "ITI-43 author": world.retrieved("author"),
        "PDQm outsider": world.pdqm("outsider"),
        "PDQm member": world.pdqm("member"),
        "PDQ v2 sender": world.pdq_v2(),
        "PIX v2 sender": world.pix_v2(),
    }


OPEN = {
    "ITI-18 treating": EXPECTED["treating"], "ITI-43 treating": EXPECTED["treating"],
    "ITI-18 care-team": EXPECTED["care-team"], "ITI-43 author": EXPECTED["author"],
    "PDQm outsider": True, "PDQm member": True, "PDQ v2 sender": True, "PIX v2 sender": True,
}
# A consultation opposition: nobody but the author reads the documents (R1), and the
# patient is withheld from identity queries of callers with no relationship (R7).
OPPOSED = {
    "ITI-18 treating": set(), "ITI-43 treating": set(), "ITI-18 care-team": set(), "ITI-43 author": EXPECTED["author"],
    "PDQm outsider": False, "PDQm member": True, "PDQ v2 sender": False, "PIX v2 sender": False,
}


def test_an_opposition_through_coordination_holds_at_once_on_every_path(world: World) -> None:
    assert _every_path(world) == OPEN
    member = world.coordination(MEMBER)
    assert member.SetOpposition(patientId=PATIENT, scope="consultation", professionalId=None) == "consultation"  # type: ignore[attr-defined]
    assert _every_path(world) == OPPOSED
    assert member.WithdrawOpposition(patientId=PATIENT, scope="consultation", professionalId=None) == "none"  # type: ignore[attr-defined]
    assert _every_path(world) == OPEN


def test_an_opposition_through_pam_fr_zfa_holds_at_once_on_every_path(world: World) -> None:
    assert _every_path(world) == OPEN
    assert b"MSA|AA" in world.hub.mllp(_pam("A31", "ACC-INC", zfa11="INC"))
    assert _every_path(world) == OPPOSED
    assert b"MSA|AA" in world.hub.mllp(_pam("A31", "ACC-IC", zfa11="IC"))
    assert _every_path(world) == OPEN


def test_a_feeding_opposition_refuses_submissions_naming_the_rule(world: World) -> None:
    def submit() -> tuple[str, list[tuple[str, str]], str]:
        document = DocumentSpec(content=b"feeding", author_person=f"{AUTHOR[0]}^AUTEUR^Anne^^^^^^&1.2.250.1.71.4.2.1&ISO")
        answer = world.xds("treating").provide_and_register(submit_objects_request(PATIENT, documents=[document]), [document])
        contexts = " ".join(e.get("codeContext", "") for e in answer.body.iter(f"{{{c.RS}}}RegistryError"))
        return answer.registry_status, answer.errors, contexts

    assert b"MSA|AA" in world.hub.mllp(_pam("A31", "ACC-IO", zfa9="IO"))
    before = len(world.found("treating"))
    status, errors, contexts = submit()
    assert status == c.RESPONSE_FAILURE and [code for code, _ in errors] == [c.XDSRepositoryError]
    assert "R1-opposition-feeding" in contexts
    assert len(world.found("treating")) == before
    assert b"MSA|AA" in world.hub.mllp(_pam("A31", "ACC-INO", zfa9="INO"))
    assert submit()[:2] == (c.RESPONSE_SUCCESS, [])
