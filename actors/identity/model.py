"""Sans-IO values of the identity core, shared by the v2, v3 and FHIR transports:
assigning authorities (HD), identifiers (CX), person names (XPN), demographic traits and
the identity status of the French identity-vigilance referential (RNIV)."""
from __future__ import annotations

import enum
import unicodedata
from dataclasses import dataclass, field


class IdentityStatus(str, enum.Enum):
    """RNIV identity statuses (FR Core `fr-core-cs-identity-status`)."""

    PROV = "PROV"  # provisoire: INS not retrieved, no document check
    RECUP = "RECUP"  # récupérée: INS retrieved by INSi, no document check
    VALI = "VALI"  # validée: document checked, no INS
    QUAL = "QUAL"  # qualifiée: both; only status under which the INS may be used

    @property
    def rank(self) -> int:
        return _RANK[self]


_RANK = {IdentityStatus.PROV: 0, IdentityStatus.RECUP: 1, IdentityStatus.VALI: 1, IdentityStatus.QUAL: 2}

# PAM-FR table 0445 codes carried as identity attributes next to the status (PID-32).
ATTRIBUTE_CODES = frozenset({"HOMA", "DOUT", "FICT"})


@dataclass(frozen=True)
class Hd:
    """HL7 HD assigning authority: namespace id & universal id & universal id type."""

    namespace: str = ""
    universal_id: str = ""
    universal_id_type: str = ""

    def __bool__(self) -> bool:
        return bool(self.namespace or self.universal_id)

    @property
    def key(self) -> str:
        """How the hub names the domain: its OID when known, else its namespace."""
        return self.universal_id or self.namespace


@dataclass(frozen=True)
class Cx:
    """HL7 CX identifier: CX-1 id, CX-4 assigning authority, CX-5 identifier type."""

    value: str
    authority: Hd = Hd()
    type_code: str = ""


@dataclass(frozen=True)
class PersonName:
    """HL7 XPN: XPN-7 `L` birth (legal) name, `D` used name; XPN-3 the full list of birth
    first names in France."""

    family: str = ""
    given: str = ""
    further_given: str = ""
    prefix: str = ""
    use: str = "L"


@dataclass(frozen=True)
class Address:
    street: str = ""
    other: str = ""
    city: str = ""
    state: str = ""
    postal_code: str = ""
    country: str = ""
    use: str = ""
    county: str = ""  # XAD-9: INSEE code of the birthplace when XAD-7 = BDL


@dataclass
class Traits:
    """Demographic traits of one identity as a source states them."""

    names: list[PersonName] = field(default_factory=list)
    birth_date: str = ""  # YYYYMMDD (or shorter precision)
    sex: str = ""  # F, M, U ...
    birthplace_code: str = ""  # INSEE COG code
    # The rest of the birthplace address (PID-11 XAD-7 = BDL): XAD-3, XAD-5, XAD-6.
    birthplace_city: str = ""
    birthplace_postal_code: str = ""
    birthplace_country: str = ""
    addresses: list[Address] = field(default_factory=list)
    phone: str = ""
    mother_maiden_name: str = ""

    def birthplace_address(self) -> Address | None:
        """The birthplace as the French extension of PAM carries it: an XAD with XAD-7 =
        BDL and the INSEE code in XAD-9 (None when nothing is known of it)."""
        if not (self.birthplace_code or self.birthplace_city or self.birthplace_country):
            return None
        return Address(
            city=self.birthplace_city, postal_code=self.birthplace_postal_code, country=self.birthplace_country,
            use="BDL", county=self.birthplace_code,
        )

    @property
    def birth_name(self) -> PersonName:
        for name in self.names:
            if name.use == "L":
                return name
        return self.names[0] if self.names else PersonName()

    @property
    def used_name(self) -> PersonName | None:
        for name in self.names:
            if name.use == "D":
                return name
        return None


def normalise(text: str) -> str:
    """Search form of a name: upper case, no diacritics, apostrophes and hyphens as spaces."""
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    cleaned = "".join(c if c.isalnum() else " " for c in stripped.upper())
    return " ".join(cleaned.split())
