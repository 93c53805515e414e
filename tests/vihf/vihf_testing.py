"""Helpers of the VIHF tests: where the assertion templates come from, what each source
says about its people, composed templates brought up to date, attribute lookup.

Two sources give templates of the same names (the VIHF tests parametrise over them, see
conftest.py): `project`, the assertions `conformance.vihf_samples` composes in code
(always), and `corpus`, the shared composed templates `composed/vihf/*.xml` of the
third-party corpus (interoperability layer, only when the corpus is present).
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import pytest
from lxml import etree

from conformance import vihf_samples
from vihf import names

S = f"{{{names.SAML}}}"
TEMPLATES = ("vihf-gp-cps-directe", "vihf-hospital-indirecte-nurse", "vihf-break-the-glass", "vihf-automate")
# Negative templates and the mandatory attribute each one lacks.
INVALID = {"invalid-missing-vihf-version": names.VIHF_VERSION, "invalid-missing-subject-id": names.SUBJECT_ID}
SOURCES = ["project", pytest.param("corpus", marks=pytest.mark.corpus)]

# Values that are in no template of either source: what a forger writes in.
OTHER_NAME_ID = vihf_samples.REGULATOR.idnat_ps
OTHER_STRUCTURE = "1" + vihf_samples.finess("000901")
OTHER_ISSUER = "CN=CH COMBE-SAUVE AUTRE CACHET,OU=1990009014,O=CENTRE HOSPITALIER,C=FR"


@dataclass(frozen=True)
class Facts:
    """What a template source says about the people of its templates."""

    gp_name_id: str
    gp_subject_name: str
    gp_structure: str
    gp_sector: str
    gp_patient: str  # INS, under the INS test OID
    gp_software: str
    gp_registration: str
    nurse_name_id: str
    automate_name_id: str
    automate_subject_name: str
    btg_patient: str  # INS of the break-the-glass template
    other_patient: str  # INS of a patient who is not the GP template's

    def cx(self, ins: str, oid: str = names.INS_NIR_TEST) -> str:
        """A CX patient identifier (without type code) as a request carries it."""
        return f"{ins}^^^&{oid}&ISO"

    @property
    def gp_audit_who(self) -> str:
        return f"RPPS {self.gp_name_id} (structure {self.gp_structure})"


PROJECT_FACTS = Facts(
    gp_name_id=vihf_samples.GP_CPS_DIRECTE.name_id,
    gp_subject_name=vihf_samples.GP_CPS_DIRECTE.subject_id,
    gp_structure=vihf_samples.PRACTICE.idnat,
    gp_sector=vihf_samples.PRACTICE.sector_value,
    gp_patient=vihf_samples.PELLEGRIN.ins,
    gp_software=vihf_samples.PRACTICE_SOFTWARE.name or "",
    gp_registration=vihf_samples.PRACTICE_SOFTWARE.registration_id or "",
    nurse_name_id=vihf_samples.HOSPITAL_NURSE_INDIRECTE.name_id,
    automate_name_id=vihf_samples.AUTOMATED_SYSTEM.name_id,
    automate_subject_name=vihf_samples.AUTOMATED_SYSTEM.subject_id,
    btg_patient=vihf_samples.SANTUCCI.ins,
    other_patient=vihf_samples.KERAVEC.ins,
)

# composed/README.md of the shared corpus: the people of composed/vihf/*.xml.
CORPUS_FACTS = Facts(
    gp_name_id="899900012347",
    gp_subject_name="MASSERAN, Aurélien, Médecine générale",
    gp_structure="49990001234701",
    gp_sector="SA07^1.2.250.1.71.4.2.4",
    gp_patient="287043523811712",
    gp_software="LGC-TEST-MEDECINE-GENERALE",
    gp_registration="TEST-HOMOLOG-0001",
    nurse_name_id="899900042344",
    automate_name_id="899900032345",
    automate_subject_name="PASSERELLE-SIL-TEST, Moteur d'intégration 4, Laboratoire",
    btg_patient="292082A00421309",
    other_patient="179114410905287",
)
FACTS = {"project": PROJECT_FACTS, "corpus": CORPUS_FACTS}


def _instant(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def refresh(assertion: etree._Element, issuer: str, now: datetime | None = None) -> etree._Element:
    """composed/README.md: fresh ID; IssueInstant = NotBefore = now, NotOnOrAfter = +5 min,
    AuthnInstant = -14 min 48 s; Issuer = subject DN of the signing certificate."""
    now = now or datetime.now(timezone.utc)
    assertion.set("ID", f"_{uuid.uuid4()}")
    assertion.set("IssueInstant", _instant(now))
    conditions = assertion.find(f"{S}Conditions")
    if conditions is not None:
        conditions.set("NotBefore", _instant(now))
        conditions.set("NotOnOrAfter", _instant(now + timedelta(minutes=5)))
    authn = assertion.find(f"{S}AuthnStatement")
    if authn is not None:
        authn.set("AuthnInstant", _instant(now - timedelta(minutes=14, seconds=48)))
    issuer_element = assertion.find(f"{S}Issuer")
    assert issuer_element is not None
    issuer_element.text = issuer
    return assertion


def attribute(assertion: etree._Element, name: str) -> etree._Element:
    """The saml2:Attribute named `name`."""
    for element in assertion.iter(f"{S}Attribute"):
        if element.get("Name") == name:
            return element
    raise KeyError(name)


def request_header(assertion: etree._Element | None, security: etree._Element | None = None) -> etree._Element:
    """The SOAP header of a request carrying `assertion` (or the given `wsse:Security`),
    serialised and parsed back as the hub receives it."""
    from hub.wire import soap, xmlsafe
    from vihf import wsse

    body = etree.Element("{urn:tsnhub:vihf}WhoAmI")
    data = wsse.envelope("urn:tsnhub:vihf:WhoAmI", body, assertion)
    if security is not None:
        root = xmlsafe.parse(data)
        header = root.find(f"{{{soap.SOAP12}}}Header")
        header.append(security)
        data = etree.tostring(root)
    header = xmlsafe.parse(data).find(f"{{{soap.SOAP12}}}Header")
    assert header is not None
    return header
