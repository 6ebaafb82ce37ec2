"""A deterministic synthetic population: the people the demo administrations know about.

`Population(size, seed)` always yields the same people, in the same order, with the same records,
in any process (seeds are strings, which `random` hashes with SHA-512, so PYTHONHASHSEED plays no
part). Identities are generated eagerly because lookups need an index; each dataset record is
derived on demand from its own seeded generator, so building even 100,000 people takes a couple of
seconds (`bench/population_bench.py` measures it) and a record never depends on which other
records were asked for first.

The first four people are cast, whatever the size and seed, as the demo citizens (see
`DEMO_PROFILES` and `demo_citizens`); everyone else gets datasets by age-dependent chance.

All of it is fiction: any resemblance to a real person's civil status would be a coincidence.
"""

from __future__ import annotations

import bisect
import itertools
import random
import unicodedata
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from math import log
from string import ascii_uppercase
from typing import Any

from providers.demodata.catalogue import PERSON_TYPES

# Every age and every "current" period is computed from this date, not from today, so that a
# population is the same next year as this year.
REFERENCE_DATE = date(2026, 1, 15)
MIN_SIZE = 100
MAX_SIZE = 100_000

QF = "cnaf.quotient-familial"
AVIS = "dgfip.avis-imposition"
ETUDIANT = "mesr.statut-etudiant"
BOURSIER = "cnous.etudiant-boursier"
DEMANDEUR = "france-travail.statut-demandeur-emploi"
DATASETS: tuple[str, ...] = (QF, AVIS, ETUDIANT, BOURSIER, DEMANDEUR)

# --- Reference lists (real COG codes; the most frequent French names) ---

# fmt: off
SURNAMES: tuple[str, ...] = (
    "Martin", "Bernard", "Thomas", "Petit", "Robert", "Richard", "Durand", "Dubois", "Moreau",
    "Laurent", "Simon", "Michel", "Lefèvre", "Leroy", "Roux", "David", "Bertrand", "Morel",
    "Fournier", "Girard", "Bonnet", "Dupont", "Lambert", "Fontaine", "Rousseau", "Vincent",
    "Muller", "Lefebvre", "Faure", "André", "Mercier", "Blanc", "Guérin", "Boyer", "Garnier",
    "Chevalier", "François", "Legrand", "Gauthier", "Garcia", "Perrin", "Robin", "Clément",
    "Morin", "Nicolas", "Henry", "Roussel", "Mathieu", "Gautier", "Masson", "Marchand", "Duval",
    "Denis", "Dumont", "Marie", "Lemaire", "Noël", "Meyer", "Dufour", "Meunier", "Brun",
    "Blanchard", "Giraud", "Joly", "Rivière", "Lucas", "Brunet", "Gaillard", "Barbier", "Arnaud",
    "Martinez", "Gérard", "Roche", "Renard", "Schmitt", "Roy", "Leroux", "Colin", "Vidal",
    "Caron", "Picard", "Roger", "Fabre", "Aubert", "Lemoine", "Renaud", "Dumas", "Lacroix",
    "Olivier", "Philippe", "Bourgeois", "Pierre", "Benoît", "Rey", "Leclerc", "Payet", "Rolland",
    "Leclercq", "Guillaume", "Lecomte", "Lopez", "Jean", "Dupuy", "Guillot", "Hubert", "Berger",
    "Carpentier", "Sanchez", "Dupuis", "Moulin", "Louis", "Deschamps", "Huet", "Vasseur", "Perez",
    "Boucher", "Fleury", "Royer", "Klein", "Jacquet", "Adam", "Paris", "Poirier", "Marty",
    "Aubry", "Guyot", "Carré", "Charles", "Renault", "Charpentier", "Ménard", "Maillard", "Baron",
    "Bertin", "Bailly", "Hervé", "Schneider", "Fernandez", "Le Gall", "Collet", "Léger", "Bouvier",
    "Julien", "Prévost", "Millet", "Perrot", "Daniel", "Le Roux", "Cousin", "Germain", "Breton",
    "Besson", "Langlois", "Rémy", "Le Goff", "Pelletier", "Lévêque", "Perrier", "Leblanc",
    "Barré", "Lebrun", "Marchal", "Weber", "Mallet", "Hamon", "Boulanger", "Jacob", "Monnier",
    "Michaud", "Rodriguez", "Guichard", "Gillet", "Étienne", "Grondin", "Poulain", "Tessier",
    "Chevallier", "Collin", "Chauvin", "Da Silva", "Bouchet", "Gay", "Lemaître", "Bénard",
    "Maréchal", "Humbert", "Reynaud", "Antoine", "Hoarau", "Perret", "Barthélemy", "Cordier",
    "Pichon", "Lejeune", "Gilbert", "Lamy", "Delaunay", "Pasquier", "Carlier", "Laporte",
    "Dos Santos", "Ferreira", "Benoit", "Martins", "Pereira", "Rodrigues", "Gomes", "Lopes",
    "Haddad", "Benali", "Bensaïd", "Belkacem", "Mansouri", "Brahimi", "Saïdi", "Cherif",
    "Nguyen", "Tran", "Diallo", "Traoré", "Diop", "Ndiaye", "Camara", "Kone", "Yilmaz",
    "Kaya", "Schmidt", "Wagner", "Rossi", "Russo", "Ferrari", "Kowalski", "Popescu",
    "D'Almeida", "N'Diaye", "Saint-Martin", "Le Bihan", "Le Floch", "Quéré", "Abgrall",
    "Etcheverry", "Irigoyen", "Casanova", "Santoni", "Pietri", "Bonnefoy", "Vial", "Chabert",
    "Barret", "Guillon", "Verdier", "Raynaud", "Delmas", "Couderc", "Bousquet", "Castel",
)

