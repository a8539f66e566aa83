"""Content digests: ``algorithm:encoded`` (OCI image spec, descriptor.md#digests)."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import BinaryIO

from berth.errors import InvalidArgument

# The grammar from the spec, restricted to the registered algorithms berth can verify.
_ENCODED = {
    "sha256": re.compile(r"^[a-f0-9]{64}$"),
    "sha512": re.compile(r"^[a-f0-9]{128}$"),
}
_GENERIC = re.compile(r"^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$")


@dataclass(frozen=True, slots=True, order=True)
class Digest:
    """A validated digest such as ``sha256:e3b0…``."""

    algorithm: str
    encoded: str

    @classmethod
    def parse(cls, text: str) -> Digest:
        if not isinstance(text, str) or not _GENERIC.match(text):
            raise InvalidArgument(f"digest {text!r}: invalid format")
        algorithm, encoded = text.split(":", 1)
        pattern = _ENCODED.get(algorithm)
        if pattern is None:
            raise InvalidArgument(f"digest {text!r}: unsupported algorithm {algorithm}")
        if not pattern.match(encoded):
            raise InvalidArgument(f"digest {text!r}: invalid {algorithm} hex")
        return cls(algorithm, encoded)

    @classmethod
    def from_bytes(cls, data: bytes, algorithm: str = "sha256") -> Digest:
        return cls(algorithm, hashlib.new(algorithm, data).hexdigest())

    @classmethod
    def from_hex(cls, hexdigest: str) -> Digest:
        return cls.parse("sha256:" + hexdigest)

    @classmethod
    def from_stream(cls, stream: BinaryIO, algorithm: str = "sha256") -> tuple[Digest, int]:
        """Digest and size of everything left in ``stream``."""
        h = hashlib.new(algorithm)
        size = 0
        while chunk := stream.read(1 << 20):
            h.update(chunk)
            size += len(chunk)
        return cls(algorithm, h.hexdigest()), size

    def hasher(self) -> hashlib._Hash:
        return hashlib.new(self.algorithm)

    @property
    def short(self) -> str:
        """The first 12 hex digits, as Docker prints image and container ids."""
        return self.encoded[:12]

    def __str__(self) -> str:
        return f"{self.algorithm}:{self.encoded}"


def is_digest(text: str) -> bool:
    try:
        Digest.parse(text)
    except InvalidArgument:
        return False
    return True
