"""The demo's upstream contributions: the demo contract's projects completed with their public data, commitments
in every status and of every kind, what was paid and delivered, and community signals over the past year.

Registered as a demo step after the contract (see apps.py); everything goes through the services. Dates are
placed from `timezone.localdate()`, so the statuses are right on the day the demo is loaded (they then age like any
real commitment). The work links are examples built on each project's real repository (the description says
so) and the community signals are plausible figures, not measurements. Idempotent: once the demo's
commitments exist the step does nothing.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.db.models import Q
from django.utils import timezone

from partners.models import PartnerFirm, Skill
from partners.services.profile import set_contribution_publication

from .contract_models import FundingChannel
from .ledger_models import AccountKind, EntryKind, Posting
from .models import Commitment, CommitmentKind, Contract, PaymentSource, UpstreamProject
from .selectors.commitments import commitment_progress, fund_balance
from .services.commitments import (
    CommitmentInput,
    ContributionPaymentInput,
    ProjectInput,
    SignalInput,
    create_commitment,
    record_contribution_payment,
    record_signals,
    record_work,
    save_project,
)

DEMO_NOTE = "Donnée de démonstration : lien d'exemple sur le dépôt réel du projet, pas une contribution réelle."


@dataclass(frozen=True)
class PublicFacts:
    """What the project publishes about itself (repository, licence, how it receives money); no guessed URL."""

    repository_url: str
    licence: str
    description: str
    funding_channel: str
    fiscal_host: str
    funding_url: str = ""
    skills: tuple[str, ...] = ()


# Keyed by the names the demo contract gives its upstream projects (the skills' `upstream_project`). None of
# them publishes a funding.json manifest that we know of, so `funding_manifest_url` stays blank.
PUBLIC_FACTS = {
    "PostgreSQL Global Development Group": PublicFacts(
        repository_url="https://git.postgresql.org/gitweb/?p=postgresql.git",
        licence="PostgreSQL",
        description="Système de gestion de base de données relationnelle et objet.",
        funding_channel=FundingChannel.FISCAL_HOST,
        fiscal_host="Software in the Public Interest (SPI)",
        funding_url="https://www.postgresql.org/about/donate/",
        skills=("PostgreSQL",),
    ),
    "PostGIS (OSGeo)": PublicFacts(
        repository_url="https://github.com/postgis/postgis",
        licence="GPL-2.0-or-later",
        description="Extension géospatiale de PostgreSQL.",
        funding_channel=FundingChannel.FISCAL_HOST,
        fiscal_host="OSGeo (Open Source Geospatial Foundation)",
        skills=("PostGIS",),
    ),
    "Nextcloud GmbH": PublicFacts(
        repository_url="https://github.com/nextcloud/server",
        licence="AGPL-3.0-or-later",
        description="Plateforme de partage de fichiers et de travail collaboratif.",
        funding_channel=FundingChannel.COMPANY,
        fiscal_host="Nextcloud GmbH",
        skills=("Nextcloud",),
    ),
    "MariaDB Foundation": PublicFacts(
        repository_url="https://github.com/MariaDB/server",
        licence="GPL-2.0-only",
        description="Serveur de base de données relationnelle, issu de MySQL.",
        funding_channel=FundingChannel.FOUNDATION,
        fiscal_host="MariaDB Foundation",
        funding_url="https://mariadb.org/donate/",
        skills=("MariaDB",),
    ),
    "GLPI Project (Teclib')": PublicFacts(
        repository_url="https://github.com/glpi-project/glpi",
        licence="GPL-3.0-or-later",
        description="Gestion de parc informatique et centre de services.",
        funding_channel=FundingChannel.COMPANY,
        fiscal_host="Teclib'",
        skills=("GLPI",),
    ),
    "The Document Foundation": PublicFacts(
        repository_url="https://git.libreoffice.org/core",
        licence="MPL-2.0",
        description="LibreOffice, suite bureautique.",
        funding_channel=FundingChannel.FOUNDATION,
        fiscal_host="The Document Foundation",
        funding_url="https://www.libreoffice.org/donate/",
        skills=("LibreOffice",),
    ),
    "MZLA Technologies (Mozilla)": PublicFacts(
        repository_url="https://hg.mozilla.org/comm-central",
        licence="MPL-2.0",
        description="Thunderbird, client de messagerie.",
        funding_channel=FundingChannel.COMPANY,
        fiscal_host="MZLA Technologies Corporation (filiale de la Mozilla Foundation)",
        funding_url="https://give.thunderbird.net/",
        skills=("Thunderbird",),
    ),
    "OCS Inventory NG": PublicFacts(
        repository_url="https://github.com/OCSInventory-NG/OCSInventory-Server",
        licence="GPL-2.0-only",
        description="Inventaire du parc et télédéploiement.",
        funding_channel=FundingChannel.COMPANY,
        fiscal_host="FactorFX",
        skills=("OCS Inventory",),
    ),
}

# Plausible community figures (active contributors over 12 months, releases over 12 months), oldest first.
SIGNALS = {
    "PostgreSQL Global Development Group": ((180, 5), (186, 5), (191, 5), (197, 6), (203, 5)),
    "PostGIS (OSGeo)": ((38, 6), (41, 6), (39, 7), (44, 7), (46, 8)),
    "Nextcloud GmbH": ((265, 30), (272, 31), (258, 29), (281, 32), (290, 33)),
    "MariaDB Foundation": ((120, 16), (118, 15), (125, 17), (131, 16), (128, 18)),
    "GLPI Project (Teclib')": ((70, 9), (74, 10), (72, 9), (78, 11), (81, 10)),
    "The Document Foundation": ((240, 14), (236, 13), (244, 14), (251, 15), (248, 14)),
    "MZLA Technologies (Mozilla)": ((95, 14), (101, 15), (108, 16), (112, 17), (117, 18)),
    "OCS Inventory NG": ((16, 3), (14, 3), (13, 2), (15, 3), (12, 2)),
}
SIGNAL_DAYS_AGO = (335, 245, 155, 65, 5)

TITLES = {
    "levy_contract": "Reverser à PostgreSQL la contribution amont du marché de Rouen Habitat",
    "levy_network": "Reverser à Nextcloud la contribution amont de tout le réseau, sur l'année",
    "amount_at_risk": "Soutien de la MariaDB Foundation sur le fonds du projet",
    "amount_fulfilled": "Don à The Document Foundation pour LibreOffice",
    "days_on_track": "Jours de développement sur PostGIS (Libre Expertise)",
    "days_overdue": "Jours de développement sur Nextcloud (Coopérative Code Commun)",
    "days_fulfilled": "Correctifs dans MariaDB (Libre Expertise)",
}


def build_demo_contributions() -> dict[str, int]:
    contract = _demo_contract()
    if contract is None or Commitment.objects.filter(title__in=TITLES.values()).exists():
        return {}
    users = get_user_model().objects
    finance, manager = users.get(username="finance"), users.get(username="chargee")
    projects = _complete_projects(manager)
    _record_signals(manager, projects)
    made = _commitments(contract, projects, finance)
    return {"commitments": made}


def _demo_contract() -> Contract | None:
    """The demo's contract, once its payments were redistributed to the projects' funds."""
    funded = Posting.objects.filter(entry__kind=EntryKind.REDISTRIBUTION, account__kind=AccountKind.FUND)
    return Contract.objects.filter(pk__in=funded.values("entry__contract_id")).order_by("pk").first()


def _complete_projects(actor: object) -> dict[str, UpstreamProject]:
    projects = {}
    for project in UpstreamProject.objects.filter(name__in=PUBLIC_FACTS):
        facts = PUBLIC_FACTS[project.name]
        skills = Skill.objects.filter(Q(upstream_project=project.name) | Q(name__in=facts.skills))
        projects[project.name] = save_project(
            actor=actor,
            project=project,
            data=ProjectInput(
                name=project.name,
                repository_url=facts.repository_url,
                licence=facts.licence,
                description=facts.description,
                funding_channel=facts.funding_channel,
                fiscal_host=facts.fiscal_host,
                funding_url=facts.funding_url,
                skill_ids=sorted(skills.values_list("pk", flat=True)),
            ),
        )
    return projects


def _record_signals(actor: object, projects: dict[str, UpstreamProject]) -> None:
    today = timezone.localdate()
    for name, project in projects.items():
        signals = []
        for n, ((contributors, releases), days_ago) in enumerate(zip(SIGNALS[name], SIGNAL_DAYS_AGO, strict=True)):
            observed = today - dt.timedelta(days=days_ago)
            signals.append(
                SignalInput(
                    observed_on=observed,
                    active_contributors=contributors,
                    releases_last_year=releases,
                    last_release_on=observed - dt.timedelta(days=9 + 17 * (n % 3)),
                )
            )
        record_signals(actor=actor, project=project, signals=signals)


def _commitments(contract: Contract, projects: dict[str, UpstreamProject], finance: object) -> int:
    """One commitment per status and kind; each plan skips itself when its project is not in the demo."""
    from bids.demo import DEMO_ACCOUNTS  # here: the app registry imports this module, bids.demo is heavy

    plans = (_levy_on_track, _levy_network_overdue, _amount_at_risk, _amount_fulfilled)
    made = sum(plan(contract, projects, finance) for plan in plans)
    alice_firm = PartnerFirm.objects.get(name=DEMO_ACCOUNTS[3].firm)
    bruno_firm = PartnerFirm.objects.get(name=DEMO_ACCOUNTS[4].firm)
    made += _days_commitments(contract, projects, finance, alice_firm=alice_firm, bruno_firm=bruno_firm)
    if made:  # the first load: one firm agrees to show its contributions on the public page, the other not
        set_contribution_publication(actor=None, firm=alice_firm, publishes=True)
    return made


def _levy_on_track(contract: Contract, projects: dict[str, UpstreamProject], finance: object) -> int:
    """The guichet's levy on the demo contract, quarter by quarter; all the fund collected so far is paid."""
    project = projects.get("PostgreSQL Global Development Group")
    if project is None:
        return 0
    quarters = []
    due = contract.starts_on + dt.timedelta(days=91)
    while due <= contract.ends_on:
        quarters.append((due, None))
        due += dt.timedelta(days=91)
    commitment = create_commitment(
        actor=finance,
        data=CommitmentInput(
            project_id=project.pk,
            kind=CommitmentKind.LEVY,
            title=TITLES["levy_contract"],
            starts_on=contract.starts_on,
            ends_on=contract.ends_on,
            dues=quarters or [(contract.ends_on, None)],
            contract_id=contract.pk,
        ),
    )
    _pay(finance, commitment, fund_balance(project.pk), days_ago=2, reference="VIR-AMONT-DEMO-0001")
    return 1


