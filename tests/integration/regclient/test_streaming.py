"""Layers unpack while they download, and an interrupted pull resumes: docker-registry
behind a throttling proxy, so a large layer takes seconds to arrive."""

from __future__ import annotations

import glob
import os
import signal
import threading
import time
from pathlib import Path

from berth.oci.reference import Reference
from berth.registry.client.progress import Recorder
from berth.registry.client.pull import PullOptions, pull
from berth.registry.client.session import Session
from berth.state import open_database
from berth.store import open_store
from berth.testing.distribution import DistributionRegistry
from berth.testing.oci_images import write_image

from .conftest import Berth, skopeo_push
from .helpers import Proxy

MB = 1 << 20


def test_a_layer_is_unpacked_while_it_downloads(registry: DistributionRegistry, tmp_path: Path) -> None:
    image = write_image(str(tmp_path / "layout"), [256 << 10, 16 * MB], tag="1")
    skopeo_push(image.source, f"{registry.host}/big/app:1")
    root = str(tmp_path / "root")
    store = open_store(root, open_database(root))
    small, big = (d.digest.short for d in image.layers)
    with Proxy(registry.host, rate=6 * MB) as proxy:
        recorder = Recorder()
        seen: list[tuple[int, bool]] = []  # (bytes of layer1.bin on disk, big layer downloaded yet)
        failure: list[BaseException] = []

        def run() -> None:
            try:
                with Session() as session:
                    pull(store, session, Reference.parse(f"{proxy.host}/big/app:1"), PullOptions(), recorder)
            except BaseException as err:
                failure.append(err)

        worker = threading.Thread(target=run)
        worker.start()
        while worker.is_alive():
            downloaded = recorder.first(big, "Download complete") is not None
            for path in glob.glob(os.path.join(root, "snapshots", "*", "fs", "layer1.bin")):
                try:
                    seen.append((os.path.getsize(path), downloaded))
                except FileNotFoundError:
                    pass
            time.sleep(0.02)
        worker.join()
    assert not failure, failure
    partial = [size for size, downloaded in seen if not downloaded and 0 < size < 16 * MB]
    assert partial, "layer1.bin never grew before its layer had finished downloading"
    small_done = recorder.first(small, "Pull complete")
    big_downloaded = recorder.first(big, "Download complete")
    assert small_done is not None and big_downloaded is not None
    assert small_done.time < big_downloaded.time
    assert store.images.get(f"{proxy.host}/big/app:1").id == image.config.digest
    assert store.check().problems == []


def test_an_interrupted_pull_keeps_its_bytes_and_resumes(cli: Berth, registry: DistributionRegistry,
                                                         tmp_path: Path) -> None:
    image = write_image(str(tmp_path / "layout"), [64 << 10, 24 * MB], tag="1")
    skopeo_push(image.source, f"{registry.host}/slow/app:1")
    big = image.layers[1]
    with Proxy(registry.host, rate=8 * MB) as proxy:
        ref = f"{proxy.host}/slow/app:1"
        process = cli.popen("pull", ref)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            got = [r.sent for r in proxy.state.requests("GET", str(big.digest))]
            if got and got[0] > 8 * MB:
                break
            time.sleep(0.05)
        process.send_signal(signal.SIGKILL)
        process.communicate()
        first = proxy.state.requests("GET", str(big.digest))[0].sent
        assert 0 < first < big.size
        assert os.listdir(cli.root / "content" / "ingest"), "the partial download was not kept"
        proxy.state.rate = None
        out = cli.run("pull", ref).stdout
        assert f"{image.layers[0].digest.short}: Already exists" in out
        assert f"{big.digest.short}: Pull complete" in out
        resumed = proxy.state.requests("GET", str(big.digest))[1]
        assert resumed.range is not None and resumed.range.startswith("bytes=")
        offset = int(resumed.range.split("=", 1)[1].rstrip("-"))
        assert offset > 4 * MB
        assert resumed.sent == big.size - offset
    check = cli.run("system", "check", check=False)
    assert check.returncode == 0, check.stdout
    assert cli.inspect(ref)["Id"] == str(image.config.digest)
