"""Policy files, htpasswd users, tokens, and the decisions the authorizer makes."""

from __future__ import annotations

import base64
import os
from pathlib import Path

import pytest

from berth.errors import InvalidArgument
from berth.registry.server.auth import CATALOG, Authorizer, Htpasswd, Identity
from berth.registry.server.errors import Denied, TooManyRequests, Unauthorized
from berth.registry.server.policy import Policy
from berth.registry.server.tokens import Access, TokenAuthority, parse_scopes

POLICY = """
# REPOSITORY  WHO         ACTIONS
public/*      anonymous   pull
team/*        alice,bob   pull,push   # a trailing comment
team/*        alice       delete
*             admin       *
"""


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def pull(name: str) -> Access:
    return Access("repository", name, frozenset({"pull"}))


def push(name: str) -> Access:
    return Access("repository", name, frozenset({"push"}))


@pytest.fixture
def users(tmp_path: Path) -> Htpasswd:
    path = tmp_path / "htpasswd"
    path.write_text(
        "\n".join(Htpasswd.make_entry(u, f"{u}-pw", rounds=4) for u in ("alice", "bob", "carol", "admin")) + "\n"
    )
    return Htpasswd(str(path))


@pytest.fixture
def authorizer(users: Htpasswd, tmp_path: Path) -> Authorizer:
    policy = tmp_path / "policy"
    policy.write_text(POLICY)
    return Authorizer(users, str(policy), TokenAuthority("test-service"))


def test_policy_grants_the_union_of_matching_rules() -> None:
    policy = Policy.parse(POLICY)
    assert policy.actions("alice", "team/app") == {"pull", "push", "delete"}
    assert policy.actions("bob", "team/app") == {"pull", "push"}
    assert policy.actions("carol", "team/app") == set()
    assert policy.actions(None, "public/web") == {"pull"}
    assert policy.actions("carol", "public/web") == {"pull"}  # anonymous rules apply to users too
    assert policy.actions(None, "team/app") == set()
    assert policy.actions("admin", "any/thing/at/all") == {"pull", "push", "delete"}


def test_policy_any_user_star_excludes_anonymous() -> None:
    policy = Policy.parse("* * pull")
    assert policy.actions("someone", "x") == {"pull"}
    assert policy.actions(None, "x") == set()


@pytest.mark.parametrize(
    ("text", "where"),
    [("team/* alice", "policy:1"), ("x alice fly", "policy:1"), ("# ok\nx , pull", "policy:2"), ("x a b c", "policy:1")],
)
def test_policy_mistakes_name_their_line(text: str, where: str) -> None:
    with pytest.raises(InvalidArgument, match=where):
        Policy.parse(text)


def test_htpasswd_verifies_bcrypt_and_rejects_others(users: Htpasswd, tmp_path: Path) -> None:
    assert users.verify("alice", "alice-pw")
    assert users.verify("alice", "alice-pw")  # cached path
    assert not users.verify("alice", "wrong")
    assert not users.verify("nobody", "x")
    bad = tmp_path / "md5"
    bad.write_text("user:$apr1$abc$def\n")
    with pytest.raises(InvalidArgument, match="bcrypt"):
        Htpasswd(str(bad))
    with pytest.raises(InvalidArgument):
        Htpasswd.make_entry("anonymous", "x", rounds=4)


def test_htpasswd_is_reread_when_it_changes(users: Htpasswd) -> None:
    with open(users.path, "a") as f:
        f.write(Htpasswd.make_entry("dave", "dave-pw", rounds=4) + "\n")
    os.utime(users.path, ns=(1, 1))  # a different mtime, whatever the clock's resolution
    assert users.verify("dave", "dave-pw")
    with open(users.path, "w") as f:
        f.write("this is not htpasswd\n")
    os.utime(users.path, ns=(2, 2))
    assert users.verify("dave", "dave-pw")  # a broken file keeps the previous users


def test_tokens_round_trip_and_refuse_tampering() -> None:
    authority = TokenAuthority("svc", ttl=60)
    issued = authority.issue("alice", [pull("a"), Access("registry", "catalog", frozenset({"*"}))])
    claims = authority.verify(issued.token)
    assert claims.subject == "alice"
    assert claims.actions_for("repository", "a") == {"pull"}
    assert claims.actions_for("repository", "b") == set()
    header, payload, signature = issued.token.split(".")
    forged = payload[:-2] + ("AA" if payload[-2:] != "AA" else "BB")
    for token in (f"{header}.{forged}.{signature}", "a.b", "", issued.token + "x"):
        with pytest.raises(Unauthorized):
            authority.verify(token)
    with pytest.raises(Unauthorized):
        TokenAuthority("other-service", key=authority.key).verify(issued.token)
    with pytest.raises(Unauthorized):
        TokenAuthority("svc", key=authority.key, clock=lambda: 2**40).verify(issued.token)
    assert set(issued.to_json()) == {"token", "access_token", "expires_in", "issued_at"}


