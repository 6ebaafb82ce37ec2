"""The demo administrations and their attestation types, as plain data.

This is the single definition of the seven sandbox providers, the two demo consumers and the
eight attestation types they publish (five about people, three about companies). The Django seed
turns it into `Organisation` and `AttestationType` rows; the sandbox provider serves records shaped
by it. Nothing here imports Django.

Field names follow API Particulier v3 (snake_case, e.g. `quotient_familial`, `echelon_bourse`,
`regime_formation`), and API Entreprise for companies (`entity_status`, `date_fin_validite`,
`mandataires_sociaux`), flattened one level where the upstream API nests a single value, so that a
field stays the unit of data minimisation a citizen consents to.

The SIRETs are fictional but Luhn-valid (SIREN and SIRET both): the sandbox must never be mistaken
for the real administrations' registry entries.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from providers.siret import siret_is_valid

OrganisationKind = Literal["state_service", "local_authority", "social_security", "public_operator"]
JsonType = Literal["string", "integer", "number", "boolean", "array", "object"]
EidasLevel = Literal["eidas1", "eidas2", "eidas3"]
SubjectKind = Literal["person", "company"]

EIDAS_LEVELS: tuple[EidasLevel, ...] = ("eidas1", "eidas2", "eidas3")


@dataclass(frozen=True, slots=True)
class OrganisationSpec:
    code: str
    name: str
    kind: OrganisationKind
    siret: str
    dpo_email: str
    is_provider: bool
    # A consumer's registered return-URL origins (where its consent requests may send citizens back).
    return_url_origins: tuple[str, ...] = ()

    @property
    def siren(self) -> str:
        return self.siret[:9]


@dataclass(frozen=True, slots=True)
class FieldSpec:
    name: str
    label_fr: str
    label_en: str
    type: JsonType
    format: str | None = None
    nullable: bool = False
    enum: tuple[Any, ...] | None = None
    # Sub-fields of an object, or the item shape of an array; labels serve the consent screen.
    properties: tuple[FieldSpec, ...] = ()
    items: FieldSpec | None = None
    # How people read the value (annotations the validator ignores): "money" (euros), "month"
    # (1 to 12), "hidden" (a code beside its own label), "place" (an INSEE code of a commune or a
    # country, shown by its name); and the names of enumerated codes.
    display: str | None = None
    value_labels: Mapping[Any, tuple[str, str]] | None = None

    def json_schema(self) -> dict[str, Any]:
        schema: dict[str, Any] = {"type": [self.type, "null"] if self.nullable else self.type}
        if self.display:
            schema["x-display"] = self.display
        if self.value_labels:
            schema["x-value-labels"] = {str(code): {"fr": fr, "en": en} for code, (fr, en) in self.value_labels.items()}
        if self.format:
            schema["format"] = self.format
        if self.enum is not None:
            schema["enum"] = [*self.enum, None] if self.nullable else list(self.enum)
        if self.properties:
            schema["properties"] = {sub.name: sub.json_schema() | sub.label_schema() for sub in self.properties}
            schema["required"] = [sub.name for sub in self.properties]
            schema["additionalProperties"] = False
        if self.items is not None:
            schema["items"] = self.items.json_schema()
        return schema

    def label_schema(self) -> dict[str, Any]:
        """A sub-field's labels, which the top-level fields keep in their own columns."""
        return {"x-label": {"fr": self.label_fr, "en": self.label_en}}


@dataclass(frozen=True, slots=True)
class Purpose:
    code: str
    label_fr: str
    label_en: str
    dpv_iri: str


@dataclass(frozen=True, slots=True)
class LegalBasis:
    text_fr: str
    text_en: str
    reference: str
    url: str


