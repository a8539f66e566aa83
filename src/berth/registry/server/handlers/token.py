"""The token endpoint, ``/berth/v1/token`` (see ``tokens.py`` for the flow).

``GET ?service=…&scope=…`` with Basic credentials (or none: an anonymous token), as
docker, podman and skopeo do; ``POST`` with an OAuth2 form (``grant_type=password``,
``username``, ``password``, ``scope``). Refresh tokens are not issued, so clients
keep using their stored password, as they do with registries that issue none.
"""

from __future__ import annotations

import base64
import json

from aiohttp import web

from berth.registry.server.errors import Unauthorized
from berth.registry.server.handlers.common import authorizer, blocking
from berth.registry.server.tokens import parse_scopes


def _json(body: object, status: int = 200) -> web.Response:
    return web.Response(
        status=status,
        body=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", "Cache-Control": "no-store"},
    )


async def get_token(request: web.Request) -> web.StreamResponse:
    auth = authorizer(request)
    header = request.headers.get("Authorization")
    if header and header.lower().startswith("bearer"):
        raise Unauthorized("the token endpoint takes Basic credentials, not a token")
    who = await blocking(auth.identify, header, request.remote)
    token = auth.issue_token(who, parse_scopes(request.query.getall("scope", [])))
    return _json(token.to_json())


async def post_token(request: web.Request) -> web.StreamResponse:
    auth = authorizer(request)
    form = await request.post()
    grant = form.get("grant_type")
    if grant != "password":
        return _json({"error": "unsupported_grant_type", "error_description": "use grant_type=password"}, 400)
    user, password = form.get("username"), form.get("password")
    if not isinstance(user, str) or not isinstance(password, str) or not user:
        return _json({"error": "invalid_request", "error_description": "username and password are required"}, 400)
    basic = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
    who = await blocking(auth.identify, basic, request.remote)
    scopes = [s for s in form.getall("scope", []) if isinstance(s, str)]
    token = auth.issue_token(who, parse_scopes(scopes))
    body = token.to_json()
    body["scope"] = " ".join(scopes)
    return _json(body)
