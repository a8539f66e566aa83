#!/usr/bin/env python3
"""Dockerfile builds: berth vs docker build (classic builder and BuildKit).

Usage: PYTHONPATH=src .venv/bin/python bench/build.py [--runs N] [--no-docker]

One multi-stage Dockerfile (18 steps: 5 RUN, 5 COPY, WORKDIR, metadata) over a
generated context of ~4 MB in ~190 files plus ignored logs, and a small one (FROM,
COPY, RUN, CMD; the size PEERS.md's figures were measured with), built by every engine
from the same busybox rootfs tar (``berth import`` / ``docker import`` as
busybox:latest, so ``FROM busybox`` needs no registry). Measured per engine, as
medians of ``--runs`` runs:

- no-cache: ``build --no-cache`` (every step runs; daemon and context caches warm);
- cached:   the same build again, everything from the build cache.

berth runs through its launcher and fork server, as a user's ``berth`` does; the
bench starts the fork server for this source tree itself (the launcher would start
one without this tree on PYTHONPATH) and stops it at the end. Docker runs with
Debian's /usr/bin/docker 20.10 client: ``DOCKER_BUILDKIT=0`` (classic) and ``=1``
(BuildKit). dockerd is started as PEERS.md says when it is not running, and stopped
at the end only if this bench started it.
"""

from __future__ import annotations

import argparse
import functools
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable

from berth.testing.rootfs import make_busybox_rootfs

SRC = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "src")
DOCKER = "/usr/bin/docker" if os.path.exists("/usr/bin/docker") else "docker"
TAG = "berth-bench-build"

DOCKERFILE = """\
FROM busybox AS build
ARG VERSION=1.0
WORKDIR /src
COPY src/ ./
RUN find . -type f | sort | xargs cat | md5sum > /checksum && mkdir -p /out && cp /checksum /out/
RUN tar -czf /out/src.tgz -C /src . && ls -l /out/src.tgz | wc -l > /out/count
COPY assets/ /assets/
RUN du -s /assets > /out/assets.txt && echo "version $VERSION" >> /out/assets.txt

FROM busybox
LABEL org.opencontainers.image.title=bench
ENV APP_HOME=/app MODE=production
WORKDIR /app
COPY --from=build /out/ ./
COPY config/ ./config/
RUN chmod -R a+rX /app && echo built > /app/stamp
USER nobody
EXPOSE 8080
CMD ["cat", "/app/checksum"]
"""

SMALL_DOCKERFILE = """\
FROM busybox
COPY hello.txt /hello.txt
RUN cat /hello.txt > /copy.txt
CMD ["cat", "/copy.txt"]
"""


def make_small_context(folder: str) -> None:
    os.makedirs(folder)
    with open(os.path.join(folder, "hello.txt"), "w") as f:
        f.write("hello\n")
    with open(os.path.join(folder, "Dockerfile"), "w") as f:
        f.write(SMALL_DOCKERFILE)


