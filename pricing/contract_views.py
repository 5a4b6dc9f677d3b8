"""The contracts' pages: the list (with the won offers still waiting for theirs), the contract and its actions.

Finance and bid managers read the contracts' progress; only finance (and admins) act, and only finance sees who
gets what of each invoice and the ledger entries. Every contract is read through `contracts_for(user)`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from bids.offer_models import MemberRole, OfferStatus, OfferVersion
from consortium.roles import Role, has_role, role_required

from .forms import (
    AdvanceForm,
    ContractForm,
    CreditNoteForm,
    FinanceImportForm,
    InvoiceChoiceForm,
    InvoiceForm,
    OrderForm,
    PaymentForm,
    ReleaseForm,
    ReverseForm,
)
from .imports import KIND_LABELS, expected_columns, import_finance_file
from .models import Contract, InvoiceKind
from .selectors import finance
from .selectors.contracts import contracts_for, invoice_positions
from .services.contracts import create_contract, create_order, issue_credit_note, issue_invoice, validate_invoice
from .services.payments import PaymentInput, record_advance, record_payment, release_guarantee, reverse_payment
from .views import CONTRACT_READERS, FINANCE, PER_PAGE, REFUSALS, euros, form_refused, posted

ENTRIES_PER_PAGE = 30
PROBLEMS_SHOWN = 100


def _contract(request: HttpRequest, pk: int) -> Contract:
    return get_object_or_404(contracts_for(request.user), pk=pk)


def _back(contract: Contract, anchor: str = "") -> HttpResponse:
    url = reverse("pricing:contract_detail", args=[contract.pk])
    return redirect(f"{url}#{anchor}" if anchor else url)


def _is_finance(request: HttpRequest) -> bool:
    return has_role(request.user, Role.FINANCE, Role.ADMIN)


# --- The list and a new contract --------------------------------------------------------------------------------


@require_GET
@role_required(*CONTRACT_READERS)
def contract_list(request: HttpRequest) -> HttpResponse:
    contracts = contracts_for(request.user).prefetch_related("version__offer__tender__buyers")
    page = Paginator(contracts, PER_PAGE).get_page(request.GET.get("page"))
    figures = finance.contract_figures(page.object_list)
    return render(
        request,
        "pricing/contract_list.html",
        {
            "page": page,
            "rows": [(contract, figures[contract.pk]) for contract in page.object_list],
            "waiting": list(finance.won_versions_without_contract()[:PER_PAGE]) if _is_finance(request) else [],
        },
    )


@require_http_methods(["GET", "POST"])
@role_required(*FINANCE)
def contract_new(request: HttpRequest, version_id: int) -> HttpResponse:
    version = get_object_or_404(
        OfferVersion.objects.select_related("offer__tender"), pk=version_id, status=OfferStatus.WON
    )
    existing = Contract.objects.filter(version=version).first()
    if existing is not None:
        messages.info(request, _("Cette offre a déjà son marché : %(ref)s.") % {"ref": existing.reference})
        return _back(existing)
    members = list(version.members.select_related("firm").order_by("firm__name"))
    tender = version.offer.tender
    initial = {"title": tender.title[:300], "reference": (tender.procedure_id or tender.notice_id)[:100]}
    form = ContractForm(posted(request), members=members, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            contract = create_contract(actor=request.user, version=version, terms=form.terms(), routes=form.routes())
        except REFUSALS as error:
            form.add_error(None, str(error))
        else:
            messages.success(request, _("Marché %(ref)s enregistré.") % {"ref": contract.reference})
            return _back(contract)
    return render(request, "pricing/contract_new.html", {"version": version, "tender": tender, "form": form})


# --- The contract -----------------------------------------------------------------------------------------------


@require_GET
@role_required(*CONTRACT_READERS)
def contract_detail(request: HttpRequest, pk: int) -> HttpResponse:
    contract = _contract(request, pk)
    is_finance = _is_finance(request)
    invoices = Paginator(finance.contract_invoices(contract), PER_PAGE).get_page(request.GET.get("invoices"))
    positions = invoice_positions(invoices.object_list)
    shares = finance.shares_of_invoices(positions.keys()) if is_finance else {}
    context: dict[str, Any] = {
        "contract": contract,
        "tender": contract.version.offer.tender,
        "figures": finance.contract_figures([contract])[contract.pk],
        "parties": list(finance.contract_parties(contract)),
        "lot_progress": finance.lot_progress(contract),
        "orders": Paginator(finance.contract_orders(contract), PER_PAGE).get_page(request.GET.get("orders")),
        "invoices": invoices,
        "invoice_rows": [
            {"invoice": invoice, "position": positions[invoice.pk], "shares": shares.get(invoice.pk, [])}
            for invoice in invoices.object_list
        ],
        "payments": Paginator(finance.contract_payments(contract), PER_PAGE).get_page(request.GET.get("payments")),
        "is_finance": is_finance,
        "credit_kind": InvoiceKind.CREDIT_NOTE,
        "role_labels": dict(MemberRole.choices),
    }
    if is_finance:
        context.update(_finance_context(request, contract))
    return render(request, "pricing/contract_detail.html", context)


def _finance_context(request: HttpRequest, contract: Contract) -> dict[str, Any]:
    payable = finance.payable_invoices(contract)
    direct = finance.direct_parties(contract)
    return {
        "lots": finance.contract_lots(contract),
        "entries": Paginator(finance.contract_entries(contract), ENTRIES_PER_PAGE).get_page(request.GET.get("entries")),
        "reversible": finance.live_payment_ids(contract),
        "credit_form": CreditNoteForm(invoices=payable, prefix="credit"),
        "payment_form": PaymentForm(invoices=payable, direct_parties=direct, prefix="payment"),
        "advance_form": AdvanceForm(prefix="advance"),
        "release_form": ReleaseForm(prefix="release"),
    }


# --- Orders and invoices ----------------------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@role_required(*FINANCE)
def order_new(request: HttpRequest, pk: int) -> HttpResponse:
    contract = _contract(request, pk)
    lots = {str(lot.pk): lot for lot in finance.contract_lots(contract)}
    lot = lots.get(str(request.POST.get("lot") or request.GET.get("lot") or ""))
    if lot is None:
        messages.error(request, _("Choisissez un lot du marché pour le bon de commande."))
        return _back(contract, "orders")
    offer_lines = finance.lot_offer_lines(contract, lot.pk)
    form = OrderForm(posted(request), offer_lines=offer_lines)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            order = create_order(
                actor=request.user,
                contract=contract,
                lot_id=lot.pk,
                number=data["number"].strip(),
                issued_on=data["issued_on"],
                lines=form.lines(),
            )
        except REFUSALS as error:
            form.add_error(None, str(error))
        else:
            messages.success(
                request,
                _("Bon de commande %(n)s enregistré : %(total)s HT.")
                % {"n": order.number, "total": euros(order.total_ht_cents, contract.currency)},
            )
            return _back(contract, "orders")
    return render(request, "pricing/order_new.html", {"contract": contract, "lot": lot, "form": form})


@require_http_methods(["GET", "POST"])
@role_required(*FINANCE)
def invoice_new(request: HttpRequest, pk: int, order_id: int) -> HttpResponse:
    contract = _contract(request, pk)
    order = get_object_or_404(contract.orders.select_related("lot"), pk=order_id)
    form = InvoiceForm(
        posted(request),
        lines=finance.order_lines_left(order),
        parties=finance.contract_parties(contract),
        circuit=contract.invoicing_circuit,
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            invoice = issue_invoice(
                actor=request.user,
                order=order,
                number=data["number"].strip(),
                issued_on=data["issued_on"],
                lines=form.lines(),
                issuer_id=form.issuer_id(),
            )
        except REFUSALS as error:
            form.add_error(None, str(error))
        else:
            messages.success(
                request,
                _("Facture %(n)s émise : %(total)s TTC (%(status)s).")
                % {
                    "n": invoice.number,
                    "total": euros(invoice.total_ttc_cents, contract.currency),
                    "status": invoice.get_status_display(),
                },
            )
            return _back(contract, "invoices")
    return render(request, "pricing/invoice_new.html", {"contract": contract, "order": order, "form": form})


def _act(
    request: HttpRequest, contract: Contract, form: Any, *, refused: str, action: Callable[[dict[str, Any]], str],
    done: str, refused_at: str = "",
) -> HttpResponse:  # fmt: skip
    """The shape of every action form of the contract page: the form's errors or the service's refusal as
    messages (shown at the top of the page unless `refused_at` names a section), or the service's success."""
    if not form.is_valid():
        form_refused(request, form, refused)
        return _back(contract, refused_at)
    try:
        message = action(form.cleaned_data)
    except REFUSALS as error:
        messages.error(request, str(error))
        return _back(contract, refused_at)
    messages.success(request, message)
    return _back(contract, done)


