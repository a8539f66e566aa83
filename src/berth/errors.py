"""The error classes every layer of berth raises.

Callers test the class, never the message. Each edge maps classes once: the CLI to
exit codes, the REST API to HTTP statuses, the registry to OCI error codes.

    BerthError
    ├── NotFound                  the named thing does not exist
    │   ├── ImageNotFound
    │   ├── ContainerNotFound
    │   ├── BlobNotFound
    │   └── VolumeNotFound / NetworkNotFound
    ├── AlreadyExists             a name or key is taken
    ├── Conflict                  the thing exists but is in the wrong state
    │   ├── ContainerNotRunning
    │   ├── ContainerRunning
    │   └── StateTransitionError
    ├── InvalidArgument           the input is malformed
    │   ├── InvalidSpec           a runtime spec field is wrong (names the field)
    │   ├── InvalidReference
    │   └── DigestMismatch
    ├── PermissionDenied
    ├── Unavailable               a dependency is not reachable right now
    ├── Unsupported               the host or berth cannot do this
    └── Internal                  a bug or an unexpected host failure

Messages are lower-case, name the object first and the reason after, and never carry
secrets: ``content sha256:3f…: not found``.
"""

from __future__ import annotations


class BerthError(Exception):
    """Base of every error berth raises on purpose."""


class NotFound(BerthError):
    pass


class ImageNotFound(NotFound):
    pass


class ContainerNotFound(NotFound):
    pass


class BlobNotFound(NotFound):
    pass


class VolumeNotFound(NotFound):
    pass


class NetworkNotFound(NotFound):
    pass


class AlreadyExists(BerthError):
    pass


class Conflict(BerthError):
    pass


class ContainerNotRunning(Conflict):
    pass


class ContainerRunning(Conflict):
    pass


class StateTransitionError(Conflict):
    pass


class InvalidArgument(BerthError):
    pass


class InvalidSpec(InvalidArgument):
    """A runtime spec (config.json) is malformed; ``field`` is its JSON path."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"config.json: {field}: {reason}" if field else f"config.json: {reason}")
        self.field = field
        self.reason = reason


class InvalidReference(InvalidArgument):
    pass


class DigestMismatch(InvalidArgument):
    pass


class PermissionDenied(BerthError):
    pass


class Unavailable(BerthError):
    pass


class Unsupported(BerthError):
    pass


class Internal(BerthError):
    pass
