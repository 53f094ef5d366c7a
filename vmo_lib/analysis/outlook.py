"""The expected outlook of a case at a review date: actuals to date, then the forecast, else the plan.

Part of the benefits-realisation family (conventions in :mod:`vmo_lib.analysis.realisation`): the
review period and the baseline in force at it (:func:`review_period`, :func:`known_at`), the expected
scenario (:func:`expected_flows`, :func:`expected_case`), the forward NPV of what remains
(:func:`forward_npv`), and the work shared between the calls of one review (:func:`shared_work`: the
grid of every scenario, the line matrices, discount factors and NPVs, built once per case).

Examples
--------
>>> from vmo_lib.model import make_case
>>> c = make_case({"case_id": "X", "first_period": "2026Q1", "horizon": 2, "discount_rate": 0.0},
...               benefits=[{"line_id": "B1", "name": "S", "amounts": [10, 10]}],
...               actuals=[{"period": "2026Q1", "line_id": "B1", "amount": 7}])
>>> expected_flows(c, "2026Q1")["source"].tolist(), forward_npv(c, "2026Q1")
(['actual', 'plan'], 10.0)
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
import pandas as pd

from vmo_lib import periods
from vmo_lib.analysis import finance
from vmo_lib.analysis.appraisal import discount_factors, line_matrices
from vmo_lib.model import FLOW_COLUMNS, BusinessCase, normalise_flows
from vmo_lib.periods import period_end_date

__all__ = [
    "EXPECTED",
    "Grid",
    "expected_case",
    "expected_flows",
    "expected_matrix",
    "forward_npv",
    "grid",
    "known_at",
    "memo",
    "review_offset",
    "review_period",
    "shared_discount_factors",
    "shared_line_matrices",
    "shared_net_flows",
    "shared_npv",
    "shared_work",
]

#: Scenario name of the blended actuals-then-forecast flows added by :func:`expected_case`.
EXPECTED = "expected"
_TINY = 1e-12
_T = TypeVar("_T")


# --------------------------------------------------------------------------------------------------
# the review period and the case as known at it
# --------------------------------------------------------------------------------------------------
def review_period(case: BusinessCase, as_of: object) -> str:
    """The review period as a label of the case's period length (:func:`vmo_lib.periods.review_period`).

    A quarter given for a yearly case means the last year completed by the end of that quarter.

    Examples
    --------
    >>> from vmo_lib.model import make_case
    >>> review_period(make_case({"first_period": "2026", "period_length": "year", "horizon": 3}), "2026Q4")
    '2026'
    >>> review_period(make_case({"first_period": "2026Q1", "horizon": 3}), "2026-q3")
    '2026Q3'
    """
    return periods.review_period(as_of, case.period_length, like=case.meta.get("first_period"))


def known_at(case: BusinessCase, as_of: object) -> BusinessCase:
    """The case as it stood at the end of the review period: the one rule for the baseline in force
    (:meth:`vmo_lib.model.BusinessCase.as_known_at`: a re-baseline approved after the end of the
    review period is not yet in force). Every review-date computation starts from it."""
    return case.as_known_at(period_end_date(review_period(case, as_of), case.period_length))


def review_offset(case: BusinessCase, as_of: object) -> int:
    """Offset of the review period from period 0 (may be negative or past the horizon)."""
    return case.t_of(review_period(case, as_of))


# --------------------------------------------------------------------------------------------------
# the expected (actuals-then-forecast) scenario
# --------------------------------------------------------------------------------------------------
@dataclass
class Grid:
    """Every scenario of a case as aligned (lines × t) arrays, and which cells were reported."""

    ids: list[str]
    kind: np.ndarray
    plan: np.ndarray          # baseline in force
    original: np.ndarray      # "baseline"
    actual: np.ndarray        # 0 where not reported
    reported: np.ndarray      # bool: an actual amount for a period <= as_of
    forecast: np.ndarray
    has_forecast: np.ndarray  # bool
    past: np.ndarray          # bool per t: t <= as_of
    tau: int
    #: The plan the outlook falls back on where there is no actual or forecast: the plan in force,
    #: with the benefits tied to go-live moved by the go-live slip (None = the plan in force).
    fallback: np.ndarray | None = None


#: Within one :func:`shared_work` block (every :func:`vmo_lib.analysis.realisation.case_status` call opens
#: one), the grid and the expected case are built once per case and review period (every table needs
#: them); outside it nothing is cached.
_MEMO: contextvars.ContextVar[dict | None] = contextvars.ContextVar("vmo_realisation_memo", default=None)


def memo(kind: str, case: BusinessCase, as_of: object, build: Callable[[], _T]) -> _T:
    """``build()``, once per ``kind``, case and review period within a :func:`shared_work` block.

    Outside a block it simply calls ``build()`` (nothing is cached).

    Parameters
    ----------
    kind : str
        What is built (part of the key, with the case's identity and ``str(as_of)``).
    case : BusinessCase
        The case it is built from; the entry keeps it, so an ``id`` reused later cannot collide.
    as_of : object
        Review period (or ``""`` when the result does not depend on it).
    build : callable
        Makes the value.
    """
    store = _MEMO.get()
    if store is None:
        return build()
    key = (kind, id(case), str(as_of))
    entry = store.get(key)
    if entry is None or entry[0] is not case:  # the entry holds its case: an id is never reused meanwhile
        entry = store[key] = (case, build())
    return entry[1]


@contextlib.contextmanager
def shared_work() -> Iterator[None]:
    """Share the grid, the expected case... between the realisation calls made inside the block.

    Open it around several calls on the *same, unchanged* cases (as
    :func:`vmo_lib.analysis.realisation.case_status` does); a
    block already open is reused. Nothing outlives the block.
    """
    if _MEMO.get() is not None:
        yield
        return
    token = _MEMO.set({})
    try:
        yield
    finally:
        _MEMO.reset(token)


def shared_line_matrices(case: BusinessCase, scenario: str, view: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """:func:`vmo_lib.analysis.appraisal.line_matrices`, once per case, scenario and view within a call."""
    return memo(f"line_matrices:{scenario}:{view}", case, "", lambda: line_matrices(case, scenario, view))


def shared_npv(case: BusinessCase, scenario: str, view: str) -> float:
    """:func:`vmo_lib.analysis.appraisal.npv_of` (same operations) on the matrices shared within a call."""
    return memo(f"npv_of:{scenario}:{view}", case, "", lambda: float(
        finance.npv(None, shared_net_flows(case, scenario, view), factors=shared_discount_factors(case))))


def shared_net_flows(case: BusinessCase, scenario: str, view: str) -> np.ndarray:
    """:func:`vmo_lib.analysis.appraisal.net_flows` (same operations) on the matrices shared within a call."""
    def build() -> np.ndarray:
        costs, benefits = shared_line_matrices(case, scenario, view)
        return benefits.to_numpy().sum(axis=0) - costs.to_numpy().sum(axis=0)
    return memo(f"net_flows:{scenario}:{view}", case, "", build)


def shared_discount_factors(case: BusinessCase) -> np.ndarray:
    """:func:`vmo_lib.analysis.appraisal.discount_factors`, once per case within a call."""
    return memo("discount_factors", case, "", lambda: discount_factors(case))


def grid(case: BusinessCase, as_of: object) -> Grid:
    """The :class:`Grid` of ``case`` at review period ``as_of``, once per case and period within a block."""
    return memo("grid", case, as_of, lambda: _build_grid(case, as_of))


def _build_grid(case: BusinessCase, as_of: object) -> Grid:
    tau = review_offset(case, as_of)
    h = case.horizon

    def cells(scenario: str) -> tuple[np.ndarray, np.ndarray]:
        r, t, amt, ids = case._scenario_cells(scenario)
        if scenario == "actual":
            ok = t <= tau
            r, t, amt = r[ok], t[ok], amt[ok]
        m = np.zeros((len(ids), h))
        mask = np.zeros((len(ids), h), dtype=bool)
        np.add.at(m, (r, t), amt)
        mask[r, t] = True
        return m, mask

    ids = case.line_ids()
    actual, reported = cells("actual")
    forecast, has_forecast = cells("forecast")
    kind = case.lines.set_index("line_id")["kind"].reindex(ids).to_numpy()
    plan = case._matrix_array(case.current_baseline)[0]
    original = case._matrix_array("baseline")[0]
    past = np.arange(h) <= tau
    return Grid(ids, kind, plan, original, actual, reported, forecast, has_forecast, past, tau,
                _go_live_fallback(case, ids, kind, plan))


def _go_live_fallback(case: BusinessCase, ids: list[str], kind: np.ndarray, plan: np.ndarray) -> np.ndarray | None:
    """The plan in force with every benefit tied to go-live (``go_live_tied`` = yes) moved by the slip
    ``actual_go_live - go_live_period`` (later when positive; what leaves the horizon is lost, as a slip
    is in the value bridge). None when nothing moves."""
    gl, planned = case.meta.get("actual_go_live"), case.go_live_t
    if gl in (None, "") or planned is None or (isinstance(gl, float) and np.isnan(gl)):
        return None
    try:
        shift = case.t_of(gl) - planned
    except (TypeError, ValueError):
        return None
    if shift == 0 or "go_live_tied" not in case.lines:
        return None
    tied = case.lines.set_index("line_id")["go_live_tied"].reindex(ids)
    rows = np.flatnonzero((kind == "benefit") & tied.astype(str).str.strip().str.lower().eq("yes").to_numpy())
    if not len(rows):
        return None
    out = plan.copy()
    h = plan.shape[1]
    for i in rows:
        out[i] = 0.0
        if shift > 0:
            out[i, shift:] = plan[i, :h - shift] if shift < h else 0.0
        else:
            out[i, :h + shift] = plan[i, -shift:]
    return out


def expected_matrix(g: Grid) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Expected amounts, their source code (0 actual, 1 forecast, 2 plan) and the estimated mask."""
    source = np.where(g.reported, 0, np.where(g.has_forecast, 1, 2))
    fallback = g.plan if g.fallback is None else g.fallback
    amount = np.where(source == 0, g.actual, np.where(source == 1, g.forecast, fallback))
    estimated = g.past[None, :] & ~g.reported & (np.abs(amount) > _TINY)
    return amount, source, estimated


def expected_flows(case: BusinessCase, as_of: object) -> pd.DataFrame:
    """The expected profile: actuals to ``as_of``, then the forecast, else the plan.

    Parameters
    ----------
    case : BusinessCase
    as_of : str
        Review period label (``"2026Q3"``).

    Returns
    -------
    pandas.DataFrame
        One row per line and period: ``line_id, kind, period, t, amount, source, estimated`` where
        ``source`` is ``"actual"``, ``"forecast"`` or ``"plan"`` (the baseline in force; a benefit
        tied to go-live, ``go_live_tied`` = yes, moved by ``actual_go_live - go_live_period``) and
        ``estimated`` marks a reported period with no actual (a measurement gap) whose amount was
        taken from the forecast or plan.

    Examples
    --------
    >>> from vmo_lib.model import make_case
    >>> c = make_case({"case_id": "X", "first_period": "2026Q1", "horizon": 3},
    ...               benefits=[{"line_id": "B1", "name": "S", "amounts": [10, 10, 10]}],
    ...               actuals=[{"period": "2026Q1", "line_id": "B1", "amount": 8}],
    ...               forecast=[{"period": "2026Q3", "line_id": "B1", "amount": 12}])
    >>> expected_flows(c, "2026Q2")[["period", "amount", "source", "estimated"]].values.tolist()
    [['2026Q1', 8.0, 'actual', False], ['2026Q2', 10.0, 'plan', True], ['2026Q3', 12.0, 'forecast', False]]
    """
    g = grid(case, as_of)
    amount, source, estimated = expected_matrix(g)
    h = case.horizon
    n = len(g.ids)
    return pd.DataFrame({
        "line_id": np.repeat(np.array(g.ids, dtype=object), h),
        "kind": np.repeat(g.kind, h),
        "period": np.tile(np.array(case.periods, dtype=object), n),
        "t": np.tile(np.arange(h), n),
        "amount": amount.ravel(),
        "source": np.array(["actual", "forecast", "plan"], dtype=object)[source.ravel()],
        "estimated": estimated.ravel(),
    })


def expected_case(case: BusinessCase, as_of: object) -> BusinessCase:
    """A copy of ``case`` whose flows also hold the scenario ``"expected"`` (:func:`expected_flows`).

    Appraise it like any scenario: ``appraise(expected_case(case, as_of), "expected")``.

    Examples
    --------
    >>> from vmo_lib.model import make_case
    >>> c = make_case({"case_id": "X", "first_period": "2026Q1", "horizon": 2},
    ...               benefits=[{"line_id": "B1", "name": "S", "amounts": [10, 10]}],
    ...               actuals=[{"period": "2026Q1", "line_id": "B1", "amount": 7}])
    >>> expected_case(c, "2026Q1").net_flow("expected").tolist()
    [7.0, 10.0]
    """
    return memo("expected_case", case, as_of, lambda: _build_expected_case(case, as_of))


def _build_expected_case(case: BusinessCase, as_of: object) -> BusinessCase:
    # expected_flows' rows with an amount, built from the grid's arrays (no intermediate table);
    # text columns as object Series so that pandas does not infer (then undo) a string dtype.
    g = grid(case, as_of)
    amount, source, _ = expected_matrix(g)
    h, n = case.horizon, len(g.ids)
    flat = amount.ravel()
    keep = np.flatnonzero(np.abs(flat) > 0)
    r, t = keep // h if h else keep, keep % h if h else keep

    def obj(values: Any) -> pd.Series:
        return pd.Series(values, dtype=object)

    rows = pd.DataFrame({
        "case_id": obj(np.full(len(keep), case.case_id, dtype=object)),
        "line_id": obj(np.array(g.ids, dtype=object)[r] if n else np.empty(0, dtype=object)),
        "kind": obj(g.kind[r]), "period": obj(np.array(case.periods, dtype=object)[t]),
        "t": t.astype(np.int64), "scenario": obj(np.full(len(keep), EXPECTED, dtype=object)),
        "amount": flat[keep], "kpi_value": np.full(len(keep), np.nan),
        "comment": obj(np.array(["actual", "forecast", "plan"], dtype=object)[source.ravel()[keep]]),
    }, columns=list(FLOW_COLUMNS))
    kept = case.flows
    if EXPECTED in case._flow_index().scenario_rows:
        kept = kept[kept["scenario"] != EXPECTED]
    flows = pd.concat([kept, rows], ignore_index=True) if len(rows) else kept
    return case.with_flows(normalise_flows(flows))


# --------------------------------------------------------------------------------------------------
# what remains: the forward NPV
# --------------------------------------------------------------------------------------------------
def forward_npv(case: BusinessCase, as_of: object, view: str = "economic") -> float:
    """NPV of the expected flows after ``as_of`` (sunk cost ignored), discounted to the next period.

    The continue/stop view: what remains to be spent and gained from the first period after the
    review, valued at that period (``sum_{t > as_of} net_t * DF_t / DF_{as_of+1}``). Past flows,
    spent or not, do not count. 0 when nothing remains in the horizon; the whole expected NPV when
    the review precedes period 0.

    Examples
    --------
    >>> from vmo_lib.model import make_case
    >>> c = make_case({"case_id": "F", "first_period": "2026", "period_length": "year", "horizon": 3,
    ...                "discount_rate": 0.10},
    ...               costs=[{"line_id": "C1", "name": "Build", "amounts": [100, 20, 0]}],
    ...               benefits=[{"line_id": "B1", "name": "S", "amounts": [0, 50, 110]}])
    >>> round(forward_npv(c, "2026"), 6)   # (50 - 20) + 110 / 1.1, the 100 already spent ignored
    130.0
    """
    start = max(review_offset(case, as_of) + 1, 0)
    if start >= case.horizon:
        return 0.0
    net = _expected_net(case, as_of, view)
    df = shared_discount_factors(case)
    return float(net[start:] @ df[start:] / df[start])


def _expected_net(case: BusinessCase, as_of: object, view: str) -> np.ndarray:
    """``net_flows(expected_case(case, as_of), EXPECTED, view)``, the same operations on the same
    numbers, without building the expected case: the expected matrix straight from the grid."""
    def build() -> np.ndarray:
        g = grid(case, as_of)
        amount = expected_matrix(g)[0]
        amount = np.where(np.abs(amount) > 0, amount, 0.0)  # the expected case keeps non-zero amounts only
        costs, benefits = shared_line_matrices(case, "baseline", view)  # appraisal's rule: which lines count
        ids = pd.Index(g.ids)
        return amount[ids.isin(benefits.index)].sum(axis=0) - amount[ids.isin(costs.index)].sum(axis=0)
    return memo(f"expected_net:{view}", case, as_of, build)
