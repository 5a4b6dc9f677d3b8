"""Work packages: the automatic split of a tender's lots, then the bid manager's bulk corrections."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Context, Decimal
from typing import Any

from django.db import connection, transaction
from django.utils.translation import gettext as _

from consortium.models import CpvCode
from consortium.services import record_event
from consortium.text import fold
from partners.models import Skill

from .. import splitting
from ..models import LIVE_STATUSES, Invitation, Line, Lot, PackageBasis, PackageSkill, SplitRule, Tender, WorkPackage

LINE_FIELDS = ("id", "lot_id", "position", "designation", "cpv", "section", "unit", "quantity", "unit_price")
UPDATE_CHUNK = 900  # under every database's limit on query parameters
MIN_PATTERN_LENGTH = 3
_FLOAT_CONTEXT = Context(prec=15)  # as Django reads SQLite decimals
QUANTITY_PLACES = Decimal("0.0001")


class PackageChangeRefused(Exception):
    """A correction that cannot be made as asked; the message says why, in the user's language."""


@dataclass(frozen=True)
class SplitSummary:
    lots: int
    packages: int
    lines: int
    flagged: int


def catalogue_index() -> splitting.SkillIndex:
    """The skill catalogue as the splitting engine's phrase index."""
    rows = Skill.objects.values_list("id", "name", "aliases", "keywords", "parent_id")
    return splitting.SkillIndex(
        splitting.CatalogueSkill(pk, name, _strings(aliases), _strings(keywords), parent_id)
        for pk, name, aliases, keywords, parent_id in rows
    )


def _strings(value: Any) -> tuple[str, ...]:
    return tuple(item for item in value if isinstance(item, str)) if isinstance(value, list) else ()


def _saved_rules() -> list[splitting.Rule]:
    return [
        splitting.Rule(pattern, package_name, skill_id)
        for pattern, package_name, skill_id in SplitRule.objects.values_list("pattern", "package_name", "skill_id")
    ]


def _number(value: Any) -> Decimal | None:
    """A quantity or price as read raw: SQLite hands back numeric text as int or float."""
    if value is None or isinstance(value, Decimal):
        return value
    if isinstance(value, float):
        return _FLOAT_CONTEXT.create_decimal_from_float(value).quantize(QUANTITY_PLACES)
    return Decimal(value)


def _read_lines(tender_id: int, lot_ids: list[int] | None) -> list[splitting.LineInput]:
    """The lines to split, read without building model rows (a tenth of the cost for 100,000 lines)."""
    quote = connection.ops.quote_name
    columns = ", ".join(quote(name) for name in LINE_FIELDS)
    sql = f"SELECT {columns} FROM {quote(Line._meta.db_table)} WHERE {quote('tender_id')} = %s"  # noqa: S608
    params: list[int] = [tender_id]
    if lot_ids is not None:
        sql += f" AND {quote('lot_id')} IN ({', '.join(['%s'] * len(lot_ids))})" if lot_ids else " AND 1 = 0"
        params += lot_ids
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [
            splitting.LineInput(pk, lot, position, designation, cpv, section, unit, _number(quantity), _number(price))
            for pk, lot, position, designation, cpv, section, unit, quantity, price in cursor.fetchall()
        ]


