"""HL7 v2 identity messages composed in code, with the answer each one must get: IHE
PAM France 2.11 (ITI-30 A28/A31/A40/A47/A24/A37, ITI-31 movements with ZBE), ITI-8
feeds, ITI-9 PIX and ITI-21 PDQ queries (continuation and cancel).

Everything here is synthetic and written from published rules, not from sample files:
the people and organisations are invented; every INS is a NIR whose 13-character base is
built from the person's sex, birth date and birthplace (INSEE code) with an invented
order number, its key computed as 97 - (base mod 97) (Corsica 2A/2B read as 19/18), and
is sent under the INS *test* OID 1.2.250.1.213.1.4.10, in PID-3 only with PID-32 `VALI`
(PAM-FR 6.6.1); RPPS numbers are in an invented 999... range with a Luhn key; local
assigning authorities are under the ITU-T example arc 2.999; the town "Bois-Joli" (postal
code 99420) does not exist.

Expected answers follow the Technical Framework in original acknowledgment mode: MSA-1
`AA`, or `AE`/`AR` with ERR segments whose ERR-3 is an HL7 table 0357 code (100 segment
sequence error, 101 required field missing, 102 data type error, 103 table value not
found, 200 unsupported message type, 201 unsupported event code, 202 unsupported
processing id, 203 unsupported version id, 204 unknown key identifier, 205 duplicate key
identifier) at the ERR-2 location of the fault.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from conformance.synthetic import ins_form, luhn_key, nir, nir_key, rpps

# -- assigning authorities -----------------------------------------------------------------

INS_TEST_OID = "1.2.250.1.213.1.4.10"
INS_NAMESPACE = "ASIP-SANTE-INS-NIR"
PS_AUTHORITY = "ASIP-SANTE-PS&1.2.250.1.71.4.2.1&ISO"
PAM_VERSION = "2.5^FRA^2.11"
PAM_PROFILE = "2.11^IHE_FRANCE-2.11-PAM"
UTF8 = "UNICODE UTF-8"
LATIN9 = "8859/15"


@dataclass(frozen=True)
class Domain:
    """An assigning authority (HD with an ISO OID)."""

    namespace: str
    oid: str

    @property
    def hd(self) -> str:
        """The HD as a CX-4 component (`&` sub-components)."""
        return f"{self.namespace}&{self.oid}&ISO"

    def cx(self, value: str, type_code: str) -> str:
        return f"{value}^^^{self.hd}^{type_code}"

    @property
    def requested(self) -> str:
        """The domain as a QPD-4 (ITI-9) or QPD-8 (ITI-21) repetition: a CX with CX-4 only."""
        return f"^^^{self.hd}"


INS = Domain(INS_NAMESPACE, INS_TEST_OID)
# Centre hospitalier de Bois-Joli (invented) and its second site; Clinique des Roseaux.
IPP = Domain("HBJ-IPP", "2.999.40.1")
NDA = Domain("HBJ-NDA", "2.999.40.2")
VISIT = Domain("HBJ-VENUE", "2.999.40.3")
MOVEMENT = Domain("HBJ-MVT", "2.999.40.4")
UF = Domain("HBJ-UF", "2.999.40.5")
SITE2_IPP = Domain("HBJ-SITE2-IPP", "2.999.40.6")
FACILITY = Domain("HBJ", "2.999.40")
CLINIC_IPP = Domain("CLR-IPP", "2.999.41.1")
# The patient identity domains a hub must accept for these messages (the INS ones are
# accepted by default).
PATIENT_DOMAINS = (IPP.oid, SITE2_IPP.oid, CLINIC_IPP.oid)

HOSPITAL = ("GAM_HBJ", "CH_BOISJOLI")
CLINIC = ("DPI_ROSEAUX", "CLINIQUE_DES_ROSEAUX")
PRACTICE = ("LGC_CABINET", "CAB_ESTRADE")
RECEIVER = ("TSNHUB", "PFT_REGION")


# -- people -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Professional:
    family: str
    given: str
    rpps: str

    def xcn(self, kind: str = "IDNPS") -> str:
        """XCN with the national identifier: `IDNPS` = 8 + RPPS, or the raw `RPPS`."""
        number = "8" + self.rpps if kind == "IDNPS" else self.rpps
        return f"{number}^{self.family}^{self.given}^^^Dr^^^{PS_AUTHORITY}^D^^^{kind}"


GP = Professional("ESTRADE", "Honorine", rpps("0007101"))
CARDIOLOGIST = Professional("LACOSTE-MIRAL", "Bastien", rpps("0007202"))
SURGEON = Professional("PRADIGNAC", "Solveig", rpps("0007303"))


@dataclass(frozen=True)
class Person:
    """An invented patient. `order` is the invented order number of the NIR; `qualified`
    says whether the sender holds the identity as qualified (INS + PID-32 VALI)."""

    family: str
    givens: tuple[str, ...]
    sex: str
    birth_date: str
    birthplace: str  # INSEE code of the birth commune
    order: str
    ipp: str
    street: str = ""
    phone: str = ""
    civility: str = ""
    qualified: bool = True

    @property
    def ins(self) -> str:
        return nir(self.sex, self.birth_date, self.birthplace, self.order)

    @property
    def ins_cx(self) -> str:
        return INS.cx(self.ins, "INS")

    @property
    def ipp_cx(self) -> str:
        return IPP.cx(self.ipp, "PI")

    @property
    def birth_name(self) -> str:
        """PID-5 XPN of the birth name (type L): family, first birth first name, the list
        of birth first names, civility; INS traits when qualified."""
        family, first, names = self.family, self.givens[0], " ".join(self.givens)
        if self.qualified:
            family, first, names = ins_form(family), ins_form(first), ins_form(names)
        return f"{family}^{first}^{names}^^{self.civility}^^L"


QUINTARD = Person("Quintard", ("Élodie", "Marthe"), "F", "19880214", "29019", "412", "300101",
                  "5 rue des Saules", "0199004512", "Mme")
DELAUNAY = Person("Delaunay-Orso", ("Matthieu", "Jean"), "M", "19750930", "69123", "057", "300202",
                  "27 avenue du Lavoir", "0639984417", "M")
BERTILLON = Person("Bertillon", ("Yannick",), "M", "19621205", "2B033", "118", "300303", "1 place de la Halle",
                   civility="M")
MORVANDEAU = Person("Morvandeau", ("Inès", "Clara"), "F", "20010422", "31555", "230", "300404",
                    "12 chemin Vert", civility="Mme", qualified=False)
SALVETAT = Person("Salvetat", ("Rémi",), "M", "19930708", "13055", "009", "300505", "8 impasse du Four",
                  civility="M")
ORLIAC = Person("Orliac", ("Suzon",), "F", "19570319", "87085", "641", "300606", "3 rue Basse", civility="Mme")
PEOPLE = (QUINTARD, DELAUNAY, BERTILLON, MORVANDEAU, SALVETAT, ORLIAC)


# -- segments ---------------------------------------------------------------------------------

def segment(name: str, fields: Mapping[int, str]) -> str:
    """A segment from its non-empty fields, by HL7 field number (MSH excluded)."""
    last = max((n for n, v in fields.items() if v), default=0)
    return "|".join([name, *(fields.get(n, "") for n in range(1, last + 1))])


# HL7 v2.5 message structures (table 0354) of the events used here.
STRUCTURES = {
    "A01": "ADT_A01", "A04": "ADT_A01", "A08": "ADT_A01", "A13": "ADT_A01", "Z99": "ADT_A01",
    "A05": "ADT_A05", "A14": "ADT_A05", "A28": "ADT_A05", "A31": "ADT_A05",
    "A02": "ADT_A02", "A03": "ADT_A03", "A06": "ADT_A06", "A07": "ADT_A06", "A11": "ADT_A09", "A12": "ADT_A12",
    "A21": "ADT_A21", "A22": "ADT_A21", "A52": "ADT_A52", "A53": "ADT_A52", "A38": "ADT_A38",
    "A40": "ADT_A39", "A47": "ADT_A30", "A24": "ADT_A24", "A37": "ADT_A37",
}


def msh(message_type: str, control: str, at: str, *, sender: tuple[str, str] = HOSPITAL, version: str = PAM_VERSION,
        charset: str = UTF8, profile: str = PAM_PROFILE, processing: str = "P") -> str:
    """MSH; MSH-15/16 empty (original acknowledgment mode)."""
    fields = {3: sender[0], 4: sender[1], 5: RECEIVER[0], 6: RECEIVER[1], 7: at, 9: message_type, 10: control,
              11: processing, 12: version, 17: "FRA", 18: charset, 19: "FR" if charset else "", 21: profile}
    last = max(n for n, v in fields.items() if v)
    return "MSH|^~\\&|" + "|".join(fields.get(n, "") for n in range(3, last + 1))


def adt_type(event: str) -> str:
    return f"ADT^{event}^{STRUCTURES[event]}"


def evn(at: str, occurred: str = "") -> str:
    return segment("EVN", {2: at, 6: occurred or at})


def pid(person: Person, *, set_id: int = 1, ipp: str = "", with_ins: bool | None = None, status: str | None = None,
        ipp_domain: Domain = IPP, nda: str = "", extra_ids: Sequence[str] = ()) -> str:
    """PID of a PAM-FR message: PID-3 IPP (+ INS when qualified), PID-5 birth name,
    PID-7/8, PID-11 home and birthplace (BDL, INSEE code in XAD-9), PID-13, PID-18 NDA,
    PID-30 N, PID-32 VALI (qualified) or PROV."""
    qualified = person.qualified if with_ins is None else with_ins
    ids = [ipp_domain.cx(ipp or person.ipp, "PI"), *extra_ids]
    if qualified:
        ids.append(person.ins_cx)
    addresses = []
    if person.street:
        addresses.append(f"{person.street}^^Bois-Joli^^99420^FRA^H")
    addresses.append(f"^^^^^FRA^BDL^^{person.birthplace}")
    fields = {
        1: str(set_id), 3: "~".join(ids), 5: person.birth_name, 7: person.birth_date, 8: person.sex,
        11: "~".join(addresses), 13: f"^PRN^PH^^^^^^^^^{person.phone}" if person.phone else "",
        18: NDA.cx(nda, "AN") if nda else "", 30: "N",
        32: status if status is not None else ("VALI" if qualified else "PROV"),
    }
    return segment("PID", fields)


def rol_treating_physician(doctor: Professional = GP) -> str:
    """ROL-3 ODRP: the patient's treating physician (médecin traitant), raw RPPS."""
    return segment("ROL", {2: "AD", 3: "ODRP^Médecin traitant^HL70443", 4: doctor.xcn("RPPS")})


