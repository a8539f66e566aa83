"""Running the registry: settings, TLS, listening, and stopping on SIGINT/SIGTERM."""

from __future__ import annotations

import asyncio
import logging
import signal
import ssl
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Literal

from aiohttp import web

from berth.errors import InvalidArgument
from berth.httpserve import GuardedServer, Limits, raise_open_files_limit
from berth.registry.server.app import create_app
from berth.registry.server.auth import Authorizer, Htpasswd
from berth.registry.server.registry import Registry
from berth.registry.server.storage.filesystem import FilesystemDriver
from berth.registry.server.tokens import TokenAuthority

log = logging.getLogger("berth.registry")


@dataclass(frozen=True, slots=True)
class ServerSettings:
    storage: str
    host: str = "127.0.0.1"
    port: int = 5000
    htpasswd: str | None = None
    policy: str | None = None
    challenge: Literal["bearer", "basic"] = "bearer"
    service: str = "berth-registry"
    token_realm: str | None = None
    token_ttl: int = 300
    tls_cert: str | None = None
    tls_key: str | None = None
    access_log: bool = True
    workers: int = 64  # threads for storage work
    max_connections: int | None = None  # None: what the open-file limit allows (see berth.httpserve)
    header_timeout: float = 10.0
    idle_timeout: float = 60.0

    @property
    def scheme(self) -> str:
        return "https" if self.tls_cert else "http"


def parse_listen(text: str) -> tuple[str, int]:
    """``HOST:PORT``, ``[v6]:PORT`` or ``:PORT`` (all addresses)."""
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or int(port) > 65535:
        raise InvalidArgument(f"--listen {text!r}: expected HOST:PORT")
    host = host.strip("[]") or "0.0.0.0"
    return host, int(port)


def parse_auth(text: str) -> str | None:
    """``none`` → None; ``htpasswd:FILE`` → FILE."""
    if text == "none":
        return None
    kind, sep, path = text.partition(":")
    if kind != "htpasswd" or not sep or not path:
        raise InvalidArgument(f"--auth {text!r}: expected none or htpasswd:FILE")
    return path


def tls_context(cert: str | None, key: str | None) -> ssl.SSLContext | None:
    if cert is None and key is None:
        return None
    if cert is None or key is None:
        raise InvalidArgument("TLS needs both --tls-cert and --tls-key")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    try:
        context.load_cert_chain(cert, key)
    except (OSError, ssl.SSLError) as err:
        raise InvalidArgument(f"TLS certificate {cert} / key {key}: {err}") from err
    return context


def build_app(settings: ServerSettings) -> web.Application:
    driver = FilesystemDriver(settings.storage)
    driver.sweep_temporary()
    users = Htpasswd(settings.htpasswd) if settings.htpasswd else None
    tokens = TokenAuthority(settings.service, ttl=settings.token_ttl)
    authorizer = Authorizer(users, settings.policy, tokens, settings.challenge, settings.token_realm)
    return create_app(Registry(driver), authorizer)


async def serve(settings: ServerSettings, ready: Callable[[list[str]], None] | None = None) -> None:
    """Serve until SIGINT or SIGTERM. ``ready`` gets the URLs listened on.

    Connections are served by ``berth.httpserve.GuardedServer``: a cap that fits the
    open-file limit (raised to its hard maximum first), header and idle timeouts,
    and one log line per condition, so idle or slow clients cannot exhaust it."""
    context = tls_context(settings.tls_cert, settings.tls_key)
    raise_open_files_limit()
    limits = Limits.for_open_files(
        settings.max_connections, header_timeout=settings.header_timeout, idle_timeout=settings.idle_timeout
    )
    app = build_app(settings)
    loop = asyncio.get_running_loop()
    loop.set_default_executor(ThreadPoolExecutor(max_workers=settings.workers, thread_name_prefix="registry"))
    server = GuardedServer(app, limits, log, access_log=log if settings.access_log else None, shutdown_timeout=5)
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        try:
            addresses = await server.listen_tcp(settings.host, settings.port, ssl=context, backlog=1024)
        except OSError as err:
            raise InvalidArgument(f"--listen {settings.host}:{settings.port}: {err.strerror or err}") from err
        urls = []
        for host, port in addresses:
            shown = f"[{host}]" if ":" in host else host
            urls.append(f"{settings.scheme}://{shown}:{port}")
        if ready is not None:
            ready(urls)
        await stop.wait()
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
        await server.close()