FEMALE_GIVEN_NAMES: tuple[str, ...] = (
    "Marie", "Nathalie", "Isabelle", "Sylvie", "Catherine", "Françoise", "Martine", "Christine",
    "Sandrine", "Valérie", "Céline", "Stéphanie", "Sophie", "Véronique", "Aurélie", "Julie",
    "Émilie", "Camille", "Laura", "Sarah", "Léa", "Manon", "Chloé", "Emma", "Inès", "Jade",
    "Louise", "Alice", "Lina", "Zoé", "Anna", "Lucie", "Clara", "Juliette", "Mathilde", "Pauline",
    "Marine", "Charlotte", "Élodie", "Audrey", "Caroline", "Mélanie", "Virginie", "Laetitia",
    "Hélène", "Anne", "Monique", "Jacqueline", "Nicole", "Michèle", "Danielle", "Brigitte",
    "Chantal", "Josiane", "Annie", "Christiane", "Dominique", "Patricia", "Corinne", "Florence",
    "Karine", "Agnès", "Bernadette", "Colette", "Geneviève", "Jeanne", "Yvette", "Denise",
    "Madeleine", "Odette", "Simone", "Suzanne", "Thérèse", "Paulette", "Ginette", "Claudine",
    "Marion", "Anaïs", "Océane", "Justine", "Margaux", "Amandine", "Morgane", "Elsa", "Eva",
    "Romane", "Ambre", "Rose", "Agathe", "Margot", "Victoire", "Mila", "Nina", "Léna", "Lou",
    "Salomé", "Noémie", "Maëlys", "Yasmine", "Fatima", "Amina", "Sarra", "Nour", "Aïcha",
    "Marie-Claire", "Anne-Sophie", "Marie-Hélène", "Marie-Christine", "Héloïse", "Capucine",
    "Apolline", "Constance", "Gabrielle", "Bérénice", "Solène", "Gaëlle", "Armelle", "Nadia",
    "Samia", "Leïla", "Linh", "Mai", "Awa", "Fatou", "Ana", "Joana", "Giulia", "Elif",
)

MALE_GIVEN_NAMES: tuple[str, ...] = (
    "Jean", "Pierre", "Michel", "André", "Philippe", "Alain", "Jacques", "Bernard", "Patrick",
    "Christophe", "Nicolas", "Daniel", "Frédéric", "Laurent", "Stéphane", "Éric", "David",
    "Julien", "Sébastien", "Thomas", "Alexandre", "Olivier", "François", "Christian", "Gérard",
    "Thierry", "Pascal", "Vincent", "Jérôme", "Dominique", "Maxime", "Antoine", "Guillaume",
    "Romain", "Kevin", "Anthony", "Mathieu", "Benjamin", "Hugo", "Lucas", "Léo", "Louis",
    "Gabriel", "Arthur", "Jules", "Adam", "Raphaël", "Paul", "Nathan", "Ethan", "Noah", "Tom",
    "Théo", "Mathis", "Enzo", "Clément", "Baptiste", "Valentin", "Quentin", "Florian", "Adrien",
    "Damien", "Cédric", "Fabrice", "Yves", "Claude", "Roger", "René", "Marcel", "Robert",
    "Henri", "Louis-Marie", "Jean-Pierre", "Jean-Luc", "Jean-Claude", "Jean-François",
    "Jean-Marc", "Marc", "Didier", "Bruno", "Serge", "Gilles", "Denis", "Hervé", "Franck",
    "Joël", "Noël", "Gaël", "Loïc", "Yann", "Erwan", "Mickaël", "Cyril", "Arnaud", "Samuel",
    "Victor", "Martin", "Sacha", "Timéo", "Nolan", "Évan", "Axel", "Robin", "Simon", "Aurélien",
    "Mohamed", "Ahmed", "Karim", "Yassine", "Mehdi", "Rayan", "Sofiane", "Bilal", "Ibrahim",
    "Moussa", "Mamadou", "Ousmane", "Minh", "Duc", "João", "Paulo", "Luca", "Marco", "Emre",
    "Mathéo", "Côme", "Augustin", "Gaspard", "Émile", "Célestin", "Lazare", "Séraphin",
)
# fmt: on

