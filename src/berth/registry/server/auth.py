"""Authentication and authorisation: htpasswd users, the policy, tokens.

With ``--auth htpasswd:FILE`` every request is decided here:

- :meth:`Authorizer.identify` turns the ``Authorization`` header into an
  :class:`Identity`: none (anonymous), Basic (user and password checked against the
  htpasswd file, bcrypt) or Bearer (a token this server issued, ``tokens.py``).
- :meth:`Authorizer.require` checks one :class:`~tokens.Access` against it. A Bearer
  identity is limited to what its token grants; the others to what the policy
  (``policy.py``) allows. A refusal is Unauthorized (401, with a challenge saying
  which scope to get) when logging in, or a token with a wider scope, could help,
  and Denied (403) when the policy refuses this user.

Without ``--auth`` the registry is open: everything is allowed and every actor is
``anonymous``. The htpasswd and policy files are re-read when they change; a change
that does not parse is ignored (with a log line), keeping the previous version.

bcrypt is slow on purpose (~0.2 s a check at cost 12), so a successful check is
remembered for a few minutes, keyed by a hash of user and password. Ten failed logins
from one address within a minute get TOOMANYREQUESTS until the minute is over.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import logging
import os
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Literal

import bcrypt

from berth.errors import InvalidArgument
from berth.registry.server.errors import Denied, TooManyRequests, Unauthorized
from berth.registry.server.policy import ANONYMOUS, Policy
from berth.registry.server.tokens import Access, Claims, IssuedToken, TokenAuthority

log = logging.getLogger("berth.registry")

CATALOG = Access("registry", "catalog", frozenset({"*"}))
_CACHE_SECONDS = 300.0
_FAILURE_WINDOW = 60.0
_FAILURE_LIMIT = 10


@dataclass(frozen=True, slots=True)
class Identity:
    user: str | None  # None: no credentials
    scheme: Literal["none", "basic", "bearer"]
    claims: Claims | None = None

    @property
    def name(self) -> str:
        return self.user or ANONYMOUS


class _Watched:
    """A file parsed again whenever its size or modification time changes."""

    def __init__(self, path: str, what: str) -> None:
        self.path = path
        self.what = what
        self._stamp: tuple[int, int] | None = None
        self._mutex = threading.Lock()

    def changed(self) -> str | None:
        """The new text when the file changed since the last call, else None."""
        st = os.stat(self.path)
        stamp = (st.st_mtime_ns, st.st_size)
        with self._mutex:
            if stamp == self._stamp:
                return None
            self._stamp = stamp
        with open(self.path, encoding="utf-8") as f:
            return f.read()


class Htpasswd:
    """Users and bcrypt hashes from an Apache-style htpasswd file (``user:$2y$…``)."""

    def __init__(self, path: str) -> None:
        self._file = _Watched(path, "htpasswd")
        self._entries: dict[str, bytes] = {}
        self._verified: dict[bytes, tuple[bytes, float]] = {}
        self._dummy_hash: bytes | None = None
        self._mutex = threading.Lock()
        self._refresh(strict=True)

    @property
    def path(self) -> str:
        return self._file.path

    @staticmethod
    def parse(text: str, source: str = "htpasswd") -> dict[str, bytes]:
        entries: dict[str, bytes] = {}
        for number, raw in enumerate(text.splitlines(), 1):
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            user, sep, hashed = line.partition(":")
            if not sep or not user:
                raise InvalidArgument(f"{source}:{number}: expected USER:HASH")
            if not hashed.startswith(("$2a$", "$2b$", "$2y$")):
                raise InvalidArgument(f"{source}:{number}: user {user}: only bcrypt hashes are supported (htpasswd -B)")
            entries[user] = hashed.encode()
        return entries

    @staticmethod
    def make_entry(user: str, password: str, rounds: int = 12) -> str:
        if not user or ":" in user or user != user.strip() or user in (ANONYMOUS, "*"):
            raise InvalidArgument(f"user {user!r}: not a valid user name")
        return f"{user}:{bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds)).decode()}"

    def _refresh(self, strict: bool = False) -> None:
        try:
            text = self._file.changed()
            if text is None:
                return
            entries = self.parse(text, self.path)
        except (OSError, InvalidArgument) as err:
            if strict:
                raise InvalidArgument(f"htpasswd {self.path}: {err}") from err
            log.warning("htpasswd %s: keeping the previous version: %s", self.path, err)
            return
        with self._mutex:
            self._entries = entries

    def _dummy(self) -> bytes:
        if self._dummy_hash is None:
            self._dummy_hash = bcrypt.hashpw(b"berth", bcrypt.gensalt(12))
        return self._dummy_hash

    def verify(self, user: str, password: str) -> bool:
        """True for a known user with that password. Blocking (bcrypt): call it from
        a worker thread."""
        self._refresh()
        with self._mutex:
            hashed = self._entries.get(user)
        if hashed is None:
            bcrypt.checkpw(password.encode(), self._dummy())  # take as long as a real check
            return False
        key = hashlib.sha256(f"{user}\0{password}".encode()).digest()
        now = time.monotonic()
        with self._mutex:
            cached = self._verified.get(key)
        if cached is not None and cached[0] == hashed and cached[1] > now:
            return True
        try:
            ok = bcrypt.checkpw(password.encode(), hashed)
        except ValueError:
            return False
        if ok:
            with self._mutex:
                if len(self._verified) > 10_000:
                    self._verified.clear()
                self._verified[key] = (hashed, now + _CACHE_SECONDS)
        return ok


class _PolicyFile:
    def __init__(self, path: str) -> None:
        self._file = _Watched(path, "policy")
        self._policy = Policy(())
        self._refresh(strict=True)

    def _refresh(self, strict: bool = False) -> None:
        try:
            text = self._file.changed()
            if text is None:
                return
            self._policy = Policy.parse(text, self._file.path)
        except (OSError, InvalidArgument) as err:
            if strict:
                raise InvalidArgument(f"policy {self._file.path}: {err}") from err
            log.warning("policy %s: keeping the previous version: %s", self._file.path, err)

    def current(self) -> Policy:
        self._refresh()
        return self._policy


class _Failures:
    def __init__(self) -> None:
        self._seen: dict[str, deque[float]] = {}
        self._mutex = threading.Lock()

    def check(self, remote: str | None) -> None:
        if remote is None:
            return
        now = time.monotonic()
        with self._mutex:
            recent = self._seen.get(remote)
            while recent and recent[0] < now - _FAILURE_WINDOW:
                recent.popleft()
            if recent is not None and len(recent) >= _FAILURE_LIMIT:
                raise TooManyRequests(f"too many failed logins from {remote}; wait a minute")

    def record(self, remote: str | None) -> None:
        if remote is None:
            return
        with self._mutex:
            if len(self._seen) > 10_000:
                self._seen.clear()
            self._seen.setdefault(remote, deque()).append(time.monotonic())


class Authorizer:
    """Decides every request; see the module docstring. ``users`` None means open."""

    def __init__(
        self,
        users: Htpasswd | None = None,
        policy_path: str | None = None,
        tokens: TokenAuthority | None = None,
        challenge: Literal["bearer", "basic"] = "bearer",
        realm: str | None = None,
    ) -> None:
        if policy_path is not None and users is None:
            raise InvalidArgument("a policy needs users: add --auth htpasswd:FILE")
        self.users = users
        self._policy = _PolicyFile(policy_path) if policy_path else None
        self.tokens = tokens or TokenAuthority("berth-registry")
        self.challenge_scheme = challenge
        self.realm = realm
        self._failures = _Failures()

    @property
    def enabled(self) -> bool:
        return self.users is not None

    def policy(self) -> Policy:
        if self._policy is not None:
            return self._policy.current()
        return Policy.users_may_do_everything()

    def identify(self, authorization: str | None, remote: str | None = None) -> Identity:
        """Who sent the request. Raises Unauthorized for credentials that are wrong.
        Blocking (bcrypt): call it from a worker thread."""
        if self.users is None or not authorization:
            return Identity(None, "none")
        scheme, _, value = authorization.strip().partition(" ")
        scheme = scheme.lower()
        if scheme == "bearer":
            claims = self.tokens.verify(value.strip())
            return Identity(claims.subject or None, "bearer", claims)
        if scheme == "basic":
            user, password = _basic_credentials(value)
            self._failures.check(remote)
            if not self.users.verify(user, password):
                self._failures.record(remote)
                raise Unauthorized("invalid user name or password")
            return Identity(user, "basic")
        raise Unauthorized(f"authorization scheme {scheme[:20]!r} is not supported")

    def allowed(self, identity: Identity, repository: str) -> frozenset[str]:
        """The actions ``identity`` may take on ``repository``."""
        if self.users is None:
            return frozenset({"pull", "push", "delete"})
        if identity.claims is not None:
            return identity.claims.actions_for("repository", repository)
        return self.policy().actions(identity.user, repository)

    def may_see(self, identity: Identity, repository: str) -> bool:
        """Whether the catalog lists ``repository`` to ``identity``: the policy decides,
        whatever scopes a token carries (a catalog token names no repositories)."""
        return self.users is None or "pull" in self.policy().actions(identity.user, repository)

    def require(self, identity: Identity, access: Access) -> None:
        """Return when ``identity`` may have ``access``; raise Unauthorized or Denied."""
        if self.users is None or access.actions <= self.allowed(identity, access.name):
            return
        if identity.user is None or access.actions <= self.policy().actions(identity.user, access.name):
            reason = "insufficient_scope" if identity.scheme == "bearer" else None
            raise Unauthorized(f"{access.name}: authentication required to {_verbs(access)}", access.scope, reason)
        raise Denied(f"{access.name}: user {identity.user} may not {_verbs(access)}")

    def require_login(self, identity: Identity, scope: Access | None = None) -> None:
        """For ``/v2/`` and the catalog: any valid credentials, or a token (even an
        anonymous one), will do."""
        if self.users is not None and identity.scheme == "none":
            raise Unauthorized("authentication required", scope.scope if scope else None)

    def issue_token(self, identity: Identity, requested: list[Access]) -> IssuedToken:
        """A token for what ``identity`` asked for and the policy allows."""
        granted: list[Access] = []
        policy = self.policy()
        for want in requested:
            if want.type == "repository":
                actions = want.actions & policy.actions(identity.user, want.name)
            elif want == CATALOG and identity.user is not None:
                actions = want.actions
            else:
                actions = frozenset()
            if actions:
                granted.append(Access(want.type, want.name, actions))
        return self.tokens.issue(identity.user or "", granted)

    def challenge(self, realm: str, err: Unauthorized) -> str:
        """The ``WWW-Authenticate`` value for ``err``; ``realm`` is the token URL to
        name unless one was configured."""
        if self.challenge_scheme == "basic":
            return 'Basic realm="berth registry"'
        params = [f'realm="{self.realm or realm}"', f'service="{self.tokens.service}"']
        if err.scope:
            params.append(f'scope="{err.scope}"')
        if err.reason:
            params.append(f'error="{err.reason}"')
        return "Bearer " + ",".join(params)


def _basic_credentials(value: str) -> tuple[str, str]:
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        raise Unauthorized("basic credentials are malformed") from None
    user, sep, password = decoded.partition(":")
    if not sep or not user:
        raise Unauthorized("basic credentials are malformed")
    return user, password


def _verbs(access: Access) -> str:
    return " and ".join(sorted(access.actions))
