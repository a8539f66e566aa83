#!/usr/bin/env python3
"""`make demo`: containers running, isolated, shown from inside and from the host.

Makes a busybox image from Debian's busybox-static (`berth bootstrap busybox`), runs
containers from it the way a Docker user would (foreground, detached, logs, exec,
stop, rm), then runs a bare OCI bundle with `berth runtime` and prints what the
container sees next to what the host sees. Everything it makes lives under a temporary
BERTH_ROOT and is removed at the end.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

BERTH = os.path.join(os.path.dirname(sys.executable), "berth")


def step(title: str) -> None:
    print(f"\n\033[1m== {title}\033[0m", flush=True)


def show(cmd: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    print("$ " + " ".join(cmd), flush=True)
    result = subprocess.run(cmd, text=True, **kwargs)  # type: ignore[call-overload]
    return result  # type: ignore[no-any-return]


def _stop_forkserver(folder: str) -> None:
    """The demo's own warm-start server (see README, "Warm start") goes with it."""
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmdline = f.read()
        except OSError:
            continue
        if b"berth.cli.forkserver" in cmdline and folder.encode() in cmdline:
            os.kill(int(pid), 15)


def main() -> None:
    if os.geteuid() != 0:
        sys.exit("make demo needs root: it creates namespaces, mounts and cgroups")
    from berth.testing.rootfs import make_busybox_rootfs

    work = tempfile.mkdtemp(prefix="berth-demo-")
    # Network names of the demo's own, so it never meets an installed berth's bridge.
    env = dict(os.environ, BERTH_ROOT=os.path.join(work, "root"), BERTH_RUN=os.path.join(work, "run"),
               BERTH_FORKSERVER_DIR=os.path.join(work, "forkserver"), BERTH_NET_DEFAULT_BRIDGE="berthdemo0",
               BERTH_NET_DEFAULT_SUBNET="10.199.0.0/16", BERTH_NET_TABLE="berth_demo")
    try:
        step("An image without any hub: berth bootstrap busybox")
        show([BERTH, "bootstrap", "busybox"], env=env, check=True)
        show([BERTH, "images"], env=env, check=True)

        step("A container in the foreground: its own PID 1, host name and network")
        show([BERTH, "run", "--rm", "--network", "none", "--hostname", "box", "busybox", "sh", "-c",
              "echo \"PID $$ on $(hostname)\"; ps -o pid,comm; ls /sys/class/net"], env=env, check=True)

        step("Detached, with a memory limit and a restart policy; logs, exec, inspect")
        quiet_run = {"env": env, "stdin": subprocess.DEVNULL}
        show([BERTH, "run", "-d", "--name", "ticker", "-m", "32m", "--restart", "on-failure:3", "busybox", "sh",
              "-c", "i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.5; done"], check=True, **quiet_run)
        time.sleep(1.6)
        show([BERTH, "ps"], env=env, check=True)
        show([BERTH, "logs", "--tail", "3", "ticker"], env=env, check=True)
        show([BERTH, "exec", "ticker", "cat", "/sys/fs/cgroup/memory/memory.limit_in_bytes"], env=env)
        show([BERTH, "inspect", "-f", "{{.State.Status}} pid={{.State.Pid}} restarts={{.RestartCount}}",
              "ticker"], env=env, check=True)
        show([BERTH, "stop", "-t", "1", "ticker"], env=env, check=True)
        show([BERTH, "ps", "-a"], env=env, check=True)
        show([BERTH, "rm", "ticker"], env=env, check=True)

        bundle = os.path.join(work, "bundle")
        os.makedirs(bundle)
        step("The runtime underneath: an OCI bundle run like runc would")
        make_busybox_rootfs(os.path.join(bundle, "rootfs"))
        print(f"{bundle}/rootfs: {len(os.listdir(os.path.join(bundle, 'rootfs', 'bin')))} programs in /bin")

        step("An OCI bundle: berth's default spec (namespaces, masked paths, seccomp, read-only root)")
        script = (
            "echo \"I am PID $$ on host '$(hostname)'\"; "
            "echo 'processes I can see:'; ps -o pid,user,comm; "
            "echo 'my network:'; ls /sys/class/net; "
            "echo \"my memory limit: $(cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null)\"; "
            "echo 'writing to /proc/sys:'; echo 1 > /proc/sys/kernel/panic; "
            "echo 'setting the clock:'; date -s 2000.01.01-00:00:00; "
            "grep -E '^Cap(Eff|Bnd)' /proc/self/status"
        )
        show([BERTH, "runtime", "spec", "-b", bundle, "--no-terminal", "--args", "sh"], env=env, check=True)
        with open(os.path.join(bundle, "config.json")) as f:
            spec = json.load(f)
        spec["process"]["args"] = ["sh", "-c", script]
        spec["hostname"] = "demo-box"
        spec["linux"]["resources"]["memory"] = {"limit": 64 * 1024 * 1024}
        spec["linux"]["resources"]["pids"] = {"limit": 64}
        with open(os.path.join(bundle, "config.json"), "w") as f:
            json.dump(spec, f, indent=2)

        step("The container, from inside")
        show([BERTH, "runtime", "run", "-b", bundle, "demo"], env=env)

        step("The host, meanwhile")
        print(f"host name: {os.uname().nodename}; host processes: {sum(p.isdigit() for p in os.listdir('/proc'))}")

        step("A container that outlives the command: create, start, state, kill, delete")
        spec["process"]["args"] = ["sleep", "300"]
        with open(os.path.join(bundle, "config.json"), "w") as f:
            json.dump(spec, f)
        quiet = {"env": env, "stdin": subprocess.DEVNULL, "stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
        show([BERTH, "runtime", "create", "-b", bundle, "sleeper"], check=True, **quiet)
        show([BERTH, "runtime", "start", "sleeper"], env=env, check=True)
        show([BERTH, "runtime", "list"], env=env, check=True)
        show([BERTH, "runtime", "kill", "sleeper", "KILL"], env=env, check=True)
        show([BERTH, "runtime", "delete", "--force", "sleeper"], env=env, check=True)
        show([BERTH, "runtime", "list"], env=env, check=True)
    finally:
        _stop_forkserver(os.path.join(work, "forkserver"))
        if os.path.exists(os.path.join(work, "root", "berth.db")):
            from berth.testing.netenv import teardown_networks

            teardown_networks(env)  # the demo's bridge, nft table and DNS server
        shutil.rmtree(work, ignore_errors=True)
    print("\ndone: everything the demo made is gone.")


if __name__ == "__main__":
    main()