def zfa(at: str) -> str:
    """ZFA: DMP active, informed and not opposed to feeding (INO), consents to consultation (IC)."""
    return segment("ZFA", {1: "ACTIF", 2: at, 9: "INO", 10: at, 11: "IC", 12: at})


def zfd(mode: str, queried: str = "", document: str = "", expiry: str = "") -> str:
    """ZFD: birth date not corrected, identity collection mode (ZFD-5), INSi query date,
    identity document checked and its expiry."""
    return segment("ZFD", {4: "N", 5: mode, 6: queried, 7: document, 8: expiry})


@dataclass(frozen=True)
class Unit:
    code: str
    label: str

    @property
    def xon(self) -> str:
        """ZBE-7/8: XON-1 label, XON-6 authority, XON-7 `UF`, XON-10 code."""
        return f"{self.label}^^^^^{UF.hd}^UF^^^{self.code}"


CARDIOLOGY = Unit("2210", "Cardiologie")
CARDIAC_ICU = Unit("2215", "Soins intensifs de cardiologie")
DAY_SURGERY = Unit("5310", "Chirurgie ambulatoire")
CONSULTATIONS = Unit("3120", "Consultations externes")
INTERNAL_MEDICINE = Unit("4110", "Médecine interne")


@dataclass(frozen=True)
class Stay:
    """A stay (venue) of a patient: PV1-19 visit number, PID-18 NDA, PV1-2 class."""

    person: Person
    visit: str
    nda: str
    patient_class: str = "I"
    unit: Unit = CARDIOLOGY
    doctor: Professional = CARDIOLOGIST

    def movement_id(self, n: int) -> str:
        return f"MVT-{self.visit}-{n:02d}"


