"""The answer to an uncaught exception: 503 while the database is unreachable, 500 otherwise.

Django calls `server_error` (handler500) inside its `except` block, so `sys.exc_info()` still holds the
exception. The 503 page is a bare template: rendering it touches neither the session nor the user, which
live in the database that is down.
"""

from __future__ import annotations

import sys

from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template import loader
from django.views.decorators.csrf import requires_csrf_token

RETRY_AFTER_SECONDS = 5
DATABASE_DOWN = (OperationalError, InterfaceError)


@requires_csrf_token
def server_error(request: HttpRequest) -> HttpResponse:
    if not isinstance(sys.exc_info()[1], DATABASE_DOWN):
        return HttpResponse(loader.get_template("500.html").render(), status=500)
    if request.path.startswith("/api/"):
        response: HttpResponse = JsonResponse(
            {"detail": "La base de données est momentanément indisponible : réessayez dans quelques secondes."},
            status=503,
        )
    else:
        page = loader.get_template("503.html").render({"retry_after": RETRY_AFTER_SECONDS})
        response = HttpResponse(page, status=503)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response
