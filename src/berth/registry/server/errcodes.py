"""The one mapping from error classes to OCI error codes and HTTP statuses.

Codes and statuses are data (after distribution's ``errcode.Register``). A handler
never picks a status for an error: it raises a class, and :func:`code_for` finds the
first row of ``_TABLE`` whose class the error is an instance of. Specific rows come
before the general ``berth.errors`` fall-backs, so bad input that slipped past a
specific check still gets a 4xx, never a 500.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from berth.errors import (
    DigestMismatch,
    InvalidArgument,
    InvalidReference,
    NotFound,
    PermissionDenied,
    Unavailable,
    Unsupported,
)
from berth.registry.server import errors as e
from berth.registry.server.storage.api import InvalidPath


@dataclass(frozen=True, slots=True)
class ErrorCode:
    code: str
    status: int
    description: str


BLOB_UNKNOWN = ErrorCode("BLOB_UNKNOWN", 404, "blob unknown to registry")
BLOB_UPLOAD_INVALID = ErrorCode("BLOB_UPLOAD_INVALID", 400, "blob upload invalid")
BLOB_UPLOAD_UNKNOWN = ErrorCode("BLOB_UPLOAD_UNKNOWN", 404, "blob upload unknown to registry")
DIGEST_INVALID = ErrorCode("DIGEST_INVALID", 400, "provided digest did not match uploaded content")
MANIFEST_BLOB_UNKNOWN = ErrorCode("MANIFEST_BLOB_UNKNOWN", 400, "manifest references a manifest or blob unknown to registry")
MANIFEST_INVALID = ErrorCode("MANIFEST_INVALID", 400, "manifest invalid")
MANIFEST_TOO_LARGE = ErrorCode("MANIFEST_INVALID", 413, "manifest too large")
MANIFEST_UNKNOWN = ErrorCode("MANIFEST_UNKNOWN", 404, "manifest unknown to registry")
NAME_INVALID = ErrorCode("NAME_INVALID", 400, "invalid repository name")
NAME_UNKNOWN = ErrorCode("NAME_UNKNOWN", 404, "repository name not known to registry")
SIZE_INVALID = ErrorCode("SIZE_INVALID", 400, "provided length did not match content length")
RANGE_INVALID = ErrorCode("RANGE_INVALID", 416, "invalid content range")
TAG_INVALID = ErrorCode("TAG_INVALID", 400, "manifest tag did not match URI")
UNAUTHORIZED = ErrorCode("UNAUTHORIZED", 401, "authentication required")
DENIED = ErrorCode("DENIED", 403, "requested access to the resource is denied")
UNSUPPORTED = ErrorCode("UNSUPPORTED", 400, "the operation is unsupported")
METHOD_UNSUPPORTED = ErrorCode("UNSUPPORTED", 405, "the operation is unsupported")
ROUTE_UNKNOWN = ErrorCode("UNSUPPORTED", 404, "no such endpoint")
TOO_MANY_REQUESTS = ErrorCode("TOOMANYREQUESTS", 429, "too many requests")
UNAVAILABLE = ErrorCode("UNAVAILABLE", 503, "service unavailable")
UNKNOWN = ErrorCode("UNKNOWN", 500, "unknown error")

_TABLE: tuple[tuple[type[BaseException], ErrorCode], ...] = (
    (e.BlobUnknown, BLOB_UNKNOWN),
    (e.BlobUploadInvalid, BLOB_UPLOAD_INVALID),
    (e.BlobUploadUnknown, BLOB_UPLOAD_UNKNOWN),
    (e.DigestInvalid, DIGEST_INVALID),
    (e.ManifestBlobUnknown, MANIFEST_BLOB_UNKNOWN),
    (e.ManifestTooLarge, MANIFEST_TOO_LARGE),
    (e.ManifestInvalid, MANIFEST_INVALID),
    (e.ManifestUnknown, MANIFEST_UNKNOWN),
    (e.NameInvalid, NAME_INVALID),
    (e.NameUnknown, NAME_UNKNOWN),
    (e.SizeInvalid, SIZE_INVALID),
    (e.RangeInvalid, RANGE_INVALID),
    (e.TagInvalid, TAG_INVALID),
    (e.Unauthorized, UNAUTHORIZED),
    (e.Denied, DENIED),
    (e.OperationUnsupported, METHOD_UNSUPPORTED),
    (e.ParameterInvalid, UNSUPPORTED),
    (e.TooManyRequests, TOO_MANY_REQUESTS),
    # General classes, for errors raised below the registry's own modules.
    (InvalidPath, NAME_INVALID),
    (DigestMismatch, DIGEST_INVALID),
    (InvalidReference, NAME_INVALID),
    (InvalidArgument, UNSUPPORTED),
    (NotFound, NAME_UNKNOWN),
    (PermissionDenied, DENIED),
    (Unsupported, UNSUPPORTED),
    (Unavailable, UNAVAILABLE),
)


def code_for(err: BaseException) -> ErrorCode:
    """The code and status for ``err``; UNKNOWN (500) for anything unexpected."""
    for cls, code in _TABLE:
        if isinstance(err, cls):
            return code
    return UNKNOWN


def error_body(code: ErrorCode, message: str = "", detail: Any = None) -> bytes:
    """The spec's error document: ``{"errors":[{"code","message","detail"}]}``."""
    entry: dict[str, Any] = {"code": code.code, "message": message or code.description}
    if detail is not None:
        entry["detail"] = detail
    return json.dumps({"errors": [entry]}).encode()


def body_for(err: BaseException) -> tuple[ErrorCode, bytes]:
    code = code_for(err)
    message = str(err) if code is not UNKNOWN else code.description  # never leak internals
    return code, error_body(code, message, getattr(err, "detail", None))
