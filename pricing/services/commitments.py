"""Writes: upstream projects, contribution commitments, and what is delivered to fulfil them.

Money delivered leaves the guichet's bank in one ledger entry (kind "contrib"): the source account is
debited (the project's fund, the network fund, the coordination fees, or what the guichet owes the
committed firm) and the bank credited. Work delivered is days with checked links.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.text import slugify
from django.utils.translation import gettext as _

from consortium.services import record_event
from partners.models import PartnerFirm

from .. import ledger
from ..evidence_links import LinkRefused, check_links
from ..ledger_models import Account, Entry, EntryKind
from ..models import (
    Commitment,
    CommitmentDue,
    CommitmentKind,
    Contract,
    ContractParty,
    ContributionPayment,
    PaymentSource,
    ProjectSignal,
    SignalSource,
    UpstreamProject,
    WorkDelivery,
)
from ..selectors.commitments import delivered_money

RESERVED_SLUGS = frozenset({"new", "import"})  # path segments of the project pages


class CommitmentRefused(Exception):
    """A commitment write refused, with the reason for the user."""


@dataclass(frozen=True)
class CommitmentInput:
    project_id: int
    kind: str
    title: str
    starts_on: dt.date
    ends_on: dt.date
    dues: Sequence[tuple[dt.date, int | Decimal | None]]  # (date, cents or days due then; None for a levy)
    contract_id: int | None = None  # None: the whole network
    firm_id: int | None = None  # None: the guichet
    amount_cents: int | None = None
    days: Decimal | None = None


@transaction.atomic
def create_commitment(*, actor: Any, data: CommitmentInput) -> Commitment:
    _check_commitment(data)
    commitment = Commitment.objects.create(
        project_id=data.project_id,
        contract_id=data.contract_id,
        firm_id=data.firm_id,
        kind=data.kind,
        title=data.title.strip(),
        amount_cents=data.amount_cents if data.kind == CommitmentKind.AMOUNT else None,
        days=data.days if data.kind == CommitmentKind.DAYS else None,
        starts_on=data.starts_on,
        ends_on=data.ends_on,
        created_by=actor,
    )
    CommitmentDue.objects.bulk_create(
        CommitmentDue(
            commitment=commitment,
            due_on=due_on,
            amount_cents=int(part) if data.kind == CommitmentKind.AMOUNT and part is not None else None,
            days=Decimal(part) if data.kind == CommitmentKind.DAYS and part is not None else None,
        )
        for due_on, part in sorted(data.dues, key=lambda due: due[0])
    )
    record_event(actor=actor, action="commitment.created", obj=commitment, kind=data.kind, project=data.project_id)
    return commitment


def _check_commitment(data: CommitmentInput) -> None:
    if not data.title.strip():
        raise CommitmentRefused(_("Dites en quelques mots ce qui est promis."))
    if len(data.title.strip()) > 200:
        raise CommitmentRefused(_("L'intitulé de l'engagement tient en 200 caractères au plus."))
    if data.kind not in CommitmentKind.values:
        raise CommitmentRefused(_("Nature d'engagement inconnue : %(kind)s.") % {"kind": data.kind})
    if not UpstreamProject.objects.filter(pk=data.project_id).exists():
        raise CommitmentRefused(_("Projet amont inconnu."))
    if data.ends_on < data.starts_on:
        raise CommitmentRefused(_("La période finit avant de commencer."))
    if data.contract_id is not None and not Contract.objects.filter(pk=data.contract_id).exists():
        raise CommitmentRefused(_("Marché inconnu."))
    if data.firm_id is not None:
        if not PartnerFirm.objects.filter(pk=data.firm_id).exists():
            raise CommitmentRefused(_("Entreprise inconnue."))
        if (
            data.contract_id is not None
            and not ContractParty.objects.filter(contract_id=data.contract_id, firm_id=data.firm_id).exists()
        ):
            raise CommitmentRefused(_("Cette entreprise n'est pas membre du marché."))
    dates = [due_on for due_on, _part in data.dues]
    if not dates:
        raise CommitmentRefused(_("Donnez au moins une échéance."))
    if len(set(dates)) != len(dates):
        raise CommitmentRefused(_("Deux échéances tombent le même jour."))
    if min(dates) < data.starts_on:
        raise CommitmentRefused(_("Une échéance tombe avant le début de la période."))
    if data.kind == CommitmentKind.LEVY:
        _check_levy(data)
    else:
        _check_parts(data)


def _check_levy(data: CommitmentInput) -> None:
    if data.firm_id is not None:
        raise CommitmentRefused(
            _("La contribution amont est collectée par le guichet : l'engagement sur une part du chiffre "
              "d'affaires est pris par le guichet, pas par une entreprise.")
        )  # fmt: skip
    overlapping = Commitment.objects.filter(
        kind=CommitmentKind.LEVY,
        project_id=data.project_id,
        starts_on__lte=data.ends_on,
        ends_on__gte=data.starts_on,
    )
    if data.contract_id is not None:
        overlapping = overlapping.filter(Q(contract_id=data.contract_id) | Q(contract__isnull=True))
    if overlapping.exists():
        raise CommitmentRefused(
            _("Un engagement sur la contribution amont de ce projet couvre déjà cette période (%(title)s) : "
              "la même contribution serait comptée deux fois.")
            % {"title": overlapping.first()}
        )  # fmt: skip


def _check_parts(data: CommitmentInput) -> None:
    promised = data.amount_cents if data.kind == CommitmentKind.AMOUNT else data.days
    if promised is None or promised <= 0:
        raise CommitmentRefused(_("Le montant ou le nombre de jours promis doit être positif."))
    parts = [part for _due_on, part in data.dues]
    if any(part is None or part <= 0 for part in parts):
        raise CommitmentRefused(_("Chaque échéance dit ce qui est dû à cette date, plus que zéro."))
    if sum(part for part in parts if part is not None) != promised:
        raise CommitmentRefused(
            _("Les échéances font %(sum)s, la promesse %(promised)s : elles doivent être égales.")
            % {"sum": sum(part for part in parts if part is not None), "promised": promised}
        )


@dataclass(frozen=True)
class ContributionPaymentInput:
    amount_cents: int
    paid_on: dt.date
    reference: str
    source: str
    evidence_url: str = ""


@transaction.atomic
def record_contribution_payment(
    *, actor: Any, commitment: Commitment, payment: ContributionPaymentInput
) -> ContributionPayment:
    """Money paid to the project: one ledger entry from the source to the bank, refused beyond what the source holds."""
    if commitment.kind == CommitmentKind.DAYS:
        raise CommitmentRefused(_("Cet engagement promet des jours de travail : enregistrez le travail livré."))
    if payment.amount_cents <= 0:
        raise CommitmentRefused(_("Le montant versé doit être positif."))
    if not payment.reference.strip():
        raise CommitmentRefused(_("Donnez la référence du virement ou du reçu."))
    _check_web_address(payment.evidence_url, _("La preuve"))
    if payment.paid_on > timezone.localdate():
        raise CommitmentRefused(_("La date de versement est dans le futur."))
    source = _source_account(commitment, payment.source)
    Account.objects.select_for_update().filter(code=source.code).first()  # one payer of a source at a time
    available = -ledger.balance([source])
    if payment.amount_cents > available:
        raise CommitmentRefused(
            _("%(source)s ne contient que %(available)s : le versement de %(amount)s est refusé.")
            % {
                "source": PaymentSource(payment.source).label,
                "available": _euros(available),
                "amount": _euros(payment.amount_cents),
            }
        )
    if commitment.kind == CommitmentKind.AMOUNT:
        left = int(commitment.amount_cents or 0) - delivered_money([commitment.pk]).get(commitment.pk, 0)
        if payment.amount_cents > left:
            raise CommitmentRefused(
                _("Il ne reste que %(left)s à verser sur cet engagement.") % {"left": _euros(max(left, 0))}
            )
    paid = ContributionPayment.objects.create(
        commitment=commitment,
        entry=_post_entry(commitment, payment, source),
        source=payment.source,
        amount_cents=payment.amount_cents,
        paid_on=payment.paid_on,
        reference=payment.reference.strip()[:140],
        evidence_url=payment.evidence_url.strip(),
        created_by=actor,
    )
    record_event(actor=actor, action="commitment.paid", obj=commitment, payment=paid.pk, cents=payment.amount_cents)
    return paid


def _post_entry(commitment: Commitment, payment: ContributionPaymentInput, source: ledger.AccountRef) -> Entry:
    """The entry's key names the commitment and the reference, so a double submit is refused."""
    reference = payment.reference.strip()
    reversed_before = ContributionPayment.objects.filter(
        commitment=commitment, reference=reference[:140], reversed_at__isnull=False
    ).count()  # a reference reused after a reversal is a new payment
    draft = ledger.EntryDraft(
        kind=EntryKind.CONTRIBUTION,
        key=f"contribution:{commitment.pk}:{reversed_before}:{reference[:80]}",
        posted_on=payment.paid_on,
        contract_id=commitment.contract_id,
        memo=f"{commitment.project} — {payment.reference.strip()}"[:200],
    )
    draft.add(source, payment.amount_cents)
    draft.add(ledger.BANK, -payment.amount_cents)
    try:
        ledger.post_entries([draft])
    except ledger.LedgerRefused as exc:
        raise CommitmentRefused(
            _("Un versement de cet engagement porte déjà la référence %(ref)s.") % {"ref": payment.reference.strip()}
        ) from exc
    return Entry.objects.get(key=draft.key)