def test_scopes_parse_like_docker_sends_them() -> None:
    scopes = parse_scopes(["repository:team/app:pull,push repository(plugin):p:pull", "registry:catalog:*", "bogus"])
    assert [(s.type, s.name, set(s.actions)) for s in scopes] == [
        ("repository", "team/app", {"pull", "push"}),
        ("repository", "p", {"pull"}),
        ("registry", "catalog", {"*"}),
    ]


def test_open_registry_allows_everything() -> None:
    auth = Authorizer()
    who = auth.identify(basic("whoever", "x"))
    assert who.user is None
    auth.require(who, push("any"))
    auth.require_login(who)


def test_basic_credentials_are_checked(authorizer: Authorizer) -> None:
    assert authorizer.identify(basic("alice", "alice-pw")) == Identity("alice", "basic")
    with pytest.raises(Unauthorized):
        authorizer.identify(basic("alice", "nope"))
    with pytest.raises(Unauthorized):
        authorizer.identify("Basic !!!notbase64")
    with pytest.raises(Unauthorized):
        authorizer.identify("Digest x")


def test_decisions_401_when_login_could_help_403_when_policy_refuses(authorizer: Authorizer) -> None:
    anonymous = authorizer.identify(None)
    carol = authorizer.identify(basic("carol", "carol-pw"))
    bob = authorizer.identify(basic("bob", "bob-pw"))
    authorizer.require(anonymous, pull("public/web"))
    with pytest.raises(Unauthorized) as unauthorized:
        authorizer.require(anonymous, pull("team/app"))
    assert unauthorized.value.scope == "repository:team/app:pull"
    with pytest.raises(Denied):
        authorizer.require(carol, push("team/app"))
    authorizer.require(bob, push("team/app"))
    with pytest.raises(Denied):
        authorizer.require(bob, Access("repository", "team/app", frozenset({"delete"})))
    with pytest.raises(Unauthorized):
        authorizer.require_login(anonymous)
    authorizer.require_login(carol)


def test_tokens_grant_what_was_asked_and_allowed(authorizer: Authorizer) -> None:
    bob = authorizer.identify(basic("bob", "bob-pw"))
    issued = authorizer.issue_token(bob, parse_scopes(["repository:team/app:pull,push,delete", "repository:other:pull", "registry:catalog:*"]))
    who = authorizer.identify("Bearer " + issued.token)
    assert who == Identity("bob", "bearer", who.claims)
    assert authorizer.allowed(who, "team/app") == {"pull", "push"}
    assert authorizer.allowed(who, "other") == set()
    authorizer.require(who, push("team/app"))
    with pytest.raises(Denied):
        authorizer.require(who, Access("repository", "team/app", frozenset({"delete"})))
    # a token that lacks a scope the user could have: 401 insufficient_scope, to fetch a wider one
    narrow = authorizer.identify("Bearer " + authorizer.issue_token(bob, parse_scopes(["repository:team/app:pull"])).token)
    with pytest.raises(Unauthorized) as err:
        authorizer.require(narrow, push("team/app"))
    assert err.value.reason == "insufficient_scope"
    anonymous_token = authorizer.issue_token(authorizer.identify(None), [CATALOG, pull("public/web"), pull("team/app")])
    claims = authorizer.tokens.verify(anonymous_token.token)
    assert claims.subject == ""
    assert [(a.name, set(a.actions)) for a in claims.access] == [("public/web", {"pull"})]


def test_challenge_header_follows_the_token_spec(authorizer: Authorizer) -> None:
    err = Unauthorized("x", "repository:team/app:pull", "insufficient_scope")
    assert authorizer.challenge("http://127.0.0.1:5000/berth/v1/token", err) == (
        'Bearer realm="http://127.0.0.1:5000/berth/v1/token",service="test-service",'
        'scope="repository:team/app:pull",error="insufficient_scope"'
    )
    basic_auth = Authorizer(authorizer.users, challenge="basic")
    assert basic_auth.challenge("ignored", err) == 'Basic realm="berth registry"'


def test_repeated_failed_logins_are_throttled(authorizer: Authorizer) -> None:
    for _ in range(10):
        with pytest.raises(Unauthorized):
            authorizer.identify(basic("alice", "guess"), remote="10.0.0.9")
    with pytest.raises(TooManyRequests):
        authorizer.identify(basic("alice", "alice-pw"), remote="10.0.0.9")
    assert authorizer.identify(basic("alice", "alice-pw"), remote="10.0.0.10").user == "alice"


def test_policy_without_users_is_refused(tmp_path: Path) -> None:
    policy = tmp_path / "p"
    policy.write_text("* * pull\n")
    with pytest.raises(InvalidArgument):
        Authorizer(None, str(policy))
