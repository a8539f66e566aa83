"""Authentication as Docker does it: follow the registry's ``WWW-Authenticate``.

A request goes out anonymously (or with what earlier answers taught us). A ``401``
carries challenges (RFC 7235)::

    WWW-Authenticate: Bearer realm="https://auth.example/token",service="reg",scope="repository:a/b:pull"
    WWW-Authenticate: Basic realm="Registry Realm"

``Basic``: the request is repeated with the stored user and password. ``Bearer``: a
token is asked of the realm — ``GET realm?service=reg&scope=repository:a/b:pull,push``
with the user and password as Basic credentials when there are some (anonymously
otherwise; with an identity token, an OAuth2 ``POST`` of ``grant_type=refresh_token``)
— and the request is repeated with ``Authorization: Bearer <token>``. Tokens are cached
per registry and set of scopes until they expire (``expires_in``, 60 s when absent), so
a pull asks once per repository, not once per blob.

Nothing here does I/O: the session hands in a ``TokenFetcher`` that performs the HTTP
request to the token service.
"""

from __future__ import annotations

import base64
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from berth.errors import InvalidArgument, PermissionDenied
from berth.oci.jsonutil import loads
from berth.registry.client.api import Scope, merge_scopes
from berth.registry.client.credentials import Credentials
from berth.registry.client.errors import AuthenticationFailed, describe, parse_errors

DEFAULT_TOKEN_LIFETIME = 60.0
EXPIRY_MARGIN = 5.0
CLIENT_ID = "berth"


@dataclass(frozen=True, slots=True)
class Challenge:
    scheme: str  # lower case: "bearer", "basic"
    params: dict[str, str] = field(default_factory=dict)

    @property
    def realm(self) -> str:
        return self.params.get("realm", "")


def parse_challenges(header: str) -> list[Challenge]:
    """The challenges of one ``WWW-Authenticate`` value (RFC 7235 section 4.1): a
    scheme, then comma-separated ``key=value`` or ``key="quoted \\" value"`` params; a
    token not followed by ``=`` starts the next challenge."""
    out: list[Challenge] = []
    i, n = 0, len(header)
    current: Challenge | None = None
    while i < n:
        while i < n and header[i] in " \t,":
            i += 1
        start = i
        while i < n and header[i] not in " \t,=":
            i += 1
        token = header[start:i]
        if not token:
            i += 1
            continue
        j = i
        while j < n and header[j] in " \t":
            j += 1
        if j < n and header[j] == "=" and current is not None:
            i = j + 1
            while i < n and header[i] in " \t":
                i += 1
            if i < n and header[i] == '"':
                i += 1
                value = []
                while i < n and header[i] != '"':
                    if header[i] == "\\" and i + 1 < n:
                        i += 1
                    value.append(header[i])
                    i += 1
                i += 1
                current.params[token.lower()] = "".join(value)
            else:
                start = i
                while i < n and header[i] not in " \t,":
                    i += 1
                current.params[token.lower()] = header[start:i]
        elif j < n and header[j] == "=" and current is None:
            i = j + 1  # a parameter without a scheme: skip its value
            while i < n and header[i] not in ",":
                i += 1
        else:
            current = Challenge(token.lower(), {})
            out.append(current)
    return out


def parse_scope_param(text: str) -> list[Scope]:
    """A challenge's ``scope`` parameter: one or more space-separated scopes."""
    return [Scope.parse(s) for s in text.split() if s]


# (url, query params as pairs, headers, form body or None) → (status, body)
TokenFetcher = Callable[[str, list[tuple[str, str]], dict[str, str], dict[str, str] | None], tuple[int, bytes]]


@dataclass(frozen=True, slots=True)
class Token:
    value: str
    expires: float  # time.monotonic() deadline


