"""Reads of firms and skills, scoped to what the user may see: the one scoping helper lives here."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db.models import (
    Case,
    CharField,
    Count,
    DecimalField,
    Exists,
    IntegerField,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Sum,
    TextField,
    Value,
    When,
)
from django.db.models.functions import Cast, Coalesce
from django.utils.text import slugify
from django.utils.translation import gettext as _
from guardian.shortcuts import get_objects_for_user

from consortium.roles import STAFF_ROLES, Role, user_role
from consortium.services import cpv_level
from consortium.text import fold

from .models import (
    Attestation,
    AttestationKind,
    CapacityMonth,
    Contact,
    FirmSkill,
    LevelRate,
    Membership,
    PartnerFirm,
    Reference,
    Skill,
    SkillLevel,
)

FIRM_EDITORS = frozenset({Role.BID_MANAGER, Role.ADMIN})


def firms_for(user: Any, *, action: str = "view") -> QuerySet[PartnerFirm]:
    """The firms `user` may `view` or `change`; every page, export and API endpoint goes through here.

    The guichet's staff see every firm (bid managers and admins may also edit them); a partner user
    sees only the firms it holds an object permission on, never through a global permission.
    """
    role = user_role(user)
    if role in FIRM_EDITORS or (action == "view" and role in STAFF_ROLES):
        return PartnerFirm.objects.all()
    if role != Role.PARTNER:
        return PartnerFirm.objects.none()
    return get_objects_for_user(
        user, f"partners.{action}_partnerfirm", klass=PartnerFirm, accept_global_perms=False, with_superuser=False
    )


def can_edit_firm(user: Any, firm: PartnerFirm) -> bool:
    return firms_for(user, action="change").filter(pk=firm.pk).exists()


def firm_of(user: Any) -> PartnerFirm | None:
    """The firm a partner user belongs to, if any."""
    if not getattr(user, "is_authenticated", False):
        return None
    membership = Membership.objects.filter(user_id=user.pk).select_related("firm").first()
    return membership.firm if membership else None


# --- The directory, the firm profile, the export rows and the skill catalogue -----------------------------

FIRM_READERS = (Role.BID_MANAGER, Role.FINANCE, Role.ADMIN, Role.PARTNER)
FIRM_WRITERS = (Role.BID_MANAGER, Role.ADMIN, Role.PARTNER)
DIRECTORY_MONTHS = 3  # "free capacity" in the directory: the current month and the next two
PLANNING_MONTHS = 12
EXPIRY_WARNING_DAYS = 30
DAYS = DecimalField(max_digits=9, decimal_places=1)


def month_starts(today: dt.date, count: int) -> list[dt.date]:
    """The first day of `count` months, starting with the month holding `today`."""
    months = []
    for offset in range(count):
        index = today.month - 1 + offset
        months.append(dt.date(today.year + index // 12, index % 12 + 1, 1))
    return months


def normalize_cpv_prefix(text: str) -> str:
    """'72000000-8' -> '72', '72260000' -> '7226': the significant digits of a CPV code used as a prefix."""
    digits = text.strip().split("-")[0].strip()
    if not digits.isdigit() or not 2 <= len(digits) <= 8:
        return ""
    return digits[: cpv_level(digits.ljust(8, "0"))]


def _with_cpv_prefix(queryset: QuerySet[Any], prefix: str) -> QuerySet[Any]:
    # cpv_codes is a JSON list of strings: as text every code follows a double quote, on SQLite and PostgreSQL.
    return queryset.annotate(cpv_text=Cast("cpv_codes", TextField())).filter(cpv_text__contains=f'"{prefix}')


def _count_of(related: QuerySet[Any]) -> Coalesce:
    counted = related.order_by().values("firm").annotate(total=Count("pk")).values("total")
    return Coalesce(Subquery(counted, output_field=IntegerField()), 0)


def _free_days(months: list[dt.date]) -> Coalesce:
    """Days the firm offers over `months` (CapacityMonth rows), 0 when it has said nothing."""
    rows = CapacityMonth.objects.filter(firm=OuterRef("pk"), month__in=months).order_by().values("firm")
    total = rows.annotate(total=Sum("days")).values("total")
    return Coalesce(Subquery(total, output_field=DAYS), Value(Decimal(0)), output_field=DAYS)


@dataclass(frozen=True)
class DirectoryFilters:
    skill: Skill | None = None
    min_level: int | None = None
    cpv_prefix: str = ""  # already normalized
    region: str = ""
    min_free_days: Decimal | None = None
    search: str = ""


def firm_directory(user: Any, filters: DirectoryFilters, *, today: dt.date) -> QuerySet[PartnerFirm]:
    """The firms `user` may see that match `filters`, with what a directory row shows, in a fixed number of queries.

    Annotations: free_days (next DIRECTORY_MONTHS months), attestation_count, expired_attestations and
    attestation_state ('expired', 'incomplete': a kind missing, or 'valid');
    `skill_list` holds the firm's skills, highest level first.
    """
    firms = firms_for(user)
    if filters.search:
        firms = firms.filter(Q(name__icontains=filters.search) | Q(city__icontains=filters.search))
    if filters.region:
        firms = firms.filter(region=filters.region)
    if filters.skill is not None or filters.min_level is not None:
        held = FirmSkill.objects.filter(firm=OuterRef("pk"))
        if filters.skill is not None:
            held = held.filter(skill=filters.skill)
        if filters.min_level is not None:
            held = held.filter(level__gte=filters.min_level)
        firms = firms.filter(Exists(held))
    if filters.cpv_prefix:
        skills = _with_cpv_prefix(Skill.objects.all(), filters.cpv_prefix).values("pk")
        by_skill = Exists(FirmSkill.objects.filter(firm=OuterRef("pk"), skill__in=skills))
        by_reference = Exists(_with_cpv_prefix(Reference.objects.filter(firm=OuterRef("pk")), filters.cpv_prefix))
        firms = firms.filter(by_skill | by_reference)
    firms = firms.annotate(
        free_days=_free_days(month_starts(today, DIRECTORY_MONTHS)),
        attestation_count=_count_of(Attestation.objects.filter(firm=OuterRef("pk"))),
        expired_attestations=_count_of(Attestation.objects.filter(firm=OuterRef("pk"), valid_until__lt=today)),
    ).annotate(
        attestation_state=Case(
            When(expired_attestations__gt=0, then=Value("expired")),
            When(attestation_count__lt=len(AttestationKind.choices), then=Value("incomplete")),
            default=Value("valid"),
            output_field=CharField(),
        )
    )
    if filters.min_free_days is not None:
        firms = firms.filter(free_days__gte=filters.min_free_days)
    ranked_skills = FirmSkill.objects.select_related("skill").order_by("-level", "skill__name")
    return firms.prefetch_related(Prefetch("skills", queryset=ranked_skills, to_attr="skill_list")).order_by(
        "name", "pk"
    )


def attestation_status(valid_until: dt.date, *, today: dt.date) -> str:
    """'expired', 'expiring' (within EXPIRY_WARNING_DAYS) or 'valid'."""
    if valid_until < today:
        return "expired"
    if valid_until <= today + dt.timedelta(days=EXPIRY_WARNING_DAYS):
        return "expiring"
    return "valid"


@dataclass(frozen=True)
class CapacityBar:
    month: dt.date
    days: Decimal
    percent: int  # of the busiest month shown, for the bar's height


@dataclass(frozen=True)
class AttestationLine:
    attestation: Attestation
    status: str
    days_left: int


@dataclass(frozen=True)
class FirmProfile:
    firm: PartnerFirm
    skills: list[FirmSkill]
    level_rates: list[LevelRate]
    capacity: list[CapacityBar]
    free_days: Decimal
    attestations: list[AttestationLine]
    missing_attestations: list[str]
    references: list[Reference]
    contacts: list[Contact]
    members: list[str]


def capacity_plan(firm: PartnerFirm, *, today: dt.date, months: int = PLANNING_MONTHS) -> dict[dt.date, Decimal]:
    """Days offered per month from the current month on; a month without a row offers 0."""
    starts = month_starts(today, months)
    offered = dict(firm.capacity.filter(month__in=starts).values_list("month", "days"))
    return {month: offered.get(month, Decimal(0)) for month in starts}


def firm_profile(firm: PartnerFirm, *, today: dt.date) -> FirmProfile:
    """Everything the firm page shows, one query per table."""
    plan = capacity_plan(firm, today=today)
    busiest = max(plan.values(), default=Decimal(0))
    bars = [CapacityBar(month, days, int(days * 100 / busiest) if busiest else 0) for month, days in plan.items()]
    attestations = [
        AttestationLine(item, attestation_status(item.valid_until, today=today), (item.valid_until - today).days)
        for item in firm.attestations.all()
    ]
    present = {line.attestation.kind for line in attestations}
    return FirmProfile(
        firm=firm,
        skills=list(firm.skills.select_related("skill")),
        level_rates=list(firm.level_rates.all()),
        capacity=bars,
        free_days=sum((bar.days for bar in bars[:DIRECTORY_MONTHS]), Decimal(0)),
        attestations=attestations,
        missing_attestations=[str(label) for kind, label in AttestationKind.choices if kind not in present],
        references=list(firm.references.all()),
        contacts=list(firm.contacts.all()),
        members=list(firm.memberships.order_by("user__username").values_list("user__username", flat=True)),
    )


def directory_rows(firms: QuerySet[PartnerFirm]) -> Iterator[list[Any]]:
    """The export: one row per firm of a `firm_directory` queryset, header first. Values, not formatting."""
    yield [
        str(_("Raison sociale")),
        str(_("SIREN")),
        str(_("SIRET")),
        str(_("N° de TVA")),
        str(_("Code postal")),
        str(_("Ville")),
        str(_("Région")),
        str(_("Départements couverts")),
        str(_("PME")),
        str(_("Tarif journalier par défaut (HT)")),
        str(_("Devise")),
        str(_("Jours libres (3 mois)")),
        str(_("Attestations")),
        str(_("Compétences")),
        str(_("Site web")),
    ]
    summaries = {"valid": _("à jour"), "incomplete": _("incomplètes"), "expired": _("expirée(s)")}
    for firm in firms.iterator(chunk_size=500):
        annotated: Any = firm
        yield [
            firm.name,
            firm.siren,
            firm.siret,
            firm.vat_number,
            firm.postcode,
            firm.city,
            firm.get_region_display() if firm.region else "",
            ", ".join(firm.departments),
            str(_("oui") if firm.is_sme else _("non")),
            firm.daily_rate,
            firm.currency,
            annotated.free_days,
            str(summaries[annotated.attestation_state]),
            "; ".join(f"{item.skill.name} ({item.get_level_display()})" for item in annotated.skill_list),
            firm.website,
        ]


def skill_index() -> dict[str, Skill]:
    """Every way the catalogue names a skill (folded name, slug, folded aliases) -> the skill, in one query."""
    index: dict[str, Skill] = {}
    skills = list(Skill.objects.only("pk", "name", "slug", "aliases"))
    for skill in skills:
        for alias in skill.aliases if isinstance(skill.aliases, list) else []:
            index.setdefault(fold(str(alias)), skill)
    for skill in skills:  # names and slugs win over aliases
        index[skill.slug] = skill
        index[fold(skill.name)] = skill
    return index


def skill_by_name(text: str) -> Skill | None:
    """The catalogue skill called `text` (name, slug or alias, however accented or cased), or None."""
    text = text.strip()
    if not text:
        return None
    exact = Skill.objects.filter(Q(name__iexact=text) | Q(slug=slugify(text))).first()
    return exact or skill_index().get(fold(text))


def skill_names() -> list[str]:
    return list(Skill.objects.order_by("name").values_list("name", flat=True))


def skill_catalogue(*, search: str = "") -> QuerySet[Skill]:
    skills = Skill.objects.all()
    if search:
        skills = skills.annotate(alias_text=Cast("aliases", TextField())).filter(
            Q(name__icontains=search)
            | Q(alias_text__icontains=search)
            | Q(function__icontains=search)
            | Q(upstream_project__icontains=search)
        )
    return skills.order_by("name")


def firm_counts_by_level(skills: Iterable[Skill]) -> dict[int, list[int]]:
    """skill id -> number of firms at each level (index 0 = user ... 5 = editor), one query for the page."""
    counts: dict[int, list[int]] = {skill.pk: [0] * len(SkillLevel.choices) for skill in skills}
    rows = (
        FirmSkill.objects.filter(skill__in=list(counts)).order_by().values("skill", "level").annotate(total=Count("pk"))
    )
    for row in rows:
        counts[row["skill"]][row["level"] - 1] = row["total"]
    return counts


def can_see_firm_statistics(user: Any) -> bool:
    return user_role(user) in STAFF_ROLES