def _levy_network_overdue(contract: Contract, projects: dict[str, UpstreamProject], finance: object) -> int:
    """The guichet's levy of the whole network to one project: a due date has passed, half of it was paid."""
    project = projects.get("Nextcloud GmbH")
    if project is None:
        return 0
    today = timezone.localdate()
    commitment = create_commitment(
        actor=finance,
        data=CommitmentInput(
            project_id=project.pk,
            kind=CommitmentKind.LEVY,
            title=TITLES["levy_network"],
            starts_on=today - dt.timedelta(days=180),
            ends_on=today + dt.timedelta(days=184),
            dues=[(today - dt.timedelta(days=10), None), (today + dt.timedelta(days=81), None),
                  (today + dt.timedelta(days=175), None)],
        ),
    )  # fmt: skip
    due_then = commitment_progress(commitment).dues[0].expected
    _pay(finance, commitment, int(due_then) // 2, days_ago=12, reference="VIR-AMONT-DEMO-0002")
    return 1


def _amount_at_risk(contract: Contract, projects: dict[str, UpstreamProject], finance: object) -> int:
    """600 € from the project's fund, half due in nine days: only 120 € paid so far."""
    project = projects.get("MariaDB Foundation")
    if project is None:
        return 0
    today = timezone.localdate()
    commitment = create_commitment(
        actor=finance,
        data=CommitmentInput(
            project_id=project.pk,
            kind=CommitmentKind.AMOUNT,
            title=TITLES["amount_at_risk"],
            starts_on=today - dt.timedelta(days=30),
            ends_on=today + dt.timedelta(days=120),
            dues=[(today + dt.timedelta(days=9), 30_000), (today + dt.timedelta(days=100), 30_000)],
            contract_id=contract.pk,
            amount_cents=60_000,
        ),
    )
    _pay(finance, commitment, 12_000, days_ago=4, reference="VIR-AMONT-DEMO-0003")
    return 1


def _amount_fulfilled(contract: Contract, projects: dict[str, UpstreamProject], finance: object) -> int:
    """A fixed amount from the project's fund, paid in full before its single due date."""
    project = projects.get("The Document Foundation")
    amount = min(25_000, fund_balance(project.pk)) if project is not None else 0
    if project is None or amount <= 0:
        return 0
    today = timezone.localdate()
    commitment = create_commitment(
        actor=finance,
        data=CommitmentInput(
            project_id=project.pk,
            kind=CommitmentKind.AMOUNT,
            title=TITLES["amount_fulfilled"],
            starts_on=today - dt.timedelta(days=60),
            ends_on=today + dt.timedelta(days=30),
            dues=[(today - dt.timedelta(days=20), amount)],
            contract_id=contract.pk,
            amount_cents=amount,
        ),
    )
    _pay(finance, commitment, amount, days_ago=25, reference="VIR-AMONT-DEMO-0004")
    return 1


def _pay(finance: object, commitment: Commitment, cents: int, *, days_ago: int, reference: str) -> None:
    """A payment from the project's fund, never more than the fund holds."""
    cents = min(cents, fund_balance(commitment.project_id))
    if cents <= 0:
        return
    record_contribution_payment(
        actor=finance,
        commitment=commitment,
        payment=ContributionPaymentInput(
            amount_cents=cents,
            paid_on=timezone.localdate() - dt.timedelta(days=days_ago),
            reference=reference,
            source=PaymentSource.FUND,
        ),
    )


@dataclass(frozen=True)
class DaysPlan:
    key: str
    project: str
    days: Decimal
    starts_ago: int
    dues: tuple[tuple[int, Decimal], ...]  # (days from today, days due then)
    delivered: tuple[tuple[int, Decimal, str, tuple[int, ...]], ...]  # (days ago, days, what, pull numbers)


def _days_commitments(
    contract: Contract,
    projects: dict[str, UpstreamProject],
    finance: object,
    *,
    alice_firm: PartnerFirm,
    bruno_firm: PartnerFirm,
) -> int:
    """Days of work promised by partner firms; their own users record what they delivered."""
    plans = (
        (alice_firm, DaysPlan(
            "days_on_track", "PostGIS (OSGeo)", Decimal(8), 90, ((45, Decimal(3)), (135, Decimal(5))),
            ((35, Decimal(2), "Correctifs de l'import de rasters et tests de non-régression", (812, 815)),),
        )),
        (bruno_firm, DaysPlan(
            "days_overdue", "Nextcloud GmbH", Decimal(6), 120, ((-12, Decimal(3)), (78, Decimal(3))),
            ((50, Decimal("1.5"), "Revue et correctifs du partage fédéré", (41920,)),),
        )),
        (alice_firm, DaysPlan(
            "days_fulfilled", "MariaDB Foundation", Decimal(2), 60, ((-20, Decimal(2)),),
            ((28, Decimal(2), "Correctif de réplication et son test", (2780, 2786)),),
        )),
    )  # fmt: skip
    made = 0
    for firm, plan in plans:
        project = projects.get(plan.project)
        if project is None:
            continue
        made += _days_commitment(contract, project, finance, firm, plan)
    return made


def _days_commitment(
    contract: Contract, project: UpstreamProject, finance: object, firm: PartnerFirm, plan: DaysPlan
) -> int:
    today = timezone.localdate()
    commitment = create_commitment(
        actor=finance,
        data=CommitmentInput(
            project_id=project.pk,
            kind=CommitmentKind.DAYS,
            title=TITLES[plan.key],
            starts_on=today - dt.timedelta(days=plan.starts_ago),
            ends_on=today + dt.timedelta(days=max(days for days, _part in plan.dues) + 30),
            dues=[(today + dt.timedelta(days=days), part) for days, part in plan.dues],
            contract_id=contract.pk,
            firm_id=firm.pk,
            days=plan.days,
        ),
    )
    member = firm.memberships.select_related("user").order_by("pk").first()
    worker = member.user if member is not None else finance
    base = project.repository_url.rstrip("/")
    for days_ago, days, what, pulls in plan.delivered:
        record_work(
            actor=worker,
            commitment=commitment,
            days=days,
            delivered_on=today - dt.timedelta(days=days_ago),
            description=f"{what}. {DEMO_NOTE}",
            links=[f"{base}/pull/{number}" for number in pulls],
        )
    return 1
