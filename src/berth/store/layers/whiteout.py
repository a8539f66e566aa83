"""Whiteouts: how a layer says "this path is gone" (OCI image spec, layer.md).

In a layer tar, ``dir/.wh.NAME`` deletes ``dir/NAME`` from the layers below and
``dir/.wh..wh..opq`` hides everything the layers below have in ``dir`` (the *opaque*
whiteout). overlayfs says the same with a character device 0/0 named ``NAME`` and the
xattr ``trusted.overlay.opaque=y`` on ``dir`` (``user.overlay.opaque`` when mounted with
``userxattr`` in a user namespace). :mod:`apply` converts tar → overlay, :mod:`diff`
overlay → tar.
"""

from __future__ import annotations

import os
import stat

PREFIX = ".wh."
OPAQUE = ".wh..wh..opq"
# aufs kept its own metadata under this prefix; such entries carry no meaning for us.
META_PREFIX = ".wh..wh."

OPAQUE_XATTR = "trusted.overlay.opaque"
USER_OPAQUE_XATTR = "user.overlay.opaque"
# Overlay's private xattrs must never come from (or go into) a layer: a layer that sets
# trusted.overlay.redirect could point a container at any path of the host's layers.
PRIVATE_XATTR_PREFIXES = ("trusted.overlay.", "user.overlay.")


def is_whiteout(st: os.stat_result) -> bool:
    """True for overlayfs' whiteout: a character device with device number 0/0."""
    return stat.S_ISCHR(st.st_mode) and st.st_rdev == 0


def is_opaque(path: str, xattr: str = OPAQUE_XATTR) -> bool:
    try:
        return os.getxattr(path, xattr, follow_symlinks=False) == b"y"
    except OSError:
        return False


def make_whiteout(path: str) -> None:
    os.mknod(path, stat.S_IFCHR | 0o000, os.makedev(0, 0))


def make_opaque(path: str, xattr: str = OPAQUE_XATTR) -> None:
    os.setxattr(path, xattr, b"y", follow_symlinks=False)


def private_xattr(name: str) -> bool:
    return name.startswith(PRIVATE_XATTR_PREFIXES)
