"""Reviewing an earlier quarter after later returns exist: the case as it was known then.

Today's files hold more than was known at an earlier quarter: later actuals (the loader already
leaves them out when reviewing as of an earlier quarter, with an ``actuals.after_review`` or
``return.after_review`` warning) and today's forecasts, which replaced the forecasts made then.
Where the history holds the quarter for a case, the forecasts *as recorded then* are put back
(:func:`case_as_recorded`: its ``period_quarter`` rows with source ``forecast`` replace the case's
forecast flows); where it does not, the figures are today's files without the later actuals and are
labelled :data:`RECONSTRUCTED`.

:func:`review_basis` says which applies; :func:`backfill` records the quarters a history lacks that way.
All functions but :func:`backfill` are pure.
"""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from vmo_lib.model import BusinessCase, normalise_flows
from vmo_lib.periods import parse_period, period_label, review_period, review_quarter

__all__ = [
    "AS_RECORDED",
    "CURRENT",
    "RECONSTRUCTED",
    "backfill",
    "case_as_recorded",
    "case_upto",
    "has_record",
    "later_actuals",
    "quarter_range",
    "replay",
    "replay_from_file",
    "review_basis",
]

#: Basis of a review of the latest quarter: today's files.
CURRENT = "current"
#: Basis of an earlier quarter the history holds: the forecasts as recorded then, actuals up to it.
AS_RECORDED = "forecasts as recorded then"
#: Basis of an earlier quarter the history lacks: today's files without the later actuals.
RECONSTRUCTED = "reconstructed from today's files"
_LATER_RULES = ("actuals.after_review", "return.after_review")


