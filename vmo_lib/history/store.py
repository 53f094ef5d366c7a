"""The quarterly history: every review's records kept in one DuckDB file, a quarter per transaction.

``vmo review`` records the quarter it reviewed in ``vmo-history.duckdb`` beside the case workbooks
(``--history PATH`` chooses another file, ``--no-history`` skips it). Movement, drift and
estimating-accuracy analyses read it back as plain DataFrames through :func:`open_history`; the
review notebooks never open the database: the batch hands them a pickle of their frames
(:func:`save_frames` / :func:`load_frames`).

Schema (version :data:`SCHEMA_VERSION`)
--------------------------------------
``case_quarter``, ``line_quarter``, ``period_quarter``
    The rows :func:`vmo_lib.history.records.records_from_review` makes of each case review, with the
    columns and types of :data:`vmo_lib.history.records.TABLES`; every table starts with
    ``quarter, case_id``. A quarter holds the rows of exactly one run (the latest that recorded it).
``runs``
    One row per run that recorded a quarter: ``run_id``, ``quarter``, ``kind`` (``review`` or
    ``backfill``), ``started``/``finished`` (UTC timestamps), ``tool_version``
    (``vmo_lib.__version__``), ``parameters`` (JSON: as of, seed, scenario, folder...), ``cases``
    (number of cases recorded) and ``reconstructed`` (JSON list of the case ids whose figures were
    reconstructed from today's files rather than reviewed at the time, see
    :mod:`vmo_lib.history.replay`).
``run_inputs``
    One row per input file of a run: ``run_id``, ``case_id``, ``role`` (``workbook`` or ``return``),
    ``path`` and ``sha256`` of the bytes reviewed.
``revisions``
    One row each time a run replaced a quarter already recorded: ``quarter``, ``run_id`` (the new
    run), ``replaced_run_id`` (the run whose rows were deleted), ``replaced_at`` (UTC timestamp).
``schema_info``
    One row: ``version`` (integer), ``written_by`` (tool version), ``migrated_at``.

The record tables also carry a private ``_row`` column (the order of the rows within a case and
quarter, as :func:`~vmo_lib.history.records.records_from_review` made them); reads leave it out.

Versions: 1 (the first, a JSON ``runs.inputs`` column), 2 (``run_inputs`` table). Columns added at
the end of :data:`~vmo_lib.history.records.TABLES` are added to an older file when it is opened for
writing (empty in the quarters recorded before).

Guarantees
----------
* **One quarter, one transaction.** :meth:`HistoryStore.record_quarter` deletes the quarter's rows,
  inserts the new ones and the ``runs``/``revisions`` rows between ``BEGIN`` and ``COMMIT``: a
  process killed at any moment leaves the file exactly as it was before (DuckDB's write-ahead log
  only holds committed transactions).
* **One writer.** DuckDB locks the file for a read-write connection (and refuses readers meanwhile).
  :func:`open_history` retries for ``timeout`` seconds (default :data:`LOCK_TIMEOUT`) and then raises
  :class:`HistoryLocked` naming the file; nothing is written.
* **Versions.** A file of an older schema is migrated when opened for writing (and read as if
  migrated when opened read-only); a file written by a newer version is refused with
  :class:`HistorySchemaError`. The CLI exits 2 for both errors.
"""

from __future__ import annotations

import contextlib
import json
import os
import pickle
import time
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from vmo_lib import __version__
from vmo_lib.errors import VmoError
from vmo_lib.files import atomic_write_bytes
from vmo_lib.history.records import TABLES

__all__ = [
    "DEFAULT_FILE",
    "LOCK_TIMEOUT",
    "SCHEMA_VERSION",
    "HistoryError",
    "HistoryLocked",
    "HistorySchemaError",
    "HistoryStore",
    "empty_frames",
    "load_frames",
    "open_history",
    "save_frames",
]

