"""Registry throughput: berth's registry against distribution's (``docker-registry``).

Both registries run side by side on 127.0.0.1 with fresh storage in a temporary
folder, and skopeo is the client for both. Measured:

1. push of a ~100 MB image (several random layers, an OCI layout) — median of N runs,
   each run a new image so that nothing is skipped;
2. pull of that image into a fresh OCI layout — median of N runs;
3. 20 skopeo pulls at once: aggregate MB/s (median of N runs) and how many failed.

Each measurement alternates between the registries (berth first, then the reference
first, …) and starts after ``sync``, so writeback from one run does not slow the next.

    PYTHONPATH=src .venv/bin/python bench/registry.py [--size-mb 100] [--layers 4]
        [--repeat 3] [--clients 20]

Needs skopeo and docker-registry (Debian packages skopeo, docker-registry); a peer
that is missing is reported as skipped.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx

import berth
from berth.testing.ocilayout import LayoutImage, write_oci_layout

SRC = os.path.dirname(os.path.dirname(os.path.abspath(berth.__file__)))
DISTRIBUTION = "/usr/bin/docker-registry"


@dataclass
class Server:
    name: str
    host: str
    process: subprocess.Popen[bytes]
    storage: str

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@dataclass
class Result:
    push: list[float] = field(default_factory=list)  # MB/s of each run
    pull: list[float] = field(default_factory=list)
    concurrent: list[float] = field(default_factory=list)  # aggregate MB/s of each run
    failures: int = 0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def wait_ready(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url}: the registry exited with {process.returncode}")
        try:
            if httpx.get(url + "/v2/", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"{url}: the registry did not become ready")


def start_berth(work: str) -> Server:
    storage = os.path.join(work, "berth-storage")
    port = free_port()
    env = dict(os.environ, PYTHONPATH=SRC + os.pathsep + os.environ.get("PYTHONPATH", ""))
    process = subprocess.Popen(
        [sys.executable, "-m", "berth", "registry", "--storage", storage, "serve", "-q", "--listen", f"127.0.0.1:{port}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
    )
    wait_ready(f"http://127.0.0.1:{port}", process)
    return Server("berth", f"127.0.0.1:{port}", process, storage)


def start_distribution(work: str) -> Server:
    storage = os.path.join(work, "distribution-storage")
    port = free_port()
    config = os.path.join(work, "distribution.yml")
    with open(config, "w") as f:
        f.write(
            "version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\n"
            f"storage:\n  filesystem:\n    rootdirectory: {storage}\n  delete:\n    enabled: true\n"
            f"http:\n  addr: 127.0.0.1:{port}\n"
        )
    process = subprocess.Popen([DISTRIBUTION, "serve", config], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_ready(f"http://127.0.0.1:{port}", process)
    return Server("docker-registry", f"127.0.0.1:{port}", process, storage)


def skopeo(*args: str) -> bool:
    result = subprocess.run(["skopeo", "--insecure-policy", *args], capture_output=True, timeout=600)
    if result.returncode != 0:
        sys.stderr.write(result.stderr.decode(errors="replace"))
    return result.returncode == 0


def timed(action: Callable[[], bool]) -> float:
    start = time.perf_counter()
    if not action():
        raise RuntimeError("skopeo failed")
    return time.perf_counter() - start


def image_mb(image: LayoutImage) -> float:
    return (sum(b.size for b in image.blobs) + image.manifest.size) / 1e6


def push(server: Server, image: LayoutImage, repo: str) -> float:
    os.sync()  # so that writeback of earlier runs does not land in this one
    ref = f"docker://{server.host}/bench/{repo}:v1"
    return image_mb(image) / timed(lambda: skopeo("copy", "-q", "--dest-tls-verify=false", image.reference, ref))


def pull(server: Server, image: LayoutImage, repo: str, work: str) -> float:
    dest = os.path.join(work, f"pull-{server.name}")
    os.sync()
    ref = f"docker://{server.host}/bench/{repo}:v1"
    try:
        return image_mb(image) / timed(lambda: skopeo("copy", "-q", "--src-tls-verify=false", ref, f"oci:{dest}:v1"))
    finally:
        shutil.rmtree(dest, ignore_errors=True)


def pull_many(server: Server, image: LayoutImage, repo: str, work: str, clients: int) -> tuple[float, int]:
    """Aggregate MB/s of ``clients`` simultaneous pulls, and how many failed."""
    ok: list[bool] = []
    ref = f"docker://{server.host}/bench/{repo}:v1"
    dests = [os.path.join(work, f"many-{server.name}-{n}") for n in range(clients)]

    def one(dest: str) -> None:
        ok.append(skopeo("copy", "-q", "--src-tls-verify=false", ref, f"oci:{dest}:v1"))

    threads = [threading.Thread(target=one, args=(dest,)) for dest in dests]
    os.sync()
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seconds = time.perf_counter() - start
    for dest in dests:
        shutil.rmtree(dest, ignore_errors=True)
    return image_mb(image) * ok.count(True) / seconds, ok.count(False)


def measure(servers: list[Server], images: list[LayoutImage], work: str, clients: int) -> dict[str, Result]:
    """Every measurement runs on each server in turn, the order alternating from run
    to run, so that neither registry profits from running first or last."""
    results = {s.name: Result() for s in servers}

    def in_turn(run: int) -> list[Server]:
        return servers if run % 2 == 0 else servers[::-1]

    for i, image in enumerate(images):
        for server in in_turn(i):
            results[server.name].push.append(push(server, image, f"app{i}"))
    for i, image in enumerate(images):
        for server in in_turn(i):
            results[server.name].pull.append(pull(server, image, f"app{i}", work))
    for i, image in enumerate(images):
        for server in in_turn(i):
            rate, failed = pull_many(server, image, f"app{i}", work, clients)
            results[server.name].concurrent.append(rate)
            results[server.name].failures += failed
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size-mb", type=int, default=100, help="image size in MB (default 100)")
    parser.add_argument("--layers", type=int, default=4, help="layers per image (default 4)")
    parser.add_argument("--repeat", type=int, default=3, help="push and pull runs per registry (default 3)")
    parser.add_argument("--clients", type=int, default=20, help="concurrent pulls (default 20)")
    args = parser.parse_args()
    if shutil.which("skopeo") is None:
        print("skopeo is not installed (apt-get install skopeo): nothing to measure")
        return 1
    work = tempfile.mkdtemp(prefix="berth-bench-registry-")
    servers: list[Server] = []
    try:
        layer = args.size_mb * 1_000_000 // args.layers
        print(f"building {args.repeat} images of {args.layers} x {layer / 1e6:.0f} MB random layers…", flush=True)
        images = [write_oci_layout(os.path.join(work, f"image{i}"), [layer] * args.layers, tag="v1") for i in range(args.repeat)]
        servers.append(start_berth(work))
        if os.path.exists(DISTRIBUTION):
            servers.append(start_distribution(work))
        else:
            print(f"docker-registry not found at {DISTRIBUTION} (apt-get install docker-registry): peer skipped")
        print("measuring " + ", ".join(f"{s.name} at {s.host}" for s in servers) + "…", flush=True)
        results = measure(servers, images, work, args.clients)
        print()
        print(f"image: {image_mb(images[0]):.1f} MB in {args.layers} layers; skopeo as the client; "
              f"medians of {args.repeat} runs each")
        print(f"{'registry':<18} {'push MB/s':>10} {'pull MB/s':>10} {f'{args.clients}x pull MB/s':>16} {'failures':>9}")
        for name, r in results.items():
            print(f"{name:<18} {statistics.median(r.push):>10.1f} {statistics.median(r.pull):>10.1f} "
                  f"{statistics.median(r.concurrent):>16.1f} {r.failures:>9}")
        if len(results) == 2:
            b, d = results["berth"], results["docker-registry"]
            print(f"{'berth / reference':<18} {statistics.median(b.push) / statistics.median(d.push):>10.2f} "
                  f"{statistics.median(b.pull) / statistics.median(d.pull):>10.2f} "
                  f"{statistics.median(b.concurrent) / statistics.median(d.concurrent):>16.2f}")
        return 0 if all(r.failures == 0 for r in results.values()) else 1
    finally:
        for server in servers:
            server.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
