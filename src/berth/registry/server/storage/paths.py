"""Where the registry keeps each thing, as typed path specs and one :func:`path_for`.

The tree below a storage root (after distribution's ``paths.go``)::

    /
    ├── blobs/<alg>/<hex[:2]>/<hex>/data        every blob once, shared by all repositories
    └── repositories/<name>/                    <name> may span several folders: a/b/c
        ├── _layers/<alg>/<hex>/link            a blob that belongs to this repository
        ├── _manifests/
        │   ├── revisions/<alg>/<hex>/link      a manifest stored in this repository
        │   └── tags/<tag>/
        │       ├── current/link                the digest the tag points at now
        │       └── history                     every move of the tag, one JSON object a line
        ├── _referrers/<alg>/<subject-hex>/<alg>/<hex>
        │                                       the descriptor of a manifest whose subject
        │                                       is <subject>, as the referrers API lists it
        └── _uploads/<uuid>/
            ├── data                            the bytes received so far
            └── startedat                       when the upload began (RFC 3339)

A ``link`` file holds a digest as text. Repository path components start with a
lower-case letter or digit, so they never collide with the ``_``-prefixed folders.
Manifests are blobs too: their bytes live under ``blobs/``.

Every spec is validated here, whatever its caller checked before: a repository name
must be a valid OCI name, a tag a valid tag, an upload id a UUID. So a request cannot
name a path outside the tree, whatever it carries.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from berth.errors import InvalidArgument
from berth.oci.digest import Digest
from berth.oci.reference import valid_repository_path, valid_tag
from berth.registry.server.storage.api import InvalidPath

_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")

BLOBS = "/blobs"
REPOSITORIES = "/repositories"


def valid_upload_id(text: str) -> bool:
    return bool(_UUID.match(text))


@dataclass(frozen=True, slots=True)
class BlobData:
    digest: Digest


@dataclass(frozen=True, slots=True)
class BlobsRoot:
    algorithm: str = "sha256"


@dataclass(frozen=True, slots=True)
class RepositoryRoot:
    name: str


@dataclass(frozen=True, slots=True)
class LayerLink:
    name: str
    digest: Digest


@dataclass(frozen=True, slots=True)
class LayersRoot:
    name: str


@dataclass(frozen=True, slots=True)
class ManifestsRoot:
    name: str


@dataclass(frozen=True, slots=True)
class ManifestRevisionLink:
    name: str
    digest: Digest


@dataclass(frozen=True, slots=True)
class ManifestRevisionsRoot:
    name: str


@dataclass(frozen=True, slots=True)
class TagsRoot:
    name: str


@dataclass(frozen=True, slots=True)
class TagRoot:
    name: str
    tag: str


@dataclass(frozen=True, slots=True)
class TagCurrentLink:
    name: str
    tag: str


@dataclass(frozen=True, slots=True)
class TagHistory:
    name: str
    tag: str


@dataclass(frozen=True, slots=True)
class ReferrersOf:
    name: str
    subject: Digest


@dataclass(frozen=True, slots=True)
class ReferrerDescriptor:
    name: str
    subject: Digest
    digest: Digest


@dataclass(frozen=True, slots=True)
class UploadsRoot:
    name: str


@dataclass(frozen=True, slots=True)
class UploadRoot:
    name: str
    upload_id: str


@dataclass(frozen=True, slots=True)
class UploadData:
    name: str
    upload_id: str


@dataclass(frozen=True, slots=True)
class UploadStartedAt:
    name: str
    upload_id: str


PathSpec = (
    BlobData
    | BlobsRoot
    | RepositoryRoot
    | LayerLink
    | LayersRoot
    | ManifestsRoot
    | ManifestRevisionLink
    | ManifestRevisionsRoot
    | TagsRoot
    | TagRoot
    | TagCurrentLink
    | TagHistory
    | ReferrersOf
    | ReferrerDescriptor
    | UploadsRoot
    | UploadRoot
    | UploadData
    | UploadStartedAt
)


def path_for(spec: PathSpec) -> str:
    """The storage path of ``spec``; raises InvalidPath for an unsafe name, tag or id."""
    match spec:
        case BlobData(digest):
            _digest(digest)
            return f"{BLOBS}/{digest.algorithm}/{digest.encoded[:2]}/{digest.encoded}/data"
        case BlobsRoot(algorithm):
            return f"{BLOBS}/{_component(algorithm)}"
        case RepositoryRoot(name):
            return _repo(name)
        case LayerLink(name, digest):
            return f"{_repo(name)}/_layers/{_digest(digest)}/link"
        case LayersRoot(name):
            return f"{_repo(name)}/_layers"
        case ManifestsRoot(name):
            return f"{_repo(name)}/_manifests"
        case ManifestRevisionLink(name, digest):
            return f"{_repo(name)}/_manifests/revisions/{_digest(digest)}/link"
        case ManifestRevisionsRoot(name):
            return f"{_repo(name)}/_manifests/revisions"
        case TagsRoot(name):
            return f"{_repo(name)}/_manifests/tags"
        case TagRoot(name, tag):
            return f"{_repo(name)}/_manifests/tags/{_tag(tag)}"
        case TagCurrentLink(name, tag):
            return f"{_repo(name)}/_manifests/tags/{_tag(tag)}/current/link"
        case TagHistory(name, tag):
            return f"{_repo(name)}/_manifests/tags/{_tag(tag)}/history"
        case ReferrersOf(name, subject):
            return f"{_repo(name)}/_referrers/{_digest(subject)}"
        case ReferrerDescriptor(name, subject, digest):
            return f"{_repo(name)}/_referrers/{_digest(subject)}/{_digest(digest)}"
        case UploadsRoot(name):
            return f"{_repo(name)}/_uploads"
        case UploadRoot(name, upload_id):
            return f"{_repo(name)}/_uploads/{_upload(upload_id)}"
        case UploadData(name, upload_id):
            return f"{_repo(name)}/_uploads/{_upload(upload_id)}/data"
        case UploadStartedAt(name, upload_id):
            return f"{_repo(name)}/_uploads/{_upload(upload_id)}/startedat"
    raise InvalidPath(repr(spec))


def _repo(name: str) -> str:
    if not isinstance(name, str) or not valid_repository_path(name):
        raise InvalidPath(f"repository {name!r}")
    return f"{REPOSITORIES}/{name}"


def _tag(tag: str) -> str:
    if not isinstance(tag, str) or not valid_tag(tag):
        raise InvalidPath(f"tag {tag!r}")
    return tag


def _upload(upload_id: str) -> str:
    if not isinstance(upload_id, str) or not valid_upload_id(upload_id):
        raise InvalidPath(f"upload {upload_id!r}")
    return upload_id


def _digest(digest: Digest) -> str:
    try:  # a Digest built without parse() could carry anything
        Digest.parse(str(digest))
    except InvalidArgument:
        raise InvalidPath(f"digest {digest!s}") from None
    return f"{digest.algorithm}/{digest.encoded}"


def _component(text: str) -> str:
    if not re.match(r"^[a-z0-9]+$", text):
        raise InvalidPath(text)
    return text
