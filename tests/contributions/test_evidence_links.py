"""Evidence links of work delivered upstream (pricing/evidence_links.py): the shapes of the main forges and
registries are classified as a merged change, a release or an issue; anything else is refused with a
message that names the link. Nothing is fetched."""

from __future__ import annotations

import re

import pytest

from pricing.evidence_links import MAX_LINKS, LinkRefused, check_links, classify_link

CHANGE, RELEASE, ISSUE = "change", "release", "issue"


@pytest.mark.parametrize(
    ("url", "kind"),
    [
        # GitHub
        ("https://github.com/postgres/postgres/pull/42", CHANGE),
        ("https://github.com/postgres/postgres/pull/42/", CHANGE),
        ("https://github.com/postgres/postgres/commit/9f3a1c2", CHANGE),
        ("https://github.com/postgres/postgres/commit/" + "a" * 40, CHANGE),
        ("https://github.com/nginx/nginx/releases/tag/release-1.27.0", RELEASE),
        ("https://github.com/nginx/nginx/releases/v1.2", RELEASE),
        ("https://github.com/nginx/nginx/tree/release-1.27.0", None),
        ("https://github.com/nginx/nginx/issues/17", ISSUE),
        # GitLab
        ("https://gitlab.com/gnutls/gnutls/-/merge_requests/1834", CHANGE),
        ("https://gitlab.gnome.org/GNOME/gtk/-/commit/0a1b2c3d4e5f", CHANGE),
        ("https://gitlab.com/gnutls/gnutls/-/tags/3.8.5", RELEASE),
        ("https://gitlab.com/gnutls/gnutls/-/releases/3.8.5", RELEASE),
        ("https://gitlab.com/gnutls/gnutls/-/issues/1500", ISSUE),
        # Codeberg (Forgejo, Gitea)
        ("https://codeberg.org/forgejo/forgejo/pulls/3120", CHANGE),
        ("https://codeberg.org/forgejo/forgejo/commit/5e6f7a8b9c", CHANGE),
        ("https://codeberg.org/forgejo/forgejo/releases/tag/v7.0.0", RELEASE),
        ("https://codeberg.org/forgejo/forgejo/issues/2877", ISSUE),
        # Gerrit, with and without a patch set
        ("https://review.opendev.org/c/openstack/nova/+/912345", CHANGE),
        ("https://review.opendev.org/c/openstack/nova/+/912345/3", CHANGE),
        ("https://go-review.googlesource.com/c/go/+/56789/", CHANGE),
        # registries
        ("https://pypi.org/project/psycopg/3.2.1/", RELEASE),
        ("https://pypi.org/project/psycopg/3.2.1", RELEASE),
        ("https://www.npmjs.com/package/left-pad/v/1.3.0", RELEASE),
        ("https://www.npmjs.com/package/@vue/compiler-sfc/v/3.4.21", RELEASE),
        ("https://crates.io/crates/serde/1.0.197", RELEASE),
        # Bugzilla
        ("https://bugzilla.mozilla.org/show_bug.cgi?id=1234567", ISSUE),
        ("https://bugs.kde.org/show_bug.cgi?id=480000#c3", ISSUE),
        # the query and fragment are kept, the path decides
        ("https://github.com/postgres/postgres/pull/42?diff=split#discussion", CHANGE),
        ("  https://github.com/postgres/postgres/issues/9  ", ISSUE),
    ],
)
def test_shapes(url: str, kind: str | None) -> None:
    if kind is None:
        with pytest.raises(LinkRefused, match="non reconnu"):
            classify_link(url)
    else:
        assert classify_link(url) == kind


@pytest.mark.parametrize(
    ("url", "match"),
    [
        ("http://github.com/postgres/postgres/pull/42", "https://"),
        ("javascript:alert(document.cookie)//github.com/a/b/pull/1", "https://"),
        ("JAVASCRIPT://github.com/a/b/pull/1", "https://"),
        ("data:text/html,<script>alert(1)</script>/pull/1", "https://"),
        ("ftp://ftp.gnu.org/gnu/tag/v1", "https://"),
        ("//github.com/postgres/postgres/pull/42", "https://"),
        ("github.com/postgres/postgres/pull/42", "https://"),
        ("https:///pull/42", "https://"),
        ("https://localhost/a/b/pull/1", "https://"),  # no dot: not a public site
        ("https://[::1/pull/1", "https://"),  # malformed: refused, not a ValueError
        ("https://github.com:abc/a/b/pull/1", "https://"),  # a port that is not a number
        ("https://github.com/a b/c/pull/1", "https://"),
        ("https://github.com/a/b/pull/1\x00", "https://"),
        ("https://user:secret@github.com/postgres/postgres/pull/42", "identifiant ou un mot de passe"),
        ("https://token@github.com/postgres/postgres/pull/42", "identifiant ou un mot de passe"),
        ("https://github.com/postgres/postgres", "non reconnu"),
        ("https://github.com/postgres/postgres/pull/abc", "non reconnu"),
        ("https://github.com/postgres/postgres/pull/42/files", "non reconnu"),
        ("https://pypi.org/project/psycopg/", "non reconnu"),
        ("https://bugzilla.mozilla.org/show_bug.cgi", "non reconnu"),  # which bug?
        ("https://example.org/", "non reconnu"),
        ("https://github.com/a/b/pull/" + "1" * 480, "trop long"),
        ("", "https://"),
    ],
)
def test_refusals_name_the_problem(url: str, match: str) -> None:
    with pytest.raises(LinkRefused, match=match):
        classify_link(url)


def test_a_link_of_exactly_500_characters_is_accepted() -> None:
    prefix = "https://github.com/a/b/pull/"
    url = prefix + "1" * (500 - len(prefix))
    assert len(url) == 500
    assert classify_link(url) == CHANGE
    with pytest.raises(LinkRefused, match="trop long"):
        classify_link(url + "1")


def test_the_refusal_quotes_the_link_so_the_user_finds_it() -> None:
    with pytest.raises(LinkRefused) as refusal:
        classify_link("https://example.org/page")
    assert "https://example.org/page" in str(refusal.value)
    assert isinstance(refusal.value, ValueError)


def test_check_links_keeps_the_order_drops_blanks_and_duplicates() -> None:
    links = [
        " https://github.com/a/b/pull/1",
        "",
        "https://github.com/a/b/pull/1",
        "https://pypi.org/project/b/1.0/",
        "   ",
    ]
    assert check_links(links) == [
        {"url": "https://github.com/a/b/pull/1", "kind": CHANGE},
        {"url": "https://pypi.org/project/b/1.0/", "kind": RELEASE},
    ]


def test_check_links_needs_at_least_one() -> None:
    for links in ([], [""], ["  ", "\n"]):
        with pytest.raises(LinkRefused, match="au moins un lien"):
            check_links(links)


def test_check_links_takes_at_most_twenty() -> None:
    assert MAX_LINKS == 20
    twenty = [f"https://github.com/a/b/pull/{n}" for n in range(20)]
    assert len(check_links(twenty)) == 20
    assert len(check_links([*twenty, twenty[0]])) == 20  # a duplicate is not a twenty-first link
    with pytest.raises(LinkRefused, match="20 liens au plus"):
        check_links([*twenty, "https://github.com/a/b/pull/20"])


def test_check_links_stops_at_the_first_bad_link() -> None:
    with pytest.raises(LinkRefused, match=re.escape("http://github.com/a/b/pull/2")):
        check_links(["https://github.com/a/b/pull/1", "http://github.com/a/b/pull/2"])
