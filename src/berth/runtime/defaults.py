"""berth's defaults: the spec ``berth runtime spec`` writes and the seccomp profile.

The seccomp profile is berth's own: it allows by default and refuses, with EPERM, the
calls a container must never make — the kernel keyring, module loading, kexec, reboot,
swap, setting the clock, bpf, perf, handle-based opens, io_uring, and creating mount
or user namespaces — unless the container holds the capability that makes the call
legitimate (CAP_SYS_ADMIN for namespaces and mounts, CAP_SYS_TIME for the clock, …).
clone3 answers ENOSYS because its flags sit in memory a filter cannot read; libc
then falls back to clone, whose flags the filter checks.
"""

from __future__ import annotations

import errno

from berth.oci.spec import (
    Capabilities,
    DeviceRule,
    Linux,
    Namespace,
    Process,
    Resources,
    Rlimit,
    Seccomp,
    SeccompArg,
    SeccompRule,
    Spec,
    SpecMount,
    User,
)

# Docker's default capability set, which users expect a container to have.
DEFAULT_CAPS = (
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW", "CAP_SETGID",
    "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL",
    "CAP_AUDIT_WRITE",
)

DEFAULT_PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

MASKED_PATHS = (
    "/proc/acpi", "/proc/asound", "/proc/interrupts", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
    "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi", "/sys/firmware",
    "/sys/devices/virtual/powercap",
)
READONLY_PATHS = ("/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger")


def default_mounts() -> tuple[SpecMount, ...]:
    return (
        SpecMount("/proc", "proc", "proc", ("nosuid", "noexec", "nodev")),
        SpecMount("/dev", "tmpfs", "tmpfs", ("nosuid", "strictatime", "mode=755", "size=65536k")),
        SpecMount("/dev/pts", "devpts", "devpts",
                  ("nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5")),
        SpecMount("/dev/shm", "tmpfs", "shm", ("nosuid", "noexec", "nodev", "mode=1777", "size=65536k")),
        SpecMount("/dev/mqueue", "mqueue", "mqueue", ("nosuid", "noexec", "nodev")),
        SpecMount("/sys", "sysfs", "sysfs", ("nosuid", "noexec", "nodev", "ro")),
        SpecMount("/sys/fs/cgroup", "cgroup", "cgroup", ("nosuid", "noexec", "nodev", "relatime", "ro")),
    )


def default_namespaces(network: bool = True) -> tuple[Namespace, ...]:
    kinds = ["pid", "ipc", "uts", "mount", "cgroup"] + (["network"] if network else [])
    return tuple(Namespace(k) for k in kinds)


def default_spec(args: tuple[str, ...] = ("sh",), *, terminal: bool = True, rootfs: str = "rootfs",
                 hostname: str = "berth") -> Spec:
    caps = Capabilities(DEFAULT_CAPS, DEFAULT_CAPS, (), DEFAULT_CAPS, ())
    process = Process(
        args=args,
        cwd="/",
        env=(DEFAULT_PATH, "TERM=xterm"),
        user=User(0, 0),
        terminal=terminal,
        capabilities=caps,
        rlimits=(Rlimit("RLIMIT_NOFILE", 1024, 1024),),
        no_new_privileges=True,
    )
    linux = Linux(
        namespaces=default_namespaces(),
        resources=Resources(devices=(DeviceRule(False, "a", None, None, "rwm"),)),
        masked_paths=MASKED_PATHS,
        readonly_paths=READONLY_PATHS,
        seccomp=default_seccomp(set(DEFAULT_CAPS)),
    )
    return Spec(process=process, root_path=rootfs, root_readonly=True, hostname=hostname,
                mounts=default_mounts(), linux=linux)


# Always refused: no capability makes these safe in a container.
_NEVER = (
    "add_key", "request_key", "keyctl",  # the kernel keyring is not namespaced
    "kexec_load", "kexec_file_load", "reboot",
    "open_by_handle_at", "name_to_handle_at",  # handle opens walk around the mount namespace
    "userfaultfd", "io_uring_setup", "io_uring_enter", "io_uring_register",
    "lookup_dcookie", "nfsservctl", "uselib", "create_module", "get_kernel_syms", "query_module",
    "_sysctl", "sysfs", "ustat", "vm86", "vm86old", "kcmp",
)
# Refused unless the container holds the capability.
_BY_CAP: dict[str, tuple[str, ...]] = {
    "CAP_SYS_MODULE": ("init_module", "finit_module", "delete_module"),
    "CAP_SYS_ADMIN": (
        "swapon", "swapoff", "mount", "umount", "umount2", "pivot_root", "setns", "fsopen", "fsconfig",
        "fsmount", "fspick", "open_tree", "move_mount", "mount_setattr", "quotactl", "quotactl_fd",
        "fanotify_init", "bpf", "perf_event_open", "syslog", "acct",
    ),
    "CAP_SYS_TIME": ("settimeofday", "stime", "clock_settime", "clock_settime64", "adjtimex", "clock_adjtime",
                     "clock_adjtime64"),
    "CAP_SYS_PACCT": ("acct",),
    "CAP_SYS_RAWIO": ("iopl", "ioperm"),
    "CAP_SYS_NICE": ("get_mempolicy", "set_mempolicy", "mbind", "move_pages", "set_mempolicy_home_node"),
    "CAP_SYS_PTRACE": ("process_vm_readv", "process_vm_writev", "ptrace"),
    "CAP_SYS_BOOT": (),
}
# Namespace-creating clone/unshare flags.
_NS_FLAGS = (0x10000000, 0x00020000, 0x02000000, 0x04000000, 0x08000000, 0x20000000, 0x40000000, 0x00000080)


def default_seccomp(caps: set[str]) -> Seccomp:
    denied: set[str] = set(_NEVER)
    for cap, calls in _BY_CAP.items():
        if cap not in caps:
            denied.update(calls)
    rules = [SeccompRule(tuple(sorted(denied)), "SCMP_ACT_ERRNO", errno.EPERM)]
    rules.append(SeccompRule(("clone3",), "SCMP_ACT_ERRNO", errno.ENOSYS))
    if "CAP_SYS_ADMIN" not in caps:
        for flag in _NS_FLAGS:
            # unshare(flags) and clone(flags, …) on x86_64/arm64 take the flags first.
            arg = SeccompArg(0, flag, "SCMP_CMP_MASKED_EQ", flag)
            rules.append(SeccompRule(("unshare", "clone"), "SCMP_ACT_ERRNO", errno.EPERM, (arg,)))
    return Seccomp(
        default_action="SCMP_ACT_ALLOW",
        architectures=("SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"),
        syscalls=tuple(rules),
    )