#: Default file name of the history, beside the case workbooks.
DEFAULT_FILE = "vmo-history.duckdb"
#: Version of the schema this code writes (module notes).
SCHEMA_VERSION = 2
#: Seconds :func:`open_history` waits for another process's lock before giving up.
LOCK_TIMEOUT = 30.0

#: Columns of the store's own tables (the record tables are :data:`vmo_lib.history.records.TABLES`).
RUN_COLUMNS: dict[str, str] = {
    "run_id": "VARCHAR", "quarter": "VARCHAR", "kind": "VARCHAR", "started": "TIMESTAMP",
    "finished": "TIMESTAMP", "tool_version": "VARCHAR", "parameters": "VARCHAR", "cases": "INTEGER",
    "reconstructed": "VARCHAR",
}
REVISION_COLUMNS: dict[str, str] = {
    "quarter": "VARCHAR", "run_id": "VARCHAR", "replaced_run_id": "VARCHAR", "replaced_at": "TIMESTAMP",
}
RUN_INPUT_COLUMNS: dict[str, str] = {
    "run_id": "VARCHAR", "case_id": "VARCHAR", "role": "VARCHAR", "path": "VARCHAR", "sha256": "VARCHAR",
}
SCHEMA_COLUMNS: dict[str, str] = {"version": "INTEGER", "written_by": "VARCHAR", "migrated_at": "TIMESTAMP"}
#: Every table of the current schema with its columns (record tables carry a private ``_row`` order).
_STORE_TABLES: dict[str, dict[str, str]] = {
    **{name: {**cols, "_row": "INTEGER"} for name, cols in TABLES.items()},
    "runs": RUN_COLUMNS, "run_inputs": RUN_INPUT_COLUMNS, "revisions": REVISION_COLUMNS,
    "schema_info": SCHEMA_COLUMNS,
}


def _v1_to_v2(con: Any) -> None:
    """Version 1 kept each run's input files as a JSON list in ``runs.inputs``; version 2 keeps one
    row per file in ``run_inputs`` (queryable: which runs read this workbook?) and drops the column."""
    con.execute(f"CREATE TABLE IF NOT EXISTS run_inputs ({', '.join(f'{c} {t}' for c, t in RUN_INPUT_COLUMNS.items())})")
    cols = {r[0] for r in con.execute("SELECT column_name FROM information_schema.columns "
                                      "WHERE table_schema = 'main' AND table_name = 'runs'").fetchall()}
    if "inputs" not in cols:
        return
    for run_id, inputs in con.execute("SELECT run_id, inputs FROM runs").fetchall():
        for item in json.loads(inputs or "[]"):
            con.execute("INSERT INTO run_inputs VALUES (?, ?, ?, ?, ?)",
                        [run_id, item.get("case_id"), item.get("role", "workbook"), item.get("path"),
                         item.get("sha256")])
    con.execute("ALTER TABLE runs DROP COLUMN inputs")


#: ``_MIGRATIONS[v]`` turns a version-``v`` file into version ``v + 1`` (inside the opening transaction).
_MIGRATIONS: dict[int, Any] = {1: _v1_to_v2}


class HistoryError(VmoError):
    """The history file cannot be used (locked, newer schema, not a DuckDB file)."""


class HistoryLocked(HistoryError):
    """Another process holds the history file's lock beyond the timeout."""


class HistorySchemaError(HistoryError):
    """The history file was written by a newer schema (or is not a history)."""


# --- the notebooks' hand-over file -------------------------------------------------------------------------
def empty_frames() -> dict[str, pd.DataFrame]:
    """The three record tables with their columns and no rows."""
    return {name: pd.DataFrame({c: pd.Series(dtype=_dtype(t)) for c, t in cols.items()})
            for name, cols in TABLES.items()}


