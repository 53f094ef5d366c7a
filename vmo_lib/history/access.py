"""Reading the quarterly history from outside a review: trend tables as DataFrames, Parquet export.

What ``vmo history FOLDER [--case ID]`` prints and ``vmo history export DIR`` writes, for notebooks
and for tools that outgrow one machine:

* :func:`case_trend` — one case's headline figures by quarter, exactly as each quarter's review
  recorded them (:func:`vmo_lib.history.movement.trend`: approved, in-force, expected and forward
  NPV, realisation, verdict, RAG, decision);
* :func:`portfolio_trend` — the portfolio's sums by quarter and currency, summed in DuckDB
  (:meth:`vmo_lib.history.store.HistoryStore.portfolio_trend`), with the realisation of the sums
  (benefits actual ÷ plan to date over every case of the quarter and currency);
* :func:`trend` — either, by ``case_id``;
* :func:`export_parquet` — every table as Parquet, one folder per table, partitioned by quarter
  (hive style: ``case_quarter/quarter=2026Q3/data_0.parquet``), written into a temporary folder
  beside the target and renamed into place, so a failure leaves nothing half-written.

Sums by quarter add each case's figures on its own basis (its currency, discount date and rate),
per currency: a trend, not the register's totals (see :mod:`vmo_lib.history.movement`).

Reading the export back: ``duckdb.sql("SELECT * FROM read_parquet('DIR/case_quarter/**/*.parquet',
hive_partitioning = true)")``, ``pandas.read_parquet('DIR/case_quarter')`` or
``dask.dataframe.read_parquet('DIR/case_quarter')`` (both need pyarrow), Spark's
``spark.read.parquet('DIR/case_quarter')``. The partition column ``quarter`` comes back as the last
column (a category in pandas/Dask).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from vmo_lib.errors import VmoError
from vmo_lib.history import movement
from vmo_lib.history.records import TABLES
from vmo_lib.history.store import DEFAULT_FILE, LOCK_TIMEOUT, HistoryError, open_history

__all__ = ["CASE_TREND_COLUMNS", "EXPORT_TABLES", "PORTFOLIO_TREND_COLUMNS", "case_trend", "export_parquet",
           "history_file", "portfolio_trend", "trend"]

#: Columns of :func:`case_trend`, in order.
CASE_TREND_COLUMNS = ("quarter", "currency", "approved_npv", "in_force_npv", "expected_npv", "forward_npv",
                      "realisation_pct", "verdict", "rag", "decision", "case_status", "baseline_in_force")
#: Columns of :func:`portfolio_trend`, in order.
PORTFOLIO_TREND_COLUMNS = ("quarter", "currency", "cases", "approved_npv", "in_force_npv", "expected_npv",
                           "forward_npv", "benefit_plan_to_date", "benefit_actual_to_date", "realisation_pct",
                           "cost_plan_to_date", "cost_actual_to_date")
#: The tables :func:`export_parquet` writes (one folder each); all but ``schema_info`` by quarter.
EXPORT_TABLES = (*TABLES, "runs", "run_inputs", "revisions", "schema_info")


def history_file(path: str | os.PathLike[str]) -> Path:
    """The history file of ``path``: a folder means its ``vmo-history.duckdb``, a file itself.

    Raises
    ------
    HistoryError
        Nothing there: names the file expected and how to make one.
    """
    p = Path(path)
    f = p / DEFAULT_FILE if p.is_dir() else p
    if not f.is_file():
        where = f"{p} has no {DEFAULT_FILE}" if p.is_dir() else f"{p}: no such history file"
        raise HistoryError(f"{where}; `vmo review FOLDER` records a quarter there, `vmo history backfill FOLDER "
                           "--from QUARTER --to QUARTER` records earlier ones (or point --history at the file)")
    return f


def case_trend(path: str | os.PathLike[str], case_id: str, *, timeout: float = LOCK_TIMEOUT) -> pd.DataFrame:
    """One case's headline figures by quarter (:data:`CASE_TREND_COLUMNS`), oldest first.

    Parameters
    ----------
    path : path
        The history file, or the cases folder holding ``vmo-history.duckdb``.
    case_id : str
    timeout : float
        Seconds to wait while a review holds the file's lock.

    Raises
    ------
    VmoError
        The case has no quarter on record (the message lists the cases that do).
    """
    with open_history(history_file(path), timeout=timeout) as h:
        frames = h.case_frames(str(case_id))
        known = [] if len(frames["case_quarter"]) else sorted(set(h.case_rows()["case_id"]))
    if not len(frames["case_quarter"]):
        hint = f"; cases recorded: {', '.join(known[:20])}{' …' if len(known) > 20 else ''}" if known else ""
        raise VmoError(f"{history_file(path)}: no quarter recorded for case {case_id!r}{hint}")
    t = movement.trend(frames)
    return t[list(CASE_TREND_COLUMNS)].reset_index(drop=True)


def portfolio_trend(path: str | os.PathLike[str], *, timeout: float = LOCK_TIMEOUT) -> pd.DataFrame:
    """The portfolio's value by quarter and currency (:data:`PORTFOLIO_TREND_COLUMNS`), oldest first.

    Sums over the cases recorded in each quarter (each on its own basis); ``realisation_pct`` is
    the sum of the benefits actual to date over the sum planned to date (a fraction; NaN when
    nothing was planned yet).
    """
    with open_history(history_file(path), timeout=timeout) as h:
        p = h.portfolio_trend()
    plan = p["benefit_plan_to_date"].astype(float)
    actual = p["benefit_actual_to_date"].astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        p["realisation_pct"] = np.where(plan.abs() > 1e-9, actual / plan.where(plan.abs() > 1e-9), np.nan)
    p["cases"] = p["cases"].astype("int64")
    p["currency"] = p["currency"].astype(object).where(p["currency"].notna(), None)
    return p[list(PORTFOLIO_TREND_COLUMNS)].reset_index(drop=True)


def trend(path: str | os.PathLike[str], case_id: str | None = None, *, timeout: float = LOCK_TIMEOUT) -> pd.DataFrame:
    """The trend table ``vmo history`` prints: the portfolio's by quarter, or one case's with ``case_id``.

    Examples
    --------
    >>> from vmo_lib.history import trend                          # doctest: +SKIP
    >>> trend("data/sample")                                       # doctest: +SKIP
    >>> trend("data/sample", "CRM-2025")[["quarter", "expected_npv"]]   # doctest: +SKIP
    """
    return portfolio_trend(path, timeout=timeout) if case_id is None else case_trend(path, case_id, timeout=timeout)


def _tables(path: Path, timeout: float) -> dict[str, pd.DataFrame]:
    with open_history(path, timeout=timeout) as h:
        out = dict(h.frames())
        runs = h.runs()
        inputs = h.run_inputs()
        out["runs"] = runs
        out["run_inputs"] = inputs.merge(runs[["run_id", "quarter"]], on="run_id", how="left")
        out["revisions"] = h.revisions()
        out["schema_info"] = pd.DataFrame({"version": [int(h.version or 0)]})
    return out


def export_parquet(history: str | os.PathLike[str], out_dir: str | os.PathLike[str], *, replace: bool = False,
                   timeout: float = LOCK_TIMEOUT) -> dict[str, int]:
    """Write every table of the history as Parquet under ``out_dir``, one folder per table, by quarter.

    Parameters
    ----------
    history : path
        The history file, or the cases folder holding ``vmo-history.duckdb``.
    out_dir : path
        The folder to create (module notes for the layout). It must not exist, or be empty, unless
        ``replace``.
    replace : bool
        Replace an existing ``out_dir`` (swapped in after the new export is complete).

    Returns
    -------
    dict of str to int
        Rows written per table (:data:`EXPORT_TABLES`); ``run_inputs`` gains its run's ``quarter``.

    Raises
    ------
    VmoError
        ``out_dir`` exists and is not empty (without ``replace``), or is a file.
    """
    import duckdb

    src = history_file(history)
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise VmoError(f"{out}: is a file; choose a folder for the export")
    if out.is_dir() and any(out.iterdir()) and not replace:
        raise VmoError(f"{out}: the folder exists and is not empty; choose a new folder or add --replace")
    out.parent.mkdir(parents=True, exist_ok=True)
    tables = _tables(src, timeout)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
    counts: dict[str, int] = {}
    try:
        con = duckdb.connect(":memory:")
        try:
            for name in EXPORT_TABLES:
                df = tables[name]
                folder = tmp / name
                counts[name] = int(len(df))
                con.register("_export", df)
                try:
                    target = str(folder).replace("'", "''")
                    if name == "schema_info" or not len(df):
                        folder.mkdir()
                        con.execute(f"COPY (SELECT * FROM _export) TO '{target}/data_0.parquet' (FORMAT parquet)")
                    else:
                        con.execute(f"COPY (SELECT * FROM _export) TO '{target}' "
                                    "(FORMAT parquet, PARTITION_BY (quarter))")
                finally:
                    con.unregister("_export")
        finally:
            con.close()
        old = None
        if out.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".old", dir=out.parent))
            os.replace(out, old / "x")
        try:
            os.replace(tmp, out)
        except OSError:
            if old is not None:
                os.replace(old / "x", out)            # put the previous export back
            raise
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        with contextlib.suppress(Exception):
            shutil.rmtree(tmp, ignore_errors=True)
        raise
    return counts
