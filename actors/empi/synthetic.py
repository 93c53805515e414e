"""Synthetic French identities with known truth, to measure the EMPI matching.

`generate(seed, people)` draws people (twins, homonyms, parents and children of the same
first name, strangers sharing a birth date and a common name among them) and, for each,
one to four records as different domains (hospitals, GP software, pharmacies) registered
them: accents dropped or kept, typing slips, first names cut or swapped or with their
hyphen lost, married names as used name or taken for the birth name, transposed or
mistyped birth dates, missing traits; records read from the INSi teleservice carry the
INS and the exact traits. The name lists are ours, shaped after common French names.
Deterministic for a given seed.
"""
from __future__ import annotations

import random
import string
from dataclasses import dataclass
from datetime import date, timedelta
from itertools import combinations
from typing import Final

from rapidfuzz.distance import OSA

from actors.empi.traits import PartialDate, Sex, Traits, fold

FAMILY_NAMES: Final = (
    "MARTIN", "BERNARD", "THOMAS", "PETIT", "ROBERT", "RICHARD", "DURAND", "DUBOIS", "MOREAU",
    "LAURENT", "SIMON", "MICHEL", "LEFÈVRE", "LEROY", "ROUX", "DAVID", "BERTRAND", "MOREL",
    "FOURNIER", "GIRARD", "BONNET", "DUPONT", "LAMBERT", "FONTAINE", "ROUSSEAU", "VINCENT",
    "MULLER", "LEFEBVRE", "FAURE", "ANDRÉ", "MERCIER", "BLANC", "GUÉRIN", "BOYER", "GARNIER",
    "CHEVALIER", "FRANÇOIS", "LEGRAND", "GAUTHIER", "GARCIA", "PERRIN", "ROBIN", "CLÉMENT",
    "MORIN", "NICOLAS", "HENRY", "ROUSSEL", "MATHIEU", "GAUTIER", "MASSON", "MARCHAND",
    "DUVAL", "DENIS", "DUMONT", "MARIE", "LEMAIRE", "NOËL", "MEYER", "DUFOUR", "MEUNIER",
    "BRUN", "BLANCHARD", "GIRAUD", "JOLY", "RIVIÈRE", "LUCAS", "BRUNET", "GAILLARD",
    "BARBIER", "ARNAUD", "MARTINEZ", "GÉRARD", "ROCHE", "RENARD", "SCHMITT", "ROY",
    "LEROUX", "COLIN", "VIDAL", "CARON", "PICARD", "ROGER", "FABRE", "AUBERT", "LEMOINE",
    "RENAUD", "DUMAS", "LACROIX", "OLIVIER", "PHILIPPE", "BOURGEOIS", "PIERRE", "BENOÎT",
    "REY", "LECLERC", "PAYET", "ROLLAND", "LECLERCQ", "GUILLAUME", "LECOMTE", "LOPEZ",
    "JEAN", "DUPUY", "GUILLOT", "HUBERT", "BERGER", "CARPENTIER", "SANCHEZ", "DUPUIS",
    "MOULIN", "LOUIS", "DESCHAMPS", "HUET", "VASSEUR", "PEREZ", "BOUCHER", "FLEURY",
    "ROYER", "KLEIN", "JACQUET", "ADAM", "PARIS", "POIRIER", "MARTY", "AUBRY", "GUYOT",
    "CARRÉ", "CHARLES", "RENAULT", "CHARPENTIER", "MÉNARD", "MAILLARD", "BARON", "BERTIN",
    "BAILLY", "HERVÉ", "SCHNEIDER", "FERNANDEZ", "LE GALL", "COLLET", "LÉGER", "BOUVIER",
    "JULIEN", "PRÉVOST", "MILLET", "PERROT", "DANIEL", "LE ROUX", "COUSIN", "GERMAIN",
    "BRETON", "BESSON", "LANGLOIS", "RÉMY", "LE GOFF", "PELLETIER", "LÉVÊQUE", "PERRIER",
    "LEBLANC", "BARRÉ", "LEBRUN", "MARCHAL", "WEBER", "MALLET", "HAMON", "BOULANGER",
    "JACOB", "MONNIER", "MICHAUD", "RODRIGUEZ", "GUICHARD", "GILLET", "ÉTIENNE", "GRONDIN",
    "POULAIN", "TESSIER", "CHEVALLIER", "COLLIN", "CHAUVIN", "DA SILVA", "BOUCHET", "GAY",
    "LEMAÎTRE", "BÉNARD", "MARÉCHAL", "HUMBERT", "REYNAUD", "ANTOINE", "HOARAU", "PERRET",
    "BARTHÉLEMY", "CORDIER", "PICHON", "LEJEUNE", "GILBERT", "LAMY", "DELAUNAY", "PASQUIER",
    "CARLIER", "LAPORTE", "DE LA FONTAINE", "SAINT-MARTIN", "D'ALMEIDA", "LE BIHAN",
    "DUPONT-MOREAU", "MARTIN-GALLAND", "DESCAMPS", "KERGOAT", "N'DIAYE", "BEN SAÏD",
    "NGUYEN", "TRAN", "HADDAD", "BOUZID", "COULIBALY", "OLLIVIER", "PERRAULT", "PERREAU",
)
"""Family names, most common first (the draw favours the head of the list)."""

