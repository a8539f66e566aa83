"""Capabilities: the kernel's numbering, capset(2), the bounding and ambient sets."""

from __future__ import annotations

import ctypes
import functools

from berth.sys._libc import SyscallError, call, libc
from berth.sys.prctl import (
    PR_CAP_AMBIENT,
    PR_CAP_AMBIENT_CLEAR_ALL,
    PR_CAP_AMBIENT_RAISE,
    PR_CAPBSET_DROP,
    prctl,
)

# Index = capability number (include/uapi/linux/capability.h).
CAP_NAMES: tuple[str, ...] = (
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL",
    "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT",
    "CAP_SYS_NICE", "CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE",
    "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG",
    "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE",
)
CAP_NUMBERS: dict[str, int] = {name: i for i, name in enumerate(CAP_NAMES)}

_VERSION_3 = 0x20080522


class _Header(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _Data(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]


@functools.cache
def last_cap() -> int:
    """The highest capability this kernel knows (fixed while it runs: read once, so a
    container's process finds it in what it inherited)."""
    try:
        with open("/proc/sys/kernel/cap_last_cap") as f:
            return int(f.read())
    except OSError:
        return len(CAP_NAMES) - 1


def mask(numbers: set[int] | frozenset[int]) -> int:
    out = 0
    for n in numbers:
        out |= 1 << n
    return out


def names(bits: int) -> list[str]:
    return [CAP_NAMES[i] if i < len(CAP_NAMES) else f"CAP_{i}" for i in range(64) if bits >> i & 1]


def drop_bounding(keep: set[int] | frozenset[int]) -> None:
    for cap in range(last_cap() + 1):
        if cap not in keep:
            try:
                prctl(PR_CAPBSET_DROP, cap)
            except SyscallError as err:  # named only on failure: this runs ~27 times per start
                err.op = f"prctl(PR_CAPBSET_DROP, {CAP_NAMES[cap] if cap < len(CAP_NAMES) else cap})"
                raise


def capset(effective: int, permitted: int, inheritable: int) -> None:
    header = _Header(_VERSION_3, 0)
    data = (_Data * 2)()
    for i in range(2):
        shift = 32 * i
        data[i].effective = (effective >> shift) & 0xFFFFFFFF
        data[i].permitted = (permitted >> shift) & 0xFFFFFFFF
        data[i].inheritable = (inheritable >> shift) & 0xFFFFFFFF
    call(lambda: int(libc.capset(ctypes.byref(header), data)), "capset")


def clear_ambient() -> None:
    prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, op="prctl(PR_CAP_AMBIENT_CLEAR_ALL)")


def raise_ambient(numbers: set[int] | frozenset[int]) -> None:
    for cap in sorted(numbers):
        prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, op=f"prctl(PR_CAP_AMBIENT_RAISE, {CAP_NAMES[cap]})")