def _source_account(commitment: Commitment, source: str) -> ledger.AccountRef:
    if commitment.firm_id is not None:
        if source != PaymentSource.FIRM:
            raise CommitmentRefused(_("L'engagement d'une entreprise se paie sur les sommes qui lui sont dues."))
        return ledger.partner(commitment.firm_id)
    if source == PaymentSource.FUND:
        return ledger.fund(commitment.project_id)
    if source == PaymentSource.NETWORK_FUND:
        return ledger.NETWORK_FUND
    if source == PaymentSource.FEE:
        return ledger.FEE
    raise CommitmentRefused(_("Un engagement du guichet se paie sur un fonds ou sur les frais de coordination."))


@transaction.atomic
def reverse_contribution_payment(*, actor: Any, payment: ContributionPayment, reason: str) -> None:
    """A payment recorded by mistake: its entry is reversed (never edited) and it stops counting as delivered."""
    locked = ContributionPayment.objects.select_for_update().get(pk=payment.pk)
    if locked.reversed_at is not None:
        raise CommitmentRefused(_("Ce versement est déjà annulé."))
    if not reason.strip():
        raise CommitmentRefused(_("Donnez la raison de l'annulation."))
    ledger.reverse_entries([locked.entry], actor=actor, posted_on=timezone.localdate(), memo=reason.strip()[:200])
    locked.reversed_at = timezone.now()
    locked.save(update_fields=["reversed_at"])
    record_event(actor=actor, action="commitment.payment_reversed", obj=locked.commitment, payment=locked.pk)


