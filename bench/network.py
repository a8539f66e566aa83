#!/usr/bin/env python3
"""What networking costs: berth beside Docker and Podman.

Usage (root): .venv/bin/python bench/network.py [--runs N] [--mib M] [--no-peers]

1. Attach cost. berth, in one process: median of create_sandbox + connect (default
   bridge) + publish (one port) + release, against create_sandbox + release alone; the
   difference is what attaching adds. Then in a fresh interpreter per run, as a
   `berth run` pays it: importing berth.network and all of the above, against what
   `--network none` needs (a bare namespace, no berth.network). Docker and Podman:
   `run --rm IMAGE true` with the default bridge against `--network none`.
2. Published-port throughput. M MiB (default 1024) from the host into a container,
   through a published port on 127.0.0.1 against straight to the container's address.
   The sink is busybox `nc -l -p PORT > /dev/null` in every engine (same binary); for
   berth also a Python sink with 1 MiB reads, which busybox's small reads do not mask.

Every engine runs the same busybox: berth's sandbox runs the host's busybox-static,
Docker and Podman a `busybox:berth-net-bench` image imported from a rootfs made by
berth.testing.rootfs. Traffic goes only to 127.0.0.1 and to the containers' addresses.
A peer that cannot run is named with the reason in the table. dockerd is started when
it is not running (and stopped again); a running one is used as it is.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from berth.network import NetworkConfig, NetworkManager, PortBinding
from berth.state import open_database
from berth.testing.rootfs import make_busybox_rootfs

IMAGE = "busybox:berth-net-bench"
SINK_PORT = 5001
CONFIG = NetworkConfig(default_bridge="bbench0", default_subnet="10.251.0.0/16", pool="10.252.0.0/16",
                       table="berth_bench", bridge_prefix="bbn-", veth_prefix="vbb", dns_upstreams=())

Row = tuple[str, str, str]


def median_ms(fn: Callable[[int], None], runs: int, warmup: int = 3) -> float:
    for i in range(warmup):
        fn(-1 - i)
    samples = []
    for i in range(runs):
        start = time.perf_counter()
        fn(i)
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples)


def interleaved_ms(fns: dict[str, Callable[[int], object]], runs: int, warmup: int = 2) -> dict[str, float]:
    """Median ms of each function, run in turn, so load from elsewhere hits all alike."""
    samples: dict[str, list[float]] = {name: [] for name in fns}
    for i in range(warmup + runs):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn(i)
            if i >= warmup:
                samples[name].append((time.perf_counter() - start) * 1000)
    return {name: statistics.median(values) for name, values in samples.items()}


def send(host: str, port: int, mib: int, timeout: float = 10) -> float:
    """MiB/s of ``mib`` MiB sent to host:port, until the sink has read it all and closed."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            sock = socket.create_connection((host, port), timeout=2)
            break
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.02)
    buf = bytes(1 << 20)
    with sock:
        sock.settimeout(120)
        start = time.perf_counter()
        for _ in range(mib):
            sock.sendall(buf)
        sock.shutdown(socket.SHUT_WR)
        sock.recv(1)  # EOF: the sink has everything
        return mib / (time.perf_counter() - start)


def run(cmd: list[str], timeout: float = 120) -> str:
    done = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)}: exit {done.returncode}: {done.stderr.strip()[-300:]}")
    return done.stdout.strip()


# --- berth ----------------------------------------------------------------------------


@contextmanager
def berth_manager() -> Iterator[NetworkManager]:
    folder = tempfile.mkdtemp(prefix="berth-net-bench-")
    root, run_root = os.path.join(folder, "root"), os.path.join(folder, "run")
    os.makedirs(run_root)
    nm = NetworkManager(open_database(root), root, run_root, config=CONFIG)
    try:
        yield nm
    finally:
        for net in nm.list({"type": "custom"}):
            nm.remove(net.id)
        nm.teardown()
        shutil.rmtree(folder, ignore_errors=True)


def berth_attach(nm: NetworkManager, runs: int) -> list[Row]:
    nm.default()

    def bare(i: int) -> None:
        cid = f"bare{i + 10:04d}".ljust(64, "0")
        nm.create_sandbox(cid)
        nm.release(cid)

    def attached(i: int) -> None:
        cid = f"att{i + 10:04d}".ljust(64, "0")
        ep = nm.connect(cid, "bridge", nm.create_sandbox(cid))
        nm.publish(cid, ep, [PortBinding("", 0, 80, "tcp")])
        nm.release(cid)

    nm.create("benchnet")

    def user_net(i: int) -> None:
        cid = f"usr{i + 10:04d}".ljust(64, "0")
        ep = nm.connect(cid, "benchnet", nm.create_sandbox(cid), name=f"c{i + 10}", aliases=("svc",))
        nm.publish(cid, ep, [PortBinding("127.0.0.1", 0, 80, "tcp")])
        nm.release(cid)

    base = median_ms(bare, runs)
    full = median_ms(attached, runs)
    user = median_ms(user_net, runs)
    return [
        ("berth, in process: sandbox + release", f"{base:.2f} ms", ""),
        ("berth, in process: + connect bridge + publish 1 port", f"{full:.2f} ms", f"adds {full - base:.2f} ms"),
        ("berth, in process: + connect user network (DNS) + publish", f"{user:.2f} ms", f"adds {user - base:.2f} ms"),
    ]


