"""What runs in the forked children that become a container (see sync.py's diagram).

Stage 1 joins the cgroup and the namespaces named by path, creates the user
namespace (waiting for the parent to write its id maps) and unshares the rest, then
forks stage 2, which is PID 1 of the new pid namespace: it builds the root file
system, pivots, sets up the process (terminal, limits, user, capabilities) and, once
released through the start gate, loads seccomp and execs the container's program.

Without a user namespace there is a shorter way (:func:`direct`, as crun does it):
the runtime forks the container's PID 1 straight into its pid namespace, and moves it
into its cgroup while the child already unshares and mounts. Moving a process between
cgroup v1 groups waits for an RCU grace period (~10 ms) unless another move happened
moments before, so overlapping it with the mounts hides most of that wait; the child
enters its cgroup namespace only once the runtime says it is in its cgroup.

These functions never return: they exec or ``os._exit``. A failure is sent to the
parent as an ERROR message; after the parent has gone it is written to stderr.
"""

from __future__ import annotations

import errno
import os
import resource
import signal
import socket
import stat
import sys
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import NoReturn

from berth.runtime import rootfs, sync, users
from berth.runtime.plan import InitPlan, ProcessPlan
from berth.runtime.sync import ExecNotFound, ExecPermission
from berth.sys import bpf as sc
from berth.sys import caps, ns, prctl, tty, uts
from berth.sys._libc import libc, syscall_number
from berth.sys.cgroups import open_cgroup

# Everything this module runs is imported up front: after pivot_root, berth's own files
# are out of reach, so an import in the container's process would fail.

CLOSE_RANGE_CLOEXEC = 4


@dataclass(frozen=True, slots=True)
class Stdio:
    """fds (in the parent) to put on 0, 1 and 2; None keeps the inherited one."""

    stdin: int | None = None
    stdout: int | None = None
    stderr: int | None = None


@dataclass(frozen=True, slots=True)
class ProcessSecurity:
    """What the runtime, not the spec, decides about the process's security and init."""

    seccomp: bytes | None = None
    seccomp_flags: tuple[str, ...] = ()
    use_init: bool = False  # keep a reaping, signal-forwarding PID 1 above the program
    preserve_fds: int = 0  # fds 3 .. 3+N-1 stay open into the container (runc --preserve-fds)
    parent_death_signal: int = 0
    user_name: str | None = None  # "name[:group]" resolved in the container's /etc/passwd


def _report(sock: socket.socket | None, err: BaseException) -> None:
    message = sync.error_message(err)
    try:
        if sock is None:
            raise OSError(errno.EPIPE, "no parent")
        sync.send(sock, sync.ERROR, **message)
    except OSError:
        try:
            os.write(2, f"berth: container init: {message['message']}\n".encode())
        except OSError:
            pass


def _guard(sock: socket.socket | None, body: Callable[[], NoReturn]) -> NoReturn:
    try:
        body()
    except BaseException as err:  # noqa: B036 - a child must never unwind into the parent's code
        _report(sock, err)
        status = 127 if isinstance(err, ExecNotFound) else 126 if isinstance(err, ExecPermission) else 1
        os._exit(status)


def _set_stdio(stdio: Stdio) -> None:
    for target, fd in ((0, stdio.stdin), (1, stdio.stdout), (2, stdio.stderr)):
        if fd is not None and fd != target:
            os.dup2(fd, target, inheritable=True)


def stage1(plan: InitPlan, sock: socket.socket, gate: int, stdio: Stdio, security: ProcessSecurity) -> NoReturn:
    def body() -> NoReturn:
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        _set_stdio(stdio)
        if plan.cgroup_path:
            open_cgroup(plan.cgroup_path).add_process(os.getpid())
        for kind, path in plan.join_namespaces:
            ns.join(path, ns.BITS[kind])
        flags = plan.new_namespaces
        if flags & ns.CLONE_NEWUSER:
            ns.unshare(ns.CLONE_NEWUSER)
            sync.send(sock, sync.USERNS)
            sync.expect(sock, sync.MAPPED, "its user namespace was mapped")
            os.setresgid(0, 0, 0)
            os.setresuid(0, 0, 0)
            flags &= ~ns.CLONE_NEWUSER
        if flags:
            ns.unshare(flags)
        pid = os.fork()
        if pid == 0:
            stage2(plan, sock, gate, security)
        sync.send(sock, sync.PID, pid=pid)
        os._exit(0)

    _guard(sock, body)