MALE_NAMES: Final = (
    "JEAN", "PIERRE", "MICHEL", "ANDRÉ", "PHILIPPE", "RENÉ", "LOUIS", "ALAIN", "JACQUES",
    "BERNARD", "MARCEL", "DANIEL", "ROGER", "ROBERT", "PAUL", "CLAUDE", "CHRISTIAN",
    "HENRI", "GEORGES", "NICOLAS", "FRANÇOIS", "PATRICK", "GÉRARD", "CHRISTOPHE", "JOSEPH",
    "JULIEN", "MAURICE", "LAURENT", "FRÉDÉRIC", "ÉRIC", "DAVID", "STÉPHANE", "PASCAL",
    "SÉBASTIEN", "ALEXANDRE", "THIERRY", "OLIVIER", "THOMAS", "ANTOINE", "RAYMOND",
    "GUY", "DOMINIQUE", "LUCAS", "HUGO", "THÉO", "NATHAN", "ENZO", "MATHIS", "LÉO",
    "GABRIEL", "RAPHAËL", "ARTHUR", "LOUKA", "MAËL", "NOAH", "ÉTIENNE", "YVES", "GILLES",
    "JEAN-PIERRE", "JEAN-CLAUDE", "JEAN-LUC", "JEAN-MARC", "JEAN-FRANÇOIS", "JEAN-PAUL",
    "PIERRE-YVES", "MARC-ANTOINE", "JEAN-BAPTISTE", "KEVIN", "ANTHONY", "MAXIME", "ROMAIN",
    "VINCENT", "BENOÎT", "FABRICE", "GUILLAUME", "JÉRÔME", "ÉMILE", "JULES", "MOHAMED",
    "KARIM", "YANN", "LOÏC", "GAËTAN", "FRANCK", "SAMUEL", "BAPTISTE", "CLÉMENT", "VICTOR",
)
FEMALE_NAMES: Final = (
    "MARIE", "JEANNE", "FRANÇOISE", "MONIQUE", "CATHERINE", "NATHALIE", "ISABELLE",
    "JACQUELINE", "ANNE", "SYLVIE", "MARTINE", "MADELEINE", "NICOLE", "SUZANNE", "HÉLÈNE",
    "CHRISTINE", "MARGUERITE", "DENISE", "LOUISE", "CHRISTIANE", "YVETTE", "GERMAINE",
    "SANDRINE", "VALÉRIE", "SOPHIE", "CÉLINE", "CHANTAL", "ÉMILIE", "JULIE", "AURÉLIE",
    "STÉPHANIE", "CAMILLE", "LÉA", "MANON", "CHLOÉ", "EMMA", "INÈS", "JADE", "ZOÉ",
    "LOUANE", "MAËLLE", "NOÉMIE", "CLÉMENCE", "ODILE", "GINETTE", "BRIGITTE", "PAULETTE",
    "SIMONE", "ÉLISE", "AGNÈS", "CORINNE", "VÉRONIQUE", "LAURENCE", "PATRICIA", "CAROLINE",
    "MARIE-CLAIRE", "MARIE-THÉRÈSE", "ANNE-SOPHIE", "MARIE-CHRISTINE", "MARIE-PIERRE",
    "ANNE-MARIE", "MARIE-LAURE", "MARIE-HÉLÈNE", "MARIE-FRANCE", "MARIE-NOËLLE", "ÉLODIE",
    "AUDREY", "MÉLANIE", "LAETITIA", "SÉVERINE", "ANAÏS", "OCÉANE", "LUCIE", "JULIETTE",
    "ALICE", "LINA", "ROSE", "AGATHE", "FATIMA", "KARINE", "GWENAËLLE", "SOLÈNE", "ÉVA",
)
FOREIGN_BIRTHPLACES: Final = ("99350", "99352", "99351", "99139", "99134", "99127", "99109")
DOMAINS: Final = (
    "CHU-RENNES", "CH-VANNES", "CLINIQUE-SAINT-MALO", "CH-LORIENT", "LGC-CABINET-DINAN",
    "LGO-PHARMACIE-QUIMPER", "SSR-LANNION", "HAD-BREST",
)
_OTHER_DEPARTMENTS: Final = tuple(f"{d:02d}" for d in range(1, 96) if d != 20) + ("2A", "2B")
_REGION_DEPARTMENTS: Final = ("35", "56", "22", "29", "44", "53")


