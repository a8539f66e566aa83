"""Images and their names, in the state database.

An image is one config blob (its digest is Docker's image ID) reached through one
manifest blob; its layers are blobs in the content store and committed snapshots keyed
by chain ID. Names are references stored normalised (``docker.io/library/busybox:latest``)
and shown familiar (``busybox:latest``).

``get`` accepts what ``docker image inspect`` accepts, tried in Docker's order: a full
ID (``sha256:<64 hex>`` or bare 64 hex), a reference (``name``, ``name:tag``,
``name@sha256:…``), then a unique ID prefix (``3f2a``, ``sha256:3f2a``).
"""

from __future__ import annotations

import builtins
import re
import sqlite3
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from berth.errors import Conflict, ImageNotFound, InvalidArgument, InvalidReference
from berth.oci.digest import Digest
from berth.oci.image import ImageConfig, Manifest, chain_ids
from berth.oci.reference import Reference
from berth.state.db import Database
from berth.store.content.api import ContentStore, read_blob

_HEX = re.compile(r"^[a-f0-9]{1,64}$")
_FULL_HEX = re.compile(r"^[a-f0-9]{64}$")
IMAGE_LABEL = "berth.image"  # on a container's snapshot: the image it was made from


@dataclass(frozen=True, slots=True)
class ImageLayer:
    blob: Digest
    media_type: str
    blob_size: int
    diff_id: Digest
    chain_id: Digest


@dataclass(frozen=True, slots=True)
class Image:
    id: Digest  # the config digest
    manifest_digest: Digest
    media_type: str  # the manifest's
    manifest_size: int
    config: ImageConfig
    layers: tuple[ImageLayer, ...]
    repo_tags: tuple[str, ...] = ()  # familiar: busybox:latest
    repo_digests: tuple[str, ...] = ()  # familiar: busybox@sha256:…
    size: int = 0
    created: str | None = None
    added: float = 0.0
    top_chain_id: Digest | None = None
    last_tag_time: float | None = None
    names: tuple[str, ...] = field(default=(), repr=False)  # normalised tags

    @property
    def short_id(self) -> str:
        return self.id.short

    @property
    def chain_ids(self) -> tuple[Digest, ...]:
        return tuple(layer.chain_id for layer in self.layers)


# (action, subject): ("Untagged", "busybox:latest") or ("Deleted", "sha256:…")
Action = tuple[str, str]