def stage2(plan: InitPlan, sock: socket.socket, gate: int, security: ProcessSecurity) -> NoReturn:
    _guard(sock, lambda: _become_container(plan, sock, gate, security, None))


# Namespaces the runtime, not the direct child, takes care of: it forks the child into
# its pid namespace, and the cgroup namespace waits until the child is in its cgroup.
_DIRECT_LATER = ns.CLONE_NEWPID | ns.CLONE_NEWCGROUP


def direct(plan: InitPlan, sock: socket.socket, gate: int, stdio: Stdio, security: ProcessSecurity,
           runtime_end: socket.socket) -> NoReturn:
    """The container's PID 1, forked by the runtime into its pid namespace (no user
    namespace: see the module's comment). ``runtime_end`` is the runtime's side of the
    sync socket, closed here."""

    def body() -> NoReturn:
        runtime_end.close()
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        _set_stdio(stdio)
        for kind, path in plan.join_namespaces:
            if not ns.BITS[kind] & _DIRECT_LATER:
                ns.join(path, ns.BITS[kind])
        flags = plan.new_namespaces & ~_DIRECT_LATER
        if flags:
            ns.unshare(flags)
        _become_container(plan, sock, gate, security, lambda: _enter_cgroup(plan, sock))

    _guard(sock, body)


def _enter_cgroup(plan: InitPlan, sock: socket.socket) -> None:
    """Wait until the runtime has moved us into the container's cgroup, then enter (or
    create) the cgroup namespace, whose root is the cgroup we are in at that moment."""
    sync.expect(sock, sync.JOINED, "it was moved into its cgroup")
    for kind, path in plan.join_namespaces:
        if kind == "cgroup":
            ns.join(path, ns.CLONE_NEWCGROUP)
    if plan.new_namespaces & ns.CLONE_NEWCGROUP:
        ns.unshare(ns.CLONE_NEWCGROUP)


def _become_container(plan: InitPlan, sock: socket.socket, gate: int, security: ProcessSecurity,
                      enter_cgroup: Callable[[], None] | None) -> NoReturn:
    """PID 1's set-up: root file system, hooks, pivot, terminal, process; then the gate."""
    os.setsid()
    proc = plan.process
    if proc.oom_score_adj is not None:
        with open("/proc/self/oom_score_adj", "w") as f:
            f.write(str(proc.oom_score_adj))
    rootfs.prepare(plan, enter_cgroup)
    if "prestart" in plan.hooks or "createRuntime" in plan.hooks:
        sync.send(sock, sync.HOOKS)
        sync.expect(sock, sync.HOOKS_DONE, "its hooks ran")
    rootfs.pivot(plan.rootfs)
    rootfs.finish(plan)
    if plan.hostname:
        uts.sethostname(plan.hostname)
    if plan.domainname:
        uts.setdomainname(plan.domainname)
    for key, value in plan.sysctl:
        with open("/proc/sys/" + key.replace(".", "/"), "w") as f:
            f.write(value)
    if proc.terminal:
        master, slave_path = tty.open_pty("/dev/ptmx")
        rootfs.bind_console(slave_path)
        _attach_terminal(slave_path, proc)
        sync.send(sock, sync.PTY, fds=[master])
        os.close(master)
    proc = _named_user(proc, security)
    program = resolve_program(proc)
    # As runc does, drop privileges before waiting: a failure is a create-time error,
    # and `start` then costs little more than the execve.
    early = _privileges_before_gate(proc, security)
    if early:
        drop_privileges(proc, security)
    sync.send(sock, sync.CREATED)
    _wait_gate(gate)
    if not early:
        drop_privileges(proc, security)
    exec_program(proc, security, program, 3 + security.preserve_fds)


def _named_user(proc: ProcessPlan, security: ProcessSecurity) -> ProcessPlan:
    """Resolve ``--user name[:group]`` against the container's own files; set HOME."""
    if not security.user_name:
        return proc
    found = users.lookup(security.user_name, users.read_or_empty("/etc/passwd"), users.read_or_empty("/etc/group"))
    env = proc.env
    if not any(e.startswith("HOME=") for e in env):
        env = env + (f"HOME={found.home}",)
    groups = tuple(sorted(set(proc.groups) | set(found.groups)))
    return replace(proc, uid=found.uid, gid=found.gid, groups=groups, env=env)