@transaction.atomic
def record_work(
    *, actor: Any, commitment: Commitment, days: Decimal, delivered_on: dt.date, description: str, links: list[str]
) -> WorkDelivery:
    if commitment.kind != CommitmentKind.DAYS:
        raise CommitmentRefused(_("Cet engagement promet de l'argent : enregistrez un versement."))
    # NaN would raise on comparison, and a thousandth would round to 0.00 in the database (500 on PostgreSQL)
    if not days.is_finite() or days <= 0 or days > 1000 or days != days.quantize(Decimal("0.01")):
        raise CommitmentRefused(_("Le nombre de jours doit être entre 0 et 1000, au centième près."))
    if delivered_on > timezone.localdate():
        raise CommitmentRefused(_("La date de livraison est dans le futur."))
    if delivered_on < commitment.starts_on:
        raise CommitmentRefused(_("Ce travail a été livré avant le début de l'engagement."))
    if not description.strip():
        raise CommitmentRefused(_("Décrivez le travail livré."))
    try:
        checked = check_links(links)
    except LinkRefused as exc:
        raise CommitmentRefused(str(exc)) from exc
    delivery = WorkDelivery.objects.create(
        commitment=commitment,
        days=days,
        delivered_on=delivered_on,
        description=description.strip(),
        links=checked,
        created_by=actor,
    )
    record_event(actor=actor, action="commitment.work", obj=commitment, delivery=delivery.pk, days=str(days))
    return delivery


