"""Snapshotters: the Snapshotter protocol, overlayfs and copying implementations."""

from berth.store.snapshots.api import Kind, Layout, SnapshotInfo, Snapshotter, Usage
from berth.store.snapshots.copy import CopySnapshotter
from berth.store.snapshots.overlay import OverlaySnapshotter

__all__ = ["CopySnapshotter", "Kind", "Layout", "OverlaySnapshotter", "SnapshotInfo", "Snapshotter", "Usage"]
