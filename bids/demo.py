"""The demo a visitor explores at once: CPV catalogue, accounts, real notices and a priced schedule.

Idempotent: notices are upserted by procedure id and the schedule replaces its own lines, so a
second run leaves the same data.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from consortium.demo_steps import run_registered_steps
from consortium.money import round_money
from consortium.roles import Role
from consortium.services import load_cpv_catalogue
from partners.catalogue import load_skill_catalogue
from partners.demo import load_demo_network
from partners.models import PartnerFirm
from partners.services.access import add_member

from .demo_offer import build_demo_offer
from .models import Invitation, InvitationStatus, Line, Tender
from .prices import PriceEntry
from .schedule_samples import write_support_schedule
from .services.imports import import_file
from .services.invitations import (
    accept_invitation,
    decline_invitation,
    default_deadline,
    invite_firm,
    send_invitations,
)
from .services.matching import run_match
from .services.packages import split_tender

SAMPLES_DIR = Path(settings.BASE_DIR) / "tests" / "data" / "samples"
DEMO_PASSWORD = "guichet-demo"  # noqa: S105 - published demo accounts, never a production secret
DEMO_NOTICES = (
    "eforms/cn_24_FRA_comments.xml",
    "eforms/cn_24_multilingual.xml",
    "eforms/cn_24_maximal_100_lots.xml",
    "eforms-ted-published/615708-2023.xml",
    "eforms-ted-published/547670-2023.xml",
    "eforms-ted-published/665175-2023.xml",
    "ted-r209/20-213571-001-EXP.xml",
    "ted-r209/22-104446-001-EXP.xml",
    "ocds/test_data.json",
)
SCHEDULE_NOTICE = "eforms/cn_24_multilingual.xml"
OFFER_NOTICE = "eforms/cn_24_FRA_comments.xml"  # Rouen Habitat: taken to a frozen group offer
SCHEDULE_LINES = 1_200


@dataclass(frozen=True)
class DemoAccount:
    username: str
    role: str
    description: str
    firm: str = ""


DEMO_ACCOUNTS = (
    DemoAccount("admin", Role.ADMIN, "administrateur (tous les droits, /admin/)"),
    DemoAccount("chargee", Role.BID_MANAGER, "chargée d'affaires du guichet : importe et prépare les offres"),
    DemoAccount("finance", Role.FINANCE, "finance : contrats, factures, redistribution"),
    DemoAccount("alice", Role.PARTNER, "utilisatrice de l'entreprise partenaire A", "Libre Expertise SARL"),
    DemoAccount("bruno", Role.PARTNER, "utilisateur de l'entreprise partenaire B", "Coopérative Code Commun"),
)


def ensure_accounts() -> None:
    user_model = get_user_model()
    for account in DEMO_ACCOUNTS:
        user, created = user_model.objects.get_or_create(username=account.username)
        user.role = account.role
        user.is_staff = user.is_superuser = account.role == Role.ADMIN
        user.email = f"{account.username}@demo.guichet.invalid"
        if created or not user.has_usable_password():
            user.set_password(DEMO_PASSWORD)
        user.save()
        if account.firm:
            firm, _ = PartnerFirm.objects.get_or_create(name=account.firm)
            add_member(actor=None, user=user, firm=firm)


def load_notices(actor: object) -> list[Tender]:
    tenders: list[Tender] = []
    for relative in DEMO_NOTICES:
        path = SAMPLES_DIR / relative
        result = import_file(actor=actor, data=path.read_bytes(), source=path.name)
        tenders.extend(item.tender for item in result.saved)
    return tenders


def attach_demo_schedule(actor: object) -> Tender:
    path = SAMPLES_DIR / SCHEDULE_NOTICE
    notice = import_file(actor=actor, data=path.read_bytes(), source=path.name).saved[0].tender
    if Invitation.objects.filter(tender=notice).exists():
        return notice  # already offered to the partner firms: its lines stay as they were priced
    buffer = io.BytesIO()
    write_support_schedule(buffer, lines=SCHEDULE_LINES, seed=2026)
    result = import_file(actor=actor, data=buffer.getvalue(), source="bpu-support-logiciels-libres.xlsx", target=notice)
    return result.saved[0].tender


def move_to_coming_year(tender: Tender) -> None:
    """The sample notice dates from 2020: the demo moves its deadline and contract period to the coming
    months, where the network's capacity lies, so that the matching has days to work with."""
    deadline = timezone.now().replace(hour=12, minute=0, second=0, microsecond=0) + timedelta(days=45)
    start = (deadline.date().replace(day=1) + timedelta(days=32)).replace(day=1)
    questions = deadline - timedelta(days=10)
    Tender.objects.filter(pk=tender.pk).update(tender_deadline=deadline, questions_deadline=questions)
    tender.lots.update(
        tender_deadline=deadline,
        questions_deadline=questions,
        start_date=start.isoformat(),
        end_date="",
        duration_value=12,
    )
    tender.lots.update(duration_unit="MONTH")


