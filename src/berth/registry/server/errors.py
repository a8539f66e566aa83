"""The registry's error classes: one per condition the distribution spec names.

Each subclasses the ``berth.errors`` class it is a case of (``BlobUnknown`` is a
``BlobNotFound``), so code outside the registry can still test the general class.
``errcodes.py`` maps each class, once, to its spec error code and HTTP status.
``detail`` is optional JSON data for the error body's ``detail`` field.
"""

from __future__ import annotations

from typing import Any

from berth.errors import (
    BerthError,
    BlobNotFound,
    DigestMismatch,
    InvalidArgument,
    InvalidReference,
    NotFound,
    PermissionDenied,
    Unavailable,
    Unsupported,
)


class RegistryError(BerthError):
    def __init__(self, message: str, detail: Any = None) -> None:
        super().__init__(message)
        self.detail = detail
        self.headers: dict[str, str] = {}  # extra response headers a handler adds for context


class BlobUnknown(RegistryError, BlobNotFound):
    pass


class BlobUploadUnknown(RegistryError, NotFound):
    pass


class BlobUploadInvalid(RegistryError, InvalidArgument):
    pass


class DigestInvalid(RegistryError, DigestMismatch):
    """A malformed digest, or content that does not match the digest given for it."""


class SizeInvalid(RegistryError, InvalidArgument):
    pass


class RangeInvalid(RegistryError, InvalidArgument):
    """A Content-Range that does not continue the upload, or a Range past the end.

    ``size`` is how many bytes the upload (or blob) holds, for the response headers."""

    def __init__(self, message: str, size: int, detail: Any = None) -> None:
        super().__init__(message, detail)
        self.size = size


class ManifestUnknown(RegistryError, NotFound):
    pass


class ManifestInvalid(RegistryError, InvalidArgument):
    pass


class ManifestTooLarge(RegistryError, InvalidArgument):
    pass


class ManifestBlobUnknown(RegistryError, InvalidArgument):
    """A manifest names a blob or child manifest the repository does not have."""


class NameUnknown(RegistryError, NotFound):
    pass


class NameInvalid(RegistryError, InvalidReference):
    pass


class TagInvalid(RegistryError, InvalidReference):
    pass


class ParameterInvalid(RegistryError, InvalidArgument):
    """A query parameter the endpoint cannot use (``n=-1``)."""


class OperationUnsupported(RegistryError, Unsupported):
    """The endpoint exists but this method is not offered on it."""


class Unauthorized(RegistryError, PermissionDenied):
    """No credentials, or credentials that are not valid: the client should log in.

    ``scope`` is the token scope the request needed (``repository:app:pull``) and
    ``reason`` the RFC 6750 error (``invalid_token``, ``insufficient_scope``), for
    the ``WWW-Authenticate`` challenge."""

    def __init__(self, message: str, scope: str | None = None, reason: str | None = None) -> None:
        super().__init__(message)
        self.scope = scope
        self.reason = reason


class Denied(RegistryError, PermissionDenied):
    """The client is known, and the policy does not allow it this access."""


class TooManyRequests(RegistryError, Unavailable):
    pass
