"""Errors of the store that callers may want to tell apart; each is a berth.errors class."""

from __future__ import annotations

from berth.errors import InvalidArgument


class CorruptArchive(InvalidArgument):
    """A tar stream (a layer, an image archive) is truncated or malformed."""


class UnsafeLayer(InvalidArgument):
    """A layer tried to reach outside its folder (``..``, a hard link to a host path)."""
