"""Installing a compiled seccomp filter with seccomp(2).

Kept apart from seccomp.py (which compiles filters through libseccomp) so that a
container's start path, which only loads a cached program, does not import the
compiler's data types and helpers.
"""

from __future__ import annotations

import ctypes

from berth.errors import InvalidArgument
from berth.sys._libc import call, libc, syscall_number

SECCOMP_SET_MODE_FILTER = 1
FILTER_FLAGS = {
    "SECCOMP_FILTER_FLAG_TSYNC": 1,
    "SECCOMP_FILTER_FLAG_LOG": 2,
    "SECCOMP_FILTER_FLAG_SPEC_ALLOW": 4,
}


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def load_bpf(program: bytes, flags: tuple[str, ...] = ()) -> None:
    """Install ``program`` on the calling thread (needs no_new_privs or CAP_SYS_ADMIN)."""
    if len(program) % 8 or not program:
        raise InvalidArgument("seccomp program: not a whole number of BPF instructions")
    bits = 0
    for name in flags:
        if name not in FILTER_FLAGS:
            raise InvalidArgument(f"seccomp flag {name!r}: unknown")
        bits |= FILTER_FLAGS[name]
    buf = ctypes.create_string_buffer(program, len(program))
    prog = _SockFprog(len(program) // 8, ctypes.cast(buf, ctypes.c_void_p))
    number = syscall_number("seccomp")
    call(lambda: int(libc.syscall(number, SECCOMP_SET_MODE_FILTER, bits, ctypes.byref(prog))), "seccomp")
    del buf
