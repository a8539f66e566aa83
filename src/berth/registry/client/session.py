"""HTTP to registries (httpx): endpoint choice, authentication, errors.

One ``Session`` serves every registry a command talks to. For each registry it first
asks ``GET /v2/`` (Docker's "ping"): that picks the endpoint (HTTPS, or for insecure
registries HTTPS without verification and then plain HTTP) and learns the registry's
challenge, so later requests go out with the right ``Authorization`` at once. A request
answered ``401`` is repeated once with fresh authorization (a new challenge may widen
the scope). Connection-level failures become ``Unavailable``; HTTP errors are mapped by
``errors.error_for``.

This module imports httpx; nothing imports it until a pull, push or login starts.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Mapping
from typing import Any

import httpx

from berth import __version__
from berth.errors import BerthError, Unavailable
from berth.registry.client.api import Scope
from berth.registry.client.auth import Authorizer, Challenge
from berth.registry.client.credentials import Credentials, CredentialStore
from berth.registry.client.errors import AuthenticationFailed, error_for
from berth.registry.client.hosts import InsecureRules, RegistryHost, registry_host, split_host

log = logging.getLogger(__name__)

USER_AGENT = f"berth/{__version__}"
TIMEOUT = httpx.Timeout(30.0, read=120.0, pool=None)
LIMITS = httpx.Limits(max_connections=32, max_keepalive_connections=16)


class Session:
    def __init__(self, rules: InsecureRules | None = None, credentials: CredentialStore | None = None, *,
                 anonymous: bool = False) -> None:
        self.rules = rules or InsecureRules.from_env()
        self.credentials = credentials or CredentialStore()
        lookup = (lambda _registry: None) if anonymous else self.credentials.get
        self.authorizer = Authorizer(lookup, self._fetch_token)
        self._lock = threading.Lock()
        self._clients: dict[bool, httpx.Client] = {}
        self._hosts: dict[str, RegistryHost] = {}
        self._bases: dict[str, str] = {}
        self._ping_locks: dict[str, threading.Lock] = {}

    # ----------------------------------------------------------------- plumbing

    def close(self) -> None:
        for client in self._clients.values():
            client.close()
        self._clients.clear()

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def client(self, verify: bool) -> httpx.Client:
        with self._lock:
            client = self._clients.get(verify)
            if client is None:
                # Verified clients honour HTTPS_PROXY, NO_PROXY and SSL_CERT_FILE as Docker
                # does; the unverified one serves loopback and listed registries directly.
                client = httpx.Client(verify=verify, timeout=TIMEOUT, limits=LIMITS, trust_env=verify,
                                      headers={"User-Agent": USER_AGENT})
                self._clients[verify] = client
            return client

    def host(self, domain: str) -> RegistryHost:
        with self._lock:
            host = self._hosts.get(domain)
        if host is None:
            host = registry_host(domain, self.rules)
            with self._lock:
                self._hosts[domain] = host
        return host

    def base(self, domain: str) -> str:
        """The endpoint (``https://host``) that answered the ping for ``domain``."""
        with self._lock:
            if domain in self._bases:
                return self._bases[domain]
            lock = self._ping_locks.setdefault(domain, threading.Lock())
        with lock:
            with self._lock:
                if domain in self._bases:
                    return self._bases[domain]
            base = self._ping(domain)
            with self._lock:
                self._bases[domain] = base
            return base

    def _ping(self, domain: str) -> str:
        host = self.host(domain)
        client = self.client(not host.insecure)
        failures = []
        for base in host.endpoints:
            try:
                response = client.get(f"{base}/v2/")
            except httpx.TransportError as err:
                failures.append(f"{base}: {_reason(err)}")
                log.debug("ping %s: %s", base, err)
                continue
            if response.status_code == 401:
                self.authorizer.learn(domain, response.headers.get("www-authenticate", ""))
            elif response.status_code >= 500:
                raise error_for(response.status_code, response.content, f"registry {domain}",
                                response.reason_phrase)
            return base
        hint = "" if host.insecure else (" (a plain-HTTP registry must be listed with --insecure-registry or "
                                         "BERTH_INSECURE_REGISTRIES)")
        raise Unavailable(f"registry {domain}: cannot connect: {'; '.join(failures)}{hint}")

    def client_for(self, domain: str) -> httpx.Client:
        return self.client(not self.host(domain).insecure)

    # ----------------------------------------------------------------- requests

    def request(self, method: str, domain: str, path: str, *, scopes: Iterable[Scope] = (),
                headers: Mapping[str, str] | None = None, params: Mapping[str, str] | None = None,
                content: Any = None, stream: bool = False, replayable: bool = True,
                follow_redirects: bool = False) -> httpx.Response:
        """``path`` is ``/v2/…`` or an absolute URL (a ``Location`` the registry gave).
        The caller closes a ``stream=True`` response."""
        base = self.base(domain)
        url = path if path.startswith(("http://", "https://")) else base + path
        if params:  # appended, not passed to httpx, which would drop the query a Location carries
            from urllib.parse import urlencode

            url += ("&" if "?" in url else "?") + urlencode(params)
        client = self.client_for(domain)
        wanted = tuple(scopes)
        for attempt in range(2):
            request = client.build_request(method, url, headers=dict(headers or {}), content=content)
            authorization = self.authorizer.header(domain, wanted, fresh=attempt > 0)
            if authorization:
                request.headers["Authorization"] = authorization
            try:
                response = client.send(request, stream=stream, follow_redirects=follow_redirects)
            except httpx.TransportError as err:
                raise Unavailable(f"registry {domain}: {method} {_short(url)}: {_reason(err)}") from err
            if response.status_code != 401 or attempt == 1 or not replayable:
                return response
            challenge = self.authorizer.learn(domain, response.headers.get("www-authenticate", ""))
            response.close()
            if challenge is None or (challenge.scheme == "basic" and authorization
                                     and authorization.startswith("Basic")):
                return response
        raise AssertionError("unreachable")

    def _fetch_token(self, url: str, params: list[tuple[str, str]], headers: dict[str, str],
                     form: dict[str, str] | None) -> tuple[int, bytes]:
        realm_host = httpx.URL(url).netloc.decode()
        client = self.client(not self.rules.insecure(realm_host) if url.startswith("https://") else True)
        try:
            if form is not None:
                response = client.post(url, data=form, headers=headers)
                if response.status_code in (404, 405):  # no OAuth2 endpoint: fall back to GET
                    response = client.get(url, params={"service": form.get("service", "")}, headers=headers)
            else:
                from urllib.parse import urlencode

                query = urlencode(params)
                response = client.get(f"{url}{'&' if '?' in url else '?'}{query}" if query else url, headers=headers)
        except httpx.TransportError as err:
            raise Unavailable(f"token service {url}: {_reason(err)}") from err
        return response.status_code, response.content

    # ----------------------------------------------------------------- login

    def login(self, domain: str, creds: Credentials) -> None:
        """Check ``creds`` against ``domain`` the way ``docker login`` does: the token
        service must issue a token for them (Bearer), or ``/v2/`` must accept them
        (Basic). Raises AuthenticationFailed when they are refused."""
        self.authorizer.set_credentials(domain, creds)
        self.base(domain)
        challenge: Challenge | None = self.authorizer.challenge(domain)
        if challenge is None:
            return  # the registry does not ask for credentials; Docker stores them anyway
        if challenge.scheme == "bearer":
            self.authorizer.token(domain, challenge, (), fresh=True)
        response = self.request("GET", domain, "/v2/")
        if response.status_code == 401:
            raise AuthenticationFailed(f"registry {domain}: unauthorized: incorrect username or password")
        if response.status_code >= 400:
            raise error_for(response.status_code, response.content, f"registry {domain}", response.reason_phrase)


def check(response: httpx.Response, what: str) -> httpx.Response:
    """``response`` when it succeeded; else the mapped error (the body is read)."""
    if response.status_code < 400:
        return response
    try:
        body = response.read()
    except httpx.HTTPError:
        body = b""
    finally:
        response.close()
    err: BerthError = error_for(response.status_code, body, what, response.reason_phrase)
    raise err


def _reason(err: Exception) -> str:
    text = str(err) or type(err).__name__
    if "WRONG_VERSION_NUMBER" in text or "wrong version number" in text:
        return "server gave HTTP response to HTTPS client"
    return text


def _short(url: str) -> str:
    return url.split("?", 1)[0]


__all__ = ["Session", "check", "split_host"]