@dataclass(frozen=True, slots=True)
class AttestationTypeSpec:
    slug: str
    holder: str
    title_fr: str
    title_en: str
    description_fr: str
    description_en: str
    fields: tuple[FieldSpec, ...]
    min_eidas_level: EidasLevel
    legal_basis: LegalBasis
    purposes: tuple[str, ...]
    subject_kind: SubjectKind = "person"
    _by_name: Mapping[str, FieldSpec] = dataclasses.field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_name", {spec.name: spec for spec in self.fields})

    @property
    def field_names(self) -> tuple[str, ...]:
        return tuple(spec.name for spec in self.fields)

    def field(self, name: str) -> FieldSpec:
        return self._by_name[name]

    def has_field(self, name: str) -> bool:
        return name in self._by_name

    def accepted_purposes(self) -> tuple[Purpose, ...]:
        return tuple(PURPOSES[code] for code in self.purposes)

    def json_schema(self, field_names: tuple[str, ...] | list[str] | None = None) -> dict[str, Any]:
        """JSON Schema of a `fields` object; restricted to `field_names` when given."""
        names = self.field_names if field_names is None else tuple(field_names)
        return {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "type": "object",
            "properties": {name: self.field(name).json_schema() for name in names},
            "required": list(names),
            "additionalProperties": False,
        }


# Every demo purpose is a public service the citizen asked for, hence DPV ServiceProvision.
SERVICE_PROVISION = "https://w3id.org/dpv#ServiceProvision"

PURPOSES: Mapping[str, Purpose] = {
    purpose.code: purpose
    for purpose in (
        Purpose(
            "tarification-sociale",
            "Tarification sociale des services publics locaux (cantine, crèche, centre de loisirs, transports)",
            "Means-tested pricing of local public services (school canteen, nursery, leisure centre, transport)",
            SERVICE_PROVISION,
        ),
        Purpose(
            "aide-logement",
            "Instruction d'une aide au logement ou d'une demande de logement social",
            "Processing a housing benefit or social housing application",
            SERVICE_PROVISION,
        ),
        Purpose(
            "bourse-scolaire",
            "Instruction d'une bourse ou d'une aide à la scolarité",
            "Processing a school or study grant",
            SERVICE_PROVISION,
        ),
        Purpose(
            "aide-sociale-facultative",
            "Instruction d'une aide sociale facultative (centre communal d'action sociale)",
            "Processing a discretionary social aid (municipal social action centre)",
            SERVICE_PROVISION,
        ),
        Purpose(
            "tarif-etudiant",
            "Accès à un tarif ou à un service réservé aux étudiants",
            "Access to a student rate or student-only service",
            SERVICE_PROVISION,
        ),
        Purpose(
            "marche-public",
            "Candidature à un marché public : vérification des obligations sociales et fiscales du candidat",
            "Public tender application: checking the bidder's social and tax obligations",
            # A public buyer's legal obligation (code de la commande publique), not a service asked for.
            "https://w3id.org/dpv#LegalCompliance",
        ),
        Purpose(
            "transport-solidaire",
            "Tarif solidaire des transports pour les demandeurs d'emploi et les ménages modestes",
            "Reduced public transport fare for jobseekers and low-income households",
            SERVICE_PROVISION,
        ),
    )
}

# Article L. 114-8 CRPA is the "Dites-le-nous une fois" rule itself: an administration obtains
# directly from another the data it needs instead of asking the citizen for it; GDPR art. 6.1.e
# is the lawful basis of the processing on both sides.
DLNUF_LEGAL_BASIS_URL = "https://www.legifrance.gouv.fr/codes/article_lc/LEGIARTI000031367412"
DLNUF_TEXT_FR = (
    "Échange de données entre administrations à la demande de l'usager : article L. 114-8 du code "
    "des relations entre le public et l'administration ; mission d'intérêt public (RGPD, art. 6.1.e)."
)
DLNUF_TEXT_EN = (
    "Data exchange between administrations at the user's request: article L. 114-8 of the French "
    "Code of relations between the public and the administration; public task (GDPR art. 6(1)(e))."
)


def _dlnuf_basis(extra_reference: str) -> LegalBasis:
    return LegalBasis(
        text_fr=DLNUF_TEXT_FR,
        text_en=DLNUF_TEXT_EN,
        reference=f"CRPA art. L. 114-8 ; RGPD art. 6.1.e ; {extra_reference}",
        url=DLNUF_LEGAL_BASIS_URL,
    )


