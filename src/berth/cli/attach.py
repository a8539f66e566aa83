"""Relaying a container's streams to this terminal: ``run`` (attached), ``attach``.

Without a tty the shim sends Docker's multiplexed frames (8-byte header: stream id and
length); with one, raw bytes, and this side puts its own terminal in raw mode, sends
the window size on start and on every SIGWINCH, and restores the terminal at the end.
"""

from __future__ import annotations

import contextlib
import os
import selectors
import signal
import socket
import struct
import termios
import tty as _tty
from collections.abc import Callable

HEADER = 8


class _Demux:
    def __init__(self) -> None:
        self.buf = b""

    def feed(self, data: bytes) -> None:
        self.buf += data
        while len(self.buf) >= HEADER:
            stream, size = struct.unpack(">BxxxI", self.buf[:HEADER])
            if len(self.buf) < HEADER + size:
                return
            payload = self.buf[HEADER : HEADER + size]
            self.buf = self.buf[HEADER + size :]
            _write_all(2 if stream == 2 else 1, payload)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        try:
            n = os.write(fd, view)
        except BlockingIOError:
            selectors.DefaultSelector().register(fd, selectors.EVENT_WRITE)
            continue
        view = view[n:]


def relay(sock: socket.socket, *, is_tty: bool, stdin: bool, on_resize: Callable[[int, int], None] | None = None,
          on_signal: Callable[[int], None] | None = None) -> None:
    """Copy the socket to stdout/stderr and (if ``stdin``) our stdin to the socket,
    until the container side closes. A stdin EOF half-closes the socket."""
    sel = selectors.DefaultSelector()
    sel.register(sock, selectors.EVENT_READ, "sock")
    saved = None
    stdin_tty = os.isatty(0)
    if stdin:
        with contextlib.suppress(ValueError, OSError):
            sel.register(0, selectors.EVENT_READ, "stdin")
    previous: dict[int, object] = {}
    if is_tty and stdin_tty:
        saved = termios.tcgetattr(0)
        _tty.setraw(0)
    if is_tty and on_resize is not None and os.isatty(1):

        def winch(_sig: int, _frame: object) -> None:
            with contextlib.suppress(OSError):
                cols, rows = os.get_terminal_size(1)
                on_resize(rows, cols)

        previous[int(signal.SIGWINCH)] = signal.signal(signal.SIGWINCH, winch)
        winch(0, None)
    if on_signal is not None and not is_tty:
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2):
            previous[int(sig)] = signal.signal(sig, lambda s, _f: on_signal(s))
    demux = None if is_tty else _Demux()
    try:
        while True:
            try:
                events = sel.select()
            except InterruptedError:
                continue
            for key, _ in events:
                if key.data == "sock":
                    try:
                        data = sock.recv(65536)
                    except ConnectionResetError:
                        data = b""
                    if not data:
                        return
                    if demux is None:
                        _write_all(1, data)
                    else:
                        demux.feed(data)
                else:
                    data = os.read(0, 65536)
                    if data:
                        with contextlib.suppress(OSError):
                            sock.sendall(data)
                    else:
                        sel.unregister(0)
                        with contextlib.suppress(OSError):
                            sock.shutdown(socket.SHUT_WR)
    finally:
        sel.close()
        if saved is not None:
            termios.tcsetattr(0, termios.TCSADRAIN, saved)
        for number, handler in previous.items():
            signal.signal(number, handler)  # type: ignore[arg-type]