class Authorizer:
    """Remembers each registry's challenge and the tokens it issued."""

    def __init__(self, credentials: Callable[[str], Credentials | None], fetch_token: TokenFetcher,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._credentials = credentials
        self._fetch = fetch_token
        self._clock = clock
        self._lock = threading.Lock()
        self._challenges: dict[str, Challenge] = {}
        self._tokens: dict[tuple[str, str, tuple[str, ...]], Token] = {}
        self._token_locks: dict[tuple[str, str, tuple[str, ...]], threading.Lock] = {}
        self._creds_cache: dict[str, Credentials | None] = {}
        self.token_requests = 0  # how many times a token service was asked (tests, debugging)

    def credentials(self, registry: str) -> Credentials | None:
        with self._lock:
            if registry not in self._creds_cache:
                self._creds_cache[registry] = self._credentials(registry)
            return self._creds_cache[registry]

    def set_credentials(self, registry: str, creds: Credentials | None) -> None:
        with self._lock:
            self._creds_cache[registry] = creds

    def challenge(self, registry: str) -> Challenge | None:
        with self._lock:
            return self._challenges.get(registry)

    def learn(self, registry: str, header: str) -> Challenge | None:
        """Record the challenge of a 401's ``WWW-Authenticate``; Bearer preferred."""
        challenges = parse_challenges(header)
        chosen = next((c for c in challenges if c.scheme == "bearer"), None) \
            or next((c for c in challenges if c.scheme == "basic"), None)
        if chosen is not None:
            with self._lock:
                self._challenges[registry] = chosen
        return chosen

    def header(self, registry: str, scopes: tuple[Scope, ...], *, fresh: bool = False) -> str | None:
        """The ``Authorization`` value for a request needing ``scopes``, or None when
        nothing is known yet (the request goes out anonymously and may be challenged)."""
        challenge = self.challenge(registry)
        if challenge is None:
            return None
        if challenge.scheme == "basic":
            creds = self.credentials(registry)
            if creds is None or not creds.username:
                return None
            raw = f"{creds.username}:{creds.password}".encode()
            return "Basic " + base64.b64encode(raw).decode()
        return "Bearer " + self.token(registry, challenge, scopes, fresh=fresh)

    def token(self, registry: str, challenge: Challenge, scopes: tuple[Scope, ...], *,
              fresh: bool = False) -> str:
        merged = merge_scopes(list(scopes) + parse_scope_param(challenge.params.get("scope", "")))
        key = (registry, challenge.realm, tuple(str(s) for s in merged))
        with self._lock:
            lock = self._token_locks.setdefault(key, threading.Lock())
        with lock:  # one request per scope set, even when many blobs start at once
            now = self._clock()
            cached = self._tokens.get(key)
            if cached is not None and cached.expires > now and not fresh:
                return cached.value
            token = self._request_token(registry, challenge, merged)
            with self._lock:
                self._tokens[key] = token
            return token.value

    def _request_token(self, registry: str, challenge: Challenge, scopes: tuple[Scope, ...]) -> Token:
        realm = challenge.realm
        if not realm:
            raise PermissionDenied(f"registry {registry}: bearer challenge without a realm")
        creds = self.credentials(registry)
        service = challenge.params.get("service", "")
        headers: dict[str, str] = {}
        form: dict[str, str] | None = None
        params: list[tuple[str, str]] = []
        if creds is not None and creds.identity_token:
            form = {"grant_type": "refresh_token", "refresh_token": creds.identity_token,
                    "service": service, "client_id": CLIENT_ID,
                    "scope": " ".join(str(s) for s in scopes)}
        else:
            if service:
                params.append(("service", service))
            params.extend(("scope", str(s)) for s in scopes)
            if creds is not None and creds.username:
                raw = f"{creds.username}:{creds.password}".encode()
                headers["Authorization"] = "Basic " + base64.b64encode(raw).decode()
                params.append(("account", creds.username))
        self.token_requests += 1
        status, body = self._fetch(realm, params, headers, form)
        if status in (401, 403):
            raise AuthenticationFailed(f"registry {registry}: {_hint(status, creds)}")
        if status != 200:
            raise PermissionDenied(f"registry {registry}: token service {realm} answered "
                                   f"{describe(parse_errors(body), status, '')}")
        try:
            doc = loads(body, "token answer")
            value = doc.get("token") or doc.get("access_token")
            lifetime = float(doc.get("expires_in") or DEFAULT_TOKEN_LIFETIME)
        except (ValueError, AttributeError, TypeError, InvalidArgument):
            raise PermissionDenied(f"registry {registry}: token service {realm} sent no token") from None
        if not isinstance(value, str) or not value:
            raise PermissionDenied(f"registry {registry}: token service {realm} sent no token")
        return Token(value, self._clock() + max(1.0, lifetime - EXPIRY_MARGIN))


def _hint(status: int, creds: Credentials | None) -> str:
    if status == 403:
        return "denied: requested access to the resource is denied"
    if creds is None or not (creds.username or creds.identity_token):
        return "unauthorized: authentication required"
    return "unauthorized: incorrect username or password"