# (COG code, label, relative weight). Communes first, then countries of birth (99xxx).
BIRTHPLACES: tuple[tuple[str, str, int], ...] = (
    ("75056", "Paris", 120),
    ("13055", "Marseille", 50),
    ("69123", "Lyon", 45),
    ("31555", "Toulouse", 30),
    ("06088", "Nice", 20),
    ("44109", "Nantes", 18),
    ("34172", "Montpellier", 17),
    ("67482", "Strasbourg", 17),
    ("33063", "Bordeaux", 16),
    ("59350", "Lille", 15),
    ("35238", "Rennes", 13),
    ("51454", "Reims", 10),
    ("83137", "Toulon", 10),
    ("42218", "Saint-Étienne", 10),
    ("76351", "Le Havre", 9),
    ("38185", "Grenoble", 9),
    ("21231", "Dijon", 8),
    ("49007", "Angers", 8),
    ("30189", "Nîmes", 8),
    ("69266", "Villeurbanne", 8),
    ("63113", "Clermont-Ferrand", 8),
    ("72181", "Le Mans", 8),
    ("13001", "Aix-en-Provence", 8),
    ("29019", "Brest", 8),
    ("37261", "Tours", 7),
    ("80021", "Amiens", 7),
    ("87085", "Limoges", 7),
    ("74010", "Annecy", 6),
    ("66136", "Perpignan", 6),
    ("57463", "Metz", 6),
    ("25056", "Besançon", 6),
    ("45234", "Orléans", 6),
    ("76540", "Rouen", 6),
    ("14118", "Caen", 6),
    ("68224", "Mulhouse", 6),
    ("54395", "Nancy", 5),
    ("86194", "Poitiers", 5),
    ("64445", "Pau", 4),
    ("17300", "La Rochelle", 4),
    ("92012", "Boulogne-Billancourt", 6),
    ("93066", "Saint-Denis", 6),
    ("93048", "Montreuil", 5),
    ("94028", "Créteil", 5),
    ("92050", "Nanterre", 5),
    ("78646", "Versailles", 5),
    ("95018", "Argenteuil", 5),
    ("59512", "Roubaix", 5),
    ("59599", "Tourcoing", 4),
    ("59183", "Dunkerque", 4),
    ("62041", "Arras", 3),
    ("84007", "Avignon", 4),
    ("64102", "Bayonne", 3),
    ("73065", "Chambéry", 3),
    ("01053", "Bourg-en-Bresse", 3),
    ("26362", "Valence", 3),
    ("69259", "Vénissieux", 3),
    ("69029", "Bron", 2),
    ("10387", "Troyes", 3),
    ("18033", "Bourges", 3),
    ("56260", "Vannes", 3),
    ("29232", "Quimper", 3),
    ("22278", "Saint-Brieuc", 2),
    ("85191", "La Roche-sur-Yon", 3),
    ("24322", "Périgueux", 2),
    ("19272", "Tulle", 1),
    ("2A004", "Ajaccio", 3),
    ("2B033", "Bastia", 2),
    ("97411", "Saint-Denis (La Réunion)", 6),
    ("97209", "Fort-de-France", 4),
    ("97101", "Les Abymes", 3),
    ("97302", "Cayenne", 2),
    ("99350", "Maroc", 16),
    ("99352", "Algérie", 16),
    ("99351", "Tunisie", 7),
    ("99139", "Portugal", 9),
    ("99127", "Italie", 4),
    ("99134", "Espagne", 4),
    ("99109", "Allemagne", 3),
    ("99131", "Belgique", 3),
    ("99132", "Royaume-Uni", 2),
    ("99341", "Sénégal", 4),
    ("99208", "Turquie", 4),
    ("99243", "Viêt Nam", 2),
    ("99216", "Chine", 2),
    ("99114", "Roumanie", 3),
    ("99122", "Pologne", 2),
    ("99404", "États-Unis", 1),
)

