"""Output the way the docker CLI prints it: tab-aligned tables (Go's tabwriter with
minimum width 10 and padding 3), human sizes and durations (go-units), and the subset
of ``--format`` templates people use (``{{.Field}}``, ``{{json .}}``, ``table …``)."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Mapping, Sequence
from typing import Any

import click

_UNITS = ("B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB")


def human_size(size: float, precision: int = 3) -> str:
    """go-units HumanSizeWithPrecision: decimal units, ``precision`` significant digits."""
    i = 0
    while size >= 1000.0 and i < len(_UNITS) - 1:
        size /= 1000.0
        i += 1
    return f"{size:.{precision}g}{_UNITS[i]}"


def human_duration(seconds: float) -> str:
    """go-units HumanDuration."""
    s = int(seconds)
    if s < 1:
        return "Less than a second"
    if s == 1:
        return "1 second"
    if s < 60:
        return f"{s} seconds"
    minutes = int(seconds / 60)
    if minutes == 1:
        return "About a minute"
    if minutes < 60:
        return f"{minutes} minutes"
    hours = int(seconds / 3600 + 0.5)
    if hours == 1:
        return "About an hour"
    if hours < 48:
        return f"{hours} hours"
    if hours < 24 * 7 * 2:
        return f"{hours // 24} days"
    if hours < 24 * 30 * 2:
        return f"{hours // 24 // 7} weeks"
    if hours < 24 * 365 * 2:
        return f"{hours // 24 // 30} months"
    return f"{int(seconds / 3600) // 24 // 365} years"


def ago(epoch: float | None) -> str:
    if epoch is None:
        return "N/A"
    return human_duration(max(0.0, time.time() - epoch)) + " ago"


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [len(h) for h in headers]
    for row in rows:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(cell))
    lines = []
    for row in [list(headers), *rows]:
        cells = [cell.ljust(max(widths[i] + 3, 10)) if i < len(row) - 1 else cell for i, cell in enumerate(row)]
        lines.append("".join(cells).rstrip())
    return "\n".join(lines)


def echo_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    click.echo(table(headers, rows))


_FIELD = re.compile(r"\{\{\s*(json\s+)?\.([\w.]*)\s*\}\}")


def _lookup(obj: Any, path: str) -> Any:
    for part in [p for p in path.split(".") if p]:
        if isinstance(obj, Mapping):
            obj = obj.get(part)
        else:
            obj = getattr(obj, part, None)
    return obj


def _text(value: Any) -> str:
    if value is None:
        return "<no value>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + " ".join(_text(v) for v in value) + "]"
    if isinstance(value, dict):
        return "map[" + " ".join(f"{k}:{_text(v)}" for k, v in sorted(value.items())) + "]"
    return str(value)


def render(template: str, obj: Any) -> str:
    """A Go-template subset: ``{{.A.B}}``, ``{{json .A}}``, ``{{json .}}``, ``\\t``."""
    template = template.replace("\\t", "\t").replace("\\n", "\n")

    def sub(match: re.Match[str]) -> str:
        value = _lookup(obj, match.group(2))
        if match.group(1):
            return json.dumps(value, separators=(",", ":"))
        return _text(value)

    return _FIELD.sub(sub, template)


def echo_formatted(fmt: str, items: Sequence[Mapping[str, Any]], default_headers: Mapping[str, str]) -> None:
    """``--format``: ``json`` (one object per line), ``table …`` (with a header row),
    or a template applied to each item."""
    if fmt == "json":
        for item in items:
            click.echo(json.dumps(dict(item), separators=(",", ":")))
        return
    if fmt.startswith("table"):
        body = fmt[len("table"):].strip() or "\t".join("{{." + k + "}}" for k in default_headers)
        header = _FIELD.sub(lambda m: default_headers.get(m.group(2), m.group(2).upper()), body)
        header = header.replace("\\t", "\t")
        rows = [render(body, item).split("\t") for item in items]
        echo_table(header.split("\t"), rows)
        return
    for item in items:
        click.echo(render(fmt, item))
