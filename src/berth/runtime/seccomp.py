"""The spec's seccomp section → a BPF program, cached by the section's digest.

Compiling goes through libseccomp and costs tens of milliseconds; loading a cached
program costs microseconds, so every container after the first with a given profile
starts without touching libseccomp at all.
"""

from __future__ import annotations

import hashlib
import os
import platform

from berth.oci.spec import Seccomp
from berth.sys import seccomp as sc
from berth.sys.fs import write_atomic

# Bump when the compiler's output for the same profile would change.
_CACHE_VERSION = "1"


def to_filter(profile: Seccomp) -> sc.Filter:
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
        return sc.compile_bpf(to_filter(profile))
    key = hashlib.sha256(
        _CACHE_VERSION.encode() + platform.machine().encode() + profile.canonical_bytes()
    ).hexdigest()
    path = os.path.join(cache_dir, key + ".bpf")
    try:
        with open(path, "rb") as f:
            return f.read()
    except FileNotFoundError:
        pass
    bpf = sc.compile_bpf(to_filter(profile))
    os.makedirs(cache_dir, mode=0o700, exist_ok=True)
    write_atomic(path, bpf, mode=0o600, durable=False)
    return bpf
