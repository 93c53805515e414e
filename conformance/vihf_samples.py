"""VIHF assertions composed in code: the professionals and situations a hub meets (a GP
with a CPS card in direct mode, a hospital nurse vouched for by the structure, a
break-the-glass access, an automated system, AIR and Centre 15 accesses) and negative
variants that each break one rule, for the test suite, the conformance tools and people
testing a VIHF consumer.

The assertions follow the ANS CI-SIS VIHF profile (versions 3.0 and 4.0) as digested in
spec/vihf.md: SAML 2.0 skeleton in schema order (§2), `Issuer` in X509SubjectName format
holding the subject DN of the structure's seal certificate (§3.2), NameID = IdNat_PS of
the user or, for an automated processing, of the person responsible for it (§3.1),
authentication context class consistent with the local login (§3.3), the attributes of
§4 with their exact names (taken from `vihf.names`), coded values (`Role`,
`PurposeOfUse`) as HL7 v3 CE elements with `xsi:type="CE"`, simple values as plain text.
They are composed UNSIGNED: `issue()` signs one with a `vihf.issue.Signer`, whose
certificate subject then becomes the `Issuer`.

Everything is synthetic: the people and organisations are invented; RPPS numbers are in
an invented `999...` range with a Luhn key, and the NameID is `8` + RPPS; structures are
identified by IdNat_Struct `1` + a FINESS of department `99` (which does not exist, with
its Luhn key) or `4` + the RPPS of a practice holder + a 2-digit rank; every INS is a NIR
whose key is 97 - (base mod 97) (Corsica 2A/2B read as 19/18), sent under the INS *test*
OID 1.2.250.1.213.1.4.10; software instance ids (`LPS_ID`) are under the ITU-T example
arc `2.999`; the town "Combe-Sauve" (department 99) does not exist.

    from conformance import vihf_samples
    unsigned = vihf_samples.GP_CPS_DIRECTE.compose()
    signed = vihf_samples.issue("vihf-hospital-indirecte-nurse", signer)

`python -m conformance.vihf_samples --list` lists the samples; `python -m
conformance.vihf_samples NAME [--key K --cert C]` prints one (signed when given a key).
"""
from __future__ import annotations

import argparse
import sys
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING

from lxml import etree

from conformance.synthetic import finess, luhn_key, luhn_valid, nir, nir_key, rpps
from vihf import names
from vihf.issue import coded_attribute
from vihf.principal import Code, Software

if TYPE_CHECKING:
    from vihf.issue import Signer

_S = f"{{{names.SAML}}}"

# Code-system names as ANS client code sends them (spec §4.1, §4.3); validators ignore them.
PROFESSIONS = "professions"
SPECIALITES_RPPS = "specialites RPPS"
MODE_ACCES_VIHF = "mode acces VIHF 1.0"
DMP_URN = "urn:dmp"


# -- who and where ---------------------------------------------------------------------------

def profession(code: str, display: str) -> Code:
    """A first role value from TRE_G15-ProfessionSante (spec §4.1)."""
    return Code(code, names.TRE_G15_PROFESSION_SANTE, display, PROFESSIONS)


def savoir_faire(code: str, display: str) -> Code:
    """A second role value of a médecin, from TRE_R01-EnsembleSavoirFaire-CISIS (spec §4.1)."""
    return Code(code, names.TRE_R01_ENSEMBLE_SAVOIR_FAIRE, display, SPECIALITES_RPPS)


MEDECIN = profession("10", "Médecin")
INFIRMIER = profession("60", "Infirmier")
MEDECINE_GENERALE = savoir_faire("SM26", "Qualifié en médecine générale (SM)")
# A non-PS producer (TRE_A00-ProducteurDocNonPS), the first role of an automated processing.
AUTOMATE = Code("AUTOMATE", names.TRE_A00_PRODUCTEUR_DOC_NON_PS, "AUTOMATE")