@transaction.atomic
def split_tender(*, actor: Any, tender: Tender, lots: Sequence[Lot] | None = None) -> SplitSummary:
    """Replace the packages of `lots` (default: every lot still in the notice) by the automatic proposal."""
    Tender.objects.select_for_update().filter(pk=tender.pk).first()  # one split of a tender at a time
    lot_rows = Lot.objects.filter(tender=tender, withdrawn=False).order_by("position", "id")
    if lots is not None:
        if any(lot.tender_id != tender.pk for lot in lots):
            raise PackageChangeRefused(_("Ce lot n'appartient pas à cet appel d'offres."))
        lot_rows = lot_rows.filter(pk__in=[lot.pk for lot in lots])
    tender_cpv = tuple(tender.cpv_codes)
    lot_inputs = [
        splitting.LotInput(pk, source_id, title, description, tuple(c for c in [main, *extra] if c) or tender_cpv)
        for pk, source_id, title, description, main, extra in lot_rows.values_list(
            "id", "source_id", "title", "description", "main_cpv", "additional_cpv"
        )
    ]
    lot_ids = [lot.id for lot in lot_inputs]
    lines = _read_lines(tender.pk, None if lots is None else lot_ids)
    codes = {line.cpv for line in lines if line.cpv}
    proposals = splitting.propose_split(
        lot_inputs,
        lines,
        catalogue_index(),
        rules=_saved_rules(),
        cpv_labels=dict(CpvCode.objects.filter(code__in=codes).values_list("code", "label_fr")),
        unrecognised_name=_("Lignes non reconnues"),
    )
    old_ids = list(WorkPackage.objects.filter(lot_id__in=lot_ids).values_list("id", flat=True))
    _refuse_if_invited(old_ids)
    packages = WorkPackage.objects.bulk_create(
        (
            WorkPackage(
                tender=tender,
                lot_id=proposal.lot_id,
                position=proposal.first_position,
                name=proposal.name,
                basis=proposal.basis,
                key=proposal.key[:300],
                flagged=proposal.flagged,
                cpv_codes=proposal.cpv_codes,
                line_count=proposal.totals.line_count,
                estimated_value=proposal.totals.estimated_value,
                estimated_days=proposal.totals.estimated_days,
            )
            for proposal in proposals
        ),
        batch_size=500,
    )
    assign_lines([(package.pk, proposal.line_ids) for package, proposal in zip(packages, proposals, strict=True)])
    _insert_inferred_skills(
        (package.pk, skill_id, weight)
        for package, proposal in zip(packages, proposals, strict=True)
        for skill_id, weight in proposal.skills.items()
    )
    # Their lines all moved to the new packages above: only matching results cascade.
    for start in range(0, len(old_ids), UPDATE_CHUNK):
        WorkPackage.objects.filter(pk__in=old_ids[start : start + UPDATE_CHUNK]).delete()
    summary = SplitSummary(
        lots=len(lot_inputs),
        packages=len(proposals),
        lines=len(lines),
        flagged=sum(1 for proposal in proposals if proposal.flagged),
    )
    record_event(
        actor=actor,
        action="tender.split",
        obj=tender,
        lots=summary.lots,
        packages=summary.packages,
        lines=summary.lines,
        flagged=summary.flagged,
    )
    return summary


def _insert_inferred_skills(rows: Iterable[tuple[int, int, int]]) -> None:
    quote = connection.ops.quote_name
    columns = ", ".join(quote(name) for name in ("package_id", "skill_id", "weight", "inferred"))
    sql = f"INSERT INTO {quote(PackageSkill._meta.db_table)} ({columns}) VALUES (%s, %s, %s, %s)"  # noqa: S608
    with connection.cursor() as cursor:
        cursor.executemany(sql, [(package_id, skill_id, weight, True) for package_id, skill_id, weight in rows])


def assign_lines(placements: Iterable[tuple[int, list[int]]]) -> None:
    """Point every listed line at its package, in as few statements as the database allows."""
    table = connection.ops.quote_name(Line._meta.db_table)
    column = connection.ops.quote_name("work_package_id")
    key = connection.ops.quote_name("id")
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            pairs = [(line_id, package_id) for package_id, line_ids in placements for line_id in line_ids]
            # Names come from the model, quoted; values travel as two array parameters.
            cursor.execute(
                f"UPDATE {table} AS line SET {column} = v.package "  # noqa: S608
                f"FROM unnest(%s::bigint[], %s::bigint[]) AS v(line, package) WHERE line.{key} = v.line",
                [[pair[0] for pair in pairs], [pair[1] for pair in pairs]],
            )
            return
        for package_id, line_ids in placements:
            for start in range(0, len(line_ids), UPDATE_CHUNK):
                chunk = line_ids[start : start + UPDATE_CHUNK]
                placeholders = ", ".join(["%s"] * len(chunk))
                cursor.execute(
                    f"UPDATE {table} SET {column} = %s WHERE {key} IN ({placeholders})",  # noqa: S608
                    [package_id, *chunk],
                )


