"""A client for a running berth registry's extension (history, rollback), for the CLI.

It logs in as the registry asks: on a 401 with a ``Bearer`` challenge it fetches a
token from the realm with the user's credentials (Docker's token flow); on a
``Basic`` challenge it sends them directly. Error documents come back as the
``berth.errors`` class their code stands for.
"""

from __future__ import annotations

import base64
import re
import ssl
from typing import Any
from urllib.parse import quote

import httpx

from berth.errors import BerthError, InvalidArgument, NotFound, PermissionDenied, Unavailable
from berth.oci.digest import Digest
from berth.oci.jsonutil import loads

_CHALLENGE_PARAM = re.compile(r'(\w+)="([^"]*)"')
_NOT_FOUND = {"NAME_UNKNOWN", "MANIFEST_UNKNOWN", "BLOB_UNKNOWN", "BLOB_UPLOAD_UNKNOWN"}
_DENIED = {"UNAUTHORIZED", "DENIED"}


class RemoteRegistry:
    def __init__(
        self,
        url: str,
        user: str | None = None,
        password: str | None = None,
        verify: bool | str = True,  # False, or a CA certificate file
        timeout: float = 30.0,
    ) -> None:
        if not url.startswith(("http://", "https://")):
            raise InvalidArgument(f"--url {url!r}: expected http://HOST:PORT or https://HOST:PORT")
        self.url = url.rstrip("/")
        self.user = user
        self.password = password
        context: bool | ssl.SSLContext = ssl.create_default_context(cafile=verify) if isinstance(verify, str) else verify
        self._client = httpx.Client(verify=context, timeout=timeout)

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> RemoteRegistry:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def history(self, name: str, tag: str) -> dict[str, Any]:
        return self._call("GET", f"/berth/v1/{quote(name)}/tags/{quote(tag)}/history")

    def rollback(self, name: str, tag: str, *, to: Digest | None = None, steps: int | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {}
        if to is not None:
            body["to"] = str(to)
        if steps is not None:
            body["steps"] = steps
        return self._call("POST", f"/berth/v1/{quote(name)}/tags/{quote(tag)}/rollback", body)

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        try:
            response = self._client.request(method, self.url + path, json=body)
            if response.status_code == 401 and self.user is not None:
                auth = self._answer(response.headers.get("WWW-Authenticate", ""))
                if auth is not None:
                    response = self._client.request(method, self.url + path, json=body, headers={"Authorization": auth})
        except httpx.HTTPError as err:
            raise Unavailable(f"registry {self.url}: {err}") from err
        if response.status_code >= 400:
            raise _error(self.url, response)
        try:
            result = loads(response.content, "answer")
        except InvalidArgument:
            raise BerthError(f"registry {self.url}: the answer is not JSON") from None
        if not isinstance(result, dict):
            raise BerthError(f"registry {self.url}: unexpected answer")
        return result

    def _answer(self, challenge: str) -> str | None:
        """An Authorization header answering ``challenge``, or None if we cannot."""
        scheme = challenge.split(" ", 1)[0].lower()
        credentials = httpx.BasicAuth(self.user or "", self.password or "")
        if scheme == "basic":
            return "Basic " + base64.b64encode(f"{self.user}:{self.password or ''}".encode()).decode()
        if scheme != "bearer":
            return None
        params = dict(_CHALLENGE_PARAM.findall(challenge))
        realm = params.get("realm")
        if not realm:
            return None
        query = {k: v for k, v in (("service", params.get("service")), ("scope", params.get("scope"))) if v}
        response = self._client.get(realm, params=query, auth=credentials)
        if response.status_code >= 400:
            raise _error(realm, response)
        try:
            doc = loads(response.content, "token answer")
        except InvalidArgument:
            return None
        token = (doc.get("token") or doc.get("access_token")) if isinstance(doc, dict) else None
        return f"Bearer {token}" if isinstance(token, str) else None


def _error(url: str, response: httpx.Response) -> BerthError:
    code, message = "", response.reason_phrase
    try:
        first = loads(response.content, "error body")["errors"][0]
        code, message = str(first.get("code", "")), str(first.get("message", message))
    except (InvalidArgument, KeyError, IndexError, TypeError, AttributeError):
        pass
    text = f"registry {url}: {message}" + (f" ({code})" if code else f" (HTTP {response.status_code})")
    if code in _NOT_FOUND or (not code and response.status_code == 404):
        return NotFound(text)
    if code in _DENIED or response.status_code in (401, 403):
        return PermissionDenied(text)
    if 400 <= response.status_code < 500:
        return InvalidArgument(text)
    return Unavailable(text)
