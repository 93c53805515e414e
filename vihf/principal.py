"""The caller of a transaction, as a verified VIHF assertion describes it.

A `Principal` is what actor handlers and the access policy see; it never holds the
assertion itself. `audit_who` is the short identification written to logs and audit
records.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from vihf import names


@dataclass(frozen=True)
class Code:
    """An HL7 v3 CE value (`Role`, `PurposeOfUse`) or a `code^OID` pair; validators compare
    `code` + `code_system` only (spec §4.1)."""

    code: str
    code_system: str
    display_name: str | None = None
    code_system_name: str | None = None

    def __str__(self) -> str:
        return f"{self.code}^{self.code_system}"


@dataclass(frozen=True)
class PatientId:
    """An HL7 v2 CX identifier (`ID^^^&OID&ISO^TYPE`), as carried by `resource-id`."""

    id: str
    assigning_authority: str  # universal id (OID) of CX-4
    type_code: str | None = None

    @property
    def is_ins(self) -> bool:
        return self.assigning_authority in names.INS_OIDS

    def cx(self) -> str:
        suffix = f"^{self.type_code}" if self.type_code else ""
        return f"{self.id}^^^&{self.assigning_authority}&ISO{suffix}"

    def same_patient(self, other: PatientId) -> bool:
        """Same identifier in the same assigning authority (the type code is not part of
        the identity)."""
        return self.id == other.id and self.assigning_authority == other.assigning_authority

    @classmethod
    def parse(cls, value: str) -> PatientId:
        """Parse a CX string; CX-4 may be `&OID&ISO`, `NAME&OID&ISO` or a bare OID.
        Raises ValueError when there is no identifier or no assigning authority."""
        components = value.strip().split("^")
        identifier = components[0].strip()
        authority = components[3] if len(components) > 3 else ""
        sub = authority.split("&")
        oid = sub[1] if len(sub) > 1 else sub[0]
        type_code = components[4].strip() if len(components) > 4 and components[4].strip() else None
        if not identifier or not oid.strip():
            raise ValueError("a CX identifier needs CX-1 and the universal id of CX-4")
        return cls(identifier, oid.strip(), type_code)


@dataclass(frozen=True)
class Software:
    """The calling software (LPS_*)."""

    name: str | None = None
    version: str | None = None
    instance_id: str | None = None  # LPS_ID
    registration_id: str | None = None  # LPS_ID_HOMOLOGATION_DMP


def subject_id_type(name_id: str) -> str:
    """Kind of `Subject/NameID`: IdNat_PS prefix `8` = RPPS, `0` = ADELI (MOS TRE_G08);
    `structure/local` for staff without a national id; other IdNat_PS otherwise."""
    if "/" in name_id:
        return "local"
    if name_id.startswith("8") and len(name_id) == 12:
        return "RPPS"
    if name_id.startswith("0") and len(name_id) == 10:
        return "ADELI"
    return "IdNat_PS"


@dataclass(frozen=True)
class Principal:
    """Who calls, for whom, with which software, under which assertion (spec §2-§4)."""

    assertion_id: str
    issuer: str
    issue_instant: datetime | None
    not_before: datetime | None
    not_on_or_after: datetime | None
    vihf_version: str | None
    subject_id: str
    subject_id_type: str
    subject_name: str | None
    roles: tuple[Code, ...]
    sector: Code | None
    structure_id: str | None
    structure_name: str | None
    authentication_mode: str | None
    authn_context: str | None
    authn_instant: datetime | None
    purpose_of_use: Code | None
    break_the_glass_reason: str | None
    patient: PatientId | None
    resource_urn: str | None
    software: Software
    signed: bool = False

    @property
    def profession(self) -> Code | None:
        """First role value: profession (G15/G16) or non-PS producer (A00)."""
        return self.roles[0] if self.roles else None

    @property
    def specialty(self) -> Code | None:
        """Second role value: savoir-faire (R01) or CNOP sub-section (G05)."""
        return self.roles[1] if len(self.roles) > 1 else None

    @property
    def purpose(self) -> str | None:
        """Access mode code in lower case (TRE_R248 is case-insensitive)."""
        return self.purpose_of_use.code.lower() if self.purpose_of_use else None

    @property
    def break_the_glass(self) -> bool:
        """Access outside the normal authorisation: bris_de_glace or centre_15."""
        return self.purpose in (names.BRIS_DE_GLACE, names.CENTRE_15)

    @property
    def audit_who(self) -> str:
        """Short loggable identification, e.g. `RPPS 899900012347 (structure 1990000010)`."""
        who = f"{self.subject_id_type} {self.subject_id}"
        if self.structure_id:
            who += f" (structure {self.structure_id})"
        if self.break_the_glass:
            who += f" [{self.purpose}]"
        return who
