"""Fixtures of the build unit tests (the fakes live in berth.testing.build)."""

from __future__ import annotations

import pytest

from berth.testing.build import FakeImages


@pytest.fixture
def images() -> FakeImages:
    return FakeImages()
