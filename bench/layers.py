#!/usr/bin/env python3
"""Layer unpacking and container snapshot preparation, against GNU tar.

    PYTHONPATH=src python bench/layers.py [--size-mb 200] [--runs 5] [--profile mixed|small|both]

1. Unpack throughput of a generated layer (uncompressed and gzip) with
   ``berth.store.layers.apply`` versus ``tar -xf`` / ``tar -xzf`` (and ``pigz`` when
   installed) of the same file into an empty folder on the same file system. Every run
   starts after ``sync``; the time is the unpack itself (page cache, as tar's is).
   ``apply`` is shown as the store runs it: uncompressed blobs are verified by the
   content store, so no hashing (``hash=False``); gzip layers are hashed on the fly to
   check the diff ID.
2. Container snapshot preparation for a 1-layer and a 50-layer image: prepare_rootfs,
   the overlay mount (in this process's private mount namespace), unmount and remove.
   Goal: under 10 ms, whatever the image's size.

Profiles: ``mixed`` (the default): ~1,800 files from 512 B to 2 MB in 150 folders,
plus symlinks, half of each file incompressible; ``small``: a Debian-like tree of
~30,000 files averaging 8 KB in 1,500 folders, where per-file costs dominate.
"""

from __future__ import annotations

import argparse
import io
import os
import random
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
import zlib
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from berth.oci.image import ContainerConfig  # noqa: E402
from berth.state import open_database  # noqa: E402
from berth.store import layers, open_store  # noqa: E402
from berth.store.mounting import mount_all  # noqa: E402
from berth.sys import mount as m  # noqa: E402
from berth.sys.ns import CloneFlag, unshare  # noqa: E402

CACHE = Path(os.environ.get("BERTH_BENCH_CACHE", "/var/tmp/berth-bench"))


