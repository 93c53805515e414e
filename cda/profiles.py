"""Validation profiles and their detection from the document's templateIds.

Profiles a caller may ask for (INTERFACES.md): `auto`, `cda`, `xd-lab`, `ci-sis`.
Each resolves to an ordered list of rule sets:

- `cda`: CDA R2 rules beyond the schema;
- `xd-lab`: `cda` + IHE XD-LAB;
- `ci-sis`: `cda` + CI-SIS minimal-structure header + the CI-SIS content profiles the
  document declares (CR-BIO with XD-LAB, VAC, XDS-SD);
- `auto`: `ci-sis` when the document declares an HL7 France / CI-SIS template, else
  `xd-lab` when it declares XD-LAB, else `cda` (plus XDS-SD when declared).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from cda.document import CdaDocument
from cda.oids import (
    CISIS_CR_BIO,
    CISIS_PREFIX,
    CISIS_VAC_CARNET,
    CISIS_VAC_NOTE,
    HL7_FRANCE_HEADER,
    IHE_IMMUNIZATION_CONTENT,
    XD_LAB_REPORT,
    XDS_SD,
)
from cda.rules import Emitter, cdar2, cisis_header, crbio, vac, xdlab, xdssd

PROFILES = ("auto", "cda", "xd-lab", "ci-sis")


class UnknownProfile(ValueError):
    """A profile name outside PROFILES."""


@dataclass(frozen=True)
class RuleSet:
    name: str
    check: Callable[[CdaDocument, Emitter], None]


CDA_R2 = RuleSet("cda-r2", cdar2.check)
CISIS_HEADER = RuleSet("ci-sis-header", cisis_header.check)
XD_LAB = RuleSet("xd-lab", xdlab.check)
CR_BIO = RuleSet("cr-bio", crbio.check)
VAC = RuleSet("vac", vac.check)
XDS_SD_RULES = RuleSet("xds-sd", xdssd.check)


def is_cisis(templates: set[str]) -> bool:
    """HL7 France header or any CI-SIS document template (1.2.250.1.213.1.1.1.x)."""
    return HL7_FRANCE_HEADER in templates or any(t.startswith(CISIS_PREFIX + "1.") for t in templates)


def _cisis_content(templates: set[str]) -> list[RuleSet]:
    sets: list[RuleSet] = []
    if CISIS_CR_BIO in templates or XD_LAB_REPORT in templates:
        sets.append(XD_LAB)
    if CISIS_CR_BIO in templates:
        sets.append(CR_BIO)
    if CISIS_VAC_CARNET in templates or CISIS_VAC_NOTE in templates or IHE_IMMUNIZATION_CONTENT in templates:
        sets.append(VAC)
    if XDS_SD in templates:
        sets.append(XDS_SD_RULES)
    return sets


def resolve(profile: str, document: CdaDocument) -> tuple[str, list[RuleSet]]:
    """(the profile applied, its rule sets) for `document` under the requested `profile`."""
    if profile not in PROFILES:
        raise UnknownProfile(f"unknown profile {profile!r}: one of {', '.join(PROFILES)}")
    templates = document.template_ids() if document.is_clinical_document else set()
    if profile == "auto":
        if is_cisis(templates):
            profile = "ci-sis"
        elif XD_LAB_REPORT in templates:
            profile = "xd-lab"
        else:
            profile = "cda"
    if profile == "cda":
        return profile, [CDA_R2] + ([XDS_SD_RULES] if XDS_SD in templates else [])
    if profile == "xd-lab":
        return profile, [CDA_R2, XD_LAB]
    return profile, [CDA_R2, CISIS_HEADER, *_cisis_content(templates)]
