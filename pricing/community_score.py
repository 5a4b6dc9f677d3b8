"""The community score of an upstream project: can a public buyer rely on the people behind it? (pure, no database)

A score out of 100, the sum of eight parts. Each part grows with one input up to a cap, then stays at its
maximum, so no single signal can carry the score alone:

| part | input | full marks at | max |
|---|---|---|---|
| firms | partner firms practising one of the project's skills | 5 firms | 20 |
| upstream | those firms that are contributors, maintainers or editors of it | 3 firms | 20 |
| days | days of work delivered to the project in the last 12 months | 60 days | 15 |
| money | money paid to the project in the last 12 months | 20,000 € | 15 |
| contracts | contracts in force that depend on it | 3 contracts | 10 |
| contributors | active contributors (a signal entered or imported) | 20 people | 10 |
| releases | releases in the last 12 months (a signal) | 4 releases | 5 |
| recency | time since the last release (a signal) | within 6 months | 5 |

The first six parts are linear up to their cap; recency is a step: 5 points when the last release is at
most 183 days old, 2.5 up to 365 days, 0 beyond. The network's own involvement (firms, work, money,
contracts: 80 points) weighs more than the outside signals (20 points), because it is what the guichet
can vouch for; a signal nobody entered scores 0 and reads "non renseigné", it never counts against the
project more than its absence. Each part is rounded half-up to one decimal and the total is the sum of
the rounded parts, so the table shown always adds up to the score. Every part is non-decreasing in its
input (recency: non-increasing in the days since the release), hence so is the total.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from django.utils.formats import number_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from consortium.money import from_cents
from consortium.templatetags.guichet import money

TENTH = Decimal("0.1")
MAX_TOTAL = 100
FIRMS_FULL, FIRMS_MAX = 5, 20
UPSTREAM_FULL, UPSTREAM_MAX = 3, 20
DAYS_FULL, DAYS_MAX = Decimal(60), 15
MONEY_FULL_CENTS, MONEY_MAX = 2_000_000, 15
CONTRACTS_FULL, CONTRACTS_MAX = 3, 10
CONTRIBUTORS_FULL, CONTRIBUTORS_MAX = 20, 10
RELEASES_FULL, RELEASES_MAX = 4, 5
RECENT_DAYS, RECENT_POINTS = 183, Decimal(5)
YEAR_DAYS, YEAR_POINTS = 365, Decimal("2.5")
RECENCY_MAX = 5

FORMULA_TEXT = gettext_lazy(
    "Le score va de 0 à 100. C'est la somme de huit parts, chacune plafonnée : "
    "20 points pour le nombre d'entreprises partenaires qui pratiquent le logiciel (plein à 5 entreprises) ; "
    "20 points pour celles qui en sont contributrices, mainteneuses ou éditrices (plein à 3) ; "
    "15 points pour les jours de travail livrés au projet sur les 12 derniers mois (plein à 60 jours) ; "
    "15 points pour l'argent versé au projet sur les 12 derniers mois (plein à 20 000 €) ; "
    "10 points pour les marchés en cours qui en dépendent (plein à 3 marchés) ; "
    "10 points pour les contributeurs actifs du projet (plein à 20 personnes) ; "
    "5 points pour les versions publiées sur les 12 derniers mois (plein à 4 versions) ; "
    "5 points si la dernière version a moins de 6 mois, 2,5 si elle a moins d'un an, 0 au-delà. "
    "Chaque part croît en proportion de son indicateur jusqu'à son plafond. Un indicateur non renseigné "
    "vaut 0 point. L'engagement du réseau (entreprises, travail, argent, marchés) compte pour 80 points, "
    "les signaux observés sur le projet pour 20."
)

# How each part is earned, in a few words, for the table of the parts.
RULES = {
    "firms": gettext_lazy("entreprises partenaires qui pratiquent le logiciel ; plein à 5"),
    "upstream": gettext_lazy("dont contributrices, mainteneuses ou éditrices du projet ; plein à 3"),
    "days": gettext_lazy("jours de travail livrés sur 12 mois ; plein à 60 jours"),
    "money": gettext_lazy("argent versé au projet sur 12 mois ; plein à 20 000 €"),
    "contracts": gettext_lazy("marchés en cours qui en dépendent ; plein à 3"),
    "contributors": gettext_lazy("contributeurs actifs du projet ; plein à 20"),
    "releases": gettext_lazy("versions publiées sur 12 mois ; plein à 4"),
    "recency": gettext_lazy("ancienneté de la dernière version : 5 points sous 6 mois, 2,5 sous un an"),
}


@dataclass(frozen=True)
class ScoreInputs:
    supporting_firms: int
    maintainers_or_contributors: int
    days_12m: Decimal
    money_12m_cents: int
    contracts: int
    active_contributors: int | None = None
    releases_12m: int | None = None
    days_since_release: int | None = None


@dataclass(frozen=True)
class ScorePart:
    key: str
    label: str
    value: str  # the input, as text ("non renseigné" for a missing signal)
    points: Decimal  # one decimal
    max_points: int


@dataclass(frozen=True)
class Score:
    total: Decimal  # one decimal, 0.0 to 100.0
    parts: tuple[ScorePart, ...]


def community_score(inputs: ScoreInputs) -> Score:
    """The score and its parts; negative inputs count as zero."""
    firms, upstream = max(inputs.supporting_firms, 0), max(inputs.maintainers_or_contributors, 0)
    contracts = max(inputs.contracts, 0)
    contributors, releases = inputs.active_contributors, inputs.releases_12m
    since = inputs.days_since_release
    parts = (
        ScorePart(
            "firms",
            _("Entreprises partenaires qui le pratiquent"),
            ngettext("%(n)s entreprise", "%(n)s entreprises", firms) % {"n": _number(firms)},
            _linear(Decimal(firms), Decimal(FIRMS_FULL), FIRMS_MAX),
            FIRMS_MAX,
        ),
        ScorePart(
            "upstream",
            _("Dont contributrices, mainteneuses ou éditrices"),
            ngettext("%(n)s entreprise", "%(n)s entreprises", upstream) % {"n": _number(upstream)},
            _linear(Decimal(upstream), Decimal(UPSTREAM_FULL), UPSTREAM_MAX),
            UPSTREAM_MAX,
        ),
        ScorePart(
            "days",
            _("Jours de travail livrés (12 mois)"),
            _("%(n)s j") % {"n": _number(max(inputs.days_12m, Decimal(0)))},
            _linear(inputs.days_12m, DAYS_FULL, DAYS_MAX),
            DAYS_MAX,
        ),
        ScorePart(
            "money",
            _("Argent versé au projet (12 mois)"),
            money(from_cents(max(inputs.money_12m_cents, 0)), "EUR"),
            _linear(Decimal(inputs.money_12m_cents), Decimal(MONEY_FULL_CENTS), MONEY_MAX),
            MONEY_MAX,
        ),
        ScorePart(
            "contracts",
            _("Marchés en cours qui en dépendent"),
            ngettext("%(n)s marché", "%(n)s marchés", contracts) % {"n": _number(contracts)},
            _linear(Decimal(contracts), Decimal(CONTRACTS_FULL), CONTRACTS_MAX),
            CONTRACTS_MAX,
        ),
        ScorePart(
            "contributors",
            _("Contributeurs actifs du projet"),
            _not_entered()
            if contributors is None
            else ngettext("%(n)s personne", "%(n)s personnes", contributors) % {"n": _number(contributors)},
            _signal(contributors, CONTRIBUTORS_FULL, CONTRIBUTORS_MAX),
            CONTRIBUTORS_MAX,
        ),
        ScorePart(
            "releases",
            _("Versions publiées (12 mois)"),
            _not_entered()
            if releases is None
            else ngettext("%(n)s version", "%(n)s versions", releases) % {"n": _number(releases)},
            _signal(releases, RELEASES_FULL, RELEASES_MAX),
            RELEASES_MAX,
        ),
        ScorePart(
            "recency",
            _("Dernière version publiée il y a"),
            _not_entered()
            if since is None
            else ngettext("%(n)s jour", "%(n)s jours", max(since, 0)) % {"n": _number(max(since, 0))},
            _recency(since),
            RECENCY_MAX,
        ),
    )
    return Score(total=sum((part.points for part in parts), Decimal("0.0")), parts=parts)


def _linear(value: Decimal, full: Decimal, max_points: int) -> Decimal:
    """max_points × min(value / full, 1), never below 0, half-up to one decimal."""
    share = min(max(value, Decimal(0)) / full, Decimal(1))
    return (share * max_points).quantize(TENTH, rounding=ROUND_HALF_UP)


def _recency(days: int | None) -> Decimal:
    if days is None:
        return Decimal("0.0")
    if days <= RECENT_DAYS:
        return RECENT_POINTS.quantize(TENTH)
    if days <= YEAR_DAYS:
        return YEAR_POINTS.quantize(TENTH)
    return Decimal("0.0")


def _signal(value: int | None, full: int, max_points: int) -> Decimal:
    return Decimal("0.0") if value is None else _linear(Decimal(value), Decimal(full), max_points)


def _number(value: Decimal | int) -> str:
    """'12,5' or '1 200' in French: no storage zeros."""
    value = Decimal(value)
    exact = value.quantize(Decimal(1)) if value == value.to_integral_value() else value.normalize()
    places = max(0, -int(exact.as_tuple().exponent))
    return number_format(exact, decimal_pos=places, use_l10n=True, force_grouping=True)


def _not_entered() -> str:
    return _("non renseigné")