def generate(profile: str, size_mb: int) -> tuple[Path, Path]:
    """(layer.tar, layer.tar.gz), generated once per profile and size and cached."""
    CACHE.mkdir(parents=True, exist_ok=True)
    plain = CACHE / f"{profile}-{size_mb}mb.tar"
    gz = CACHE / f"{profile}-{size_mb}mb.tar.gz"
    if plain.exists() and gz.exists():
        return plain, gz
    rng = random.Random(42)
    target = size_mb << 20
    words = b" ".join(rng.choice([b"layer", b"image", b"berth", b"overlay", b"snapshot", b"config", b"lib"])
                      for _ in range(4096))
    noise = os.urandom(4 << 20)
    tmp = plain.with_suffix(".tmp")
    # A folder tree like a distribution's: a few hundred folders (mixed) or ~1,500
    # (small, about one per six files as in Debian), each file in one of them.
    folders = ["usr"]
    for i in range(150 if profile == "mixed" else 1500):
        folders.append(f"{rng.choice(folders)}/d{i}")
    with tarfile.open(tmp, "w", format=tarfile.PAX_FORMAT) as tar:
        total = 0
        n = 0
        while total < target:
            folder = rng.choice(folders)
            if profile == "mixed":
                size = int(2 ** rng.uniform(9, 21))  # 512 B … 2 MB, log-uniform
            else:
                size = int(2 ** rng.uniform(6, 15.5))  # 64 B … 46 KB: ~8 KB mean
            size = min(size, target - total) or 1
            start = rng.randrange(0, len(noise) - size) if size < len(noise) else 0
            half = size // 2
            body = noise[start:start + half] + (words * (size // len(words) + 1))[: size - half]
            info = tarfile.TarInfo(f"{folder}/f{n}")
            info.size, info.mode, info.mtime = len(body), 0o644 if n % 7 else 0o755, 1_700_000_000
            tar.addfile(info, io.BytesIO(body))
            if n % 50 == 0:
                link = tarfile.TarInfo(f"{folder}/l{n}")
                link.type, link.linkname = tarfile.SYMTYPE, f"f{n}"
                tar.addfile(link)
            total += len(body)
            n += 1
    tmp.rename(plain)
    with open(plain, "rb") as src, open(gz.with_suffix(".tmp"), "wb") as dst:
        z = zlib.compressobj(6, zlib.DEFLATED, 31)  # what Go's gzip writer (Docker) makes
        while chunk := src.read(1 << 20):
            dst.write(z.compress(chunk))
        dst.write(z.flush())
    gz.with_suffix(".tmp").rename(gz)
    return plain, gz


def timed(methods: dict[str, Callable[[str], None]], work: Path, runs: int) -> dict[str, float]:
    """Median seconds of each ``run(dest)`` into a fresh folder, each after a sync. The
    methods take turns round by round, so drift in the machine's disk (writeback,
    discards) hits them alike."""
    times: dict[str, list[float]] = {name: [] for name in methods}
    for i in range(runs):
        for name, run in methods.items():
            dest = work / f"dest-{i}"
            dest.mkdir()
            subprocess.run(["sync"])
            t = time.perf_counter()
            run(str(dest))
            times[name].append(time.perf_counter() - t)
            shutil.rmtree(dest)
    return {name: statistics.median(values) for name, values in times.items()}


def unpack_rows(profile: str, size_mb: int, runs: int, work: Path) -> list[tuple[str, float, float]]:
    plain, gz = generate(profile, size_mb)
    mb = plain.stat().st_size / 1e6

    def apply(path: Path, compression: str, hash_: bool) -> Callable[[str], None]:
        def run(dest: str) -> None:
            with open(path, "rb") as f:
                layers.apply(f, dest, compression, hash=hash_)
        return run

    def tool(cmd: list[str]) -> Callable[[str], None]:
        def run(dest: str) -> None:
            subprocess.run([*cmd, "-C", dest], check=True)
        return run

    methods = {
        f"{profile}: tar -xf (uncompressed)": tool(["tar", "-xf", str(plain)]),
        "  berth apply (uncompressed, verified blob)": apply(plain, "none", False),
        "  berth apply (uncompressed, hashing)": apply(plain, "none", True),
        f"{profile}: tar -xzf (gzip)": tool(["tar", "-xzf", str(gz)]),
    }
    if shutil.which("pigz"):
        methods["  tar -I pigz -xf (gzip)"] = tool(["tar", "-I", "pigz", "-xf", str(gz)])
    methods["  berth apply (gzip, hashing)"] = apply(gz, "gzip", True)
    return [(name, seconds, mb / seconds) for name, seconds in timed(methods, work, runs).items()]


def snapshot_rows(work: Path, iterations: int) -> list[tuple[str, float, float, float]]:
    # A private mount namespace: every mount made here dies with this process.
    unshare(CloneFlag.CLONE_NEWNS)
    m.mount(None, "/", None, m.MountFlag.MS_REC | m.MountFlag.MS_PRIVATE)
    root = str(work / "root")
    db = open_database(root)
    store = open_store(root, db)
    from berth.testing.tars import TarBuilder

    image = store.import_tar(io.BytesIO(TarBuilder().file("layer-0", b"0").bytes()), "bench:1")
    images = {1: image}
    for i in range(1, 50):
        key = f"build-{i}"
        store.prepare_rootfs(key, image, {})
        with open(os.path.join(store.snapshots.layout(key).upper, f"layer-{i}"), "w") as f:
            f.write(str(i))
        image = store.commit(key, image, ContainerConfig())
        store.snapshots.remove(key)
    images[50] = image
    target = str(work / "mnt")
    os.mkdir(target)
    # Unmounting an overlay syncs its upper file system; start from a clean page cache
    # so the figures are the snapshot's, not the writeback of whatever ran before.
    subprocess.run(["sync"])
    rows = []
    for count, img in images.items():
        prepare, mounting, removing, total = [], [], [], []
        for n in range(iterations):
            key = f"c-{count}-{n}"
            t0 = time.perf_counter()
            mounts = store.prepare_rootfs(key, img, {})
            t1 = time.perf_counter()
            mount_all(mounts, target)
            m.umount(target)
            t2 = time.perf_counter()
            store.snapshots.remove(key)
            t3 = time.perf_counter()
            prepare.append(t1 - t0)
            mounting.append(t2 - t1)
            removing.append(t3 - t2)
            total.append(t3 - t0)
        for name, values in (("prepare_rootfs", prepare), ("mount + umount", mounting),
                             ("remove", removing), ("total", total)):
            values.sort()
            rows.append((f"{count:>2}-layer image: {name}", statistics.median(values) * 1e3,
                         values[int(len(values) * 0.9)] * 1e3, max(values) * 1e3))
    db.close()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-mb", type=int, default=200)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--profile", choices=["mixed", "small", "both"], default="mixed")
    parser.add_argument("--iterations", type=int, default=100, help="snapshot preparations per image")
    parser.add_argument("--skip-unpack", action="store_true")
    args = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("bench/layers.py needs root (ownership, device nodes, overlay mounts)")
    work = Path(tempfile.mkdtemp(prefix="berth-bench-", dir="/var/tmp"))
    try:
        if not args.skip_unpack:
            profiles = ["mixed", "small"] if args.profile == "both" else [args.profile]
            print(f"Layer unpack: {args.size_mb} MB layer, median of {args.runs} runs, into {work}")
            print(f"{'':46}{'seconds':>9}{'MB/s':>9}{'vs tar':>9}")
            for profile in profiles:
                rows = unpack_rows(profile, args.size_mb, args.runs, work)
                base = rows[0][1]
                for label, seconds, rate in rows:
                    if label.startswith(f"{profile}: tar -xzf"):
                        base = seconds
                    print(f"{label:46}{seconds:9.3f}{rate:9.0f}{seconds / base:8.2f}x")
            print()
        print(f"Container snapshot: {args.iterations} prepare/mount/umount/remove cycles per image (ms)")
        print(f"{'':40}{'median':>9}{'p90':>9}{'max':>9}")
        for label, median, p90, worst in snapshot_rows(work, args.iterations):
            print(f"{label:40}{median:9.2f}{p90:9.2f}{worst:9.2f}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
