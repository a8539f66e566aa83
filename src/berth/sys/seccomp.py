"""seccomp filters: compiled to BPF by libseccomp, loaded with seccomp(2).

Compiling (through pyseccomp) costs tens of milliseconds, most of it loading the
library, so callers cache the BPF program by a key of the filter's description and
only :func:`load_bpf` (from bpf.py) runs on a container's start path.
"""

from __future__ import annotations

import errno as errno_mod
import logging
import tempfile
from dataclasses import dataclass

from berth.errors import InvalidArgument
from berth.sys.bpf import FILTER_FLAGS, SECCOMP_SET_MODE_FILTER, load_bpf

__all__ = ["ArgCmp", "Rule", "Filter", "compile_bpf", "load_bpf", "FILTER_FLAGS", "SECCOMP_SET_MODE_FILTER"]

log = logging.getLogger(__name__)



@dataclass(frozen=True, slots=True)
class ArgCmp:
    """A comparison of one syscall argument, as libseccomp takes it."""

    index: int
    op: str  # SCMP_CMP_EQ …
    value: int
    value_two: int = 0


@dataclass(frozen=True, slots=True)
class Rule:
    """An action for some syscalls, optionally only for some argument values."""

    names: tuple[str, ...]
    action: str  # SCMP_ACT_ALLOW …
    errno_ret: int | None = None
    args: tuple[ArgCmp, ...] = ()


@dataclass(frozen=True, slots=True)
class Filter:
    """A whole seccomp filter, as compile_bpf takes it."""

    default_action: str
    default_errno: int | None = None
    architectures: tuple[str, ...] = ()
    rules: tuple[Rule, ...] = ()


def _action(sc: object, name: str, errno_ret: int | None) -> int:
    eperm = errno_mod.EPERM
    table = {
        "SCMP_ACT_KILL": lambda: sc.KILL_THREAD,  # type: ignore[attr-defined]
        "SCMP_ACT_KILL_THREAD": lambda: sc.KILL_THREAD,  # type: ignore[attr-defined]
        "SCMP_ACT_KILL_PROCESS": lambda: sc.KILL_PROCESS,  # type: ignore[attr-defined]
        "SCMP_ACT_TRAP": lambda: sc.TRAP,  # type: ignore[attr-defined]
        "SCMP_ACT_ERRNO": lambda: sc.ERRNO(eperm if errno_ret is None else errno_ret),  # type: ignore[attr-defined]
        "SCMP_ACT_TRACE": lambda: sc.TRACE(eperm if errno_ret is None else errno_ret),  # type: ignore[attr-defined]
        "SCMP_ACT_ALLOW": lambda: sc.ALLOW,  # type: ignore[attr-defined]
        "SCMP_ACT_LOG": lambda: sc.LOG,  # type: ignore[attr-defined]
        "SCMP_ACT_NOTIFY": lambda: sc.NOTIFY,  # type: ignore[attr-defined]
    }
    if name not in table:
        raise InvalidArgument(f"seccomp action {name!r}: unknown")
    value: int = table[name]()
    return value


_OPS = {"SCMP_CMP_NE": 1, "SCMP_CMP_LT": 2, "SCMP_CMP_LE": 3, "SCMP_CMP_EQ": 4, "SCMP_CMP_GE": 5,
        "SCMP_CMP_GT": 6, "SCMP_CMP_MASKED_EQ": 7}
_ARCHES = {
    "SCMP_ARCH_X86": "X86", "SCMP_ARCH_X86_64": "X86_64", "SCMP_ARCH_X32": "X32", "SCMP_ARCH_ARM": "ARM",
    "SCMP_ARCH_AARCH64": "AARCH64", "SCMP_ARCH_PPC64LE": "PPC64LE", "SCMP_ARCH_S390X": "S390X",
    "SCMP_ARCH_RISCV64": "RISCV64", "SCMP_ARCH_MIPS": "MIPS", "SCMP_ARCH_MIPS64": "MIPS64",
    "SCMP_ARCH_MIPSEL": "MIPSEL", "SCMP_ARCH_MIPSEL64": "MIPSEL64", "SCMP_ARCH_PPC": "PPC",
    "SCMP_ARCH_PPC64": "PPC64", "SCMP_ARCH_S390": "S390",
}


def compile_bpf(flt: Filter) -> bytes:
    """The BPF program for ``flt``. Syscall names this libseccomp does not know are
    skipped, as runc and crun do, so one profile serves several kernels."""
    import pyseccomp as sc

    ctx = sc.SyscallFilter(_action(sc, flt.default_action, flt.default_errno))
    native = sc.system_arch()
    for arch_name in flt.architectures:
        attr = _ARCHES.get(arch_name)
        if attr is None:
            raise InvalidArgument(f"seccomp architecture {arch_name!r}: unknown")
        arch = getattr(sc.Arch, attr)
        if arch != native and not ctx.exist_arch(arch):
            try:
                ctx.add_arch(arch)
            except OSError as err:
                log.debug("seccomp: cannot add architecture %s: %s", arch_name, err)
    for rule in flt.rules:
        action = _action(sc, rule.action, rule.errno_ret)
        if action == _action(sc, flt.default_action, flt.default_errno):
            continue  # libseccomp refuses rules that repeat the default action
        args = [sc.Arg(a.index, _OPS[a.op], a.value, a.value_two) for a in rule.args]
        for name in rule.names:
            number = sc.resolve_syscall(sc.Arch.NATIVE, name)
            if number < 0:
                log.debug("seccomp: syscall %s unknown here, skipped", name)
                continue
            try:
                ctx.add_rule(action, name, *args)
            except OSError as err:
                raise InvalidArgument(f"seccomp rule for {name}: {err.strerror}") from err
    with tempfile.TemporaryFile() as out:
        ctx.export_bpf(out)
        out.seek(0)
        return out.read()