def pv1(stay: Stay, *, unit: Unit | None = None, admitted: str = "", discharged: str = "") -> str:
    unit = unit or stay.unit
    fields = {1: "1", 2: stay.patient_class, 3: f"{unit.code}^^^{FACILITY.hd}^O", 7: stay.doctor.xcn(),
              19: VISIT.cx(stay.visit, "VN"), 44: admitted, 45: discharged}
    return segment("PV1", fields)


def zbe(movement: str, start: str, action: str = "INSERT", *, original: str = "", medical: Unit = CARDIOLOGY,
        care: Unit | None = None, nature: str = "HMS", historic: str = "N") -> str:
    """ZBE: ZBE-1 movement id (EI), ZBE-2 start, ZBE-3 never sent, ZBE-4 action, ZBE-5
    historic, ZBE-6 the original trigger (UPDATE, CANCEL), ZBE-7/8 medical and care
    units, ZBE-9 nature."""
    ei = f"{movement}^{MOVEMENT.namespace}^{MOVEMENT.oid}^ISO" if movement else ""
    return segment("ZBE", {1: ei, 2: start, 4: action, 5: historic, 6: original, 7: medical.xon,
                           8: (care or medical).xon, 9: nature})


def join(*segments: str) -> str:
    """ER7 text: every segment terminated by a carriage return."""
    return "".join(s + "\r" for s in segments if s)


# -- ITI-30 ------------------------------------------------------------------------------------

def iti30_a28(person: Person, control: str, at: str = "20250610091500", charset: str = UTF8) -> str:
    """Create a patient (ADT^A28^ADT_A05): PV1-2 `N`, treating physician, ZFA, ZFD.
    `charset` is MSH-18 (`UNICODE UTF-8` or `8859/15`); encoding the text is the sender's."""
    collected = zfd("INSI", at, "CN", "20330101") if person.qualified else zfd("SM")
    return join(msh(adt_type("A28"), control, at, charset=charset), evn(at), pid(person), rol_treating_physician(),
                segment("PV1", {1: "1", 2: "N"}), zfa(at), collected)


