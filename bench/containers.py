#!/usr/bin/env python3
"""Containers side by side with Podman and Docker: run, exec, density, and the ceiling.

Usage (as root):
    .venv/bin/python bench/containers.py                 # run + exec, all engines
    .venv/bin/python bench/containers.py --density 1000  # + 1,000 `sleep` containers (berth)
    .venv/bin/python bench/containers.py --density 1000 --density-peers   # … and the peers too (slow)
    .venv/bin/python bench/containers.py --ceiling 5000  # how many berth runs at once

Every engine runs the same busybox bytes (imported from one tar). berth is measured
through its `berth` command as a user runs it: warm (the fork server is up — the
normal case) and cold (BERTH_FORKSERVER=0: a fresh interpreter per command).
Memory per container is the drop in MemAvailable over N containers, divided by N:
everything the engine keeps for them (shims, monitors, inits, cgroups, mounts).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable

sys.path.insert(0, os.path.dirname(__file__))
import peers  # noqa: E402

BERTH = os.path.join(os.path.dirname(sys.executable), "berth")


def timed(fn: Callable[[], None], runs: int, warmup: int = 3) -> list[float]:
    for _ in range(warmup):
        fn()
    out = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        out.append((time.perf_counter() - start) * 1000)
    return out


def quiet(cmd: list[str], env: dict[str, str] | None = None) -> None:
    result = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            env=env)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)}: exit {result.returncode}: {result.stderr.decode().strip()}")


def mem_available() -> int:
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    return 0


def drop_caches() -> None:
    subprocess.run(["sync"])
    with open("/proc/sys/vm/drop_caches", "w") as f:
        f.write("3")


class Engine:
    def __init__(self, name: str, cmd: list[str], env: dict[str, str] | None = None) -> None:
        self.name = name
        self.cmd = cmd
        self.env = env

    def run(self, *args: str) -> None:
        quiet([*self.cmd, *args], self.env)

    def out(self, *args: str) -> str:
        done = subprocess.run([*self.cmd, *args], capture_output=True, text=True, env=self.env)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join([*self.cmd, *args])}: exit {done.returncode}: {done.stderr.strip()}")
        return done.stdout.strip()


def measure_run_exec(engines: list[Engine], runs: int) -> list[tuple[str, str, float, float]]:
    rows = []
    for e in engines:
        samples = timed(lambda e=e: e.run("run", "--rm", "--network", "none", "busybox:bench", "true"), runs)
        rows.append((e.name, "run --rm --network none true", statistics.median(samples),
                     sorted(samples)[int(len(samples) * 0.9) - 1]))
        samples = timed(lambda e=e: e.run("run", "--rm", "busybox:bench", "true"), runs)
        rows.append((e.name, "run --rm (bridge) true", statistics.median(samples),
                     sorted(samples)[int(len(samples) * 0.9) - 1]))
    for e in engines:
        e.run("run", "-d", "--name", "bench-exec", "--network", "none", "busybox:bench", "sleep", "3600")
        try:
            samples = timed(lambda e=e: e.run("exec", "bench-exec", "true"), runs)
        finally:
            e.run("rm", "-f", "bench-exec")
        rows.append((e.name, "exec true", statistics.median(samples), sorted(samples)[int(len(samples) * 0.9) - 1]))
    return rows


def density(e: Engine, count: int) -> tuple[float, float, float]:
    """(seconds to start all, MB per container, seconds to remove all)."""
    drop_caches()
    time.sleep(1)
    before = mem_available()
    start = time.perf_counter()
    ids: list[str] = []
    try:
        for i in range(count):
            ids.append(e.out("run", "-d", "--network", "none", "--name", f"dens{i}", "busybox:bench", "sleep",
                             "36000"))
    except RuntimeError:
        for chunk in range(0, len(ids), 100):  # never leave the ones that started behind
            quiet([*e.cmd, "rm", "-f", *ids[chunk : chunk + 100]], e.env)
        raise
    started = time.perf_counter() - start
    time.sleep(2)
    drop_caches()
    time.sleep(1)
    after = mem_available()
    per = (before - after) / count / 1e6
    start = time.perf_counter()
    for chunk in range(0, len(ids), 100):
        quiet([*e.cmd, "rm", "-f", *ids[chunk : chunk + 100]], e.env)
    removed = time.perf_counter() - start
    return started, per, removed


def ceiling(e: Engine, limit: int) -> tuple[int, str]:
    ids: list[str] = []
    reason = f"reached the target of {limit}"
    try:
        for i in range(limit):
            result = subprocess.run([*e.cmd, "run", "-d", "--network", "none", "busybox:bench", "sleep", "36000"],
                                    capture_output=True, text=True, env=e.env)
            if result.returncode != 0:
                reason = result.stderr.strip().splitlines()[-1] if result.stderr.strip() else f"exit {result.returncode}"
                break
            ids.append(result.stdout.strip())
            if i % 500 == 499:
                print(f"  … {i + 1} running, MemAvailable {mem_available() / 1e9:.1f} GB", flush=True)
    finally:
        for chunk in range(0, len(ids), 100):
            subprocess.run([*e.cmd, "rm", "-f", *ids[chunk : chunk + 100]], capture_output=True, env=e.env)
    return len(ids), reason


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--density", type=int, default=0, help="start this many sleep containers (berth)")
    parser.add_argument("--density-peers", action="store_true", help="measure density for podman and docker too")
    parser.add_argument("--ceiling", type=int, default=0, help="start berth containers until this many or failure")
    parser.add_argument("--no-peers", action="store_true")
    args = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("bench/containers.py: run as root")

    work = peers.scratch()
    tar = peers.busybox_tar(work)
    root_env = dict(os.environ, BERTH_ROOT=os.path.join(work, "root"), BERTH_RUN=os.path.join(work, "run"))
    warm = Engine("berth (warm)", [BERTH], root_env)
    cold = Engine("berth (cold)", [BERTH], dict(root_env, BERTH_FORKSERVER="0"))
    peers.import_image(warm.cmd, tar, env=root_env)
    quiet([BERTH, "--version"], root_env)  # starts the fork server
    time.sleep(2)
    engines = [warm, cold]
    skipped = {}
    if not args.no_peers:
        why = peers.ensure_podman()
        if why is None:
            podman = Engine("podman", ["podman"])
            peers.import_image(podman.cmd, tar)
            engines.append(podman)
        else:
            skipped["podman"] = why
        why = peers.ensure_docker()
        client = peers.docker_client()
        if why is None and client:
            docker = Engine("docker", [client])
            peers.import_image(docker.cmd, tar)
            engines.append(docker)
        else:
            skipped["docker"] = why or "no docker client"

    rows = measure_run_exec(engines, args.runs)
    print(f"\nrun and exec, {args.runs} runs each (ms)\n")
    print(f"{'engine':<16} {'what':<32} {'median':>8} {'p90':>8}")
    for name, what, med, p90 in rows:
        print(f"{name:<16} {what:<32} {med:>8.1f} {p90:>8.1f}")
    by = {(n, w): m for n, w, m, _ in rows}
    for e in engines:
        bridge, none = by.get((e.name, "run --rm (bridge) true")), by.get((e.name, "run --rm --network none true"))
        if bridge and none:
            print(f"  {e.name}: attaching to the bridge adds {bridge - none:.1f} ms to run")
    for what in ("run --rm --network none true", "exec true"):
        base = by.get(("berth (warm)", what))
        for peer in ("podman", "docker"):
            if base and (peer, what) in by:
                print(f"  {what}: berth (warm) / {peer} = {base / by[(peer, what)]:.2f}")

    if args.density:
        print(f"\ndensity: {args.density} containers running sleep (-d --network none)\n")
        print(f"{'engine':<16} {'start all (s)':>14} {'MB each':>9} {'remove all (s)':>15}")
        targets = [warm] + ([e for e in engines if e.name in ("podman", "docker")] if args.density_peers else [])
        for e in targets:
            started, per, removed = density(e, args.density)
            print(f"{e.name:<16} {started:>14.1f} {per:>9.2f} {removed:>15.1f}", flush=True)

    if args.ceiling:
        print(f"\nceiling: berth containers at once (target {args.ceiling})")
        count, reason = ceiling(warm, args.ceiling)
        print(f"  {count} running at once; stopped because: {reason}")

    for name, why in skipped.items():
        print(f"skipped {name}: {why}")
    from berth.testing.netenv import teardown_networks

    teardown_networks(root_env)  # the bench's bridge, nft table and DNS go with it
    subprocess.run(["rm", "-rf", work])


if __name__ == "__main__":
    main()