ORGANISATIONS: tuple[OrganisationSpec, ...] = (
    OrganisationSpec(
        code="cnaf",
        name="Caisse nationale des allocations familiales",
        kind="social_security",
        siret="18003502400017",
        dpo_email="dpo@cnaf.sandbox.invalid",
        is_provider=True,
    ),
    OrganisationSpec(
        code="dgfip",
        name="Direction générale des Finances publiques",
        kind="state_service",
        siret="13000501000017",
        dpo_email="dpo@dgfip.sandbox.invalid",
        is_provider=True,
    ),
    OrganisationSpec(
        code="mesr",
        name="Ministère de l'Enseignement supérieur et de la Recherche",
        kind="state_service",
        siret="11004340300010",
        dpo_email="dpo@mesr.sandbox.invalid",
        is_provider=True,
    ),
    OrganisationSpec(
        code="cnous",
        name="Centre national des œuvres universitaires et scolaires",
        kind="public_operator",
        siret="18004301000016",
        dpo_email="dpo@cnous.sandbox.invalid",
        is_provider=True,
    ),
    OrganisationSpec(
        code="france-travail",
        name="France Travail",
        kind="public_operator",
        siret="13000545700010",
        dpo_email="dpo@france-travail.sandbox.invalid",
        is_provider=True,
    ),
    OrganisationSpec(
        code="urssaf",
        name="Urssaf Caisse nationale",
        kind="social_security",
        siret="18003550300010",
        dpo_email="dpo@urssaf.sandbox.invalid",
        is_provider=True,
    ),
    OrganisationSpec(
        code="inpi",
        name="Institut national de la propriété industrielle (registre national des entreprises)",
        kind="public_operator",
        siret="13000310600015",
        dpo_email="dpo@inpi.sandbox.invalid",
        is_provider=True,
    ),
    OrganisationSpec(
        code="mairie-villeurbanne",
        name="Mairie de Villeurbanne",
        kind="local_authority",
        siret="21690266800013",
        dpo_email="dpo@mairie-villeurbanne.sandbox.invalid",
        is_provider=False,
        return_url_origins=("https://demarches.villeurbanne.fr",),
    ),
    OrganisationSpec(
        code="cd-rhone",
        name="Conseil départemental du Rhône",
        kind="local_authority",
        siret="22690001700014",
        dpo_email="dpo@cd-rhone.sandbox.invalid",
        is_provider=False,
    ),
)

ORGANISATIONS_BY_CODE: Mapping[str, OrganisationSpec] = {org.code: org for org in ORGANISATIONS}
PROVIDERS: tuple[OrganisationSpec, ...] = tuple(org for org in ORGANISATIONS if org.is_provider)
CONSUMERS: tuple[OrganisationSpec, ...] = tuple(org for org in ORGANISATIONS if not org.is_provider)

QUOTIENT_FAMILIAL = AttestationTypeSpec(
    slug="cnaf.quotient-familial",
    holder="cnaf",
    title_fr="Quotient familial CAF / MSA",
    title_en="Family quotient (CAF / MSA)",
    description_fr=(
        "Quotient familial calculé par la CAF ou la MSA pour un mois donné, avec la composition "
        "de la famille allocataire. Sert à la tarification sociale des services municipaux."
    ),
    description_en=(
        "Family quotient computed by the CAF or the MSA for a given month, with the composition of "
        "the beneficiary family. Used for means-tested pricing of municipal services."
    ),
    fields=(
        FieldSpec("quotient_familial", "Quotient familial (€)", "Family quotient (€)", "integer", display="money"),
        FieldSpec(
            "fournisseur",
            "Régime (CAF ou MSA)",
            "Scheme (CAF or MSA)",
            "string",
            enum=("CNAF", "MSA"),
            value_labels={
                "CNAF": ("Caisse d'allocations familiales (CAF)", "Family allowance fund (CAF)"),
                "MSA": ("Mutualité sociale agricole (MSA)", "Agricultural social insurance (MSA)"),
            },
        ),
        FieldSpec("annee", "Année du quotient", "Year of the quotient", "integer"),
        FieldSpec("mois", "Mois du quotient", "Month of the quotient", "integer", display="month"),
        FieldSpec("annee_calcul", "Année de calcul", "Year of computation", "integer"),
        FieldSpec("mois_calcul", "Mois de calcul", "Month of computation", "integer", display="month"),
        FieldSpec("nombre_enfants", "Nombre d'enfants à charge", "Number of dependent children", "integer"),
        FieldSpec(
            "enfants",
            "Enfants à charge",
            "Dependent children",
            "array",
            items=FieldSpec(
                "enfant",
                "Enfant",
                "Child",
                "object",
                properties=(
                    FieldSpec("prenoms", "Prénoms", "Given names", "string"),
                    FieldSpec("date_naissance", "Date de naissance", "Date of birth", "string", format="date"),
                    FieldSpec(
                        "sexe",
                        "Sexe",
                        "Sex",
                        "string",
                        enum=("F", "M"),
                        value_labels={"F": ("Féminin", "Female"), "M": ("Masculin", "Male")},
                    ),
                ),
            ),
        ),
    ),
    min_eidas_level="eidas1",
    legal_basis=_dlnuf_basis("code de la sécurité sociale (prestations familiales)"),
    purposes=("tarification-sociale", "aide-sociale-facultative", "aide-logement"),
)

