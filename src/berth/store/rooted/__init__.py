"""Reading and writing a container's files from the host without ever leaving its root.

Every operation starts from a *root descriptor*: ``/proc/PID/root`` of a running
container, or a detached mount of a stopped one (``store.mounting.open_detached``).
Paths are resolved by the kernel inside that root (openat2 ``RESOLVE_IN_ROOT``, symlinks
followed as the container would follow them), and everything below is opened relative to
descriptors with ``O_NOFOLLOW``. A container that swaps folders for symlinks while we
work can only redirect us to another of its own files: race-free by construction, not by
a narrow window (Docker's CVE-2018-15664 is the bug this shuts out).

``stat_path``   Docker's ``X-Docker-Container-Path-Stat`` (name, size, mode, mtime, linkTarget)
``write_tar``   a tar of one path, rebased to its name (``GET /containers/{id}/archive``)
``extract_tar`` a tar unpacked into a folder, every entry checked (``PUT …/archive``)
"""

from berth.store.rooted.extract import ExtractOptions, extract_tar
from berth.store.rooted.resolve import PathStat, Root, stat_path
from berth.store.rooted.tarout import write_tar

__all__ = ["ExtractOptions", "PathStat", "Root", "extract_tar", "stat_path", "write_tar"]
