#!/usr/bin/env python3
"""Median wall time of running /bin/true in a busybox bundle: berth vs crun vs runc.

Usage: .venv/bin/python bench/runtime_start.py [--runs N]

Every runtime runs the same bundle (same config.json, same rootfs) with the same
namespaces, cgroup and seccomp profile; each run is a fresh container id. The floor is
`unshare` of the same namespaces plus `chroot` and /bin/true, with no runtime at all.
Prints a table of medians and ratios to crun and runc.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable

from berth.runtime.defaults import default_spec
from berth.testing.rootfs import make_busybox_rootfs

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


def timed(fn: Callable[[int], None], runs: int, warmup: int = 3) -> list[float]:
    for i in range(warmup):
        fn(-1 - i)
    out = []
    for i in range(runs):
        start = time.perf_counter()
        fn(i)
        out.append((time.perf_counter() - start) * 1000)
    return out


def run_checked(cmd: list[str]) -> None:
    result = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)}: exit {result.returncode}: {result.stderr.decode().strip()}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=50)
    args = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("bench/runtime_start.py: run as root")
    work = tempfile.mkdtemp(prefix="berth-bench-")
    try:
        bundle = os.path.join(work, "bundle")
        os.makedirs(bundle)
        rootfs = make_busybox_rootfs(os.path.join(bundle, "rootfs"))
        spec = default_spec(("/bin/true",), terminal=False).to_json()
        with open(os.path.join(bundle, "config.json"), "w") as f:
            json.dump(spec, f)
        state = os.path.join(work, "state")
        results: dict[str, list[float]] = {}
        skipped: dict[str, str] = {}

        def berth(i: int) -> None:
            run_checked([*BERTH, "runtime", "--root", state, "run", "-b", bundle, f"b{i}"])

        results["berth runtime run"] = timed(berth, args.runs)

        for name in ("crun", "runc"):
            exe = shutil.which(name)
            if exe is None:
                skipped[name] = "not installed (apt-get install " + name + ")"
                continue
            if name == "crun":
                ensure_crun_can_run()
            peer_root = os.path.join(work, name)

            def peer(i: int, exe: str = exe, peer_root: str = peer_root, name: str = name) -> None:
                run_checked([exe, "--root", peer_root, "run", "-b", bundle, f"{name[0]}{i}"])

            try:
                results[f"{name} run"] = timed(peer, args.runs)
            except RuntimeError as err:
                skipped[name] = str(err)

        def floor(i: int) -> None:
            run_checked(["unshare", "--pid", "--fork", "--mount", "--uts", "--ipc", "--net", "--cgroup",
                         "chroot", rootfs, "/bin/true"])

        results["unshare + chroot (floor)"] = timed(floor, args.runs)
    finally:
        subprocess.run(["rm", "-rf", work])

    crun = statistics.median(results["crun run"]) if "crun run" in results else None
    runc = statistics.median(results["runc run"]) if "runc run" in results else None
    print(f"\n/bin/true in a busybox bundle, {args.runs} runs each (median, p90 in ms)\n")
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
