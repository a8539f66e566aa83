"""GuardedServer on 127.0.0.1: the connection cap, shedding and back-pressure, the
header and idle timeouts, and logging a condition once."""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
import time
from concurrent.futures import Future

import httpx
import pytest
from aiohttp import web

from berth.httpserve import ConditionLog, GuardedServer, Limits


class Served:
    """An aiohttp app under a GuardedServer, in a thread with its own loop."""

    def __init__(self, limits: Limits, log: logging.Logger) -> None:
        self.limits = limits
        self.log = log
        self.release = threading.Event()  # /slow waits for this
        self.port = 0
        self.server: GuardedServer | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=lambda: asyncio.run(self._main()), daemon=True)
        self._started: Future[int] = Future()

    async def _main(self) -> None:
        async def hello(request: web.Request) -> web.Response:
            return web.Response(text="hello")

        async def slow(request: web.Request) -> web.Response:
            await asyncio.get_running_loop().run_in_executor(None, self.release.wait, 30)
            return web.Response(text="slow")

        app = web.Application()
        app.router.add_get("/", hello)
        app.router.add_get("/slow", slow)
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        self.server = GuardedServer(app, self.limits, self.log, access_log=None, shutdown_timeout=1)
        try:
            (_, port), *_ = await self.server.listen_tcp("127.0.0.1", 0)
            self._started.set_result(port)
            await self._stop.wait()
        except BaseException as err:
            if not self._started.done():
                self._started.set_exception(err)
            raise
        finally:
            await self.server.close()

    def __enter__(self) -> Served:
        self._thread.start()
        self.port = self._started.result(timeout=10)
        return self

    def __exit__(self, *exc: object) -> None:
        self.release.set()
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout=10)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def idle_socket(self) -> socket.socket:
        sock = socket.create_connection(("127.0.0.1", self.port))
        sock.settimeout(10)
        return sock


def closed_by_server(sock: socket.socket, within: float) -> float | None:
    """Seconds until the server closed ``sock`` (None if it did not within ``within``)."""
    start = time.monotonic()
    sock.settimeout(within)
    try:
        while sock.recv(4096):
            pass
    except TimeoutError:
        return None
    except ConnectionResetError:
        pass
    return time.monotonic() - start


