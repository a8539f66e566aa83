"""Registry answers as berth's error classes: the one place the client maps HTTP
statuses and OCI error codes (distribution-spec "Error Codes") onto them.

    401 UNAUTHORIZED, 403 DENIED          → PermissionDenied (AuthenticationFailed for a
                                            rejected login)
    404 MANIFEST_UNKNOWN / NAME_UNKNOWN   → ImageNotFound
    404 BLOB_UNKNOWN                      → BlobNotFound
    400 DIGEST_INVALID / SIZE_INVALID     → DigestMismatch
    400 other codes, 405, 413, 415        → InvalidArgument / Unsupported
    429, 5xx, no answer                   → Unavailable
"""

from __future__ import annotations

from dataclasses import dataclass

from berth.errors import (
    BerthError,
    BlobNotFound,
    DigestMismatch,
    ImageNotFound,
    InvalidArgument,
    PermissionDenied,
    Unavailable,
    Unsupported,
)
from berth.oci.jsonutil import loads


class AuthenticationFailed(PermissionDenied):
    """The registry (or its token service) rejected the credentials."""


@dataclass(frozen=True, slots=True)
class RegistryError:
    code: str
    message: str


def parse_errors(body: bytes) -> list[RegistryError]:
    """The ``errors`` array of an OCI error body; empty when the body is not one."""
    try:
        doc = loads(body, "error body")
    except InvalidArgument:
        return []
    items = doc.get("errors") if isinstance(doc, dict) else None
    if not isinstance(items, list):
        return []
    out = []
    for item in items:
        if isinstance(item, dict):
            out.append(RegistryError(str(item.get("code") or "UNKNOWN"), str(item.get("message") or "")))
    return out


def describe(errors: list[RegistryError], status: int, reason: str) -> str:
    if not errors:
        return f"{status} {reason}".strip()
    return "; ".join(f"{e.code.lower().replace('_', ' ')}: {e.message}" if e.message else e.code.lower()
                     for e in errors)


def error_for(status: int, body: bytes, what: str, reason: str = "") -> BerthError:
    """The error for a failed request about ``what`` (``manifest for busybox:1``,
    ``blob sha256:…``, ``registry 127.0.0.1:5000``)."""
    errors = parse_errors(body)
    codes = {e.code for e in errors}
    text = f"{what}: {describe(errors, status, reason)}"
    if status == 401:
        return PermissionDenied(text)
    if status == 403:
        return PermissionDenied(text)
    if status == 404:
        if "BLOB_UNKNOWN" in codes or (not codes and what.startswith("blob")):
            return BlobNotFound(text)
        return ImageNotFound(text)
    if codes & {"DIGEST_INVALID", "SIZE_INVALID"}:
        return DigestMismatch(text)
    if status in (405, 501) or "UNSUPPORTED" in codes:
        return Unsupported(text)
    if status == 429 or status >= 500:
        return Unavailable(text)
    return InvalidArgument(text)