AVIS_IMPOSITION = AttestationTypeSpec(
    slug="dgfip.avis-imposition",
    holder="dgfip",
    title_fr="Avis d'impôt sur le revenu",
    title_en="Income tax notice",
    description_fr=(
        "Éléments de l'avis d'impôt sur le revenu du foyer fiscal : revenu fiscal de référence, "
        "nombre de parts, situation de famille, année des revenus."
    ),
    description_en=(
        "Items of the household's income tax notice: reference taxable income, number of tax "
        "shares, family situation, income year."
    ),
    fields=(
        FieldSpec("annee_revenus", "Année des revenus", "Income year", "integer"),
        FieldSpec("annee_impots", "Année d'imposition", "Tax year", "integer"),
        FieldSpec(
            "revenu_fiscal_reference",
            "Revenu fiscal de référence (€)",
            "Reference taxable income (€)",
            "integer",
            display="money",
        ),
        FieldSpec("revenu_brut_global", "Revenu brut global (€)", "Gross total income (€)", "integer", display="money"),
        FieldSpec("revenu_imposable", "Revenu imposable (€)", "Taxable income (€)", "integer", display="money"),
        FieldSpec("montant_impot", "Montant de l'impôt (€)", "Tax amount (€)", "integer", display="money"),
        FieldSpec("nombre_parts", "Nombre de parts", "Number of tax shares", "number"),
        FieldSpec(
            "situation_famille",
            "Situation de famille",
            "Family situation",
            "string",
            enum=("Célibataire", "Marié(e)", "Pacsé(e)", "Divorcé(e)", "Veuf(ve)"),
            value_labels={
                "Célibataire": ("Célibataire", "Single"),
                "Marié(e)": ("Marié(e)", "Married"),
                "Pacsé(e)": ("Pacsé(e)", "In a civil partnership"),
                "Divorcé(e)": ("Divorcé(e)", "Divorced"),
                "Veuf(ve)": ("Veuf(ve)", "Widowed"),
            },
        ),
        FieldSpec(
            "nombre_personnes_charge",
            "Nombre de personnes à charge",
            "Number of dependants",
            "integer",
        ),
        FieldSpec("date_etablissement", "Date d'établissement", "Date of assessment", "string", format="date"),
        FieldSpec("date_recouvrement", "Date de mise en recouvrement", "Collection date", "string", format="date"),
    ),
    min_eidas_level="eidas2",
    legal_basis=_dlnuf_basis("livre des procédures fiscales, art. L. 103 (secret professionnel)"),
    purposes=("tarification-sociale", "aide-logement", "bourse-scolaire", "aide-sociale-facultative"),
)

