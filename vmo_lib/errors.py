"""The exception tree of VMO Workbench.

Every error the package raises on purpose derives from :class:`VmoError`, so a caller (the CLI, the
batch runner, a notebook) can catch one class and show a clear message instead of a traceback::

    VmoError
    ├── WorkbookError        unreadable file, not a workbook, missing sheet, unknown template version
    ├── ValidationError      .issues: the full issues table (every problem at once)
    ├── AnalysisError        a metric with no defined answer when the caller asked to raise
    ├── UsageError           a wrong argument (a malformed or impossible --as-of, a rate of 800 %): exit 2
    └── BatchError           .failures: case id, step, error, where the partial output is
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

__all__ = ["AnalysisError", "BatchError", "UsageError", "ValidationError", "VmoError", "WorkbookError"]


class VmoError(Exception):
    """Base class of every error VMO Workbench raises on purpose."""


class WorkbookError(VmoError):
    """A file that cannot be read as a business-case workbook at all.

    Attributes
    ----------
    path : str
        The file (or folder) concerned.
    reason : str
        What is wrong and what was expected, in words a case author understands.
    """

    def __init__(self, path: Any, reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


class ValidationError(VmoError):
    """A workbook was read but breaks one or more rules.

    Attributes
    ----------
    issues : pandas.DataFrame
        Every issue found (columns :data:`vmo_lib.intake.validation.ISSUE_COLUMNS`), errors and warnings.
    path : str
        The workbook concerned.
    """

    def __init__(self, path: Any, issues: pd.DataFrame) -> None:
        self.path = str(path)
        self.issues = issues
        n_err = int((issues["severity"] == "error").sum()) if len(issues) else 0
        first = ""
        if n_err:
            row = issues[issues["severity"] == "error"].iloc[0]
            where = f"{row['sheet']}!{row['cell']}" if row["cell"] else str(row["sheet"])
            first = f"; first: {where}: {row['message']}"
        super().__init__(f"{self.path}: {n_err} error(s) in the workbook{first}")


class AnalysisError(VmoError):
    """An analysis has no defined answer (e.g. an IRR with no root) and the caller asked to raise."""


class UsageError(VmoError, ValueError):
    """An argument the user gave is malformed or impossible (the CLI exits 2, like a bad command line).

    It is also a :class:`ValueError`, so code that validates arguments the Python way still catches it.
    """


class BatchError(VmoError):
    """One or more cases of a batch failed; the others completed.

    Attributes
    ----------
    failures : list of dict
        One entry per failed case: ``case_id``, ``step``, ``error``, ``partial_output``.
    """

    def __init__(self, failures: list[dict[str, Any]]) -> None:
        self.failures = failures
        names = ", ".join(str(f.get("case_id")) for f in failures[:5])
        more = "" if len(failures) <= 5 else f" and {len(failures) - 5} more"
        super().__init__(f"{len(failures)} case(s) failed: {names}{more}")
