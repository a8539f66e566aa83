"""Messages between the runtime (parent) and the process that becomes the container.

One SOCK_SEQPACKET socketpair, one JSON object per packet, fds by SCM_RIGHTS::

    parent                         stage-1 child              container init (PID 1)
      │ fork ───────────────────────► │
      │ ◄──────────── USERNS ──────── │  (only with a new user namespace)
      │ write uid_map/gid_map         │
      │ ───────────── MAPPED ───────► │
      │                               │ setns / unshare
      │                               │ fork ───────────────────────► │
      │ ◄──────────── PID {pid} ───── │ exit                          │ mounts
      │ ◄──────────────────────────────────────────── HOOKS ───────── │ (only with prestart hooks)
      │ run prestart/createRuntime hooks                              │
      │ ──────────────────────────────────────────── HOOKS_DONE ────► │ pivot_root, devices,
      │ ◄──────────────────────────────────────── PTY + fd ────────── │ (only with a terminal)
      │ ◄──────────────────────────────────────────── CREATED ─────── │ blocks on the start gate
      │ start: a byte on the gate ──────────────────────────────────► │ execve; the socket closes
      │                                                               │ (CLOEXEC) — EOF means it ran

Without a user namespace (``init.direct``) the parent forks the container's PID 1
itself, into its pid namespace: there is no stage 1 and no PID message; instead the
parent moves the child into its cgroup while the child mounts, then sends JOINED,
which the child waits for before it enters its cgroup namespace.

Any step may instead send ERROR {message, field, errno} and exit; the parent raises it
as the matching berth error.
"""

from __future__ import annotations

import array
import json
import os
import socket
from typing import Any

from berth.errors import BerthError, Internal, InvalidArgument, InvalidSpec, NotFound, PermissionDenied

USERNS = "userns"
MAPPED = "mapped"
PID = "pid"
HOOKS = "hooks"
HOOKS_DONE = "hooks-done"
PTY = "pty"
CREATED = "created"
JOINED = "joined"
ERROR = "error"

_MAX = 65536
# Messages without fields, encoded once: the container's side sends them between fork
# and exec, where every page its code touches is a copy-on-write fault.
_BARE = {kind: json.dumps({"type": kind}).encode() for kind in (USERNS, MAPPED, HOOKS, HOOKS_DONE, PTY, CREATED, JOINED)}


def pair() -> tuple[socket.socket, socket.socket]:
    parent, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    return parent, child


def send(sock: socket.socket, kind: str, fds: list[int] | None = None, **fields: Any) -> None:
    data = None if fields else _BARE.get(kind)
    if data is None:
        data = json.dumps({"type": kind, **fields}).encode()
    if fds:
        sock.sendmsg([data], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", fds))])
    else:
        sock.send(data)


def recv(sock: socket.socket) -> tuple[dict[str, Any] | None, list[int]]:
    """The next message and any fds it carried; (None, []) at EOF."""
    fds = array.array("i")
    data, ancdata, _, _ = sock.recvmsg(_MAX, socket.CMSG_SPACE(4 * fds.itemsize))
    for level, kind, payload in ancdata:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds.frombytes(payload[: len(payload) - (len(payload) % fds.itemsize)])
    if not data:
        for fd in fds:
            os.close(fd)
        return None, []
    message = json.loads(data)
    if not isinstance(message, dict):
        raise Internal("runtime sync: malformed message")
    return message, list(fds)


def expect(sock: socket.socket, kind: str, what: str) -> tuple[dict[str, Any], list[int]]:
    message, fds = recv(sock)
    if message is None:
        raise Internal(f"container init exited before {what}")
    if message["type"] == ERROR:
        raise error_from(message)
    if message["type"] != kind:
        raise Internal(f"runtime sync: expected {kind}, got {message['type']}")
    return message, fds


def error_message(err: BaseException) -> dict[str, Any]:
    out: dict[str, Any] = {"message": str(err), "class": type(err).__name__}
    if isinstance(err, InvalidSpec):
        out["field"] = err.field
        out["reason"] = err.reason
    if isinstance(err, OSError):
        out["errno"] = err.errno
    return out


def error_from(message: dict[str, Any]) -> BerthError:
    """Rebuild the child's error in the parent as the right class."""
    text = str(message.get("message", "container init failed"))
    cls = message.get("class")
    if cls == "InvalidSpec":
        return InvalidSpec(str(message.get("field", "")), str(message.get("reason", text)))
    if cls == "ExecNotFound":
        return ExecNotFound(text)
    if cls == "ExecPermission":
        return ExecPermission(text)
    if message.get("errno") in (1, 13):
        return PermissionDenied(text)
    if cls == "InvalidArgument":
        return InvalidArgument(text)
    return Internal(text)


class ExecNotFound(NotFound):
    """The container's program does not exist (exit status 127 at the CLI)."""


class ExecPermission(PermissionDenied):
    """The container's program cannot be run (exit status 126 at the CLI)."""
