"""Bearer tokens for Docker's token flow: scopes, issuing, verifying.

The flow (Docker's "token authentication specification", which docker, podman and
skopeo follow against Docker Hub):

1. A request without a usable token gets 401 and
   ``WWW-Authenticate: Bearer realm="<token URL>",service="<service>",scope="repository:app:pull"``.
2. The client asks the realm, ``GET <realm>?service=<service>&scope=<scope>`` with its
   user name and password as Basic credentials (or none, for anonymous access), or
   the OAuth2 form ``POST`` with ``grant_type=password``.
3. The answer is ``{"token": T, "access_token": T, "expires_in": …, "issued_at": …}``;
   T grants the intersection of what was asked and what the policy allows.
4. The client repeats the request with ``Authorization: Bearer T``.

Tokens are JSON Web Tokens signed with HMAC-SHA256 (``alg: HS256``) by a key only the
server knows, with the claims ``iss``, ``sub`` (the user; empty for anonymous),
``aud`` (the service), ``exp``, ``nbf``, ``iat``, ``jti`` and ``access``:
``[{"type": "repository", "name": "app", "actions": ["pull"]}]``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from berth.errors import InvalidArgument
from berth.oci.jsonutil import loads
from berth.registry.server.errors import Unauthorized

LEEWAY = 60  # seconds of clock skew tolerated on nbf


@dataclass(frozen=True, slots=True)
class Access:
    """One scope entry: ``repository:team/app:pull,push``; ``registry:catalog:*``."""

    type: str
    name: str
    actions: frozenset[str]

    @property
    def scope(self) -> str:
        return f"{self.type}:{self.name}:{','.join(sorted(self.actions))}"

    def to_json(self) -> dict[str, object]:
        return {"type": self.type, "name": self.name, "actions": sorted(self.actions)}


def parse_scopes(values: Iterable[str]) -> list[Access]:
    """Scopes from ``scope`` parameters (each may hold several, space-separated).

    Malformed entries are skipped: a token endpoint grants nothing for them."""
    out: list[Access] = []
    for value in values:
        for item in value.split():
            kind, sep, rest = item.partition(":")
            name, sep2, actions = rest.rpartition(":")
            if not sep or not sep2 or not kind or not name:
                continue
            kind = kind.split("(", 1)[0]  # "repository(plugin)" is a repository
            out.append(Access(kind, name, frozenset(a for a in actions.split(",") if a)))
    return out


@dataclass(frozen=True, slots=True)
class Claims:
    subject: str  # "" for an anonymous token
    access: tuple[Access, ...]
    expires: int

    def actions_for(self, type_: str, name: str) -> frozenset[str]:
        granted: set[str] = set()
        for entry in self.access:
            if entry.type == type_ and entry.name == name:
                granted |= entry.actions
        return frozenset(granted)


@dataclass(frozen=True, slots=True)
class IssuedToken:
    token: str
    expires_in: int
    issued_at: str  # RFC 3339

    def to_json(self) -> dict[str, object]:
        return {
            "token": self.token,
            "access_token": self.token,
            "expires_in": self.expires_in,
            "issued_at": self.issued_at,
        }


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class TokenAuthority:
    """Issues and verifies the server's tokens. ``key`` is the HMAC secret; a server
    makes a random one at start, so restarting it makes clients fetch new tokens."""

    def __init__(
        self,
        service: str,
        key: bytes | None = None,
        ttl: int = 300,
        issuer: str = "berth-registry",
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.service = service
        self.key = key or secrets.token_bytes(32)
        self.ttl = ttl
        self.issuer = issuer
        self.clock = clock

    def issue(self, subject: str, access: Iterable[Access]) -> IssuedToken:
        now = int(self.clock())
        claims = {
            "iss": self.issuer,
            "sub": subject,
            "aud": self.service,
            "exp": now + self.ttl,
            "nbf": now,
            "iat": now,
            "jti": secrets.token_hex(16),
            "access": [a.to_json() for a in access],
        }
        header = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())
        payload = _b64(json.dumps(claims, separators=(",", ":")).encode())
        signature = _b64(self._sign(f"{header}.{payload}".encode()))
        issued = datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        return IssuedToken(f"{header}.{payload}.{signature}", self.ttl, issued)

    def _sign(self, data: bytes) -> bytes:
        return hmac.new(self.key, data, hashlib.sha256).digest()

    def verify(self, token: str) -> Claims:
        """The claims of a valid token; Unauthorized(reason="invalid_token") otherwise."""
        invalid = Unauthorized("bearer token is not valid", reason="invalid_token")
        parts = token.split(".")
        if len(parts) != 3:
            raise invalid
        try:
            signature = _unb64(parts[2])
        except ValueError:
            raise invalid from None
        # The signature first: nothing a client made up is parsed.
        if not hmac.compare_digest(signature, self._sign(f"{parts[0]}.{parts[1]}".encode())):
            raise invalid
        try:
            header = loads(_unb64(parts[0]), "token header")
            claims = loads(_unb64(parts[1]), "token claims")
        except (ValueError, InvalidArgument):
            raise invalid from None
        if not isinstance(header, dict) or header.get("alg") != "HS256" or not isinstance(claims, dict):
            raise invalid
        now = self.clock()
        exp, nbf = claims.get("exp"), claims.get("nbf", 0)
        if not isinstance(exp, int) or not isinstance(nbf, int) or exp <= now or nbf > now + LEEWAY:
            raise Unauthorized("bearer token has expired", reason="invalid_token")
        if claims.get("aud") != self.service or not isinstance(claims.get("sub"), str):
            raise invalid
        access: list[Access] = []
        for entry in claims.get("access") or []:
            if not isinstance(entry, dict):
                raise invalid
            kind, name, actions = entry.get("type"), entry.get("name"), entry.get("actions")
            if not isinstance(kind, str) or not isinstance(name, str) or not isinstance(actions, list):
                raise invalid
            access.append(Access(kind, name, frozenset(a for a in actions if isinstance(a, str))))
        return Claims(claims["sub"], tuple(access), exp)
