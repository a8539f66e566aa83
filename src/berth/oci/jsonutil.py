"""Typed access to decoded JSON documents, raising InvalidArgument that names the field.

The only place in ``berth.oci`` where ``Any`` is allowed: decoded JSON has no type
until these functions give it one.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, TypeVar

from berth.errors import InvalidArgument

T = TypeVar("T")
JSONObject = dict[str, Any]


class FieldError(InvalidArgument):
    """A field of a JSON document has the wrong type or value."""

    def __init__(self, doc: str, field: str, reason: str) -> None:
        super().__init__(f"{doc}: {field}: {reason}" if field else f"{doc}: {reason}")
        self.doc = doc
        self.field = field
        self.reason = reason


# How deeply a document from elsewhere (a registry, a client, a tarball) may nest.
# OCI and Docker documents nest five or six levels; the bound keeps every later walk
# over a document (json.dumps included) far from Python's recursion limit, and a
# hostile document from ending in RecursionError (a 500, or a traceback in a pull).
MAX_DEPTH = 64


def loads(data: bytes | str, doc: str, max_depth: int = MAX_DEPTH) -> Any:
    """``json.loads`` for untrusted input: FieldError for invalid JSON and for
    arrays and objects nested deeper than ``max_depth`` (``{}`` is one level)."""
    try:
        value = json.loads(data)
    except RecursionError:
        raise FieldError(doc, "", f"JSON nested deeper than {max_depth} levels") from None
    except (ValueError, UnicodeDecodeError) as err:
        raise FieldError(doc, "", f"invalid JSON: {err}") from err
    check_depth(value, doc, max_depth)
    return value


def check_depth(value: Any, doc: str, max_depth: int = MAX_DEPTH) -> None:
    """FieldError when ``value`` nests arrays and objects deeper than ``max_depth``.
    Iterative, so it cannot itself run out of stack."""
    pending: list[tuple[Any, int]] = [(value, 1)] if isinstance(value, dict | list) else []
    while pending:
        item, depth = pending.pop()
        children = item.values() if isinstance(item, dict) else item
        if depth > max_depth:
            raise FieldError(doc, "", f"JSON nested deeper than {max_depth} levels")
        pending.extend((child, depth + 1) for child in children if isinstance(child, dict | list))


def loads_object(data: bytes | str, doc: str) -> JSONObject:
    value = loads(data, doc)
    if not isinstance(value, dict):
        raise FieldError(doc, "", "expected a JSON object")
    return value


def dumps_canonical(value: Mapping[str, Any]) -> bytes:
    """Compact, key-sorted JSON, so the same document always has the same digest."""
    return json.dumps(value, separators=(",", ":"), sort_keys=True, ensure_ascii=False).encode()


class Fields:
    """Reads fields of one JSON object with type checks; errors name ``prefix.key``."""

    def __init__(self, obj: Any, doc: str, prefix: str = "") -> None:
        if not isinstance(obj, dict):
            raise FieldError(doc, prefix, "expected an object")
        self.obj: JSONObject = obj
        self.doc = doc
        self.prefix = prefix

    def path(self, key: str) -> str:
        return f"{self.prefix}.{key}" if self.prefix else key

    def error(self, key: str, reason: str) -> FieldError:
        return FieldError(self.doc, self.path(key), reason)

    def _get(self, key: str, kind: type | tuple[type, ...], required: bool, what: str) -> Any:
        if key not in self.obj or self.obj[key] is None:
            if required:
                raise self.error(key, "required")
            return None
        value = self.obj[key]
        if isinstance(value, bool) and kind is not bool and not (isinstance(kind, tuple) and bool in kind):
            raise self.error(key, f"expected {what}, got {json.dumps(value)}")
        if not isinstance(value, kind):
            raise self.error(key, f"expected {what}, got {type(value).__name__}")
        return value

    def opt_str(self, key: str, default: str | None = None, *, required: bool = False) -> str | None:
        value = self._get(key, str, required, "a string")
        return default if value is None else value

    def req_str(self, key: str) -> str:
        value: str = self._get(key, str, True, "a string")
        return value

    def opt_int(self, key: str, default: int | None = None, *, required: bool = False) -> int | None:
        value = self._get(key, int, required, "an integer")
        return default if value is None else value

    def flag(self, key: str, default: bool = False) -> bool:
        value = self._get(key, bool, False, "a boolean")
        return default if value is None else value

    def array(self, key: str, *, required: bool = False) -> list[Any]:
        value = self._get(key, list, required, "an array")
        return [] if value is None else value

    def str_list(self, key: str, *, required: bool = False) -> list[str] | None:
        value = self._get(key, list, required, "an array of strings")
        if value is None:
            return None
        for i, item in enumerate(value):
            if not isinstance(item, str):
                raise FieldError(self.doc, f"{self.path(key)}[{i}]", "expected a string")
        return list(value)

    def str_map(self, key: str) -> dict[str, str]:
        value = self._get(key, dict, False, "an object")
        if value is None:
            return {}
        for k, v in value.items():
            if not isinstance(v, str):
                raise FieldError(self.doc, f"{self.path(key)}.{k}", "expected a string")
        return dict(value)

    def obj_or_none(self, key: str) -> Fields | None:
        value = self._get(key, dict, False, "an object")
        return None if value is None else Fields(value, self.doc, self.path(key))

    def objects(self, key: str) -> list[Fields]:
        return [Fields(item, self.doc, f"{self.path(key)}[{i}]") for i, item in enumerate(self.array(key))]

    def raw(self, key: str) -> Any:
        return self.obj.get(key)

    def extra(self, known: set[str] | frozenset[str]) -> dict[str, Any]:
        return {k: v for k, v in self.obj.items() if k not in known}
