from __future__ import annotations

import pytest

from berth.errors import InvalidArgument, Unsupported
from berth.network.ports import clashes, normalize, parse_publish
from berth.network.types import PortBinding as P


@pytest.mark.parametrize("spec, expected", [
    ("80", [P("0.0.0.0", 0, 80, "tcp")]),
    ("8080:80", [P("0.0.0.0", 8080, 80, "tcp")]),
    ("8080:80/udp", [P("0.0.0.0", 8080, 80, "udp")]),
    ("8080:80/TCP", [P("0.0.0.0", 8080, 80, "tcp")]),
    ("127.0.0.1:8080:80", [P("127.0.0.1", 8080, 80, "tcp")]),
    ("127.0.0.1::80/udp", [P("127.0.0.1", 0, 80, "udp")]),
    ("0.0.0.0:53:53/udp", [P("0.0.0.0", 53, 53, "udp")]),
    ("8000-8002:80-82", [P("0.0.0.0", 8000, 80), P("0.0.0.0", 8001, 81), P("0.0.0.0", 8002, 82)]),
    ("7000-7001", [P("0.0.0.0", 0, 7000), P("0.0.0.0", 0, 7001)]),
    ("3868:3868/sctp", [P("0.0.0.0", 3868, 3868, "sctp")]),  # Docker publishes SCTP too
])
def test_docker_publish_syntax(spec: str, expected: list[P]) -> None:
    assert parse_publish(spec) == expected


@pytest.mark.parametrize("spec, message", [
    ("", "invalid"),
    ("0", "out of range"),
    ("70000:80", "out of range"),
    ("80/icmp", "protocol"),
    ("a:b:c:d", "use \\[IP:\\]"),
    ("8080:", "use"),
    ("1.2.3:8080:80", "invalid host address"),
    ("8000-8003:80-81", "differ in length"),
    ("90-80", "end before start"),
    ("x:80", "not a number"),
])
def test_bad_specs_are_invalid_argument(spec: str, message: str) -> None:
    with pytest.raises(InvalidArgument, match=message):
        parse_publish(spec)


def test_ipv6_host_address_is_unsupported() -> None:
    with pytest.raises(Unsupported):
        parse_publish("[::1]:8080:80")


def test_normalize_checks_bindings_made_by_code() -> None:
    assert normalize(P("", 0, 80, "UDP")) == P("0.0.0.0", 0, 80, "udp")
    with pytest.raises(InvalidArgument):
        normalize(P("", 0, 0, "tcp"))
    with pytest.raises(InvalidArgument):
        normalize(P("", 1, 80, "icmp"))


def test_clash_rules() -> None:
    any80, lo80 = P("0.0.0.0", 8080, 80), P("127.0.0.1", 8080, 80)
    assert clashes(any80, lo80) and clashes(lo80, any80)
    assert clashes(lo80, P("127.0.0.1", 8080, 81))
    assert not clashes(lo80, P("127.0.0.2", 8080, 80))
    assert not clashes(any80, P("0.0.0.0", 8080, 80, "udp"))
    assert not clashes(any80, P("0.0.0.0", 8081, 80))


def test_binding_prints_like_docker_port() -> None:
    assert str(P("0.0.0.0", 8080, 80)) == "80/tcp -> 0.0.0.0:8080"
