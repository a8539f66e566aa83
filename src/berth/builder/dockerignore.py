""".dockerignore: which context paths a build may not see (moby/patternmatcher's rules).

- One pattern per line; lines starting with ``#`` are comments; surrounding spaces go;
  a pattern is cleaned like a path and a leading ``/`` is dropped (``/a/../b`` → ``b``).
- ``*`` matches any run of characters except ``/``, ``?`` one such character,
  ``[a-z]`` a class, ``\\`` escapes; ``**`` matches any number of folders (even none).
- A pattern that matches a folder excludes everything under it.
- ``!pattern`` is an exception: it re-includes what it matches. The last pattern
  that matches a path decides.

``ignore_file_for`` picks the file: ``NAME.dockerignore`` beside a Dockerfile named
``NAME`` wins over the context's ``.dockerignore``.
"""

from __future__ import annotations

import os
import posixpath
import re
from dataclasses import dataclass

_ESCAPE_IN_REGEX = set(".+()|{}$^")


@dataclass(frozen=True, slots=True)
class Pattern:
    text: str  # cleaned, without the "!"
    exclusion: bool  # True for "!pattern" (an exception)
    regex: re.Pattern[str]
    depth: int  # how many path components the pattern has

    def match(self, path: str) -> bool:
        return self.regex.match(path) is not None


def parse(text: str) -> list[str]:
    """The patterns of a .dockerignore, cleaned (``!`` kept as a prefix)."""
    out: list[str] = []
    for i, line in enumerate(text.splitlines()):
        if i == 0:
            line = line.removeprefix("\ufeff")
        if line.startswith("#"):
            continue
        pattern = line.strip()
        if not pattern:
            continue
        invert = pattern.startswith("!")
        if invert:
            pattern = pattern[1:].strip()
        if pattern:
            pattern = posixpath.normpath(pattern)
            if len(pattern) > 1 and pattern.startswith("/"):
                pattern = pattern.lstrip("/") or "/"
        out.append("!" + pattern if invert else pattern)
    return out


def compile_pattern(text: str) -> Pattern:
    exclusion = text.startswith("!")
    body = text[1:] if exclusion else text
    regex = ["^"]
    i = 0
    in_class = False
    while i < len(body):
        ch = body[i]
        i += 1
        if in_class:
            if ch == "]":
                in_class = False
                regex.append("]")
            elif ch == "\\" and i < len(body):
                regex.append(re.escape(body[i]))
                i += 1
            elif ch in "^-":
                regex.append(ch)
            else:
                regex.append(re.escape(ch))
        elif ch == "*":
            if i < len(body) and body[i] == "*":
                i += 1
                if i < len(body) and body[i] == "/":
                    i += 1
                regex.append(".*" if i >= len(body) else "(.*/)?")
            else:
                regex.append("[^/]*")
        elif ch == "?":
            regex.append("[^/]")
        elif ch in _ESCAPE_IN_REGEX:
            regex.append("\\" + ch)
        elif ch == "\\":
            if i < len(body):
                regex.append(re.escape(body[i]))
                i += 1
            else:
                regex.append("\\\\")
        elif ch == "[":
            in_class = True
            regex.append("[")  # negation is [^…], as in Go's filepath.Match
        elif ch == "]":
            regex.append("\\]")
        else:
            regex.append(re.escape(ch))
    regex.append("$")
    try:
        compiled = re.compile("".join(regex), re.S)
    except re.error as err:
        from berth.errors import InvalidArgument

        raise InvalidArgument(f".dockerignore: bad pattern {text!r}: {err}") from err
    return Pattern(body, exclusion, compiled, len(body.split("/")))


class Matcher:
    """Decides whether a context path (relative, ``/``-separated) is excluded."""

    def __init__(self, patterns: list[str]) -> None:
        self.patterns = [compile_pattern(p) for p in patterns]
        self.has_exceptions = any(p.exclusion for p in self.patterns)

    def __bool__(self) -> bool:
        return bool(self.patterns)

    def excluded(self, path: str) -> bool:
        if not self.patterns or not path or path == ".":
            return False
        parents = path.split("/")[:-1]
        matched = False
        for pattern in self.patterns:
            # An exception only matters once something matched, an exclusion only
            # while nothing has (the same short cut patternmatcher takes).
            if pattern.exclusion != matched:
                continue
            hit = pattern.match(path)
            if not hit and parents and pattern.depth <= len(parents):
                hit = pattern.match("/".join(parents[: pattern.depth]))
            if hit:
                matched = not pattern.exclusion
        return matched

    def may_include_under(self, folder: str) -> bool:
        """Whether an exception could re-include something under the excluded
        ``folder``, so a walk must still look inside it."""
        if not self.has_exceptions:
            return False
        prefix = folder + "/"
        for pattern in self.patterns:
            if not pattern.exclusion:
                continue
            literal = re.split(r"[*?\[\\]", pattern.text, maxsplit=1)[0]
            if literal.startswith(prefix) or prefix.startswith(literal) or not literal:
                return True
        return False


def ignore_file_for(context_dir: str, dockerfile_path: str | None) -> str | None:
    """The ignore file that applies: ``<Dockerfile>.dockerignore`` beside the
    Dockerfile, else the context's ``.dockerignore``; None when neither exists."""
    if dockerfile_path:
        beside = dockerfile_path + ".dockerignore"
        if os.path.isfile(beside):
            return beside
    default = os.path.join(context_dir, ".dockerignore")
    return default if os.path.isfile(default) else None


def load(context_dir: str, dockerfile_path: str | None) -> Matcher:
    path = ignore_file_for(context_dir, dockerfile_path)
    if path is None:
        return Matcher([])
    with open(path, encoding="utf-8", errors="replace") as f:
        return Matcher(parse(f.read()))
