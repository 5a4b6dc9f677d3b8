"""The hardened XML parser: hostile documents fail cleanly, never read files or sockets."""

from __future__ import annotations

import re
import socket
import threading
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from lxml import etree

from bids.importers import xmlsafe
from bids.importers.base import ImportFailed
from bids.importers.xmlsafe import hardened_parser, parse_xml, xs_decimal

IMPORTERS_DIR = Path(xmlsafe.__file__).parent

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<lolz>&lol9;</lolz>
"""

QUADRATIC_BLOWUP = (
    b'<?xml version="1.0"?>\n<!DOCTYPE kaboom [<!ENTITY a "'
    + b"x" * 50_000
    + b'">]>\n<kaboom>'
    + b"&a;" * 50_000
    + b"</kaboom>"
)


def xxe_file(path: Path) -> bytes:
    return (
        b'<?xml version="1.0"?>\n<!DOCTYPE notice [\n  <!ENTITY secret SYSTEM "file://'
        + str(path).encode()
        + b'">\n]>\n<notice><title>&secret;</title></notice>'
    )


def assert_fails(data: bytes, *fragments: str, source: str = "notice.xml") -> ImportFailed:
    with pytest.raises(ImportFailed) as caught:
        parse_xml(data, source=source)
    message = str(caught.value)
    assert message.startswith(source), message
    for fragment in fragments:
        assert re.search(fragment, message, re.IGNORECASE), f"{fragment!r} not in {message!r}"
    return caught.value


@pytest.fixture
def secret_file(tmp_path: Path) -> Path:
    path = tmp_path / "secret.txt"
    path.write_text("TOP-SECRET-CONTENT")
    return path


@pytest.fixture
def probe_server() -> Iterator[tuple[int, list[bytes]]]:
    """A loopback TCP server that records every connection made to it."""
    hits: list[bytes] = []
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(5)
    server.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                connection, _ = server.accept()
            except (TimeoutError, OSError):
                continue
            with connection:
                hits.append(connection.recv(1024))
                connection.sendall(b'HTTP/1.0 200 OK\r\n\r\n<!ENTITY x "FROM-NETWORK">')

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield server.getsockname()[1], hits
    stop.set()
    thread.join(timeout=2)
    server.close()


# --- well-formed input -----------------------------------------------------------------------


def test_parses_plain_xml_without_comments_or_processing_instructions() -> None:
    root = parse_xml(b"<?xml version='1.0'?><a><!-- note --><?pi x?><b>t<!-- c -->ext</b></a>", source="n.xml")
    assert root.tag == "a"
    assert root.findtext("b") == "text"
    assert len(root) == 1


def test_predefined_and_character_entities_are_still_read() -> None:
    root = parse_xml(b"<a>caf&#233; &amp; th&#xE9; &lt;ok&gt;</a>", source="n.xml")
    assert root.text == "café & thé <ok>"


def test_a_utf8_byte_order_mark_is_accepted() -> None:
    assert parse_xml(b"\xef\xbb\xbf<a>x</a>", source="n.xml").text == "x"


# --- entity attacks --------------------------------------------------------------------------


def test_xxe_file_entity_is_refused_and_the_file_never_read(secret_file: Path) -> None:
    error = assert_fails(xxe_file(secret_file), r"notice\.xml, line 2", "DOCTYPE")
    assert "TOP-SECRET" not in str(error)


def test_the_parser_itself_never_reads_a_file_entity(secret_file: Path) -> None:
    # Below the DOCTYPE refusal: the lxml parser alone must not expand the entity either.
    root = etree.fromstring(xxe_file(secret_file), hardened_parser())
    assert b"TOP-SECRET" not in etree.tostring(root)


def test_xxe_over_http_is_refused_without_any_connection(probe_server: tuple[int, list[bytes]]) -> None:
    port, hits = probe_server
    url = f"http://127.0.0.1:{port}/x".encode()
    entity = b'<?xml version="1.0"?><!DOCTYPE n [<!ENTITY e SYSTEM "' + url + b'">]><n>&e;</n>'
    external_dtd = b'<?xml version="1.0"?><!DOCTYPE n SYSTEM "' + url + b'"><n>&x;</n>'
    parameter = b'<?xml version="1.0"?><!DOCTYPE n [<!ENTITY % p SYSTEM "' + url + b'"> %p;]><n>&x;</n>'
    for document in (entity, external_dtd, parameter):
        assert_fails(document, "DOCTYPE")
        # Below the DOCTYPE refusal, the bare parser must not fetch anything either.
        outcome = _bare_parse(document)
        assert b"FROM-NETWORK" not in outcome
    time.sleep(0.3)  # let the server thread record a late connection, if any
    assert hits == []


def _bare_parse(document: bytes) -> bytes:
    """The document as the hardened parser alone reads it, or its error message."""
    try:
        return etree.tostring(etree.fromstring(document, hardened_parser()))
    except etree.XMLSyntaxError as error:
        return str(error).encode()


def test_billion_laughs_is_refused() -> None:
    assert_fails(BILLION_LAUGHS, r"line 2", "DOCTYPE")


def test_quadratic_blowup_is_refused() -> None:
    assert_fails(QUADRATIC_BLOWUP, "DOCTYPE")


def test_external_dtd_is_refused(secret_file: Path) -> None:
    dtd = secret_file.with_suffix(".dtd")
    dtd.write_text('<!ENTITY x "FROM-DTD">')
    document = b'<?xml version="1.0"?>\n<!DOCTYPE n SYSTEM "file://' + str(dtd).encode() + b'">\n<n>&x;</n>'
    assert_fails(document, r"line 2", "DOCTYPE")


def test_a_lowercase_or_bare_entity_declaration_is_refused() -> None:
    assert_fails(b"<!doctype html><html/>", "DOCTYPE")
    assert_fails(b'<a><!ENTITY x "y"></a>', "entity declarations")


def test_utf16_documents_are_refused_so_no_declaration_hides_from_the_scan() -> None:
    hidden = '<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE a [<!ENTITY x "y">]><a>&x;</a>'
    assert_fails(hidden.encode("utf-16"), "UTF-8")
    assert_fails(hidden.encode("utf-16-le"), "UTF-8")


def test_a_declaration_past_the_byte_scan_is_still_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(xmlsafe, "_DECLARATION_RE", re.compile(rb"(?!)"))
    assert_fails(b'<!DOCTYPE a [<!ENTITY x "y">]><a>&x;</a>', "DOCTYPE")
    assert_fails(b"<!DOCTYPE a><a/>", "DOCTYPE")


def test_an_undeclared_entity_is_refused() -> None:
    assert_fails(b"<a>\n&nbsp;</a>", r"line 2", "entit")


# --- broken documents ------------------------------------------------------------------------


def test_deep_nesting_is_refused() -> None:
    deep = b"<a>" * 10_000 + b"</a>" * 10_000
    assert_fails(deep, r"line 1", "nested too deeply")


def test_truncated_file_names_the_line() -> None:
    assert_fails(b"<?xml version='1.0'?>\n<notice>\n  <title>Lot", r"notice\.xml, line 3", "truncated")


def test_mismatched_tags_name_the_line() -> None:
    assert_fails(b"<notice>\n<a>\n</b>\n</notice>", r"line 3: not well-formed XML", "mismatch")


@pytest.mark.parametrize("data", [b"", b"   \n\t ", b"\xef\xbb\xbf"])
def test_empty_file_is_refused(data: bytes) -> None:
    assert_fails(data, "the file is empty")


def test_raw_nul_character_is_refused() -> None:
    assert_fails(b"<notice>\n<title>Lot\x00 1</title></notice>", r"line 2", "0x0")


def test_nul_character_reference_is_refused() -> None:
    assert_fails(b"<notice>\n<title>Lot&#0; 1</title></notice>", r"line 2", "invalid xmlChar value 0")


def test_not_xml_at_all_is_refused() -> None:
    assert_fails(b"%PDF-1.7 binary", "not well-formed|empty")
    assert_fails(b"\x89PNG\r\n\x1a\n\x00\x00", "not well-formed|empty")


def test_oversized_file_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(xmlsafe, "MAX_XML_BYTES", 1024 * 1024)
    assert_fails(b"<a>" + b"x" * (1024 * 1024) + b"</a>", "larger than 1 MB")


# --- decimals --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("1295520.00", Decimal("1295520.00")),
        (" 84000 ", Decimal("84000")),
        (".5", Decimal("0.5")),
        ("", None),
    ],
)
def test_xs_decimal_reads_xml_decimals_exactly(raw: str, expected: Decimal | None) -> None:
    assert xs_decimal(raw, where="n.xml") == expected


@pytest.mark.parametrize("raw", ["1,5", "1 000", "-5", "1e5", "NaN", "Infinity", "12€", "１２"])
def test_xs_decimal_refuses_what_is_not_an_xml_decimal(raw: str) -> None:
    with pytest.raises(ImportFailed, match=r"n\.xml, amount: not a decimal amount"):
        xs_decimal(raw, where="n.xml, amount")


# --- one parser for every XML importer -------------------------------------------------------

# lxml or stdlib parsing calls; defusedxml (the spreadsheet importer's XLSX internals) is allowed.
_BARE_PARSE_RE = re.compile(
    r"\b(?:etree|ElementTree|ET|minidom|sax)\.(?:fromstring|parse|parseString|iterparse|XML|XMLParser|XMLPullParser)\("
)


def test_no_importer_parses_xml_except_through_xmlsafe() -> None:
    assert _BARE_PARSE_RE.search("root = etree.fromstring(data)")  # the check itself bites
    assert _BARE_PARSE_RE.search("tree = ET.parse(handle)")
    offenders = [
        f"{path.name}:{number}"
        for path in sorted(IMPORTERS_DIR.glob("*.py"))
        if path.name != "xmlsafe.py"
        for number, line in enumerate(path.read_text().splitlines(), start=1)
        if _BARE_PARSE_RE.search(line) and "defusedxml" not in line
    ]
    assert offenders == []
