"""Dockerfile-like ``--change`` instructions applied to an image's container config
(``docker import --change``, ``docker commit --change``).

Supported: CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, ONBUILD, SHELL, STOPSIGNAL, USER,
VOLUME, WORKDIR — the instructions that only change metadata. Shell-form CMD and
ENTRYPOINT run under the config's SHELL (``/bin/sh -c`` by default), as in a Dockerfile.
"""

from __future__ import annotations

import json
import posixpath
import shlex
from collections.abc import Sequence
from dataclasses import replace

from berth.errors import InvalidArgument
from berth.oci.image import ContainerConfig

SUPPORTED = ("CMD", "ENTRYPOINT", "ENV", "EXPOSE", "LABEL", "ONBUILD", "SHELL", "STOPSIGNAL", "USER",
             "VOLUME", "WORKDIR")
DEFAULT_SHELL = ("/bin/sh", "-c")


def apply_changes(config: ContainerConfig, changes: Sequence[str]) -> ContainerConfig:
    for change in changes:
        config = apply_change(config, change)
    return config


def apply_change(config: ContainerConfig, line: str) -> ContainerConfig:
    text = line.strip()
    word, _, rest = text.partition(" ")
    instruction = word.upper()
    rest = rest.strip()
    if instruction not in SUPPORTED:
        raise InvalidArgument(f"--change {line!r}: {word or 'an empty line'} is not a supported instruction "
                              f"(one of {', '.join(SUPPORTED)})")
    if instruction in ("CMD", "ENTRYPOINT"):
        argv = _command(rest, config.shell or DEFAULT_SHELL, line)
        return replace(config, cmd=argv) if instruction == "CMD" else replace(config, entrypoint=argv)
    if instruction == "SHELL":
        shell = _json_array(rest, line)
        if shell is None or not shell:
            raise InvalidArgument(f"--change {line!r}: SHELL takes a JSON array, like [\"/bin/bash\", \"-c\"]")
        return replace(config, shell=tuple(shell))
    if instruction == "ENV":
        env = dict(item.partition("=")[::2] for item in config.env)
        for key, value in _pairs(rest, line, legacy=True):
            env[key] = value
        return replace(config, env=tuple(f"{k}={v}" for k, v in env.items()))
    if instruction == "LABEL":
        labels = dict(config.labels)
        labels.update(_pairs(rest, line, legacy=False))
        return replace(config, labels=labels)
    if instruction == "EXPOSE":
        ports = set(config.exposed_ports)
        for port in _words(rest, line):
            number, _, proto = port.partition("/")
            if not number.replace("-", "").isdigit() or proto not in ("", "tcp", "udp", "sctp"):
                raise InvalidArgument(f"--change {line!r}: invalid port {port!r}")
            ports.add(f"{number}/{proto or 'tcp'}")
        return replace(config, exposed_ports=tuple(sorted(ports)))
    if instruction == "VOLUME":
        volumes = set(config.volumes)
        paths = _json_array(rest, line)
        volumes.update(paths if paths is not None else _words(rest, line))
        return replace(config, volumes=tuple(sorted(volumes)))
    if not rest:
        raise InvalidArgument(f"--change {line!r}: {instruction} needs an argument")
    if instruction == "USER":
        return replace(config, user=rest)
    if instruction == "WORKDIR":
        return replace(config, working_dir=posixpath.join(config.working_dir or "/", rest))
    if instruction == "STOPSIGNAL":
        return replace(config, stop_signal=rest)
    return replace(config, on_build=(*config.on_build, rest))  # ONBUILD


def _json_array(text: str, line: str) -> list[str] | None:
    if not text.startswith("["):
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return None  # Docker treats a malformed JSON array as shell form
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InvalidArgument(f"--change {line!r}: expected a JSON array of strings")
    return value


def _command(text: str, shell: Sequence[str], line: str) -> tuple[str, ...]:
    argv = _json_array(text, line)
    if argv is not None:
        return tuple(argv)
    if not text:
        return ()
    return (*shell, text)


def _words(text: str, line: str) -> list[str]:
    try:
        return shlex.split(text)
    except ValueError as err:
        raise InvalidArgument(f"--change {line!r}: {err}") from None


def _pairs(text: str, line: str, *, legacy: bool) -> list[tuple[str, str]]:
    words = _words(text, line)
    if not words:
        raise InvalidArgument(f"--change {line!r}: needs KEY=VALUE")
    if legacy and "=" not in words[0]:
        # ENV KEY the rest of the line
        key, _, value = text.partition(" ")
        return [(key, value.strip())]
    out = []
    for word in words:
        key, sep, value = word.partition("=")
        if not sep or not key:
            raise InvalidArgument(f"--change {line!r}: {word!r} is not KEY=VALUE")
        out.append((key, value))
    return out