COLD = """
import sys
import berth.oci.spec  # every `berth run` builds a runtime spec, whatever the network
from berth.state import open_database
root, run_root, cid, mode = sys.argv[1:5]
db = open_database(root)
db.conn  # a `berth run` opens the state database whatever the network
if mode == "none":  # what --network none needs: a namespace of its own, no berth.network
    from berth.sys import netns
    path = f"{run_root}/none-{cid}"
    netns.create(path)
    netns.delete(path)
else:
    from berth.network import NetworkConfig, NetworkManager, PortBinding
    cfg = NetworkConfig(default_bridge="bbench0", default_subnet="10.251.0.0/16", pool="10.252.0.0/16",
                        table="berth_bench", bridge_prefix="bbn-", veth_prefix="vbb", dns_upstreams=())
    nm = NetworkManager(db, root, run_root, config=cfg)
    ep = nm.connect(cid, "bridge", nm.create_sandbox(cid))
    nm.publish(cid, ep, [PortBinding("", 0, 80, "tcp")])
    nm.release(cid)
"""


def berth_cold(nm: NetworkManager, runs: int) -> list[Row]:
    nm.default()

    def fresh(mode: str) -> Callable[[int], None]:
        def go(i: int) -> None:
            cid = f"{mode}{i + 10:04d}".ljust(64, "0")
            run([sys.executable, "-c", COLD, nm.root, nm.run_root, cid, mode])
        return go

    medians = interleaved_ms({"none": fresh("none"), "attach": fresh("attach")}, runs)
    base, full = medians["none"], medians["attach"]
    return [
        ("berth, fresh interpreter: spec types, db, bare netns (--network none)", f"{base:.1f} ms", ""),
        ("berth, fresh interpreter: + import berth.network, sandbox, connect, publish, release",
         f"{full:.1f} ms", f"adds {full - base:.1f} ms"),
    ]


def berth_throughput(nm: NetworkManager, mib: int, reps: int) -> list[Row]:
    nm.default()
    cid = "tput".ljust(64, "0")
    ep = nm.connect(cid, "bridge", nm.create_sandbox(cid))
    (binding,) = nm.publish(cid, ep, [PortBinding("127.0.0.1", 0, SINK_PORT, "tcp")])
    sinks = {
        "busybox nc": ["busybox", "nc", "-l", "-p", str(SINK_PORT)],
        "python": [sys.executable, "-c",
                   "import socket; s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1);"
                   f"s.bind(('0.0.0.0', {SINK_PORT})); s.listen(); c, _ = s.accept(); b = bytearray(1 << 20)\n"
                   "while c.recv_into(b): pass\nc.close()"],
    }
    rows: list[Row] = []
    try:
        for sink_name, sink in sinks.items():
            result: dict[str, list[float]] = {"direct": [], "published": []}
            for _ in range(reps):  # interleaved: load from elsewhere hits both alike
                for where, (host, port) in (("direct", (str(ep.ip), SINK_PORT)),
                                            ("published", ("127.0.0.1", binding.host_port))):
                    proc = subprocess.Popen(["nsenter", f"--net={ep.netns}", *sink], stdin=subprocess.DEVNULL,
                                            stdout=subprocess.DEVNULL)
                    try:
                        result[where].append(send(host, port, mib))
                    finally:
                        proc.wait(timeout=60)
            rows.append(_throughput_row(f"berth throughput, {sink_name} sink", result))
    finally:
        nm.release(cid)
    return rows


# --- Docker and Podman ----------------------------------------------------------------


def image_tar(folder: str) -> str:
    rootfs = make_busybox_rootfs(os.path.join(folder, "rootfs"))
    tar_path = os.path.join(folder, "busybox.tar")
    with tarfile.open(tar_path, "w") as tar:
        for name in sorted(os.listdir(rootfs)):
            tar.add(os.path.join(rootfs, name), arcname=name)
    return tar_path