# Bulk corrections ------------------------------------------------------------------------------


def _stale() -> PackageChangeRefused:
    return PackageChangeRefused(
        _("Le découpage a changé entre-temps (lignes déplacées ou lot de travaux supprimé) : rechargez la page.")
    )


def _locked(tender_id: int, package_ids: Iterable[int]) -> list[WorkPackage]:
    ids = set(package_ids)
    packages = list(
        WorkPackage.objects.select_for_update()
        .filter(tender_id=tender_id, pk__in=ids)
        .select_related("lot", "tender")
        .order_by("position", "id")
    )
    if len(packages) != len(ids):
        raise _stale()
    return packages


def _refuse_if_invited(package_ids: Iterable[int | None]) -> None:
    """Lines of a package already offered to a firm stay put: its prices are for exactly those lines."""
    invited = (
        Invitation.objects.filter(package_id__in=[pk for pk in package_ids if pk], status__in=LIVE_STATUSES)
        .select_related("package")
        .first()
    )
    if invited is not None:
        raise PackageChangeRefused(
            _(
                "« %(package)s » est proposé à une entreprise (invitation %(status)s) : retirez l'invitation "
                "avant de changer ses lignes."
            )
            % {"package": invited.package.name, "status": invited.get_status_display()}
        )


def _clean_name(name: str) -> str:
    cleaned = " ".join(name.split())
    if not cleaned:
        raise PackageChangeRefused(_("Donnez un nom au lot de travaux."))
    if len(cleaned) > 300:
        raise PackageChangeRefused(_("Le nom du lot de travaux dépasse 300 caractères."))
    return cleaned


def _confirmed(package_ids: Iterable[int]) -> set[int]:
    """Packages whose skills a person has set: their requirements are no longer inferred."""
    return set(
        PackageSkill.objects.filter(package_id__in=list(package_ids), inferred=False).values_list(
            "package_id", flat=True
        )
    )


def refresh_packages(packages: Sequence[WorkPackage]) -> list[WorkPackage]:
    """Recompute counts, value and days; re-infer skills and CPV where nobody confirmed them.

    Deletes the packages left without lines (their lines went elsewhere) and returns the others.
    """
    if not packages:
        return []
    ids = [package.pk for package in packages]
    members: dict[int, list[splitting.LineInput]] = defaultdict(list)
    for row in Line.objects.filter(work_package_id__in=ids).values_list("work_package_id", *LINE_FIELDS):
        members[row[0]].append(splitting.LineInput(*row[1:]))
    emptied = [package.pk for package in packages if not members[package.pk]]
    if emptied:
        WorkPackage.objects.filter(pk__in=emptied).delete()
    kept = [package for package in packages if members[package.pk]]
    confirmed = _confirmed(ids)
    index = catalogue_index() if any(package.pk not in confirmed for package in kept) else None
    for package in kept:
        lines = members[package.pk]
        totals = splitting.totals(lines)
        package.position = min(line.position for line in lines)
        package.line_count = totals.line_count
        package.estimated_value = totals.estimated_value
        package.estimated_days = totals.estimated_days
        if package.pk not in confirmed and index is not None:
            package.cpv_codes = splitting.required_cpv(package.lot.cpv_codes or package.tender.cpv_codes, lines)
            _replace_skills(package, splitting.infer_skills(lines, index), inferred=True)
        package.save(
            update_fields=["position", "line_count", "estimated_value", "estimated_days", "cpv_codes", "updated_at"]
        )
    return kept


def _replace_skills(package: WorkPackage, weights: dict[int, int], *, inferred: bool) -> None:
    PackageSkill.objects.filter(package=package).delete()
    PackageSkill.objects.bulk_create(
        PackageSkill(package=package, skill_id=skill_id, weight=weight, inferred=inferred)
        for skill_id, weight in weights.items()
    )


