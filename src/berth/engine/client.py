"""Talking to a container's shim over its socket (protocol in shim.py)."""

from __future__ import annotations

import contextlib
import json
import os
import socket
from collections.abc import Iterator
from typing import Any

from berth.errors import ContainerNotRunning


class ShimUnavailable(ContainerNotRunning):
    """The shim's socket is gone: the container is not running under a shim."""


SUN_PATH_MAX = 107


@contextlib.contextmanager
def addressable(path: str) -> Iterator[str]:
    """A name for the unix socket ``path`` that fits in sun_path (108 bytes): long
    paths go through /proc/self/fd of their folder, opened O_PATH for the call."""
    if len(os.fsencode(path)) <= SUN_PATH_MAX:
        yield path
        return
    fd = os.open(os.path.dirname(path), os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        yield f"/proc/self/fd/{fd}/{os.path.basename(path)}"
    finally:
        os.close(fd)


def bind(sock: socket.socket, path: str) -> None:
    with addressable(path) as name:
        sock.bind(name)


def connect(path: str, timeout: float | None = None) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        with addressable(path) as name:
            sock.connect(name)
    except (FileNotFoundError, ConnectionRefusedError) as err:
        sock.close()
        raise ShimUnavailable(f"shim socket {path}: {err.strerror}") from err
    return sock


def read_line(sock: socket.socket) -> dict[str, Any]:
    buf = b""
    while not buf.endswith(b"\n"):
        chunk = sock.recv(1)
        if not chunk:
            raise ShimUnavailable("the shim closed the connection")
        buf += chunk
    value: dict[str, Any] = json.loads(buf)
    return value


def request(path: str, message: dict[str, Any], timeout: float | None = 30) -> dict[str, Any]:
    """One request, one JSON answer."""
    with connect(path, timeout) as sock:
        sock.sendall(json.dumps(message).encode() + b"\n")
        return read_line(sock)


def open_attach(path: str, *, stdin: bool, stdout: bool = True, stderr: bool = True) -> tuple[socket.socket, bool]:
    """An attach stream; returns the socket (after the header) and whether it is a tty."""
    sock = connect(path)
    sock.sendall(json.dumps({"attach": {"stdin": stdin, "stdout": stdout, "stderr": stderr}}).encode() + b"\n")
    answer = read_line(sock)
    return sock, bool(answer.get("tty"))
