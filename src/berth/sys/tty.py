"""Pseudo-terminals opened from a given devpts instance, and terminal ioctls."""

from __future__ import annotations

import fcntl
import os
import struct
import termios

TIOCSPTLCK = 0x40045431
TIOCGPTN = 0x80045430


def open_pty(ptmx: str = "/dev/ptmx") -> tuple[int, str]:
    """Open a master on ``ptmx`` and unlock it; return (master fd, slave path).

    os.openpty() always uses the caller's /dev/ptmx; a container needs the master
    from its own devpts instance, opened after pivot_root.
    """
    master = os.open(ptmx, os.O_RDWR | os.O_NOCTTY | os.O_CLOEXEC)
    fcntl.ioctl(master, TIOCSPTLCK, struct.pack("i", 0))
    number = struct.unpack("I", fcntl.ioctl(master, TIOCGPTN, b"\0\0\0\0"))[0]
    return master, f"{os.path.dirname(ptmx)}/pts/{number}"


def set_controlling(fd: int) -> None:
    fcntl.ioctl(fd, termios.TIOCSCTTY, 0)


def set_size(fd: int, rows: int, cols: int) -> None:
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))


def get_size(fd: int) -> tuple[int, int]:
    rows, cols, _, _ = struct.unpack("HHHH", fcntl.ioctl(fd, termios.TIOCGWINSZ, b"\0" * 8))
    return rows, cols
