"""The demo a visitor explores at once: CPV catalogue, accounts, real notices and a priced schedule.

Idempotent: notices are upserted by procedure id and the schedule replaces its own lines, so a
second run leaves the same data.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from consortium.roles import Role
from consortium.services import load_cpv_catalogue
from partners.catalogue import load_skill_catalogue
from partners.demo import load_demo_network
from partners.models import PartnerFirm
from partners.services.access import add_member

from .models import Tender
from .schedule_samples import write_support_schedule
from .services.imports import import_file
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
    buffer = io.BytesIO()
    write_support_schedule(buffer, lines=SCHEDULE_LINES, seed=2026)
    result = import_file(actor=actor, data=buffer.getvalue(), source="bpu-support-logiciels-libres.xlsx", target=notice)
    return result.saved[0].tender


def move_to_coming_year(tender: Tender) -> None:
    """The sample notice dates from 2020: the demo moves its deadline and contract period to the coming
    months, where the network's capacity lies, so that the matching has days to work with."""
    deadline = timezone.now().replace(hour=12, minute=0, second=0, microsecond=0) + timedelta(days=45)
    start = (deadline.date().replace(day=1) + timedelta(days=32)).replace(day=1)
    Tender.objects.filter(pk=tender.pk).update(tender_deadline=deadline)
    tender.lots.update(tender_deadline=deadline, start_date=start.isoformat(), end_date="", duration_value=12)
    tender.lots.update(duration_unit="MONTH")


def prepare_demo_offer(actor: object, tender: Tender) -> dict[str, int]:
    """Split the demo support tender into work packages and match them against the network."""
    move_to_coming_year(tender)
    summary = split_tender(actor=actor, tender=tender)
    run = run_match(actor=actor, tender=tender)
    return {"packages": summary.packages, "assigned": int(run.counts.get("assigned", 0))}


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
    return {
        "cpv": cpv,
        "skills": skills,
        "firms": firms,
        "tenders": len({t.pk for t in tenders}),
        "schedule_lines": support.lines.count(),
        **offer,
    }