def save_frames(frames: Mapping[str, pd.DataFrame], path: str | os.PathLike[str]) -> Path:
    """Write a dict of DataFrames (the record tables of one case or of all cases) as a pickle, atomically.

    Parameters
    ----------
    frames : mapping of str to pandas.DataFrame
    path : path

    Returns
    -------
    Path

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = save_frames(empty_frames(), pathlib.Path(tempfile.mkdtemp()) / "h.pickle")
    >>> sorted(load_frames(p))
    ['case_quarter', 'line_quarter', 'period_quarter']
    """
    data = pickle.dumps({str(k): v for k, v in frames.items()}, protocol=pickle.HIGHEST_PROTOCOL)
    return atomic_write_bytes(path, data)


def load_frames(path: str | os.PathLike[str] | None) -> dict[str, pd.DataFrame] | None:
    """Read the frames :func:`save_frames` wrote; None for no path (``history_file=None``: no history).

    Every record table is present (empty when the file lacks it), rows sorted by quarter then case.

    Parameters
    ----------
    path : path or None

    Returns
    -------
    dict of str to pandas.DataFrame, or None

    Examples
    --------
    >>> load_frames(None) is None and load_frames("") is None
    True
    """
    if path is None or str(path) == "":
        return None
    with open(path, "rb") as fh:
        frames = pickle.load(fh)  # noqa: S301 - written by this process's batch into its own work folder
    out = empty_frames()
    out.update({k: _sorted(v) for k, v in frames.items()})
    return out


def _dtype(duck: str) -> str:
    return {"DOUBLE": "float64", "BIGINT": "Int64", "INTEGER": "Int64", "BOOLEAN": "boolean"}.get(duck, "object")


def _sorted(df: pd.DataFrame) -> pd.DataFrame:
    keys = [c for c in ("quarter", "case_id") if c in df.columns]
    return df.sort_values(keys, kind="stable").reset_index(drop=True) if keys and len(df) else df


# --- the store -------------------------------------------------------------------------------------------------
def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _connect(path: Path, read_only: bool, timeout: float) -> Any:
    import duckdb

    deadline = time.monotonic() + max(0.0, timeout)
    delay = 0.05
    while True:
        try:
            return duckdb.connect(str(path), read_only=read_only)
        except duckdb.IOException as exc:
            if "lock" not in str(exc).lower():
                raise HistoryError(f"{path}: cannot open the history ({exc}); choose another file with --history "
                                   "PATH, or --no-history") from None
            if time.monotonic() >= deadline:
                holder = str(exc).split("Conflicting lock is held in", 1)[-1].split(". See also")[0].strip()
                raise HistoryLocked(
                    f"{path}: the history is locked by another process ({holder}); waited {timeout:g} s, "
                    "nothing was written — run again when it has finished") from None
        except duckdb.Error as exc:
            raise HistoryError(f"{path}: not a readable history file ({exc})") from None
        time.sleep(delay)
        delay = min(delay * 2, 0.5)


@contextlib.contextmanager
def open_history(path: str | os.PathLike[str], read_only: bool = True, *,
                 timeout: float = LOCK_TIMEOUT) -> Iterator[HistoryStore]:
    """Open the history file (created, with its schema, when opened for writing and missing).

    Parameters
    ----------
    path : path
    read_only : bool, default True
        Read-only connections never change the file; a missing file reads as an empty history.
    timeout : float, default :data:`LOCK_TIMEOUT`
        Seconds to wait while another process holds the file's lock.

    Yields
    ------
    HistoryStore

    Raises
    ------
    HistoryLocked
        Still locked after ``timeout`` seconds.
    HistorySchemaError
        The file was written by a newer schema.
    """
    path = Path(path)
    if read_only and not path.exists():
        store = HistoryStore(None, path)
        yield store
        return
    if not read_only:
        path.parent.mkdir(parents=True, exist_ok=True)
    con = _connect(path, read_only, timeout)
    try:
        store = HistoryStore(con, path)
        store._prepare(read_only)
        yield store
    finally:
        con.close()


