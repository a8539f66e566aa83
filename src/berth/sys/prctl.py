"""prctl(2) calls berth needs."""

from __future__ import annotations

import ctypes

from berth.sys._libc import call, libc

PR_SET_PDEATHSIG = 1
PR_SET_KEEPCAPS = 8
PR_SET_NAME = 15
PR_CAPBSET_READ = 23
PR_CAPBSET_DROP = 24
PR_SET_CHILD_SUBREAPER = 36
PR_SET_NO_NEW_PRIVS = 38
PR_CAP_AMBIENT = 47
PR_CAP_AMBIENT_RAISE = 2
PR_CAP_AMBIENT_CLEAR_ALL = 4


# Its own function object, typed for integer arguments: ctypes converts them without a
# c_ulong object per argument (a container's start drops ~27 capabilities one by one).
_prctl = libc["prctl"]
_prctl.argtypes = (ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong)
_prctl.restype = ctypes.c_int


def prctl(option: int, arg2: int = 0, arg3: int = 0, arg4: int = 0, arg5: int = 0, op: str = "prctl") -> int:
    return call(lambda: int(_prctl(option, arg2, arg3, arg4, arg5)), op)


def set_no_new_privs() -> None:
    prctl(PR_SET_NO_NEW_PRIVS, 1, op="prctl(PR_SET_NO_NEW_PRIVS)")


def set_child_subreaper(on: bool = True) -> None:
    prctl(PR_SET_CHILD_SUBREAPER, int(on), op="prctl(PR_SET_CHILD_SUBREAPER)")


def set_pdeathsig(sig: int) -> None:
    prctl(PR_SET_PDEATHSIG, sig, op="prctl(PR_SET_PDEATHSIG)")


def set_keepcaps(on: bool) -> None:
    prctl(PR_SET_KEEPCAPS, int(on), op="prctl(PR_SET_KEEPCAPS)")


def set_name(name: str) -> None:
    buf = ctypes.create_string_buffer(name.encode()[:15])
    call(lambda: int(libc.prctl(PR_SET_NAME, buf, 0, 0, 0)), "prctl(PR_SET_NAME)")
