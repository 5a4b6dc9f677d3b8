"""Links given as evidence of work delivered upstream: checked for form and classified, never fetched.

Accepted: https links to a merged change (pull or merge request, commit, Gerrit change), a release
(forge release or tag, package registry version) or an issue, on any host.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from django.utils.translation import gettext as _

from .contribution_models import LinkKind

MAX_LINKS = 20
PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (kind, re.compile(pattern))
    for kind, pattern in (
        (LinkKind.CHANGE, r"/(pull|pulls|merge_requests)/\d+/?$"),
        (LinkKind.CHANGE, r"/-/merge_requests/\d+/?$"),
        (LinkKind.CHANGE, r"/commits?/[0-9a-f]{7,64}/?$"),
        (LinkKind.CHANGE, r"/\+/\d+(/\d+)?/?$"),  # Gerrit
        (LinkKind.RELEASE, r"/releases/(tag/)?[^/]+/?$"),
        (LinkKind.RELEASE, r"/-/(releases|tags)/[^/]+/?$"),
        (LinkKind.RELEASE, r"/tags?/[^/]+/?$"),
        (LinkKind.RELEASE, r"^/project/[^/]+/[^/]+/?$"),  # PyPI
        (LinkKind.RELEASE, r"^/package/(@[^/]+/)?[^/]+/v/[^/]+/?$"),  # npm
        (LinkKind.RELEASE, r"^/crates/[^/]+/[^/]+/?$"),  # crates.io
        (LinkKind.ISSUE, r"/(-/)?issues/\d+/?$"),
        (LinkKind.ISSUE, r"/show_bug\.cgi$"),  # Bugzilla, with ?id=
    )
)


class LinkRefused(ValueError):
    pass


def classify_link(url: str) -> str:
    """The LinkKind of an evidence link, or LinkRefused saying what is wrong with it."""
    url = url.strip()
    if len(url) > 500:
        raise LinkRefused(_("Lien trop long (500 caractères au plus) : %(url)s") % {"url": url[:80] + "…"})
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  (a port that is not a number raises here)
    except ValueError as exc:  # "https://[::1/..." and the like: refused like any malformed link, never a 500
        raise _not_a_site(url) from exc
    if (
        any(char.isspace() or not char.isprintable() for char in url)
        or parts.scheme != "https"
        or not parts.hostname
        or "." not in parts.hostname
    ):
        raise _not_a_site(url)
    if parts.username or parts.password:
        raise LinkRefused(_("Lien refusé, il contient un identifiant ou un mot de passe : %(url)s") % {"url": url})
    for kind, pattern in PATTERNS:
        if pattern.search(parts.path) and (kind != LinkKind.ISSUE or "show_bug" not in parts.path or "id=" in url):
            return str(kind)
    raise LinkRefused(
        _(
            "Lien non reconnu : %(url)s. Donnez une modification fusionnée (…/pull/12, …/-/merge_requests/12, "
            "…/commit/<sha>), une version (…/releases/tag/v1.2, …/-/tags/v1.2, pypi.org/project/<nom>/<version>) "
            "ou un ticket (…/issues/12)."
        )
        % {"url": url}
    )


def _not_a_site(url: str) -> LinkRefused:
    return LinkRefused(_("Lien refusé, il doit commencer par https:// et nommer un site : %(url)s") % {"url": url})


def check_links(urls: list[str]) -> list[dict[str, str]]:
    """The links as stored: [{"url", "kind"}], duplicates dropped; LinkRefused on the first bad one."""
    cleaned: list[dict[str, str]] = []
    seen: set[str] = set()
    for url in (u.strip() for u in urls):
        if not url or url in seen:
            continue
        seen.add(url)
        cleaned.append({"url": url, "kind": classify_link(url)})
    if not cleaned:
        raise LinkRefused(_("Donnez au moins un lien qui montre le travail livré."))
    if len(cleaned) > MAX_LINKS:
        raise LinkRefused(_("%(n)s liens au plus.") % {"n": MAX_LINKS})
    return cleaned