# Higher education institutions a student may be enrolled in: (UAI, name, COG code, commune).
INSTITUTIONS: tuple[tuple[str, str, str, str], ...] = (
    ("0691774D", "Université Claude Bernard Lyon 1", "69266", "Villeurbanne"),
    ("0691775E", "Université Lumière Lyon 2", "69123", "Lyon"),
    ("0692437Z", "Université Jean Moulin Lyon 3", "69123", "Lyon"),
    ("0383546Y", "Université Grenoble Alpes", "38185", "Grenoble"),
    ("0134009M", "Aix-Marseille Université", "13055", "Marseille"),
    ("0333298F", "Université de Bordeaux", "33063", "Bordeaux"),
    ("0673021V", "Université de Strasbourg", "67482", "Strasbourg"),
    ("0597239Y", "Université de Lille", "59350", "Lille"),
    ("0755890V", "Sorbonne Université", "75056", "Paris"),
    ("0921204J", "Université Paris Nanterre", "92050", "Nanterre"),
)


@dataclass(frozen=True, slots=True)
class DemoProfile:
    index: int
    sexe: str
    age: int
    datasets: frozenset[str]
    situation_famille: str
    nombre_enfants: int
    role: str


DEMO_PROFILES: tuple[DemoProfile, ...] = (
    DemoProfile(
        0,
        "F",
        22,
        frozenset(DATASETS),
        "Célibataire",
        1,
        "Known to all five datasets: enrolled student and grant holder, single parent with a CAF "
        "family quotient, her own tax notice, registered with France Travail (part-time work).",
    ),
    DemoProfile(
        1,
        "M",
        41,
        frozenset({QF, AVIS, DEMANDEUR}),
        "Marié(e)",
        2,
        "Adult taxpayer, married with two children: CAF family quotient, tax notice, jobseeker.",
    ),
    DemoProfile(
        2,
        "F",
        67,
        frozenset({AVIS}),
        "Veuf(ve)",
        0,
        "Few records: a retired widow known only to the tax administration.",
    ),
    DemoProfile(
        3,
        "M",
        17,
        frozenset({ETUDIANT}),
        "Célibataire",
        0,
        "A 17-year-old first-year student: student status only (no tax notice of his own, no grant).",
    ),
)
_DEMO_BY_INDEX: Mapping[int, DemoProfile] = {profile.index: profile for profile in DEMO_PROFILES}


@dataclass(frozen=True, slots=True)
class Person:
    index: int
    nom_naissance: str
    prenoms: tuple[str, ...]
    sexe: str
    date_naissance: date
    code_cog_lieu_naissance: str
    commune_naissance: str
    datasets: frozenset[str]

    def age(self, on: date = REFERENCE_DATE) -> int:
        born = self.date_naissance
        return on.year - born.year - ((on.month, on.day) < (born.month, born.day))

    def pivot_identity(self) -> dict[str, Any]:
        """The subject as the provider contract expects it in a request body."""
        return {
            "nom_naissance": self.nom_naissance,
            "prenoms": list(self.prenoms),
            "date_naissance": self.date_naissance.isoformat(),
            "sexe": self.sexe,
            "code_cog_lieu_naissance": self.code_cog_lieu_naissance,
        }

    def as_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            **self.pivot_identity(),
            "commune_naissance": self.commune_naissance,
            "datasets": sorted(self.datasets),
        }


@dataclass(frozen=True, slots=True)
class Household:
    situation_famille: str
    enfants: tuple[tuple[str, date, str], ...]


_LIGATURES = str.maketrans({"œ": "oe", "Œ": "oe", "æ": "ae", "Æ": "ae", "-": " ", "'": " ", "’": " "})


def canonical_name(value: str) -> str:
    """Case-, accent- and punctuation-insensitive form of a name (how civil-status matching works)."""
    decomposed = unicodedata.normalize("NFKD", value.translate(_LIGATURES))
    stripped = "".join(char for char in decomposed if not unicodedata.combining(char))
    return " ".join(stripped.casefold().split())


def _cumulative(weights: Sequence[float]) -> list[float]:
    return list(itertools.accumulate(weights))


def _rank_weights(count: int) -> list[float]:
    # Zipf-like: the most common names are markedly more common, as in real registers.
    return [1.0 / (rank + 8) for rank in range(count)]