STATUT_ETUDIANT = AttestationTypeSpec(
    slug="mesr.statut-etudiant",
    holder="mesr",
    title_fr="Statut étudiant",
    title_en="Student status",
    description_fr=(
        "Inscription ou admission dans un établissement d'enseignement supérieur pour l'année "
        "universitaire en cours : régime de formation, établissement, commune des études."
    ),
    description_en=(
        "Enrolment or admission in a higher education institution for the current academic year: "
        "study regime, institution, municipality of study."
    ),
    fields=(
        FieldSpec("est_inscrit", "Inscrit (et non seulement admis)", "Enrolled (not only admitted)", "boolean"),
        FieldSpec("date_debut", "Début de l'année de formation", "Start of the academic year", "string", format="date"),
        FieldSpec("date_fin", "Fin de l'année de formation", "End of the academic year", "string", format="date"),
        FieldSpec(
            "regime_formation",
            "Régime de formation",
            "Study regime",
            "object",
            properties=(
                FieldSpec("code", "Code", "Code", "string", display="hidden"),
                FieldSpec("libelle", "Libellé", "Label", "string"),
            ),
        ),
        FieldSpec(
            "etablissement_etudes",
            "Établissement d'études",
            "Institution",
            "object",
            properties=(
                FieldSpec("uai", "Code UAI", "UAI code", "string"),
                FieldSpec("nom", "Nom", "Name", "string"),
            ),
        ),
        FieldSpec(
            "code_cog_insee_commune",
            "Commune des études",
            "Municipality of study",
            "string",
            display="place",
        ),
    ),
    min_eidas_level="eidas1",
    legal_basis=_dlnuf_basis("code de l'éducation (inscription dans l'enseignement supérieur)"),
    purposes=("tarif-etudiant", "tarification-sociale", "aide-logement", "transport-solidaire"),
)

ETUDIANT_BOURSIER = AttestationTypeSpec(
    slug="cnous.etudiant-boursier",
    holder="cnous",
    title_fr="Statut d'étudiant boursier",
    title_en="Scholarship student status",
    description_fr=(
        "Bourse sur critères sociaux de l'enseignement supérieur : échelon, statut de la décision, "
        "période de versement et établissement d'études."
    ),
    description_en=(
        "Higher education means-tested grant: level (échelon), status of the decision, payment period and institution."
    ),
    fields=(
        FieldSpec("est_boursier", "Boursier", "Grant holder", "boolean"),
        FieldSpec(
            "echelon_bourse",
            "Échelon de bourse",
            "Grant level",
            "string",
            enum=("0bis", "1", "2", "3", "4", "5", "6", "7"),
        ),
        FieldSpec(
            "echelon_bourse_regionale_provisoire",
            "Échelon provisoire de bourse régionale",
            "Provisional regional grant level",
            "boolean",
        ),
        FieldSpec(
            "statut_bourse",
            "Statut de la décision de bourse",
            "Status of the grant decision",
            "string",
            enum=("definitif", "provisoire"),
            value_labels={"definitif": ("Définitive", "Final"), "provisoire": ("Provisoire", "Provisional")},
        ),
        FieldSpec(
            "periode_versement_bourse",
            "Période de versement",
            "Payment period",
            "object",
            properties=(
                FieldSpec("date_rentree", "Date de rentrée", "Start date", "string", format="date"),
                FieldSpec("duree", "Durée (mois)", "Duration (months)", "integer"),
            ),
        ),
        FieldSpec(
            "etablissement_etudes",
            "Établissement d'études",
            "Institution",
            "object",
            properties=(
                FieldSpec("nom_etablissement", "Nom de l'établissement", "Institution name", "string"),
                FieldSpec("nom_commune", "Commune", "Municipality", "string"),
            ),
        ),
    ),
    min_eidas_level="eidas1",
    legal_basis=_dlnuf_basis("code de l'éducation, art. L. 821-1 (bourses de l'enseignement supérieur)"),
    purposes=("tarif-etudiant", "tarification-sociale", "bourse-scolaire", "aide-logement", "transport-solidaire"),
)