@dataclass(frozen=True)
class Professional:
    """A health professional registered in the RPPS (invented)."""

    family: str
    given: str
    rpps: str
    profession: Code
    specialty: Code | None = None  # mandatory for médecins (10) and pharmaciens (21)

    @property
    def idnat_ps(self) -> str:
        """The national PS identifier, `8` + RPPS: the `Subject/NameID` (spec §3.1)."""
        return "8" + self.rpps

    @property
    def roles(self) -> tuple[Code, ...]:
        return (self.profession,) if self.specialty is None else (self.profession, self.specialty)

    def subject_id(self, service: str) -> str:
        """The subject-id attribute of a human user: "Nom, Prénom, Service" (spec §4)."""
        return f"{self.family.upper()}, {self.given}, {service}"


@dataclass(frozen=True)
class Structure:
    """A health structure (invented) and its organisation seal certificate."""

    name: str
    idnat: str  # IdNat_Struct, the Identifiant_Structure attribute
    sector: str  # TRE_R02-SecteurActivite code, e.g. SA07
    seal: str  # common name of its seal (signature) certificate
    state: str = "Combe-Sauve (99)"

    @property
    def sector_value(self) -> str:
        """Secteur_Activite as `code^OID` (spec §4)."""
        return f"{self.sector}^{names.TRE_R02_SECTEUR_ACTIVITE}"

    @property
    def issuer_dn(self) -> str:
        """Subject DN of the seal certificate, RFC 4514 order; IGC Santé organisation
        certificates carry the structure id in OU (spec §3.2)."""
        return f"CN={self.seal},OU={self.idnat},O={self.name},ST={self.state},C=FR"


@dataclass(frozen=True)
class Patient:
    """A patient with a qualified INS (invented NIR under the INS test OID)."""

    family: str
    given: str
    ins: str

    @property
    def cx(self) -> str:
        """The resource-id attribute: HL7 v2 CX `INS^^^&OID&ISO^NH` (spec §4)."""
        return f"{self.ins}^^^&{names.INS_NIR_TEST}&ISO^NH"


GP = Professional("Verdalle", "Anaïs", rpps("0041003"), MEDECIN, MEDECINE_GENERALE)
NURSE = Professional("Tréguier", "Maël", rpps("0041011"), INFIRMIER)
EMERGENCY_PHYSICIAN = Professional("Daumas-Rey", "Octave", rpps("0041029"), MEDECIN, MEDECINE_GENERALE)
REGULATOR = Professional("Lhermitte", "Sidonie", rpps("0041037"), MEDECIN, MEDECINE_GENERALE)
BIOLOGIST = Professional("Cazenave", "Hortense", rpps("0041045"), MEDECIN, MEDECINE_GENERALE)

PRACTICE = Structure("CABINET DU DR VERDALLE", "4" + GP.rpps + "01", "SA07", "CABINET DU DR VERDALLE")
HOSPITAL = Structure(
    "CENTRE HOSPITALIER DE COMBE-SAUVE", "1" + finess("000512"), "SA01", "CH COMBE-SAUVE CACHET DPI"
)
LABORATORY = Structure(
    "LABORATOIRE DE BIOLOGIE MEDICALE DES GENETS", "1" + finess("000637"), "SA25", "LBM DES GENETS CACHET"
)

PELLEGRIN = Patient("PELLEGRIN", "Louise", nir("F", "199106", "37261", "318"))
KERAVEC = Patient("KERAVEC", "Yann", nir("M", "196802", "29232", "044"))
SANTUCCI = Patient("SANTUCCI", "Ghjulia", nir("F", "198411", "2A247", "106"))

PRACTICE_SOFTWARE = Software("LGC-ESSAI-CABINET", "1.4.2", "2.999.70.1.1", "ESSAI-HOMOLOG-0042")
HOSPITAL_SOFTWARE = Software("DPI-ESSAI-COMBESAUVE", "7.1.0", "2.999.70.2.1", "ESSAI-HOMOLOG-0042")
LABORATORY_SOFTWARE = Software("PASSERELLE-ESSAI-SIL", "3.2.5", "2.999.70.3.1", "ESSAI-HOMOLOG-0042")


# -- the assertion -----------------------------------------------------------------------------