@dataclass(frozen=True)
class Person:
    """A true person, with the traits the INSi teleservice would return."""

    person_id: int
    sex: Sex
    birth_name: str
    given_names: tuple[str, ...]
    birth_date: date
    birthplace: str
    postal_code: str
    ins: str
    married_name: str | None
    kind: str
    """Either "person" or the look-alike it was drawn as: "twin", "homonym", "parent"
    (same family name and first name, another generation), "same-date"."""


@dataclass(frozen=True)
class SyntheticRecord:
    """One domain's record of a person."""

    record_id: str
    person_id: int
    domain: str
    traits: Traits


@dataclass(frozen=True)
class SyntheticDataSet:
    """People, their records, and the truth: which records are one person."""

    seed: int
    people: tuple[Person, ...]
    records: tuple[SyntheticRecord, ...]

    def true_pairs(self) -> frozenset[tuple[int, int]]:
        """Index pairs (i < j) of `records` that belong to one person."""
        by_person: dict[int, list[int]] = {}
        for index, record in enumerate(self.records):
            by_person.setdefault(record.person_id, []).append(index)
        return frozenset(p for indexes in by_person.values() for p in combinations(indexes, 2))


def nir(sex: Sex, birth_date: date, birthplace: str, order: int) -> str:
    """A 15-character INS-NIR with a valid key, built as the NIR is: sex, year, month,
    birth department and commune (or 99 and the country), order number, key."""
    sex_digit = 1 if sex == "M" else 2
    base = f"{sex_digit}{birth_date.year % 100:02d}{birth_date.month:02d}{birthplace}{order:03d}"
    numeric = base.replace("2A", "19").replace("2B", "18")
    return f"{base}{97 - int(numeric) % 97:02d}"


