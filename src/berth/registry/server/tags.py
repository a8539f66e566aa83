"""Tags of one repository, and the record of every time one moved.

A tag is a ``current/link`` file naming a manifest digest. :meth:`TagStore.move` is
the only way a tag changes: under the driver's lock for that tag it reads the current
digest, writes the new one (or removes the link) and rewrites the history with one
more entry, atomically (``put_content``). Concurrent moves of one tag, from threads
of a server or from an offline CLI command, therefore serialise and lose no entry.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import dataclass

from berth.errors import InvalidArgument
from berth.oci.digest import Digest
from berth.oci.reference import valid_tag
from berth.registry.server import history
from berth.registry.server.errors import ManifestUnknown, TagInvalid
from berth.registry.server.history import TagMove
from berth.registry.server.storage.api import PathNotFound, StorageDriver
from berth.registry.server.storage.paths import TagCurrentLink, TagHistory, TagRoot, TagsRoot, path_for


@dataclass(frozen=True, slots=True)
class Actor:
    """Who moves a tag: a user name (``anonymous`` without credentials) and, over
    HTTP, the client's address."""

    user: str
    remote: str | None = None


def check_tag(tag: str) -> str:
    if not valid_tag(tag):
        raise TagInvalid(f"tag {tag!r}: invalid format", {"tag": tag[:200]})
    return tag


class TagStore:
    def __init__(self, driver: StorageDriver, name: str) -> None:
        self.driver = driver
        self.name = name

    def get(self, tag: str) -> Digest:
        """The digest ``tag`` points at; ManifestUnknown when there is no such tag."""
        try:
            text = self.driver.get_content(path_for(TagCurrentLink(self.name, check_tag(tag))))
        except PathNotFound:
            raise ManifestUnknown(f"{self.name}:{tag}: tag not found", {"tag": tag}) from None
        try:
            return Digest.parse(text.decode().strip())
        except (InvalidArgument, UnicodeDecodeError):
            raise ManifestUnknown(f"{self.name}:{tag}: tag link is damaged", {"tag": tag}) from None

    def find(self, tag: str) -> Digest | None:
        try:
            return self.get(tag)
        except ManifestUnknown:
            return None

    def names(self) -> list[str]:
        """Tags that point at something now, sorted (byte order, like Go's sort.Strings)."""
        try:
            entries = self.driver.list(path_for(TagsRoot(self.name)))
        except PathNotFound:
            return []
        tags = []
        for entry in entries:
            tag = entry.rsplit("/", 1)[1]
            if valid_tag(tag) and self._has_current(tag):
                tags.append(tag)
        return sorted(tags)

    def _has_current(self, tag: str) -> bool:
        try:
            self.driver.stat(path_for(TagCurrentLink(self.name, tag)))
        except PathNotFound:
            return False
        return True

    def known(self) -> list[str]:
        """Every tag with a history, including deleted ones."""
        try:
            entries = self.driver.list(path_for(TagsRoot(self.name)))
        except PathNotFound:
            return []
        return sorted(t for t in (e.rsplit("/", 1)[1] for e in entries) if valid_tag(t))

    def pointing_to(self, digest: Digest) -> list[str]:
        return [t for t in self.names() if self.find(t) == digest]

    def history(self, tag: str) -> list[TagMove]:
        try:
            data = self.driver.get_content(path_for(TagHistory(self.name, check_tag(tag))))
        except PathNotFound:
            return []
        return history.decode(data)

    def locked(self, tag: str) -> AbstractContextManager[None]:
        """Hold the tag's lock, to read its history and move it as one step
        (``move(..., held=True)`` inside the block)."""
        return self.driver.lock(path_for(TagRoot(self.name, check_tag(tag))))

    def move(
        self, tag: str, digest: Digest | None, actor: Actor, action: str, *, held: bool = False
    ) -> TagMove | None:
        """Point ``tag`` at ``digest`` (None deletes it) and record the move.

        Returns the recorded move, or None when the tag already pointed there.
        ``held`` says the caller holds :meth:`locked` for this tag already."""
        if held:
            return self._move(tag, digest, actor, action)
        with self.locked(tag):
            return self._move(tag, digest, actor, action)

    def _move(self, tag: str, digest: Digest | None, actor: Actor, action: str) -> TagMove | None:
        previous = self.find(tag)
        if previous == digest:
            return None
        entry = TagMove(history.now(), actor.user, action, previous, digest, actor.remote)
        moves = self.history(tag)
        moves.append(entry)
        link = path_for(TagCurrentLink(self.name, tag))
        # History first: a crash between the two writes leaves an entry for a move
        # that did not happen, which rollback tolerates, rather than a silent move.
        self.driver.put_content(path_for(TagHistory(self.name, tag)), history.encode(moves))
        if digest is None:
            try:
                self.driver.delete(link.rsplit("/", 1)[0])
            except PathNotFound:
                pass
        else:
            self.driver.put_content(link, str(digest).encode())
        return entry
