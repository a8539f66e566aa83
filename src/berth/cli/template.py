"""The part of Go's text/template that ``--format`` flags meet most: ``{{.Field}}``,
``{{.A.B}}``, ``{{json .X}}`` and ``{{json .}}``, plus Docker's ``table`` prefix."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from berth.errors import InvalidArgument

_ACTION = re.compile(r"{{\s*(json\s+)?\.([A-Za-z0-9_.]*)\s*}}")


def _lookup(value: Any, path: str) -> Any:
    for part in filter(None, path.split(".")):
        if not isinstance(value, Mapping) or part not in value:
            raise InvalidArgument(f"template: can't evaluate field {part}")
        value = value[part]
    return value


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, Mapping):
        return "map[" + " ".join(f"{k}:{_text(v)}" for k, v in sorted(value.items())) + "]"
    if isinstance(value, list):
        return "[" + " ".join(_text(v) for v in value) + "]"
    return "" if value is None else str(value)


def render(template: str, data: Mapping[str, Any]) -> str:
    """``template`` with every action replaced; ``\\t`` and ``\\n`` as Docker reads them."""
    leftover = _ACTION.sub("", template)
    if "{{" in leftover:
        raise InvalidArgument(f"template: unsupported action in {template!r} (only {{{{.Field}}}} and json)")
    text = template.replace("\\t", "\t").replace("\\n", "\n")

    def action(m: re.Match[str]) -> str:
        value = _lookup(data, m.group(2))
        return json.dumps(value) if m.group(1) else _text(value)

    return _ACTION.sub(action, text)


def table(rows: list[list[str]]) -> str:
    """Columns padded like Docker's tabwriter (three spaces between columns)."""
    if not rows:
        return ""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("   ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
                     for row in rows)