@dataclass(frozen=True)
class ProjectInput:
    name: str
    repository_url: str = ""
    licence: str = ""
    description: str = ""
    funding_manifest_url: str = ""
    funding_channel: str = ""
    fiscal_host: str = ""
    funding_url: str = ""
    skill_ids: Sequence[int] = ()


@transaction.atomic
def save_project(*, actor: Any, data: ProjectInput, project: UpstreamProject | None = None) -> UpstreamProject:
    name = data.name.strip()
    if not name:
        raise CommitmentRefused(_("Le nom du projet est obligatoire."))
    same_name = UpstreamProject.objects.filter(name__iexact=name)
    if project is not None:
        same_name = same_name.exclude(pk=project.pk)
    if same_name.exists():
        raise CommitmentRefused(_("Un projet porte déjà ce nom : %(name)s.") % {"name": name})
    if data.funding_manifest_url and not data.funding_manifest_url.strip().startswith("https://"):
        raise CommitmentRefused(_("Le manifeste de financement doit être une adresse https://."))
    _check_web_address(data.repository_url, _("Le dépôt"))
    _check_web_address(data.funding_url, _("La page de financement"))
    fields = {
        "name": name,
        "repository_url": data.repository_url.strip(),
        "licence": data.licence.strip(),
        "description": data.description.strip(),
        "funding_manifest_url": data.funding_manifest_url.strip(),
        "funding_channel": data.funding_channel,
        "fiscal_host": data.fiscal_host.strip(),
        "funding_url": data.funding_url.strip(),
    }
    if project is None:
        project = UpstreamProject.objects.create(slug=free_project_slug(name), **fields)
        action = "project.created"
    else:
        for field, value in fields.items():
            setattr(project, field, value)
        project.save(update_fields=list(fields))
        action = "project.updated"
    project.skills.set(data.skill_ids)
    record_event(actor=actor, action=action, obj=project, name=name)
    return project


def free_project_slug(name: str) -> str:
    base = slugify(name)[:180] or "projet"
    slug, n = base, 1
    while slug in RESERVED_SLUGS or UpstreamProject.objects.filter(slug=slug).exists():
        n += 1
        slug = f"{base}-{n}"
    return slug


@dataclass(frozen=True)
class SignalInput:
    observed_on: dt.date
    active_contributors: int | None = None
    releases_last_year: int | None = None
    last_release_on: dt.date | None = None
    source_url: str = ""


@transaction.atomic
def record_signals(
    *, actor: Any, project: UpstreamProject, signals: Sequence[SignalInput], source: str = SignalSource.ENTERED
) -> int:
    """Community signals observed on given days; a second observation of the same day replaces the first."""
    today = timezone.localdate()
    for signal in signals:
        if signal.observed_on > today:
            raise CommitmentRefused(_("Observation datée du futur : %(d)s.") % {"d": signal.observed_on})
        if signal.last_release_on is not None and signal.last_release_on > signal.observed_on:
            raise CommitmentRefused(
                _("La dernière version (%(r)s) est postérieure à l'observation (%(d)s).")
                % {"r": signal.last_release_on, "d": signal.observed_on}
            )
        if signal.active_contributors is None and signal.releases_last_year is None and signal.last_release_on is None:
            raise CommitmentRefused(_("Observation du %(d)s vide.") % {"d": signal.observed_on})
        ProjectSignal.objects.update_or_create(
            project=project,
            observed_on=signal.observed_on,
            defaults={
                "active_contributors": signal.active_contributors,
                "releases_last_year": signal.releases_last_year,
                "last_release_on": signal.last_release_on,
                "source": source,
                "source_url": signal.source_url,
                "created_by": actor,
            },
        )
    record_event(actor=actor, action="project.signals", obj=project, count=len(signals), source=source)
    return len(signals)


def _check_web_address(url: str, what: str) -> None:
    """Addresses shown as links (on the public page too): http(s) only, within the column's length."""
    url = url.strip()
    if url and (not url.startswith(("https://", "http://")) or len(url) > 500 or any(c.isspace() for c in url)):
        raise CommitmentRefused(
            _("%(what)s doit être une adresse web (https://…) de 500 caractères au plus.") % {"what": what}
        )


def _euros(cents: int) -> str:
    return f"{Decimal(cents) / 100:.2f} €"
