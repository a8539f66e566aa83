"""Fixtures of the build unit tests (the fakes live in berth.build.testing)."""

from __future__ import annotations

import pytest

from berth.build.testing import FakeImages


@pytest.fixture
def images() -> FakeImages:
    return FakeImages()
