"""The quarterly history (issue 12): the DuckDB store, the rows kept of a review, movement, accuracy.

For notebooks, the trend tables as DataFrames (the tables ``vmo history FOLDER [--case ID]`` prints)::

    from vmo_lib import history
    history.trend("data/sample")               # the portfolio's value by quarter and currency
    history.trend("data/sample", "CRM-2025")   # one case's figures, verdict, RAG and decision by quarter
    history.frames("data/sample")              # the three record tables (case, line, period by quarter)
    history.export_parquet("data/sample", "history-parquet")   # Parquet by quarter, for Dask or Spark

``path`` is the history file or the cases folder holding ``vmo-history.duckdb``. The functions are
imported on first use (importing this package stays cheap): see :mod:`vmo_lib.history.access`.
"""

from __future__ import annotations

import os
from typing import Any

__all__ = ["export_parquet", "frames", "trend"]


def trend(path: str | os.PathLike[str], case_id: str | None = None, **kwargs: Any):
    """The portfolio's trend by quarter, or one case's (:func:`vmo_lib.history.access.trend`)."""
    from vmo_lib.history.access import trend as _trend

    return _trend(path, case_id, **kwargs)


def frames(path: str | os.PathLike[str], case_id: str | None = None, *, upto: str | None = None) -> dict:
    """The record tables (``case_quarter``, ``line_quarter``, ``period_quarter``) of every case, or one.

    The frames :mod:`vmo_lib.history.movement` and :mod:`vmo_lib.outputs.movement` take.
    """
    from vmo_lib.history.access import history_file
    from vmo_lib.history.store import open_history

    with open_history(history_file(path)) as h:
        return h.frames(upto=upto) if case_id is None else h.case_frames(str(case_id), upto=upto)


def export_parquet(history: str | os.PathLike[str], out_dir: str | os.PathLike[str], **kwargs: Any) -> dict:
    """Every table as Parquet, partitioned by quarter (:func:`vmo_lib.history.access.export_parquet`)."""
    from vmo_lib.history.access import export_parquet as _export

    return _export(history, out_dir, **kwargs)
