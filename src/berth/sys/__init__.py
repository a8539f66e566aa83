"""The only code in berth that calls the kernel below ``os``.

Thin ctypes wrappers (mount, pivot_root, unshare, setns, prctl, capset, seccomp) that
retry EINTR and raise :class:`SyscallError` naming the operation and path, plus the
cgroup drivers. Everything above this package can be read without a syscall number.
"""