def _attach_terminal(slave_path: str, proc: ProcessPlan) -> None:
    slave = os.open(slave_path, os.O_RDWR)
    if proc.console_size and proc.console_size[0] and proc.console_size[1]:
        tty.set_size(slave, proc.console_size[0], proc.console_size[1])
    tty.set_controlling(slave)
    for target in (0, 1, 2):
        os.dup2(slave, target, inheritable=True)
    if slave > 2:
        os.close(slave)


def _wait_gate(gate: int) -> None:
    """Block until the runtime's ``start`` writes to the gate (fifo or sync socket)."""
    while True:
        try:
            data = os.read(gate, 64)
        except InterruptedError:
            continue
        if not data:
            raise OSError(errno.EPIPE, "the runtime went away before start")
        return


def resolve_program(proc: ProcessPlan) -> str:
    """The absolute path of args[0], searched in the process's own PATH, as execvpe would."""
    name = proc.args[0]
    if "/" in name:
        candidates = [name if name.startswith("/") else os.path.join(proc.cwd, name)]
    else:
        path = proc.env_map().get("PATH", "/usr/local/bin:/usr/bin:/bin")
        candidates = [os.path.join(d or ".", name) for d in path.split(":")]
    denied = False
    for candidate in candidates:
        try:
            st = os.stat(candidate)
        except (FileNotFoundError, NotADirectoryError):
            continue
        if stat.S_ISREG(st.st_mode) and st.st_mode & 0o111:
            return candidate
        denied = True
    if denied:
        raise ExecPermission(f"exec {name}: permission denied")
    raise ExecNotFound(f"exec {name}: executable file not found in $PATH" if "/" not in name
                       else f"exec {name}: no such file or directory")


def _set_rlimits(proc: ProcessPlan) -> None:
    for number, soft, hard in proc.rlimits:
        resource.setrlimit(number, (soft, hard))


def _switch_user(proc: ProcessPlan) -> None:
    os.setgroups(list(proc.groups))
    os.setresgid(proc.gid, proc.gid, proc.gid)
    if proc.uid != 0:
        prctl.set_keepcaps(True)
    os.setresuid(proc.uid, proc.uid, proc.uid)
    if proc.uid != 0:
        prctl.set_keepcaps(False)


def finalize(proc: ProcessPlan, security: ProcessSecurity, program: str, first_closed_fd: int = 3) -> NoReturn:
    """The last steps before execve, shared by a container's first process and exec."""
    drop_privileges(proc, security)
    exec_program(proc, security, program, first_closed_fd)


def _privileges_before_gate(proc: ProcessPlan, security: ProcessSecurity) -> bool:
    """Whether the process may drop its privileges before the start gate: not when a
    seccomp filter must be loaded first (without no_new_privs that needs
    CAP_SYS_ADMIN), because the filter would then also judge the wait at the gate."""
    return not (security.seccomp and not proc.no_new_privileges)


def drop_privileges(proc: ProcessPlan, security: ProcessSecurity) -> None:
    """Limits, capabilities, user and working folder: everything before the exec but a
    no_new_privs seccomp filter, which :func:`exec_program` loads as late as it can."""
    _set_rlimits(proc)
    if proc.caps is not None:
        caps.drop_bounding(proc.caps.bounding)
    if security.seccomp and not proc.no_new_privileges:
        sc.load_bpf(security.seccomp, security.seccomp_flags)  # needs CAP_SYS_ADMIN, so before the drop
    _switch_user(proc)
    if proc.caps is not None:
        c = proc.caps
        caps.capset(caps.mask(c.effective), caps.mask(c.permitted), caps.mask(c.inheritable))
        caps.clear_ambient()
        caps.raise_ambient(c.ambient)
    try:
        os.chdir(proc.cwd)
    except OSError as err:
        raise OSError(err.errno, f"chdir to cwd {proc.cwd!r}: {err.strerror}") from err
    if proc.umask is not None:
        os.umask(proc.umask)
    if proc.no_new_privileges:
        prctl.set_no_new_privs()


def exec_program(proc: ProcessPlan, security: ProcessSecurity, program: str, first_closed_fd: int = 3) -> NoReturn:
    """Load a no_new_privs seccomp filter, reset signals, and exec (under berth's init
    when asked)."""
    if proc.no_new_privileges and security.seccomp:
        sc.load_bpf(security.seccomp, security.seccomp_flags)
    _reset_signals()
    if security.parent_death_signal:
        # Set last: a change of credentials clears it, and the stage-1 parent is gone.
        prctl.set_pdeathsig(security.parent_death_signal)
    # Every fd but stdio (and the ones asked to be preserved) closes on exec.
    libc.syscall(syscall_number("close_range"), first_closed_fd, 0xFFFFFFFF, CLOSE_RANGE_CLOEXEC)
    if security.use_init:
        _run_under_init(program, proc)
    _exec(program, proc)


