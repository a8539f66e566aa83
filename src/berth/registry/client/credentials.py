"""Registry credentials in Docker's file and format, so a login done with either tool
works for both.

The file is ``$DOCKER_CONFIG/config.json`` (``~/.docker/config.json`` by default)::

    {"auths": {"127.0.0.1:5000": {"auth": "<base64 of user:password>"},
               "https://index.docker.io/v1/": {"auth": "…"}},
     "credsStore": "pass",                      # optional: a helper for every registry
     "credHelpers": {"example.com": "ecr-login"}}  # optional: a helper per registry

Docker Hub's key is ``https://index.docker.io/v1/``; other registries are keyed by
``host[:port]``, and keys written with a scheme or path (``https://host/v1/``) are
found too. An entry may carry an ``identitytoken`` (an OAuth2 refresh token) instead of
a password. Helpers are the ``docker-credential-NAME`` programs on ``PATH``, driven
with ``get``/``store``/``erase`` and JSON on stdin/stdout as Docker drives them.

The file is rewritten whole, atomically (temp file, fsync, rename), mode 0600, keeping
every other field it had.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import tempfile
from dataclasses import dataclass
from typing import Any

from berth.errors import InvalidArgument, NotFound, Unavailable
from berth.oci.reference import DEFAULT_DOMAIN, LEGACY_DOMAINS

DOCKER_HUB_KEY = "https://index.docker.io/v1/"
ENV_DOCKER_CONFIG = "DOCKER_CONFIG"


@dataclass(frozen=True, slots=True)
class Credentials:
    username: str = ""
    password: str = ""
    identity_token: str = ""  # OAuth2 refresh token, exchanged at the token service

    def __repr__(self) -> str:  # never print secrets
        return f"Credentials(username={self.username!r})"


def config_dir() -> str:
    return os.environ.get(ENV_DOCKER_CONFIG) or os.path.join(os.path.expanduser("~"), ".docker")


def config_key(registry: str) -> str:
    """The key of ``registry`` (a reference domain) in ``auths``."""
    registry = hostname_of(registry)
    if registry == DEFAULT_DOMAIN or registry in LEGACY_DOMAINS:
        return DOCKER_HUB_KEY
    return registry


def hostname_of(key: str) -> str:
    """``https://host:5000/v1/`` → ``host:5000`` (Docker's ConvertToHostname)."""
    text = key.strip()
    for prefix in ("http://", "https://"):
        if text.startswith(prefix):
            text = text[len(prefix):]
    text = text.split("/", 1)[0]
    if text in LEGACY_DOMAINS or text == "index.docker.io":
        return DEFAULT_DOMAIN
    return text


def encode_auth(username: str, password: str) -> str:
    return base64.b64encode(f"{username}:{password}".encode()).decode()


def decode_auth(value: str) -> tuple[str, str]:
    try:
        text = base64.b64decode(value, validate=False).decode()
    except (ValueError, UnicodeDecodeError):
        raise InvalidArgument("credentials: invalid base64 in the auth field") from None
    user, sep, password = text.partition(":")
    if not sep:
        raise InvalidArgument("credentials: the auth field is not user:password")
    return user, password


