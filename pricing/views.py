"""Finance pages: what they share, and the payouts with the firms' bank accounts.

Contracts, orders, invoices and payments: contract_views.py; the dashboard: dashboard_views.py. Views are thin:
selector, form, one service call, message, redirect; a refusal (`ContractRefused`, `LedgerRefused`) comes back
as a message, never as a 500. Finance (and admins) only, except the contract pages that bid managers read.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from consortium.forms import form_errors
from consortium.money import from_cents
from consortium.roles import Role, role_required
from consortium.templatetags.guichet import money
from partners.models import PartnerFirm

from .forms import BankAccountForm, PayoutForm, default_payout_key
from .ledger import LedgerRefused
from .models import PartnerBankAccount
from .payout_file import payout_file
from .selectors import finance
from .services.bank_accounts import set_bank_account
from .services.contracts import ContractRefused
from .services.payouts import run_payout_batch

FINANCE = (Role.FINANCE,)  # role_required lets admins through as well
CONTRACT_READERS = (Role.FINANCE, Role.BID_MANAGER)
REFUSALS = (ContractRefused, LedgerRefused)
PER_PAGE = 50


def form_refused(request: HttpRequest, form: Any, prefix: str) -> None:
    """Each error of the form as a message naming its field."""
    for error in form_errors(form):
        messages.error(request, f"{prefix} {error}")


def posted(request: HttpRequest) -> Any:
    """The POST data to bind a form to, or None on a GET (an empty POST still binds, and is refused)."""
    return request.POST if request.method == "POST" else None


def euros(cents: int, currency: str = "EUR") -> str:
    """Cents shown as in the pages: '1 234,56 EUR' in French."""
    return money(from_cents(cents), currency)


def attachment(response: HttpResponse, filename: str) -> HttpResponse:
    response["Content-Disposition"] = content_disposition_header(as_attachment=True, filename=filename) or "attachment"
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    return response


# --- Payouts ------------------------------------------------------------------------------------------------------


@require_GET
@role_required(*FINANCE)
def payout_list(request: HttpRequest) -> HttpResponse:
    today = timezone.localdate()
    owed = [row for row in finance.owed_to_firms() if row.cents > 0]
    return render(
        request,
        "pricing/payout_list.html",
        {
            "page": Paginator(finance.payout_batches(), PER_PAGE).get_page(request.GET.get("page")),
            "form": PayoutForm(initial={"execution_date": today, "key": default_payout_key(today)}),
            "owed": owed,
            "owed_total": sum(row.cents for row in owed),
            "without_account": finance.firms_without_bank_account(row.key for row in owed),
        },
    )


@require_POST
@role_required(*FINANCE)
def payout_new(request: HttpRequest) -> HttpResponse:
    form = PayoutForm(request.POST)
    if not form.is_valid():
        form_refused(request, form, _("Lot de virements non passé :"))
        return redirect("pricing:payout_list")
    try:
        run = run_payout_batch(
            actor=request.user, key=form.cleaned_data["key"], execution_date=form.cleaned_data["execution_date"]
        )
    except REFUSALS as error:
        messages.error(request, str(error))
        return redirect("pricing:payout_list")
    batch = run.batch
    if not run.created:
        messages.info(
            request,
            _("Le lot « %(key)s » a déjà été passé le %(date)s : rien de nouveau n'a été écrit.")
            % {"key": batch.key, "date": timezone.localtime(batch.created_at).strftime("%d/%m/%Y %H:%M")},
        )
    elif batch.total_cents:
        messages.success(request, _("Lot « %(key)s » passé : virements écrits au grand livre.") % {"key": batch.key})
    else:
        messages.info(request, _("Lot « %(key)s » passé : aucun montant à verser.") % {"key": batch.key})
    for skipped in run.skipped:
        messages.warning(request, _("Non versé : %(why)s") % {"why": skipped})
    return redirect("pricing:payout_detail", pk=batch.pk)


@require_GET
@role_required(*FINANCE)
def payout_detail(request: HttpRequest, pk: int) -> HttpResponse:
    batch = finance.payout_batch(pk)
    if batch is None:
        raise Http404
    items = list(finance.payout_items(batch))
    return render(request, "pricing/payout_detail.html", {"batch": batch, "items": items})


@require_GET
@role_required(*FINANCE)
def payout_download(request: HttpRequest, pk: int) -> HttpResponse:
    batch = finance.payout_batch(pk)
    if batch is None:
        raise Http404
    if not batch.items.exists():
        messages.info(request, _("Ce lot ne contient aucun virement : il n'a pas de fichier SEPA."))
        return redirect("pricing:payout_detail", pk=batch.pk)
    try:
        filename, content_type, content = payout_file(batch)
    except ValueError as error:  # the SEPA checks refuse what the bank would (a name, an IBAN, an amount)
        messages.error(request, _("Fichier SEPA refusé : %(why)s") % {"why": error})
        return redirect("pricing:payout_detail", pk=batch.pk)
    return attachment(HttpResponse(content, content_type=content_type), filename)


# --- Bank accounts ----------------------------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@role_required(*FINANCE)
def bank_account(request: HttpRequest, firm_id: int) -> HttpResponse:
    firm = get_object_or_404(PartnerFirm, pk=firm_id)
    current = PartnerBankAccount.objects.filter(firm=firm).first()
    initial = {"holder": current.holder, "iban": current.iban, "bic": current.bic} if current else {"holder": firm.name}
    form = BankAccountForm(posted(request), initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            set_bank_account(actor=request.user, firm=firm, holder=data["holder"], iban=data["iban"], bic=data["bic"])
        except REFUSALS as error:
            form.add_error(None, str(error))
        else:
            messages.success(request, _("Coordonnées bancaires de %(firm)s enregistrées.") % {"firm": firm.name})
            return redirect("pricing:payout_list")
    return render(request, "pricing/bank_account.html", {"firm": firm, "form": form, "current": current})