def _exec(program: str, proc: ProcessPlan) -> NoReturn:
    try:
        os.execve(program, list(proc.args), proc.env_map())
    except PermissionError as err:
        raise ExecPermission(f"exec {proc.args[0]}: permission denied") from err
    except FileNotFoundError as err:
        raise ExecNotFound(f"exec {proc.args[0]}: no such file or directory") from err


# Every signal but KILL and STOP, as ints (signal.valid_signals() converts each to the
# Signals enum, raising and catching ValueError for each real-time one).
_RESETTABLE = tuple(int(s) for s in signal.valid_signals() if s not in (signal.SIGKILL, signal.SIGSTOP))


def _reset_signals() -> None:
    # Python ignores SIGPIPE and SIGXFSZ, the fork server SIGHUP, and ignored signals
    # survive execve. Python's table knows every disposition it set or found at start-up
    # (None: set outside Python), so only those that are not already default cost a call.
    for sig in _RESETTABLE:
        try:
            if signal.getsignal(sig) is not signal.SIG_DFL:
                signal.signal(sig, signal.SIG_DFL)
        except (OSError, ValueError):
            continue
    signal.pthread_sigmask(signal.SIG_SETMASK, ())


def _run_under_init(program: str, proc: ProcessPlan) -> NoReturn:
    """Stay as PID 1: fork the program, forward signals to it, reap every zombie, and
    exit with the program's status (128+N when signal N killed it)."""
    forwarded = [s for s in signal.valid_signals() if s not in (signal.SIGKILL, signal.SIGSTOP)]
    signal.pthread_sigmask(signal.SIG_BLOCK, forwarded)
    child = os.fork()
    if child == 0:
        os.setpgid(0, 0)
        if proc.terminal:
            try:  # SIGTTOU is still blocked here, so a background group may take the tty
                os.tcsetpgrp(0, os.getpgrp())
            except OSError:
                pass
        signal.pthread_sigmask(signal.SIG_SETMASK, [])
        _guard(None, lambda: _exec(program, proc))
    prctl.set_name("berth-init")
    while True:
        info = signal.sigwaitinfo(forwarded)
        if info.si_signo != signal.SIGCHLD:
            try:
                os.kill(-child, info.si_signo)
            except ProcessLookupError:
                try:
                    os.kill(child, info.si_signo)
                except ProcessLookupError:
                    pass
            continue
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                break
            if pid == child:
                code = os.waitstatus_to_exitcode(status)
                sys.stdout.flush()
                os._exit(code if code >= 0 else 128 - code)


def exec_stage1(joins: tuple[tuple[str, str], ...], cgroup_path: str, sock: socket.socket, stdio: Stdio,
                proc: ProcessPlan, security: ProcessSecurity) -> NoReturn:
    """Join a running container (its cgroup, then its namespaces, user first) and fork
    the process that execs there. No start gate: the program runs at once."""

    def body() -> NoReturn:
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        _set_stdio(stdio)
        if cgroup_path:
            open_cgroup(cgroup_path).add_process(os.getpid())
        fds = [(kind, os.open(path, os.O_RDONLY | os.O_CLOEXEC)) for kind, path in joins]
        for kind, fd in fds:  # opened first: once in the mount namespace the paths are gone
            ns.setns(fd, ns.BITS[kind], kind)
            os.close(fd)
        pid = os.fork()
        if pid == 0:
            exec_stage2(sock, proc, security)
        sync.send(sock, sync.PID, pid=pid)
        os._exit(0)

    _guard(sock, body)


def exec_stage2(sock: socket.socket, proc: ProcessPlan, security: ProcessSecurity) -> NoReturn:
    def body() -> NoReturn:
        os.setsid()
        if proc.oom_score_adj is not None:
            with open("/proc/self/oom_score_adj", "w") as f:
                f.write(str(proc.oom_score_adj))
        if proc.terminal:
            master, slave_path = tty.open_pty("/dev/ptmx")
            _attach_terminal(slave_path, proc)
            sync.send(sock, sync.PTY, fds=[master])
            os.close(master)
        resolved = _named_user(proc, security)
        finalize(resolved, security, resolve_program(resolved), 3 + security.preserve_fds)

    _guard(sock, body)
