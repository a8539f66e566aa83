"""Base images without any registry: ``busybox`` from the host's busybox-static binary and
``debian:<suite>`` from debootstrap and the host's Debian mirror.

Each is tagged the way Docker Hub names it, so ``FROM busybox`` and
``FROM debian:bookworm-slim`` resolve locally. The busybox image is reproducible: the
same binary gives the same image ID (fixed times, sorted entries), so bootstrapping
twice is a no-op.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING

from berth.errors import InvalidArgument, Unavailable, Unsupported
from berth.oci.descriptor import Platform
from berth.oci.digest import Digest
from berth.oci.image import ContainerConfig, History
from berth.store.assemble import Recipe, assemble, layer_from_dir, layer_from_stream
from berth.store.images import Image
from berth.sys.fs import remove_tree, temp_name

if TYPE_CHECKING:
    from berth.store.store import Store

PATH_ENV = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
DEFAULT_MIRROR = "http://deb.debian.org/debian"
# What Docker Hub calls each suite's images besides debian:<suite>.
SUITE_ALIASES = {"bookworm": ("bookworm-slim",), "trixie": ("trixie-slim",), "bullseye": ("bullseye-slim",)}


@contextlib.contextmanager
def scratch(store: Store) -> Iterator[str]:
    """A temp folder next to the snapshots (same file system), flock'ed so that a
    concurrent sweep leaves it alone, and removed afterwards."""
    folder = temp_name(store.snapshots.tree.root)
    os.mkdir(folder, 0o700)
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        yield folder
    finally:
        remove_tree(folder)
        os.close(fd)


def _rfc3339(seconds: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))


def busybox(store: Store, binary: str = "/bin/busybox", tags: tuple[str, ...] = ("busybox:latest",)) -> Image:
    """``busybox:latest`` from ``binary`` (Debian's busybox-static): /bin/busybox, a
    symlink per applet, /etc/passwd and /etc/group, CMD ["sh"]."""
    if not os.path.isfile(binary):
        raise Unavailable(f"bootstrap busybox: {binary} not found (install Debian's busybox-static)")
    stamp = int(os.stat(binary).st_mtime)
    version = _busybox_version(binary)
    with store.writing(), scratch(store) as work:
        rootfs = os.path.join(work, "rootfs")
        os.mkdir(rootfs, 0o755)
        _busybox_rootfs(rootfs, binary)
        _settle(rootfs, stamp)
        layer = layer_from_dir(store, rootfs, [], "trees")
        created = _rfc3339(stamp)
        recipe = Recipe(
            config=ContainerConfig(env=(PATH_ENV,), cmd=("sh",)),
            history=History(created=created, created_by=f"berth bootstrap busybox ({version}, from {binary})"),
            created=created,
            platform=Platform.host(),
        )
        image = assemble(store, None, layer, recipe)
        for tag in tags:
            store.images.tag(image, tag)
    return store.images.get(str(image.id))


_PASSWD = (
    "root:x:0:0:root:/root:/bin/sh\n"
    "daemon:x:1:1:daemon:/usr/sbin:/bin/false\n"
    "nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"
)
_GROUP = "root:x:0:\ndaemon:x:1:\ntty:x:5:\nnogroup:x:65534:\n"


def _busybox_rootfs(root: str, binary: str) -> None:
    for folder in ("bin", "etc", "proc", "sys", "dev", "tmp", "root", "var/tmp", "usr/bin", "usr/sbin", "sbin"):
        os.makedirs(os.path.join(root, folder), 0o755, exist_ok=True)
    os.chmod(os.path.join(root, "tmp"), 0o1777)
    os.chmod(os.path.join(root, "var/tmp"), 0o1777)
    os.chmod(os.path.join(root, "root"), 0o700)
    shutil.copyfile(binary, os.path.join(root, "bin/busybox"))
    os.chmod(os.path.join(root, "bin/busybox"), 0o755)
    applets = subprocess.run([binary, "--list"], capture_output=True, text=True, check=True).stdout.split()
    for applet in sorted(set(applets)):
        link = os.path.join(root, "bin", applet)
        if not os.path.lexists(link):
            os.symlink("busybox", link)
    for name, text in (("passwd", _PASSWD), ("group", _GROUP)):
        with open(os.path.join(root, "etc", name), "w") as f:
            f.write(text)


def _busybox_version(binary: str) -> str:
    out = subprocess.run([binary], capture_output=True, text=True).stdout.splitlines()
    match = re.search(r"BusyBox v[\w.\-]+", out[0] if out else "")
    return match.group(0) if match else "BusyBox"


def _settle(root: str, stamp: int) -> None:
    """Fixed times and root ownership (except what is meant to be a user's), so the
    layer's bytes depend only on the binary."""
    for folder, dirs, files in os.walk(root, topdown=False):
        for name in dirs + files:
            os.utime(os.path.join(folder, name), (stamp, stamp), follow_symlinks=False)
    os.utime(root, (stamp, stamp))


def debian(store: Store, suite: str = "bookworm", *, mirror: str | None = None, variant: str = "minbase",
           tarball: str | None = None, tags: tuple[str, ...] | None = None) -> Image:
    """``debian:<suite>`` (and ``<suite>-slim``) with debootstrap from ``mirror`` (by
    default the one apt is configured with). ``tarball``: a rootfs tar to reuse if it
    exists, or to keep the debootstrap result in if it does not (tests cache it)."""
    if not re.fullmatch(r"[a-z]+", suite):
        raise InvalidArgument(f"bootstrap debian: {suite!r} is not a suite name")
    names = tags or (f"debian:{suite}", *(f"debian:{a}" for a in SUITE_ALIASES.get(suite, ())))
    mirror = mirror or configured_mirror()
    created = _rfc3339(time.time())
    recipe = Recipe(
        config=ContainerConfig(env=(PATH_ENV,), cmd=("bash",)),
        history=History(created=created, created_by=f"berth bootstrap debian:{suite} "
                        f"(debootstrap --variant={variant} {suite} {mirror})"),
        created=created,
        platform=Platform.host(),
    )
    with store.writing():
        if tarball and os.path.exists(tarball):
            with open(tarball, "rb") as f:
                layer = layer_from_stream(store, f)
        else:
            with scratch(store) as work:
                rootfs = os.path.join(work, "rootfs")
                _debootstrap(suite, rootfs, mirror, variant)
                _slim(rootfs, suite)
                layer = layer_from_dir(store, rootfs, [], "trees")
                if tarball:
                    _keep_tarball(store, layer.desc.digest, tarball)
        image = assemble(store, None, layer, recipe)
        for tag in names:
            store.images.tag(image, tag)
    return store.images.get(str(image.id))


def configured_mirror() -> str:
    """The first Debian archive URI in apt's sources (deb822 or one-line), else
    deb.debian.org."""
    candidates = ["/etc/apt/sources.list.d/debian.sources", "/etc/apt/sources.list"]
    folder = "/etc/apt/sources.list.d"
    if os.path.isdir(folder):
        candidates += [os.path.join(folder, n) for n in sorted(os.listdir(folder))
                       if n.endswith((".sources", ".list"))]
    for path in candidates:
        try:
            with open(path) as f:
                text = f.read()
        except OSError:
            continue
        for match in re.finditer(r"^(?:URIs:\s*|deb\s+(?:\[[^\]]*\]\s+)?)(\S+)", text, re.MULTILINE):
            uri = match.group(1)
            if "debian" in uri and "security" not in uri:
                return uri.rstrip("/")
    return DEFAULT_MIRROR


def _debootstrap(suite: str, rootfs: str, mirror: str, variant: str) -> None:
    if shutil.which("debootstrap") is None:
        raise Unavailable("bootstrap debian: debootstrap is not installed (apt-get install debootstrap)")
    if os.geteuid() != 0:
        raise Unsupported("bootstrap debian: debootstrap needs root")
    arch = Platform.host().architecture
    # A private mount namespace: whatever debootstrap mounts (/proc, /sys in the
    # target) goes away with it, even if it fails half-way.
    cmd = ["unshare", "--mount", "--propagation", "private", "debootstrap", f"--variant={variant}",
           f"--arch={arch}", suite, rootfs, mirror]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-5:])
        raise Unavailable(f"bootstrap debian: debootstrap failed (exit {done.returncode}):\n{tail}")