def _age_weight(age: int) -> float:
    if age < 25:
        return 1.0
    if age < 65:
        return 1.2
    if age < 80:
        return 0.9
    return 0.45


AGES: tuple[int, ...] = tuple(range(16, 91))
_AGE_CUM = _cumulative([_age_weight(age) for age in AGES])
_SURNAME_CUM = _cumulative(_rank_weights(len(SURNAMES)))
_FEMALE_CUM = _cumulative(_rank_weights(len(FEMALE_GIVEN_NAMES)))
_MALE_CUM = _cumulative(_rank_weights(len(MALE_GIVEN_NAMES)))
_BIRTHPLACE_CUM = _cumulative([weight for _, _, weight in BIRTHPLACES])
_CANON_SURNAMES = tuple(canonical_name(name) for name in SURNAMES)
_CANON_FEMALE = tuple(canonical_name(name) for name in FEMALE_GIVEN_NAMES)
_CANON_MALE = tuple(canonical_name(name) for name in MALE_GIVEN_NAMES)


def _birth_window(age: int) -> tuple[int, int]:
    """(first ordinal, day count) of the birth dates giving `age` on REFERENCE_DATE."""
    latest = REFERENCE_DATE.replace(year=REFERENCE_DATE.year - age)
    earliest = REFERENCE_DATE.replace(year=REFERENCE_DATE.year - age - 1) + timedelta(days=1)
    return earliest.toordinal(), (latest - earliest).days + 1


_BIRTH_WINDOWS: Mapping[int, tuple[int, int]] = {age: _birth_window(age) for age in range(92)}


def _student_chance(age: int) -> float:
    if age == 17:
        return 0.25
    if 18 <= age <= 22:
        return 0.6
    if 23 <= age <= 25:
        return 0.35
    if 26 <= age <= 28:
        return 0.15
    if 29 <= age <= 45:
        return 0.02
    return 0.0


def _family_allowance_chance(age: int, student: bool) -> float:
    if age < 18:
        return 0.0
    if age < 25:
        return 0.3 if student else 0.25
    if age < 60:
        return 0.5
    if age < 76:
        return 0.15
    return 0.0


def _draw_datasets(age: int, draws: Sequence[float]) -> tuple[bool, bool, bool, bool, bool]:
    student = draws[0] < _student_chance(age)
    grant = student and age <= 28 and draws[1] < 0.37
    if age < 18:
        taxpayer = False
    elif student and age <= 24:
        taxpayer = draws[2] < 0.45
    else:
        taxpayer = draws[2] < 0.93
    jobseeker = 18 <= age <= 64 and draws[3] < (0.02 if student else 0.08)
    allowance = draws[4] < _family_allowance_chance(age, student)
    return allowance, taxpayer, student, grant, jobseeker


