"""Fixtures for the registry's unit tests: drivers, registries, a threaded server."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from berth.oci import mediatype as mt
from berth.oci.descriptor import Descriptor
from berth.oci.digest import Digest
from berth.oci.image import ImageConfig, Index, Manifest
from berth.registry.server.auth import Authorizer
from berth.registry.server.registry import Registry
from berth.registry.server.storage.api import StorageDriver
from berth.registry.server.storage.filesystem import FilesystemDriver
from berth.registry.server.storage.inmemory import InMemoryDriver
from berth.registry.server.tags import Actor

from .threaded import ThreadedRegistry

ALICE = Actor("alice", "127.0.0.1")


@pytest.fixture(params=["filesystem", "inmemory"])
def driver(request: pytest.FixtureRequest, tmp_path: Path) -> StorageDriver:
    """Each driver in turn: the shared behaviour suite runs against both."""
    if request.param == "filesystem":
        return FilesystemDriver(str(tmp_path / "storage"))
    return InMemoryDriver()


@pytest.fixture
def registry(driver: StorageDriver) -> Registry:
    return Registry(driver)


@pytest.fixture
def memory_registry() -> Registry:
    return Registry(InMemoryDriver())


@pytest.fixture
def fs_registry(tmp_path: Path) -> Registry:
    return Registry(FilesystemDriver(str(tmp_path / "storage")))


def push_blob(registry: Registry, name: str, data: bytes) -> Digest:
    """Upload ``data`` into ``name`` through an upload session, as a client would."""
    uploads = registry.uploads(name)
    status = uploads.start()
    writer = uploads.writer(status.upload_id)
    writer.write(data)
    return writer.commit(Digest.from_bytes(data)).digest


def push_image(
    registry: Registry, name: str, tag: str | None = None, layers: int = 2, actor: Actor = ALICE
) -> tuple[Digest, list[Digest]]:
    """Push random layers, a config and a manifest; returns (manifest digest, blob digests)."""
    descriptors = []
    for _ in range(layers):
        data = os.urandom(256)
        descriptors.append(Descriptor(mt.OCI_LAYER_GZIP, push_blob(registry, name, data), len(data)))
    config_bytes = ImageConfig("amd64", "linux", tuple(d.digest for d in descriptors)).to_bytes()
    config = Descriptor(mt.OCI_CONFIG, push_blob(registry, name, config_bytes), len(config_bytes))
    manifest = Manifest(mt.OCI_MANIFEST, config, tuple(descriptors)).to_bytes()
    digest = Digest.from_bytes(manifest)
    registry.manifests(name).put(tag or str(digest), manifest, mt.OCI_MANIFEST, actor)
    return digest, [config.digest, *(d.digest for d in descriptors)]


def push_index(registry: Registry, name: str, children: list[Digest], tag: str) -> Digest:
    store = registry.manifests(name)
    entries = tuple(
        Descriptor(mt.OCI_MANIFEST, d, len(registry.blobs.read(d))) for d in children
    )
    data = Index(mt.OCI_INDEX, entries).to_bytes()
    return store.put(tag, data, mt.OCI_INDEX, ALICE).digest


@pytest.fixture
def server(memory_registry: Registry) -> Iterator[ThreadedRegistry]:
    with ThreadedRegistry(memory_registry) as running:
        yield running


@pytest.fixture
def fs_server(fs_registry: Registry) -> Iterator[ThreadedRegistry]:
    with ThreadedRegistry(fs_registry) as running:
        yield running


@pytest.fixture
def http(server: ThreadedRegistry) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=10) as client:
        yield client


def open_server(registry: Registry, authorizer: Authorizer) -> ThreadedRegistry:
    return ThreadedRegistry(registry, authorizer).start()