@contextmanager
def dockerd() -> Iterator[None]:
    """A running dockerd: the one already there, or one started (and stopped) here."""
    if run_ok(["docker", "info"]):
        yield
        return
    if shutil.which("dockerd") is None:
        raise RuntimeError("dockerd is not installed (Debian: docker.io)")
    log = open(os.path.join(tempfile.gettempdir(), "berth-bench-dockerd.log"), "ab")
    proc = subprocess.Popen(["dockerd"], stdout=log, stderr=log, stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while not run_ok(["docker", "info"]):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("dockerd did not come up (see berth-bench-dockerd.log)")
            time.sleep(0.5)
        yield
    finally:
        proc.terminate()
        proc.wait(timeout=60)
        log.close()


def run_ok(cmd: list[str]) -> bool:
    try:
        return subprocess.run(cmd, capture_output=True, timeout=30).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def peer(engine: str, tar_path: str, runs: int, mib: int, reps: int) -> list[Row]:
    run([engine, "import", tar_path, IMAGE])
    try:
        return _peer(engine, runs, mib, reps)
    finally:
        subprocess.run([engine, "rmi", "-f", IMAGE], capture_output=True)


def _peer(engine: str, runs: int, mib: int, reps: int) -> list[Row]:
    def start(network: str) -> Callable[[int], object]:
        extra = ["--network", "none"] if network == "none" else []
        return lambda _i: run([engine, "run", "--rm", *extra, IMAGE, "true"])

    medians = interleaved_ms({"bridge": start("bridge"), "none": start("none")}, runs)
    bridge, none = medians["bridge"], medians["none"]
    rows: list[Row] = [(f"{engine} run --rm true: --network none / bridge", f"{none:.0f} / {bridge:.0f} ms",
                        f"bridge adds {bridge - none:.0f} ms")]
    result: dict[str, list[float]] = {"direct": [], "published": []}
    for _ in range(reps):  # interleaved, as for berth
        for where in ("direct", "published"):
            cid = run([engine, "run", "-d", "-p", f"127.0.0.1::{SINK_PORT}", IMAGE, "sh", "-c",
                       f"nc -l -p {SINK_PORT} > /dev/null"])
            try:
                if where == "direct":
                    host = run([engine, "inspect", "-f", "{{.NetworkSettings.IPAddress}}", cid])
                    if not host:  # podman keeps it per network
                        host = run([engine, "inspect", "-f",
                                    "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", cid])
                    port = SINK_PORT
                else:
                    host, _, port_text = run([engine, "port", cid, f"{SINK_PORT}/tcp"]).splitlines()[0].rpartition(":")
                    port = int(port_text)
                result[where].append(send(host, port, mib))
                run([engine, "wait", cid], timeout=120)
            finally:
                run([engine, "rm", "-f", cid])
    rows.append(_throughput_row(f"{engine} throughput, busybox nc sink", result))
    return rows


def _throughput_row(what: str, result: dict[str, list[float]]) -> Row:
    direct, published = statistics.median(result["direct"]), statistics.median(result["published"])
    spread = max(result["direct"] + result["published"]) / min(result["direct"] + result["published"])
    return (f"{what}: direct / published 127.0.0.1", f"{direct:.0f} / {published:.0f} MiB/s",
            f"published = {published / direct:.0%} (max/min of all runs {spread:.1f}x)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=30, help="timed runs per attach figure (peers: a third)")
    parser.add_argument("--mib", type=int, default=1024, help="MiB per throughput transfer")
    parser.add_argument("--reps", type=int, default=5, help="transfers per throughput figure")
    parser.add_argument("--no-peers", action="store_true", help="berth only")
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("bench/network.py needs root (namespaces, bridges, nftables)", file=sys.stderr)
        return 1
    rows: list[Row] = []
    load_before = f"{os.getloadavg()[0]:.2f}"
    with berth_manager() as nm:
        rows += berth_attach(nm, args.runs)
        rows += berth_cold(nm, max(5, args.runs // 2))
        rows += berth_throughput(nm, args.mib, args.reps)
    if not args.no_peers:
        folder = tempfile.mkdtemp(prefix="berth-net-bench-img-")
        try:
            tar_path = image_tar(folder)
            peer_runs = max(5, args.runs // 3)
            try:
                with dockerd():
                    rows += peer("docker", tar_path, peer_runs, args.mib, args.reps)
            except (RuntimeError, OSError, subprocess.TimeoutExpired) as err:
                rows.append(("docker", "skipped", str(err)[:100]))
            try:
                rows += peer("podman", tar_path, peer_runs, args.mib, args.reps)
            except (RuntimeError, OSError, subprocess.TimeoutExpired) as err:
                rows.append(("podman", "skipped", str(err)[:100]))
        finally:
            shutil.rmtree(folder, ignore_errors=True)
    rows.append(("load average (1 min) before / after", f"{load_before} / {os.getloadavg()[0]:.2f}",
                 f"{os.cpu_count()} CPUs; the machine is shared"))
    width = max(len(r[0]) for r in rows)
    value_width = max(len(r[1]) for r in rows)
    print(f"{'what':<{width}}  {'figure':>{value_width}}  note")
    for what, figure, note in rows:
        print(f"{what:<{width}}  {figure:>{value_width}}  {note}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