def iti30_a31(person: Person, control: str, at: str = "20250612104500") -> str:
    """Update a patient (ADT^A31^ADT_A05), e.g. qualified after an INSi call."""
    collected = zfd("INSI", at, "CN", "20330101") if person.qualified else zfd("SM")
    return join(msh(adt_type("A31"), control, at), evn(at), pid(person), rol_treating_physician(),
                segment("PV1", {1: "1", 2: "N"}), zfa(at), collected)


def iti30_a40(survivor: Person, retired_ipp: str, control: str, at: str = "20250614160000",
              extra_ids: Sequence[str] = ()) -> str:
    """Merge (ADT^A40^ADT_A39): the record of `retired_ipp` (MRG-1) into the survivor,
    whose PID-3 may list identifiers of other domains (`extra_ids`)."""
    return join(msh(adt_type("A40"), control, at), evn(at), pid(survivor, extra_ids=extra_ids),
                segment("MRG", {1: IPP.cx(retired_ipp, "PI")}))


def iti30_a47(person: Person, prior: str, control: str, at: str = "20250615084500") -> str:
    """Change a patient identifier (ADT^A47^ADT_A30): new IPP in PID-3, prior in MRG-1."""
    return join(msh(adt_type("A47"), control, at), evn(at), pid(person), segment("MRG", {1: prior}))


def iti30_link(event: str, person: Person, site2_ipp: str, control: str, at: str = "20250616090000") -> str:
    """Link (A24, ADT_A24) or unlink (A37, ADT_A37) the hospital record of `person` and
    its provisional record at the second site (Link/Unlink option)."""
    other = pid(replace(person, qualified=False), set_id=2, ipp=site2_ipp, ipp_domain=SITE2_IPP)
    return join(msh(adt_type(event), control, at), evn(at), pid(person), other)


# -- ITI-31 ------------------------------------------------------------------------------------

def iti31(event: str, stay: Stay, movement: int, start: str, control: str, *, action: str = "INSERT", original: str = "",
          nature: str = "HMS", unit: Unit | None = None, care: Unit | None = None, discharged: str = "",
          extra: Sequence[str] = ()) -> str:
    """An ITI-31 movement message of `stay` (MSH, EVN, PID, PV1, ZBE and Z segments):
    movement number `movement` of the stay, starting at `start`."""
    medical = unit or stay.unit
    admitted = start if event in ("A01", "A04", "A05") else ""
    body = [
        msh(adt_type(event), control, start), evn(start),
        pid(stay.person, nda=stay.nda),
        pv1(stay, unit=care or medical, admitted=admitted, discharged=discharged),
        zbe(stay.movement_id(movement), start, action, original=original, medical=medical, care=care, nature=nature),
        *extra,
    ]
    return join(*body)


def admission(stay: Stay, control: str, start: str = "20250620101000") -> str:
    """A01 admission: ZBE movement 1 (nature HMS), DMP status, socio-professional
    situation (ZFP), PMSI admission from home (ZFM-1 8), INSi-collected identity."""
    return iti31("A01", stay, 1, start, control, extra=[
        zfa(start), segment("ZFP", {1: "3", 2: "37"}), segment("ZFM", {1: "8"}), zfd("INSI", start, "PA", "20310101"),
    ])


# -- ITI-8 -------------------------------------------------------------------------------------

def iti8_a01_v231(person: Person, clinic_ipp: str, control: str, at: str = "20250701083000") -> str:
    """ITI-8 Patient Identity Feed in HL7 v2.3.1 from the clinic: local IPP + INS.
    v2.3.1 stops at PID-30; French senders send PID-32 VALI anyway (trailing fields a
    receiver ignores or reads)."""
    return join(
        msh("ADT^A01", control, at, sender=CLINIC, version="2.3.1", charset="", profile=""),
        segment("EVN", {1: "A01", 2: at}),
        pid(person, ipp=clinic_ipp, ipp_domain=CLINIC_IPP),
        segment("PV1", {1: "1", 2: "O"}),
    )


# -- ITI-9 and ITI-21 --------------------------------------------------------------------------

def iti9_q23(control: str, tag: str, identifier: str, domains: Sequence[Domain] = (), at: str = "20250702102000") -> str:
    """QBP^Q23^QBP_Q21: QPD-3 the known identifier, QPD-4 the domains asked for."""
    qpd = segment("QPD", {1: "IHE PIX Query", 2: tag, 3: identifier, 4: "~".join(d.requested for d in domains)})
    return join(msh("QBP^Q23^QBP_Q21", control, at, sender=PRACTICE, version="2.5", profile=""), qpd, "RCP|I")


