"""Content rules of a VIHF assertion (spec §2, §4, §6 step 8): mandatory attributes and
their code systems, accepted VIHF versions. Every failure is `wsse:InvalidSecurityToken`.
"""
from __future__ import annotations

import re
from collections.abc import Collection

from lxml import etree

from vihf import faults, names
from vihf.parse import attributes, text
from vihf.principal import Principal

_SECTOR = re.compile(r"^SA\d{2}$")
_ISSUER = f"{{{names.SAML}}}Issuer"


def check(assertion: etree._Element, principal: Principal, accepted_versions: Collection[str]) -> None:
    """Raise `InvalidSecurityToken` unless the assertion carries what the VIHF profile
    requires, with codes from the right code systems."""
    if assertion.get("Version") != names.SAML_VERSION:
        raise faults.invalid_token("Assertion/@Version must be 2.0")
    issuer = assertion.find(_ISSUER)
    if issuer is None or not principal.issuer:
        raise faults.invalid_token("saml2:Issuer is missing")
    if issuer.get("Format", names.NAMEID_X509_SUBJECT) != names.NAMEID_X509_SUBJECT:
        raise faults.invalid_token("Issuer/@Format must be X509SubjectName")
    if principal.issue_instant is None:
        raise faults.invalid_token("Assertion/@IssueInstant is missing")
    if principal.authn_context is None:
        raise faults.invalid_token("AuthnStatement/AuthnContext/AuthnContextClassRef is missing")

    found = attributes(assertion)
    for name in names.MANDATORY_ATTRIBUTES:
        values = found.get(name)
        if not values or not any(text(v) or len(v) for v in values):
            raise faults.invalid_token(f"mandatory attribute {name} is missing or empty")

    if principal.vihf_version not in accepted_versions:
        raise faults.invalid_token(f"{names.VIHF_VERSION} is not an accepted version")

    roles = principal.roles
    if len(roles) > 4:
        raise faults.invalid_token(f"{names.SUBJECT_ROLE} has more than four values")
    first = roles[0]
    if first.code_system not in names.FIRST_ROLE_CODE_SYSTEMS:
        raise faults.invalid_token(f"first {names.SUBJECT_ROLE} value is not from TRE_G15, TRE_G16 or TRE_A00")
    if first.code_system == names.TRE_G15_PROFESSION_SANTE and first.code in names.SECOND_ROLE_REQUIRED:
        expected = names.SECOND_ROLE_REQUIRED[first.code]
        if len(roles) < 2 or roles[1].code_system != expected:
            raise faults.invalid_token(
                f"{names.SUBJECT_ROLE}: profession {first.code} requires a second value from {expected}"
            )

    sector = principal.sector
    if sector is None or not _SECTOR.match(sector.code) or sector.code_system != names.TRE_R02_SECTEUR_ACTIVITE:
        raise faults.invalid_token(f"{names.SECTEUR_ACTIVITE} must be SAnn^{names.TRE_R02_SECTEUR_ACTIVITE}")

    if principal.authentication_mode not in names.AUTHENTICATION_MODES:
        raise faults.invalid_token(f"{names.AUTHENTIFICATION_MODE} is not DIRECTE, INDIRECTE or INDIRECTE_RENFORCEE")

    purpose = principal.purpose_of_use
    if purpose is None or purpose.code.lower() not in names.PURPOSES or purpose.code_system not in names.PURPOSE_CODE_SYSTEMS:
        raise faults.invalid_token(f"{names.PURPOSE_OF_USE} is not a TRE_R248 access mode")

    if principal.patient is not None and not principal.patient.is_ins:
        raise faults.invalid_token(f"{names.RESOURCE_ID} is not identified by an INS assigning authority")
