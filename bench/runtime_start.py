#!/usr/bin/env python3
"""Median wall time of running /bin/true in a busybox bundle: berth vs crun vs runc.

Usage: .venv/bin/python bench/runtime_start.py [--runs N] [--rounds R]

Every runtime runs the same bundle (same config.json, same rootfs) with the same
namespaces, cgroup and seccomp profile; each run is a fresh container id. berth runs
twice: warm (through its fork server, as the ``berth`` command normally does) and cold
(``BERTH_FORKSERVER=0``: a new interpreter imports berth and runs the command itself).
The fork server is this benchmark's own (``BERTH_FORKSERVER_DIR`` in a temporary folder)
and is stopped at the end; berth is imported from this checkout's ``src``.

The floor is `unshare` of the same namespaces plus `chroot` and /bin/true, with no
runtime at all. Runs are made in rounds (each runtime back to back within a round,
the runtimes taking turns between rounds), so that load from other processes on the
machine spreads over all of them. Prints medians, p90 and ratios to crun and runc.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable

SRC = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "src")
sys.path.insert(0, SRC)

from berth.runtime.defaults import default_spec  # noqa: E402
from berth.testing.rootfs import make_busybox_rootfs  # noqa: E402

BERTH = [os.path.join(os.path.dirname(sys.executable), "berth")]


def ensure_crun_can_run() -> None:
    # crun 1.8 refuses a hybrid hierarchy while the cgroup2 mount holds a controller
    # (PEERS.md): give hugetlb a v1 hierarchy of its own.
    path = "/sys/fs/cgroup/hugetlb"
    with open("/proc/self/mountinfo") as f:
        if any(line.split()[4] == path for line in f):
            return
    controllers = open("/sys/fs/cgroup/unified/cgroup.controllers").read().split() \
        if os.path.exists("/sys/fs/cgroup/unified/cgroup.controllers") else []
    if "hugetlb" not in controllers:
        return
    os.makedirs(path, exist_ok=True)
    subprocess.run(["mount", "-t", "cgroup", "-o", "hugetlb", "cgroup", path], check=True)


def timed(fn: Callable[[str], None], runs: int, tag: str, warmup: int = 2) -> list[float]:
    for i in range(warmup):
        fn(f"{tag}w{i}")
    out = []
    for i in range(runs):
        start = time.perf_counter()
        fn(f"{tag}{i}")
        out.append((time.perf_counter() - start) * 1000)
    return out


def run_checked(cmd: list[str], env: dict[str, str] | None = None) -> None:
    result = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            env=env)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)}: exit {result.returncode}: {result.stderr.decode().strip()}")


def start_forkserver(env: dict[str, str]) -> None:
    """Start the benchmark's fork server and wait until it listens."""
    run_checked([*BERTH, "--version"], env)
    folder = env["BERTH_FORKSERVER_DIR"]
    for _ in range(400):
        if any(name.endswith(".sock") for name in os.listdir(folder)):
            return
        time.sleep(0.025)
    raise RuntimeError("berth's fork server did not start")


def stop_forkserver(folder: str) -> None:
    """SIGTERM the processes serving a socket in ``folder`` (only this benchmark's)."""
    needle = folder.encode()
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmdline = f.read()
        except OSError:
            continue
        if b"berth.cli.forkserver" in cmdline and needle in cmdline:
            try:
                os.kill(int(pid), signal.SIGTERM)
            except ProcessLookupError:
                pass


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=60, help="runs per runtime (all rounds together)")
    parser.add_argument("--rounds", type=int, default=4, help="take turns this many times")
    args = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("bench/runtime_start.py: run as root")
    work = tempfile.mkdtemp(prefix="berth-bench-")
    fs_dir = os.path.join(work, "forkserver")
    os.makedirs(fs_dir)
    try:
        bundle = os.path.join(work, "bundle")
        os.makedirs(bundle)
        rootfs = make_busybox_rootfs(os.path.join(bundle, "rootfs"))
        spec = default_spec(("/bin/true",), terminal=False).to_json()
        with open(os.path.join(bundle, "config.json"), "w") as f:
            json.dump(spec, f)
        state = os.path.join(work, "state")
        warm_env = dict(os.environ, PYTHONPATH=SRC, BERTH_FORKSERVER_DIR=fs_dir)
        warm_env.pop("BERTH_FORKSERVER", None)
        cold_env = dict(warm_env, BERTH_FORKSERVER="0")
        start_forkserver(warm_env)

        contenders: dict[str, Callable[[str], None]] = {
            "berth run (warm)": lambda cid: run_checked(
                [*BERTH, "runtime", "--root", state, "run", "-b", bundle, cid], warm_env),
            "berth run (cold)": lambda cid: run_checked(
                [*BERTH, "runtime", "--root", state, "run", "-b", bundle, cid], cold_env),
        }
        skipped: dict[str, str] = {}
        for name in ("crun", "runc"):
            exe = shutil.which(name)
            if exe is None:
                skipped[name] = "not installed (apt-get install " + name + ")"
                continue
            if name == "crun":
                ensure_crun_can_run()
            peer_root = os.path.join(work, name)

            def peer(cid: str, exe: str = exe, peer_root: str = peer_root) -> None:
                run_checked([exe, "--root", peer_root, "run", "-b", bundle, cid])

            contenders[f"{name} run"] = peer
        contenders["unshare + chroot (floor)"] = lambda cid: run_checked(
            ["unshare", "--pid", "--fork", "--mount", "--uts", "--ipc", "--net", "--cgroup", "chroot", rootfs,
             "/bin/true"])

        results: dict[str, list[float]] = {name: [] for name in contenders}
        per_round = max(1, args.runs // args.rounds)
        for r in range(args.rounds):
            for k, (name, fn) in enumerate(contenders.items()):
                if name in skipped:
                    continue
                try:
                    results[name] += timed(fn, per_round, f"r{r}c{k}-")
                except RuntimeError as err:
                    skipped[name] = str(err)
    finally:
        stop_forkserver(fs_dir)
        subprocess.run(["rm", "-rf", work])

    results = {name: samples for name, samples in results.items() if samples and name not in skipped}
    crun = statistics.median(results["crun run"]) if "crun run" in results else None
    runc = statistics.median(results["runc run"]) if "runc run" in results else None
    runs = len(next(iter(results.values()))) if results else 0
    print(f"\n/bin/true in a busybox bundle, {runs} runs each in {args.rounds} rounds (median, p90 in ms)\n")
    print(f"{'runtime':<28} {'median':>8} {'p90':>8} {'x crun':>8} {'x runc':>8}")
    for name, samples in results.items():
        med = statistics.median(samples)
        p90 = sorted(samples)[int(len(samples) * 0.9) - 1]
        rc = f"{med / crun:.2f}" if crun else "-"
        rr = f"{med / runc:.2f}" if runc else "-"
        print(f"{name:<28} {med:>8.1f} {p90:>8.1f} {rc:>8} {rr:>8}")
    for name, why in skipped.items():
        print(f"skipped {name}: {why}")


if __name__ == "__main__":
    main()
