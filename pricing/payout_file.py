"""The payout batch as the bank wants it: a SEPA credit-transfer file (pain.001.001.09)."""

from __future__ import annotations

from django.conf import settings

from .ledger_models import PayoutBatch
from .sepa import Transfer, TransferBatch, pain001

CONTENT_TYPE = "application/xml"


def payout_file(batch: PayoutBatch) -> tuple[str, str, bytes]:
    items = list(batch.items.select_related("firm").order_by("firm__name"))
    document = pain001(
        TransferBatch(
            message_id=f"GUICHET-{batch.pk}-{batch.key}"[:35],
            created_at=batch.created_at,
            execution_date=batch.execution_date,
            debtor_name=settings.GUICHET_LEGAL_NAME,
            debtor_iban=settings.GUICHET_IBAN,
            debtor_bic=settings.GUICHET_BIC,
            transfers=[
                Transfer(
                    end_to_end_id=f"G{batch.pk}-{item.pk}",
                    creditor_name=item.holder,
                    iban=item.iban,
                    bic=item.bic,
                    amount_cents=item.amount_cents,
                    remittance=f"Guichet {batch.key} - {item.firm.name}",
                )
                for item in items
            ],
        )
    )
    return f"virements-{batch.key}.xml", CONTENT_TYPE, document