def wait_for(predicate: object, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return True
        time.sleep(0.02)
    return False


@pytest.fixture
def log() -> logging.Logger:
    return logging.getLogger("berth.test.guard")


def test_a_connection_that_sends_nothing_is_closed_after_the_header_timeout(log: logging.Logger) -> None:
    with Served(Limits(100, header_timeout=0.5, idle_timeout=30), log) as served:
        sock = served.idle_socket()
        took = closed_by_server(sock, 5)
        assert took is not None and took < 2.5
        assert served.server is not None and served.server.header_timeouts == 1


def test_slowloris_headers_are_cut_off_however_steadily_they_trickle(log: logging.Logger) -> None:
    with Served(Limits(100, header_timeout=1.0, idle_timeout=30), log) as served:
        sock = served.idle_socket()
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")
        start = time.monotonic()
        closed = False
        while time.monotonic() - start < 6:
            try:
                sock.sendall(b"X-a: b\r\n")
            except (BrokenPipeError, ConnectionResetError):
                closed = True
                break
            sock.settimeout(0.2)
            try:
                if sock.recv(100) == b"":
                    closed = True
                    break
            except TimeoutError:
                pass
        assert closed and time.monotonic() - start < 3.5


def test_a_kept_alive_connection_gets_the_idle_timeout_not_the_header_timeout(log: logging.Logger) -> None:
    with Served(Limits(100, header_timeout=0.3, idle_timeout=1.5), log) as served:
        sock = served.idle_socket()
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        assert b"hello" in sock.recv(4096)
        time.sleep(0.8)  # past the header timeout: still open, it is between requests
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        assert b"hello" in sock.recv(4096)
        took = closed_by_server(sock, 5)
        assert took is not None and 1.0 < took < 3.0
        assert served.server is not None and served.server.idle_timeouts == 1


def test_at_the_cap_the_longest_idle_connection_makes_room(log: logging.Logger) -> None:
    with Served(Limits(10, header_timeout=30, idle_timeout=30), log) as served:
        server = served.server
        assert server is not None
        idle = [served.idle_socket() for _ in range(10)]
        assert wait_for(lambda: server.idle_connections == 10)
        for _ in range(5):
            start = time.monotonic()
            assert httpx.get(served.url + "/", timeout=5).text == "hello"
            assert time.monotonic() - start < 1
        assert server.open_connections <= 10
        assert closed_by_server(idle[0], 2) is not None  # the oldest went first
        assert server.shed >= 1
        for sock in idle:
            sock.close()


def test_when_every_connection_is_busy_new_clients_wait_in_the_backlog(
    log: logging.Logger, caplog: pytest.LogCaptureFixture
) -> None:
    with Served(Limits(3, header_timeout=30, idle_timeout=30), log) as served:
        server = served.server
        assert server is not None
        results: list[str] = []

        def call(path: str) -> None:
            results.append(httpx.get(served.url + path, timeout=20).text)

        with caplog.at_level(logging.WARNING, logger=log.name):
            busy = [threading.Thread(target=call, args=("/slow",)) for _ in range(3)]
            for t in busy:
                t.start()
            assert wait_for(lambda: server.open_connections == 3 and server.idle_connections == 0)
            waiting = threading.Thread(target=call, args=("/",))
            waiting.start()
            time.sleep(0.5)
            assert results == [] and server.open_connections == 3  # not accepted, not refused
            served.release.set()
            for t in [*busy, waiting]:
                t.join(10)
        assert sorted(results) == ["hello", "slow", "slow", "slow"]
        limit_lines = [r for r in caplog.records if "the cap" in r.getMessage()]
        assert len(limit_lines) == 1


def test_a_flood_of_idle_connections_leaves_one_line_in_the_log(
    log: logging.Logger, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger=log.name):
        with Served(Limits(50, header_timeout=0.5, idle_timeout=30), log) as served:
            socks = [served.idle_socket() for _ in range(300)]
            assert httpx.get(served.url + "/", timeout=5).text == "hello"
            time.sleep(1.5)
            for sock in socks:
                sock.close()
    lines = [r.getMessage() for r in caplog.records]
    assert 1 <= len(lines) <= 4, lines


def test_limits_fit_the_open_file_limit() -> None:
    limits = Limits.for_open_files()
    assert 1 <= limits.max_connections
    with pytest.raises(Exception, match="open-file limit"):
        Limits.for_open_files(10**9)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_condition_log_logs_the_first_event_then_counts(caplog: pytest.LogCaptureFixture) -> None:
    clock = FakeClock()
    conditions = ConditionLog(logging.getLogger("berth.test.cond"), interval=60, clock=clock)
    with caplog.at_level(logging.INFO, logger="berth.test.cond"):
        for _ in range(59_000):
            conditions.event("emfile", "accept: too many open files")
            clock.now += 0.001
        assert len(caplog.records) == 1
        for _ in range(2_000):
            conditions.event("emfile", "accept: too many open files")
            clock.now += 0.001
        assert len(caplog.records) == 2
        assert "more times in the last 60 s" in caplog.records[-1].getMessage()
        for _ in range(30):
            conditions.event("emfile", "accept: too many open files")
        clock.now += 61
        conditions.flush()
        assert "more times, then it stopped" in caplog.records[-1].getMessage()
        assert len(caplog.records) == 3
        conditions.event("emfile", "accept: too many open files")
        conditions.event("emfile", "accept: too many open files")
        clock.now += 61
        conditions.flush()
        assert "1 more times, then it stopped" in caplog.records[-1].getMessage()
        assert not conditions.active("emfile")