class Population:
    def __init__(self, size: int = 1000, seed: int = 2026) -> None:
        if not MIN_SIZE <= size <= MAX_SIZE:
            raise ValueError(f"size must be between {MIN_SIZE} and {MAX_SIZE}")
        self.size = size
        self.seed = seed
        self._index: dict[tuple[str, str, date, str, str], int] = {}
        self.people: tuple[Person, ...] = self._generate()

    def __len__(self) -> int:
        return self.size

    def __iter__(self) -> Iterator[Person]:
        return iter(self.people)

    def __getitem__(self, index: int) -> Person:
        return self.people[index]

    def _generate(self) -> tuple[Person, ...]:
        rng = random.Random(f"sandbox-population:{self.seed}")
        uniform = rng.random
        dataset_sets: dict[tuple[bool, ...], frozenset[str]] = {}
        people: list[Person] = []
        for index in range(self.size):
            demo = _DEMO_BY_INDEX.get(index)
            sexe = demo.sexe if demo else ("F" if uniform() < 0.515 else "M")
            age = demo.age if demo else AGES[bisect.bisect(_AGE_CUM, uniform() * _AGE_CUM[-1])]
            first_ordinal, span = _BIRTH_WINDOWS[age]
            birth_ordinal = first_ordinal + int(uniform() * span)
            surname_at = bisect.bisect(_SURNAME_CUM, uniform() * _SURNAME_CUM[-1])
            pool, canon_pool, cum = (
                (FEMALE_GIVEN_NAMES, _CANON_FEMALE, _FEMALE_CUM)
                if sexe == "F"
                else (MALE_GIVEN_NAMES, _CANON_MALE, _MALE_CUM)
            )
            roll = uniform()
            wanted = 1 if roll < 0.35 else (2 if roll < 0.8 else 3)
            given: list[int] = []
            while len(given) < wanted:
                pick = bisect.bisect(cum, uniform() * cum[-1])
                if pick not in given:
                    given.append(pick)
            code, label, _ = BIRTHPLACES[bisect.bisect(_BIRTHPLACE_CUM, uniform() * _BIRTHPLACE_CUM[-1])]
            draws = (uniform(), uniform(), uniform(), uniform(), uniform())
            if demo:
                datasets = demo.datasets
            else:
                flags = _draw_datasets(age, draws)
                datasets = dataset_sets.get(flags) or dataset_sets.setdefault(
                    flags, frozenset(slug for slug, member in zip(DATASETS, flags, strict=True) if member)
                )
            # Two people must never share a lookup key; nudging the birth date keeps it unique
            # while staying deterministic.
            key = (_CANON_SURNAMES[surname_at], canon_pool[given[0]], date.fromordinal(birth_ordinal), sexe, code)
            while key in self._index:
                birth_ordinal -= 1
                key = (key[0], key[1], date.fromordinal(birth_ordinal), sexe, code)
            self._index[key] = index
            people.append(
                Person(
                    index=index,
                    nom_naissance=SURNAMES[surname_at],
                    prenoms=tuple(pool[at] for at in given),
                    sexe=sexe,
                    date_naissance=key[2],
                    code_cog_lieu_naissance=code,
                    commune_naissance=label,
                    datasets=datasets,
                )
            )
        return tuple(people)

    def find(
        self,
        nom_naissance: str,
        prenoms: Sequence[str] | str,
        date_naissance: date | str,
        sexe: str,
        code_cog: str,
    ) -> Person | None:
        """The person with this pivot identity, or None.

        Names match whatever their case, accents, hyphens or apostrophes; the first given name
        must match, further given names are optional but must belong to the person if sent.
        Birth date, sex and birthplace code must match exactly.
        """
        names = [prenoms] if isinstance(prenoms, str) else list(prenoms)
        if not names:
            return None
        if isinstance(date_naissance, str):
            try:
                date_naissance = date.fromisoformat(date_naissance)
            except ValueError:
                return None
        key = (canonical_name(nom_naissance), canonical_name(names[0]), date_naissance, sexe, code_cog.upper())
        found = self._index.get(key)
        if found is None:
            return None
        person = self.people[found]
        others = {canonical_name(name) for name in person.prenoms[1:]}
        if any(canonical_name(name) not in others for name in names[1:]):
            return None
        return person

    def record(self, person: Person, slug: str) -> dict[str, Any] | None:
        """Every field of attestation type `slug` for `person`; None if that dataset lacks them."""
        build = _RECORD_BUILDERS[slug]
        if slug not in person.datasets:
            return None
        return build(self, person)

    def household(self, person: Person) -> Household:
        rng = random.Random(f"{self.seed}:{person.index}:household")
        age = person.age()
        demo = _DEMO_BY_INDEX.get(person.index)
        if demo:
            situation, children = demo.situation_famille, demo.nombre_enfants
        else:
            situation, children = _draw_household(rng, age)
        enfants = []
        for _ in range(children):
            child_age = rng.randint(0, max(0, min(20, age - 18)))
            first_ordinal, span = _BIRTH_WINDOWS[child_age]
            sexe = rng.choice("FM")
            prenom = rng.choice(FEMALE_GIVEN_NAMES if sexe == "F" else MALE_GIVEN_NAMES)
            enfants.append((prenom, date.fromordinal(first_ordinal + rng.randrange(span)), sexe))
        enfants.sort(key=lambda child: child[1])
        return Household(situation, tuple(enfants))

    def institution(self, person: Person) -> tuple[str, str, str, str]:
        # Shared by the MESR and CNOUS records so that both name the same institution.
        return random.Random(f"{self.seed}:{person.index}:institution").choice(INSTITUTIONS)


def _draw_household(rng: random.Random, age: int) -> tuple[str, int]:
    roll = rng.random()
    if age < 25:
        situation = "Célibataire" if roll < 0.9 else ("Pacsé(e)" if roll < 0.98 else "Marié(e)")
        children = 1 if rng.random() < 0.1 else 0
    elif age < 65:
        if roll < 0.3:
            situation = "Célibataire"
        elif roll < 0.65:
            situation = "Marié(e)"
        elif roll < 0.8:
            situation = "Pacsé(e)"
        elif roll < 0.95 or age < 45:
            situation = "Divorcé(e)"
        else:
            situation = "Veuf(ve)"
        weights = (30, 25, 30, 12, 3) if age <= 55 else (70, 20, 10, 0, 0)
        children = rng.choices(range(5), weights=weights)[0]
    else:
        situation = rng.choices(("Marié(e)", "Veuf(ve)", "Divorcé(e)", "Célibataire"), weights=(50, 30, 10, 10))[0]
        children = 0
    return situation, children


