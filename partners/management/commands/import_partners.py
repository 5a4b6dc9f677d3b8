"""python manage.py import_partners PATH [--dry-run] [--user USERNAME]: a network of partner firms from CSV or XLSX."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _

from partners.services.network import PartnerImportError, PartnerImportReport, check_partners, import_partners


class Command(BaseCommand):
    help = "Importe un réseau d'entreprises partenaires (CSV ou XLSX ; format dans docs/PARTNERS.md)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", help="fichier CSV ou XLSX")
        parser.add_argument("--dry-run", action="store_true", help="vérifie le fichier sans rien enregistrer")
        parser.add_argument("--user", help="utilisateur inscrit comme auteur de l'import dans le journal")

    def handle(self, *args: Any, **options: Any) -> None:
        path = Path(options["path"])
        data = self._read(path)
        actor = self._actor(options["user"])
        try:
            if options["dry_run"]:
                report = check_partners(data=data, filename=path.name)
            else:
                report = import_partners(actor=actor, data=data, filename=path.name)
        except PartnerImportError as failure:
            for error in failure.errors:
                self.stderr.write(str(error) if error.row else error.message)
            raise CommandError(
                _("%(count)d erreur(s) dans %(name)s : rien n'a été enregistré.")
                % {"count": len(failure.errors), "name": path.name}
            ) from None
        self.stdout.write(self._summary(report, path.name, dry_run=options["dry_run"]))

    def _read(self, path: Path) -> bytes:
        if not path.is_file():
            raise CommandError(_("Fichier introuvable : %(path)s") % {"path": path})
        try:
            limit = int(settings.IMPORT_MAX_BYTES)
            if path.stat().st_size > limit:
                raise CommandError(_("Le fichier %(path)s dépasse %(limit)d octets.") % {"path": path, "limit": limit})
            return path.read_bytes()
        except OSError as exc:
            raise CommandError(
                _("Impossible de lire %(path)s : %(error)s") % {"path": path, "error": exc.strerror or exc}
            ) from None

    def _actor(self, username: str | None) -> Any:
        if not username:
            return None
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(_("--user : aucun utilisateur nommé %(name)s") % {"name": username})
        return user

    def _summary(self, report: PartnerImportReport, name: str, *, dry_run: bool) -> str:
        values = {
            "name": name,
            "rows": report.rows,
            "created": report.created,
            "updated": report.updated,
            "skills": report.skills,
        }
        if dry_run:
            return (
                _(
                    "%(name)s est valide : %(rows)d entreprise(s), dont %(created)d à créer et %(updated)d à mettre "
                    "à jour, %(skills)d compétence(s). Rien n'a été enregistré (--dry-run)."
                )
                % values
            )
        return (
            _(
                "%(name)s importé : %(rows)d entreprise(s), %(created)d créée(s), %(updated)d mise(s) à jour, "
                "%(skills)d compétence(s) enregistrée(s)."
            )
            % values
        )
