"""The public API of ``vmo_lib`` is a curated list: guard it (names, sortedness, that each resolves)."""

from __future__ import annotations

import subprocess
import sys

import vmo_lib

EXPECTED = [
    "AnalysisError", "BatchError", "BusinessCase", "Portfolio", "ValidationError", "VmoError",
    "WorkbookError", "__version__", "appraise", "case_status", "load_case", "load_portfolio",
    "make_case", "monte_carlo", "validate_workbook",
]


def test_public_names_are_the_curated_sorted_list():
    assert vmo_lib.__all__ == EXPECTED
    assert vmo_lib.__all__ == sorted(vmo_lib.__all__)


def test_every_public_name_resolves_to_its_module():
    assert vmo_lib.appraise.__module__ == "vmo_lib.analysis.appraisal"
    assert vmo_lib.case_status.__module__ == "vmo_lib.analysis.realisation"
    assert vmo_lib.monte_carlo.__module__ == "vmo_lib.analysis.risk"
    for name in vmo_lib.__all__:
        assert getattr(vmo_lib, name) is not None


def test_every_exception_derives_from_vmo_error():
    for name in ("AnalysisError", "BatchError", "ValidationError", "WorkbookError"):
        assert issubclass(getattr(vmo_lib, name), vmo_lib.VmoError)


def test_importing_the_package_does_not_load_pandas():
    code = "import sys, vmo_lib; print('pandas' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