@require_POST
@role_required(*FINANCE)
def invoice_validate(request: HttpRequest, pk: int) -> HttpResponse:
    contract = _contract(request, pk)
    form = InvoiceChoiceForm(request.POST, invoices=finance.submitted_invoices(contract))

    def validate(data: dict[str, Any]) -> str:
        invoice = validate_invoice(actor=request.user, invoice=data["invoice"])
        return _("Facture %(n)s validée et émise.") % {"n": invoice.number}

    return _act(
        request, contract, form, refused=_("Facture non validée :"), action=validate, done="invoices",
        refused_at="invoices",
    )  # fmt: skip


@require_POST
@role_required(*FINANCE)
def credit_note_new(request: HttpRequest, pk: int) -> HttpResponse:
    contract = _contract(request, pk)
    form = CreditNoteForm(request.POST, invoices=finance.payable_invoices(contract), prefix="credit")

    def credit(data: dict[str, Any]) -> str:
        note = issue_credit_note(
            actor=request.user,
            invoice=data["invoice"],
            number=data["number"].strip(),
            issued_on=data["issued_on"],
            amount_ht_cents=data["amount_ht"],
            reason=data["reason"],
        )
        return _("Avoir %(n)s émis sur la facture %(inv)s : %(total)s TTC.") % {
            "n": note.number,
            "inv": data["invoice"].number,
            "total": euros(note.total_ttc_cents, contract.currency),
        }

    return _act(request, contract, form, refused=_("Avoir non émis :"), action=credit, done="invoices")


