"""Slowloris against ``berth registry serve`` (issue 17 item 7): thousands of idle and
half-open connections, more than the server has file descriptors, must neither stop
a normal client nor fill the log."""

from __future__ import annotations

import os
import resource
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from berth.oci.digest import Digest

from .conftest import berth_env

SERVER_FILES = 1024  # the server's open-file limit: fewer than the attacker's connections
ATTACK = 3000


class Server:
    def __init__(self, tmp_path: Path, *args: str) -> None:
        self.log_path = tmp_path / "registry.log"
        self._log = open(self.log_path, "w")  # noqa: SIM115 - closed in stop()

        def limit_files() -> None:
            resource.setrlimit(resource.RLIMIT_NOFILE, (SERVER_FILES, SERVER_FILES))

        self.process = subprocess.Popen(
            [sys.executable, "-m", "berth", "registry", "--storage", str(tmp_path / "storage"), "serve",
             "--listen", "127.0.0.1:0", "-q", *args],
            stdout=subprocess.PIPE, stderr=self._log, text=True, env=berth_env(), preexec_fn=limit_files,
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        assert "listening on" in line, line + self.log_path.read_text()
        self.url = line.split("listening on ", 1)[1].split()[0]
        self.port = int(self.url.rsplit(":", 1)[1])

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process.stdout is not None:
            self.process.stdout.close()
        self._log.close()


@pytest.fixture
def own_files_raised() -> Iterator[None]:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < ATTACK + 500:
        pytest.skip(f"the attack needs {ATTACK + 500} open files; the hard limit here is {hard}")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, ATTACK + 500), hard))
    yield
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


class Slowloris:
    """Keeps ``count`` connections open, each sending one header line a second and
    never finishing its request; a connection the server closes is replaced."""

    def __init__(self, port: int, count: int) -> None:
        self.port = port
        self.count = count
        self.opened = 0
        self.closed_by_server = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _connect(self) -> socket.socket | None:
        sock = socket.socket()
        sock.setblocking(False)
        try:
            sock.connect(("127.0.0.1", self.port))
        except BlockingIOError:
            pass
        except OSError:
            sock.close()
            return None
        self.opened += 1
        return sock

    def _run(self) -> None:
        socks: list[tuple[socket.socket, int]] = []
        while not self._stop.is_set():
            while len(socks) < self.count:
                sock = self._connect()
                if sock is None:
                    break
                socks.append((sock, 0))
            alive = []
            for sock, sent in socks:
                line = b"GET /v2/ HTTP/1.1\r\n" if sent == 0 else b"X-Slow-%d: x\r\n" % sent
                try:
                    sock.send(line)
                    if sock.recv(1, socket.MSG_DONTWAIT) == b"":
                        raise ConnectionResetError
                except (BlockingIOError, InterruptedError):
                    alive.append((sock, sent + 1))
                except OSError:
                    self.closed_by_server += 1
                    sock.close()
                else:
                    alive.append((sock, sent + 1))
            socks = alive
            self._stop.wait(1.0)
        for sock, _ in socks:
            sock.close()

    def __enter__(self) -> Slowloris:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=30)


def test_thousands_of_slow_connections_neither_stop_a_client_nor_fill_the_log(
    tmp_path: Path, own_files_raised: None
) -> None:
    server = Server(tmp_path, "--header-timeout", "3")
    try:
        with Slowloris(server.port, ATTACK) as attack:
            deadline = time.monotonic() + 5
            while attack.opened < ATTACK and time.monotonic() < deadline:
                time.sleep(0.1)
            assert attack.opened >= ATTACK  # more than the server could ever hold
            latencies = []
            data = os.urandom(100_000)
            for _ in range(12):
                time.sleep(0.5)
                start = time.monotonic()
                with httpx.Client(base_url=server.url, timeout=10) as http:
                    assert http.get("/v2/").status_code == 200
                    r = http.post(f"/v2/app/blobs/uploads/?digest={Digest.from_bytes(data)}", content=data)
                    assert r.status_code == 201, r.text
                    assert http.get(r.headers["Location"]).content == data
                latencies.append(time.monotonic() - start)
                assert server.process.poll() is None
            assert attack.closed_by_server > 0
        # A normal client never waits for a slow one: no round beyond a couple of
        # seconds (a SYN retransmit is 1 s), most of them immediate.
        assert max(latencies) < 3.5, latencies
        assert sorted(latencies)[len(latencies) // 2] < 0.5, latencies
    finally:
        server.stop()
    size = server.log_path.stat().st_size
    assert size < 16_000, server.log_path.read_text()[:5000]


def test_a_tls_connection_that_never_shakes_hands_is_closed(tmp_path: Path) -> None:
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )
    server = Server(tmp_path, "--header-timeout", "1", "--tls-cert", str(cert), "--tls-key", str(key))
    try:
        idle = [socket.create_connection(("127.0.0.1", server.port)) for _ in range(20)]
        start = time.monotonic()
        for sock in idle:
            sock.settimeout(10)
            assert sock.recv(100) == b""
            sock.close()
        assert time.monotonic() - start < 4
        context = ssl.create_default_context(cafile=str(cert))
        assert httpx.get(server.url + "/v2/", verify=context).status_code == 200
    finally:
        server.stop()
    assert server.log_path.stat().st_size < 4000, server.log_path.read_text()
