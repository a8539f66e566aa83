"""Path specs (nothing unsafe reaches a driver) and the error → code mapping."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from berth import errors as berth_errors
from berth.oci.digest import Digest
from berth.registry.server import errcodes
from berth.registry.server import errors as e
from berth.registry.server.repository import check_name
from berth.registry.server.storage.api import InvalidPath, check_path
from berth.registry.server.storage.paths import (
    BlobData,
    LayerLink,
    ManifestRevisionLink,
    ReferrerDescriptor,
    TagCurrentLink,
    TagHistory,
    UploadData,
    path_for,
)

D = Digest.from_bytes(b"x")
UUID = "0f8fad5b-d9cb-469f-a165-70867728950e"


def test_layout_matches_the_documented_tree() -> None:
    hex_ = D.encoded
    assert path_for(BlobData(D)) == f"/blobs/sha256/{hex_[:2]}/{hex_}/data"
    assert path_for(LayerLink("a/b", D)) == f"/repositories/a/b/_layers/sha256/{hex_}/link"
    assert path_for(ManifestRevisionLink("a", D)) == f"/repositories/a/_manifests/revisions/sha256/{hex_}/link"
    assert path_for(TagCurrentLink("a", "v1.0")) == "/repositories/a/_manifests/tags/v1.0/current/link"
    assert path_for(TagHistory("a", "v1")) == "/repositories/a/_manifests/tags/v1/history"
    assert path_for(UploadData("a", UUID)) == f"/repositories/a/_uploads/{UUID}/data"
    assert path_for(ReferrerDescriptor("a", D, D)) == f"/repositories/a/_referrers/sha256/{hex_}/sha256/{hex_}"


@pytest.mark.parametrize("name", ["../etc", "a/../../b", "..", "A", "a//b", "/a", "a/", "_uploads", "a/_manifests", "a" * 256, ""])
def test_unsafe_repository_names_never_become_paths(name: str) -> None:
    with pytest.raises(InvalidPath):
        path_for(TagHistory(name, "v1"))
    with pytest.raises(e.NameInvalid):
        check_name(name)


@pytest.mark.parametrize("tag", ["..", ".hidden", "-x", "a/b", "a" * 129, "", "x y"])
def test_unsafe_tags_never_become_paths(tag: str) -> None:
    with pytest.raises(InvalidPath):
        path_for(TagCurrentLink("app", tag))


def test_unsafe_upload_ids_and_forged_digests_never_become_paths() -> None:
    for upload_id in ("../../x", UUID.upper(), "abc", ""):
        with pytest.raises(InvalidPath):
            path_for(UploadData("app", upload_id))
    with pytest.raises(InvalidPath):
        path_for(BlobData(Digest("sha256", "../../../etc/passwd")))
    with pytest.raises(InvalidPath):
        path_for(LayerLink("app", Digest("sha256/..", D.encoded)))


@settings(max_examples=300, deadline=None)
@given(name=st.text(alphabet=st.sampled_from(list("ab0._-/%:A")), max_size=20),
       tag=st.text(alphabet=st.sampled_from(list("ab0._-/:")), max_size=10))
def test_every_path_spec_yields_a_valid_path_or_refuses(name: str, tag: str) -> None:
    try:
        path = path_for(TagHistory(name, tag))
    except InvalidPath:
        return
    assert check_path(path) == path
    assert path.startswith(f"/repositories/{name}/_manifests/tags/{tag}/")


@pytest.mark.parametrize(
    ("error", "code", "status"),
    [
        (e.BlobUnknown("x"), "BLOB_UNKNOWN", 404),
        (e.BlobUploadInvalid("x"), "BLOB_UPLOAD_INVALID", 400),
        (e.BlobUploadUnknown("x"), "BLOB_UPLOAD_UNKNOWN", 404),
        (e.DigestInvalid("x"), "DIGEST_INVALID", 400),
        (e.ManifestBlobUnknown("x"), "MANIFEST_BLOB_UNKNOWN", 400),
        (e.ManifestInvalid("x"), "MANIFEST_INVALID", 400),
        (e.ManifestTooLarge("x"), "MANIFEST_INVALID", 413),
        (e.ManifestUnknown("x"), "MANIFEST_UNKNOWN", 404),
        (e.NameInvalid("x"), "NAME_INVALID", 400),
        (e.NameUnknown("x"), "NAME_UNKNOWN", 404),
        (e.SizeInvalid("x"), "SIZE_INVALID", 400),
        (e.RangeInvalid("x", 0), "RANGE_INVALID", 416),
        (e.TagInvalid("x"), "TAG_INVALID", 400),
        (e.Unauthorized("x"), "UNAUTHORIZED", 401),
        (e.Denied("x"), "DENIED", 403),
        (e.OperationUnsupported("x"), "UNSUPPORTED", 405),
        (e.ParameterInvalid("x"), "UNSUPPORTED", 400),
        (e.TooManyRequests("x"), "TOOMANYREQUESTS", 429),
        # general classes from below the registry still get a 4xx
        (InvalidPath("/x"), "NAME_INVALID", 400),
        (berth_errors.InvalidArgument("x"), "UNSUPPORTED", 400),
        (berth_errors.NotFound("x"), "NAME_UNKNOWN", 404),
        (berth_errors.PermissionDenied("x"), "DENIED", 403),
    ],
)
def test_each_error_class_has_one_code_and_status(error: Exception, code: str, status: int) -> None:
    found = errcodes.code_for(error)
    assert (found.code, found.status) == (code, status)


def test_error_body_has_the_spec_shape() -> None:
    code, body = errcodes.body_for(e.BlobUnknown("blob sha256:…: not found", {"digest": "sha256:…"}))
    doc = json.loads(body)
    assert doc == {"errors": [{"code": "BLOB_UNKNOWN", "message": "blob sha256:…: not found", "detail": {"digest": "sha256:…"}}]}
    assert code.status == 404


def test_unexpected_errors_are_500_without_leaking_the_message() -> None:
    code, body = errcodes.body_for(RuntimeError("secret internals"))
    assert code.status == 500
    assert b"secret" not in body
