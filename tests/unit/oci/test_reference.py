from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from berth.errors import InvalidArgument, InvalidReference
from berth.oci.digest import Digest
from berth.oci.reference import Reference

HEX = "a" * 64


@pytest.mark.parametrize(
    ("text", "full", "familiar"),
    [
        ("busybox", "docker.io/library/busybox:latest", "busybox:latest"),
        ("busybox:1.36", "docker.io/library/busybox:1.36", "busybox:1.36"),
        ("user/app", "docker.io/user/app:latest", "user/app:latest"),
        ("docker.io/library/busybox", "docker.io/library/busybox:latest", "busybox:latest"),
        ("index.docker.io/library/x:y", "docker.io/library/x:y", "x:y"),
        ("localhost/app", "localhost/app:latest", "localhost/app:latest"),
        ("host:5000/a/b", "host:5000/a/b:latest", "host:5000/a/b:latest"),
        (f"host:5000/a/b@sha256:{HEX}", f"host:5000/a/b@sha256:{HEX}", f"host:5000/a/b@sha256:{HEX}"),
        (f"busybox:1@sha256:{HEX}", f"docker.io/library/busybox:1@sha256:{HEX}", f"busybox:1@sha256:{HEX}"),
        ("127.0.0.1:5000/x", "127.0.0.1:5000/x:latest", "127.0.0.1:5000/x:latest"),
    ],
)
def test_normalises_like_docker(text: str, full: str, familiar: str) -> None:
    ref = Reference.parse(text)
    assert str(ref) == full
    assert ref.familiar() == familiar


@pytest.mark.parametrize(
    "text",
    ["", "UPPER", "a//b", "a/", ":tag", "name:", "name:-bad", f"a@sha256:{HEX[:10]}", "a b", "../x", "x/../y",
     "a" * 300],
)
def test_rejects_bad_references(text: str) -> None:
    with pytest.raises(InvalidReference):
        Reference.parse(text)


@given(st.from_regex(r"[a-z0-9]{1,8}(/[a-z0-9]{1,8}){0,2}", fullmatch=True),
       st.from_regex(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,10}", fullmatch=True))
def test_parse_round_trips(path: str, tag: str) -> None:
    ref = Reference.parse(f"{path}:{tag}")
    assert Reference.parse(str(ref)) == ref
    assert Reference.parse(ref.familiar()) == ref


def test_digest_parse_and_verify() -> None:
    d = Digest.from_bytes(b"hello")
    assert str(d) == "sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
    assert Digest.parse(str(d)) == d
    assert d.short == "2cf24dba5fb0"
    for bad in ("sha256:xyz", "md5:" + "a" * 32, "sha256:" + "A" * 64, "nocolon"):
        with pytest.raises(InvalidArgument):
            Digest.parse(bad)
