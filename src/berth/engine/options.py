"""Docker's option syntax for run/create, parsed into model values.

Pure functions: ``-v``/``--mount``/``--tmpfs``, ``-p``, memory sizes, durations,
``--cpus``, ``--ulimit``, ``--env-file``. Each bad value is one clear InvalidArgument.
"""

from __future__ import annotations

import os
import re

from berth.engine.model import MountSpec, PortSpec
from berth.errors import InvalidArgument

_SIZE = re.compile(r"^(\d+(?:\.\d+)?)\s*([bkmgt]?)b?$", re.I)
_UNITS = {"": 1, "b": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")
_NS = {"ns": 1, "us": 1_000, "µs": 1_000, "ms": 1_000_000, "s": 1_000_000_000, "m": 60_000_000_000,
       "h": 3_600_000_000_000}


def parse_size(text: str, what: str = "size") -> int:
    """``64m`` → 67108864 (Docker's RAMInBytes: binary units)."""
    match = _SIZE.match(text.strip())
    if not match:
        raise InvalidArgument(f"invalid {what} {text!r}: expected a number with an optional unit (b, k, m, g)")
    return int(float(match.group(1)) * _UNITS[match.group(2).lower()])


def parse_duration(text: str, what: str = "duration") -> int:
    """``30s``, ``1m30s``, ``500ms`` → nanoseconds (Go's time.ParseDuration)."""
    text = text.strip()
    if text == "0":
        return 0
    pos, total = 0, 0.0
    for match in _DURATION.finditer(text):
        if match.start() != pos:
            break
        total += float(match.group(1)) * _NS[match.group(2)]
        pos = match.end()
    if pos != len(text) or not text:
        raise InvalidArgument(f"invalid {what} {text!r}: expected e.g. 30s, 1m30s or 500ms")
    return int(total)


def parse_cpus(text: str) -> int:
    try:
        value = float(text)
    except ValueError:
        raise InvalidArgument(f"invalid --cpus {text!r}: expected a number such as 0.5") from None
    if value <= 0:
        raise InvalidArgument(f"invalid --cpus {text!r}: must be positive")
    return int(value * 1e9)


def parse_volume(text: str) -> MountSpec:
    """``-v [SOURCE:]TARGET[:OPTIONS]``; a SOURCE that is not absolute names a volume."""
    parts = text.split(":")
    if len(parts) == 1:
        source, target, opts = "", parts[0], ""
    elif len(parts) == 2:
        if parts[1].startswith("/"):
            source, target, opts = parts[0], parts[1], ""
        else:
            source, target, opts = "", parts[0], parts[1]
    elif len(parts) == 3:
        source, target, opts = parts
    else:
        raise InvalidArgument(f"invalid volume specification {text!r}: too many colons")
    if not target.startswith("/"):
        raise InvalidArgument(f"invalid volume specification {text!r}: the container path must be absolute")
    if target == "/":
        raise InvalidArgument(f"invalid volume specification {text!r}: cannot mount over /")
    read_only, propagation, no_copy = False, "", False
    for opt in filter(None, opts.split(",")):
        if opt in ("ro", "rw"):
            read_only = opt == "ro"
        elif opt in ("private", "rprivate", "shared", "rshared", "slave", "rslave"):
            propagation = opt
        elif opt == "nocopy":
            no_copy = True
        elif opt in ("z", "Z", "delegated", "cached", "consistent"):
            continue  # SELinux relabel / macOS hints: nothing to do here
        else:
            raise InvalidArgument(f"invalid volume specification {text!r}: unknown option {opt!r}")
    if source.startswith(("/", ".")):
        return MountSpec("bind", target, os.path.abspath(source), read_only, propagation)
    if source and not re.match(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", source):
        raise InvalidArgument(f"invalid volume specification {text!r}: {source!r} is not a valid volume name")
    return MountSpec("volume", target, source, read_only, no_copy=no_copy)


def parse_mount(text: str) -> MountSpec:
    """``--mount type=bind,source=/a,target=/b,readonly`` and the volume/tmpfs forms."""
    values: dict[str, str] = {}
    for item in text.split(","):
        key, sep, value = item.partition("=")
        values[key.strip()] = value.strip() if sep else "true"
    kind = values.pop("type", "volume")
    target = values.pop("target", "") or values.pop("destination", "") or values.pop("dst", "")
    source = values.pop("source", "") or values.pop("src", "")
    if kind not in ("bind", "volume", "tmpfs"):
        raise InvalidArgument(f"invalid --mount {text!r}: type must be bind, volume or tmpfs")
    if not target.startswith("/"):
        raise InvalidArgument(f"invalid --mount {text!r}: target must be an absolute path")
    read_only = values.pop("readonly", values.pop("ro", "false")) in ("true", "1", "")
    spec = MountSpec(kind, target, source, read_only)
    if kind == "bind":
        if not source.startswith("/"):
            raise InvalidArgument(f"invalid --mount {text!r}: a bind source must be an absolute path")
        spec = MountSpec(kind, target, source, read_only, values.pop("bind-propagation", ""))
    elif kind == "tmpfs":
        size = parse_size(values.pop("tmpfs-size", "0"), "tmpfs-size")
        mode = int(values.pop("tmpfs-mode", "0") or "0", 8)
        spec = MountSpec(kind, target, "", read_only, tmpfs_size=size, tmpfs_mode=mode)
    else:
        spec = MountSpec(kind, target, source, read_only, no_copy=values.pop("volume-nocopy", "false") == "true")
    values.pop("consistency", None)
    if values:
        raise InvalidArgument(f"invalid --mount {text!r}: unknown field {sorted(values)[0]!r}")
    return spec


def parse_tmpfs(text: str) -> MountSpec:
    target, _, opts = text.partition(":")
    if not target.startswith("/"):
        raise InvalidArgument(f"invalid --tmpfs {text!r}: the path must be absolute")
    size, mode, read_only = 0, 0, False
    for opt in filter(None, opts.split(",")):
        key, _, value = opt.partition("=")
        if key == "size":
            size = parse_size(value, "tmpfs size")
        elif key == "mode":
            mode = int(value, 8)
        elif key == "ro":
            read_only = True
    return MountSpec("tmpfs", target, "", read_only, tmpfs_size=size, tmpfs_mode=mode)


def parse_port(text: str) -> list[PortSpec]:
    """``-p 8080:80``, ``-p 127.0.0.1:8080:80/udp``, ``-p 80``, ``-p 8000-8001:80-81``."""
    spec, _, proto = text.partition("/")
    proto = proto or "tcp"
    if proto not in ("tcp", "udp", "sctp"):
        raise InvalidArgument(f"invalid port {text!r}: protocol must be tcp, udp or sctp")
    if spec.startswith("["):  # [::1]:8080:80
        end = spec.index("]")
        ip, rest = spec[1:end], spec[end + 2 :]
        parts = [ip, *rest.split(":")]
    else:
        parts = spec.split(":")
    if len(parts) == 1:
        ip, host, cont = "", "", parts[0]
    elif len(parts) == 2:
        ip, host, cont = "", parts[0], parts[1]
    elif len(parts) == 3:
        ip, host, cont = parts
    else:
        raise InvalidArgument(f"invalid port {text!r}: expected [IP:][HOSTPORT:]CONTAINERPORT[/PROTO]")
    cports = _port_range(cont, text)
    hports = _port_range(host, text) if host else [0] * len(cports)
    if len(hports) != len(cports):
        if len(hports) == 1 and hports[0] == 0:
            hports = [0] * len(cports)
        else:
            raise InvalidArgument(f"invalid port {text!r}: host and container ranges differ in size")
    return [PortSpec(c, proto, ip, h) for c, h in zip(cports, hports, strict=True)]


def _port_range(text: str, whole: str) -> list[int]:
    first, sep, last = text.partition("-")
    try:
        lo = int(first)
        hi = int(last) if sep else lo
    except ValueError:
        raise InvalidArgument(f"invalid port {whole!r}: {text!r} is not a port number") from None
    if not (0 <= lo <= hi <= 65535) or (lo == 0 and not whole.startswith("0")):
        raise InvalidArgument(f"invalid port {whole!r}: ports are 1-65535")
    return list(range(lo, hi + 1))


def parse_ulimit(text: str) -> tuple[str, int, int]:
    name, _, values = text.partition("=")
    soft_text, _, hard_text = values.partition(":")
    try:
        soft = -1 if soft_text in ("-1", "unlimited") else int(soft_text)
        hard = soft if not hard_text else (-1 if hard_text in ("-1", "unlimited") else int(hard_text))
    except ValueError:
        raise InvalidArgument(f"invalid --ulimit {text!r}: expected name=soft[:hard]") from None
    return name, soft, hard


def read_env_file(path: str) -> list[str]:
    try:
        with open(path) as f:
            lines = f.read().splitlines()
    except OSError as err:
        raise InvalidArgument(f"--env-file {path}: {err.strerror}") from err
    out = []
    for line in lines:
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if "=" not in line:
            value = os.environ.get(line)
            if value is not None:
                out.append(f"{line}={value}")
            continue
        out.append(line)
    return out


def expand_env(items: list[str]) -> list[str]:
    """``-e KEY`` (no value) takes KEY from berth's own environment, as Docker does."""
    out = []
    for item in items:
        if "=" in item:
            out.append(item)
        elif item in os.environ:
            out.append(f"{item}={os.environ[item]}")
    return out
