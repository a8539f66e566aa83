"""nftables: run a script of nft commands as one atomic batch.

Through libnftables (the library behind the ``nft`` command, Debian's ``libnftables1``)
loaded with ctypes: a batch costs well under a millisecond, where a ``nft -f -``
subprocess costs 2-20 ms. When the library cannot be loaded the ``nft`` command is used
with the same input. Either way a batch applies entirely or not at all, and a failure
raises :class:`NftError` with nft's own message.
"""

from __future__ import annotations

import ctypes
import errno
import threading

from berth.sys._libc import SyscallError

_OUTPUT_JSON = 1 << 4


class NftError(SyscallError):
    """A batch nft refused; ``detail`` is nft's message (which names the command)."""

    def __init__(self, message: str, err: int = errno.EINVAL) -> None:
        super().__init__(err, "nft", None, message.strip())


class _Lib:
    def __init__(self) -> None:
        lib = ctypes.CDLL("libnftables.so.1", use_errno=True)
        lib.nft_ctx_new.restype = ctypes.c_void_p
        lib.nft_ctx_new.argtypes = [ctypes.c_uint32]
        lib.nft_ctx_free.argtypes = [ctypes.c_void_p]
        lib.nft_run_cmd_from_buffer.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
        lib.nft_run_cmd_from_buffer.restype = ctypes.c_int
        for name in ("nft_ctx_buffer_output", "nft_ctx_buffer_error"):
            getattr(lib, name).argtypes = [ctypes.c_void_p]
        for name in ("nft_ctx_get_output_buffer", "nft_ctx_get_error_buffer"):
            getattr(lib, name).argtypes = [ctypes.c_void_p]
            getattr(lib, name).restype = ctypes.c_char_p
        lib.nft_ctx_output_set_flags.argtypes = [ctypes.c_void_p, ctypes.c_uint]
        self.lib = lib
        self.lock = threading.Lock()
        # One context per process and output mode: freeing one closes its netlink socket,
        # which now and then waits ~20 ms for an RCU grace period.
        self.contexts: dict[bool, int] = {}

    def _context(self, json_output: bool) -> int:
        ctx = self.contexts.get(json_output)
        if ctx is None:
            ctx = self.lib.nft_ctx_new(0)
            if not ctx:
                raise NftError("nft_ctx_new failed", errno.ENOMEM)
            self.lib.nft_ctx_buffer_output(ctx)
            self.lib.nft_ctx_buffer_error(ctx)
            if json_output:
                self.lib.nft_ctx_output_set_flags(ctx, _OUTPUT_JSON)
            self.contexts[json_output] = ctx
        return int(ctx)

    def run(self, script: str, json_output: bool) -> str:
        lib = self.lib
        with self.lock:
            ctx = self._context(json_output)
            rc = lib.nft_run_cmd_from_buffer(ctx, script.encode())
            # Reading a buffer hands it over and starts a new one for the next command.
            out = (lib.nft_ctx_get_output_buffer(ctx) or b"").decode(errors="replace")
            err = (lib.nft_ctx_get_error_buffer(ctx) or b"").decode(errors="replace")
        if rc != 0:
            raise NftError(err or f"nft failed: {script[:200]}")
        return out


_lib: _Lib | None = None
_lib_failed = False


def _library() -> _Lib | None:
    global _lib, _lib_failed
    if _lib is None and not _lib_failed:
        try:
            _lib = _Lib()
        except OSError:
            _lib_failed = True
    return _lib


def run(script: str, *, json_output: bool = False) -> str:
    """Apply ``script`` (nft syntax, one command a line) atomically; return nft's output."""
    lib = _library()
    if lib is not None:
        return lib.run(script, json_output)
    import shutil  # the fallback only: both cost milliseconds on the container start path
    import subprocess

    nft = shutil.which("nft")
    if nft is None:
        raise NftError("neither libnftables.so.1 nor the nft command is installed (Debian: nftables)",
                       errno.ENOENT)
    cmd = [nft, *(["-j"] if json_output else []), "-f", "-"]
    done = subprocess.run(cmd, input=script, capture_output=True, text=True)
    if done.returncode != 0:
        raise NftError(done.stderr or f"nft exited {done.returncode}")
    return done.stdout