def instant(moment: datetime) -> str:
    """An xs:dateTime in UTC with milliseconds and `Z`, as the ANS samples write it."""
    moment = moment.astimezone(timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


@dataclass(frozen=True)
class VihfSample:
    """What one VIHF assertion says. `compose()` writes it as an unsigned saml2:Assertion.

    `omitted` lists attribute names left out: a sample that omits a mandatory attribute
    (`names.MANDATORY_ATTRIBUTES`) is a negative sample that a verifier must refuse with
    `wsse:InvalidSecurityToken` naming that attribute (spec §6 step 8)."""

    name: str
    description: str
    name_id: str
    subject_id: str
    roles: tuple[Code, ...]
    structure: Structure
    authentication_mode: str
    authn_context: str
    software: Software
    patient: Patient | None = None
    purpose: str = names.NORMAL
    authn_decl: str | None = None  # AuthnContextDecl: APP_BROWSER_AUTH in AIR mode (spec §2)
    resource_urn: str = DMP_URN
    vihf_version: str = names.DEFAULT_VIHF_VERSION
    lifetime: timedelta = timedelta(minutes=5)  # NotOnOrAfter - NotBefore
    omitted: frozenset[str] = field(default_factory=frozenset)

    @property
    def breaks(self) -> tuple[str, ...]:
        """The mandatory attributes this sample leaves out (empty for a positive sample)."""
        return tuple(name for name in names.MANDATORY_ATTRIBUTES if name in self.omitted)

    @property
    def valid(self) -> bool:
        """Whether a conformant verifier accepts the sample (once signed by a trusted,
        current seal certificate)."""
        return not self.breaks

    @property
    def purpose_code(self) -> Code:
        code = self.purpose.lower()
        return Code(code, names.JDV_J38_MODE_ACCES_CISIS, names.PURPOSE_DISPLAY[code], MODE_ACCES_VIHF)

    def omitting(self, attribute: str, name: str, description: str) -> VihfSample:
        """The same assertion without `attribute`."""
        return replace(self, name=name, description=description, omitted=self.omitted | {attribute})

    def attributes(self) -> list[tuple[str, str | Sequence[Code]]]:
        """The AttributeStatement in the order of the ANS mapping table (spec §4):
        (Name, text value or CE values), omitted attributes left out."""
        listed: list[tuple[str, str | Sequence[Code] | None]] = [
            (names.VIHF_VERSION, self.vihf_version),
            (names.SUBJECT_ID, self.subject_id),
            (names.SUBJECT_ROLE, self.roles),
            (names.SECTEUR_ACTIVITE, self.structure.sector_value),
            (names.IDENTIFIANT_STRUCTURE, self.structure.idnat),
            (names.AUTHENTIFICATION_MODE, self.authentication_mode),
            (names.RESOURCE_ID, self.patient.cx if self.patient else None),
            (names.RESSOURCE_URN, self.resource_urn),
            (names.PURPOSE_OF_USE, (self.purpose_code,)),
            (names.LPS_NOM, self.software.name),
            (names.LPS_VERSION, self.software.version),
            (names.LPS_ID, self.software.instance_id),
            (names.LPS_ID_HOMOLOGATION_DMP, self.software.registration_id),
        ]
        return [(name, value) for name, value in listed if value is not None and name not in self.omitted]

    def compose(
        self,
        *,
        issuer: str | None = None,
        now: datetime | None = None,
        authenticated: timedelta = timedelta(minutes=12, seconds=30),
        assertion_id: str | None = None,
        conditions: bool = True,
    ) -> etree._Element:
        """The unsigned assertion issued at `now` (default: the current time).

        `issuer`: the `Issuer` text, which must be the subject DN of the certificate that
        will sign (default: the structure's seal DN). `authenticated`: how long before
        `now` the user logged in (AuthnInstant). `conditions`: write
        `Conditions/@NotBefore` = now and `@NotOnOrAfter` = now + lifetime (optional in
        the ANS table; without them a verifier applies its maximum age)."""
        now = now or datetime.now(timezone.utc)
        assertion = etree.Element(f"{_S}Assertion", nsmap={"saml2": names.SAML, "xsi": names.XSI})
        assertion.set("ID", assertion_id or f"_{uuid.uuid4()}")
        assertion.set("IssueInstant", instant(now))
        assertion.set("Version", names.SAML_VERSION)
        etree.SubElement(assertion, f"{_S}Issuer", Format=names.NAMEID_X509_SUBJECT).text = (
            issuer if issuer is not None else self.structure.issuer_dn
        )
        subject = etree.SubElement(assertion, f"{_S}Subject")
        etree.SubElement(subject, f"{_S}NameID").text = self.name_id
        if conditions:
            etree.SubElement(
                assertion, f"{_S}Conditions", NotBefore=instant(now), NotOnOrAfter=instant(now + self.lifetime)
            )
        authn = etree.SubElement(assertion, f"{_S}AuthnStatement", AuthnInstant=instant(now - authenticated))
        context = etree.SubElement(authn, f"{_S}AuthnContext")
        etree.SubElement(context, f"{_S}AuthnContextClassRef").text = self.authn_context
        if self.authn_decl is not None:
            etree.SubElement(context, f"{_S}AuthnContextDecl").text = self.authn_decl
        statement = etree.SubElement(assertion, f"{_S}AttributeStatement")
        for name, value in self.attributes():
            if isinstance(value, str):
                attribute = etree.SubElement(statement, f"{_S}Attribute", Name=name)
                etree.SubElement(attribute, f"{_S}AttributeValue").text = value
                continue
            coded_attribute(statement, name, "Role" if name == names.SUBJECT_ROLE else "PurposeOfUse", value)
        return assertion


# -- the catalogue -------------------------------------------------------------------------------

GP_CPS_DIRECTE = VihfSample(
    name="vihf-gp-cps-directe",
    description="GP in her practice, logged in with her CPS card, direct mode, normal access to her patient",
    name_id=GP.idnat_ps,
    subject_id=GP.subject_id("Médecine générale"),
    roles=GP.roles,
    structure=PRACTICE,
    authentication_mode=names.DIRECTE,
    authn_context=names.AC_SMARTCARD_PKI,
    software=PRACTICE_SOFTWARE,
    patient=PELLEGRIN,
)
HOSPITAL_NURSE_INDIRECTE = VihfSample(
    name="vihf-hospital-indirecte-nurse",
    description="hospital nurse logged in to the DPI with a password; the hospital vouches for him (indirect mode)",
    name_id=NURSE.idnat_ps,
    subject_id=NURSE.subject_id("Néphrologie"),
    roles=NURSE.roles,
    structure=HOSPITAL,
    authentication_mode=names.INDIRECTE,
    authn_context=names.AC_PASSWORD,
    software=HOSPITAL_SOFTWARE,
    patient=KERAVEC,
)
BREAK_THE_GLASS = VihfSample(
    name="vihf-break-the-glass",
    description="emergency physician (CPS card, indirect mode) opening a record in break-the-glass mode",
    name_id=EMERGENCY_PHYSICIAN.idnat_ps,
    subject_id=EMERGENCY_PHYSICIAN.subject_id("Urgences"),
    roles=EMERGENCY_PHYSICIAN.roles,
    structure=HOSPITAL,
    authentication_mode=names.INDIRECTE,
    authn_context=names.AC_SMARTCARD_PKI,
    software=HOSPITAL_SOFTWARE,
    patient=SANTUCCI,
    purpose=names.BRIS_DE_GLACE,
)
AUTOMATED_SYSTEM = VihfSample(
    name="vihf-automate",
    description="laboratory interface engine (role AUTOMATE); NameID is the biologist responsible for the processing",
    name_id=BIOLOGIST.idnat_ps,
    subject_id="PASSERELLE-ESSAI-SIL, Moteur d'échange 3, Laboratoire",  # "logiciel, modèle, service"
    roles=(AUTOMATE,),
    structure=LABORATORY,
    authentication_mode=names.INDIRECTE,
    authn_context=names.AC_UNSPECIFIED,
    software=LABORATORY_SOFTWARE,
    patient=PELLEGRIN,
)
AIR_PHYSICIAN = VihfSample(
    name="vihf-air-physician",
    description="hospital physician in reinforced indirect authentication (AIR): password + APP_BROWSER_AUTH, 30 s lifetime",
    name_id=EMERGENCY_PHYSICIAN.idnat_ps,
    subject_id=EMERGENCY_PHYSICIAN.subject_id("Urgences"),
    roles=EMERGENCY_PHYSICIAN.roles,
    structure=HOSPITAL,
    authentication_mode=names.INDIRECTE_RENFORCEE,
    authn_context=names.AC_PASSWORD,
    authn_decl=names.AUTHN_DECL_APP_BROWSER,
    software=HOSPITAL_SOFTWARE,
    patient=KERAVEC,
    lifetime=timedelta(seconds=30),
)
CENTRE_15 = VihfSample(
    name="vihf-centre-15",
    description="SAMU regulating physician (Centre 15) consulting a record, access mode centre_15",
    name_id=REGULATOR.idnat_ps,
    subject_id=REGULATOR.subject_id("SAMU - Centre 15"),
    roles=REGULATOR.roles,
    structure=HOSPITAL,
    authentication_mode=names.INDIRECTE,
    authn_context=names.AC_SMARTCARD_PKI,
    software=HOSPITAL_SOFTWARE,
    patient=SANTUCCI,
    purpose=names.CENTRE_15,
)
MISSING_SUBJECT_ID = HOSPITAL_NURSE_INDIRECTE.omitting(
    names.SUBJECT_ID, "invalid-missing-subject-id", "the nurse assertion without its subject-id attribute"
)
MISSING_VIHF_VERSION = HOSPITAL_NURSE_INDIRECTE.omitting(
    names.VIHF_VERSION, "invalid-missing-vihf-version", "the nurse assertion without its VIHF_Version attribute"
)

POSITIVE: tuple[VihfSample, ...] = (
    GP_CPS_DIRECTE, HOSPITAL_NURSE_INDIRECTE, BREAK_THE_GLASS, AUTOMATED_SYSTEM, AIR_PHYSICIAN, CENTRE_15
)
NEGATIVE: tuple[VihfSample, ...] = (MISSING_SUBJECT_ID, MISSING_VIHF_VERSION)
SAMPLES: Mapping[str, VihfSample] = {sample.name: sample for sample in POSITIVE + NEGATIVE}


def compose(
    name: str, *, issuer: str | None = None, now: datetime | None = None, conditions: bool = True
) -> etree._Element:
    """The unsigned assertion of sample `name` (see `VihfSample.compose`)."""
    return SAMPLES[name].compose(issuer=issuer, now=now, conditions=conditions)


def issue(sample: VihfSample | str, signer: Signer, *, now: datetime | None = None, conditions: bool = True) -> etree._Element:
    """The sample issued by `signer`: `Issuer` = the signer's certificate subject, then
    signed as spec §5.1 requires (`vihf.issue.sign`)."""
    from vihf.issue import sign

    chosen = SAMPLES[sample] if isinstance(sample, str) else sample
    return sign(chosen.compose(issuer=signer.issuer_dn, now=now, conditions=conditions), signer)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m conformance.vihf_samples", description="Print a synthetic VIHF assertion."
    )
    parser.add_argument("name", nargs="?", choices=sorted(SAMPLES), help="the sample to print")
    parser.add_argument("--list", action="store_true", help="list the samples and what each one is")
    parser.add_argument("--key", type=Path, help="PEM private key of the seal certificate: sign the sample")
    parser.add_argument("--cert", type=Path, help="PEM seal certificate (with --key)")
    args = parser.parse_args(argv)
    if args.list or args.name is None:
        for sample in SAMPLES.values():
            verdict = "valid" if sample.valid else "INVALID, lacks " + ", ".join(sample.breaks)
            print(f"{sample.name:<32} {sample.description} ({verdict})")
        return 0
    if (args.key is None) != (args.cert is None):
        parser.error("--key and --cert go together")
    if args.key is not None:
        from vihf.issue import Signer

        assertion = issue(args.name, Signer.load(args.key, args.cert))
    else:
        assertion = compose(args.name)
    sys.stdout.write(etree.tostring(assertion, encoding="unicode") + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