def iti21_q22(control: str, tag: str, parameters: Sequence[tuple[str, str]], domains: Sequence[Domain] = (), *,
              quantity: int = 0, pointer: str = "", at: str = "20250702101000") -> str:
    """QBP^Q22^QBP_Q21: QPD-3 `@PID.x.y^value` pairs, QPD-8 the domains; RCP-2 the
    quantity per response (`n^RD`), DSC-1 a continuation pointer."""
    qpd = segment("QPD", {1: "IHE PDQ Query", 2: tag, 3: "~".join(f"@{f}^{v}" for f, v in parameters),
                          8: "~".join(d.requested for d in domains)})
    rcp = segment("RCP", {1: "I", 2: f"{quantity}^RD" if quantity else ""})
    dsc = segment("DSC", {1: pointer, 2: "I"}) if pointer else ""
    return join(msh("QBP^Q22^QBP_Q21", control, at, sender=PRACTICE, version="2.5", profile=""), qpd, rcp, dsc)


def iti21_cancel(control: str, tag: str, at: str = "20250702101700") -> str:
    """QCN^J01^QCN_J01: cancel the query of tag `tag` (its pending continuations)."""
    return join(msh("QCN^J01^QCN_J01", control, at, sender=PRACTICE, version="2.5", profile=""),
                segment("QID", {1: tag, 2: "IHE PDQ Query"}))


# -- editing a message -------------------------------------------------------------------------

def segments_of(message: str) -> list[str]:
    return [s for s in message.split("\r") if s]


def control_id(message: str) -> str:
    return segments_of(message)[0].split("|")[9]


def with_field(message: str, name: str, number: int, value: str, occurrence: int = 1) -> str:
    """`message` with field `number` of the `occurrence`-th `name` segment set to `value`
    (MSH fields are numbered as in HL7: MSH-1 is the field separator)."""
    out, seen = [], 0
    for line in segments_of(message):
        fields = line.split("|")
        if fields[0] == name:
            seen += 1
            if seen == occurrence:
                index = number - 1 if name == "MSH" else number
                fields += [""] * (index + 1 - len(fields))
                fields[index] = value
                line = "|".join(fields).rstrip("|") or name
        out.append(line)
    return join(*out)


def without_segment(message: str, name: str, occurrence: int = 0) -> str:
    """`message` without its `name` segments (or only the `occurrence`-th one)."""
    out, seen = [], 0
    for line in segments_of(message):
        if line.split("|")[0] == name:
            seen += 1
            if not occurrence or seen == occurrence:
                continue
        out.append(line)
    return join(*out)


def moved(message: str, *order: str) -> str:
    """`message` with its segments reordered: the named segments in the given order at
    the place of the first of them."""
    lines = segments_of(message)
    picked = [next(line for line in lines if line.split("|")[0] == name) for name in order]
    first = min(lines.index(p) for p in picked)
    rest = [line for line in lines if line not in picked]
    return join(*rest[:first], *picked, *rest[first:])


# -- expected answers --------------------------------------------------------------------------

@dataclass(frozen=True)
class Expected:
    """MSA-1 and the (ERR-3 code, ERR-2 location) pairs of the answer."""

    code: str
    errors: tuple[tuple[str, str], ...] = ()


ACCEPTED = Expected("AA")


def error(code: str, location: str) -> Expected:
    """AE: the message was understood and refused by the application."""
    return Expected("AE", ((code, location),))


def rejected(code: str, location: str) -> Expected:
    """AR: the message cannot be processed at all (header fault)."""
    return Expected("AR", ((code, location),))


@dataclass(frozen=True)
class Case:
    """A message, the answer it must get, and the rule that decides it."""

    name: str
    message: str
    expected: Expected
    rule: str = ""
    charset: str = "utf-8"
    # Other messages to send first (AA expected), for cases that need a known state.
    before: tuple[str, ...] = field(default=())

    @property
    def control(self) -> str:
        return control_id(self.message)

    def encoded(self) -> bytes:
        return self.message.encode(self.charset)


# The stays of the scenario.
STAY_DELAUNAY = Stay(DELAUNAY, "810201", "610201")
STAY_BERTILLON = Stay(BERTILLON, "810302", "610302", patient_class="O", unit=CONSULTATIONS, doctor=GP)
STAY_SALVETAT = Stay(SALVETAT, "810503", "610503", unit=DAY_SURGERY, doctor=SURGEON)
STAY_ORLIAC = Stay(ORLIAC, "810604", "610604", unit=INTERNAL_MEDICINE)
CLINIC_IPP_OF_DELAUNAY = "CLR-7781"


