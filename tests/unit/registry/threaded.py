"""Run berth's registry app on 127.0.0.1 in a background thread, for the unit tests.

    with ThreadedRegistry(Registry(InMemoryDriver())) as server:
        httpx.get(server.url + "/v2/")

The server has its own event loop in its own thread, so synchronous tests can talk
to it with any HTTP client; ``stop()`` (or leaving the ``with``) shuts it down.
"""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import Future

from aiohttp import web

from berth.registry.server.app import create_app
from berth.registry.server.auth import Authorizer
from berth.registry.server.registry import Registry


class ThreadedRegistry:
    def __init__(self, registry: Registry, authorizer: Authorizer | None = None) -> None:
        self.registry = registry
        self.authorizer = authorizer or Authorizer()
        self.url = ""
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopped: asyncio.Event | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> ThreadedRegistry:
        started: Future[str] = Future()
        self._thread = threading.Thread(target=self._run, args=(started,), name="test-registry", daemon=True)
        self._thread.start()
        self.url = started.result(timeout=10)
        return self

    def _run(self, started: Future[str]) -> None:
        asyncio.run(self._main(started))

    async def _main(self, started: Future[str]) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopped = asyncio.Event()
        runner = web.AppRunner(create_app(self.registry, self.authorizer), access_log=None, shutdown_timeout=1)
        try:
            await runner.setup()
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            host, port = runner.addresses[0][:2]
            started.set_result(f"http://{host}:{port}")
            await self._stopped.wait()
        except BaseException as err:
            if not started.done():
                started.set_exception(err)
            raise
        finally:
            await runner.cleanup()

    def stop(self) -> None:
        if self._loop is not None and self._stopped is not None:
            self._loop.call_soon_threadsafe(self._stopped.set)
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._thread = None

    def __enter__(self) -> ThreadedRegistry:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
