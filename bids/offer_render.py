"""Which documents a version has, and how each is rendered from its snapshot.

The renderers are looked up when a document is rendered, not when this module is imported: WeasyPrint
and openpyxl are only loaded where documents are made (a worker, the command), not in every web process.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from django.utils.translation import gettext as _

from .offer_models import DocumentKind
from .offer_snapshot import OfferSnapshot

Rendered = tuple[str, str, bytes]  # the same contract as bids.offer_documents.Rendered


@dataclass(frozen=True)
class DocumentJob:
    kind: str
    firm_id: int | None  # set on a partner's own part
    label: str  # what the progress bar and the errors say
    render: Callable[[], Rendered]


def document_jobs(snapshot: OfferSnapshot) -> list[DocumentJob]:
    """The buyer's documents, then each member's two parts, in a fixed order."""
    from .offer_documents import groupement, memo, schedule

    jobs = [
        DocumentJob(
            DocumentKind.SCHEDULE, None, str(DocumentKind.SCHEDULE.label), lambda: schedule.render_schedule(snapshot)
        ),
        DocumentJob(DocumentKind.MEMO, None, str(DocumentKind.MEMO.label), lambda: memo.render_memo(snapshot)),
        DocumentJob(
            DocumentKind.GROUPEMENT,
            None,
            str(DocumentKind.GROUPEMENT.label),
            lambda: groupement.render_groupement(snapshot),
        ),
    ]
    for firm in snapshot.firms:
        part = _firm_part(snapshot, firm.id)
        for kind, render in (
            (DocumentKind.PART_SCHEDULE, schedule.render_partner_schedule),
            (DocumentKind.PART_GROUPEMENT, groupement.render_partner_groupement),
        ):
            label = _("%(document)s (%(firm)s)") % {"document": kind.label, "firm": firm.name}
            jobs.append(DocumentJob(kind, firm.id, label, _rendering(render, part)))
    return jobs


def _firm_part(snapshot: OfferSnapshot, firm_id: int) -> Callable[[], OfferSnapshot]:
    """The firm's cut of the snapshot, made once and shared by its two documents."""
    made: list[OfferSnapshot] = []

    def part() -> OfferSnapshot:
        if not made:
            made.append(snapshot.for_firm(firm_id))
        return made[0]

    return part


def _rendering(
    render: Callable[[OfferSnapshot], Rendered], part: Callable[[], OfferSnapshot]
) -> Callable[[], Rendered]:
    return lambda: render(part())


def content_hash(documents: Iterable[tuple[str, int | None, str, str]]) -> str:
    """SHA-256 over the sorted "kind firm filename sha256" lines of a version's documents."""
    lines = sorted(f"{kind} {firm_id or ''} {filename} {sha256}" for kind, firm_id, filename, sha256 in documents)
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()
