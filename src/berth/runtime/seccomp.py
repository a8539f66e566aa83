"""The spec's seccomp section → a BPF program, cached by the section's digest.

Compiling goes through libseccomp and costs tens of milliseconds; loading a cached
program costs microseconds, so every container after the first with a given profile
starts without touching libseccomp at all.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from berth.oci.spec import Seccomp
from berth.sys.fs import write_atomic

if TYPE_CHECKING:
    from berth.sys import seccomp as sc

# Bump when the compiler's output for the same profile would change.
_CACHE_VERSION = "1"


def _find_sha256() -> Callable[[bytes], Any]:
    """SHA-256 from hashlib's built-in module (``_sha2`` since Python 3.12, ``_sha256``
    before): hashlib itself loads OpenSSL, ~3 ms of a cold start. Looked up once, at
    import (a fork server's workers then find it loaded)."""
    for name in ("_sha2", "_sha256"):
        try:
            return importlib.import_module(name).sha256  # type: ignore[no-any-return]
        except ImportError:
            continue
    import hashlib

    return hashlib.sha256


_sha256 = _find_sha256()


def _sha256_hex(data: bytes) -> str:
    return str(_sha256(data).hexdigest())


def to_filter(profile: Seccomp) -> sc.Filter:
    from berth.sys import seccomp as sc  # the compiler: only on a cache miss

    return sc.Filter(
        default_action=profile.default_action,
        default_errno=profile.default_errno_ret,
        architectures=profile.architectures,
        rules=tuple(
            sc.Rule(r.names, r.action, r.errno_ret,
                    tuple(sc.ArgCmp(a.index, a.op, a.value, a.value_two) for a in r.args))
            for r in profile.syscalls
        ),
    )


def program(profile: Seccomp, cache_dir: str | None) -> bytes:
    """The BPF program for ``profile``, compiled once per cache folder."""
    if cache_dir is None:
        return _compile(profile)
    key = _sha256_hex(_CACHE_VERSION.encode() + os.uname().machine.encode() + profile.canonical_bytes())
    path = os.path.join(cache_dir, key + ".bpf")
    try:
        with open(path, "rb") as f:
            return f.read()
    except FileNotFoundError:
        pass
    bpf = _compile(profile)
    os.makedirs(cache_dir, mode=0o700, exist_ok=True)
    write_atomic(path, bpf, mode=0o600, durable=False)
    return bpf


def _compile(profile: Seccomp) -> bytes:
    from berth.sys import seccomp as sc  # the compiler and its types: only on a cache miss

    return sc.compile_bpf(to_filter(profile))
