"""What a container sees from inside: its own pid, uts, mount and proc views."""

from __future__ import annotations

import os
import subprocess
import tempfile

from berth.sys import mount as sysmount

from .conftest import Bundle


def test_is_pid_1_and_sees_no_host_process(bundle: Bundle) -> None:
    result = bundle.sh("echo self=$$; ls /proc | grep -E '^[0-9]+$'")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.split()
    assert lines[0] == "self=1"
    pids = sorted(int(p) for p in lines[1:])
    # PID 1 (the shell) and the `ls`/`grep` it forked: nothing from the host.
    assert pids[0] == 1
    assert max(pids) < 10, pids
    assert str(os.getpid()) not in lines[1:] or os.getpid() < 10


def test_hostname_is_its_own(bundle: Bundle) -> None:
    bundle.spec["hostname"] = "box-under-test"
    result = bundle.sh("hostname; cat /proc/sys/kernel/hostname")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["box-under-test", "box-under-test"]
    assert os.uname().nodename != "box-under-test"


def test_host_mounts_are_not_visible(bundle: Bundle) -> None:
    marker = tempfile.mkdtemp(prefix="berth-marker-")
    sysmount.mount("tmpfs", marker, "tmpfs", sysmount.NONE, "size=1m")
    try:
        result = bundle.sh("cat /proc/self/mountinfo")
    finally:
        sysmount.umount(marker)
        os.rmdir(marker)
    assert result.returncode == 0, result.stderr
    points = {line.split()[4] for line in result.stdout.splitlines()}
    assert marker not in points
    assert not any(p.startswith(("/work", "/run/berth", "/tmp/berth")) for p in points), points
    assert {"/", "/proc", "/dev", "/dev/pts", "/sys"} <= points


def test_sensitive_proc_paths_are_masked_and_proc_sys_is_read_only(bundle: Bundle) -> None:
    result = bundle.sh(
        "wc -c < /proc/keys; wc -c < /proc/timer_list; ls /proc/acpi | wc -l; "
        "echo x > /proc/sys/kernel/domainname && echo WROTE; "
        "grep -E ' /proc/(keys|sys|acpi) ' /proc/self/mountinfo"
    )
    lines = result.stdout.splitlines()
    assert lines[:3] == ["0", "0", "0"], result.stdout
    assert "WROTE" not in result.stdout
    assert "Read-only file system" in result.stderr
    mounts = {line.split()[4]: line for line in lines[3:]}
    assert " ro," in mounts["/proc/sys"] or mounts["/proc/sys"].split()[5].startswith("ro")
    assert "/proc/keys" in mounts and "/proc/acpi" in mounts


def test_root_is_read_only_when_asked(bundle: Bundle) -> None:
    bundle.spec["root"]["readonly"] = True
    result = bundle.sh("touch /probe")
    assert result.returncode != 0
    assert "Read-only file system" in result.stderr


def test_dev_has_the_standard_nodes_and_links(bundle: Bundle) -> None:
    result = bundle.sh("ls -l /dev; echo hi > /dev/null && echo null-ok; head -c 4 /dev/zero | wc -c")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    for node in ("null", "zero", "full", "random", "urandom", "tty", "pts", "shm", "mqueue"):
        assert f" {node}" in out, node
    assert "fd -> /proc/self/fd" in out
    assert "ptmx -> pts/ptmx" in out
    assert "null-ok" in out and out.strip().endswith("4")


def test_network_namespace_has_only_loopback(bundle: Bundle) -> None:
    result = bundle.sh("ls /sys/class/net")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["lo"]


def test_joins_an_existing_network_namespace_by_path(bundle: Bundle) -> None:
    holder = subprocess.Popen(["unshare", "--net", "sleep", "60"])
    try:
        ns_path = f"/proc/{holder.pid}/ns/net"
        for _ in range(100):
            if os.readlink(ns_path) != os.readlink("/proc/self/ns/net"):
                break
        for ns in bundle.spec["linux"]["namespaces"]:
            if ns["type"] == "network":
                ns["path"] = ns_path
        result = bundle.sh("readlink /proc/self/ns/net")
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == os.readlink(ns_path)
    finally:
        holder.kill()
        holder.wait()


def test_user_namespace_maps_root_to_an_unprivileged_host_uid(bundle: Bundle) -> None:
    bundle.spec["linux"]["namespaces"].append({"type": "user"})
    bundle.spec["linux"]["uidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
    bundle.spec["linux"]["gidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
    result = bundle.sh("id -u; cat /proc/self/uid_map")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.split("\n")
    assert lines[0] == "0"
    assert lines[1].split() == ["0", "100000", "65536"]
