"""Image manifests, indexes and configs: OCI image spec and Docker schema 2.

Both families share one shape here; ``media_type`` says which it was. Parsed documents
keep unknown fields in ``extra`` so that re-encoding loses nothing, but digests are
always computed over the bytes as stored, never over a re-encoding.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from berth.errors import InvalidArgument
from berth.oci import mediatype as mt
from berth.oci.descriptor import Descriptor, Platform
from berth.oci.digest import Digest
from berth.oci.jsonutil import FieldError, Fields, JSONObject, dumps_canonical, loads_object


@dataclass(frozen=True, slots=True)
class Manifest:
    media_type: str
    config: Descriptor
    layers: tuple[Descriptor, ...]
    annotations: dict[str, str] = field(default_factory=dict)
    subject: Descriptor | None = None
    artifact_type: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    _KNOWN = frozenset({"schemaVersion", "mediaType", "config", "layers", "annotations", "subject", "artifactType"})

    @classmethod
    def from_bytes(cls, data: bytes, media_type: str | None = None) -> Manifest:
        f = Fields(loads_object(data, "manifest"), "manifest")
        if f.opt_int("schemaVersion") != 2:
            raise f.error("schemaVersion", "must be 2")
        declared = f.opt_str("mediaType")
        kind = declared or media_type or mt.OCI_MANIFEST
        if media_type and declared and declared != media_type:
            raise f.error("mediaType", f"{declared} does not match {media_type}")
        if kind not in mt.MANIFEST_TYPES:
            raise f.error("mediaType", f"{kind} is not an image manifest")
        config = f.obj_or_none("config")
        if config is None:
            raise f.error("config", "required")
        subject = f.obj_or_none("subject")
        return cls(
            media_type=kind,
            config=Descriptor.from_json(config),
            layers=tuple(Descriptor.from_json(layer) for layer in f.objects("layers")),
            annotations=f.str_map("annotations"),
            subject=Descriptor.from_json(subject) if subject else None,
            artifact_type=f.opt_str("artifactType"),
            extra=f.extra(cls._KNOWN),
        )

    def to_json(self) -> JSONObject:
        out: JSONObject = {
            "schemaVersion": 2,
            "mediaType": self.media_type,
            "config": self.config.to_json(),
            "layers": [layer.to_json() for layer in self.layers],
        }
        if self.annotations:
            out["annotations"] = dict(self.annotations)
        if self.subject:
            out["subject"] = self.subject.to_json()
        if self.artifact_type:
            out["artifactType"] = self.artifact_type
        out.update(self.extra)
        return out

    def to_bytes(self) -> bytes:
        return dumps_canonical(self.to_json())


@dataclass(frozen=True, slots=True)
class Index:
    media_type: str
    manifests: tuple[Descriptor, ...]
    annotations: dict[str, str] = field(default_factory=dict)
    subject: Descriptor | None = None
    artifact_type: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    _KNOWN = frozenset({"schemaVersion", "mediaType", "manifests", "annotations", "subject", "artifactType"})

    @classmethod
    def from_bytes(cls, data: bytes, media_type: str | None = None) -> Index:
        f = Fields(loads_object(data, "index"), "index")
        if f.opt_int("schemaVersion") != 2:
            raise f.error("schemaVersion", "must be 2")
        kind = f.opt_str("mediaType") or media_type or mt.OCI_INDEX
        if kind not in mt.INDEX_TYPES:
            raise f.error("mediaType", f"{kind} is not an image index")
        subject = f.obj_or_none("subject")
        return cls(
            media_type=kind,
            manifests=tuple(Descriptor.from_json(m) for m in f.objects("manifests")),
            annotations=f.str_map("annotations"),
            subject=Descriptor.from_json(subject) if subject else None,
            artifact_type=f.opt_str("artifactType"),
            extra=f.extra(cls._KNOWN),
        )

    def to_json(self) -> JSONObject:
        out: JSONObject = {
            "schemaVersion": 2,
            "mediaType": self.media_type,
            "manifests": [m.to_json() for m in self.manifests],
        }
        if self.annotations:
            out["annotations"] = dict(self.annotations)
        if self.subject:
            out["subject"] = self.subject.to_json()
        if self.artifact_type:
            out["artifactType"] = self.artifact_type
        out.update(self.extra)
        return out

    def to_bytes(self) -> bytes:
        return dumps_canonical(self.to_json())

    def select(self, want: Platform) -> Descriptor:
        """The manifest for ``want``; raises NotFound-like InvalidArgument when none fits."""
        for desc in self.manifests:
            if desc.platform and want.matches(desc.platform) and desc.media_type in mt.MANIFEST_TYPES:
                return desc
        for desc in self.manifests:  # nested indexes and entries without a platform
            if desc.platform is None and desc.media_type in mt.MANIFEST_TYPES | mt.INDEX_TYPES:
                return desc
        raise InvalidArgument(f"image index: no manifest for platform {want}")


def sniff_media_type(data: bytes) -> str:
    """The media type a manifest or index declares (or implies by its shape)."""
    obj = loads_object(data, "manifest")
    declared = obj.get("mediaType")
    if isinstance(declared, str) and declared:
        return declared
    if "manifests" in obj:
        return mt.OCI_INDEX
    if "config" in obj:
        return mt.OCI_MANIFEST
    raise FieldError("manifest", "mediaType", "cannot tell a manifest from an index")


@dataclass(frozen=True, slots=True)
class HealthConfig:
    test: tuple[str, ...] = ()
    interval: int = 0  # nanoseconds, as Docker stores them
    timeout: int = 0
    start_period: int = 0
    start_interval: int = 0
    retries: int = 0

    @classmethod
    def from_json(cls, f: Fields) -> HealthConfig:
        return cls(
            tuple(f.str_list("Test") or ()),
            f.opt_int("Interval", 0) or 0,
            f.opt_int("Timeout", 0) or 0,
            f.opt_int("StartPeriod", 0) or 0,
            f.opt_int("StartInterval", 0) or 0,
            f.opt_int("Retries", 0) or 0,
        )

    def to_json(self) -> JSONObject:
        out: JSONObject = {"Test": list(self.test)}
        for key, value in (
            ("Interval", self.interval),
            ("Timeout", self.timeout),
            ("StartPeriod", self.start_period),
            ("StartInterval", self.start_interval),
            ("Retries", self.retries),
        ):
            if value:
                out[key] = value
        return out


@dataclass(frozen=True, slots=True)
class ContainerConfig:
    """The ``config`` object of an image config: how a container of this image runs."""

    user: str = ""
    exposed_ports: tuple[str, ...] = ()
    env: tuple[str, ...] = ()
    entrypoint: tuple[str, ...] | None = None
    cmd: tuple[str, ...] | None = None
    volumes: tuple[str, ...] = ()
    working_dir: str = ""
    labels: dict[str, str] = field(default_factory=dict)
    stop_signal: str = ""
    healthcheck: HealthConfig | None = None
    on_build: tuple[str, ...] = ()
    shell: tuple[str, ...] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    _KNOWN = frozenset(
        {
            "User",
            "ExposedPorts",
            "Env",
            "Entrypoint",
            "Cmd",
            "Volumes",
            "WorkingDir",
            "Labels",
            "StopSignal",
            "Healthcheck",
            "OnBuild",
            "Shell",
        }
    )

    @classmethod
    def from_json(cls, f: Fields) -> ContainerConfig:
        health = f.obj_or_none("Healthcheck")
        entrypoint = f.str_list("Entrypoint")
        cmd = f.str_list("Cmd")
        shell = f.str_list("Shell")
        return cls(
            user=f.opt_str("User", "") or "",
            exposed_ports=tuple(sorted((f.raw("ExposedPorts") or {}).keys())),
            env=tuple(f.str_list("Env") or ()),
            entrypoint=tuple(entrypoint) if entrypoint is not None else None,
            cmd=tuple(cmd) if cmd is not None else None,
            volumes=tuple(sorted((f.raw("Volumes") or {}).keys())),
            working_dir=f.opt_str("WorkingDir", "") or "",
            labels=f.str_map("Labels"),
            stop_signal=f.opt_str("StopSignal", "") or "",
            healthcheck=HealthConfig.from_json(health) if health else None,
            on_build=tuple(f.str_list("OnBuild") or ()),
            shell=tuple(shell) if shell is not None else None,
            extra=f.extra(cls._KNOWN),
        )

    def to_json(self) -> JSONObject:
        out: JSONObject = dict(self.extra)
        if self.user:
            out["User"] = self.user
        if self.exposed_ports:
            out["ExposedPorts"] = {p: {} for p in self.exposed_ports}
        if self.env:
            out["Env"] = list(self.env)
        if self.entrypoint is not None:
            out["Entrypoint"] = list(self.entrypoint)
        if self.cmd is not None:
            out["Cmd"] = list(self.cmd)
        if self.volumes:
            out["Volumes"] = {v: {} for v in self.volumes}
        if self.working_dir:
            out["WorkingDir"] = self.working_dir
        if self.labels:
            out["Labels"] = dict(self.labels)
        if self.stop_signal:
            out["StopSignal"] = self.stop_signal
        if self.healthcheck is not None:
            out["Healthcheck"] = self.healthcheck.to_json()
        if self.on_build:
            out["OnBuild"] = list(self.on_build)
        if self.shell is not None:
            out["Shell"] = list(self.shell)
        return out

    def env_map(self) -> dict[str, str]:
        out: dict[str, str] = {}
        for item in self.env:
            key, _, value = item.partition("=")
            out[key] = value
        return out


@dataclass(frozen=True, slots=True)
class History:
    created: str | None = None
    created_by: str = ""
    author: str = ""
    comment: str = ""
    empty_layer: bool = False

    @classmethod
    def from_json(cls, f: Fields) -> History:
        return cls(
            f.opt_str("created"),
            f.opt_str("created_by", "") or "",
            f.opt_str("author", "") or "",
            f.opt_str("comment", "") or "",
            f.flag("empty_layer"),
        )

    def to_json(self) -> JSONObject:
        out: JSONObject = {}
        if self.created:
            out["created"] = self.created
        if self.created_by:
            out["created_by"] = self.created_by
        if self.author:
            out["author"] = self.author
        if self.comment:
            out["comment"] = self.comment
        if self.empty_layer:
            out["empty_layer"] = True
        return out


@dataclass(frozen=True, slots=True)
class ImageConfig:
    architecture: str
    os: str
    diff_ids: tuple[Digest, ...]
    config: ContainerConfig = field(default_factory=ContainerConfig)
    created: str | None = None
    author: str = ""
    history: tuple[History, ...] = ()
    variant: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    _KNOWN = frozenset({"architecture", "os", "rootfs", "config", "created", "author", "history", "variant"})

    @classmethod
    def from_bytes(cls, data: bytes) -> ImageConfig:
        f = Fields(loads_object(data, "image config"), "image config")
        rootfs = f.obj_or_none("rootfs")
        if rootfs is None:
            raise f.error("rootfs", "required")
        if rootfs.opt_str("type") != "layers":
            raise rootfs.error("type", "must be 'layers'")
        diff_ids = []
        for i, text in enumerate(rootfs.str_list("diff_ids") or []):
            try:
                diff_ids.append(Digest.parse(text))
            except InvalidArgument as err:
                raise FieldError("image config", f"rootfs.diff_ids[{i}]", str(err)) from err
        cfg = f.obj_or_none("config")
        return cls(
            architecture=f.opt_str("architecture", "") or "",
            os=f.opt_str("os", "") or "",
            diff_ids=tuple(diff_ids),
            config=ContainerConfig.from_json(cfg) if cfg else ContainerConfig(),
            created=f.opt_str("created"),
            author=f.opt_str("author", "") or "",
            history=tuple(History.from_json(h) for h in f.objects("history")),
            variant=f.opt_str("variant"),
            extra=f.extra(cls._KNOWN),
        )

    def to_json(self) -> JSONObject:
        out: JSONObject = dict(self.extra)
        out.update(
            {
                "architecture": self.architecture,
                "os": self.os,
                "rootfs": {"type": "layers", "diff_ids": [str(d) for d in self.diff_ids]},
                "config": self.config.to_json(),
            }
        )
        if self.variant:
            out["variant"] = self.variant
        if self.created:
            out["created"] = self.created
        if self.author:
            out["author"] = self.author
        if self.history:
            out["history"] = [h.to_json() for h in self.history]
        return out

    def to_bytes(self) -> bytes:
        return dumps_canonical(self.to_json())

    def with_config(self, config: ContainerConfig) -> ImageConfig:
        return replace(self, config=config)


def chain_ids(diff_ids: tuple[Digest, ...] | list[Digest]) -> list[Digest]:
    """ChainID(L0) = DiffID(L0); ChainID(Ln) = sha256(ChainID(Ln-1) + " " + DiffID(Ln))."""
    out: list[Digest] = []
    for diff_id in diff_ids:
        if not out:
            out.append(diff_id)
        else:
            out.append(Digest.from_bytes(f"{out[-1]} {diff_id}".encode()))
    return out