def scenario() -> list[Case]:
    """What a hospital, a clinic and a practice send, in order, all accepted: ITI-30
    creation, qualification, merge, identifier change, link and unlink; an ITI-31 stay
    (admission, transfer, leave and return, discharge), an outpatient visit, a cancelled
    pre-admission and a cancelled admission; an ITI-8 v2.3.1 feed from the clinic; ITI-9
    and ITI-21 queries answered OK."""
    provisional = replace(QUINTARD, qualified=False)
    d = STAY_DELAUNAY
    cases = [
        Case("iti30-a28-provisional", iti30_a28(provisional, "HBJ-1001"), ACCEPTED, "A28 without INS, PID-32 PROV"),
        Case("iti30-a31-qualified", iti30_a31(QUINTARD, "HBJ-1002"), ACCEPTED, "A31 with the INS and PID-32 VALI"),
        Case("iti31-a01-admit", admission(d, "HBJ-1003"), ACCEPTED, "A01, ZBE INSERT"),
        Case("iti31-a02-transfer", iti31("A02", d, 2, "20250621143000", "HBJ-1004", care=CARDIAC_ICU, nature="SH",
                                         extra=[segment("ZFM", {1: "6", 3: "1"})]), ACCEPTED, "A02, ZBE-9 SH"),
        Case("iti31-a21-leave", iti31("A21", d, 3, "20250622090000", "HBJ-1005", care=CARDIAC_ICU, nature="H"),
             ACCEPTED, "A21 leave of absence"),
        Case("iti31-a22-return", iti31("A22", d, 4, "20250622183000", "HBJ-1006", care=CARDIAC_ICU, nature="H"),
             ACCEPTED, "A22 return from leave"),
        Case("iti31-a03-discharge", iti31("A03", d, 5, "20250625110000", "HBJ-1007", care=CARDIAC_ICU,
                                          discharged="20250625110000",
                                          extra=[segment("ZFV", {2: "5^Moyens personnels^HL70430"}), segment("ZFM", {2: "8"})]),
             ACCEPTED, "A03 discharge, ZFM-2 8 (home)"),
        Case("iti31-a04-outpatient", iti31("A04", STAY_BERTILLON, 1, "20250626140000", "HBJ-1008",
                                           extra=[segment("ZFP", {1: "8", 2: "84"}), zfd("INSI", "20250626135000", "CN")]),
             ACCEPTED, "A04 of a Corsican-born patient (INS key with 2B read as 18)"),
        Case("iti31-a05-preadmit", iti31("A05", STAY_SALVETAT, 1, "20250627095500", "HBJ-1009"), ACCEPTED, "A05"),
        Case("iti31-a38-cancel-preadmit", iti31("A38", STAY_SALVETAT, 1, "20250627095500", "HBJ-1010", action="CANCEL",
                                                original="A05"), ACCEPTED, "A38, ZBE CANCEL of the A05 movement"),
        Case("iti31-a01-admit-then-cancelled", admission(STAY_ORLIAC, "HBJ-1011", "20250628080000"), ACCEPTED, "A01"),
        Case("iti31-a11-cancel-admit", iti31("A11", STAY_ORLIAC, 1, "20250628080000", "HBJ-1012", action="CANCEL",
                                             original="A01"), ACCEPTED, "A11, ZBE CANCEL with ZBE-6 A01"),
        Case("iti30-a28-duplicate", iti30_a28(replace(BERTILLON, ipp="399303", qualified=False), "HBJ-1013"), ACCEPTED,
             "a duplicate provisional record of the same person"),
        Case("iti30-a40-merge", iti30_a40(BERTILLON, "399303", "HBJ-1014"), ACCEPTED, "A40, MRG-1 the duplicate IPP"),
        Case("iti30-a47-change-ipp", iti30_a47(replace(SALVETAT, ipp="300555"), IPP.cx(SALVETAT.ipp, "PI"), "HBJ-1015"),
             ACCEPTED, "A47, new IPP in PID-3, prior in MRG-1"),
        Case("iti30-a24-link", iti30_link("A24", QUINTARD, "S2-7001", "HBJ-1016"), ACCEPTED, "A24, two PID"),
        Case("iti30-a37-unlink", iti30_link("A37", QUINTARD, "S2-7001", "HBJ-1017"), ACCEPTED, "A37, two PID"),
        Case("iti8-a01-v231", iti8_a01_v231(DELAUNAY, CLINIC_IPP_OF_DELAUNAY, "CLR-5001"), ACCEPTED,
             "ITI-8 v2.3.1 with PID-32 VALI after PID-30"),
        Case("iti9-q23-ins-of-ipp", iti9_q23("CAB-2001", "PIX-2001", DELAUNAY.ipp_cx, [INS]), ACCEPTED,
             "ITI-9 case 1: RSP^K23, QAK-2 OK"),
        Case("iti21-q22-name-birth", iti21_q22("CAB-2002", "PDQ-2002", [("PID.5.1.1", "QUINTARD"), ("PID.7.1", "19880214")],
                                               [IPP, INS]), ACCEPTED, "ITI-21: RSP^K22, QAK-2 OK"),
    ]
    return cases