@transaction.atomic
def move_lines(
    *,
    actor: Any,
    tender: Tender,
    line_ids: Iterable[int],
    target: WorkPackage,
    source: WorkPackage | None = None,
) -> int:
    """Move lines to `target`, a package of their own lot; with `source`, only lines still in it."""
    ids = sorted(set(line_ids))
    if not ids:
        raise PackageChangeRefused(_("Cochez au moins une ligne."))
    locked = _locked(tender.pk, [target.pk] + ([source.pk] if source else []))
    target = next(package for package in locked if package.pk == target.pk)
    rows = list(Line.objects.filter(tender=tender, pk__in=ids).values_list("id", "lot_id", "work_package_id"))
    if len(rows) != len(ids) or (source is not None and any(row[2] != source.pk for row in rows)):
        raise _stale()
    _refuse_if_invited({target.pk, *(row[2] for row in rows)})
    elsewhere = sum(1 for row in rows if row[1] != target.lot_id)
    if elsewhere:
        raise PackageChangeRefused(
            _(
                "Une ligne reste dans son lot : %(count)s ligne(s) choisie(s) appartiennent à un autre lot "
                "que « %(package)s » (lot %(lot)s)."
            )
            % {"count": elsewhere, "package": target.name, "lot": target.lot.source_id}
        )
    source_ids = {row[2] for row in rows if row[2] is not None and row[2] != target.pk}
    assign_lines([(target.pk, ids)])
    sources = list(WorkPackage.objects.filter(pk__in=source_ids).select_related("lot", "tender"))
    refresh_packages([target, *sources])
    record_event(
        actor=actor,
        action="package.lines_moved",
        obj=target,
        lines=len(ids),
        sources=sorted(source_ids),
    )
    return len(ids)


@transaction.atomic
def merge_packages(*, actor: Any, tender: Tender, package_ids: Iterable[int], name: str) -> WorkPackage:
    """Merge packages of one lot into the first of them, under `name`; the others are deleted."""
    name = _clean_name(name)
    ids = set(package_ids)
    if len(ids) < 2:
        raise PackageChangeRefused(_("Cochez au moins deux lots de travaux à fusionner."))
    packages = _locked(tender.pk, ids)
    _refuse_if_invited(ids)
    if len({package.lot_id for package in packages}) > 1:
        raise PackageChangeRefused(_("Seuls des lots de travaux d'un même lot peuvent être fusionnés."))
    keep, others = packages[0], packages[1:]
    other_ids = [package.pk for package in others]
    confirmed = PackageSkill.objects.filter(package_id__in=ids, inferred=False)
    weights: dict[int, int] = {}
    for skill_id, weight in confirmed.values_list("skill_id", "weight"):
        weights[skill_id] = max(weight, weights.get(skill_id, 0))
    Line.objects.filter(work_package_id__in=other_ids).update(work_package=keep)
    if weights:
        _replace_skills(keep, weights, inferred=False)
        keep.cpv_codes = list(dict.fromkeys(code for package in packages for code in package.cpv_codes))
    WorkPackage.objects.filter(pk__in=other_ids).delete()
    keep.name, keep.basis, keep.key, keep.flagged = name, PackageBasis.MANUAL, "", False
    keep.save(update_fields=["name", "basis", "key", "flagged", "cpv_codes", "updated_at"])
    refresh_packages([keep])
    record_event(actor=actor, action="package.merged", obj=keep, merged=other_ids, name=name)
    return keep


@transaction.atomic
def split_package(*, actor: Any, package: WorkPackage, line_ids: Iterable[int], name: str) -> WorkPackage:
    """Take some lines out of `package` into a new package of the same lot."""
    name = _clean_name(name)
    ids = sorted(set(line_ids))
    if not ids:
        raise PackageChangeRefused(_("Cochez au moins une ligne."))
    [package] = _locked(package.tender_id, [package.pk])
    _refuse_if_invited([package.pk])
    if Line.objects.filter(work_package=package, pk__in=ids).count() != len(ids):
        raise _stale()
    if len(ids) >= Line.objects.filter(work_package=package).count():
        raise PackageChangeRefused(
            _("Laissez au moins une ligne dans « %(name)s » : pour tout déplacer, renommez-le.")
            % {"name": package.name}
        )
    created = WorkPackage.objects.create(
        tender_id=package.tender_id, lot=package.lot, name=name, basis=PackageBasis.MANUAL
    )
    assign_lines([(created.pk, ids)])
    created.tender = package.tender
    refresh_packages([package, created])
    record_event(actor=actor, action="package.split", obj=created, source=package.pk, lines=len(ids))
    return created


