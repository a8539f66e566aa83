"""berth pull / push against skopeo, both talking to the reference registry
(Debian's docker-registry, distribution 2.8) on 127.0.0.1.

The image: ~100 MB of random (incompressible) data in several gzip layers, pushed to
the registry with skopeo first. Each measurement starts from an empty destination:

  pull  berth pull (download, verify, decompress, unpack into snapshots, record), cold
        (a fresh interpreter: BERTH_FORKSERVER=0) and warm (the fork server, as `berth` runs)
        skopeo copy docker://… oci:DIR   (download and verify only, no unpacking)
        skopeo copy docker://… dir:DIR
  push  berth push of the pulled image to a fresh registry
        skopeo copy oci:LAYOUT docker://… to a fresh registry

Prints the median of RUNS runs, MB/s over the compressed bytes moved, and each figure
as a ratio to skopeo's. Usage: python bench/registry_client.py [--runs N] [--mb SIZE]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))

from berth.testing.distribution import DistributionRegistry, available  # noqa: E402
from berth.testing.oci_images import write_image  # noqa: E402

MB = 1 << 20


def berth(env: dict[str, str], *args: str) -> None:
    """The ``berth`` command as installed: warm through the fork server unless the
    environment turns it off (BERTH_FORKSERVER=0: a cold interpreter per command)."""
    subprocess.run([sys.executable, "-c", "from berth.cli.launch import main; main()", *args], env=env,
                   check=True, stdout=subprocess.DEVNULL)


def start_forkserver(env: dict[str, str]) -> None:
    """Start the fork server of this source tree (launch.py would start one with a bare
    environment, which imports the installed berth rather than this checkout)."""
    from berth.cli.launch import package_stamp

    folder = Path(env["BERTH_FORKSERVER_DIR"])
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{package_stamp()}.sock"
    subprocess.Popen([sys.executable, "-m", "berth.cli.forkserver", str(path)], env=env, start_new_session=True,
                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(200):
        if path.exists():
            return
        time.sleep(0.05)
    raise RuntimeError("the fork server did not start")


def stop_forkserver(folder: Path) -> None:
    import signal

    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if b"berth.cli.forkserver" in cmdline and str(folder).encode() in cmdline:
            os.kill(int(pid), signal.SIGTERM)


def skopeo(*args: str) -> None:
    subprocess.run(["skopeo", *args], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def timed(setup: Callable[[int], object], action: Callable[[int, object], None], runs: int) -> float:
    times = []
    for i in range(runs):
        state = setup(i)
        start = time.perf_counter()
        action(i, state)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--mb", type=int, default=100, help="total image size in MB")
    args = parser.parse_args()
    if not available() or shutil.which("skopeo") is None:
        print("skipped: needs docker-registry and skopeo (Debian packages)")
        return 0
    work = Path(tempfile.mkdtemp(prefix="berth-bench-regclient-"))
    try:
        shares = (0.35, 0.25, 0.2, 0.12, 0.08)  # five layers, like a typical base + app image
        sizes = [int(args.mb * MB * s) for s in shares]
        image = write_image(str(work / "layout"), sizes, tag="1")
        total = sum(d.size for d in image.layers) + image.config.size
        results: list[tuple[str, str, float]] = []
        base_env = dict(os.environ, BERTH_FORKSERVER_DIR=str(work / "fs"),
                        PYTHONPATH=str(HERE.parent / "src") + os.pathsep + os.environ.get("PYTHONPATH", ""))
        base_env.pop("BERTH_INSECURE_REGISTRIES", None)

        with DistributionRegistry(work / "source") as registry:
            ref = f"{registry.host}/bench/app:1"
            skopeo("copy", "--dest-tls-verify=false", image.source, f"docker://{ref}")

            def fresh_env(i: int) -> dict[str, str]:
                root = work / f"berth-{i}"
                shutil.rmtree(root, ignore_errors=True)
                return dict(base_env, BERTH_ROOT=str(root), BERTH_RUN=str(work / f"run-{i}"),
                            DOCKER_CONFIG=str(work / "docker"))

            def fresh_dir(i: int) -> Path:
                path = work / f"out-{i}"
                shutil.rmtree(path, ignore_errors=True)
                return path

            def cold(i: int) -> dict[str, str]:
                return dict(fresh_env(i), BERTH_FORKSERVER="0")

            results.append(("pull", "berth pull (cold start)",
                            timed(cold, lambda i, env: berth(env, "pull", "-q", ref), args.runs)))  # type: ignore[arg-type]
            start_forkserver(base_env)
            results.append(("pull", "berth pull (warm)",
                            timed(fresh_env, lambda i, env: berth(env, "pull", "-q", ref), args.runs)))  # type: ignore[arg-type]
            results.append(("pull", "skopeo copy → oci:",
                            timed(fresh_dir, lambda i, p: skopeo("copy", "--src-tls-verify=false", f"docker://{ref}",
                                                                 f"oci:{p}:1"), args.runs)))
            results.append(("pull", "skopeo copy → dir:",
                            timed(fresh_dir, lambda i, p: skopeo("copy", "--src-tls-verify=false", f"docker://{ref}",
                                                                 f"dir:{p}"), args.runs)))
            # the image berth pushes: pulled once into a store of its own
            push_env = dict(base_env, BERTH_ROOT=str(work / "berth-push"), BERTH_RUN=str(work / "run-push"),
                            DOCKER_CONFIG=str(work / "docker"))
            berth(push_env, "pull", "-q", ref)

        targets: list[DistributionRegistry] = []

        def fresh_registry(i: int) -> DistributionRegistry:
            target = DistributionRegistry(work / f"target-{len(targets)}").start()
            targets.append(target)
            return target

        def berth_push(i: int, target: object) -> None:
            assert isinstance(target, DistributionRegistry)
            name = f"{target.host}/bench/pushed:1"
            berth(push_env, "tag", ref, name)
            berth(push_env, "push", "-q", name)

        def skopeo_push(i: int, target: object) -> None:
            assert isinstance(target, DistributionRegistry)
            skopeo("copy", "--dest-tls-verify=false", image.source, f"docker://{target.host}/bench/pushed:1")

        try:
            results.append(("push", "berth push", timed(fresh_registry, berth_push, args.runs)))
            results.append(("push", "skopeo copy oci: →", timed(fresh_registry, skopeo_push, args.runs)))
        finally:
            for target in targets:
                target.remove()

        print(f"image: {len(sizes)} gzip layers, {total / 1e6:.1f} MB compressed; registry: docker-registry on "
              f"127.0.0.1; median of {args.runs} runs")
        print(f"{'op':<5} {'client':<24} {'seconds':>8} {'MB/s':>8} {'vs skopeo':>10}")
        by_name = {name: seconds for _op, name, seconds in results}
        reference = {"pull": by_name["skopeo copy → oci:"], "push": by_name["skopeo copy oci: →"]}
        for op, name, seconds in results:
            ratio = reference[op] / seconds
            print(f"{op:<5} {name:<24} {seconds:>8.3f} {total / seconds / 1e6:>8.1f} {ratio:>9.2f}x")
        return 0
    finally:
        stop_forkserver(work / "fs")
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
