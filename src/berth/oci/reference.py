"""Image references, normalised the way Docker does.

``busybox`` → ``docker.io/library/busybox:latest``; ``host:5000/a/b@sha256:…`` keeps its
registry and digest. The grammar is distribution's reference grammar: a name is an
optional domain followed by slash-separated lower-case path components, then an
optional ``:tag`` and an optional ``@digest``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from berth.errors import InvalidArgument, InvalidReference
from berth.oci.digest import Digest

DEFAULT_DOMAIN = "docker.io"
LEGACY_DOMAINS = frozenset({"index.docker.io", "registry-1.docker.io"})
OFFICIAL_PREFIX = "library/"
DEFAULT_TAG = "latest"
NAME_MAX = 255

_COMPONENT = re.compile(r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$")
_DOMAIN = re.compile(
    r"^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*"
    r"|\[[a-fA-F0-9:]+\])(?::[0-9]+)?$"
)
_TAG = re.compile(r"^[\w][\w.-]{0,127}$")


def valid_tag(tag: str) -> bool:
    return bool(_TAG.match(tag))


def valid_repository_path(path: str) -> bool:
    """True for a repository path such as ``library/busybox`` (no domain)."""
    return len(path) <= NAME_MAX and all(_COMPONENT.match(c) for c in path.split("/"))


@dataclass(frozen=True, slots=True)
class Reference:
    """A parsed, normalised reference. At least one of ``tag`` and ``digest`` is set
    once :meth:`parse` has filled in the default tag."""

    domain: str
    path: str
    tag: str | None = None
    digest: Digest | None = None

    @classmethod
    def parse(cls, text: str, *, default_tag: bool = True) -> Reference:
        if not text or text != text.strip():
            raise InvalidReference(f"reference {text!r}: invalid reference format")
        rest, digest = text, None
        if "@" in rest:
            rest, _, digest_text = rest.partition("@")
            try:
                digest = Digest.parse(digest_text)
            except InvalidArgument as err:
                raise InvalidReference(f"reference {text!r}: {err}") from err
        tag = None
        slash = rest.rfind("/")
        colon = rest.rfind(":")
        if colon > slash:
            rest, tag = rest[:colon], rest[colon + 1 :]
            if not _TAG.match(tag):
                raise InvalidReference(f"reference {text!r}: invalid tag {tag!r}")
        domain, path = _split_domain(rest, text)
        if len(rest) > NAME_MAX:
            raise InvalidReference(f"reference {text!r}: repository name must not exceed {NAME_MAX} characters")
        for component in path.split("/"):
            if not _COMPONENT.match(component):
                if component.lower() == component:
                    raise InvalidReference(f"reference {text!r}: invalid reference format")
                raise InvalidReference(f"reference {text!r}: repository name must be lowercase")
        if tag is None and digest is None and default_tag:
            tag = DEFAULT_TAG
        return cls(domain, path, tag, digest)

    @property
    def repository(self) -> str:
        """The full repository name: ``docker.io/library/busybox``."""
        return f"{self.domain}/{self.path}"

    @property
    def familiar_repository(self) -> str:
        """The short form Docker prints: ``busybox``, ``user/app``, ``host:5000/app``."""
        if self.domain == DEFAULT_DOMAIN:
            if self.path.startswith(OFFICIAL_PREFIX) and self.path.count("/") == 1:
                return self.path[len(OFFICIAL_PREFIX) :]
            return self.path
        return self.repository

    def familiar(self) -> str:
        return self._with_suffix(self.familiar_repository)

    def with_tag(self, tag: str) -> Reference:
        if not _TAG.match(tag):
            raise InvalidReference(f"tag {tag!r}: invalid tag format")
        return replace(self, tag=tag, digest=None)

    def with_digest(self, digest: Digest) -> Reference:
        return replace(self, tag=None, digest=digest)

    def _with_suffix(self, name: str) -> str:
        if self.tag:
            name += f":{self.tag}"
        if self.digest:
            name += f"@{self.digest}"
        return name

    def __str__(self) -> str:
        return self._with_suffix(self.repository)


def _split_domain(name: str, original: str) -> tuple[str, str]:
    first, sep, remainder = name.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost" or first != first.lower()):
        if not _DOMAIN.match(first):
            raise InvalidReference(f"reference {original!r}: invalid domain {first!r}")
        domain, path = first, remainder
        if domain in LEGACY_DOMAINS:
            domain = DEFAULT_DOMAIN
    else:
        domain, path = DEFAULT_DOMAIN, name
    if not path:
        raise InvalidReference(f"reference {original!r}: invalid reference format")
    if domain == DEFAULT_DOMAIN and "/" not in path:
        path = OFFICIAL_PREFIX + path
    return domain, path
