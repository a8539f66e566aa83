"""Fixtures of the build unit tests (the fakes live in berth.builder.testing)."""

from __future__ import annotations

import pytest

from berth.builder.testing import FakeImages


@pytest.fixture
def images() -> FakeImages:
    return FakeImages()