def prepare_demo_offer(actor: object, tender: Tender) -> dict[str, int]:
    """Split the demo support tender into work packages, match them against the network and invite the firms.

    Once invitations exist (a second run), the offer is left as the visitors made it.
    """
    if Invitation.objects.filter(tender=tender).exists():
        return {"packages": tender.work_packages.count(), "invitations": tender.invitations.count()}
    move_to_coming_year(tender)
    summary = split_tender(actor=actor, tender=tender)
    run = run_match(actor=actor, tender=tender)
    tender.refresh_from_db()
    invitations = invite_demo_partners(actor, tender)
    return {"packages": summary.packages, "assigned": int(run.counts.get("assigned", 0)), "invitations": invitations}


def _demo_prices(invitation: Invitation) -> list[PriceEntry]:
    """A partner's answer for the demo: 7 % under the buyer's unit price, else its daily rate."""
    rate = invitation.firm.daily_rate or Decimal("650")
    entries = []
    for number, line in enumerate(Line.objects.filter(work_package=invitation.package).order_by("position"), 1):
        price = round_money(line.unit_price * Decimal("0.93")) if line.unit_price else rate
        entries.append(PriceEntry(line_id=line.pk, raw=price, where=f"ligne {number}"))
    return entries


def invite_demo_partners(actor: object, tender: Tender) -> int:
    """Invite every assigned firm; bruno's firm accepts one package, another firm declines one (its backup is
    invited), and alice's firm gets at least one invitation waiting for her answer."""
    send_invitations(actor=actor, tender=tender, deadline=default_deadline(tender))
    alice_firm = PartnerFirm.objects.get(name=DEMO_ACCOUNTS[3].firm)
    bruno = get_user_model().objects.get(username=DEMO_ACCOUNTS[4].username)
    open_ones = Invitation.objects.filter(tender=tender, status=InvitationStatus.SENT).select_related("firm")
    accepted = open_ones.filter(firm__name=DEMO_ACCOUNTS[4].firm).first()
    if accepted is not None:
        accept_invitation(
            actor=bruno,
            invitation_id=accepted.pk,
            entries=_demo_prices(accepted),
            version=accepted.version,
            note="Équipe de deux mainteneurs, astreinte incluse.",
            team="2 ingénieurs (dont un mainteneur amont)",
        )
    other = open_ones.exclude(firm__name__in=[DEMO_ACCOUNTS[3].firm, DEMO_ACCOUNTS[4].firm]).first()
    if other is not None:
        member = other.firm.memberships.select_related("user").first()
        decliner = member.user if member else actor
        decline_invitation(
            actor=decliner,
            invitation_id=other.pk,
            reason="Plan de charge complet sur la période.",
            version=other.version,
        )
    if not open_ones.filter(firm=alice_firm).exists():
        package = tender.work_packages.exclude(invitations__status=InvitationStatus.ACCEPTED).first()
        if package is not None:
            invite_firm(actor=actor, package=package, firm=alice_firm, deadline=default_deadline(tender))
    return tender.invitations.count()


@transaction.atomic
def load_demo() -> dict[str, int]:
    cpv = load_cpv_catalogue()
    skills = load_skill_catalogue()
    firms = load_demo_network()
    ensure_accounts()
    actor = get_user_model().objects.get(username="chargee")
    tenders = load_notices(actor)
    support = attach_demo_schedule(actor)
    offer = prepare_demo_offer(actor, support)
    path = SAMPLES_DIR / OFFER_NOTICE
    rouen = import_file(actor=actor, data=path.read_bytes(), source=path.name).saved[0].tender
    move_to_coming_year(rouen)  # again on a second run: re-importing the notice restores its 2019 dates
    group_offer = build_demo_offer(
        actor=actor, tender=rouen, partner_firms=[DEMO_ACCOUNTS[3].firm, DEMO_ACCOUNTS[4].firm]
    )
    return {
        "cpv": cpv,
        "skills": skills,
        "firms": firms,
        "tenders": len({t.pk for t in tenders}),
        "schedule_lines": support.lines.count(),
        **offer,
        **group_offer,
        **run_registered_steps(),  # the contract and its money, from pricing
    }
