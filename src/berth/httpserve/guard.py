"""Serving an aiohttp application so that idle or slow clients cannot take it down.

A plain ``aiohttp.web.TCPSite`` accepts every connection the kernel hands it and
keeps a connection that sends nothing for as long as the client likes. About 21,000
idle connections then exhaust the process's file descriptors: accept() fails with
EMFILE in a tight loop (asyncio logs a traceback for each failure), storage opens
fail too, and real clients time out. :class:`GuardedServer` runs the application's
connections itself, with four rules:

- **A connection cap with back-pressure.** At most ``max_connections`` are open. At
  the cap the server sheds the connection that has been idle longest (idle: no
  request being handled, so a client between requests or one still sending its
  headers) and accepts; when every connection is busy it stops calling accept()
  until one closes, so new clients wait in the kernel's listen backlog instead of
  costing a file descriptor each.
- **A header timeout.** A request's line and headers must arrive within
  ``header_timeout`` seconds of its first byte; a new connection must deliver its
  first request's headers within ``header_timeout`` of being accepted (for TLS the
  handshake is bounded the same way). Slowloris clients, which send a header line
  every few seconds, are closed.
- **An idle timeout.** A connection between requests is closed after
  ``idle_timeout`` seconds.
- **One log line per condition** (:mod:`condlog`): the cap being reached, accept()
  failing, clients too slow with their headers, each logged when it starts and
  summarised once a minute, never once per connection.

Busy connections (a handler running, or its response being written) are never
timed out or shed here: a handler reading a request body bounds its own waits.

Usage (the registry's ``serve.py`` does this; ``berth serve`` should too)::

    server = GuardedServer(app, Limits.for_open_files(), log, access_log=None)
    await server.start()                       # before this the app is still mutable
    urls = await server.listen_tcp("127.0.0.1", 5000, ssl=context)
    await server.listen_unix("/run/berth/berth.sock")
    ...
    await server.close()                       # stops accepting, then the runner's cleanup

The guard learns that a connection is busy from a middleware it puts first in the
application's chain; the request's task, which also writes the response, marks it
idle again when it finishes.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import resource
import socket
import ssl as ssl_module
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from aiohttp.web_protocol import RequestHandler

from berth.errors import InvalidArgument
from berth.httpserve.condlog import ConditionLog

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

# accept() failures that mean "out of a resource": shed, wait, retry.
_RESOURCE_ERRNOS = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})
# accept() failures that concern one client only.
_CLIENT_ERRNOS = frozenset({errno.ECONNABORTED, errno.EPROTO, errno.EPERM, errno.EAGAIN, errno.EINTR})
_RESERVED_FDS = 64  # for the listening sockets, logs, the database, worker threads


@dataclass(frozen=True, slots=True)
class Limits:
    max_connections: int
    header_timeout: float = 10.0
    idle_timeout: float = 60.0
    close_grace: float = 5.0  # a closed connection that has not gone after this is aborted

    def __post_init__(self) -> None:
        if self.max_connections < 1:
            raise InvalidArgument(f"max connections {self.max_connections}: must be at least 1")
        if not (self.header_timeout > 0 and self.idle_timeout > 0 and self.close_grace > 0):
            raise InvalidArgument("header and idle timeouts must be positive")

    @classmethod
    def for_open_files(
        cls, max_connections: int | None = None, *, header_timeout: float = 10.0, idle_timeout: float = 60.0
    ) -> Limits:
        """Limits whose connection cap fits the process's file-descriptor limit: half
        of what is left after a small reserve, since a connection may hold a file
        open besides its socket (a blob being sent). An explicit ``max_connections``
        above that is refused rather than left to fail with EMFILE later."""
        fits = max(1, (open_files_limit() - _RESERVED_FDS) // 2)
        if max_connections is None:
            max_connections = fits
        elif max_connections > fits:
            raise InvalidArgument(
                f"max connections {max_connections}: the open-file limit ({open_files_limit()}) allows at most {fits};"
                " raise it (ulimit -n) or ask for fewer"
            )
        return cls(max_connections, header_timeout, idle_timeout)


def open_files_limit() -> int:
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def raise_open_files_limit() -> int:
    """Raise the soft file-descriptor limit to the hard one (as Go programs do at
    start); returns the soft limit now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or hard > soft:
        target = hard if hard != resource.RLIM_INFINITY else max(soft, 1 << 20)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        except (ValueError, OSError):
            pass
    return open_files_limit()


