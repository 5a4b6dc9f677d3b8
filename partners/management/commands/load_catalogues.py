from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from consortium.services import load_cpv_catalogue
from partners.catalogue import load_skill_catalogue


class Command(BaseCommand):
    help = (
        "Load the CPV codes and the skills catalogue (SILL) a production installation needs; idempotent, no demo data."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        cpv = load_cpv_catalogue()
        skills = load_skill_catalogue()
        self.stdout.write(f"Catalogues loaded: {cpv} CPV codes, {skills} skills.")