def make_context(folder: str) -> int:
    """The generated context; returns its size in bytes (ignored files included)."""
    rng = random.Random(42)
    total = 0

    def put(rel: str, size: int) -> None:
        nonlocal total
        path = os.path.join(folder, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(rng.randbytes(size // 2).hex().encode()[:size])
        total += size

    for d in range(8):
        for i in range(20):
            put(f"src/pkg{d}/module{i}.txt", 24 * 1024)
    for i in range(20):
        put(f"assets/img{i}.bin", 16 * 1024)
    for name in ("app.conf", "logging.conf", "routes.conf"):
        put(f"config/{name}", 512)
    for i in range(5):
        put(f"logs/run{i}.log", 64 * 1024)
    with open(os.path.join(folder, ".dockerignore"), "w") as f:
        f.write("logs/\n*.log\n")
    with open(os.path.join(folder, "Dockerfile"), "w") as f:
        f.write(DOCKERFILE)
    return total


def run(cmd: list[str], env: dict[str, str] | None = None) -> str:
    result = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, env=env, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)}: exit {result.returncode}:\n{result.stdout}\n{result.stderr}")
    return result.stdout


def measure(build: Callable[..., object], ctx: str, runs: int) -> dict[str, float]:
    """Medians of ``build(ctx, "--no-cache")`` and, after one warm-up, ``build(ctx)``."""
    build(ctx)
    return {"no-cache": statistics.median(timed(lambda: build(ctx, "--no-cache"), runs)),
            "cached": statistics.median(timed(lambda: build(ctx), runs))}


def timed(fn: Callable[[], object], runs: int) -> list[float]:
    out = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        out.append((time.perf_counter() - start) * 1000)
    return out


class Berth:
    def __init__(self, work: str, busybox_tar: str) -> None:
        self.env = dict(os.environ, BERTH_ROOT=os.path.join(work, "berth-root"),
                        BERTH_RUN=os.path.join(work, "berth-run"), PYTHONPATH=SRC,
                        BERTH_FORKSERVER_DIR=os.path.join(work, "forkserver"))
        self.env.pop("PYTHONDONTWRITEBYTECODE", None)  # installed berth has its .pyc files
        self.exe = [os.path.join(os.path.dirname(sys.executable), "berth")]
        with open(self.exe[0]) as f:  # the fork server is keyed by the launcher's interpreter
            self.python = f.readline().removeprefix("#!").strip() or sys.executable
        self.server: subprocess.Popen[bytes] | None = None
        self.start_server()
        run([*self.exe, "import", busybox_tar, "busybox:latest"], self.env)

    def start_server(self) -> None:
        path = run([self.python, "-c", "from berth.cli.launch import socket_path, package_stamp;"
                                          "print(socket_path(package_stamp()))"], self.env).strip()
        self.server = subprocess.Popen([self.python, "-m", "berth.cli.forkserver", path], env=self.env,
                                       stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                       stderr=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + 30
        while not os.path.exists(path):
            if time.monotonic() > deadline or self.server.poll() is not None:
                raise RuntimeError("berth fork server did not start")
            time.sleep(0.05)

    def build(self, ctx: str, *flags: str) -> str:
        return run([*self.exe, "build", *flags, "-t", f"{TAG}:berth", ctx], self.env)

    def stop(self) -> None:
        if self.server is not None and self.server.poll() is None:
            os.killpg(self.server.pid, signal.SIGTERM)
            self.server.wait(timeout=10)


class Docker:
    def __init__(self, work: str, busybox_tar: str) -> None:
        self.started: subprocess.Popen[bytes] | None = None
        if not self._alive():
            log = open(os.path.join(work, "dockerd.log"), "wb")  # noqa: SIM115 - lives as long as dockerd
            self.started = subprocess.Popen(["dockerd"], stdout=log, stderr=log, stdin=subprocess.DEVNULL,
                                            start_new_session=True)
            deadline = time.monotonic() + 60
            while not self._alive():
                if time.monotonic() > deadline or self.started.poll() is not None:
                    raise RuntimeError(f"dockerd did not start (see {work}/dockerd.log)")
                time.sleep(0.2)
        had = subprocess.run([DOCKER, "image", "inspect", "busybox:latest"], capture_output=True).returncode == 0
        self.imported = not had
        run([DOCKER, "import", busybox_tar, "busybox:latest"])

    @staticmethod
    def _alive() -> bool:
        if not os.path.exists("/var/run/docker.sock"):
            return False
        return subprocess.run([DOCKER, "info"], capture_output=True, timeout=30).returncode == 0

    def build(self, ctx: str, *flags: str, buildkit: bool) -> str:
        env = dict(os.environ, DOCKER_BUILDKIT="1" if buildkit else "0")
        name = "buildkit" if buildkit else "classic"
        return run([DOCKER, "build", "-q", *flags, "-t", f"{TAG}:{name}", ctx], env)

    def stop(self) -> None:
        names = [f"{TAG}:classic", f"{TAG}:buildkit"] + (["busybox:latest"] if self.imported else [])
        for name in names:  # only what this bench made: the daemon may be someone else's
            subprocess.run([DOCKER, "rmi", "-f", name], capture_output=True)
        if self.started is not None and self.started.poll() is None:
            self.started.terminate()
            self.started.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--no-docker", action="store_true", help="Measure berth only.")
    args = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("bench/build.py: run as root")
    work = tempfile.mkdtemp(prefix="berth-bench-build-")
    berth = docker = None
    results: dict[tuple[str, str], dict[str, float]] = {}
    notes: list[str] = []
    try:
        ctx = os.path.join(work, "ctx")
        size = make_context(ctx)
        rootfs = make_busybox_rootfs(os.path.join(work, "rootfs"))
        busybox_tar = os.path.join(work, "busybox.tar")
        with tarfile.open(busybox_tar, "w") as t:
            t.add(rootfs, arcname=".")

        small = os.path.join(work, "small")
        make_small_context(small)
        scenarios = {"18-step multi-stage": ctx, "small (4 steps)": small}
        berth = Berth(work, busybox_tar)
        start = time.perf_counter()
        berth.builder(ctx)
        notes.append(f"berth first build in an empty root (Go parser loaded, every file hashed): "
                     f"{(time.perf_counter() - start) * 1000:.0f} ms")
        out = run([*berth.exe, "run", "--rm", f"{TAG}:berth"], berth.env).strip()
        notes.append(f"the image runs: {out}")
        if not args.no_docker:
            try:
                docker = Docker(work, busybox_tar)
            except (RuntimeError, OSError, subprocess.TimeoutExpired) as err:
                notes.append(f"docker skipped: {err}")
        for scenario, folder in scenarios.items():
            results[(scenario, "berth")] = measure(berth.builder, folder, args.runs)
            if docker is not None:
                for name, buildkit in (("docker classic", False), ("docker buildkit", True)):
                    results[(scenario, name)] = measure(functools.partial(docker.build, buildkit=buildkit),
                                                        folder, args.runs)
    finally:
        if berth is not None:
            berth.stop()
        if docker is not None:
            docker.stop()
        shutil.rmtree(work, ignore_errors=True)

    print(f"\nmedian of {args.runs} runs, milliseconds; the 18-step build's context is {size / 1e6:.1f} MB\n")
    print(f"{'Dockerfile':<22} {'engine':<16} {'no-cache':>9} {'cached':>8} {'berth/this nc':>14} "
          f"{'berth/this c':>13}")
    for (scenario, name), r in results.items():
        mine = results[(scenario, "berth")]
        print(f"{scenario:<22} {name:<16} {r['no-cache']:>9.0f} {r['cached']:>8.1f} "
              f"{mine['no-cache'] / r['no-cache']:>14.2f} {mine['cached'] / r['cached']:>13.2f}")
    for note in notes:
        print(note)


if __name__ == "__main__":
    main()
