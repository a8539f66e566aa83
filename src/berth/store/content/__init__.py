"""Blobs by digest: the ContentStore protocol and its implementations."""

from berth.store.content.api import (
    BlobInfo,
    ContentStore,
    ContentWriter,
    IngestInfo,
    has_blob,
    read_blob,
    write_blob,
)
from berth.store.content.local import LocalContentStore
from berth.store.content.memory import MemoryContentStore

__all__ = [
    "BlobInfo",
    "ContentStore",
    "ContentWriter",
    "IngestInfo",
    "LocalContentStore",
    "MemoryContentStore",
    "has_blob",
    "read_blob",
    "write_blob",
]
