"""Deeply nested JSON from the network (issue 17 item 18): a 400 or a refusal, never a
500 or a RecursionError, wherever berth parses JSON a peer sent."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from berth.oci import jsonutil
from berth.oci import mediatype as mt
from berth.registry.client.errors import parse_errors
from berth.registry.server.auth import Authorizer, Htpasswd
from berth.registry.server.registry import Registry
from berth.registry.server.storage.inmemory import InMemoryDriver
from berth.registry.server.tokens import TokenAuthority

from .test_http_api import error_code, image
from .threaded import ThreadedRegistry

MAX_DEPTH = 64


def nested(depth: int, inner: str = "1") -> str:
    return "[" * depth + inner + "]" * depth


def nested_objects(depth: int) -> str:
    return '{"a":' * depth + "1" + "}" * depth


@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 999, 100_000])
def test_loads_refuses_what_nests_too_deeply(depth: int) -> None:
    assert jsonutil.MAX_DEPTH == MAX_DEPTH
    for text in (nested(depth), nested_objects(depth)):
        with pytest.raises(jsonutil.FieldError, match=f"nested deeper than {MAX_DEPTH} levels"):
            jsonutil.loads(text, "doc")


def test_loads_takes_what_nests_up_to_the_bound() -> None:
    assert jsonutil.loads(nested(MAX_DEPTH), "doc") is not None
    assert jsonutil.loads_object(nested_objects(MAX_DEPTH), "doc")["a"] is not None
    assert jsonutil.loads("5", "doc") == 5


@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 5000, 1_000_000])
def test_a_deeply_nested_manifest_is_400(http: httpx.Client, depth: int) -> None:
    _, data = image(http, "app", "v1")
    doc = json.loads(data)
    # The nesting sits in a field the manifest parser ignores, so nothing but the
    # depth bound can refuse it.
    body = json.dumps(doc)[:-1] + ', "x": ' + nested(depth) + "}"
    r = http.put("/v2/app/manifests/v2", content=body, headers={"Content-Type": mt.OCI_MANIFEST})
    assert (r.status_code, error_code(r)) == (400, "MANIFEST_INVALID"), r.text
    assert "nested deeper" in r.json()["errors"][0]["message"]
    assert http.get("/v2/app/manifests/v2").status_code == 404
    bare = nested_objects(min(depth, 100_000)).encode()
    r = http.put("/v2/app/manifests/v3", content=bare, headers={"Content-Type": mt.OCI_MANIFEST})
    assert (r.status_code, error_code(r)) == (400, "MANIFEST_INVALID")


def test_a_deeply_nested_rollback_body_is_400(http: httpx.Client) -> None:
    image(http, "app", "v1")
    image(http, "app", "v1")
    r = http.post("/berth/v1/app/tags/v1/rollback", content=nested(20_000))
    assert (r.status_code, error_code(r)) == (400, "UNSUPPORTED"), r.text


@pytest.fixture
def private(tmp_path: Path) -> Iterator[ThreadedRegistry]:
    users = tmp_path / "htpasswd"
    users.write_text(Htpasswd.make_entry("alice", "pw", rounds=4) + "\n")
    authorizer = Authorizer(Htpasswd(str(users)), None, TokenAuthority("berth-test"))
    with ThreadedRegistry(Registry(InMemoryDriver()), authorizer) as server:
        yield server


def test_a_bearer_token_with_a_deeply_nested_header_is_401(private: ThreadedRegistry) -> None:
    # A token's parts used to be parsed before its signature was checked.
    def part(text: str) -> str:
        return base64.urlsafe_b64encode(text.encode()).rstrip(b"=").decode()

    for token in (f"{part(nested(2000))}.{part('{}')}.c2ln", f"{part('{}')}.{part(nested(2000))}.c2ln"):
        r = httpx.get(private.url + "/v2/", headers={"Authorization": f"Bearer {token}"})
        assert (r.status_code, error_code(r)) == (401, "UNAUTHORIZED"), r.text


def test_the_client_reads_a_deeply_nested_error_body_as_no_error_document() -> None:
    assert parse_errors(nested_objects(100_000).encode()) == []
    assert parse_errors(b'{"errors": [{"code": "DENIED", "message": "no"}]}')[0].code == "DENIED"
