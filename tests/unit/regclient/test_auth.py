from __future__ import annotations

import base64

import pytest

from berth.registry.client.api import Scope, merge_scopes
from berth.registry.client.auth import Authorizer, parse_challenges
from berth.registry.client.credentials import Credentials
from berth.registry.client.errors import AuthenticationFailed


def test_bearer_challenge_with_quoted_params() -> None:
    [c] = parse_challenges('Bearer realm="https://auth.docker.io/token",service="registry.docker.io",'
                           'scope="repository:library/busybox:pull"')
    assert c.scheme == "bearer"
    assert c.params == {"realm": "https://auth.docker.io/token", "service": "registry.docker.io",
                        "scope": "repository:library/busybox:pull"}


def test_several_challenges_tokens_escapes_and_error_params() -> None:
    challenges = parse_challenges('Basic realm="a \\"quoted\\" realm", Bearer realm=https://t/token, '
                                  'error="insufficient_scope",scope="repository:a:pull repository:b:push"')
    assert [c.scheme for c in challenges] == ["basic", "bearer"]
    assert challenges[0].realm == 'a "quoted" realm'
    assert challenges[1].params["realm"] == "https://t/token"
    assert challenges[1].params["error"] == "insufficient_scope"
    assert parse_challenges("") == []
    assert parse_challenges("Negotiate")[0].params == {}


def test_scope_strings() -> None:
    assert str(Scope.repository("library/busybox", "pull", "push")) == "repository:library/busybox:pull,push"
    assert Scope.parse("repository:a/b:pull,push") == Scope("repository", "a/b", ("pull", "push"))
    merged = merge_scopes([Scope.repository("b", "push"), Scope.repository("a", "pull"),
                           Scope.repository("b", "pull"), Scope.repository("b", "push")])
    assert [str(s) for s in merged] == ["repository:a:pull", "repository:b:pull,push"]


class FakeTokenService:
    def __init__(self, status: int = 200, body: bytes = b'{"token": "T1", "expires_in": 120}') -> None:
        self.calls: list[tuple[str, list[tuple[str, str]], dict[str, str], dict[str, str] | None]] = []
        self.status = status
        self.body = body

    def __call__(self, url: str, params: list[tuple[str, str]], headers: dict[str, str],
                 form: dict[str, str] | None) -> tuple[int, bytes]:
        self.calls.append((url, params, headers, form))
        return self.status, self.body


def test_tokens_are_asked_with_basic_credentials_and_cached_per_scope_until_expiry() -> None:
    now = [1000.0]
    service = FakeTokenService()
    auth = Authorizer(lambda registry: Credentials("alice", "pw"), service, clock=lambda: now[0])
    auth.learn("reg:5000", 'Bearer realm="http://t/token",service="svc"')
    pull = (Scope.repository("a/b", "pull"),)
    assert auth.header("reg:5000", pull) == "Bearer T1"
    assert auth.header("reg:5000", pull) == "Bearer T1"
    assert len(service.calls) == 1
    url, params, headers, form = service.calls[0]
    assert url == "http://t/token" and form is None
    assert ("service", "svc") in params and ("scope", "repository:a/b:pull") in params
    assert headers["Authorization"] == "Basic " + base64.b64encode(b"alice:pw").decode()
    auth.header("reg:5000", (Scope.repository("a/b", "pull", "push"),))
    assert len(service.calls) == 2  # another scope, another token
    now[0] += 200  # past expires_in
    auth.header("reg:5000", pull)
    assert len(service.calls) == 3


def test_basic_challenge_uses_stored_credentials_and_anonymous_gets_none() -> None:
    auth = Authorizer(lambda registry: Credentials("u", "p") if registry == "a" else None, FakeTokenService())
    auth.learn("a", 'Basic realm="x"')
    auth.learn("b", 'Basic realm="x"')
    assert auth.header("a", ()) == "Basic " + base64.b64encode(b"u:p").decode()
    assert auth.header("b", ()) is None
    assert auth.header("unknown", ()) is None


def test_a_refused_token_request_is_an_authentication_error() -> None:
    auth = Authorizer(lambda registry: Credentials("u", "bad"), FakeTokenService(401, b"{}"))
    auth.learn("r", 'Bearer realm="http://t/token"')
    with pytest.raises(AuthenticationFailed, match="incorrect username or password"):
        auth.header("r", ())


def test_identity_tokens_use_the_oauth2_refresh_grant() -> None:
    service = FakeTokenService(body=b'{"access_token": "A"}')
    auth = Authorizer(lambda registry: Credentials(identity_token="refresh"), service)
    auth.learn("r", 'Bearer realm="http://t/token",service="s"')
    assert auth.header("r", (Scope.repository("x", "pull"),)) == "Bearer A"
    form = service.calls[0][3]
    assert form is not None and form["grant_type"] == "refresh_token" and form["refresh_token"] == "refresh"
    assert form["scope"] == "repository:x:pull"
