"""Routes, the access each one needs, and the two middlewares (errors, auth).

Every route names the access it needs; :func:`_guard` checks it before the handler
runs, so no handler can forget. Errors become responses in one place,
:func:`_errors`, through ``errcodes.py``. Every response carries
``Docker-Distribution-API-Version: registry/2.0``.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import web

from berth.errors import BerthError
from berth.httpserve import ConditionLog
from berth.registry.server import errcodes
from berth.registry.server.auth import CATALOG, Authorizer
from berth.registry.server.errors import OperationUnsupported, RegistryError, Unauthorized
from berth.registry.server.handlers import blobs, extension, listing, manifests, token, uploads
from berth.registry.server.handlers.common import (
    AUTHORIZER,
    BODY_TIMEOUT,
    IDENTITY,
    REGISTRY,
    blocking,
    repo_name,
)
from berth.registry.server.registry import Registry
from berth.registry.server.tokens import Access

log = logging.getLogger("berth.registry")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
TOKEN_PATH = "/berth/v1/token"
CONDITIONS = web.AppKey("conditions", ConditionLog)
_NAME = "{name:.+}"
_HOST = re.compile(r"^[A-Za-z0-9.\-:\[\]]{1,300}$")

# What a route needs: "login" (any identity, for /v2/), "catalog", "pull", "push",
# "delete" on the repository in the path, or None (the token endpoint).
Need = str | None


@dataclass(frozen=True, slots=True)
class Route:
    method: str
    path: str
    handler: Handler
    need: Need


ROUTES: tuple[Route, ...] = (
    Route("GET", "/v2/", listing.version_check, "login"),
    Route("GET", "/v2/_catalog", listing.catalog, "catalog"),
    Route("GET", f"/v2/{_NAME}/tags/list", listing.list_tags, "pull"),
    Route("GET", f"/v2/{_NAME}/manifests/{{reference}}", manifests.get_manifest, "pull"),
    Route("HEAD", f"/v2/{_NAME}/manifests/{{reference}}", manifests.head_manifest, "pull"),
    Route("PUT", f"/v2/{_NAME}/manifests/{{reference}}", manifests.put_manifest, "push"),
    Route("DELETE", f"/v2/{_NAME}/manifests/{{reference}}", manifests.delete_manifest, "delete"),
    Route("GET", f"/v2/{_NAME}/referrers/{{digest}}", manifests.list_referrers, "pull"),
    Route("POST", f"/v2/{_NAME}/blobs/uploads/", uploads.start_upload, "push"),
    Route("GET", f"/v2/{_NAME}/blobs/uploads/{{uuid}}", uploads.upload_status, "push"),
    Route("PATCH", f"/v2/{_NAME}/blobs/uploads/{{uuid}}", uploads.patch_upload, "push"),
    Route("PUT", f"/v2/{_NAME}/blobs/uploads/{{uuid}}", uploads.finish_upload, "push"),
    Route("DELETE", f"/v2/{_NAME}/blobs/uploads/{{uuid}}", uploads.cancel_upload, "push"),
    Route("GET", f"/v2/{_NAME}/blobs/{{digest}}", blobs.get_blob, "pull"),
    Route("HEAD", f"/v2/{_NAME}/blobs/{{digest}}", blobs.head_blob, "pull"),
    Route("DELETE", f"/v2/{_NAME}/blobs/{{digest}}", blobs.delete_blob, "delete"),
    Route("GET", TOKEN_PATH, token.get_token, None),
    Route("POST", TOKEN_PATH, token.post_token, None),
    Route("GET", f"/berth/v1/{_NAME}/tags/{{tag}}/history", extension.tag_history, "pull"),
    Route("POST", f"/berth/v1/{_NAME}/tags/{{tag}}/rollback", extension.rollback, "push"),
)


def token_realm(request: web.Request) -> str:
    """The token endpoint's URL as this client reaches the server."""
    host = request.host if _HOST.match(request.host or "") else "127.0.0.1"
    return f"{request.scheme}://{host}{TOKEN_PATH}"


def _guard(handler: Handler, need: Need) -> Handler:
    if need is None:
        return handler

    async def guarded(request: web.Request) -> web.StreamResponse:
        auth = request.app[AUTHORIZER]
        if auth.enabled:
            header = request.headers.get("Authorization")
            if header and header[:6].lower() == "basic ":
                who = await blocking(auth.identify, header, request.remote)  # bcrypt: off the loop
            else:
                who = auth.identify(header, request.remote)
            request[IDENTITY] = who
            if need == "login":
                auth.require_login(who)
            elif need == "catalog":
                auth.require_login(who, CATALOG)
            else:
                auth.require(who, Access("repository", repo_name(request), frozenset({need})))
        return await handler(request)

    guarded.__name__ = handler.__name__
    return guarded


def _error_response(request: web.Request, err: BaseException) -> web.Response:
    code, body = errcodes.body_for(err)
    headers = {"Content-Type": "application/json"}
    if isinstance(err, RegistryError):
        headers.update(err.headers)
    if isinstance(err, Unauthorized):
        headers["WWW-Authenticate"] = request.app[AUTHORIZER].challenge(token_realm(request), err)
    if code is errcodes.UNKNOWN:
        # One line (with its traceback) per kind of failure and endpoint, then counts:
        # a full disk or EMFILE fails every request, and must not fill the log too.
        resource = request.match_info.route.resource
        where = resource.canonical if resource is not None else "?"
        key = f"{type(err).__qualname__}:{getattr(err, 'errno', '')}:{request.method} {where}"
        request.app[CONDITIONS].event(key, f"{request.method} {request.path[:200]}: {err}", level=logging.ERROR,
                                      exc_info=err)
    return web.Response(status=code.status, body=None if request.method == "HEAD" else body, headers=headers)


@web.middleware
async def _errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except BerthError as err:
        return _error_response(request, err)
    except web.HTTPMethodNotAllowed:
        return _error_response(request, OperationUnsupported(f"{request.method} {request.path}: method not allowed"))
    except web.HTTPNotFound as err:
        if request.match_info.route.resource is None:  # no route: not a registry endpoint
            code = errcodes.ROUTE_UNKNOWN
            body = errcodes.error_body(code, f"{request.path[:200]}: no such endpoint")
            return web.Response(status=code.status, body=body, headers={"Content-Type": "application/json"})
        raise err
    except OSError as err:  # the storage failed (disk full, permissions): our fault, say so
        return _error_response(request, err)


async def _api_version(request: web.Request, response: web.StreamResponse) -> None:
    response.headers["Docker-Distribution-API-Version"] = "registry/2.0"


def create_app(
    registry: Registry, authorizer: Authorizer | None = None, *, body_timeout: float = 60.0
) -> web.Application:
    app = web.Application(middlewares=[_errors], client_max_size=1 << 20)
    app[REGISTRY] = registry
    app[AUTHORIZER] = authorizer or Authorizer()
    app[CONDITIONS] = ConditionLog(log)
    app[BODY_TIMEOUT] = body_timeout
    for route in ROUTES:
        app.router.add_route(route.method, route.path, _guard(route.handler, route.need))
    app.on_response_prepare.append(_api_version)
    return app