class HistoryStore:
    """A connection to one history file (use :func:`open_history`)."""

    def __init__(self, con: Any, path: Path) -> None:
        self._con = con
        self.path = path
        self.version: int | None = None

    # -- schema
    def _tables(self) -> set[str]:
        return {r[0] for r in self._con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main'").fetchall()}

    def _columns(self, table: str) -> list[str]:
        return [r[0] for r in self._con.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = 'main' AND table_name = ? "
            "ORDER BY ordinal_position", [table]).fetchall()]

    def _prepare(self, read_only: bool) -> None:
        tables = self._tables()
        version = None
        if "schema_info" in tables:
            row = self._con.execute("SELECT max(version) FROM schema_info").fetchone()
            version = None if row is None else row[0]
        if version is not None and version > SCHEMA_VERSION:
            raise HistorySchemaError(
                f"{self.path}: the history has schema version {version}, written by a newer VMO Workbench; this "
                f"version ({__version__}) reads and writes up to version {SCHEMA_VERSION} — upgrade vmo-workbench, "
                "or choose another file with --history")
        if tables and version is None:
            raise HistorySchemaError(f"{self.path}: not a VMO history (no schema_info table); choose another file "
                                     "with --history")
        self.version = SCHEMA_VERSION if version is None else int(version)
        if read_only:
            return
        con = self._con
        con.execute("BEGIN TRANSACTION")
        try:
            for name, cols in _STORE_TABLES.items():
                if name not in tables:
                    con.execute(f"CREATE TABLE {name} ({', '.join(f'{c} {t}' for c, t in cols.items())})")
            if version is None:
                con.execute("INSERT INTO schema_info VALUES (?, ?, ?)", [SCHEMA_VERSION, __version__, _now()])
            else:
                for v in range(int(version), SCHEMA_VERSION):
                    _MIGRATIONS[v](con)
                # columns added at the end of records.TABLES since the file was written: NULL in older rows
                for name, cols in TABLES.items():
                    have = set(self._columns(name))
                    for c, t in cols.items():
                        if c not in have:
                            con.execute(f"ALTER TABLE {name} ADD COLUMN {c} {t}")
                if version < SCHEMA_VERSION:
                    con.execute("UPDATE schema_info SET version = ?, written_by = ?, migrated_at = ?",
                                [SCHEMA_VERSION, __version__, _now()])
            con.execute("COMMIT")
        except BaseException:
            with contextlib.suppress(Exception):
                con.execute("ROLLBACK")
            raise
        self.version = SCHEMA_VERSION

    # -- reading
    def _read(self, table: str, where: str = "", params: Sequence[Any] = ()) -> pd.DataFrame:
        cols = TABLES[table]
        if self._con is None or table not in self._tables():
            return empty_frames()[table]
        have = set(self._columns(table))
        select = ", ".join(c if c in have else f"CAST(NULL AS {t}) AS {c}" for c, t in cols.items())
        order = "quarter, case_id, _row" if "_row" in have else "quarter, case_id"
        df = self._con.execute(f"SELECT {select} FROM {table} {where} ORDER BY {order}", list(params)).df()
        return _plain_types(_typed(df, cols))

    def quarters(self) -> list[str]:
        """The quarters recorded, oldest first."""
        if self._con is None or "case_quarter" not in self._tables():
            return []
        return [r[0] for r in self._con.execute(
            "SELECT DISTINCT quarter FROM case_quarter ORDER BY quarter").fetchall()]

    def case_frames(self, case_id: str, *, upto: str | None = None) -> dict[str, pd.DataFrame]:
        """The three record tables of one case, every recorded quarter ``<= upto``, sorted by quarter."""
        where, params = "WHERE case_id = ?", [str(case_id)]
        if upto is not None:
            where, params = where + " AND quarter <= ?", [*params, str(upto)]
        return {t: self._read(t, where, params) for t in TABLES}

    def frames(self, *, upto: str | None = None) -> dict[str, pd.DataFrame]:
        """The three record tables of every case, every recorded quarter ``<= upto``, sorted by quarter."""
        where, params = ("", []) if upto is None else ("WHERE quarter <= ?", [str(upto)])
        return {t: self._read(t, where, params) for t in TABLES}

    def case_rows(self, *, upto: str | None = None) -> pd.DataFrame:
        """Only the ``case_quarter`` table (every case, quarters ``<= upto``): the headline figures,
        without reading the line and period tables."""
        where, params = ("", []) if upto is None else ("WHERE quarter <= ?", [str(upto)])
        return self._read("case_quarter", where, params)

    def portfolio_trend(self, *, upto: str | None = None) -> pd.DataFrame:
        """The portfolio's value by quarter and currency, summed in the database from ``case_quarter``.

        Returns
        -------
        pandas.DataFrame
            ``quarter, currency, cases, approved_npv, in_force_npv, expected_npv, forward_npv,
            benefit_plan_to_date, benefit_actual_to_date, cost_plan_to_date, cost_actual_to_date``
            (sums over the cases recorded that quarter), oldest first.
        """
        cols = ("approved_npv", "in_force_npv", "expected_npv", "forward_npv", "benefit_plan_to_date",
                "benefit_actual_to_date", "cost_plan_to_date", "cost_actual_to_date")
        if self._con is None or "case_quarter" not in self._tables():
            return pd.DataFrame({c: pd.Series(dtype=object if c in ("quarter", "currency") else float)
                                 for c in ("quarter", "currency", "cases", *cols)})
        where, params = ("", []) if upto is None else ("WHERE quarter <= ?", [str(upto)])
        sums = ", ".join(f"sum({c}) AS {c}" for c in cols)
        return self._con.execute(
            f"SELECT quarter, currency, count(*) AS cases, {sums} FROM case_quarter {where} "
            "GROUP BY quarter, currency ORDER BY quarter, currency", params).df()

    def runs(self) -> pd.DataFrame:
        """Every run that recorded a quarter, in the order they were recorded (``runs`` table, by finish time)."""
        if self._con is None or "runs" not in self._tables():
            return pd.DataFrame({c: pd.Series(dtype=_dtype(t)) for c, t in RUN_COLUMNS.items()})
        return self._con.execute("SELECT * FROM runs ORDER BY finished, started, run_id").df()

    def run_inputs(self, run_id: str | None = None) -> pd.DataFrame:
        """The input files of every run (or of ``run_id``): case id, role (workbook/return), path, SHA-256."""
        if self._con is None or "run_inputs" not in self._tables():
            return pd.DataFrame({c: pd.Series(dtype=object) for c in RUN_INPUT_COLUMNS})
        where, params = ("", []) if run_id is None else ("WHERE run_id = ?", [run_id])
        return self._con.execute(f"SELECT * FROM run_inputs {where} ORDER BY run_id, case_id, role DESC, path",
                                 params).df()

    def revisions(self) -> pd.DataFrame:
        """Every replacement of a recorded quarter, oldest first (``revisions`` table)."""
        if self._con is None or "revisions" not in self._tables():
            return pd.DataFrame({c: pd.Series(dtype=_dtype(t)) for c, t in REVISION_COLUMNS.items()})
        return self._con.execute("SELECT * FROM revisions ORDER BY replaced_at, run_id").df()

    # -- writing
    def record_quarter(self, quarter: str, frames: Mapping[str, pd.DataFrame], *, run_id: str,
                       started: datetime | None = None, kind: str = "review",
                       parameters: Mapping[str, Any] | None = None, inputs: Sequence[Mapping[str, Any]] = (),
                       reconstructed: Sequence[str] = ()) -> None:
        """Replace ``quarter``'s records by ``frames`` in one transaction and log the run (and revision).

        Parameters
        ----------
        quarter : str
            The review quarter; every row of ``frames`` must belong to it.
        frames : mapping of str to DataFrame
            The record tables (concatenated :func:`~vmo_lib.history.records.records_from_review`).
        run_id : str
        started : datetime, optional
            When the run started (UTC); default now.
        kind : {"review", "backfill"}
        parameters : mapping, optional
            The run's parameters (stored as JSON).
        inputs : sequence of mapping
            Each input file: ``{"path", "sha256", ...}``.
        reconstructed : sequence of str
            Case ids whose figures were reconstructed from today's files.
        """
        if self._con is None:
            raise HistoryError(f"{self.path}: opened read-only")
        for name, df in frames.items():
            if name in TABLES and len(df) and set(df["quarter"].astype(str)) != {quarter}:
                raise VmoError(f"history: rows of {name} are not all of quarter {quarter}")
        con = self._con
        con.execute("BEGIN TRANSACTION")
        try:
            previous = [r[0] for r in con.execute(
                "SELECT run_id FROM runs WHERE quarter = ? ORDER BY finished DESC, run_id DESC LIMIT 1",
                [quarter]).fetchall()]
            for name, cols in TABLES.items():
                con.execute(f"DELETE FROM {name} WHERE quarter = ?", [quarter])
                df = frames.get(name)
                if df is not None and len(df):
                    data = _typed(df.reindex(columns=list(cols)), cols)
                    data["_row"] = range(len(data))
                    con.register("_rows", data)
                    try:
                        names = ", ".join([*cols, "_row"])
                        con.execute(f"INSERT INTO {name} ({names}) SELECT {names} FROM _rows")
                    finally:
                        con.unregister("_rows")
            n_cases = 0 if frames.get("case_quarter") is None else int(len(frames["case_quarter"]))
            _pause_in_transaction()
            finished = _now()
            con.execute(
                f"INSERT INTO runs ({', '.join(RUN_COLUMNS)}) VALUES ({', '.join('?' * len(RUN_COLUMNS))})",
                [run_id, quarter, kind, started or finished, finished, __version__,
                 json.dumps(dict(parameters or {}), sort_keys=True, default=str), n_cases,
                 json.dumps(sorted(map(str, reconstructed)))])
            for item in inputs:
                con.execute("INSERT INTO run_inputs VALUES (?, ?, ?, ?, ?)",
                            [run_id, item.get("case_id"), item.get("role", "workbook"),
                             None if item.get("path") is None else str(item["path"]), item.get("sha256")])
            if previous:
                con.execute("INSERT INTO revisions VALUES (?, ?, ?, ?)", [quarter, run_id, previous[0], finished])
            con.execute("COMMIT")
        except BaseException:
            with contextlib.suppress(Exception):
                con.execute("ROLLBACK")
            raise


