"""The OCI distribution-spec conformance suite against berth's registry: no spec may
fail. Skipped when the suite's binary is not built (see run.py and build.sh)."""

from __future__ import annotations

from pathlib import Path

import pytest

from .run import conformance_binary, run_both, table


def test_berth_passes_every_spec_of_the_distribution_conformance_suite(tmp_path: Path) -> None:
    binary = conformance_binary()
    if binary is None:
        pytest.skip("the OCI conformance binary is not built: tests/conformance/build.sh (or set OCI_CONFORMANCE_BIN)")
    (berth,) = run_both(binary, str(tmp_path), with_distribution=False)
    assert berth.passed >= 70, table([berth])
    assert berth.failed == 0, table([berth])