STATUT_DEMANDEUR_EMPLOI = AttestationTypeSpec(
    slug="france-travail.statut-demandeur-emploi",
    holder="france-travail",
    title_fr="Statut de demandeur d'emploi",
    title_en="Jobseeker status",
    description_fr=(
        "Inscription sur la liste des demandeurs d'emploi de France Travail : dates et catégorie d'inscription."
    ),
    description_en="Registration on France Travail's jobseeker list: dates and registration category.",
    fields=(
        FieldSpec("identifiant", "Identifiant France Travail", "France Travail identifier", "string"),
        FieldSpec("est_inscrit", "Inscrit à ce jour", "Currently registered", "boolean"),
        FieldSpec("date_debut_inscription", "Date d'inscription", "Registration date", "string", format="date"),
        FieldSpec(
            "date_fin_inscription",
            "Date de cessation d'inscription",
            "Deregistration date",
            "string",
            format="date",
            nullable=True,
        ),
        FieldSpec(
            "code_categorie_inscription",
            "Catégorie d'inscription",
            "Registration category",
            "integer",
            enum=(1, 2, 3, 4, 5),
            # France Travail's categories (arrêté du 5 février 1992), as a person reads them.
            value_labels={
                1: (
                    "1 : sans emploi, disponible, cherchant un emploi durable à temps plein",
                    "1: unemployed, available, seeking a lasting full-time job",
                ),
                2: (
                    "2 : sans emploi, disponible, cherchant un emploi durable à temps partiel",
                    "2: unemployed, available, seeking a lasting part-time job",
                ),
                3: (
                    "3 : sans emploi, disponible, cherchant un emploi temporaire ou saisonnier",
                    "3: unemployed, available, seeking temporary or seasonal work",
                ),
                4: ("4 : sans emploi, pas immédiatement disponible", "4: unemployed, not available at once"),
                5: ("5 : en emploi, cherchant un autre emploi", "5: in work, seeking another job"),
            },
        ),
        FieldSpec(
            "libelle_categorie_inscription",
            "Libellé de la catégorie",
            "Category label",
            "string",
        ),
        FieldSpec(
            "code_certification_cnav",
            "Certification de l'identité par la CNAV",
            "Identity certified by the CNAV",
            "string",
            value_labels={"VC": ("Identité certifiée", "Identity certified")},
        ),
    ),
    min_eidas_level="eidas1",
    legal_basis=_dlnuf_basis("code du travail, art. L. 5411-1 (inscription sur la liste des demandeurs d'emploi)"),
    purposes=("transport-solidaire", "tarification-sociale", "aide-sociale-facultative"),
)

# --- Companies (API Entreprise's field names) ------------------------------------------------
# A company's attestations are asked for by public buyers (Marché public simplifié): code de la
# commande publique, art. R. 2143-6 to R. 2143-10 and R. 2144-1 to R. 2144-4, say which
# certificates a bidder owes and that the buyer obtains them directly when it can.
_TENDER_BASIS = (
    "code de la commande publique, art. R. 2143-6 à R. 2143-10 et R. 2144-4 (obligations sociales et fiscales)"
)

ATTESTATION_VIGILANCE = AttestationTypeSpec(
    slug="urssaf.attestation-vigilance",
    holder="urssaf",
    title_fr="Attestation de vigilance (Urssaf)",
    title_en="Social contributions certificate (Urssaf vigilance certificate)",
    description_fr=(
        "L'entreprise est à jour de ses déclarations et de ses cotisations sociales : statut, "
        "période de validité et code de sécurité de l'attestation."
    ),
    description_en=(
        "The company is up to date with its social security returns and contributions: status, "
        "validity period and the certificate's security code."
    ),
    fields=(
        FieldSpec(
            "entity_status",
            "Statut de l'attestation",
            "Certificate status",
            "object",
            properties=(
                FieldSpec("code", "Code", "Code", "string", display="hidden"),
                FieldSpec("libelle", "Libellé", "Label", "string"),
            ),
        ),
        FieldSpec("date_debut_validite", "Valable à partir du", "Valid from", "string", format="date"),
        FieldSpec("date_fin_validite", "Valable jusqu'au", "Valid until", "string", format="date"),
        FieldSpec("code_securite", "Code de sécurité", "Security code", "string"),
    ),
    min_eidas_level="eidas1",
    legal_basis=_dlnuf_basis(_TENDER_BASIS),
    purposes=("marche-public",),
    subject_kind="company",
)

ATTESTATION_FISCALE = AttestationTypeSpec(
    slug="dgfip.attestation-fiscale",
    holder="dgfip",
    title_fr="Attestation de régularité fiscale",
    title_en="Tax compliance certificate",
    description_fr=(
        "L'entreprise a souscrit ses déclarations fiscales et payé ses impôts exigibles : date de "
        "délivrance et période analysée."
    ),
    description_en="The company has filed its tax returns and paid the taxes due: date issued and period checked.",
    fields=(
        FieldSpec("date_delivrance_attestation", "Délivrée le", "Issued on", "string", format="date"),
        FieldSpec("date_periode_analysee", "Situation au", "Situation as of", "string", format="date"),
    ),
    min_eidas_level="eidas1",
    legal_basis=_dlnuf_basis(_TENDER_BASIS),
    purposes=("marche-public",),
    subject_kind="company",
)

