"""``berth push``: send a local image to a registry.

Every blob of the image (its layers and its config) is offered in parallel (a few at a
time, ``max_concurrent_uploads``, 5 like Docker); for each one:

1. ``HEAD`` in the target repository: the registry has it → ``Layer already exists``;
2. else a cross-repository mount from a repository of the same registry that this
   machine pulled it from or pushed it to (``sources``): ``201`` → ``Mounted from …``;
3. else an upload (``POST`` then one streamed ``PUT``) → ``Pushed``.

The manifest goes last, by tag, as the bytes stored locally (so its digest is the one
``berth images --digests`` shows), and the image gains the pushed ``repo@digest`` name.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from berth.errors import AlreadyExists, ImageNotFound, InvalidArgument
from berth.oci.descriptor import Descriptor
from berth.oci.digest import Digest
from berth.oci.image import Manifest
from berth.oci.jsonutil import FieldError
from berth.oci.reference import Reference
from berth.registry.client import sources
from berth.registry.client.progress import Progress, QuietProgress
from berth.store.content.api import read_blob

if TYPE_CHECKING:
    from berth.registry.client.resolver import RegistryResolver
    from berth.registry.client.session import Session
    from berth.store.store import Store

CHUNK = 1 << 20
TICK_BYTES = 4 << 20


@dataclass(frozen=True, slots=True)
class PushOptions:
    max_concurrent_uploads: int = 5


@dataclass(frozen=True, slots=True)
class PushResult:
    reference: Reference
    digest: Digest
    size: int
    pushed: tuple[Digest, ...] = ()
    mounted: tuple[Digest, ...] = ()
    existed: tuple[Digest, ...] = ()


@dataclass
class _Outcomes:
    pushed: list[Digest] = field(default_factory=list)
    mounted: list[Digest] = field(default_factory=list)
    existed: list[Digest] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def push(store: Store, session: Session, ref: Reference, options: PushOptions = PushOptions(),
         progress: Progress | None = None) -> PushResult:
    from berth.registry.client.resolver import RegistryResolver

    progress = progress or QuietProgress()
    if ref.digest is not None:
        raise InvalidArgument(f"push {ref.familiar()}: push a tag, not a digest")
    try:
        image = store.images.get(str(ref))
    except ImageNotFound:
        raise ImageNotFound(f"An image does not exist locally with the tag: {ref.familiar_repository}") from None
    manifest_bytes = read_blob(store.content, image.manifest_digest)
    try:
        manifest = Manifest.from_bytes(manifest_bytes, image.media_type)
    except FieldError as err:
        raise InvalidArgument(f"manifest {image.manifest_digest}: {err}") from None
    resolver = RegistryResolver(session, ("pull", "push"))
    progress.message(f"The push refers to repository [{ref.repository}]")
    diff_ids = image.config.diff_ids
    named = list(zip(manifest.layers, diff_ids, strict=False))
    for _desc, diff_id in reversed(named):  # Docker lists the top layer first
        progress.status(diff_id.short, "Preparing")
    outcomes = _Outcomes()
    jobs = [(desc, diff_id.short) for desc, diff_id in reversed(named)] + [(manifest.config, "")]
    with ThreadPoolExecutor(max_workers=max(1, options.max_concurrent_uploads), thread_name_prefix="push") as pool:
        futures = [pool.submit(_push_blob, store, resolver, ref, desc, ident, progress, outcomes)
                   for desc, ident in jobs]
        for future in futures:
            future.result()
    desc = Descriptor(image.media_type, image.manifest_digest, len(manifest_bytes))
    writer = resolver.push(ref, desc)
    writer.write(manifest_bytes)
    digest = writer.commit()
    sources.remember(store.db, ref.domain, ref.path, [d.digest for d, _ in jobs])
    store.images.add_digest(image, ref.repository, digest)
    progress.message(f"{ref.tag}: digest: {digest} size: {len(manifest_bytes)}")
    return PushResult(ref, digest, len(manifest_bytes), tuple(outcomes.pushed), tuple(outcomes.mounted),
                      tuple(outcomes.existed))


def _push_blob(store: Store, resolver: RegistryResolver, ref: Reference, desc: Descriptor, ident: str,
               progress: Progress, outcomes: _Outcomes) -> None:
    def status(text: str) -> None:
        if ident:
            progress.status(ident, text)

    if resolver.exists(ref, desc):
        with outcomes.lock:
            outcomes.existed.append(desc.digest)
        status("Layer already exists")
        return
    location: str | None = None
    for source in sources.candidates(store.db, ref.domain, ref.path, desc.digest):
        mounted = resolver.mount(ref, desc, source)
        if mounted is True:
            with outcomes.lock:
                outcomes.mounted.append(desc.digest)
            status(f"Mounted from {source}")
            return
        location = str(mounted)  # the registry opened an upload instead
        break
    if location is None:
        location = resolver.start_upload(ref)
    try:
        writer = resolver.push(ref, desc, location)
    except AlreadyExists:
        status("Layer already exists")
        return
    done = 0
    next_tick = 0
    try:
        with store.content.open(desc.digest) as blob:
            while chunk := blob.read(CHUNK):
                writer.write(chunk)
                done += len(chunk)
                if ident and done >= next_tick:
                    progress.transfer(ident, "Pushing", done, desc.size)
                    next_tick = done + TICK_BYTES
        writer.commit()
    except BaseException:
        writer.close()
        raise
    with outcomes.lock:
        outcomes.pushed.append(desc.digest)
    status("Pushed")
