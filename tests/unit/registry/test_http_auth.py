"""Private hub behaviour over HTTP: challenges, the token endpoint, 401 versus 403."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from berth.oci.digest import Digest
from berth.registry.server.auth import Authorizer, Htpasswd
from berth.registry.server.registry import Registry
from berth.registry.server.storage.inmemory import InMemoryDriver
from berth.registry.server.tokens import TokenAuthority

from .test_http_api import image
from .threaded import ThreadedRegistry

POLICY = """
public/*   anonymous   pull
team/*     alice       pull,push,delete
team/*     bob         pull
*          *           pull
"""


@pytest.fixture
def private(tmp_path: Path) -> Iterator[ThreadedRegistry]:
    users = tmp_path / "htpasswd"
    users.write_text("".join(Htpasswd.make_entry(u, f"{u}-pw", rounds=4) + "\n" for u in ("alice", "bob")))
    policy = tmp_path / "policy"
    policy.write_text(POLICY)
    authorizer = Authorizer(Htpasswd(str(users)), str(policy), TokenAuthority("berth-test"))
    with ThreadedRegistry(Registry(InMemoryDriver()), authorizer) as server:
        yield server


def challenge(response: httpx.Response) -> dict[str, str]:
    header = response.headers["WWW-Authenticate"]
    assert header.startswith("Bearer ")
    return dict(re.findall(r'(\w+)="([^"]*)"', header))


def token(server: ThreadedRegistry, scope: str, auth: tuple[str, str] | None) -> str:
    r = httpx.get(server.url + "/berth/v1/token", params={"service": "berth-test", "scope": scope}, auth=auth)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["token"] == body["access_token"]
    assert body["expires_in"] > 0 and body["issued_at"].endswith("Z")
    return str(body["token"])


def push_blob(client: httpx.Client, name: str, data: bytes) -> httpx.Response:
    return client.post(f"/v2/{name}/blobs/uploads/", params={"digest": str(Digest.from_bytes(data))}, content=data)


def test_v2_asks_for_a_token_like_docker_hub(private: ThreadedRegistry) -> None:
    r = httpx.get(private.url + "/v2/")
    assert r.status_code == 401
    assert r.json()["errors"][0]["code"] == "UNAUTHORIZED"
    assert r.headers["Docker-Distribution-API-Version"] == "registry/2.0"
    params = challenge(r)
    assert params["realm"] == private.url + "/berth/v1/token"
    assert params["service"] == "berth-test"
    bearer = token(private, "", ("bob", "bob-pw"))
    assert httpx.get(private.url + "/v2/", headers={"Authorization": f"Bearer {bearer}"}).status_code == 200
    assert httpx.get(private.url + "/v2/", auth=("bob", "bob-pw")).status_code == 200  # Basic works too


def test_token_flow_push_and_pull(private: ThreadedRegistry) -> None:
    with httpx.Client(base_url=private.url) as client:
        r = push_blob(client, "team/app", b"layer")
        assert r.status_code == 401
        assert challenge(r)["scope"] == "repository:team/app:push"
        bearer = token(private, "repository:team/app:pull,push", ("alice", "alice-pw"))
        client.headers["Authorization"] = f"Bearer {bearer}"
        assert push_blob(client, "team/app", b"layer").status_code == 201
        assert client.get(f"/v2/team/app/blobs/{Digest.from_bytes(b'layer')}").content == b"layer"
        r = client.delete(f"/v2/team/app/blobs/{Digest.from_bytes(b'layer')}")
        assert r.status_code == 401  # alice may delete, but this token does not say so: ask for a wider one
        assert challenge(r)["error"] == "insufficient_scope"


def test_denied_push_gets_403_and_stores_nothing(private: ThreadedRegistry) -> None:
    with httpx.Client(base_url=private.url, auth=("bob", "bob-pw")) as client:
        r = push_blob(client, "team/app", b"bob's layer")
        assert (r.status_code, r.json()["errors"][0]["code"]) == (403, "DENIED")
        r = client.post("/v2/team/app/blobs/uploads/")
        assert r.status_code == 403
    bob_token = token(private, "repository:team/app:pull,push", ("bob", "bob-pw"))
    r = push_blob(httpx.Client(base_url=private.url, headers={"Authorization": f"Bearer {bob_token}"}), "team/app", b"x")
    assert r.status_code == 403
    assert list(private.registry.blobs.walk()) == []
    assert list(private.registry.repositories(include_unfinished=True)) == []


def test_anonymous_pull_is_per_repository(private: ThreadedRegistry) -> None:
    with httpx.Client(base_url=private.url, auth=("alice", "alice-pw")) as alice:
        assert push_blob(alice, "team/app", b"private").status_code == 201
    # public/* is readable without credentials; team/* is not
    with httpx.Client(base_url=private.url) as anonymous:
        r = anonymous.get(f"/v2/public/web/blobs/{Digest.from_bytes(b'x')}")
        assert (r.status_code, r.json()["errors"][0]["code"]) == (404, "BLOB_UNKNOWN")
        r = anonymous.get(f"/v2/team/app/blobs/{Digest.from_bytes(b'private')}")
        assert r.status_code == 401
        anonymous_token = token(private, "repository:public/web:pull repository:team/app:pull", None)
        anonymous.headers["Authorization"] = f"Bearer {anonymous_token}"
        assert anonymous.get("/v2/").status_code == 200
        assert anonymous.get(f"/v2/team/app/blobs/{Digest.from_bytes(b'private')}").status_code == 401
        assert anonymous.get(f"/v2/public/web/blobs/{Digest.from_bytes(b'x')}").status_code == 404


def test_wrong_credentials_and_tokens(private: ThreadedRegistry) -> None:
    r = httpx.get(private.url + "/berth/v1/token", params={"scope": "repository:team/app:pull"}, auth=("alice", "bad"))
    assert (r.status_code, r.json()["errors"][0]["code"]) == (401, "UNAUTHORIZED")
    assert httpx.get(private.url + "/v2/", auth=("alice", "bad")).status_code == 401
    r = httpx.get(private.url + "/v2/", headers={"Authorization": "Bearer not.a.token"})
    assert r.status_code == 401
    assert challenge(r)["error"] == "invalid_token"
    r = httpx.get(private.url + "/berth/v1/token", headers={"Authorization": "Bearer x"})
    assert r.status_code == 401


def test_oauth2_password_grant(private: ThreadedRegistry) -> None:
    form = {"grant_type": "password", "username": "alice", "password": "alice-pw", "service": "berth-test",
            "scope": "repository:team/app:pull", "client_id": "docker"}
    r = httpx.post(private.url + "/berth/v1/token", data=form)
    assert r.status_code == 200
    access = r.json()["access_token"]
    assert httpx.get(private.url + "/v2/team/app/tags/list", headers={"Authorization": f"Bearer {access}"}).status_code == 404
    assert httpx.post(private.url + "/berth/v1/token", data={"grant_type": "refresh_token"}).status_code == 400


def test_catalog_lists_what_the_user_may_pull(private: ThreadedRegistry) -> None:
    with httpx.Client(base_url=private.url, auth=("alice", "alice-pw")) as alice:
        image(alice, "team/app", "v1")
    policy_path = private.authorizer._policy._file.path  # type: ignore[union-attr]
    with open(policy_path, "w") as f:
        f.write(POLICY.replace("*          *           pull", ""))
    os.utime(policy_path, ns=(5, 5))
    with httpx.Client(base_url=private.url, auth=("bob", "bob-pw")) as bob:
        assert bob.get("/v2/_catalog").json()["repositories"] == ["team/app"]
    catalog_token = token(private, "registry:catalog:*", ("bob", "bob-pw"))
    r = httpx.get(private.url + "/v2/_catalog", headers={"Authorization": f"Bearer {catalog_token}"})
    assert r.json()["repositories"] == ["team/app"]
    users_path = private.authorizer.users.path  # type: ignore[union-attr]
    with open(users_path, "a") as f:
        f.write(Htpasswd.make_entry("carol", "carol-pw", rounds=4) + "\n")
    os.utime(users_path, ns=(6, 6))
    with httpx.Client(base_url=private.url, auth=("carol", "carol-pw")) as carol:
        assert carol.get("/v2/_catalog").json()["repositories"] == []
    assert httpx.get(private.url + "/v2/_catalog").status_code == 401


def test_extension_respects_permissions(private: ThreadedRegistry) -> None:
    with httpx.Client(base_url=private.url, auth=("alice", "alice-pw")) as alice:
        image(alice, "team/app", "prod")
        image(alice, "team/app", "prod")
    with httpx.Client(base_url=private.url, auth=("bob", "bob-pw")) as bob:
        assert bob.get("/berth/v1/team/app/tags/prod/history").status_code == 200
        r = bob.post("/berth/v1/team/app/tags/prod/rollback", json={"steps": 1})
        assert (r.status_code, r.json()["errors"][0]["code"]) == (403, "DENIED")
    assert httpx.get(private.url + "/berth/v1/team/app/tags/prod/history").status_code == 401
    with httpx.Client(base_url=private.url, auth=("alice", "alice-pw")) as alice:
        r = alice.post("/berth/v1/team/app/tags/prod/rollback", json={"steps": 1})
        assert r.status_code == 200
        assert r.json()["move"]["user"] == "alice"


def test_basic_challenge_mode(tmp_path: Path) -> None:
    users = tmp_path / "htpasswd"
    users.write_text(Htpasswd.make_entry("alice", "pw", rounds=4) + "\n")
    authorizer = Authorizer(Htpasswd(str(users)), challenge="basic")
    with ThreadedRegistry(Registry(InMemoryDriver()), authorizer) as server:
        r = httpx.get(server.url + "/v2/")
        assert (r.status_code, r.headers["WWW-Authenticate"]) == (401, 'Basic realm="berth registry"')
        assert httpx.get(server.url + "/v2/", auth=("alice", "pw")).status_code == 200
        data = os.urandom(100)
        with httpx.Client(base_url=server.url, auth=("alice", "pw")) as client:
            assert push_blob(client, "any/repo", data).status_code == 201