@dataclass(frozen=True)
class _Bases:
    """The unbroken messages the negative variants are made from."""

    person: Person
    stay: Stay
    a28: str
    qualified_a28: str
    admit: str
    cancel: str
    a40: str
    a47: str
    a24: str


def _bases() -> _Bases:
    p = replace(ORLIAC, ipp="390001", order="642", qualified=False)
    stay = Stay(p, "890001", "690001", unit=INTERNAL_MEDICINE)
    return _Bases(
        person=p, stay=stay,
        a28=iti30_a28(p, "NEG-0"),
        qualified_a28=iti30_a28(replace(p, ipp="390009", qualified=True), "NEG-Q"),
        admit=admission(stay, "NEG-A"),
        cancel=iti31("A11", stay, 1, "20250620101000", "NEG-B", action="CANCEL", original="A01"),
        a40=iti30_a40(p, "390002", "NEG-D"),
        a47=iti30_a47(p, IPP.cx("390003", "PI"), "NEG-E"),
        a24=iti30_link("A24", p, "S2-9001", "NEG-F"),
    )


def negative_bases() -> list[Case]:
    """The messages the negative variants break, unbroken and in an order that a fresh
    hub accepts each (so that each variant is refused for its rule only)."""
    b = _bases()
    return [Case(name, message, ACCEPTED) for name, message in (
        ("a28", b.a28), ("qualified-a28", b.qualified_a28), ("admit", b.admit), ("cancel-admit", b.cancel),
        ("a40", b.a40), ("a47", b.a47), ("a24", b.a24),
    )]