class _Generator:
    def __init__(self, seed: int):
        self.rng = random.Random(seed)
        self.communes = self._communes()
        self.next_ins_order = 1
        self.names_born_on: dict[date, tuple[str, ...]] = {}

    def _communes(self) -> list[tuple[str, str]]:
        """(INSEE code, postal code) pairs; most in the platform's region."""
        communes = []
        for i in range(160):
            department = self.rng.choice(_REGION_DEPARTMENTS if i < 110 else _OTHER_DEPARTMENTS)
            number = self.rng.randint(1, 450)
            postal_department = "20" if department in ("2A", "2B") else department
            postal = f"{postal_department}{self.rng.randrange(0, 990, 10):03d}"
            communes.append((f"{department}{number:03d}", postal))
        return communes

    def family_name(self) -> str:
        # Zipf-like: the names at the head of the list are far more frequent.
        index = min(int(self.rng.paretovariate(0.9)) - 1, len(FAMILY_NAMES) - 1)
        return FAMILY_NAMES[index] if self.rng.random() < 0.6 else self.rng.choice(FAMILY_NAMES)

    def given_names(self, sex: Sex, avoid: tuple[str, ...] = ()) -> tuple[str, ...]:
        """One to three first names, none of them close to a name in `avoid` (the
        first names of a twin, or of people born the same day)."""
        pool = MALE_NAMES if sex == "M" else FEMALE_NAMES
        count = self.rng.choices((1, 2, 3), weights=(30, 45, 25))[0]
        avoided = [fold(a) for a in avoid]
        names: list[str] = []
        while len(names) < count:
            name = self.rng.choice(pool)
            folded = fold(name)
            if name in names or any(_close(folded, a) for a in avoided):
                continue
            names.append(name)
        return tuple(names)

    def birth_date(self) -> date:
        return date(1930, 1, 1) + timedelta(days=self.rng.randrange(0, 94 * 365))

    def birthplace_and_postal(self) -> tuple[str, str]:
        insee, postal = self.rng.choice(self.communes)
        if self.rng.random() < 0.06:
            insee = self.rng.choice(FOREIGN_BIRTHPLACES)
        return insee, postal

    def place_as_recorded(self, value: str | None, part: int, missing_below: float, wrong_below: float) -> str | None:
        """A place trait as a source records it, by one roll: missing below `missing_below`,
        another commune's (`part` of `birthplace_and_postal`) below `wrong_below`, else `value`."""
        roll = self.rng.random()
        if roll < missing_below:
            return None
        if roll < wrong_below:
            return self.birthplace_and_postal()[part]
        return value

    def person(self, person_id: int, kind: str = "person", like: Person | None = None) -> Person:
        rng = self.rng
        sex: Sex = rng.choice(("M", "F"))
        birth_name = self.family_name()
        given = self.given_names(sex)
        born = self.birth_date()
        birthplace, postal = self.birthplace_and_postal()
        if like is not None:
            if kind == "twin":
                birth_name, born = like.birth_name, like.birth_date
                birthplace, postal = like.birthplace, like.postal_code
                sex = like.sex if rng.random() < 0.6 else sex
                given = self.given_names(sex, avoid=self.names_born_on[born])
            elif kind == "homonym":
                sex, birth_name = like.sex, like.birth_name
                given = like.given_names[:1] + self.given_names(sex, like.given_names[:1])[1:]
                if rng.random() < 0.4:
                    born = date(like.birth_date.year, rng.randint(1, 12), rng.randint(1, 28))
            elif kind == "parent":
                sex, birth_name, postal = like.sex, like.birth_name, like.postal_code
                given = like.given_names[:1] + self.given_names(sex, like.given_names[:1])[1:]
                born = like.birth_date - timedelta(days=rng.randint(20 * 365, 40 * 365))
            elif kind == "same-date":
                born, sex = like.birth_date, like.sex
                common = FAMILY_NAMES[:4]
                birth_name = like.birth_name if like.birth_name in common else rng.choice(common)
                given = self.given_names(sex, avoid=self.names_born_on[born])
        if like is not None and kind in ("homonym", "parent") and born == like.birth_date:
            born += timedelta(days=1)
        married = None
        if sex == "F" and born.year < 2000 and rng.random() < 0.55:
            married = self.family_name()
            while married == birth_name:
                married = self.family_name()
        self.names_born_on[born] = self.names_born_on.get(born, ()) + given
        order = self.next_ins_order
        self.next_ins_order += 1
        return Person(person_id, sex, birth_name, given, born, birthplace, postal,
                      nir(sex, born, birthplace, order % 1000), married, kind)

    def typo(self, text: str) -> str:
        """One typing slip in a folded name, never on the first letter."""
        rng = self.rng
        if len(text) < 3:
            return text
        i = rng.randrange(1, len(text))
        operation = rng.choice(("substitute", "delete", "insert", "swap"))
        if operation == "substitute":
            return text[:i] + rng.choice(string.ascii_uppercase.replace(text[i], "")) + text[i + 1:]
        if operation == "delete":
            return text[:i] + text[i + 1:]
        if operation == "insert":
            return text[:i] + rng.choice(string.ascii_uppercase) + text[i:]
        if i == len(text) - 1:
            i -= 1
        return text[:i] + text[i + 1] + text[i] + text[i + 2:]

    def wrong_date(self, born: date) -> date | PartialDate | None:
        """A birth date as a clerk may get it wrong: day and month transposed, a digit
        slip in day or month, a digit slip in the year, missing, or year and month only."""
        rng = self.rng
        roll = rng.random()
        if roll < 0.3 and born.day <= 12 and born.day != born.month:
            return date(born.year, born.day, born.month)
        if roll < 0.8:
            positions = (4, 5, 6, 7) if roll < 0.6 else (2, 3)
            for _ in range(50):
                digits = list(born.strftime("%Y%m%d"))
                digits[rng.choice(positions)] = rng.choice(string.digits)
                text = "".join(digits)
                try:
                    wrong = date(int(text[:4]), int(text[4:6]), int(text[6:]))
                except ValueError:
                    continue
                if wrong != born:
                    return wrong
            return born
        if roll < 0.95:
            return None
        return PartialDate(born.year, born.month)

    def record(self, person: Person, record_id: str, domain: str) -> SyntheticRecord:
        rng = self.rng
        if rng.random() < 0.2:
            traits = Traits(
                birth_name=fold(person.birth_name),
                given_names=tuple(fold(g) for g in person.given_names),
                birth_date=person.birth_date, sex=person.sex, birthplace=person.birthplace,
                used_name=person.married_name if rng.random() < 0.7 else None,
                ins=person.ins, postal_code=person.postal_code if rng.random() < 0.8 else None,
            )
            return SyntheticRecord(record_id, person.person_id, domain, traits)
        keep_accents = rng.random() < 0.5
        title_case = rng.random() < 0.25

        def written(text: str | None) -> str | None:
            if text is None:
                return None
            text = text if keep_accents else fold(text)
            return text.title() if title_case else text

        birth_name: str | None = person.birth_name
        used_name = person.married_name if person.married_name and rng.random() < 0.65 else None
        if person.married_name and rng.random() < 0.3:
            birth_name = person.married_name
            used_name = person.married_name if rng.random() < 0.5 else None
        elif rng.random() < 0.07:
            birth_name = self.typo(fold(person.birth_name))
        elif any(c in person.birth_name for c in " -'") and rng.random() < 0.4:
            birth_name = rng.choice((person.birth_name.replace(" ", "").replace("'", ""),
                                     person.birth_name.replace("-", " ").split()[-1]))
        given = list(person.given_names)
        if len(given) > 1 and rng.random() < 0.1:
            given[0], given[1] = given[1], given[0]
        elif rng.random() < 0.45:
            given = given[:1]
        if "-" in given[0] and rng.random() < 0.3:
            given[0] = given[0].replace("-", " ")
        elif rng.random() < 0.04:
            given[0] = self.typo(fold(given[0]))
        born: date | PartialDate | None = person.birth_date
        if rng.random() < 0.08:
            born = self.wrong_date(person.birth_date)
        sex: Sex = "U" if rng.random() < 0.03 else person.sex
        birthplace = self.place_as_recorded(person.birthplace, 0, 0.35, 0.37)
        postal = self.place_as_recorded(person.postal_code, 1, 0.3, 0.45)
        traits = Traits(
            birth_name=written(birth_name), given_names=tuple(written(g) or "" for g in given),
            birth_date=born, sex=sex, used_name=written(used_name), birthplace=birthplace,
            postal_code=postal,
        )
        return SyntheticRecord(record_id, person.person_id, domain, traits)


