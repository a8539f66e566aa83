"""Variable substitution in Dockerfile words, with the rules of BuildKit's shell lexer.

Which instructions expand variables is the dispatcher's business (plan.py); this module
turns one word into its value:

- ``'single quotes'`` keep everything literally; ``"double quotes"`` expand ``$`` and
  let the escape character escape ``"``, ``$`` and itself; quotes are removed.
- Unquoted, the escape character (``\\`` or the ``# escape=`` one) makes the next
  character literal.
- ``$NAME``, ``${NAME}``; ``${NAME:-word}`` / ``${NAME-word}`` (default when unset or
  empty / unset), ``${NAME:+word}`` / ``${NAME+word}`` (alternative when set and not
  empty / set), ``${NAME:?msg}`` / ``${NAME?msg}`` (error), ``${NAME#pat}``,
  ``${NAME##pat}``, ``${NAME%pat}``, ``${NAME%%pat}`` (trim a glob) and
  ``${NAME/pat/repl}``, ``${NAME//pat/repl}``. An unset variable is empty.
- Heredoc bodies use ``raw`` mode: quotes and escapes stay as written, only ``$``
  expands.

Every lookup is recorded in ``Expansion.used``, which is how the cache knows which build
arguments an instruction really depends on.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from berth.errors import InvalidArgument

_SPECIAL = frozenset("@*#?-$!0")
EOF = ""


class SubstitutionError(InvalidArgument):
    pass


@dataclass
class Expansion:
    value: str
    words: list[str] = field(default_factory=list)
    used: set[str] = field(default_factory=set)


class _Words:
    """Word splitting as the shell does it: unquoted spaces split, quoted ones do not."""

    def __init__(self) -> None:
        self.word = ""
        self.words: list[str] = []
        self.in_word = False

    def add_char(self, ch: str) -> None:
        if ch.isspace():
            if self.in_word and self.word:
                self.words.append(self.word)
                self.word = ""
                self.in_word = False
        else:
            self.add_raw_char(ch)

    def add_raw_char(self, ch: str) -> None:
        self.word += ch
        self.in_word = True

    def add_string(self, text: str) -> None:
        for ch in text:
            self.add_char(ch)

    def add_raw_string(self, text: str) -> None:
        self.word += text
        self.in_word = True

    def result(self) -> list[str]:
        if self.word:
            self.words.append(self.word)
            self.word = ""
        return self.words


class _Scanner:
    def __init__(self, text: str, env: Mapping[str, str], escape: str, raw: bool) -> None:
        self.text = text
        self.pos = 0
        self.env = env
        self.escape = escape
        self.raw = raw
        self.used: set[str] = set()

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else EOF

    def next(self) -> str:
        ch = self.peek()
        if ch:
            self.pos += 1
        return ch

    def lookup(self, name: str) -> tuple[str, bool]:
        self.used.add(name)
        if name in self.env:
            return self.env[name], True
        return "", False

    # ------------------------------------------------------------------ words

    def process(self, stop: str = EOF, raw_escapes: bool = False) -> tuple[str, _Words]:
        result: list[str] = []
        words = _Words()
        while self.peek() != EOF:
            ch = self.peek()
            if stop and ch == stop:
                self.next()
                return "".join(result), words
            special = ch == "$" or (not self.raw and ch in "'\"")
            if special:
                if ch == "$":
                    text = self.dollar()
                    words.add_string(text)
                elif ch == "'":
                    text = self.single_quote()
                    words.add_raw_string(text)
                else:
                    text = self.double_quote()
                    words.add_raw_string(text)
                result.append(text)
                continue
            ch = self.next()
            if ch == self.escape:
                if self.raw or raw_escapes:
                    words.add_raw_char(ch)
                    result.append(ch)
                ch = self.next()
                if ch == EOF:
                    break
                words.add_raw_char(ch)
            else:
                words.add_char(ch)
            result.append(ch)
        if stop:
            raise SubstitutionError(f"unexpected end of statement while looking for matching {stop}")
        return "".join(result), words

    def single_quote(self) -> str:
        self.next()
        out: list[str] = []
        while True:
            ch = self.next()
            if ch == EOF:
                raise SubstitutionError("unexpected end of statement while looking for matching single-quote")
            if ch == "'":
                return "".join(out)
            out.append(ch)

    def double_quote(self) -> str:
        self.next()
        out: list[str] = []
        while True:
            ch = self.peek()
            if ch == EOF:
                raise SubstitutionError("unexpected end of statement while looking for matching double-quote")
            if ch == '"':
                self.next()
                return "".join(out)
            if ch == "$":
                out.append(self.dollar())
                continue
            ch = self.next()
            if ch == self.escape:
                if self.raw:
                    out.append(ch)
                following = self.peek()
                if following == EOF:
                    continue
                if following in ('"', "$", self.escape):
                    ch = self.next()
            out.append(ch)

    def name(self) -> str:
        out: list[str] = []
        while (ch := self.peek()) != EOF:
            if not out and ch.isdigit():
                while self.peek() != EOF and self.peek().isdigit():
                    out.append(self.next())
                return "".join(out)
            if not out and ch in _SPECIAL:
                return self.next()
            if not (ch.isalnum() or ch == "_"):
                break
            out.append(self.next())
        return "".join(out)

    def dollar(self) -> str:
        self.next()
        if self.peek() != "{":
            name = self.name()
            if not name:
                return "$"
            return self.lookup(name)[0]
        self.next()
        if self.peek() == EOF:
            raise SubstitutionError("syntax error: missing '}'")
        if self.peek() in "{}:":
            raise SubstitutionError("syntax error: bad substitution")
        name = self.name()
        ch = self.next()
        if ch == EOF:
            raise SubstitutionError("syntax error: missing '}'")
        if ch == "}":
            return self.lookup(name)[0]
        if ch == "/":
            replace_all = self.peek() == "/"
            if replace_all:
                self.next()
            pattern, _ = self._stop_on("/", True)
            replacement, _ = self._stop_on("}", True)
            value, _ = self.lookup(name)
            return _replace(value, pattern, replacement, replace_all)
        modifier = ch
        null_is_unset = False
        if ch == ":":
            null_is_unset = True
            ch = self.next()
            modifier += ch
        if ch == EOF or ch not in "+-?#%":
            raise SubstitutionError(f"unsupported modifier ({modifier}) in substitution")
        raw_escapes = ch in "#%"
        if null_is_unset and raw_escapes:
            raise SubstitutionError(f"unsupported modifier ({modifier}) in substitution")
        word, _ = self._stop_on("}", raw_escapes)
        value, is_set = self.lookup(name)
        empty = not is_set or (null_is_unset and value == "")
        if ch == "-":
            return word if empty else value
        if ch == "+":
            return "" if empty else word
        if ch == "?":
            if not is_set:
                raise SubstitutionError(f"{name}: {word or 'is not allowed to be unset'}")
            if null_is_unset and value == "":
                raise SubstitutionError(f"{name}: {word or 'is not allowed to be empty'}")
            return value
        greedy = word[:1] == ch
        if greedy:
            word = word[1:]
        return _trim(value, word, suffix=ch == "%", greedy=greedy)

    def _stop_on(self, stop: str, raw_escapes: bool) -> tuple[str, _Words]:
        try:
            return self.process(stop, raw_escapes)
        except SubstitutionError:
            if self.peek() == EOF:
                raise SubstitutionError("syntax error: missing '}'") from None
            raise


def _glob(pattern: str) -> re.Pattern[str]:
    return re.compile(fnmatch.translate(pattern))


def _trim(value: str, pattern: str, *, suffix: bool, greedy: bool) -> str:
    rx = _glob(pattern)
    spans = range(len(value) + 1)
    if suffix:
        starts = spans if greedy else reversed(spans)
        for i in starts:
            if rx.fullmatch(value[i:]):
                return value[:i]
        return value
    ends = reversed(spans) if greedy else spans
    for i in ends:
        if rx.fullmatch(value[:i]):
            return value[i:]
    return value


def _replace(value: str, pattern: str, replacement: str, replace_all: bool) -> str:
    rx = _glob(pattern)
    out: list[str] = []
    i = 0
    while i <= len(value):
        for j in range(len(value), i, -1):  # longest match at i, as the shell does
            if rx.fullmatch(value[i:j]):
                out.append(replacement)
                i = j
                if not replace_all:
                    return "".join(out) + value[i:]
                break
        else:
            if i < len(value):
                out.append(value[i])
            i += 1
    return "".join(out)


class Lexer:
    """Expands words for one Dockerfile (its escape character)."""

    def __init__(self, escape: str = "\\") -> None:
        self.escape = escape

    def expand(self, word: str, env: Mapping[str, str], *, raw: bool = False) -> Expansion:
        scanner = _Scanner(word, env, self.escape, raw)
        value, words = scanner.process()
        return Expansion(value, words.result(), scanner.used)

    def word(self, word: str, env: Mapping[str, str]) -> str:
        return self.expand(word, env).value

    def words(self, word: str, env: Mapping[str, str]) -> list[str]:
        return self.expand(word, env).words