def negative_cases() -> list[Case]:
    """One message per rule broken, each refused as HL7 table 0357 and the profiles say;
    none depends on another message except through `before`. Sent to a hub that has not
    received `negative_bases()`."""
    b = _bases()
    p, stay, a28, qualified_a28, admit = b.person, b.stay, b.a28, b.qualified_a28, b.admit
    again = admission(replace(stay, visit="890002"), "NEG-N1")
    bad_key = p.ins[:13] + f"{int(p.ins[13:]) % 97 + 1:02d}"  # any other key in 01..97
    cases = [
        Case("msh9-missing", with_field(a28, "MSH", 9, ""), rejected("101", "MSH^1^9"),
             "MSH-9 is required (HL7 v2.5 2.14.9.9): the structure is unknown"),
        Case("unsupported-event", with_field(a28, "MSH", 9, "ADT^A99^ADT_A01"), rejected("201", "MSH^1^9^2"),
             "ADT is supported, the A99 event is not"),
        Case("unsupported-message-type", with_field(a28, "MSH", 9, "ORU^R01^ORU_R01"), rejected("200", "MSH^1^9^1"),
             "ORU is not an identity message"),
        Case("processing-id", with_field(a28, "MSH", 11, "X"), rejected("202", "MSH^1^11"), "MSH-11 is P, T or D"),
        Case("version-id", with_field(a28, "MSH", 12, "3.0"), rejected("203", "MSH^1^12"), "MSH-12 must be 2.x"),
        Case("version-id-empty", with_field(a28, "MSH", 12, ""), rejected("203", "MSH^1^12"), "MSH-12 is required"),
        Case("pid3-missing", with_field(a28, "PID", 3, ""), error("101", "PID^1^3"), "PID-3 is required"),
        Case("pid3-without-authority", with_field(a28, "PID", 3, p.ipp), error("101", "PID^1^3^1^4"),
             "CX-4 is required for a patient identifier"),
        Case("segment-order", moved(a28, "PV1", "PID"), error("100", "PID^1"), "PID comes before PV1 (ADT_A05)"),
        Case("ins-wrong-key", with_field(qualified_a28, "MSH", 10, "NEG-Q1").replace(p.ins, bad_key),
             error("102", "PID^1^3^2^1"), "the INS key is 97 - (base mod 97)"),
        Case("ins-wrong-oid", with_field(qualified_a28, "MSH", 10, "NEG-Q2").replace(INS_TEST_OID, "1.2.250.1.213.1.4.5"),
             error("103", "PID^1^3^2^4"),
             "an INS is only under the INS OIDs"),
        Case("pid32-qual", with_field(a28, "PID", 32, "QUAL"), error("103", "PID^1^32^1"),
             "QUAL is FR Core FHIR, not PAM-FR table 0445"),
        Case("pid32-second-code", with_field(a28, "PID", 32, "PROV~XYZ"), error("103", "PID^1^32^2"),
             "each repetition is from table 0445"),
        Case("pid32-fict-and-dout", with_field(a28, "PID", 32, "PROV~FICT~DOUT"), error("103", "PID^1^32"),
             "fictitious and doubtful do not combine (RNIV)"),
        Case("zfa1-table", with_field(a28, "ZFA", 1, "OUVERT"), error("103", "ZFA^1^1"), "ZFA-1 ACTIF/FERME/INEXISTANT"),
        Case("zfd5-table", with_field(a28, "ZFD", 5, "TELEPATHIE"), error("103", "ZFD^1^5"), "ZFD-5 SM/CV/INSI/CB/RFID"),
        Case("zfd7-table", with_field(a28, "ZFD", 7, "XX"), error("103", "ZFD^1^7"), "ZFD-7 identity document table"),
        Case("zfm1-table", with_field(admit, "ZFM", 1, "3"), error("103", "ZFM^1^1"), "ZFM-1 PMSI admission mode"),
        Case("zbe4-unknown-action", with_field(admit, "ZBE", 4, "DELETE"), error("103", "ZBE^1^4"),
             "ZBE-4 is INSERT, UPDATE or CANCEL (PAM-FR)"),
        Case("zbe4-update-outside-z99", with_field(admit, "ZBE", 4, "UPDATE").replace("||UPDATE|N||", "||UPDATE|N|A01|"),
             error("103", "ZBE^1^4"), "UPDATE is sent with Z99 only"),
        Case("zbe1-missing", with_field(admit, "ZBE", 1, ""), error("101", "ZBE^1^1"), "ZBE-1 is required"),
        Case("zbe6-missing-on-cancel", with_field(b.cancel, "ZBE", 6, ""),
             error("101", "ZBE^1^6"), "ZBE-6 is required with CANCEL"),
        Case("zbe9-table", with_field(admit, "ZBE", 9, "X"), error("103", "ZBE^1^9"), "ZBE-9 nature table"),
        Case("cancel-unknown-stay", iti31("A11", replace(stay, visit="890099"), 1, "20250628080000", "NEG-C",
                                          action="CANCEL", original="A01"),
             error("204", "PV1^1^19"), "no stay to cancel: unknown key identifier"),
        Case("a40-without-mrg", without_segment(b.a40, "MRG"), error("100", "MRG"),
             "ADT_A39 requires MRG after PID"),
        Case("a47-without-mrg", without_segment(b.a47, "MRG"), error("100", "MRG"),
             "ADT_A30 requires MRG"),
        Case("a24-one-pid", without_segment(b.a24, "PID", 2), error("100", "PID^2"),
             "ADT_A24 carries two PID"),
        Case("a37-unknown-records", iti30_link("A37", replace(p, ipp="UNKNOWN-1", qualified=False), "S2-9002", "NEG-G"),
             error("204", "PID^1^3^1^1"), "nothing known to unlink"),
        Case("q22-without-parameters", iti21_q22("NEG-H", "TAG-H", []), error("101", "QPD^1^3"),
             "QPD-3 holds the query parameters"),
        Case("q22-unknown-domain", iti21_q22("NEG-I", "TAG-I", [("PID.5.1.1", "ORLIAC")],
                                             [IPP, Domain("NOPE", "2.999.40.404")]),
             error("204", "QPD^1^8^2"), "unknown domain in QPD-8 (ITI-21 case 3)"),
        Case("q22-unknown-pointer", iti21_q22("NEG-J", "TAG-J", [("PID.5.1.1", "ORLIAC")], [IPP], quantity=2,
                                              pointer="TAG-J:999"),
             error("204", "DSC^1^1"), "continuation pointer unknown to the supplier"),
        Case("q23-unknown-identifier", iti9_q23("NEG-K", "TAG-K", IPP.cx("NOBODY", "PI")), error("204", "QPD^1^3^1^1"),
             "ITI-9 case 3: unknown identifier"),
        Case("q23-unknown-authority", iti9_q23("NEG-L", "TAG-L", Domain("ELSEWHERE", "2.999.40.42").cx("1", "PI")),
             error("204", "QPD^1^3^1^4"), "ITI-9 case 3: unknown assigning authority"),
        Case("q23-unknown-requested-domain", iti9_q23("NEG-M", "TAG-M", p.ipp_cx, [Domain("UNKNOWN", "2.999.40.43")]),
             error("204", "QPD^1^4^1"), "ITI-9 case 4: unknown domain in QPD-4", before=(a28,)),
        Case("movement-recorded-twice", with_field(again, "MSH", 10, "NEG-N2"), error("205", "ZBE^1^1"),
             "a movement id is recorded once", before=(again,)),
    ]
    return cases