def quarter_range(first: object, last: object) -> list[str]:
    """Every quarter from ``first`` to ``last`` inclusive.

    >>> quarter_range("2025Q3", "2026Q2")
    ['2025Q3', '2025Q4', '2026Q1', '2026Q2']
    """
    a, b = review_quarter(first), review_quarter(last)
    (ya, ia), (yb, ib) = parse_period(a, "quarter"), parse_period(b, "quarter")
    return [period_label(n // 4, n % 4, "quarter") for n in range(ya * 4 + ia, yb * 4 + ib + 1)]


def later_actuals(case: BusinessCase, quarter: object) -> pd.DataFrame:
    """The case's actual flows for periods after the review period of ``quarter``."""
    tau = case.t_of(review_period(quarter, case.period_length, like=case.meta.get("first_period")))
    f = case.flows
    return f[(f["scenario"] == "actual") & (f["t"] > tau)]


def case_upto(case: BusinessCase, quarter: object) -> BusinessCase:
    """A copy of the case without the actuals after ``quarter`` (the case as known then, today's forecasts).

    Examples
    --------
    >>> from vmo_lib.model import make_case
    >>> case = make_case({"case_id": "X", "first_period": "2026Q1", "horizon": 3},
    ...     benefits=[{"line_id": "B1", "name": "S", "amounts": [10, 10, 10]}],
    ...     actuals=[{"period": p, "line_id": "B1", "amount": 9} for p in ("2026Q1", "2026Q2")])
    >>> case_upto(case, "2026Q1").flows.query("scenario == 'actual'")["period"].tolist()
    ['2026Q1']
    """
    drop = later_actuals(case, quarter).index
    return case if not len(drop) else case.with_flows(case.flows.drop(index=drop))


def _rows(frames: Mapping[str, pd.DataFrame] | None, table: str, case_id: str, quarter: str) -> pd.DataFrame | None:
    if not frames or frames.get(table) is None:
        return None
    df = frames[table]
    return df[(df["quarter"] == quarter) & (df["case_id"] == case_id)]


def has_record(frames: Mapping[str, pd.DataFrame] | None, case_id: str, quarter: object) -> bool:
    """True when ``frames`` (record tables) hold ``quarter`` for the case."""
    rows = _rows(frames, "case_quarter", str(case_id), review_quarter(quarter))
    return rows is not None and len(rows) > 0


def case_as_recorded(case: BusinessCase, frames: Mapping[str, pd.DataFrame], quarter: object) -> BusinessCase:
    """The case as known at ``quarter``: actuals up to it, and the forecasts recorded in the history then.

    Parameters
    ----------
    case : BusinessCase
        Today's case (as loaded; later actuals may still be in it, they are dropped).
    frames : mapping of str to DataFrame
        Record tables (:mod:`vmo_lib.history.records`) holding ``quarter`` for the case.
    quarter : str

    Returns
    -------
    BusinessCase
        A copy whose forecast flows are exactly the recorded ``period_quarter`` rows with source
        ``forecast`` (none recorded: no forecast); today's forecasts are dropped.

    Raises
    ------
    KeyError
        The frames do not hold the quarter for this case (see :func:`has_record`).

    Examples
    --------
    >>> from vmo_lib.model import make_case
    >>> from vmo_lib.analysis.review import review_case
    >>> from vmo_lib.history.records import records_from_review
    >>> meta = {"case_id": "X", "first_period": "2026Q1", "horizon": 3, "discount_rate": 0.0}
    >>> then = make_case(meta, benefits=[{"line_id": "B1", "name": "S", "amounts": [10, 10, 10]}],
    ...     forecast=[{"period": "2026Q2", "line_id": "B1", "amount": 4}])
    >>> rec = records_from_review(review_case(then, "2026Q1", iterations=0))
    >>> now = make_case(meta, benefits=[{"line_id": "B1", "name": "S", "amounts": [10, 10, 10]}],
    ...     actuals=[{"period": "2026Q2", "line_id": "B1", "amount": 5}],
    ...     forecast=[{"period": "2026Q3", "line_id": "B1", "amount": 6}])
    >>> f = case_as_recorded(now, rec, "2026Q1").flows
    >>> f[f["scenario"] != "baseline"][["period", "scenario", "amount"]].values.tolist()
    [['2026Q2', 'forecast', 4.0]]
    """
    q = review_quarter(quarter)
    rows = _rows(frames, "period_quarter", case.case_id, q)
    if not has_record(frames, case.case_id, q) or rows is None:
        raise KeyError(f"the history holds no {q} record of case {case.case_id}")
    base = case_upto(case, q)
    fc = rows[rows["source"] == "forecast"]
    recorded = pd.DataFrame({
        "case_id": case.case_id, "line_id": fc["line_id"].astype(object).to_numpy(),
        "kind": fc["kind"].astype(object).to_numpy(), "period": fc["period"].astype(object).to_numpy(),
        "t": fc["t"].astype("int64").to_numpy(), "scenario": "forecast",
        "amount": fc["amount"].astype(float).to_numpy(), "kpi_value": float("nan"), "comment": None,
    })
    kept = base.flows[base.flows["scenario"] != "forecast"]
    recorded = recorded.reindex(columns=kept.columns)  # flow columns the record does not carry (evidence) stay empty
    flows = pd.concat([kept, recorded], ignore_index=True) if len(recorded) else kept
    return base.with_flows(normalise_flows(flows))


def review_basis(case: BusinessCase, quarter: object, frames: Mapping[str, pd.DataFrame] | None,
                 latest: str | None = None) -> str:
    """Which figures a review of ``quarter`` is built from: :data:`CURRENT`, :data:`AS_RECORDED` or
    :data:`RECONSTRUCTED`.

    ``quarter`` is *earlier* when the history's latest quarter (``latest``) is after it, or the case
    had actuals after it (in the case, or left out by the loader: ``actuals.after_review`` /
    ``return.after_review`` warnings in ``case.issues``). An earlier quarter the frames hold for the
    case is replayed as recorded; one they do not hold is reconstructed.
    """
    q = review_quarter(quarter)
    issues = case.issues
    left_out = issues is not None and "rule" in issues and bool(issues["rule"].isin(_LATER_RULES).any())
    earlier = (latest is not None and latest > q) or left_out or len(later_actuals(case, q)) > 0
    if not earlier:
        return CURRENT
    return AS_RECORDED if has_record(frames, case.case_id, q) else RECONSTRUCTED


def replay(case: BusinessCase, quarter: object, frames: Mapping[str, pd.DataFrame] | None,
           latest: str | None = None) -> tuple[BusinessCase, str]:
    """The case to review as of ``quarter`` and its basis (:func:`review_basis`): as recorded where the
    history holds an earlier quarter, else today's files without the later actuals."""
    basis = review_basis(case, quarter, frames, latest)
    if basis == AS_RECORDED:
        return case_as_recorded(case, frames or {}, quarter), basis
    return case_upto(case, quarter), basis


def replay_from_file(case: BusinessCase, quarter: object, history: str | os.PathLike[str] | None,
                     timeout: float | None = None) -> tuple[BusinessCase, str, str | None]:
    """:func:`replay` with the case's frames read from a history file (missing file: empty history).

    Returns the case to review, its basis and a one-line note for people (None for :data:`CURRENT`).
    """
    from vmo_lib.history.store import LOCK_TIMEOUT, open_history

    q = review_quarter(quarter)
    frames, latest = None, None
    if history is not None and Path(history).is_file():
        with open_history(history, timeout=LOCK_TIMEOUT if timeout is None else timeout) as h:
            frames = h.case_frames(case.case_id, upto=q)
            quarters = h.quarters()
            latest = quarters[-1] if quarters else None
    replayed, basis = replay(case, q, frames, latest)
    if basis == CURRENT:
        return replayed, basis, None
    issues = case.issues
    n = 0 if issues is None or "rule" not in issues else int(issues["rule"].isin(_LATER_RULES).sum())
    left = f"{n} later actual(s) or return(s) left out; " if n else ""
    what = (f"the forecasts as recorded in {q} ({history})" if basis == AS_RECORDED
            else f"figures {RECONSTRUCTED} ({q} is not in the history)")
    return replayed, basis, f"reviewing an earlier quarter, {q}: {left}{what}"


# --- backfill ----------------------------------------------------------------------------------------------
def _sha256(path: Path) -> str:
    import hashlib

    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def input_files(case_path: str | os.PathLike[str], case_id: str | None) -> list[dict[str, Any]]:
    """The workbook and its filled returns with their SHA-256 (the ``run_inputs`` rows of one case)."""
    from vmo_lib.intake.returns import find_returns

    p = Path(case_path)
    rows = [{"case_id": case_id, "role": "workbook", "path": str(p), "sha256": _sha256(p)}]
    rows += [{"case_id": case_id, "role": "return", "path": str(r), "sha256": _sha256(r)} for r in find_returns(p)]
    return rows


def backfill(folder: str | os.PathLike[str], first: object, last: object, history: str | os.PathLike[str], *,
             replace: bool = False, seed: int = 0, timeout: float | None = None) -> dict[str, Any]:
    """Review ``folder`` as of every quarter from ``first`` to ``last`` the history lacks, and record each.

    Each quarter is reviewed from today's files with only the actuals up to it (the loader leaves the
    later ones out); the runs are of kind ``backfill`` and list every case in ``reconstructed``. A
    quarter already recorded is skipped unless ``replace`` (then replaced, with a revision row).
    Quarters are recorded oldest first, each in its own transaction.

    Parameters
    ----------
    folder : path
        Folder of case workbooks (never modified).
    first, last : str
        Quarter range, e.g. ``"2025Q1"``, ``"2026Q3"``.
    history : path
        The history file (created when missing).
    replace : bool, default False
    seed : int, default 0
    timeout : float, optional
        Seconds to wait for another process's lock (default :data:`~vmo_lib.history.store.LOCK_TIMEOUT`).

    Returns
    -------
    dict
        ``recorded`` and ``skipped`` (lists of quarters), ``failed`` (``quarter``, ``path``, ``error``
        of each workbook that could not be reviewed; the others are recorded).
    """
    from vmo_lib import __version__
    from vmo_lib.analysis.review import review_case
    from vmo_lib.errors import ValidationError, VmoError, WorkbookError
    from vmo_lib.history.records import TABLES, records_from_review
    from vmo_lib.history.store import LOCK_TIMEOUT, open_history
    from vmo_lib.intake.loader import load_case, workbook_files

    quarters = quarter_range(first, last)
    files = workbook_files(folder)
    timeout = LOCK_TIMEOUT if timeout is None else timeout
    with open_history(history, read_only=True, timeout=timeout) as h:
        have = set(h.quarters())
    todo = [q for q in quarters if replace or q not in have]
    result: dict[str, Any] = {"recorded": [], "skipped": [q for q in quarters if q not in todo], "failed": []}
    for q in todo:
        started = datetime.now(UTC).replace(tzinfo=None)
        parts: list[dict[str, pd.DataFrame]] = []
        inputs: list[dict[str, Any]] = []
        ids: list[str] = []
        for p in files:
            try:
                case = load_case(p, as_of=q)
            except (ValidationError, WorkbookError, VmoError) as exc:
                result["failed"].append({"quarter": q, "path": str(p), "error": str(exc).splitlines()[0]})
                continue
            if case.t_of(review_period(q, case.period_length, like=case.meta.get("first_period"))) < 0:
                continue  # the case had not started by then
            review = review_case(case_upto(case, q), q, seed=seed)
            parts.append(records_from_review(review))
            inputs += input_files(p, case.case_id)
            ids.append(case.case_id)
        frames = {t: pd.concat([r[t] for r in parts], ignore_index=True) if parts else None for t in TABLES}
        run_id = f"backfill-{q}-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}-{secrets.token_hex(3)}"
        with open_history(history, read_only=False, timeout=timeout) as h:
            h.record_quarter(q, {k: v for k, v in frames.items() if v is not None}, run_id=run_id, started=started,
                             kind="backfill", inputs=inputs, reconstructed=ids,
                             parameters={"folder": str(folder), "as_of": q, "seed": int(seed), "tool": __version__})
        result["recorded"].append(q)
    return result