def _tax_shares(situation: str, children: int) -> float:
    couple = situation in ("Marié(e)", "Pacsé(e)")
    shares = 2.0 if couple else 1.0
    shares += 0.5 * min(children, 2) + 1.0 * max(children - 2, 0)
    if children and not couple:
        # Case T (parent isolé) for singles, divorcees; widowers with children keep the couple's base.
        shares += 1.0 if situation == "Veuf(ve)" else 0.5
    return shares


# Income tax scale applied to 2024 income (loi de finances pour 2025), per share.
_TAX_BRACKETS: tuple[tuple[int, float], ...] = ((11_497, 0.0), (29_315, 0.11), (83_823, 0.30), (180_294, 0.41))


def _income_tax(taxable: int, shares: float) -> int:
    per_share = taxable / shares
    tax, floor = 0.0, 0
    for ceiling, rate in _TAX_BRACKETS:
        tax += max(0.0, min(per_share, ceiling) - floor) * rate
        floor = ceiling
    tax += max(0.0, per_share - floor) * 0.45
    total = int(tax * shares)
    # Below 61 € the tax is not collected (CGI art. 1657).
    return total if total >= 61 else 0


def _iso(value: date | None) -> str | None:
    return value.isoformat() if value else None


def _record_quotient_familial(population: Population, person: Person) -> dict[str, Any]:
    rng = random.Random(f"{population.seed}:{person.index}:{QF}")
    household = population.household(person)
    centre = 480 if ETUDIANT in person.datasets else 760
    qf = int(min(3500, max(40, rng.lognormvariate(log(centre), 0.5))))
    previous_month = REFERENCE_DATE.replace(day=1) - timedelta(days=1)
    return {
        "quotient_familial": qf,
        "fournisseur": "MSA" if rng.random() < 0.06 else "CNAF",
        "annee": REFERENCE_DATE.year,
        "mois": REFERENCE_DATE.month,
        "annee_calcul": previous_month.year,
        "mois_calcul": previous_month.month,
        "nombre_enfants": len(household.enfants),
        "enfants": [
            {"prenoms": prenom, "date_naissance": born.isoformat(), "sexe": sexe}
            for prenom, born, sexe in household.enfants
        ],
    }


def _record_avis_imposition(population: Population, person: Person) -> dict[str, Any]:
    rng = random.Random(f"{population.seed}:{person.index}:{AVIS}")
    household = population.household(person)
    age = person.age()
    couple = household.situation_famille in ("Marié(e)", "Pacsé(e)")
    if ETUDIANT in person.datasets and age <= 25:
        centre = 5_000.0
    elif age >= 65:
        centre = 21_000.0
    else:
        centre = 26_000.0
    reference_income = int(rng.lognormvariate(log(centre * (1.8 if couple else 1.0)), 0.55))
    taxable = int(reference_income * rng.uniform(0.94, 1.0))
    shares = _tax_shares(household.situation_famille, len(household.enfants))
    tax_year = REFERENCE_DATE.year - 1
    return {
        "annee_revenus": tax_year - 1,
        "annee_impots": tax_year,
        "revenu_fiscal_reference": reference_income,
        "revenu_brut_global": taxable + rng.randrange(0, 900),
        "revenu_imposable": taxable,
        "montant_impot": _income_tax(taxable, shares),
        "nombre_parts": shares,
        "situation_famille": household.situation_famille,
        "nombre_personnes_charge": len(household.enfants),
        "date_etablissement": date(tax_year, 7, rng.randint(1, 28)).isoformat(),
        "date_recouvrement": date(tax_year, 7, 31).isoformat(),
    }


def _academic_year() -> tuple[date, date]:
    start_year = REFERENCE_DATE.year if REFERENCE_DATE.month >= 9 else REFERENCE_DATE.year - 1
    return date(start_year, 9, 1), date(start_year + 1, 8, 31)


