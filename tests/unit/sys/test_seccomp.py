from __future__ import annotations

import os

from berth.runtime import seccomp
from berth.runtime.defaults import DEFAULT_CAPS, default_seccomp


def test_default_profile_compiles_and_is_cached(tmp_path: os.PathLike[str]) -> None:
    profile = default_seccomp(set(DEFAULT_CAPS))
    first = seccomp.program(profile, str(tmp_path))
    assert len(first) % 8 == 0 and len(first) > 8 * 20
    cached = os.listdir(tmp_path)
    assert len(cached) == 1 and cached[0].endswith(".bpf")
    assert seccomp.program(profile, str(tmp_path)) == first


def test_capabilities_relax_the_default_profile() -> None:
    plain = {n for r in default_seccomp(set(DEFAULT_CAPS)).syscalls for n in r.names}
    admin = {n for r in default_seccomp(set(DEFAULT_CAPS) | {"CAP_SYS_ADMIN"}).syscalls for n in r.names}
    for name in ("keyctl", "kexec_load", "reboot", "open_by_handle_at", "bpf", "perf_event_open", "swapon",
                 "settimeofday", "init_module", "unshare", "clone3"):
        assert name in plain, name
    assert "mount" in plain and "mount" not in admin
    assert "keyctl" in admin  # never allowed