def _typed(df: pd.DataFrame, cols: Mapping[str, str]) -> pd.DataFrame:
    """The columns of ``cols`` in order, with plain pandas types (float, Int64, boolean, object)."""
    out = pd.DataFrame(index=df.index)
    for c, t in cols.items():
        s = df[c] if c in df.columns else pd.Series([None] * len(df), index=df.index, dtype=object)
        if t == "DOUBLE":
            out[c] = pd.to_numeric(s, errors="coerce").astype("float64")
        elif t in ("BIGINT", "INTEGER"):
            out[c] = pd.to_numeric(s, errors="coerce").astype("Int64")
        elif t == "BOOLEAN":
            out[c] = s.astype("boolean")
        else:
            out[c] = s.astype(object).where(s.notna(), None)
    return out.reset_index(drop=True)


def _plain_types(df: pd.DataFrame) -> pd.DataFrame:
    """Nullable integer/boolean columns without a missing value as plain ``int64``/``bool``."""
    for c in df.columns:
        if str(df[c].dtype) in ("Int64", "boolean") and not df[c].isna().any():
            df[c] = df[c].astype("int64" if str(df[c].dtype) == "Int64" else bool)
    return df


def _pause_in_transaction() -> None:
    """Tests only: sleep inside the write transaction when ``VMO_TEST_HISTORY_PAUSE`` is set (seconds)."""
    pause = os.environ.get("VMO_TEST_HISTORY_PAUSE")
    if pause:
        marker = os.environ.get("VMO_TEST_HISTORY_MARKER")
        if marker:
            Path(marker).write_text(str(os.getpid()))
        time.sleep(float(pause))