def _slim(rootfs: str, suite: str) -> None:
    """What the official images leave out: package lists, caches, logs, the
    machine id; and sources that point at deb.debian.org."""
    for rel in ("var/lib/apt/lists", "var/cache/apt", "var/log", "tmp", "var/tmp"):
        path = os.path.join(rootfs, rel)
        if not os.path.isdir(path):
            continue
        for name in os.listdir(path):
            child = os.path.join(path, name)
            if name == "partial" or name == "lock":
                continue
            if os.path.isdir(child) and not os.path.islink(child):
                remove_tree(child)
            else:
                os.unlink(child)
    with contextlib.suppress(FileNotFoundError):
        with open(os.path.join(rootfs, "etc/machine-id"), "w"):
            pass
    with open(os.path.join(rootfs, "etc/apt/sources.list"), "w") as f:
        f.write(f"deb {DEFAULT_MIRROR} {suite} main\ndeb {DEFAULT_MIRROR} {suite}-updates main\n"
                f"deb http://deb.debian.org/debian-security {suite}-security main\n")
    with open(os.path.join(rootfs, "etc/hostname"), "w") as f:
        f.write("localhost\n")


def _keep_tarball(store: Store, digest: Digest, path: str) -> None:
    """Copy the layer (gzip) to ``path`` atomically, for the next bootstrap to reuse."""
    tmp = temp_name(os.path.dirname(os.path.abspath(path)))
    with store.content.open(digest) as src, open(tmp, "wb") as dst:
        shutil.copyfileobj(src, dst, 1 << 20)
    os.rename(tmp, path)
