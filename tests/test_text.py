"""newsclean.text: decoding page bytes, normalising, hashing, shingles."""

from __future__ import annotations

import hashlib

import pytest

from newsclean.text import clean_whitespace, decode_bytes, normalise, shingles, text_sha1, tokens


def test_decode_utf8():
    assert decode_bytes("Zürich café €5".encode()) == ("Zürich café €5", "utf-8", False)


def test_decode_strips_utf8_bom():
    text, encoding, replaced = decode_bytes(b"\xef\xbb\xbf<p>Hello</p>")
    assert (text, encoding, replaced) == ("<p>Hello</p>", "utf-8", False)


def test_decode_empty():
    assert decode_bytes(b"") == ("", "utf-8", False)


def test_decode_falls_back_to_cp1252(cp1252_page):
    text, encoding, replaced = decode_bytes(cp1252_page)
    assert encoding == "cp1252"
    assert not replaced
    assert "Café owners “welcome” the new €2 coffee levy" in text
    assert "naïve" in text


def test_decode_replaces_bytes_undefined_in_cp1252():
    text, encoding, replaced = decode_bytes(b"caf\xe9 \x81 bar")
    assert encoding == "cp1252"
    assert replaced
    assert text == "café \ufffd bar"


def test_decode_uses_declared_charset():
    page = b'<html><head><meta charset="iso-8859-7"></head><body>' + "Αθήνα".encode("iso-8859-7")
    text, encoding, replaced = decode_bytes(page)
    assert encoding == "iso-8859-7"
    assert text.endswith("Αθήνα")
    assert not replaced


def test_decode_uses_http_equiv_charset():
    page = (
        b'<meta http-equiv="Content-Type" content="text/html; charset=windows-1251">'
        + "Новости".encode("cp1251")
    )
    text, encoding, _ = decode_bytes(page)
    assert encoding == "windows-1251"
    assert text.endswith("Новости")


def test_valid_utf8_wins_over_declared_charset():
    page = b'<meta charset="iso-8859-1">' + "naïve".encode()
    assert decode_bytes(page)[:2] == ('<meta charset="iso-8859-1">naïve', "utf-8")


@pytest.mark.parametrize("declared", [b"utf-8", b"x-no-such-charset", b"UTF8"])
def test_unusable_declared_charset_falls_back_to_cp1252(declared):
    page = b'<meta charset="' + declared + b'">caf\xe9'
    text, encoding, replaced = decode_bytes(page)
    assert encoding == "cp1252"
    assert text.endswith("café")
    assert not replaced


def test_clean_whitespace():
    assert clean_whitespace("  one\u00a0two\n\tthree   four ") == "one two three four"


def test_clean_whitespace_equals_the_regex_definition():
    import re
    import sys

    # str.split and the regex \s agree on every code point...
    spaces = [chr(c) for c in range(sys.maxunicode + 1) if chr(c).isspace()]
    assert spaces == [chr(c) for c in range(sys.maxunicode + 1) if re.match(r"\s", chr(c))]
    # ...so collapsing runs gives the same text as the regex does.
    pieces = ["a", "Bé", "\u200b", "x\u00a0y", "", *spaces]
    rng = __import__("random").Random(3)
    for _ in range(2000):
        text = "".join(rng.choice(pieces) for _ in range(rng.randrange(8)))
        assert clean_whitespace(text) == re.sub(r"\s+", " ", text).strip()
    assert clean_whitespace(" \n\t ") == ""


def test_normalise():
    assert normalise("  Hello,\u00a0WORLD!  It's ﬁne — really. ") == "hello world it s fine really"
    assert normalise("") == ""
    assert normalise("—!?") == ""


def test_tokens_are_lowercase_unicode_words():
    assert tokens("Zürich's ÉCOLE, 2024!") == ["zürich", "s", "école", "2024"]


def test_text_sha1_is_sha1_of_the_normalised_text():
    expected = hashlib.sha1(b"hello world").hexdigest()
    assert text_sha1("Hello, World!") == expected
    assert expected == "2aae6c35c94fcfb415dbe95f408b9ce91ee846ed"  # stable across runs


@pytest.mark.parametrize(
    "variant",
    [
        "Harbour bridge reopens after repair",
        "HARBOUR BRIDGE REOPENS AFTER REPAIR",
        "  harbour   bridge\nreopens\tafter repair  ",
        "Harbour bridge, reopens... after repair!",
        "Harbour\u00a0bridge reopens after repair",
    ],
)
def test_text_sha1_ignores_case_whitespace_and_punctuation(variant):
    assert text_sha1(variant) == text_sha1("harbour bridge reopens after repair")


def test_text_sha1_distinguishes_different_words():
    assert text_sha1("Harbour bridge reopens") != text_sha1("Harbour bridge closes")


def test_shingles():
    words = ["a", "b", "c", "d"]
    assert shingles(words, 3) == [("a", "b", "c"), ("b", "c", "d")]
    assert shingles(words, 4) == [("a", "b", "c", "d")]
    assert shingles(["a", "b"], 3) == [("a", "b")]
    assert shingles([], 3) == []
