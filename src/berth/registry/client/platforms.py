"""Choosing one image of an image index (a multi-platform image), as containerd's
platform matcher does: the OS and architecture must match; among those, an entry with
the wanted variant beats one with no variant, which beats another variant (``arm64``
means ``arm64/v8``; ``arm/v7`` can run ``arm/v6`` and ``arm/v5``). Entries without a
platform, and attestation manifests (``unknown/unknown``), are never chosen.
"""

from __future__ import annotations

from berth.errors import NotFound
from berth.oci import mediatype as mt
from berth.oci.descriptor import Descriptor, Platform
from berth.oci.image import Index

_DEFAULT_VARIANT = {"arm64": "v8"}
_ARM_COMPATIBLE = {"v8": ("v8", "v7", "v6", "v5"), "v7": ("v7", "v6", "v5"), "v6": ("v6", "v5"), "v5": ("v5",)}


def normalize(p: Platform) -> Platform:
    os_name = p.os.lower()
    arch = {"x86_64": "amd64", "aarch64": "arm64", "armhf": "arm", "armel": "arm", "i386": "386"}.get(
        p.architecture.lower(), p.architecture.lower())
    variant = p.variant.lower() if p.variant else _DEFAULT_VARIANT.get(arch)
    if arch == "arm" and variant is None:
        variant = "v7"
    return Platform(os_name, arch, variant, p.os_version)


def rank(want: Platform, have: Platform) -> int | None:
    """Lower is better; None when ``have`` cannot serve ``want``."""
    w, h = normalize(want), normalize(have)
    if w.os != h.os or w.architecture != h.architecture:
        return None
    if have.variant is None or w.variant == h.variant:
        return 0 if w.variant == h.variant else 1
    if w.architecture == "arm" and w.variant in _ARM_COMPATIBLE:
        compatible = _ARM_COMPATIBLE[w.variant]
        if h.variant in compatible:
            return 1 + compatible.index(h.variant)
    return None


def select(index: Index, want: Platform) -> Descriptor:
    """The best entry of ``index`` for ``want``; NotFound (Docker's words) when none fits."""
    best: tuple[int, int, Descriptor] | None = None
    for position, desc in enumerate(index.manifests):
        if desc.platform is None or desc.media_type not in mt.MANIFEST_TYPES | mt.INDEX_TYPES:
            continue
        if desc.annotations.get("vnd.docker.reference.type") == "attestation-manifest":
            continue
        score = rank(want, desc.platform)
        if score is not None and (best is None or (score, position) < best[:2]):
            best = (score, position, desc)
    if best is None:
        raise NotFound(f"no matching manifest for {want} in the manifest list entries")
    return best[2]
