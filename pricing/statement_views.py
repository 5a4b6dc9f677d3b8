"""Pages of partner statements: a partner's own (page, PDF, XLSX), any firm's for finance, and finance's list.

A firm's statement is read through `statement_firm(user, firm_id)`: finance and admins reach every firm,
a partner user only its own; another firm's id is a 404 for a partner, never a 403 that would confirm it
exists. Bid managers follow contracts, not payouts: the statements are closed to them (403).
"""

from __future__ import annotations

from collections.abc import Callable

from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from bids.offer_documents import Rendered
from consortium.money import from_cents
from consortium.roles import Role, role_required, user_role
from partners.models import PartnerFirm
from partners.selectors import firm_of

from .selectors.statements import Statement, firms_with_statements, partner_statement, statement_firm
from .services.payouts import owed_to_firms
from .statement_documents import statement_context, statement_pdf, statement_xlsx

STATEMENT_READERS = (Role.FINANCE, Role.PARTNER)  # role_required lets admins through as well
FINANCE = (Role.FINANCE,)
FIRMS_PER_PAGE = 100


def _own_firm(request: HttpRequest) -> PartnerFirm:
    if user_role(request.user) != Role.PARTNER:
        raise PermissionDenied  # an admin or finance user has no statement of its own
    firm = firm_of(request.user)
    if firm is None:
        raise Http404(_("Votre compte n'est rattaché à aucune entreprise."))
    return firm


def _firm(request: HttpRequest, firm_id: int) -> PartnerFirm:
    firm = statement_firm(request.user, firm_id)
    if firm is None:
        raise Http404
    return firm


def _page(request: HttpRequest, firm: PartnerFirm, *, own: bool) -> HttpResponse:
    context = statement_context(partner_statement(firm), on=timezone.localdate())
    context["own"] = own
    return render(request, "pricing/statement_page.html", context)


def _download(firm: PartnerFirm, render_document: Callable[[Statement], Rendered]) -> HttpResponse:
    filename, content_type, content = render_document(partner_statement(firm))
    response = HttpResponse(content, content_type=content_type)
    response["Content-Disposition"] = content_disposition_header(as_attachment=True, filename=filename) or ""
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    return response


# --- A partner's own statement ----------------------------------------------------------------------------


@require_GET
@role_required(Role.PARTNER)
def my_statement(request: HttpRequest) -> HttpResponse:
    return _page(request, _own_firm(request), own=True)


@require_GET
@role_required(Role.PARTNER)
def my_statement_pdf(request: HttpRequest) -> HttpResponse:
    return _download(_own_firm(request), statement_pdf)


@require_GET
@role_required(Role.PARTNER)
def my_statement_xlsx(request: HttpRequest) -> HttpResponse:
    return _download(_own_firm(request), statement_xlsx)


# --- Any firm's statement (finance; a partner only its own) ------------------------------------------------


@require_GET
@role_required(*STATEMENT_READERS)
def firm_statement(request: HttpRequest, firm_id: int) -> HttpResponse:
    return _page(request, _firm(request, firm_id), own=user_role(request.user) == Role.PARTNER)


@require_GET
@role_required(*STATEMENT_READERS)
def firm_statement_pdf(request: HttpRequest, firm_id: int) -> HttpResponse:
    return _download(_firm(request, firm_id), statement_pdf)


@require_GET
@role_required(*STATEMENT_READERS)
def firm_statement_xlsx(request: HttpRequest, firm_id: int) -> HttpResponse:
    return _download(_firm(request, firm_id), statement_xlsx)


@require_GET
@role_required(*FINANCE)
def statement_firm_list(request: HttpRequest) -> HttpResponse:
    """Each firm that is a contract party or has a ledger account, with what the guichet owes it."""
    owed = owed_to_firms()  # one grouped query over the partner and direct accounts
    page = Paginator(firms_with_statements(), FIRMS_PER_PAGE).get_page(request.GET.get("page"))
    rows = [{"firm": item, "balance": from_cents(owed.get(item.pk, 0))} for item in page.object_list]
    context = {"page": page, "rows": rows, "total": from_cents(sum(owed.values())), "currency": "EUR"}
    return render(request, "pricing/statement_firms.html", context)