# --- Payments ---------------------------------------------------------------------------------------------------


@require_POST
@role_required(*FINANCE)
def payment_new(request: HttpRequest, pk: int) -> HttpResponse:
    contract = _contract(request, pk)
    direct = finance.direct_parties(contract)
    form = PaymentForm(
        request.POST, invoices=finance.payable_invoices(contract), direct_parties=direct, prefix="payment"
    )

    def pay(data: dict[str, Any]) -> str:
        payment = record_payment(
            actor=request.user,
            payment=PaymentInput(
                invoice_id=data["invoice"].pk,
                received_on=data["received_on"],
                amount_cents=data["amount"],
                bank_reference=data["bank_reference"],
                firm_id=form.firm_id(),
            ),
        )
        return _("Paiement de %(amount)s enregistré sur la facture %(inv)s et redistribué.") % {
            "amount": euros(payment.amount_cents, contract.currency),
            "inv": data["invoice"].number,
        }

    return _act(request, contract, form, refused=_("Paiement non enregistré :"), action=pay, done="payments")


@require_POST
@role_required(*FINANCE)
def advance_new(request: HttpRequest, pk: int) -> HttpResponse:
    contract = _contract(request, pk)
    form = AdvanceForm(request.POST, prefix="advance")

    def advance(data: dict[str, Any]) -> str:
        record_advance(
            actor=request.user,
            contract=contract,
            received_on=data["received_on"],
            amount_cents=data["amount"],
            bank_reference=data["bank_reference"],
        )
        return _("Avance de %(amount)s enregistrée.") % {"amount": euros(data["amount"], contract.currency)}

    return _act(request, contract, form, refused=_("Avance non enregistrée :"), action=advance, done="payments")


@require_POST
@role_required(*FINANCE)
def guarantee_release(request: HttpRequest, pk: int) -> HttpResponse:
    contract = _contract(request, pk)
    form = ReleaseForm(request.POST, prefix="release")

    def release(data: dict[str, Any]) -> str:
        releases = release_guarantee(
            actor=request.user,
            contract=contract,
            received_on=data["received_on"],
            bank_reference=data["bank_reference"],
        )
        return _("Retenue de garantie libérée : %(amount)s sur %(count)s facture(s), redistribués.") % {
            "amount": euros(sum(p.amount_cents for p in releases), contract.currency),
            "count": len(releases),
        }

    return _act(request, contract, form, refused=_("Retenue non libérée :"), action=release, done="payments")


@require_POST
@role_required(*FINANCE)
def payment_reverse(request: HttpRequest, pk: int) -> HttpResponse:
    contract = _contract(request, pk)
    form = ReverseForm(request.POST, payments=contract.payments.filter(reversed_at__isnull=True))

    def undo(data: dict[str, Any]) -> str:
        payment = reverse_payment(actor=request.user, payment=data["payment"], reason=data["reason"])
        return _("Paiement de %(amount)s annulé : ses écritures sont contre-passées.") % {
            "amount": euros(payment.amount_cents, contract.currency)
        }

    return _act(
        request, contract, form, refused=_("Paiement non annulé :"), action=undo, done="payments",
        refused_at="payments",
    )  # fmt: skip


# --- Import of orders, invoices and payments ----------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@role_required(*FINANCE)
def finance_import(request: HttpRequest, pk: int) -> HttpResponse:
    contract = _contract(request, pk)
    form = FinanceImportForm(posted(request), request.FILES if request.method == "POST" else None)
    result = None
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        kind = form.cleaned_data["kind"]
        try:
            result = import_finance_file(
                actor=request.user, contract=contract, kind=kind, filename=upload.name, data=upload.read()
            )
        except REFUSALS as error:
            form.add_error(None, str(error))
        else:
            if not result.problems:
                messages.success(
                    request,
                    _("Import de %(kind)s : %(count)s enregistré(s), %(total)s.")
                    % {
                        "kind": KIND_LABELS[kind],
                        "count": result.created,
                        "total": euros(result.total_cents, contract.currency),
                    },
                )
                return _back(
                    contract, "orders" if kind == "orders" else "invoices" if kind == "invoices" else "payments"
                )
    problems = result.problems if result is not None else []
    return render(
        request,
        "pricing/contract_import.html",
        {
            "contract": contract,
            "form": form,
            "problems": problems[:PROBLEMS_SHOWN],
            "more_problems": max(0, len(problems) - PROBLEMS_SHOWN),
            "columns": [(label, expected_columns(kind)) for kind, label in KIND_LABELS.items()],
        },
    )