class CredentialStore:
    def __init__(self, directory: str | None = None) -> None:
        self.directory = directory or config_dir()
        self.path = os.path.join(self.directory, "config.json")

    # ----------------------------------------------------------------- file

    def _load(self) -> dict[str, Any]:
        try:
            with open(self.path, "rb") as f:
                data = f.read()
        except FileNotFoundError:
            return {}
        if not data.strip():
            return {}
        try:
            doc = json.loads(data)
        except ValueError as err:
            raise InvalidArgument(f"{self.path}: invalid JSON: {err}") from None
        if not isinstance(doc, dict):
            raise InvalidArgument(f"{self.path}: expected a JSON object")
        return doc

    def _save(self, doc: dict[str, Any]) -> None:
        os.makedirs(self.directory, mode=0o700, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".config.json.", dir=self.directory)
        try:
            with os.fdopen(fd, "w") as f:
                json.dump(doc, f, indent="\t")
                f.write("\n")
                f.flush()
                os.fsync(f.fileno())
            os.chmod(tmp, 0o600)
            os.replace(tmp, self.path)
        except BaseException:
            try:
                os.unlink(tmp)
            except FileNotFoundError:
                pass
            raise

    def _helper(self, doc: dict[str, Any], registry: str) -> str | None:
        helpers = doc.get("credHelpers")
        key = config_key(registry)
        if isinstance(helpers, dict):
            for name, helper in helpers.items():
                if isinstance(helper, str) and helper and hostname_of(name) == hostname_of(key):
                    return helper
        store = doc.get("credsStore")
        return store if isinstance(store, str) and store else None

    @staticmethod
    def _find(auths: dict[str, Any], registry: str) -> str | None:
        key = config_key(registry)
        if key in auths:
            return key
        wanted = hostname_of(key)
        for name in auths:
            if hostname_of(name) == wanted:
                return name
        return None

    # ----------------------------------------------------------------- API

    def get(self, registry: str) -> Credentials | None:
        """The credentials for ``registry`` (a reference domain), or None."""
        doc = self._load()
        helper = self._helper(doc, registry)
        if helper is not None:
            return _helper_get(helper, config_key(registry))
        auths = doc.get("auths")
        if not isinstance(auths, dict):
            return None
        key = self._find(auths, registry)
        entry = auths.get(key) if key is not None else None
        if not isinstance(entry, dict):
            return None
        token = entry.get("identitytoken") or ""
        user, password = "", ""
        if entry.get("auth"):
            user, password = decode_auth(str(entry["auth"]))
        elif entry.get("username"):
            user, password = str(entry["username"]), str(entry.get("password") or "")
        if not user and not token:
            return None
        return Credentials(user, password, str(token))

    def store(self, registry: str, creds: Credentials) -> str:
        """Save ``creds`` for ``registry``; returns where (the file or the helper)."""
        doc = self._load()
        key = config_key(registry)
        helper = self._helper(doc, registry)
        if helper is not None:
            secret = creds.identity_token or creds.password
            user = "<token>" if creds.identity_token else creds.username
            _helper_run(helper, "store", json.dumps({"ServerURL": key, "Username": user, "Secret": secret}))
            return f"docker-credential-{helper}"
        auths = doc.get("auths")
        if not isinstance(auths, dict):
            auths = {}
            doc["auths"] = auths
        old = self._find(auths, registry)
        if old is not None and old != key:
            del auths[old]
        entry: dict[str, Any] = {"auth": encode_auth(creds.username, creds.password if not creds.identity_token
                                                     else "")}
        if creds.identity_token:
            entry["identitytoken"] = creds.identity_token
        auths[key] = entry
        self._save(doc)
        return self.path

    def erase(self, registry: str) -> bool:
        """Forget the credentials for ``registry``; False when there were none."""
        doc = self._load()
        found = False
        helper = self._helper(doc, registry)
        if helper is not None:
            try:
                _helper_run(helper, "erase", config_key(registry))
                found = True
            except NotFound:
                pass
        auths = doc.get("auths")
        if isinstance(auths, dict):
            key = self._find(auths, registry)
            if key is not None:
                del auths[key]
                self._save(doc)
                found = True
        return found


def _helper_run(helper: str, action: str, payload: str) -> str:
    program = f"docker-credential-{helper}"
    try:
        done = subprocess.run([program, action], input=payload, capture_output=True, text=True, timeout=60)
    except FileNotFoundError:
        raise Unavailable(f"credential helper {program}: not found in PATH") from None
    except subprocess.TimeoutExpired:
        raise Unavailable(f"credential helper {program}: timed out") from None
    if done.returncode != 0:
        message = (done.stdout.strip() or done.stderr.strip())
        if "credentials not found" in message.lower():
            raise NotFound(f"credential helper {program}: no credentials")
        raise Unavailable(f"credential helper {program} {action}: {message or 'failed'}")
    return done.stdout


def _helper_get(helper: str, server: str) -> Credentials | None:
    try:
        out = _helper_run(helper, "get", server)
    except NotFound:
        return None
    try:
        doc = json.loads(out)
    except ValueError:
        raise Unavailable(f"credential helper docker-credential-{helper}: invalid JSON answer") from None
    user, secret = str(doc.get("Username") or ""), str(doc.get("Secret") or "")
    if user == "<token>":
        return Credentials(identity_token=secret)
    if not user and not secret:
        return None
    return Credentials(user, secret)
