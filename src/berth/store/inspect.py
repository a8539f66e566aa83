"""Images in the shapes of Docker's Engine API (``GET /images/{name}/json`` and
``…/history``), for ``berth image inspect``/``history`` and for the REST API."""

from __future__ import annotations

import calendar
import re
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from berth.oci.image import ContainerConfig
from berth.store.images import Image

if TYPE_CHECKING:
    from berth.store.store import Store

ZERO_TIME = "0001-01-01T00:00:00Z"
_RFC3339 = re.compile(r"^(\d{4})-(\d\d)-(\d\d)[Tt ](\d\d):(\d\d):(\d\d)(?:\.(\d+))?(Z|z|[+-]\d\d:?\d\d)?$")


def parse_time(text: str | None) -> float | None:
    """Seconds since the epoch for an RFC 3339 time as image configs carry them."""
    if not text:
        return None
    match = _RFC3339.match(text.strip())
    if not match:
        return None
    year, month, day, hour, minute, second = (int(match.group(i)) for i in range(1, 7))
    frac = float("0." + match.group(7)) if match.group(7) else 0.0
    seconds = calendar.timegm((year, month, day, hour, minute, second, 0, 0, 0)) + frac
    zone = match.group(8)
    if zone and zone not in ("Z", "z"):
        sign = 1 if zone[0] == "+" else -1
        digits = zone[1:].replace(":", "")
        seconds -= sign * (int(digits[:2]) * 3600 + int(digits[2:]) * 60)
    return seconds


def format_time(seconds: float | None) -> str:
    if seconds is None:
        return ZERO_TIME
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{int(seconds % 1 * 1e9):09d}Z"


def container_config_json(config: ContainerConfig) -> dict[str, Any]:
    """The ``Config`` object as Docker's API returns it (every field present)."""
    out: dict[str, Any] = {
        "Hostname": "",
        "Domainname": "",
        "User": config.user,
        "AttachStdin": False,
        "AttachStdout": False,
        "AttachStderr": False,
        "Tty": False,
        "OpenStdin": False,
        "StdinOnce": False,
        "Env": list(config.env) or None,
        "Cmd": list(config.cmd) if config.cmd is not None else None,
        "Image": "",
        "Volumes": {v: {} for v in config.volumes} or None,
        "WorkingDir": config.working_dir,
        "Entrypoint": list(config.entrypoint) if config.entrypoint is not None else None,
        "OnBuild": list(config.on_build) or None,
        "Labels": dict(config.labels) or None,
    }
    if config.exposed_ports:
        out["ExposedPorts"] = {p: {} for p in config.exposed_ports}
    if config.stop_signal:
        out["StopSignal"] = config.stop_signal
    if config.healthcheck is not None:
        out["Healthcheck"] = config.healthcheck.to_json()
    if config.shell is not None:
        out["Shell"] = list(config.shell)
    for key, value in config.extra.items():
        out.setdefault(key, value)
    return out


def image_json(store: Store, image: Image) -> dict[str, Any]:
    """``docker image inspect`` for one image."""
    cfg = image.config
    graph: dict[str, str] = {}
    chains = image.chain_ids
    if chains:
        tree = store.snapshots.tree
        rows = [tree.find(str(c)) for c in chains]
        if all(rows):
            folders = [tree.fs(r.id) for r in rows if r is not None]
            graph["UpperDir"] = folders[-1]
            if len(folders) > 1:
                graph["LowerDir"] = ":".join(reversed(folders[:-1]))
    out: dict[str, Any] = {
        "Id": str(image.id),
        "RepoTags": list(image.repo_tags),
        "RepoDigests": list(image.repo_digests),
        "Parent": "",
        "Comment": str(cfg.extra.get("comment", "")),
        "Created": cfg.created or ZERO_TIME,
        "Container": str(cfg.extra.get("container", "")),
        "ContainerConfig": container_config_json(ContainerConfig()),
        "DockerVersion": str(cfg.extra.get("docker_version", "")),
        "Author": cfg.author,
        "Config": container_config_json(cfg.config),
        "Architecture": cfg.architecture,
        "Os": cfg.os,
        "Size": image.size,
        "GraphDriver": {"Data": graph or None, "Name": store.snapshots.name},
        "RootFS": {"Type": "layers", "Layers": [str(d) for d in cfg.diff_ids]},
        "Metadata": {"LastTagTime": format_time(image.last_tag_time) if image.last_tag_time else ZERO_TIME},
        "Descriptor": {"mediaType": image.media_type, "digest": str(image.manifest_digest),
                       "size": image.manifest_size},
    }
    if cfg.variant:
        out["Variant"] = cfg.variant
    return out


@dataclass(frozen=True, slots=True)
class HistoryRow:
    """One entry of ``docker history``, newest first (the API's shape, snake-cased)."""

    id: str  # the image ID on the newest row, "<missing>" below it (as Docker shows)
    created: float | None
    created_by: str
    size: int
    comment: str
    tags: tuple[str, ...]
    empty_layer: bool


def history(store: Store, image: Image) -> list[HistoryRow]:
    sizes = []
    for layer in image.layers:
        info = store.snapshots.tree.find(str(layer.chain_id))
        sizes.append(int(info.labels.get("berth.layer.size", "0")) if info else 0)
    entries = list(image.config.history)
    if not entries:  # an image without history: one row per layer
        from berth.oci.image import History

        entries = [History() for _ in image.layers]
    rows = []
    layer_index = 0
    for entry in entries:
        size = 0
        if not entry.empty_layer and layer_index < len(sizes):
            size = sizes[layer_index]
            layer_index += 1
        rows.append((entry, size))
    out = []
    for i, (entry, size) in enumerate(reversed(rows)):
        out.append(HistoryRow(
            id=str(image.id) if i == 0 else "<missing>",
            created=parse_time(entry.created),
            created_by=entry.created_by,
            size=size,
            comment=entry.comment,
            tags=image.repo_tags if i == 0 else (),
            empty_layer=entry.empty_layer,
        ))
    return out