def _record_statut_etudiant(population: Population, person: Person) -> dict[str, Any]:
    rng = random.Random(f"{population.seed}:{person.index}:{ETUDIANT}")
    uai, name, commune_code, _ = population.institution(person)
    start, end = _academic_year()
    continuing = person.age() >= 26 and rng.random() < 0.6
    return {
        # Demo citizens take the happy path: enrolled, not merely admitted.
        "est_inscrit": rng.random() < 0.92 or person.index in _DEMO_BY_INDEX,
        "date_debut": start.isoformat(),
        "date_fin": end.isoformat(),
        "regime_formation": (
            {"code": "RF5", "libelle": "formation continue"}
            if continuing
            else {"code": "RF1", "libelle": "formation initiale"}
        ),
        "etablissement_etudes": {"uai": uai, "nom": name},
        "code_cog_insee_commune": commune_code,
    }


_ECHELONS = ("0bis", "1", "2", "3", "4", "5", "6", "7")
_ECHELON_WEIGHTS = (30, 12, 10, 10, 10, 10, 10, 8)


def _record_etudiant_boursier(population: Population, person: Person) -> dict[str, Any]:
    rng = random.Random(f"{population.seed}:{person.index}:{BOURSIER}")
    _, name, _, commune = population.institution(person)
    start, _ = _academic_year()
    return {
        "est_boursier": True,
        "echelon_bourse": rng.choices(_ECHELONS, weights=_ECHELON_WEIGHTS)[0],
        "echelon_bourse_regionale_provisoire": rng.random() < 0.05,
        "statut_bourse": "provisoire" if rng.random() < 0.1 else "definitif",
        "periode_versement_bourse": {"date_rentree": start.isoformat(), "duree": 10},
        "etablissement_etudes": {"nom_etablissement": name, "nom_commune": commune},
    }


# France Travail's administrative categories of jobseekers (A = 1-3, B/C within 5 for the
# sandbox's purposes); labels as France Travail returns them.
_CATEGORIES: Mapping[int, str] = {
    1: "PERSONNE SANS EMPLOI DISPONIBLE DUREE INDETERMINEE PLEIN TPS",
    2: "PERSONNE SANS EMPLOI DISPONIBLE DUREE INDETERMINEE PARTIEL",
    3: "PERSONNE SANS EMPLOI DISPONIBLE DUREE DETERMINEE OU SAISONNIER",
    4: "PERSONNE SANS EMPLOI NON DISPONIBLE IMMEDIATEMENT",
    5: "PERSONNE POURVUE D'UN EMPLOI A LA RECHERCHE D'UN AUTRE EMPLOI",
}


def _record_statut_demandeur_emploi(population: Population, person: Person) -> dict[str, Any]:
    rng = random.Random(f"{population.seed}:{person.index}:{DEMANDEUR}")
    registered = REFERENCE_DATE - timedelta(days=rng.randint(20, 900))
    ended: date | None = None
    if rng.random() < 0.15 and person.index not in _DEMO_BY_INDEX:
        ended = min(REFERENCE_DATE - timedelta(days=1), registered + timedelta(days=rng.randint(30, 400)))
    part_time_student = ETUDIANT in person.datasets
    category = 2 if part_time_student else rng.choices((1, 2, 3, 4, 5), weights=(55, 12, 8, 10, 15))[0]
    return {
        "identifiant": f"{rng.randrange(10**7):07d}{rng.choice(ascii_uppercase)}",
        "est_inscrit": ended is None,
        "date_debut_inscription": registered.isoformat(),
        "date_fin_inscription": _iso(ended),
        "code_categorie_inscription": category,
        "libelle_categorie_inscription": _CATEGORIES[category],
        "code_certification_cnav": "VC",
    }


_RECORD_BUILDERS: Mapping[str, Callable[[Population, Person], dict[str, Any]]] = {
    QF: _record_quotient_familial,
    AVIS: _record_avis_imposition,
    ETUDIANT: _record_statut_etudiant,
    BOURSIER: _record_etudiant_boursier,
    DEMANDEUR: _record_statut_demandeur_emploi,
}
if set(_RECORD_BUILDERS) != {spec.slug for spec in PERSON_TYPES}:
    raise RuntimeError("every catalogue attestation type about people needs a record builder")


def demo_citizens(population: Population) -> list[Person]:
    """The four people the demo and the end-to-end tests log in as.

    0. a 22-year-old woman known to all five datasets (student, grant holder, single parent
       with a CAF quotient, her own tax notice, part-time jobseeker);
    1. a 41-year-old married man with two children: CAF quotient, tax notice, jobseeker;
    2. a 67-year-old widow known only to the DGFiP;
    3. a 17-year-old student known only to the MESR.
    Names, birth dates and birthplaces come from the seed like everyone else's.
    """
    return [population.people[profile.index] for profile in DEMO_PROFILES]
