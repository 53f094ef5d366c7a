"""VMO Workbench: value management for IT investments.

The public names below are imported lazily (on first use), so ``import vmo_lib`` and the ``vmo``
command start without loading pandas.

>>> import vmo_lib
>>> vmo_lib.load_case.__module__
'vmo_lib.intake.loader'
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

__all__ = [
    "AnalysisError",
    "BatchError",
    "BusinessCase",
    "Portfolio",
    "ValidationError",
    "VmoError",
    "WorkbookError",
    "__version__",
    "appraise",
    "case_status",
    "load_case",
    "load_portfolio",
    "make_case",
    "monte_carlo",
    "validate_workbook",
]

_LAZY = {
    "AnalysisError": "errors",
    "BatchError": "errors",
    "ValidationError": "errors",
    "VmoError": "errors",
    "WorkbookError": "errors",
    "BusinessCase": "model",
    "Portfolio": "model",
    "make_case": "model",
    "load_case": "intake.loader",
    "load_portfolio": "intake.loader",
    "validate_workbook": "intake.loader",
    "appraise": "analysis.appraisal",
    "case_status": "analysis.realisation",
    "monte_carlo": "analysis.risk",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