MANDATAIRES_SOCIAUX = AttestationTypeSpec(
    slug="inpi.mandataires-sociaux",
    holder="inpi",
    title_fr="Mandataires sociaux (registre national des entreprises)",
    title_en="Company officers (national companies register)",
    description_fr=(
        "Les personnes qui représentent légalement l'entreprise selon le registre national des "
        "entreprises : nom, prénoms, date et lieu de naissance, fonction."
    ),
    description_en=(
        "The people who legally represent the company according to the national companies "
        "register: name, given names, date and place of birth, office."
    ),
    fields=(
        FieldSpec(
            "mandataires_sociaux",
            "Mandataires sociaux",
            "Company officers",
            "array",
            items=FieldSpec(
                "mandataire",
                "Mandataire",
                "Officer",
                "object",
                properties=(
                    FieldSpec("type", "Type", "Kind", "string", display="hidden"),
                    FieldSpec("nom", "Nom", "Surname", "string"),
                    FieldSpec("prenoms", "Prénoms", "Given names", "string"),
                    FieldSpec("date_naissance", "Date de naissance", "Date of birth", "string", format="date"),
                    FieldSpec(
                        "code_insee_lieu_naissance",
                        "Lieu de naissance (code INSEE)",
                        "Place of birth (INSEE code)",
                        "string",
                        display="hidden",
                    ),
                    FieldSpec("fonction", "Fonction", "Office", "string"),
                ),
            ),
        ),
    ),
    min_eidas_level="eidas1",
    legal_basis=_dlnuf_basis("code de commerce, art. R. 123-220 et suivants (registre national des entreprises)"),
    purposes=("marche-public",),
    subject_kind="company",
)

ATTESTATION_TYPES: tuple[AttestationTypeSpec, ...] = (
    QUOTIENT_FAMILIAL,
    AVIS_IMPOSITION,
    STATUT_ETUDIANT,
    ETUDIANT_BOURSIER,
    STATUT_DEMANDEUR_EMPLOI,
    ATTESTATION_VIGILANCE,
    ATTESTATION_FISCALE,
    MANDATAIRES_SOCIAUX,
)
PERSON_TYPES: tuple[AttestationTypeSpec, ...] = tuple(s for s in ATTESTATION_TYPES if s.subject_kind == "person")
COMPANY_TYPES: tuple[AttestationTypeSpec, ...] = tuple(s for s in ATTESTATION_TYPES if s.subject_kind == "company")
# The register the gateway asks, at the time someone acts for a company, whether they represent it.
REGISTER_SLUG = MANDATAIRES_SOCIAUX.slug
ATTESTATION_TYPES_BY_SLUG: Mapping[str, AttestationTypeSpec] = {spec.slug: spec for spec in ATTESTATION_TYPES}


def organisation(code: str) -> OrganisationSpec:
    return ORGANISATIONS_BY_CODE[code]


def attestation_type(slug: str) -> AttestationTypeSpec:
    return ATTESTATION_TYPES_BY_SLUG[slug]


def catalogue_problems() -> list[str]:
    """Inconsistencies in the data above; empty when the catalogue is sound (checked by tests)."""
    problems: list[str] = []
    for org in ORGANISATIONS:
        if not siret_is_valid(org.siret):
            problems.append(f"{org.code}: invalid SIRET")
    for spec in ATTESTATION_TYPES:
        holder, _, name = spec.slug.partition(".")
        if holder != spec.holder or not name:
            problems.append(f"{spec.slug}: slug must be <holder>.<name>")
        if spec.holder not in ORGANISATIONS_BY_CODE or not organisation(spec.holder).is_provider:
            problems.append(f"{spec.slug}: holder is not a provider")
        if spec.min_eidas_level not in EIDAS_LEVELS:
            problems.append(f"{spec.slug}: unknown eIDAS level")
        if len(set(spec.field_names)) != len(spec.fields):
            problems.append(f"{spec.slug}: duplicate field names")
        problems.extend(f"{spec.slug}: unknown purpose {code}" for code in spec.purposes if code not in PURPOSES)
    return problems