@transaction.atomic
def rename_package(*, actor: Any, package: WorkPackage, name: str) -> WorkPackage:
    """Rename a package; a person has looked at it, so it is no longer flagged."""
    name = _clean_name(name)
    [package] = _locked(package.tender_id, [package.pk])
    old = package.name
    package.name, package.flagged = name, False
    package.save(update_fields=["name", "flagged", "updated_at"])
    record_event(actor=actor, action="package.renamed", obj=package, old=old, name=name)
    return package


def clean_cpv_codes(codes: Iterable[str]) -> list[str]:
    """CPV codes as typed ("72267000-4", " 48000000 "), checked against the vocabulary, in order."""
    cleaned = list(dict.fromkeys(code.strip().partition("-")[0] for code in codes if code.strip()))
    known = set(CpvCode.objects.filter(code__in=cleaned).values_list("code", flat=True))
    unknown = [code for code in cleaned if code not in known]
    if unknown:
        raise PackageChangeRefused(_("Code(s) CPV inconnu(s) : %(codes)s.") % {"codes": ", ".join(unknown)})
    return cleaned


@transaction.atomic
def set_requirements(
    *, actor: Any, package: WorkPackage, skills: list[tuple[Skill, int]], cpv_codes: list[str]
) -> WorkPackage:
    """What the package needs, as confirmed by a person: skills with weights 1 to 10 and CPV codes."""
    seen: set[int] = set()
    for skill, weight in skills:
        if not isinstance(weight, int) or not 1 <= weight <= 10:
            raise PackageChangeRefused(
                _("Le poids de « %(skill)s » doit être un entier de 1 à 10.") % {"skill": skill.name}
            )
        if skill.pk in seen:
            raise PackageChangeRefused(_("« %(skill)s » est indiqué deux fois.") % {"skill": skill.name})
        seen.add(skill.pk)
    codes = clean_cpv_codes(cpv_codes)
    [package] = _locked(package.tender_id, [package.pk])
    _replace_skills(package, {skill.pk: weight for skill, weight in skills}, inferred=False)
    package.cpv_codes, package.flagged = codes, False
    package.save(update_fields=["cpv_codes", "flagged", "updated_at"])
    record_event(
        actor=actor,
        action="package.requirements_set",
        obj=package,
        skills={skill.name: weight for skill, weight in skills},
        cpv_codes=codes,
    )
    return package


@transaction.atomic
def save_rule(*, actor: Any, pattern: str, package_name: str, skill: Skill | None = None) -> SplitRule:
    """Save (or update) a rule: lines whose designation contains `pattern` go to `package_name`."""
    pattern = " ".join(pattern.split())
    folded = fold(pattern)
    if len(folded) < MIN_PATTERN_LENGTH:
        raise PackageChangeRefused(
            _("Le motif doit compter au moins %(count)s lettres ou chiffres.") % {"count": MIN_PATTERN_LENGTH}
        )
    if len(pattern) > 200:
        raise PackageChangeRefused(_("Le motif dépasse 200 caractères."))
    package_name = _clean_name(package_name)
    existing = next((rule for rule in SplitRule.objects.select_for_update() if fold(rule.pattern) == folded), None)
    rule = existing or SplitRule(pattern=pattern, created_by=actor if getattr(actor, "pk", None) else None)
    rule.pattern, rule.package_name, rule.skill = pattern, package_name, skill
    rule.save()
    record_event(
        actor=actor,
        action="split_rule.saved",
        obj=rule,
        pattern=pattern,
        package_name=package_name,
        skill=skill.name if skill else None,
        replaced=existing is not None,
    )
    return rule
