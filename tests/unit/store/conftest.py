"""Fixtures for the store's unit tests: a private berth root per test, and tar builders."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from berth.state import open_database
from berth.store import Store, open_store
from berth.testing.tars import TarBuilder

ROOT = os.geteuid() == 0
needs_root = pytest.mark.skipif(not ROOT, reason="needs root: overlay whiteouts are device nodes (mknod)")


@pytest.fixture(params=["overlay", "copy"] if ROOT else ["copy"])
def any_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """A store on each snapshotter (unpacking needs no mounts, so no root for copy)."""
    root = str(tmp_path / "root")
    db = open_database(root)
    try:
        yield open_store(root, db, request.param)
    finally:
        db.close()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    root = str(tmp_path / "root")
    db = open_database(root)
    try:
        yield open_store(root, db, "overlay" if ROOT else "copy")
    finally:
        db.close()


@pytest.fixture
def tar() -> type[TarBuilder]:
    return TarBuilder


__all__ = ["TarBuilder"]