class _ToConditions(logging.Handler):
    def __init__(self, conditions: ConditionLog) -> None:
        super().__init__(logging.INFO)
        self.conditions = conditions

    def emit(self, record: logging.LogRecord) -> None:
        exc = record.exc_info[1] if record.exc_info else None
        # The format string, not the message: "Error handling request from %s"
        # is one condition whatever the client's address.
        key = f"http:{record.msg if isinstance(record.msg, str) else ''}:{type(exc).__name__}"
        self.conditions.event(key, record.getMessage(), level=record.levelno, exc_info=exc)


def _protocol_logger(name: str, conditions: ConditionLog) -> logging.Logger:
    """A logger, outside logging's registry, whose records become condition events."""
    logger = logging.Logger(f"{name}.http", logging.INFO)
    logger.addHandler(_ToConditions(conditions))
    return logger


class _Connection:
    """What the guard knows of one accepted connection."""

    __slots__ = ("transport", "opened", "idle_since", "first_byte", "served", "busy", "closing")

    def __init__(self, transport: asyncio.Transport, now: float) -> None:
        self.transport = transport
        self.opened = now
        self.idle_since = now
        self.first_byte: float | None = None  # of the request not yet dispatched
        self.served = 0  # requests dispatched so far
        self.busy = 0  # requests being handled now (0 or 1: aiohttp handles one at a time)
        self.closing = False

    def deadline(self, limits: Limits) -> tuple[float, str]:
        """When this idle connection is closed, and why."""
        if self.first_byte is not None:
            return self.first_byte + limits.header_timeout, "header"
        if self.served == 0:
            return self.opened + limits.header_timeout, "header"
        return self.idle_since + limits.idle_timeout, "idle"


class _Guarded(asyncio.Protocol):
    """aiohttp's protocol for one connection, with the guard told of its life."""

    __slots__ = ("_guard", "_inner", "_conn")

    def __init__(self, guard: GuardedServer, inner: RequestHandler) -> None:
        self._guard = guard
        self._inner = inner
        self._conn: _Connection | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._conn = self._guard._opened(transport)
        self._inner.connection_made(transport)

    def data_received(self, data: bytes) -> None:
        conn = self._conn
        if conn is not None and conn.busy == 0 and conn.first_byte is None:
            conn.first_byte = time.monotonic()
        self._inner.data_received(data)

    def eof_received(self) -> None:
        self._inner.eof_received()  # aiohttp keeps nothing half-open

    def connection_lost(self, exc: BaseException | None) -> None:
        if self._conn is not None:
            self._guard._lost(self._conn)
        self._inner.connection_lost(exc)

    def pause_writing(self) -> None:
        self._inner.pause_writing()

    def resume_writing(self) -> None:
        self._inner.resume_writing()


