"""The hardened JSON loader: every hostile input becomes an ImportFailed that says what and where."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bids.importers.base import ImportFailed, Problem
from bids.importers.jsonsafe import MAX_INTEGER_DIGITS, load_json
from tests.importers.fuzzing import to_json

SOURCE = "upload.json"


def refused(data: bytes, **options: Any) -> Problem:
    with pytest.raises(ImportFailed) as caught:
        load_json(data, source=SOURCE, **options)
    assert len(caught.value.problems) == 1
    return caught.value.problems[0]


# --- what is accepted --------------------------------------------------------------------------


def test_fractions_and_exponents_become_exact_decimals_and_integers_stay_int() -> None:
    value = load_json(b'{"price": 0.1, "big": 1.5E+3, "count": 42, "neg": -7}', source=SOURCE)

    assert value == {"price": Decimal("0.1"), "big": Decimal("1.5E+3"), "count": 42, "neg": -7}
    assert type(value["price"]) is Decimal
    assert type(value["count"]) is int


def test_a_utf8_bom_is_skipped_and_accents_survive() -> None:
    assert load_json(b'\xef\xbb\xbf{"titre": "March\xc3\xa9 public"}', source=SOURCE) == {"titre": "Marché public"}


def test_the_words_nan_and_infinity_inside_strings_are_plain_text() -> None:
    assert load_json(b'["NaN", "Infinity", "-Infinity"]', source=SOURCE) == ["NaN", "Infinity", "-Infinity"]


def test_the_same_key_in_two_different_objects_is_not_a_duplicate() -> None:
    assert load_json(b'[{"amount": 1}, {"amount": 2}]', source=SOURCE) == [{"amount": 1}, {"amount": 2}]


def test_an_integer_of_the_maximum_length_is_accepted() -> None:
    literal = "9" * MAX_INTEGER_DIGITS
    assert load_json(f"[{literal}]".encode(), source=SOURCE) == [int(literal)]


def test_1e400_is_a_valid_decimal_for_the_loader_and_the_importer_bounds_it() -> None:
    # The loader refuses only what Decimal cannot handle safely; amounts are bounded in ocds.py.
    assert load_json(b"[1e400]", source=SOURCE) == [Decimal("1E+400")]


def test_a_surrogate_pair_escape_is_a_valid_character() -> None:
    assert load_json(b'["\\ud83d\\ude00"]', source=SOURCE) == ["\U0001f600"]


def test_an_escaped_backslash_before_u0000_is_not_a_nul() -> None:
    assert load_json(b'["\\\\u0000"]', source=SOURCE) == ["\\u0000"]


# --- numbers JSON does not allow, or Python would mangle -----------------------------------------


@pytest.mark.parametrize(
    ("document", "name", "column"),
    [
        (b'{"amount": NaN}', "NaN", 12),
        (b'{"amount": Infinity}', "Infinity", 12),
        (b'{"amount": -Infinity}', "-Infinity", 12),
        (b'["NaN", NaN]', "NaN", 9),
    ],
)
def test_nan_and_infinity_are_refused_with_their_place(document: bytes, name: str, column: int) -> None:
    problem = refused(document)

    assert problem.where == SOURCE
    assert problem.message == f"{name} is not a number JSON allows at line 1 column {column}"


def test_a_5000_digit_integer_is_refused_cleanly_not_with_pythons_valueerror() -> None:
    problem = refused(b'{"amount":\n  ' + b"7" * 5000 + b"}")

    assert problem.message == f"an integer of 5000 digits is too long (at most {MAX_INTEGER_DIGITS}) at line 2 column 3"


def test_an_exponent_out_of_decimal_range_is_refused() -> None:
    problem = refused(b'{"amount": 1e999999999}')

    assert problem.message == "the number 1e999999999 is out of range at line 1 column 12"


def test_an_absurdly_long_number_literal_is_refused() -> None:
    assert "a number of 502 characters is too long" in refused(b"[0." + b"1" * 500 + b"]").message


# --- duplicate keys -----------------------------------------------------------------------------


def test_duplicate_keys_are_refused_naming_the_key() -> None:
    problem = refused(b'{"amount":1,"amount":1000000}')

    assert problem == Problem(SOURCE, "duplicate key 'amount' in one object")


def test_a_nested_duplicate_key_is_refused() -> None:
    assert refused(b'{"tender": {"value": {"currency": "EUR", "currency": "GBP"}}}').message == (
        "duplicate key 'currency' in one object"
    )


# --- nesting depth ------------------------------------------------------------------------------


@pytest.mark.parametrize(("opening", "closing"), [(b"[", b"]"), (b'{"a":', b"}")])
def test_100k_deep_nesting_is_refused_before_json_recurses(opening: bytes, closing: bytes) -> None:
    problem = refused(opening * 100_000 + closing * 100_000)

    assert problem.where == SOURCE
    assert problem.message.startswith("JSON nested deeper than 64 levels at line 1 column ")


def test_100k_unclosed_brackets_are_refused_too() -> None:
    assert refused(b"[" * 100_000).message == "JSON nested deeper than 64 levels at line 1 column 65"


def test_depth_64_is_accepted_and_65_refused() -> None:
    assert load_json(b"[" * 64 + b"]" * 64, source=SOURCE) is not None
    assert refused(b"[" * 65 + b"]" * 65).message == "JSON nested deeper than 64 levels at line 1 column 65"


def test_the_depth_limit_can_be_lowered() -> None:
    assert refused(b'{"a": {"b": [1]}}', max_depth=2).message == (
        "JSON nested deeper than 2 levels at line 1 column 13"
    )


def test_brackets_inside_strings_do_not_count_as_nesting() -> None:
    tricky = '["' + "[{" * 1000 + '\\"[[[", "]]]"]'

    assert load_json(tricky.encode(), source=SOURCE) == ["[{" * 1000 + '"[[[', "]]]"]


# --- strings ------------------------------------------------------------------------------------


def test_a_nul_character_is_refused_naming_its_json_path() -> None:
    document = b'{"releases": [{"tender": {"title": "Lot\\u0000 1"}}]}'

    assert refused(document) == Problem(f"{SOURCE}: releases[0].tender.title", "contains a NUL character")


def test_a_nul_in_a_key_is_refused() -> None:
    problem = refused(b'{"releases": [{"ti\\u0000tle": "x"}]}')

    assert problem == Problem(f"{SOURCE}: releases[0].ti\x00tle (the key)", "contains a NUL character")


def test_a_lone_surrogate_is_refused_as_it_could_never_be_stored() -> None:
    problem = refused(b'{"items": [{"description": "\\udc00"}]}')

    assert problem.where == f"{SOURCE}: items[0].description"
    assert "unpaired surrogate" in problem.message


def test_a_raw_control_character_inside_a_string_is_malformed_json() -> None:
    assert refused(b'["a\x00b"]').message == "malformed JSON at line 1 column 4: Invalid control character"


# --- malformed, truncated, empty, not UTF-8 -----------------------------------------------------


def test_truncated_json_says_so_with_the_position() -> None:
    problem = refused(b'{"releases": [\n  {"ocid": "ocds-1", "tender": {"value": 12')

    assert problem.message == "the JSON ends too early (truncated file?) at line 2 column 44: Expecting ',' delimiter"


def test_an_unclosed_string_is_reported_as_truncated() -> None:
    assert refused(b'{"title": "Marche').message == (
        "the JSON ends too early (truncated file?): the string starting at line 1 column 11 is never closed"
    )


def test_malformed_json_in_the_middle_gives_line_and_column() -> None:
    problem = refused(b'{\n  "a": 1,\n  "b" 2\n}')

    assert problem.message == "malformed JSON at line 3 column 7: Expecting ':' delimiter"


def test_trailing_garbage_is_malformed() -> None:
    assert refused(b'{"a": 1} x').message == "malformed JSON at line 1 column 10: Extra data"


@pytest.mark.parametrize("document", [b"", b"   \r\n\t ", b"\xef\xbb\xbf", b"\xef\xbb\xbf \n"])
def test_an_empty_file_is_refused(document: bytes) -> None:
    assert refused(document) == Problem(SOURCE, "the file is empty")


@pytest.mark.parametrize(
    ("document", "byte", "offset"),
    [
        (b'{"title": "Caf\xe9"}', "0xe9", 14),  # Latin-1
        (b"\xff\xfe{\x00}\x00", "0xff", 0),  # UTF-16 with its BOM
        (b'["\xc3"]', "0xc3", 2),  # a cut multi-byte sequence
    ],
)
def test_bytes_that_are_not_utf8_are_refused_with_their_offset(document: bytes, byte: str, offset: int) -> None:
    assert refused(document).message == f"not UTF-8 text: byte {byte} at offset {offset} is invalid"


def test_a_file_over_the_size_limit_is_refused_before_parsing() -> None:
    assert refused(b"[1, 2, 3]", max_bytes=4).message == "the file is too large (9 bytes; at most 4)"


# --- properties ---------------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_any_bytes_give_a_value_or_import_failed(data: bytes) -> None:
    try:
        load_json(data, source=SOURCE)
    except ImportFailed as failure:
        problems = failure.problems
    else:
        return
    assert problems
    assert all(problem.message for problem in problems)


_safe_text = st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\x00"), max_size=20)
_json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.decimals(allow_nan=False, allow_infinity=False, places=4, min_value=-(10**9), max_value=10**9)
    | _safe_text,
    lambda children: st.lists(children, max_size=5) | st.dictionaries(_safe_text, children, max_size=5),
    max_leaves=30,
)


@settings(max_examples=300, deadline=None)
@given(_json_values)
def test_clean_json_round_trips_exactly(value: Any) -> None:
    assert load_json(to_json(value).encode(), source=SOURCE) == value


@settings(max_examples=100, deadline=None)
@given(st.lists(st.sampled_from(["[", '{"k":']), min_size=1, max_size=130))
def test_nesting_is_accepted_up_to_the_limit_and_refused_beyond(openings: list[str]) -> None:
    closing = "".join("]" if opening == "[" else "}" for opening in reversed(openings))
    document = ("".join(openings) + "0" + closing).encode()
    if len(openings) <= 64:
        assert load_json(document, source=SOURCE) is not None
    else:
        assert refused(document).message.startswith("JSON nested deeper than 64 levels")