class ImageStore:
    def __init__(self, db: Database, content: ContentStore,
                 after_delete: Callable[[], list[Action]] | None = None) -> None:
        self.db = db
        self.content = content
        self._after_delete = after_delete

    # ----------------------------------------------------------------- reading

    def get(self, ref_or_id: str) -> Image:
        """Resolve a reference or ID; raises ImageNotFound, InvalidReference, or
        InvalidArgument for an ambiguous ID prefix."""
        image_id = self.resolve(ref_or_id)
        return self._load(image_id)

    def resolve(self, ref_or_id: str) -> Digest:
        return self.lookup(ref_or_id)[0]

    def lookup(self, ref_or_id: str) -> tuple[Digest, str | None]:
        """The image ID, and the normalised name it was found by (None: by ID)."""
        text = ref_or_id.strip()
        if not text:
            raise InvalidReference("image reference: empty")
        conn = self.db.conn
        if text.startswith("sha256:"):
            hexpart = text[len("sha256:"):]
            if not _HEX.match(hexpart):
                raise InvalidReference(f"image {text!r}: invalid ID")
            return self._by_prefix(hexpart, text), None
        if _FULL_HEX.match(text):
            return self._by_prefix(text, text), None
        try:
            ref = Reference.parse(text)
        except InvalidReference:
            if _HEX.match(text):
                return self._by_prefix(text, text), None
            raise
        if ref.digest is not None:
            name = f"{ref.repository}@{ref.digest}"
            row = conn.execute("SELECT image_id FROM image_digests WHERE name = ?", (name,)).fetchone()
            if row is not None:
                return Digest.parse(row[0]), name
            row = conn.execute("SELECT id FROM images WHERE manifest_digest = ?", (str(ref.digest),)).fetchone()
            if row is not None:
                return Digest.parse(row[0]), None
            raise ImageNotFound(f"No such image: {text}")
        row = conn.execute("SELECT image_id FROM image_tags WHERE name = ?", (str(ref),)).fetchone()
        if row is not None:
            return Digest.parse(row[0]), str(ref)
        if ":" not in text and "/" not in text and _HEX.match(text):
            return self._by_prefix(text, text), None
        raise ImageNotFound(f"No such image: {text}")

    def _by_prefix(self, hexpart: str, text: str) -> Digest:
        rows = self.db.conn.execute("SELECT id FROM images WHERE id >= ? AND id < ? LIMIT 2",
                                    (f"sha256:{hexpart}", f"sha256:{hexpart}g")).fetchall()
        if not rows:
            raise ImageNotFound(f"No such image: {text}")
        if len(rows) > 1:
            raise InvalidArgument(f"image ID prefix {text!r}: matches more than one image")
        return Digest.parse(rows[0][0])

    def exists(self, image_id: Digest) -> bool:
        return self.db.conn.execute("SELECT 1 FROM images WHERE id = ?", (str(image_id),)).fetchone() is not None

    def _load(self, image_id: Digest, row: sqlite3.Row | None = None) -> Image:
        conn = self.db.conn
        if row is None:
            row = conn.execute("SELECT * FROM images WHERE id = ?", (str(image_id),)).fetchone()
            if row is None:
                raise ImageNotFound(f"No such image: {image_id}")
        config = ImageConfig.from_bytes(read_blob(self.content, image_id))
        layer_rows = conn.execute(
            "SELECT blob, media_type, blob_size, diff_id, chain_id FROM image_layers"
            " WHERE image_id = ? ORDER BY position", (str(image_id),)).fetchall()
        layers = tuple(ImageLayer(Digest.parse(r[0]), r[1], r[2], Digest.parse(r[3]), Digest.parse(r[4]))
                       for r in layer_rows)
        tag_rows = conn.execute("SELECT name, created FROM image_tags WHERE image_id = ? ORDER BY created, name",
                                (str(image_id),)).fetchall()
        digests = [r[0] for r in conn.execute(
            "SELECT name FROM image_digests WHERE image_id = ? ORDER BY name", (str(image_id),))]
        names = tuple(r[0] for r in tag_rows)
        return Image(
            id=image_id,
            manifest_digest=Digest.parse(row["manifest_digest"]),
            media_type=row["manifest_type"],
            manifest_size=row["manifest_size"],
            config=config,
            layers=layers,
            repo_tags=tuple(familiar(n) for n in names),
            repo_digests=tuple(familiar(n) for n in digests),
            size=row["size"],
            created=row["created"],
            added=row["added"],
            top_chain_id=Digest.parse(row["top_chain_id"]) if row["top_chain_id"] else None,
            last_tag_time=max((r[1] for r in tag_rows), default=None),
            names=names,
        )

    def list(self) -> builtins.list[Image]:
        """Every image, newest first."""
        rows = self.db.conn.execute("SELECT * FROM images ORDER BY created DESC, added DESC").fetchall()
        return [self._load(Digest.parse(r["id"]), r) for r in rows]

    def users(self, image_id: Digest) -> builtins.list[str]:
        """Keys of the active snapshots (containers) made from ``image_id``."""
        rows = self.db.conn.execute(
            "SELECT key FROM snapshots WHERE kind != 'committed' AND json_extract(labels, ?) = ?",
            (f'$."{IMAGE_LABEL}"', str(image_id))).fetchall()
        return [r[0] for r in rows]

    # ----------------------------------------------------------------- writing

    def record(self, manifest: Manifest, manifest_digest: Digest, manifest_size: int,
               config: ImageConfig, layer_sizes: Sequence[int]) -> Digest:
        """Insert (or refresh) the image whose config is ``manifest.config``. Its blobs
        and unpacked layers must already be in place."""
        image_id = manifest.config.digest
        chains = chain_ids(config.diff_ids)
        now = time.time()
        with self.db.transaction() as conn:
            conn.execute(
                "INSERT INTO images (id, manifest_digest, manifest_type, manifest_size, size, created, added,"
                " top_chain_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT(id) DO UPDATE SET manifest_digest = excluded.manifest_digest,"
                " manifest_type = excluded.manifest_type, manifest_size = excluded.manifest_size",
                (str(image_id), str(manifest_digest), manifest.media_type, manifest_size, sum(layer_sizes),
                 config.created, now, str(chains[-1]) if chains else None))
            conn.execute("DELETE FROM image_layers WHERE image_id = ?", (str(image_id),))
            conn.executemany(
                "INSERT INTO image_layers (image_id, position, blob, media_type, blob_size, diff_id, chain_id)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                [(str(image_id), i, str(d.digest), d.media_type, d.size, str(config.diff_ids[i]), str(chains[i]))
                 for i, d in enumerate(manifest.layers)])
        return image_id

    def tag(self, image: Image | Digest, ref: str) -> tuple[str, Digest | None]:
        """Point ``ref`` at the image; returns the normalised name and the image it
        pointed to before (None if new)."""
        name = tag_name(ref)
        image_id = image.id if isinstance(image, Image) else image
        with self.db.transaction() as conn:
            old = conn.execute("SELECT image_id FROM image_tags WHERE name = ?", (name,)).fetchone()
            conn.execute("INSERT INTO image_tags (name, image_id, created) VALUES (?, ?, ?)"
                         " ON CONFLICT(name) DO UPDATE SET image_id = excluded.image_id, created = excluded.created",
                         (name, str(image_id), time.time()))
        previous = Digest.parse(old[0]) if old else None
        return name, previous if previous != image_id else None

    def add_digest(self, image: Image | Digest, repository: str, digest: Digest) -> None:
        """Record ``repository@digest`` as a name of the image (registry pulls/pushes)."""
        image_id = image.id if isinstance(image, Image) else image
        ref = Reference.parse(repository, default_tag=False)
        with self.db.transaction() as conn:
            conn.execute("INSERT OR REPLACE INTO image_digests (name, image_id) VALUES (?, ?)",
                         (f"{ref.repository}@{digest}", str(image_id)))

    def _digest_names(self, image_id: Digest) -> builtins.list[str]:
        return [r[0] for r in self.db.conn.execute("SELECT name FROM image_digests WHERE image_id = ?",
                                                   (str(image_id),))]

    def _drop_name(self, name: str) -> str:
        with self.db.transaction() as conn:
            conn.execute("DELETE FROM image_tags WHERE name = ?", (name,))
            conn.execute("DELETE FROM image_digests WHERE name = ?", (name,))
        return familiar(name)

    def untag(self, ref: str) -> str:
        """Remove the name ``ref``; returns it familiar. ImageNotFound if no such tag."""
        name = tag_name(ref)
        with self.db.transaction() as conn:
            if conn.execute("DELETE FROM image_tags WHERE name = ?", (name,)).rowcount == 0:
                raise ImageNotFound(f"No such image: {ref}")
        return familiar(name)

    def remove(self, ref_or_id: str, force: bool = False, prune: bool = True) -> builtins.list[Action]:
        """``docker rmi``. A name removes that name, and the image with its last name;
        an ID removes the image (all its names: with ``force`` when it has several).
        Refuses (Conflict) while a container uses the image, unless ``force``, which
        then only drops the names and the image record — the container keeps its layers.
        With ``prune`` unused blobs and layers go too."""
        image_id, matched = self.lookup(ref_or_id)
        image = self._load(image_id)
        users = self.users(image_id)
        actions: builtins.list[Action] = []
        if matched is not None:
            digest_names = [n for n in self._digest_names(image_id) if n != matched]
            others = [n for n in image.names if n != matched] + digest_names
            if others:
                actions.append(("Untagged", self._drop_name(matched)))
                return actions
            if users and not force:
                raise Conflict(f'unable to remove repository reference "{ref_or_id}" (must force) - container '
                               f"{users[0][:12]} is using its referenced image {image.short_id}")
        else:
            if len(image.names) > 1 and not force:
                raise Conflict(f"unable to delete {image.short_id} (must be forced) - image is referenced in "
                               f"multiple repositories")
            if users and not force:
                raise Conflict(f"unable to delete {image.short_id} (must be forced) - image is being used by "
                               f"container {users[0][:12]}")
        with self.db.transaction() as conn:
            for name in image.names:
                conn.execute("DELETE FROM image_tags WHERE name = ?", (name,))
                actions.append(("Untagged", familiar(name)))
            for name in conn.execute("SELECT name FROM image_digests WHERE image_id = ?", (str(image_id),)):
                actions.append(("Untagged", familiar(name[0])))
            conn.execute("DELETE FROM images WHERE id = ?", (str(image_id),))
        actions.append(("Deleted", str(image_id)))
        if prune and self._after_delete is not None:
            actions.extend(self._after_delete())
        return actions


def tag_name(ref: str) -> str:
    """The normalised name a tag is stored under; refuses digests and ID-like names."""
    parsed = Reference.parse(ref)
    if parsed.digest is not None:
        raise InvalidReference(f"reference {ref!r}: refusing to create a tag with a digest reference")
    if _FULL_HEX.match(parsed.path.rsplit("/", 1)[-1]) and parsed.domain == "docker.io":
        raise InvalidReference(f"reference {ref!r}: invalid repository name (64-character hexadecimal)")
    return str(parsed)


def familiar(name: str) -> str:
    return Reference.parse(name, default_tag=False).familiar()
