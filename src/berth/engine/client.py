"""Talking to a container's shim over its socket (protocol in shim.py)."""

from __future__ import annotations

import json
import socket
from typing import Any

from berth.errors import ContainerNotRunning


class ShimUnavailable(ContainerNotRunning):
    """The shim's socket is gone: the container is not running under a shim."""


def connect(path: str, timeout: float | None = None) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        sock.connect(path)
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