class GuardedServer:
    """An aiohttp application served under :class:`Limits`; see the module docstring.

    ``runner_kwargs`` go to ``aiohttp.web.AppRunner`` (``access_log``,
    ``shutdown_timeout``, …)."""

    def __init__(self, app: web.Application, limits: Limits, log: logging.Logger, **runner_kwargs: Any) -> None:
        self.app = app
        self.limits = limits
        self.log = log
        self.conditions = ConditionLog(log)
        # aiohttp's own keep-alive timer stays as a backstop; the guard's comes first.
        runner_kwargs.setdefault("keepalive_timeout", limits.idle_timeout * 2)
        # aiohttp logs every malformed request with a traceback: one per connection a
        # hostile client opens. Its lines go through the condition log instead.
        runner_kwargs.setdefault("logger", _protocol_logger(log.name, self.conditions))
        self.runner = web.AppRunner(app, **runner_kwargs)
        self._connections: dict[asyncio.Transport, _Connection] = {}
        self._idle: dict[_Connection, None] = {}  # oldest idle first (dicts keep insertion order)
        self._accepted = 0  # sockets accepted and not yet closed (TLS handshakes included)
        self._closing = 0  # of those, closed by the guard and not gone yet
        self._room = asyncio.Event()
        self._room.set()
        self._listeners: list[socket.socket] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self._started = False
        self.shed = self.header_timeouts = self.idle_timeouts = 0  # counters, for tests and benchmarks

    # -- life cycle ---------------------------------------------------------------

    async def start(self) -> None:
        if self._started:
            return
        self.app.middlewares.insert(0, self._middleware)
        await self.runner.setup()
        self._started = True
        self._spawn(self._housekeeping())

    async def listen_tcp(
        self, host: str, port: int, *, ssl: ssl_module.SSLContext | None = None, backlog: int = 1024
    ) -> list[tuple[str, int]]:
        """Listen on every address ``host`` resolves to; the ``(host, port)`` pairs bound."""
        await self.start()
        try:
            infos = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
        except socket.gaierror as err:
            raise InvalidArgument(f"{host}: {err.strerror}") from err
        bound: list[tuple[str, int]] = []
        seen: set[tuple[Any, ...]] = set()
        for family, kind, proto, _, address in infos:
            if (family, address) in seen:
                continue
            seen.add((family, address))
            sock = socket.socket(family, kind, proto)
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                if family == socket.AF_INET6:
                    sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
                sock.bind(address)
                sock.listen(backlog)
            except OSError:
                sock.close()
                raise
            name = sock.getsockname()
            bound.append((str(name[0]), int(name[1])))
            self._serve_socket(sock, ssl)
        return bound

    async def listen_unix(self, path: str, *, ssl: ssl_module.SSLContext | None = None, backlog: int = 1024) -> None:
        """Listen on a Unix socket at ``path`` (a stale socket file there is replaced)."""
        await self.start()
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            try:
                if os.path.exists(path) and not os.path.isdir(path):
                    os.unlink(path)
            except OSError:
                pass
            sock.bind(path)
            sock.listen(backlog)
        except OSError:
            sock.close()
            raise
        self._serve_socket(sock, ssl)

    async def close(self) -> None:
        """Stop accepting, then let the runner finish requests and close the rest."""
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            try:
                await task
            except (asyncio.CancelledError, Exception):
                pass
        for sock in self._listeners:
            sock.close()
        self._listeners.clear()
        self.conditions.flush(force=True)
        await self.runner.cleanup()

    @property
    def open_connections(self) -> int:
        return self._accepted

    @property
    def idle_connections(self) -> int:
        return len(self._idle)

    # -- accepting ----------------------------------------------------------------

    def _serve_socket(self, sock: socket.socket, ssl: ssl_module.SSLContext | None) -> None:
        sock.setblocking(False)
        self._listeners.append(sock)
        self._spawn(self._accept_loop(sock, ssl))

    def _spawn(self, coro: Awaitable[None]) -> None:
        task: asyncio.Task[None] = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _full(self) -> bool:
        # Closing connections still hold their descriptor for a moment; allow a few
        # more of those, not unboundedly many.
        return (self._accepted - self._closing >= self.limits.max_connections
                or self._accepted >= self.limits.max_connections + max(16, self.limits.max_connections // 8))

    async def _accept_loop(self, sock: socket.socket, ssl: ssl_module.SSLContext | None) -> None:
        # accept() is called only when a client is waiting, so reaching the cap sheds
        # an idle connection for a real newcomer and never ahead of one.
        while True:
            await self._readable(sock)
            if self._full() and not self._shed_oldest_idle():
                self.conditions.event(
                    "limit", f"{self.limits.max_connections} connections open (the cap), none idle:"
                    " new clients wait to be accepted"
                )
                self._room.clear()
                await self._room.wait()
                continue
            for _ in range(64):  # a batch per wake-up, as asyncio's own accept loop does
                if self._full():
                    break
                try:
                    client, _ = sock.accept()
                except (BlockingIOError, InterruptedError):
                    break
                except OSError as err:
                    if err.errno in _CLIENT_ERRNOS:
                        continue
                    if err.errno not in _RESOURCE_ERRNOS:
                        raise
                    self.conditions.event(
                        f"accept:{err.errno}",
                        f"accept: {err.strerror} with {self._accepted} connections open; shedding idle ones",
                        level=logging.ERROR,
                    )
                    self._shed_oldest_idle()
                    await asyncio.sleep(0.05)
                    break
                self._accepted += 1
                self._spawn(self._open(client, ssl))

    async def _readable(self, sock: socket.socket) -> None:
        loop = asyncio.get_running_loop()
        ready: asyncio.Future[None] = loop.create_future()

        def wake() -> None:
            if not ready.done():
                ready.set_result(None)

        loop.add_reader(sock.fileno(), wake)
        try:
            await ready
        finally:
            loop.remove_reader(sock.fileno())

    async def _open(self, client: socket.socket, ssl: ssl_module.SSLContext | None) -> None:
        """Hand an accepted socket to aiohttp's protocol, through the guard's."""
        assert self.runner.server is not None
        loop = asyncio.get_running_loop()
        protocol = _Guarded(self, self.runner.server())
        try:
            await loop.connect_accepted_socket(
                lambda: protocol, client, ssl=ssl,
                ssl_handshake_timeout=self.limits.header_timeout if ssl is not None else None,
            )
        except Exception:  # a failed handshake, a client already gone: that client only
            client.close()
            if protocol._conn is None:  # never opened: the slot is still taken
                self._released()

    # -- the connections' life ----------------------------------------------------

    def _opened(self, transport: asyncio.Transport) -> _Connection:
        conn = _Connection(transport, time.monotonic())
        self._connections[transport] = conn
        self._idle[conn] = None
        self._room.set()  # an accept loop waiting at the cap may shed it now
        return conn

    def _lost(self, conn: _Connection) -> None:
        self._connections.pop(conn.transport, None)
        self._idle.pop(conn, None)
        if conn.closing:
            self._closing -= 1
        self._released()

    def _released(self) -> None:
        self._accepted -= 1
        if not self._full():
            self._room.set()

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        conn = self._connections.get(request.transport) if request.transport is not None else None
        task = asyncio.current_task()
        if conn is not None and task is not None:
            conn.busy += 1
            conn.served += 1
            conn.first_byte = None
            self._idle.pop(conn, None)
            task.add_done_callback(lambda _: self._finished(conn))
        return await handler(request)

    def _finished(self, conn: _Connection) -> None:
        """The request's task is over, response written: the connection is idle."""
        conn.busy -= 1
        if conn.busy == 0 and not conn.closing and conn.transport in self._connections:
            conn.idle_since = time.monotonic()
            conn.first_byte = None
            self._idle[conn] = None
            self._room.set()

    def _close(self, conn: _Connection) -> None:
        if conn.closing:
            return
        conn.closing = True
        self._closing += 1
        self._idle.pop(conn, None)
        conn.transport.close()
        asyncio.get_running_loop().call_later(self.limits.close_grace, self._abort_if_open, conn)

    def _abort_if_open(self, conn: _Connection) -> None:
        if conn.transport in self._connections:
            conn.transport.abort()

    def _shed_oldest_idle(self) -> bool:
        for conn in self._idle:
            self._close(conn)
            self.shed += 1
            return True
        return False

    async def _housekeeping(self) -> None:
        tick = max(0.05, min(1.0, self.limits.header_timeout / 4, self.limits.idle_timeout / 4))
        while True:
            await asyncio.sleep(tick)
            now = time.monotonic()
            slow = 0
            for conn in list(self._idle):
                deadline, why = conn.deadline(self.limits)
                if now < deadline:
                    continue
                self._close(conn)
                if why == "header":
                    slow += 1
                    self.header_timeouts += 1
                else:
                    self.idle_timeouts += 1
            if slow:
                self.conditions.event(
                    "slow-headers",
                    f"closed {slow} connections that sent no complete request headers within"
                    f" {self.limits.header_timeout:g} s",
                )
            self.conditions.flush()
