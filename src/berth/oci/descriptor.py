"""Content descriptors (OCI image spec, descriptor.md) and platforms."""

from __future__ import annotations

import platform as _platform
from dataclasses import dataclass, field
from typing import Any

from berth.errors import InvalidArgument
from berth.oci.digest import Digest
from berth.oci.jsonutil import Fields, JSONObject

_GOARCH = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "i686": "386", "ppc64le": "ppc64le", "s390x": "s390x"}


@dataclass(frozen=True, slots=True)
class Platform:
    os: str = "linux"
    architecture: str = "amd64"
    variant: str | None = None
    os_version: str | None = None

    @classmethod
    def host(cls) -> Platform:
        machine = _platform.machine()
        variant = "v8" if machine == "aarch64" else ("v7" if machine == "armv7l" else None)
        return cls("linux", _GOARCH.get(machine, machine), variant)

    @classmethod
    def parse(cls, text: str) -> Platform:
        """``linux/arm64/v8`` → Platform; ``linux`` alone means the host architecture."""
        parts = text.split("/")
        if not parts[0] or len(parts) > 3 or any(not p for p in parts):
            raise InvalidArgument(f"platform {text!r}: expected os[/arch[/variant]]")
        arch = parts[1] if len(parts) > 1 else cls.host().architecture
        return cls(parts[0], arch, parts[2] if len(parts) > 2 else None)

    @classmethod
    def from_json(cls, f: Fields) -> Platform:
        return cls(f.req_str("os"), f.req_str("architecture"), f.opt_str("variant"), f.opt_str("os.version"))

    def to_json(self) -> JSONObject:
        out: JSONObject = {"architecture": self.architecture, "os": self.os}
        if self.variant:
            out["variant"] = self.variant
        if self.os_version:
            out["os.version"] = self.os_version
        return out

    def matches(self, other: Platform) -> bool:
        """True when ``other`` (an index entry) can run where ``self`` is wanted."""
        if self.os != other.os or self.architecture != other.architecture:
            return False
        if self.variant and other.variant and self.variant != other.variant:
            return False
        return True

    def __str__(self) -> str:
        return "/".join(p for p in (self.os, self.architecture, self.variant) if p)


@dataclass(frozen=True, slots=True)
class Descriptor:
    media_type: str
    digest: Digest
    size: int
    annotations: dict[str, str] = field(default_factory=dict)
    platform: Platform | None = None
    urls: tuple[str, ...] = ()
    artifact_type: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    _KNOWN = frozenset({"mediaType", "digest", "size", "annotations", "platform", "urls", "artifactType"})

    @classmethod
    def from_json(cls, f: Fields) -> Descriptor:
        size = f.opt_int("size", required=True)
        assert size is not None
        if size < 0:
            raise f.error("size", "must not be negative")
        try:
            digest = Digest.parse(f.req_str("digest"))
        except InvalidArgument as err:
            raise f.error("digest", str(err)) from err
        plat = f.obj_or_none("platform")
        return cls(
            media_type=f.req_str("mediaType"),
            digest=digest,
            size=size,
            annotations=f.str_map("annotations"),
            platform=Platform.from_json(plat) if plat else None,
            urls=tuple(f.str_list("urls") or ()),
            artifact_type=f.opt_str("artifactType"),
            extra=f.extra(cls._KNOWN),
        )

    def to_json(self) -> JSONObject:
        out: JSONObject = {"mediaType": self.media_type, "digest": str(self.digest), "size": self.size}
        if self.annotations:
            out["annotations"] = dict(self.annotations)
        if self.platform:
            out["platform"] = self.platform.to_json()
        if self.urls:
            out["urls"] = list(self.urls)
        if self.artifact_type:
            out["artifactType"] = self.artifact_type
        out.update(self.extra)
        return out
