"""Variable substitution, with the cases Docker's documentation and BuildKit's lexer
tests spell out."""

from __future__ import annotations

import pytest

from berth.builder.substitution import Lexer, SubstitutionError

ENV = {"A": "hello", "EMPTY": "", "P": "/usr/local/bin.tar.gz", "SP": "a b"}


@pytest.mark.parametrize(("word", "expected"), [
    ("$A", "hello"),
    ("${A}", "hello"),
    ("x${A}y", "xhelloy"),
    ("$UNSET", ""),
    ("${UNSET:-default}", "default"),
    ("${EMPTY:-default}", "default"),
    ("${EMPTY-default}", ""),
    ("${UNSET-default}", "default"),
    ("${A:-default}", "hello"),
    ("${A:+alt}", "alt"),
    ("${EMPTY:+alt}", ""),
    ("${EMPTY+alt}", "alt"),
    ("${UNSET:+alt}", ""),
    ("${UNSET:-$A}", "hello"),
    ("${UNSET:-'quoted $A'}", "quoted $A"),
    ('"$A world"', "hello world"),
    ("'$A'", "$A"),
    ("\\$A", "$A"),
    ('"\\$A"', "$A"),
    ('"a\\"b"', 'a"b'),
    ('"a\\nb"', "a\\nb"),
    ("a\\ b", "a b"),
    ("$", "$"),
    ("a$", "a$"),
    ("${P%.*}", "/usr/local/bin.tar"),
    ("${P%%.*}", "/usr/local/bin"),
    ("${P#*/}", "usr/local/bin.tar.gz"),
    ("${P##*/}", "bin.tar.gz"),
    ("${P/local/opt}", "/usr/opt/bin.tar.gz"),
    ("${P//l/L}", "/usr/LocaL/bin.tar.gz"),
])
def test_expand(word: str, expected: str) -> None:
    assert Lexer().word(word, ENV) == expected


def test_backtick_escape() -> None:
    assert Lexer("`").word("C:\\path`$A", ENV) == "C:\\path$A"


def test_words_split_unquoted_expansions_only() -> None:
    lexer = Lexer()
    assert lexer.words("$SP c", ENV) == ["a", "b", "c"]
    assert lexer.words('"$SP" c', ENV) == ["a b", "c"]


def test_used_names_are_recorded() -> None:
    result = Lexer().expand("${A}-${UNSET:-x}-'$NOT'", ENV)
    assert result.used == {"A", "UNSET"}


def test_raw_mode_keeps_quotes_and_escapes() -> None:
    assert Lexer().expand("'$A' \"x\" \\$A", ENV, raw=True).value == "'hello' \"x\" \\$A"


@pytest.mark.parametrize(("word", "message"), [
    ("${A", "missing '}'"),
    ("${}", "bad substitution"),
    ("${UNSET:?must be set}", "UNSET: must be set"),
    ("${UNSET?}", "UNSET: is not allowed to be unset"),
    ("${EMPTY:?}", "EMPTY: is not allowed to be empty"),
    ("'open", "matching single-quote"),
    ('"open', "matching double-quote"),
    ("${A:#x}", "unsupported modifier"),
])
def test_errors(word: str, message: str) -> None:
    with pytest.raises(SubstitutionError, match=message):
        Lexer().word(word, ENV)
