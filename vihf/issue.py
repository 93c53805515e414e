"""Issuing VIHF 3.0 assertions for test software, conformance simulators and the test
suite (`tsnhub vihf issue`).

`issue(signer, ...)` builds a conformant assertion (spec §2, §4) and signs it;
`sign(assertion, signer)` signs any assertion template. The signature follows spec §5.1:
enveloped, placed right after `Issuer`, `Reference URI="#ID"`, transforms
enveloped-signature + exclusive c14n with `InclusiveNamespaces PrefixList="ds saml #default
xsi"`, RSA-SHA256, SHA-256, `KeyInfo/X509Data/X509Certificate`. xmlsec signs: signxml
cannot place `InclusiveNamespaces` inside the Reference transform, where the ANS samples
put it. Keys are passed as loaded objects; `Signer.load` reads PEM files.
"""
from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import xmlsec
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from lxml import etree

from hub.wire import xmlsafe
from vihf import names
from vihf.principal import Code, PatientId, Software

_S = f"{{{names.SAML}}}"
_SIGNATURE = f"{{{names.DS}}}Signature"


@dataclass(frozen=True)
class Signer:
    """A signing key and its certificate (the structure's organisation certificate)."""

    key: rsa.RSAPrivateKey
    certificate: x509.Certificate
    _xmlsec_key: xmlsec.Key = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        pem = self.key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        key = xmlsec.Key.from_memory(pem, xmlsec.KeyFormat.PEM, None)
        key.load_cert_from_memory(self.certificate.public_bytes(serialization.Encoding.PEM), xmlsec.KeyFormat.CERT_PEM)
        object.__setattr__(self, "_xmlsec_key", key)

    @classmethod
    def load(cls, key_path: Path, certificate_path: Path) -> Signer:
        key = serialization.load_pem_private_key(Path(key_path).read_bytes(), password=None)
        if not isinstance(key, rsa.RSAPrivateKey):
            raise ValueError("the VIHF signing key must be an RSA key")
        return cls(key, x509.load_pem_x509_certificate(Path(certificate_path).read_bytes()))

    @property
    def issuer_dn(self) -> str:
        """The certificate subject as RFC 4514 text, the `Issuer` of the assertion."""
        return self.certificate.subject.rfc4514_string()


def role_code(value: str, first: Code | None = None) -> Code:
    """A role value from `CODE` or `CODE^OID`. Without OID the code system follows spec
    §4.1: A00 for non-PS producers, G15 for professions, then R01 (médecin) or G05
    (pharmacien) for the second value."""
    code, _, system = value.partition("^")
    code = code.strip()
    if system:
        return Code(code, system.strip())
    if first is None:
        if code in names.TRE_A00_CODES:
            return Code(code, names.TRE_A00_PRODUCTEUR_DOC_NON_PS)
        return Code(code, names.TRE_G15_PROFESSION_SANTE)
    if first.code_system == names.TRE_G15_PROFESSION_SANTE and first.code in names.SECOND_ROLE_REQUIRED:
        return Code(code, names.SECOND_ROLE_REQUIRED[first.code])
    raise ValueError(f"give the code system of role {code!r} as CODE^OID")


def roles_from(values: Sequence[str]) -> tuple[Code, ...]:
    """Role values (1 to 4) from `CODE` / `CODE^OID` strings."""
    roles: list[Code] = []
    for value in values:
        roles.append(role_code(value, roles[0] if roles else None))
    return tuple(roles)


def sector_code(value: str) -> str:
    """`SA07` or `SA07^1.2.250.1.71.4.2.4` -> the `code^OID` form of Secteur_Activite."""
    return value if "^" in value else f"{value}^{names.TRE_R02_SECTEUR_ACTIVITE}"


def patient_cx(value: str, assigning_authority: str = names.INS_NIR_TEST) -> str:
    """An INS or a CX string -> the CX form of resource-id (`INS^^^&OID&ISO^NH`)."""
    if "^" in value:
        return PatientId.parse(value).cx()
    return PatientId(value.strip(), assigning_authority, "NH").cx()


