"""python manage.py build_offer TENDER_ID --out DIR [--freeze]

Writes the documents of the tender's current offer version into DIR and prints one
`<sha256>  <path>` line per document (the format of sha256sum, so `sha256sum -c` checks them).

A frozen version: its stored documents (rendered first if they are not yet). A draft: with --freeze
it is frozen (the audit log says by this command) and rendered now; without, its documents are
rendered from the draft as it stands and nothing is stored. A draft with problems writes nothing.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from bids.models import JobStatus, Tender
from bids.offer_models import GroupOffer, OfferDocument, OfferVersion
from bids.offer_render import document_jobs
from bids.selectors.offers import (
    archive_path,
    current_version,
    offer_problems,
    offer_snapshot,
    output_path,
    read_document,
)
from bids.services.offers import OfferRefused, freeze_version, render_documents


class Command(BaseCommand):
    help = "Write the documents of a tender's current group offer version into a folder, with their SHA-256."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("tender_id", type=int)
        parser.add_argument("--out", required=True, type=Path, help="folder the documents are written into")
        parser.add_argument("--freeze", action="store_true", help="freeze a draft first, then store its documents")

    def handle(self, *args: Any, **options: Any) -> None:
        tender = Tender.objects.filter(pk=options["tender_id"]).first()
        if tender is None:
            raise CommandError(f"aucun appel d'offres n° {options['tender_id']} (no tender with this id)")
        offer = GroupOffer.objects.filter(tender=tender).first()
        version = current_version(offer) if offer is not None else None
        if version is None:
            raise CommandError(
                f"l'appel d'offres n° {tender.pk} n'a pas d'offre du groupement : commencez-la dans l'application "
                "(no group offer for this tender)"
            )
        out: Path = options["out"]
        if version.is_draft:
            problems = offer_problems(version)
            if problems:
                listed = "\n".join(f"- {problem.what} {problem.fix}" for problem in problems)
                raise CommandError(
                    f"la version {version.number} ne peut pas être figée, rien n'a été écrit :\n{listed}"
                )
            if not options["freeze"]:
                self._write(out, self._rendered_now(version))
                return
            try:
                version = freeze_version(
                    actor=None,
                    version_id=version.pk,
                    revision=version.revision,
                    origin="command",
                    queue_rendering=False,
                )
            except OfferRefused as refused:
                listed = "\n".join(f"- {problem}" for problem in refused.problems)
                raise CommandError(f"{refused}\n{listed}".strip()) from None
        if version.render_status != JobStatus.SUCCEEDED:
            version = render_documents(version_id=version.pk)
        if version.render_status != JobStatus.SUCCEEDED:
            errors = "\n".join(f"- {error.get('where')}: {error.get('message')}" for error in version.render_errors)
            raise CommandError(f"le rendu des documents a échoué :\n{errors}")
        documents = OfferDocument.objects.filter(version=version).select_related("firm").order_by("kind", "firm__name")
        self._write(out, [(archive_path(document), read_document(document)) for document in documents])

    def _rendered_now(self, version: OfferVersion) -> list[tuple[str, bytes]]:
        snapshot = offer_snapshot(version)
        names = {firm.id: firm.name for firm in snapshot.firms}
        written = []
        for job in document_jobs(snapshot):
            filename, _content_type, data = job.render()
            written.append((output_path(filename, firm_name=names.get(job.firm_id or 0, "")), data))
        return written

    def _write(self, out: Path, documents: list[tuple[str, bytes]]) -> None:
        out.mkdir(parents=True, exist_ok=True)
        for path, data in sorted(documents):
            target = out / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
            self.stdout.write(f"{hashlib.sha256(data).hexdigest()}  {path}")
