"""The registry client's interfaces (after containerd's core/remotes/resolver.go).

Vocabulary
    resolver  knows how to reach one registry: it turns a reference into the
              descriptor of what the reference names (``resolve``), streams the content
              of a descriptor (``fetch``) and writes content to the registry (``push``).
    descriptor  media type, digest and size of a manifest, index, config or layer; the
              only thing the pull and push walks pass around.
    scope     what a request needs to be allowed: ``repository:library/busybox:pull``.

A pull is a walk over descriptors: resolve the reference, fetch the index or manifest,
choose the platform, then fetch the config and the layers. A push is the same walk
from the local side: every blob that the registry lacks is written, the manifest last.

``push`` raises AlreadyExists when the registry already has the blob (a HEAD found it,
or a cross-repository mount made it appear): the caller skips it. Errors are berth's
classes (``berth.registry.client.errors`` maps statuses and OCI error codes onto them).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import BinaryIO, Protocol

from berth.oci.descriptor import Descriptor
from berth.oci.digest import Digest
from berth.oci.reference import Reference


class BlobWriter(Protocol):
    """Streams one blob or manifest to the registry; ``commit`` finishes the upload and
    checks the digest the registry computed. Closing without a commit cancels it."""

    def write(self, data: bytes | bytearray | memoryview) -> int: ...

    def commit(self) -> Digest: ...

    def close(self) -> None: ...


class Resolver(Protocol):
    def resolve(self, ref: Reference) -> tuple[str, Descriptor]:
        """The canonical name of ``ref`` and the descriptor of the manifest or index it
        names. Raises ImageNotFound when the registry has no such tag or digest."""
        ...

    def fetch(self, ref: Reference, desc: Descriptor, offset: int = 0) -> BinaryIO:
        """The content of ``desc`` (a manifest by digest, or a blob) from ``offset`` on;
        the caller closes it and verifies what it reads."""
        ...

    def push(self, ref: Reference, desc: Descriptor) -> BlobWriter:
        """A writer for ``desc``: a blob when its media type is not a manifest's or an
        index's, else the manifest (tagged with ``ref.tag`` when it has one). Raises
        AlreadyExists when the registry already has the blob."""
        ...


Handler = Callable[[Descriptor], list[Descriptor]]


def walk(handler: Handler, *roots: Descriptor) -> None:
    """Depth-first over descriptors: ``handler`` returns each one's children."""
    stack = list(reversed(roots))
    while stack:
        desc = stack.pop()
        stack.extend(reversed(handler(desc)))


@dataclass(frozen=True, slots=True)
class Scope:
    """A resource scope of Docker's token protocol: ``repository:NAME:pull,push``."""

    type: str
    name: str
    actions: tuple[str, ...]

    @classmethod
    def repository(cls, name: str, *actions: str) -> Scope:
        return cls("repository", name, tuple(actions))

    @classmethod
    def parse(cls, text: str) -> Scope:
        kind, _, rest = text.partition(":")
        name, _, actions = rest.rpartition(":")
        if not kind or not name:
            return cls(kind, rest, ())
        return cls(kind, name, tuple(a for a in actions.split(",") if a))

    def __str__(self) -> str:
        return f"{self.type}:{self.name}:{','.join(self.actions)}"


def merge_scopes(scopes: list[Scope] | tuple[Scope, ...]) -> tuple[Scope, ...]:
    """One scope per resource, actions united in a stable order (pull before push), the
    resources sorted: so equal needs give equal cache keys."""
    order = {"pull": 0, "push": 1, "delete": 2, "*": 3}
    merged: dict[tuple[str, str], set[str]] = {}
    for scope in scopes:
        merged.setdefault((scope.type, scope.name), set()).update(scope.actions)
    return tuple(Scope(kind, name, tuple(sorted(actions, key=lambda a: (order.get(a, 9), a))))
                 for (kind, name), actions in sorted(merged.items()))