def _instant(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _attribute(statement: etree._Element, name: str, value: str | None) -> None:
    if value is None:
        return
    attribute = etree.SubElement(statement, f"{_S}Attribute", Name=name)
    etree.SubElement(attribute, f"{_S}AttributeValue").text = value


def coded_attribute(statement: etree._Element, name: str, element: str, codes: Sequence[Code]) -> None:
    """A VIHF attribute of coded values (Role, PurposeOfUse): one AttributeValue each,
    holding an HL7 v3 CE element."""
    attribute = etree.SubElement(statement, f"{_S}Attribute", Name=name)
    for code in codes:
        value = etree.SubElement(attribute, f"{_S}AttributeValue")
        ce = etree.SubElement(value, f"{{{names.HL7V3}}}{element}", nsmap={None: names.HL7V3})
        ce.set(f"{{{names.XSI}}}type", "CE")
        ce.set("code", code.code)
        ce.set("codeSystem", code.code_system)
        if code.code_system_name:
            ce.set("codeSystemName", code.code_system_name)
        if code.display_name:
            ce.set("displayName", code.display_name)


def build(
    *,
    issuer: str,
    subject_id: str,
    subject_name: str,
    roles: Sequence[Code],
    structure_id: str,
    sector: str,
    patient: str | None = None,
    purpose: str = names.NORMAL,
    break_the_glass_reason: str | None = None,
    authentication_mode: str = names.INDIRECTE,
    authn_context: str = names.AC_UNSPECIFIED,
    resource_urn: str = "urn:dmp",
    software: Software = Software("tsnhub", "0.1.0", None, None),
    vihf_version: str = names.DEFAULT_VIHF_VERSION,
    ttl: int = 300,
    now: datetime | None = None,
    assertion_id: str | None = None,
) -> etree._Element:
    """An unsigned VIHF assertion in SAML 2.0 schema order (spec §2 skeleton)."""
    if not roles:
        raise ValueError("at least one role value is required")
    if len(roles) > 4:
        raise ValueError("at most four role values")
    first = roles[0]
    if first.code_system == names.TRE_G15_PROFESSION_SANTE and first.code in names.SECOND_ROLE_REQUIRED and len(roles) < 2:
        raise ValueError(f"role {first.code} needs a second role value (specialty or CNOP section)")
    if purpose.lower() not in names.PURPOSES:
        raise ValueError(f"purpose of use must be one of {', '.join(names.PURPOSES)}")
    if authentication_mode not in names.AUTHENTICATION_MODES:
        raise ValueError(f"authentication mode must be one of {', '.join(names.AUTHENTICATION_MODES)}")
    if ttl <= 0:
        raise ValueError("the lifetime must be positive")
    now = now or datetime.now(timezone.utc)
    assertion = etree.Element(f"{_S}Assertion", nsmap={"saml2": names.SAML, "xsi": names.XSI})
    assertion.set("ID", assertion_id or f"_{uuid.uuid4()}")
    assertion.set("IssueInstant", _instant(now))
    assertion.set("Version", names.SAML_VERSION)
    etree.SubElement(assertion, f"{_S}Issuer", Format=names.NAMEID_X509_SUBJECT).text = issuer
    subject = etree.SubElement(assertion, f"{_S}Subject")
    etree.SubElement(subject, f"{_S}NameID").text = subject_id
    etree.SubElement(
        assertion, f"{_S}Conditions", NotBefore=_instant(now), NotOnOrAfter=_instant(now + timedelta(seconds=ttl))
    )
    authn = etree.SubElement(assertion, f"{_S}AuthnStatement", AuthnInstant=_instant(now))
    context = etree.SubElement(authn, f"{_S}AuthnContext")
    etree.SubElement(context, f"{_S}AuthnContextClassRef").text = authn_context
    statement = etree.SubElement(assertion, f"{_S}AttributeStatement")
    _attribute(statement, names.VIHF_VERSION, vihf_version)
    _attribute(statement, names.SUBJECT_ID, subject_name)
    coded_attribute(statement, names.SUBJECT_ROLE, "Role", roles)
    _attribute(statement, names.SECTEUR_ACTIVITE, sector_code(sector))
    _attribute(statement, names.IDENTIFIANT_STRUCTURE, structure_id)
    _attribute(statement, names.AUTHENTIFICATION_MODE, authentication_mode)
    _attribute(statement, names.RESOURCE_ID, patient_cx(patient) if patient else None)
    _attribute(statement, names.RESSOURCE_URN, resource_urn)
    code = purpose.lower()
    coded_attribute(
        statement,
        names.PURPOSE_OF_USE,
        "PurposeOfUse",
        [Code(code, names.JDV_J38_MODE_ACCES_CISIS, names.PURPOSE_DISPLAY[code], "mode acces VIHF 1.0")],
    )
    _attribute(statement, names.MODE_ACCES_RAISON, break_the_glass_reason)
    _attribute(statement, names.LPS_NOM, software.name)
    _attribute(statement, names.LPS_VERSION, software.version)
    _attribute(statement, names.LPS_ID, software.instance_id)
    _attribute(statement, names.LPS_ID_HOMOLOGATION_DMP, software.registration_id)
    return assertion


def sign(assertion: etree._Element, signer: Signer, *, sha1: bool = False) -> etree._Element:
    """Sign `assertion` (enveloped, right after `Issuer`) and return the signed assertion
    as a new tree. An existing signature is replaced. `sha1` produces the legacy
    RSA-SHA1/SHA-1 form."""
    for old in assertion.findall(_SIGNATURE):
        assertion.remove(old)
    method = xmlsec.Transform.RSA_SHA1 if sha1 else xmlsec.Transform.RSA_SHA256
    digest = xmlsec.Transform.SHA1 if sha1 else xmlsec.Transform.SHA256
    signature = xmlsec.template.create(assertion, xmlsec.Transform.EXCL_C14N, method, ns="ds")
    issuer = assertion.find(f"{_S}Issuer")
    if issuer is None:
        raise ValueError("the assertion has no Issuer")
    issuer.addnext(signature)
    reference = xmlsec.template.add_reference(signature, digest, uri=f"#{assertion.get('ID')}")
    xmlsec.template.add_transform(reference, xmlsec.Transform.ENVELOPED)
    c14n = xmlsec.template.add_transform(reference, xmlsec.Transform.EXCL_C14N)
    xmlsec.template.transform_add_c14n_inclusive_namespaces(c14n, " ".join(names.INCLUSIVE_PREFIXES))
    key_info = xmlsec.template.ensure_key_info(signature)
    xmlsec.template.add_x509_data(key_info)
    context = xmlsec.SignatureContext()
    context.register_id(assertion, "ID")
    context.key = signer._xmlsec_key
    context.sign(signature)
    # Nodes made by xmlsec's template functions are invisible to lxml's find() (their
    # names are not in the document dictionary): hand back a clean tree.
    return xmlsafe.parse_own(etree.tostring(assertion))


def issue(signer: Signer, *, roles: Sequence[Code] | Sequence[str], **fields: Any) -> etree._Element:
    """A signed VIHF 3.0 assertion whose `Issuer` is the signer's certificate subject.
    `roles` are Code values or `CODE` / `CODE^OID` strings; the other keyword arguments
    are those of `build` (`subject_id`, `subject_name`, `structure_id` and `sector`
    required)."""
    if all(isinstance(role, Code) for role in roles):
        role_values: tuple[Code, ...] = tuple(role for role in roles if isinstance(role, Code))
    else:
        role_values = roles_from([str(role) for role in roles])
    return sign(build(issuer=signer.issuer_dn, roles=role_values, **fields), signer)
