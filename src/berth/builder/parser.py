"""Dockerfile text → nodes, through the ``dockerfile`` package (BuildKit's own parser).

The package is Go code loaded into Python, and loading it starts the Go runtime's
threads. ``berth build`` forks containers, which a multi-threaded process must not do,
so the parse runs in a short-lived child: a fork when this process has one thread, a
fresh interpreter otherwise. Results are kept by text digest under ``cache_dir``, so a
rebuild of an unchanged Dockerfile never loads Go at all.

What the package leaves to us, and this module adds: instruction names in upper case,
the parser directives (``# escape``, ``# syntax``), which heredocs are ``<<-`` (leading
tabs stripped) and which are quoted (no variable expansion), and a file and line for
every error.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
import threading
from dataclasses import dataclass
from typing import Any

from berth.builder.errors import DockerfileError

FORMAT = "1"  # bump when the cached JSON's shape changes
_DIRECTIVE = re.compile(r"^#\s*([A-Za-z][A-Za-z0-9_-]*)\s*=\s*(.*?)\s*$")
_HEREDOC_MARK = re.compile(r"<<(-?)\s*(\"[^\"]*\"|'[^']*'|[A-Za-z0-9_.\-]+)")
_CHILD = (
    "import dockerfile, json, sys\n"
    "text = sys.stdin.read()\n"
    "try:\n"
    "    out = {'ok': [dict(c._asdict(), heredocs=[h._asdict() for h in c.heredocs])\n"
    "                  for c in dockerfile.parse_string(text)]}\n"
    "except dockerfile.GoParseError as err:\n"
    "    out = {'error': str(err)}\n"
    "sys.stdout.write(json.dumps(out))\n"
)


@dataclass(frozen=True, slots=True)
class Heredoc:
    name: str
    content: str  # as written; see ``data`` for what a command receives
    chomp: bool  # ``<<-``: leading tabs go from every line
    expand: bool  # unquoted marker: COPY/ADD expand variables in the content

    @property
    def data(self) -> str:
        if not self.chomp:
            return self.content
        return "".join(line.lstrip("\t") for line in self.content.splitlines(keepends=True))


@dataclass(frozen=True, slots=True)
class Node:
    """One instruction as the parser split it: ``value`` holds the words (exec form:
    the JSON array's strings; shell form of RUN/CMD/ENTRYPOINT: one string)."""

    cmd: str  # upper case: RUN, COPY, …
    sub_cmd: str | None  # ONBUILD's instruction
    json: bool
    original: str
    start_line: int
    end_line: int
    flags: tuple[str, ...]
    value: tuple[str, ...]
    heredocs: tuple[Heredoc, ...] = ()


@dataclass(frozen=True, slots=True)
class Dockerfile:
    filename: str  # as shown in errors: "Dockerfile", "build/app.Dockerfile"
    nodes: tuple[Node, ...]
    escape: str = "\\"
    syntax: str | None = None

    def error(self, node: Node | None, reason: str) -> DockerfileError:
        return DockerfileError(self.filename, node.start_line if node else 0, reason)


def directives(text: str) -> dict[str, str]:
    """The parser directives at the top of ``text`` (keys lower case)."""
    found: dict[str, str] = {}
    for line in text.splitlines():
        m = _DIRECTIVE.match(line.strip())
        if not m:
            break
        key = m.group(1).lower()
        if key in found:
            break  # a repeated directive is a comment, and ends the section
        found[key] = m.group(2)
    return found


def parse(text: str, filename: str = "Dockerfile", cache_dir: str | None = None) -> Dockerfile:
    """Parse a Dockerfile; raises DockerfileError with the file and line."""
    found = directives(text)
    escape = found.get("escape", "\\")
    if escape not in ("\\", "`"):
        raise DockerfileError(filename, 1, f"invalid escape token {escape!r} does not match ` or \\")
    commands = _cached_parse(text, cache_dir)
    if isinstance(commands, str):
        raise DockerfileError(filename, _error_line(text, commands), commands)
    nodes = tuple(_node(c) for c in commands)
    return Dockerfile(filename, nodes, escape, found.get("syntax"))


def _node(c: dict[str, Any]) -> Node:
    heredocs = tuple(c.get("heredocs") or ())
    first_line = str(c["original"]).split("\n", 1)[0]
    marks = _HEREDOC_MARK.findall(first_line)
    docs = []
    for i, h in enumerate(heredocs):
        chomp, quoted = (marks[i][0] == "-", marks[i][1][:1] in "\"'") if i < len(marks) else (False, False)
        docs.append(Heredoc(str(h["name"]), str(h["content"]), chomp, not quoted))
    return Node(
        cmd=str(c["cmd"]).upper(),
        sub_cmd=str(c["sub_cmd"]).upper() if c.get("sub_cmd") else None,
        json=bool(c["json"]),
        original=str(c["original"]),
        start_line=int(c["start_line"]),
        end_line=int(c["end_line"]),
        flags=tuple(str(f) for f in c["flags"]),
        value=tuple(str(v) for v in c["value"]),
        heredocs=tuple(docs),
    )


def _cached_parse(text: str, cache_dir: str | None) -> list[dict[str, Any]] | str:
    """The parser's commands as dicts, or its error message."""
    digest = hashlib.sha256(f"{FORMAT}\0{text}".encode()).hexdigest()
    path = os.path.join(cache_dir, digest + ".json") if cache_dir else None
    if path is not None:
        try:
            with open(path) as f:
                cached: list[dict[str, Any]] | str = json.load(f)["result"]
            return cached
        except (OSError, ValueError, KeyError):
            pass
    result = _parse_isolated(text)
    if path is not None and cache_dir is not None:
        os.makedirs(cache_dir, mode=0o700, exist_ok=True)
        tmp = f"{path}.{os.getpid()}.tmp"
        with open(tmp, "w") as f:
            json.dump({"result": result}, f)
        os.replace(tmp, path)
    return result


def _parse_isolated(text: str) -> list[dict[str, Any]] | str:
    if threading.active_count() == 1 and hasattr(os, "fork"):
        raw = _parse_in_fork(text)
    else:
        done = subprocess.run([sys.executable, "-c", _CHILD], input=text.encode(), capture_output=True)
        if done.returncode != 0:
            raise DockerfileError("Dockerfile", 0, f"parser failed: {done.stderr.decode(errors='replace')}")
        raw = done.stdout
    out = json.loads(raw)
    if "error" in out:
        return str(out["error"])
    return list(out["ok"])


def _parse_in_fork(text: str) -> bytes:
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child
        status = 1
        try:
            os.close(r)
            import dockerfile  # starts Go threads: only ever in this child

            try:
                out: dict[str, Any] = {"ok": [dict(c._asdict(), heredocs=[h._asdict() for h in c.heredocs])
                                              for c in dockerfile.parse_string(text)]}
            except dockerfile.GoParseError as err:
                out = {"error": str(err)}
            data = json.dumps(out).encode()
            view = memoryview(data)
            while view:
                view = view[os.write(w, view):]
            status = 0
        finally:
            os._exit(status)
    os.close(w)
    chunks = []
    with os.fdopen(r, "rb") as f:
        while chunk := f.read(1 << 16):
            chunks.append(chunk)
    _, status = os.waitpid(pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise DockerfileError("Dockerfile", 0, "parser failed")
    return b"".join(chunks)


def _error_line(text: str, message: str) -> int:
    """Where a parser error is: the parser names no line. An unterminated heredoc is
    found by scanning; any other error by parsing ever longer prefixes of the file
    (a binary search: the first prefix that fails the same way ends at the line)."""
    lines = text.splitlines()
    if "heredoc" not in message:
        if "no instructions" in message:
            return 0
        low, high = 1, len(lines)
        if _parse_isolated("\n".join(lines[:high]) + "\n") != message:
            return 0
        while low < high:
            mid = (low + high) // 2
            if _parse_isolated("\n".join(lines[:mid]) + "\n") == message:
                high = mid
            else:
                low = mid + 1
        return low
    i = 0
    while i < len(lines):
        marks = _HEREDOC_MARK.findall(lines[i]) if not lines[i].lstrip().startswith("#") else []
        start = i
        i += 1
        for chomp, name in marks:
            name = name.strip("\"'")
            while i < len(lines) and (lines[i].lstrip("\t") if chomp else lines[i]) != name:
                i += 1
            if i >= len(lines):
                return start + 1
            i += 1
    return 0
