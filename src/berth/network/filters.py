"""Docker's filters for ``network ls`` and ``network prune``, as predicates."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from berth.errors import InvalidArgument
from berth.network.types import Network

Filters = Mapping[str, Sequence[str] | str]


def _values(filters: Filters, key: str) -> list[str]:
    value = filters.get(key, ())
    return [value] if isinstance(value, str) else list(value)


def _label_matches(labels: Mapping[str, str], spec: str) -> bool:
    key, eq, value = spec.partition("=")
    return key in labels and (not eq or labels[key] == value)


def matches(net: Network, filters: Filters, used: bool) -> bool:
    known = {"driver", "id", "label", "name", "scope", "type", "dangling"}
    unknown = set(filters) - known
    if unknown:
        raise InvalidArgument(f"invalid filter {sorted(unknown)[0]!r}")
    checks: dict[str, Callable[[str], bool]] = {
        "driver": lambda v: net.driver == v,
        "id": lambda v: net.id.startswith(v),
        "label": lambda v: _label_matches(net.labels, v),
        "name": lambda v: v in net.name,
        "scope": lambda v: v == "local",
        "type": lambda v: (v == "builtin") == net.builtin if v in ("builtin", "custom") else _bad("type", v),
        "dangling": lambda v: (not used) == _truth(v),
    }
    for key, check in checks.items():
        values = _values(filters, key)
        if key == "label":
            if not all(check(v) for v in values):
                return False
        elif values and not any(check(v) for v in values):
            return False
    return True


def check_prune(filters: Filters) -> None:
    """Refuse bad prune filters before anything is removed."""
    for key in filters:
        if key not in ("label", "label!", "until"):
            raise InvalidArgument(f"invalid filter {key!r} for prune")
    for until in _values(filters, "until"):
        _parse_until(until)


def prune_matches(net: Network, filters: Filters) -> bool:
    check_prune(filters)
    if not all(_label_matches(net.labels, v) for v in _values(filters, "label")):
        return False
    if any(_label_matches(net.labels, v) for v in _values(filters, "label!")):
        return False
    for until in _values(filters, "until"):
        if net.created >= _parse_until(until):
            return False
    return True


def _parse_until(text: str) -> str:
    import datetime  # only prune with an until filter needs it

    if text.isdigit():
        stamp = datetime.datetime.fromtimestamp(int(text), datetime.UTC)
        return stamp.isoformat().replace("+00:00", "Z")
    try:
        stamp = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidArgument(f"invalid until filter {text!r}: use a timestamp or RFC 3339 time") from None
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=datetime.UTC)
    return stamp.astimezone(datetime.UTC).isoformat().replace("+00:00", "Z")


def _truth(text: str) -> bool:
    if text.lower() in ("1", "true"):
        return True
    if text.lower() in ("0", "false"):
        return False
    return _bad("dangling", text)


def _bad(key: str, value: str) -> bool:
    raise InvalidArgument(f"invalid value {value!r} for filter {key}")