def _close(a: str, b: str) -> bool:
    """Names a matcher may take for one another: within two edits, or one inside the other."""
    return OSA.distance(a, b, score_cutoff=2) <= 2 or a in b or b in a


def generate(seed: int, people: int = 1000) -> SyntheticDataSet:
    """A data set of `people` true people (look-alikes included) and their records."""
    generator = _Generator(seed)
    rng = generator.rng
    persons: list[Person] = []
    for person_id in range(people):
        roll = rng.random()
        like = rng.choice(persons) if persons else None
        if like is None or roll < 0.78:
            persons.append(generator.person(person_id))
        elif roll < 0.84:
            persons.append(generator.person(person_id, "twin", like))
        elif roll < 0.93:
            persons.append(generator.person(person_id, "homonym", like))
        elif roll < 0.96:
            persons.append(generator.person(person_id, "parent", like))
        else:
            persons.append(generator.person(person_id, "same-date", like))
    records: list[SyntheticRecord] = []
    for person in persons:
        count = rng.choices((1, 2, 3, 4), weights=(25, 35, 25, 15))[0]
        for domain in rng.sample(DOMAINS, count):
            records.append(generator.record(person, f"{domain}/{len(records) + 1}", domain))
    rng.shuffle(records)
    return SyntheticDataSet(seed, tuple(persons), tuple(records))

