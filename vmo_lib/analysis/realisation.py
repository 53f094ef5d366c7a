"""Benefits realisation: baseline, forecast and actuals over time, and the value verdict.

At a review date ``as_of`` (a period label such as ``"2026Q3"``) this module answers, for one case:
how much of the promised benefit has been realised and at what cost (realisation), what the case is
now expected to be worth (outlook), why that differs from the promise (value bridge), whether the rest
is still worth doing (forward NPV), and what is not being measured (gaps).

Conventions (the review pack and ``vmo status`` repeat them)
------------------------------------------------------------
* **Reported periods** are the periods ``<= as_of``. Actuals dated after ``as_of`` are ignored, so a
  review can be re-run as of an earlier quarter and gives the numbers that quarter would have given.
* **Plan** means the baseline in force, ``case.current_baseline`` (the latest formal re-baseline, else
  the original ``"baseline"``). The original baseline is never replaced: every table carries both,
  and the headline NPVs and bridges are reported against both when they differ.
* **Expected scenario** (:func:`expected_flows`), per line and period:
  ``actual`` for reported periods with an actual amount; ``forecast`` where the owner gave one; else
  the plan. A reported period with no actual is a **measurement gap**: the outlook uses the forecast
  (else the plan) for it, the row is marked ``estimated=True``, and :func:`measurement_gaps` lists it.
  Nothing is invented and nothing is silently set to zero. A past period whose plan and forecast are
  both zero and that has no actual is simply zero (nothing was due).
* **Variance: positive = better than plan**, for costs and benefits alike:
  benefits ``actual - plan``; costs ``plan - actual`` (an underspend is positive, an overrun negative);
  a dis-benefit (negative amounts) that grows is negative.
* **To date is like-for-like**: cumulative plan and actual are summed over the reported periods that
  have an actual for that line, so an unreported quarter neither flatters costs nor sinks benefits;
  the plan of the unreported periods is shown apart (``plan_unreported``) and listed as a gap.
* **Realisation %** = actual to date / plan to date. **Performance %** = 1 + variance / |plan|: the
  same as realisation % for a benefit and ``2 - actual/plan`` for a cost, so 100 % is on plan and
  higher is better for every line; the RAG is set on it.
* **KPI progress** = (latest measured - baseline value) / (target value - baseline value), so it is
  direction-aware: a KPI whose target is below its baseline progresses as it falls. KPIs are never
  summed across benefits unless units and roll-up rule agree (:func:`realisation_by_type`).
* **NPVs** use :mod:`vmo_lib.analysis.appraisal` (same discount factors, same views; economic by default) and
  are discounted to period 0. The **forward NPV** counts only the expected flows after ``as_of``
  (sunk cost ignored) and discounts them to the first period after ``as_of``: the decision view of
  "is what remains worth doing from here".

Examples
--------
>>> from vmo_lib.model import make_case
>>> case = make_case(
...     {"case_id": "X", "first_period": "2026Q1", "horizon": 4, "discount_rate": 0.0},
...     costs=[{"line_id": "C1", "name": "Build", "amounts": [100, 0, 0, 0]}],
...     benefits=[{"line_id": "B1", "name": "Savings", "amounts": [0, 50, 50, 50]}],
...     actuals=[{"period": "2026Q1", "line_id": "C1", "amount": 100},
...              {"period": "2026Q2", "line_id": "B1", "amount": 60}])
>>> s = case_status(case, "2026Q2")
>>> s.verdict.label, s.expected_npv - s.baseline_npv, s.bridge.benefit
('value created', 10.0, 10.0)
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime as _dt
import math
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from vmo_lib import periods, schema
from vmo_lib.analysis import finance
from vmo_lib.analysis.appraisal import discount_factors, line_matrices
from vmo_lib.formatting import format_money
from vmo_lib.model import FLOW_COLUMNS, BusinessCase, as_date, normalise_flows
from vmo_lib.periods import period_end_date

__all__ = [
    "EXPECTED",
    "GAP_RULES",
    "RAG_LABELS",
    "STATUS_KEYS",
    "VARIANCE_NOTE",
    "VERDICTS",
    "CaseStatus",
    "DECISIONS",
    "Thresholds",
    "ValueBridge",
    "Verdict",
    "case_status",
    "decide",
    "expected_case",
    "expected_flows",
    "forward_npv",
    "kpi_progress",
    "measurement_gaps",
    "rag",
    "realisation_by_benefit",
    "realisation_by_line",
    "realisation_by_period",
    "realisation_by_type",
    "review_period",
    "value_bridge",
    "verdict",
]

#: Scenario name of the blended actuals-then-forecast flows added by :func:`expected_case`.
EXPECTED = "expected"
#: The sign convention, stated wherever a variance is shown.
VARIANCE_NOTE = "Variance: positive = better than plan (benefits: actual − plan; costs: plan − actual)."
#: Decisions in order of urgency (most urgent first); :func:`decide` is the rule.
DECISIONS = ("stop", "re-plan", "recover", "not started", "continue", "closed")
#: Lifecycle statuses of a case that has ended.
_ENDED = ("closed", "cancelled")
_MANDATORY = "Regulatory/mandatory"
#: Verdicts; "not started" is a proposed case (nothing approved yet, so nothing to judge).
VERDICTS = ("value created", "on track", "at risk", "value destroyed", "not started")
RAG_LABELS = {"green": "on plan", "amber": "below plan", "red": "well below plan", "grey": "not started / no data"}
#: Codes of :func:`measurement_gaps` with what each means.
GAP_RULES = {
    "no owner": "benefit has no named owner",
    "no baseline measurement": "KPI baseline value or the date it was measured is missing",
    "no target": "KPI target value is missing",
    "no target date": "KPI target date is missing",
    "no measurement frequency": "measurement frequency is missing (quarterly assumed)",
    "no KPI measurement": "benefit is due but its KPI has never been measured",
    "overdue": "no actual reported for longer than the measurement frequency",
    "unreported periods": "reported periods with something due but no actual (outlook uses the forecast/plan)",
}
#: Keys of :meth:`CaseStatus.to_dict` (the JSON of ``vmo status``); stable, documented in the class.
STATUS_KEYS = (
    "case_id", "title", "as_of", "view", "currency", "baseline_in_force", "baseline_npv",
    "current_baseline_npv", "expected_npv", "npv_change", "npv_change_pct_of_cost", "forward_npv",
    "forward_discounted_to", "continue_signal", "decision", "decision_reason", "verdict", "verdict_sentence", "verdict_rule",
    "verdict_vs_original", "rag", "rag_reason", "realisation_pct", "benefit_plan_to_date",
    "benefit_actual_to_date", "benefit_variance_to_date", "disbenefit_plan_to_date",
    "disbenefit_actual_to_date", "disbenefit_variance_to_date", "cost_spend_pct", "cost_plan_to_date",
    "cost_actual_to_date", "cost_variance_to_date", "bridge", "bridge_current", "variance_note",
    "thresholds", "benefits", "costs", "gaps",
)
_TINY = 1e-12


# --------------------------------------------------------------------------------------------------
# thresholds and small helpers
# --------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Thresholds:
    """The configurable rules behind verdicts and RAG statuses (fractions, not percentages).

    Attributes
    ----------
    value_created : float
        Verdict "value created" when expected NPV beats the reference baseline NPV by more than this
        share of the reference PV of costs (default 5 %).
    at_risk : float
        Verdict "at risk" when expected NPV falls short of the reference by more than this share of
        PV costs (default 5 %).
    value_destroyed : float
        Verdict "value destroyed" for a case whose baseline NPV is negative by design
        (regulatory/mandatory), which has no zero line to cross: when its shortfall exceeds this
        share of PV costs (default 25 %). A case that promised a non-negative NPV is "value
        destroyed" when its expected NPV is negative: it now loses money, whatever it promised.
    value_destroyed_any : float or None
        Optional stricter rule: any case whose shortfall exceeds this share of PV costs is "value
        destroyed" even while its expected NPV stays positive. Default None (off): a case still
        expected to return more than it costs is "at risk", however far below its promise.
    green, amber : float
        RAG on performance % (100 % = on plan, higher = better): green ``>= green`` (95 %), amber
        ``>= amber`` (80 %), else red. No plan due and nothing reported = grey ("not started").
    overdue_grace : int
        Extra periods allowed beyond a benefit's measurement frequency before it is "overdue".

    Examples
    --------
    >>> Thresholds(at_risk=0.10).at_risk
    0.1
    """

    value_created: float = 0.05
    at_risk: float = 0.05
    value_destroyed: float = 0.25
    value_destroyed_any: float | None = None
    green: float = 0.95
    amber: float = 0.80
    overdue_grace: int = 0

    def __post_init__(self) -> None:
        if not 0 <= self.at_risk <= self.value_destroyed:
            raise ValueError("thresholds must satisfy 0 <= at_risk <= value_destroyed")
        if self.value_destroyed_any is not None and self.value_destroyed_any < self.at_risk:
            raise ValueError("thresholds must satisfy at_risk <= value_destroyed_any")
        if not 0 <= self.amber <= self.green:
            raise ValueError("thresholds must satisfy 0 <= amber <= green")


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
    return periods.review_period(as_of, case.period_length)


_label = review_period


def _tau(case: BusinessCase, as_of: object) -> int:
    """Offset of the review period from period 0 (may be negative or past the horizon)."""
    return case.t_of(review_period(case, as_of))


def _ratio(num: float, den: float) -> float:
    return float(num) / float(den) if abs(den) > _TINY else math.nan


def _blank(v: Any) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v)) or (isinstance(v, str) and not v.strip()) \
        or v is pd.NA or v is pd.NaT


def _number(v: Any) -> float:
    try:
        return math.nan if _blank(v) else float(v)
    except (TypeError, ValueError):
        return math.nan


def rag(performance: float, thresholds: Thresholds | None = None) -> str:
    """RAG colour of a performance ratio (1.0 = on plan, higher = better); NaN gives ``"grey"``.

    Examples
    --------
    >>> [rag(x) for x in (1.2, 0.95, 0.9, 0.5, float("nan"))]
    ['green', 'green', 'amber', 'red', 'grey']
    """
    th = thresholds or Thresholds()
    if performance is None or math.isnan(performance):
        return "grey"
    if performance >= th.green - 1e-12:
        return "green"
    if performance >= th.amber - 1e-12:
        return "amber"
    return "red"


# --------------------------------------------------------------------------------------------------
# the expected (actuals-then-forecast) scenario
# --------------------------------------------------------------------------------------------------
@dataclass
class _Grid:
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


#: Within one :func:`case_status` call, the grid and the expected case are built once per case and
#: review period (every table needs them); outside it nothing is cached.
_MEMO: contextvars.ContextVar[dict | None] = contextvars.ContextVar("vmo_realisation_memo", default=None)


def _memo(kind: str, case: BusinessCase, as_of: object, build):
    memo = _MEMO.get()
    if memo is None:
        return build()
    key = (kind, id(case), str(as_of))
    entry = memo.get(key)
    if entry is None or entry[0] is not case:  # the entry holds its case: an id is never reused meanwhile
        entry = memo[key] = (case, build())
    return entry[1]


@contextlib.contextmanager
def shared_work() -> Iterator[None]:
    """Share the grid, the expected case... between the realisation calls made inside the block.

    Open it around several calls on the *same, unchanged* cases (as :func:`case_status` does); a
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


def _line_matrices(case: BusinessCase, scenario: str, view: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """:func:`vmo_lib.analysis.appraisal.line_matrices`, once per case, scenario and view within a call."""
    return _memo(f"line_matrices:{scenario}:{view}", case, "", lambda: line_matrices(case, scenario, view))


def _npv_of(case: BusinessCase, scenario: str, view: str) -> float:
    """:func:`vmo_lib.analysis.appraisal.npv_of` (same operations) on the matrices shared within a call."""
    return _memo(f"npv_of:{scenario}:{view}", case, "", lambda: float(
        finance.npv(None, _net_flows(case, scenario, view), factors=_discount_factors(case))))


def _net_flows(case: BusinessCase, scenario: str, view: str) -> np.ndarray:
    """:func:`vmo_lib.analysis.appraisal.net_flows` (same operations) on the matrices shared within a call."""
    def build() -> np.ndarray:
        costs, benefits = _line_matrices(case, scenario, view)
        return benefits.to_numpy().sum(axis=0) - costs.to_numpy().sum(axis=0)
    return _memo(f"net_flows:{scenario}:{view}", case, "", build)


def _discount_factors(case: BusinessCase) -> np.ndarray:
    """:func:`vmo_lib.analysis.appraisal.discount_factors`, once per case within a call."""
    return _memo("discount_factors", case, "", lambda: discount_factors(case))


def _grid(case: BusinessCase, as_of: object) -> _Grid:
    return _memo("grid", case, as_of, lambda: _build_grid(case, as_of))


def _build_grid(case: BusinessCase, as_of: object) -> _Grid:
    tau = _tau(case, as_of)
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
    return _Grid(ids, kind, plan, original, actual, reported, forecast, has_forecast, past, tau)


def _line_attrs(case: BusinessCase, ids: list[str]) -> list[dict[str, Any]]:
    """One dict of ``case.lines`` attributes per line id (what ``lines.loc[line_id]`` holds), once per call."""
    def build() -> list[dict[str, Any]]:
        t = case.lines.set_index("line_id").reindex(ids)
        # what to_dict(orient="records") gives (Python scalars), a column at a time
        columns = [t[c].tolist() for c in t.columns]
        return [dict(zip(t.columns, row, strict=True)) for row in zip(*columns, strict=True)] if columns \
            else [{} for _ in ids]
    return _memo("line_attrs", case, "", build)


def _expected_matrix(g: _Grid) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Expected amounts, their source code (0 actual, 1 forecast, 2 plan) and the estimated mask."""
    source = np.where(g.reported, 0, np.where(g.has_forecast, 1, 2))
    amount = np.where(source == 0, g.actual, np.where(source == 1, g.forecast, g.plan))
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
        ``source`` is ``"actual"``, ``"forecast"`` or ``"plan"`` (the baseline in force) and
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
    g = _grid(case, as_of)
    amount, source, estimated = _expected_matrix(g)
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
    return _memo("expected_case", case, as_of, lambda: _build_expected_case(case, as_of))


def _build_expected_case(case: BusinessCase, as_of: object) -> BusinessCase:
    # expected_flows' rows with an amount, built from the grid's arrays (no intermediate table);
    # text columns as object Series so that pandas does not infer (then undo) a string dtype.
    g = _grid(case, as_of)
    amount, source, _ = _expected_matrix(g)
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
# realisation tables
# --------------------------------------------------------------------------------------------------
def _latest_kpi(case: BusinessCase, tau: int) -> pd.DataFrame:
    """The last measured KPI value of each line up to ``tau`` (index ``line_id``), once per call."""
    return _memo("latest_kpi", case, tau, lambda: _build_latest_kpi(case, tau))


def _build_latest_kpi(case: BusinessCase, tau: int) -> pd.DataFrame:
    f = case.flows
    kv = f["kpi_value"].to_numpy(dtype=float)
    t = f["t"].to_numpy()
    idx = np.flatnonzero((f["scenario"].to_numpy() == "actual") & (t <= tau) & ~np.isnan(kv))
    if not len(idx):
        return pd.DataFrame(columns=["kpi_latest", "kpi_latest_period", "kpi_latest_t"]).rename_axis("line_id")
    order = idx[np.argsort(t[idx], kind="stable")]
    lids = f["line_id"].to_numpy()[order]
    last: dict[Any, int] = {}
    for k, lid in enumerate(lids):  # the latest row of each line (by t, then row order) wins
        if not pd.isna(lid):  # groupby drops blank keys
            last[lid] = k
    pick = order[sorted(last.values())]
    index = pd.Index(f["line_id"].to_numpy()[pick], dtype=object, name="line_id")
    return pd.DataFrame({"kpi_latest": pd.Series(kv[pick], index=index),
                         "kpi_latest_period": pd.Series(f["period"].to_numpy()[pick], index=index, dtype=object),
                         "kpi_latest_t": pd.Series(t[pick].astype(int), index=index)})


def kpi_progress(baseline_value: float, target_value: float, measured: float) -> float:
    """Share of the way from a KPI's baseline to its target reached by a measurement.

    Direction-aware: ``(measured - baseline) / (target - baseline)``, so a KPI whose target is below
    its baseline (fewer errors, shorter waits) progresses as it falls. 0 = still at baseline, 1 =
    target reached, above 1 = beyond target, negative = moved the wrong way. NaN when a value is
    missing or the target equals the baseline.

    Examples
    --------
    >>> kpi_progress(100, 200, 150)      # up: half way
    0.5
    >>> kpi_progress(12.0, 4.0, 10.0)    # down: from 12 days to 10 of the 8 to cut
    0.25
    >>> kpi_progress(12.0, 4.0, 13.0)    # down, but it rose: wrong way
    -0.125
    """
    b, t, m = _number(baseline_value), _number(target_value), _number(measured)
    if any(math.isnan(x) for x in (b, t, m)) or abs(t - b) <= _TINY:
        return math.nan
    return (m - b) / (t - b)


def _planned_kpi_progress(baseline_date: Any, target_date: Any, as_of_end: _dt.date) -> float:
    """Share of the time from baseline measurement to target date elapsed at the review date."""
    try:
        b, t = as_date(baseline_date), as_date(target_date)
    except (TypeError, ValueError):
        return math.nan
    if b is None or t is None or t <= b:
        return math.nan
    return min(max((as_of_end - b).days / (t - b).days, 0.0), 1.0)


def realisation_by_line(case: BusinessCase, as_of: object, thresholds: Thresholds | None = None) -> pd.DataFrame:
    """Plan vs actual for every cost and benefit line as of a review period.

    Parameters
    ----------
    case : BusinessCase
    as_of : str
        Review period label.
    thresholds : Thresholds, optional
        RAG thresholds (defaults: :class:`Thresholds`).

    Returns
    -------
    pandas.DataFrame
        One row per line (``case.lines`` order), columns:

        ``line_id, kind, name, type`` (benefit type or cost category), ``owner, unit``;
        ``plan_period, actual_period, variance_period`` (the review period itself);
        ``plan_to_date`` (plan in force over every reported period), ``plan_reported`` (over the
        periods with an actual), ``actual_to_date, variance_to_date`` (like-for-like),
        ``plan_unreported``, ``realisation_pct`` (actual ÷ plan reported), ``performance_pct``
        (1 + variance ÷ |plan|), ``original_plan_reported, original_variance_to_date`` (against the
        original baseline), ``periods_reported, periods_unreported``; whole life: ``plan_total,
        original_total, expected_total``; KPI: ``kpi, kpi_baseline, kpi_target, kpi_latest,
        kpi_latest_period, kpi_progress_pct, kpi_planned_progress_pct``; ``rag, rag_reason``.
        Variance: positive = better than plan (:data:`VARIANCE_NOTE`).

    Examples
    --------
    >>> from vmo_lib.model import make_case
    >>> c = make_case({"case_id": "X", "first_period": "2026Q1", "horizon": 2},
    ...               costs=[{"line_id": "C1", "name": "Build", "amounts": [100, 0]}],
    ...               benefits=[{"line_id": "B1", "name": "S", "amounts": [0, 50]}],
    ...               actuals=[{"period": "2026Q1", "line_id": "C1", "amount": 110},
    ...                        {"period": "2026Q2", "line_id": "B1", "amount": 55}])
    >>> realisation_by_line(c, "2026Q2")[["line_id", "variance_to_date", "realisation_pct", "rag"]].values.tolist()
    [['C1', -10.0, 1.1, 'amber'], ['B1', 5.0, 1.1, 'green']]
    """
    th = thresholds or Thresholds()
    g = _grid(case, as_of)
    expected, _, _ = _expected_matrix(g)
    is_cost = g.kind == "cost"
    sign = np.where(is_cost, -1.0, 1.0)          # variance = sign * (actual - plan)
    past = np.broadcast_to(g.past, g.plan.shape)
    rep = g.reported
    due = past & ~rep & ((np.abs(g.plan) > _TINY) | (g.has_forecast & (np.abs(g.forecast) > _TINY)))

    tau = g.tau
    in_range = 0 <= tau < case.horizon
    plan_period = g.plan[:, tau] if in_range else np.zeros(len(g.ids))
    actual_period = np.where(rep[:, tau], g.actual[:, tau], np.nan) if in_range else np.full(len(g.ids), np.nan)

    plan_to_date = (g.plan * past).sum(axis=1)
    plan_rep = (g.plan * rep).sum(axis=1)
    orig_rep = (g.original * rep).sum(axis=1)
    actual_td = (g.actual * rep).sum(axis=1)
    n_rep = rep.sum(axis=1)
    variance = np.where(n_rep > 0, sign * (actual_td - plan_rep), np.nan)
    orig_variance = np.where(n_rep > 0, sign * (actual_td - orig_rep), np.nan)
    with np.errstate(all="ignore"):
        realisation = np.where((n_rep > 0) & (np.abs(plan_rep) > _TINY), actual_td / plan_rep, np.nan)
        performance = np.where((n_rep > 0) & (np.abs(plan_rep) > _TINY), 1 + variance / np.abs(plan_rep), np.nan)

    kpi = _latest_kpi(case, tau).reindex(g.ids)
    kpi_latest = kpi["kpi_latest"].to_numpy() if len(kpi) else None
    kpi_period = kpi["kpi_latest_period"].to_numpy() if len(kpi) else None
    as_of_end = period_end_date(_label(case, as_of), case.period_length)
    attrs = _line_attrs(case, g.ids)
    plan_unreported = (g.plan * due).sum(axis=1)
    n_due = due.sum(axis=1)
    plan_total, original_total, expected_total = g.plan.sum(axis=1), g.original.sum(axis=1), expected.sum(axis=1)
    rows = []
    for i, lid in enumerate(g.ids):
        ln = attrs[i]
        kb, kt = _number(ln.get("baseline_value")), _number(ln.get("target_value"))
        latest = _number(kpi_latest[i]) if kpi_latest is not None else math.nan
        progress = kpi_progress(kb, kt, latest) if g.kind[i] == "benefit" else math.nan
        planned_progress = (_planned_kpi_progress(ln.get("baseline_date"), ln.get("target_date"), as_of_end)
                            if g.kind[i] == "benefit" else math.nan)
        colour, reason = _line_rag(performance[i], realisation[i], bool(is_cost[i]), n_rep[i], plan_to_date[i],
                                   g.plan[i], progress, planned_progress, th)
        rows.append({
            "line_id": lid, "kind": g.kind[i], "name": ln.get("name"),
            "type": ln.get("category") if is_cost[i] else ln.get("benefit_type"),
            "owner": None if _blank(ln.get("owner")) else ln.get("owner"),
            "unit": None if _blank(ln.get("unit")) else ln.get("unit"),
            "plan_period": float(plan_period[i]), "actual_period": float(actual_period[i]),
            "variance_period": float(sign[i] * (actual_period[i] - plan_period[i])),
            "plan_to_date": float(plan_to_date[i]), "plan_reported": float(plan_rep[i]),
            "actual_to_date": float(actual_td[i]) if n_rep[i] else math.nan,
            "variance_to_date": float(variance[i]),
            "plan_unreported": float(plan_unreported[i]),
            "realisation_pct": float(realisation[i]), "performance_pct": float(performance[i]),
            "original_plan_reported": float(orig_rep[i]), "original_variance_to_date": float(orig_variance[i]),
            "periods_reported": int(n_rep[i]), "periods_unreported": int(n_due[i]),
            "plan_total": float(plan_total[i]), "original_total": float(original_total[i]),
            "expected_total": float(expected_total[i]),
            "kpi": None if _blank(ln.get("kpi")) else ln.get("kpi"),
            "kpi_baseline": kb, "kpi_target": kt, "kpi_latest": latest,
            "kpi_latest_period": kpi_period[i] if kpi_period is not None and not _blank(kpi_period[i]) else None,
            "kpi_progress_pct": progress, "kpi_planned_progress_pct": planned_progress,
            "kpi_rollup": None if _blank(ln.get("kpi_rollup")) else ln.get("kpi_rollup"),
            "rag": colour, "rag_reason": reason,
        })
    return pd.DataFrame(rows)


def _line_rag(performance: float, ratio: float, is_cost: bool, n_reported: int, plan_to_date: float,
              plan_row: np.ndarray, progress: float, planned_progress: float, th: Thresholds) -> tuple[str, str]:
    if n_reported and not math.isnan(performance):
        what = "spent" if is_cost else "realised"
        return rag(performance, th), f"{what} {ratio:.0%} of plan to date (performance {performance:.0%})"
    money_plan = np.abs(plan_row).sum() > _TINY
    if not money_plan and not math.isnan(progress):
        # A non-monetised KPI benefit: progress toward target against the share of time elapsed.
        if math.isnan(planned_progress) or planned_progress <= 0:
            return "grey", "KPI target not yet due"
        ratio = progress / planned_progress
        return rag(ratio, th), f"KPI {progress:.0%} of the way to target, {planned_progress:.0%} of the time elapsed"
    if abs(plan_to_date) <= _TINY and n_reported == 0:
        return "grey", "not started: nothing due yet"
    if n_reported == 0 and abs(plan_to_date) > _TINY:
        return "grey", "no data: nothing reported though due"
    return "grey", "no plan to compare with"


def realisation_by_benefit(case: BusinessCase, as_of: object, thresholds: Thresholds | None = None) -> pd.DataFrame:
    """:func:`realisation_by_line` for benefit lines only (one row per benefit).

    Examples
    --------
    >>> from vmo_lib.model import make_case
    >>> c = make_case({"case_id": "X", "first_period": "2026Q1", "horizon": 2},
    ...               benefits=[{"line_id": "B1", "name": "S", "amounts": [40, 40]}],
    ...               actuals=[{"period": "2026Q1", "line_id": "B1", "amount": 50}])
    >>> realisation_by_benefit(c, "2026Q1")[["line_id", "variance_to_date", "rag"]].values.tolist()
    [['B1', 10.0, 'green']]
    """
    t = realisation_by_line(case, as_of, thresholds)
    return t[t["kind"] == "benefit"].reset_index(drop=True)


def kpi_rule(unit: Any, rule: Any) -> str:
    """The KPI roll-up rule of a benefit: its own, else mean for % and scores, sum otherwise."""
    if not _blank(rule):
        return str(rule)
    u = "" if _blank(unit) else str(unit).strip().lower()
    return "mean" if u in ("%", "percent", "percentage", "score", "index", "rating") else "sum"


def roll_up(values: pd.Series, rule: str, order: pd.Series | None = None) -> float:
    v = values.astype(float)
    if rule == "latest" and order is not None:
        ok = v.notna() & order.notna()
        return float(v[ok].iloc[int(np.argmax(order[ok].to_numpy()))]) if ok.any() else math.nan
    v = v.dropna()
    if v.empty:
        return math.nan
    return float({"sum": v.sum, "mean": v.mean, "max": v.max, "min": v.min, "latest": lambda: v.iloc[-1]}[rule]())


def realisation_by_type(case: BusinessCase, as_of: object, thresholds: Thresholds | None = None,
                        lines: pd.DataFrame | None = None) -> pd.DataFrame:
    """Realisation rolled up by benefit type, and spend by cost category.

    Money columns are summed. KPIs are rolled up only where every line in the group has the same
    unit and the same roll-up rule (the benefit's ``kpi_rollup``; blank = mean for % and scores,
    sum otherwise); otherwise the KPI columns are NaN and ``kpi_note`` says why. Non-additive KPIs
    are never summed.

    Parameters
    ----------
    case : BusinessCase
    as_of : str
    thresholds : Thresholds, optional
    lines : pandas.DataFrame, optional
        A :func:`realisation_by_line` table already computed (saves recomputing it).

    Returns
    -------
    pandas.DataFrame
        One row per ``(kind, type)``: ``kind, type, n_lines, plan_period, actual_period,
        variance_period, plan_to_date, plan_reported, actual_to_date, variance_to_date,
        plan_unreported, realisation_pct, performance_pct, plan_total, expected_total, unit,
        kpi_rollup, kpi_baseline, kpi_target, kpi_latest, kpi_progress_pct, kpi_note, rag``.

    Examples
    --------
    >>> from vmo_lib.model import make_case
    >>> c = make_case({"case_id": "X", "first_period": "2026Q1", "horizon": 1},
    ...     benefits=[{"line_id": "B1", "name": "a", "unit": "%", "baseline_value": 50, "target_value": 70,
    ...                "amounts": [10]},
    ...               {"line_id": "B2", "name": "b", "unit": "%", "baseline_value": 60, "target_value": 80,
    ...                "amounts": [10]}],
    ...     actuals=[{"period": "2026Q1", "line_id": "B1", "amount": 10, "kpi_value": 60},
    ...              {"period": "2026Q1", "line_id": "B2", "amount": 8, "kpi_value": 70}])
    >>> r = realisation_by_type(c, "2026Q1").iloc[0]
    >>> float(r["realisation_pct"]), r["kpi_rollup"], float(r["kpi_latest"]), float(r["kpi_progress_pct"])
    (0.9, 'mean', 65.0, 0.5)
    """
    th = thresholds or Thresholds()
    t = realisation_by_line(case, as_of, th) if lines is None else lines
    out = []
    if not len(t):
        return pd.DataFrame(out)
    # Groups as ``t.groupby(["kind", "type"], sort=False, dropna=False)`` forms them (first
    # appearance, blanks together); sums on plain arrays (pandas sums NaN-as-0 the same way).
    codes = t.groupby(["kind", "type"], sort=False, dropna=False).ngroup().to_numpy()
    kinds, types = t["kind"].to_numpy(), t["type"].to_numpy()
    units, rollups = t["unit"].to_numpy(), t["kpi_rollup"].to_numpy()
    n_reported = t["periods_reported"].to_numpy()
    has_kpi = t["kpi_baseline"].notna().to_numpy()
    plain = ("plan_period", "plan_to_date", "plan_reported", "plan_unreported", "plan_total", "expected_total")
    min1 = ("actual_period", "actual_to_date", "variance_period", "variance_to_date")
    values = {c: t[c].to_numpy(dtype=float) for c in plain + min1}
    for g in range(int(codes.max()) + 1):
        idx = np.flatnonzero(codes == g)
        kind, typ = kinds[idx[0]], types[idx[0]]
        if pd.isna(typ):
            typ = np.nan  # the key groupby gives the blank group
        n_rep = n_reported[idx].sum()
        row: dict[str, Any] = {"kind": kind, "type": typ, "n_lines": len(idx)}
        for c in plain + min1:
            v = values[c][idx]
            nan = np.isnan(v)
            row[c] = math.nan if c in min1 and nan.all() else float(np.where(nan, 0.0, v).sum())
        row["realisation_pct"] = _ratio(row["actual_to_date"], row["plan_reported"]) if n_rep else math.nan
        row["performance_pct"] = 1 + _ratio(row["variance_to_date"], abs(row["plan_reported"])) if n_rep else math.nan
        rules = {kpi_rule(u, r) for u, r in zip(units[idx], rollups[idx], strict=True)}
        group_units = {None if _blank(u) else str(u).strip() for u in units[idx]}
        row.update(unit=None, kpi_rollup=None, kpi_baseline=math.nan, kpi_target=math.nan,
                   kpi_latest=math.nan, kpi_progress_pct=math.nan, kpi_note="")
        if kind == "benefit" and has_kpi[idx].any():
            if len(group_units) == 1 and None not in group_units and len(rules) == 1:
                grp = t.iloc[idx]
                rule = rules.pop()
                order = pd.Series(range(len(grp)), index=grp.index, dtype=float)
                row.update(unit=group_units.pop(), kpi_rollup=rule,
                           kpi_baseline=roll_up(grp["kpi_baseline"], rule, order),
                           kpi_target=roll_up(grp["kpi_target"], rule, order),
                           kpi_latest=roll_up(grp["kpi_latest"], rule, order))
                row["kpi_progress_pct"] = kpi_progress(row["kpi_baseline"], row["kpi_target"], row["kpi_latest"])
            else:
                row["kpi_note"] = "KPIs not combined: " + ("units differ" if len(group_units) != 1 or None in group_units
                                                           else "roll-up rules differ")
        row["rag"] = rag(row["performance_pct"], th)
        out.append(row)
    return pd.DataFrame(out)


def realisation_by_period(case: BusinessCase, as_of: object, view: str = "economic") -> pd.DataFrame:
    """Benefits and costs per period and cumulatively: original baseline, plan in force, actual, expected.

    Benefits are those counted in ``view`` (net of dis-benefits); this is the table behind the
    cumulative realisation curve (:func:`vmo_lib.outputs.charts.realisation_curve`).

    Returns
    -------
    pandas.DataFrame
        One row per period: ``period, t, reported`` (t <= as_of), and for ``benefit_`` and ``cost_``:
        ``original, plan, actual`` (NaN after as_of or where nothing was reported in the period),
        ``expected``; plus ``cum_`` versions of each (actual cumulated over reported periods only,
        NaN after as_of).

    Examples
    --------
    >>> from vmo_lib.model import make_case
    >>> c = make_case({"case_id": "X", "first_period": "2026Q1", "horizon": 3},
    ...               benefits=[{"line_id": "B1", "name": "S", "amounts": [10, 10, 10]}],
    ...               actuals=[{"period": "2026Q1", "line_id": "B1", "amount": 12}])
    >>> realisation_by_period(c, "2026Q1")["cum_benefit_expected"].tolist()
    [12.0, 22.0, 32.0]
    """
    g = _grid(case, as_of)
    expected, _, _ = _expected_matrix(g)
    _, ben_lines = _line_matrices(case, "baseline", view)
    in_view = np.isin(np.array(g.ids, dtype=object), ben_lines.index.to_numpy())
    out = pd.DataFrame({"period": case.periods, "t": np.arange(case.horizon), "reported": g.past})
    for kind, rows in (("benefit", (g.kind == "benefit") & in_view), ("cost", g.kind == "cost")):
        any_rep = g.reported[rows].any(axis=0)
        actual = np.where(g.past & any_rep, g.actual[rows].sum(axis=0), np.nan)
        cols = {"original": g.original[rows].sum(axis=0), "plan": g.plan[rows].sum(axis=0),
                "actual": actual, "expected": expected[rows].sum(axis=0)}
        for name, v in cols.items():
            out[f"{kind}_{name}"] = v
            cum = np.cumsum(np.nan_to_num(v))
            out[f"cum_{kind}_{name}"] = np.where(g.past, cum, np.nan) if name == "actual" else cum
    return out


# --------------------------------------------------------------------------------------------------
# outlook: value bridge, forward NPV, verdict
# --------------------------------------------------------------------------------------------------
@dataclass
class ValueBridge:
    """How the NPV moved from a reference baseline to the expected outlook.

    ``start + cost + benefit + timing == end`` exactly (to floating-point rounding).

    Definition, per line, in two steps from the reference profile ``b`` to the expected profile
    ``e`` (``PV`` at the case's discount factors, ``B``/``E`` undiscounted totals):

    1. **Slip.** ``s`` = first period with an amount in ``e`` minus that in ``b`` (0 if either is
       empty); ``b_s`` = ``b`` moved ``s`` periods (what is pushed past the horizon is lost to the
       slip). ``slip_i = PV(b_s) - PV(b)``.
    2. **Re-phasing and amount.** With ``PV/total`` as a profile's average discount factor::

           rephasing_i = B_s * (PV(e) / E - PV(b_s) / B_s)   # b_s's amounts moved to e's timing
           amount_i    = PV(e) - PV(b_s) - rephasing_i       # = (E - B_s) * PV(e) / E

       (no re-phasing when ``B_s`` or ``E`` is 0: the whole change is amount).

    ``timing_i = slip_i + rephasing_i``, so ``amount_i + timing_i = PV(e) - PV(b)`` exactly.
    ``cost`` = minus the amount effects of cost lines (an overrun is negative), ``benefit`` = the
    amount effects of benefit lines in the view (dis-benefits included), ``timing`` = all timing
    effects signed by their effect on NPV. Hence: a pure slip (same amounts, later, even when the
    tail falls past the horizon) is timing only; an overrun or shortfall that keeps the start
    period and the shape (every period scaled alike, or a one-period line) is cost or benefit only;
    a re-phasing that keeps the total is timing only.

    Attributes
    ----------
    reference : str
        Scenario the bridge starts from (``"baseline"`` or ``"rebaseline:<v>"``).
    start, cost, benefit, timing, end : float
        Reference NPV, the three effects and the expected NPV.
    by_line : pandas.DataFrame
        ``line_id, kind, type, reference_total, expected_total, pv_reference, pv_expected,
        amount_effect, timing_effect`` (effects signed by their effect on NPV).
    """

    reference: str
    start: float
    cost: float
    benefit: float
    timing: float
    end: float
    by_line: pd.DataFrame = field(repr=False)

    @property
    def components(self) -> dict[str, float]:
        """The named effects; their values sum to ``end - start``."""
        return {"cost": self.cost, "benefit": self.benefit, "timing": self.timing}

    def to_dict(self) -> dict[str, float]:
        """Just the components (what ``bridge`` holds in :meth:`CaseStatus.to_dict`)."""
        return dict(self.components)


def _first_amount(m: np.ndarray) -> np.ndarray:
    nz = np.abs(m) > _TINY
    return np.where(nz.any(axis=1), nz.argmax(axis=1), -1)


def _shift_rows(m: np.ndarray, s: np.ndarray) -> np.ndarray:
    """Each row moved ``s[i]`` periods later (earlier if negative); what leaves the horizon is lost."""
    out = np.zeros_like(m)
    h = m.shape[1]
    for i, k in enumerate(s):
        k = int(k)
        if k >= 0:
            out[i, k:] = m[i, :h - k] if k < h else 0.0
        else:
            out[i, :h + k] = m[i, -k:]
    return out


def _bridge_lines(ref: np.ndarray, exp: np.ndarray, df: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-row (amount effect, timing effect) in PV terms, before the cost/benefit sign."""
    fb, fe = _first_amount(ref), _first_amount(exp)
    shift = np.where((fb >= 0) & (fe >= 0), fe - fb, 0)
    slipped = _shift_rows(ref, shift)
    pv_b, pv_s, pv_e = ref @ df, slipped @ df, exp @ df
    s_tot, e_tot = slipped.sum(axis=1), exp.sum(axis=1)
    scale = np.maximum(np.maximum(np.abs(slipped).sum(axis=1), np.abs(exp).sum(axis=1)), 1.0)
    ok = (np.abs(s_tot) > _TINY * scale) & (np.abs(e_tot) > _TINY * scale)
    with np.errstate(all="ignore"):
        rephasing = np.where(ok, s_tot * (pv_e / np.where(ok, e_tot, 1.0) - pv_s / np.where(ok, s_tot, 1.0)), 0.0)
    timing = (pv_s - pv_b) + rephasing
    return (pv_e - pv_b) - timing, timing


def value_bridge(case: BusinessCase, as_of: object, reference: str = "baseline", view: str = "economic") -> ValueBridge:
    """Split ``expected NPV - reference NPV`` into cost, benefit and timing effects (exactly).

    Parameters
    ----------
    case : BusinessCase
    as_of : str
        Review period (defines the expected scenario, :func:`expected_flows`).
    reference : str
        Scenario to start from: ``"baseline"`` (the original, default) or ``case.current_baseline``.
    view : {"economic", "cash"}

    Returns
    -------
    ValueBridge
        See its docstring for the formula.

    Examples
    --------
    A benefit of 100 a year slips one year at 10 %: same amount, later, so timing only.

    >>> from vmo_lib.model import make_case
    >>> c = make_case({"case_id": "S", "first_period": "2026", "period_length": "year", "horizon": 3,
    ...                "discount_rate": 0.10},
    ...               benefits=[{"line_id": "B1", "name": "S", "amounts": [0, 100, 0]}],
    ...               actuals=[{"period": "2026", "line_id": "B1", "amount": 0},
    ...                        {"period": "2027", "line_id": "B1", "amount": 0}],
    ...               forecast=[{"period": "2028", "line_id": "B1", "amount": 100}])
    >>> b = value_bridge(c, "2027")
    >>> round(b.timing, 2), b.cost, round(b.benefit, 10)   # 100/1.21 - 100/1.1 = -8.26
    (-8.26, 0.0, 0.0)
    """
    ec = expected_case(case, as_of)
    df = _discount_factors(ec)
    rc, rb = _line_matrices(ec, reference, view)
    xc, xb = _line_matrices(ec, EXPECTED, view)
    c_amount, c_timing = _bridge_lines(rc.to_numpy(), xc.to_numpy(), df)
    b_amount, b_timing = _bridge_lines(rb.to_numpy(), xb.to_numpy(), df)
    lines = case.lines.set_index("line_id")
    by_line = pd.DataFrame({
        "line_id": list(rc.index) + list(rb.index),
        "kind": ["cost"] * len(rc) + ["benefit"] * len(rb),
        "type": list(lines["category"].reindex(rc.index)) + list(lines["benefit_type"].reindex(rb.index)),
        "reference_total": np.r_[rc.to_numpy().sum(axis=1), rb.to_numpy().sum(axis=1)],
        "expected_total": np.r_[xc.to_numpy().sum(axis=1), xb.to_numpy().sum(axis=1)],
        "pv_reference": np.r_[rc.to_numpy() @ df, rb.to_numpy() @ df],
        "pv_expected": np.r_[xc.to_numpy() @ df, xb.to_numpy() @ df],
        "amount_effect": np.r_[-c_amount, b_amount],
        "timing_effect": np.r_[-c_timing, b_timing],
    })
    return ValueBridge(
        reference=reference, start=_npv_of(ec, reference, view), cost=0.0 - float(c_amount.sum()),
        benefit=float(b_amount.sum()), timing=float(b_timing.sum() - c_timing.sum()) + 0.0,
        end=_npv_of(ec, EXPECTED, view), by_line=by_line,
    )


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
    return _forward(case, as_of, view)


def _forward(case: BusinessCase, as_of: object, view: str) -> float:
    start = max(_tau(case, as_of) + 1, 0)
    if start >= case.horizon:
        return 0.0
    net = _expected_net(case, as_of, view)
    df = _discount_factors(case)
    return float(net[start:] @ df[start:] / df[start])


def _expected_net(case: BusinessCase, as_of: object, view: str) -> np.ndarray:
    """``net_flows(expected_case(case, as_of), EXPECTED, view)``, the same operations on the same
    numbers, without building the expected case: the expected matrix straight from the grid."""
    def build() -> np.ndarray:
        g = _grid(case, as_of)
        amount = _expected_matrix(g)[0]
        amount = np.where(np.abs(amount) > 0, amount, 0.0)  # the expected case keeps non-zero amounts only
        costs, benefits = _line_matrices(case, "baseline", view)  # appraisal's rule: which lines count
        ids = pd.Index(g.ids)
        return amount[ids.isin(benefits.index)].sum(axis=0) - amount[ids.isin(costs.index)].sum(axis=0)
    return _memo(f"expected_net:{view}", case, as_of, build)


@dataclass
class Verdict:
    """The value verdict in words, with the rule that fired and the figures behind it.

    Attributes
    ----------
    label : str
        One of :data:`VERDICTS`.
    rule : str
        The rule that fired, in words.
    reference_npv, expected_npv, change : float
        ``change = expected_npv - reference_npv``.
    change_pct : float
        ``change`` as a share of the reference PV of costs (the scale of every threshold).
    """

    label: str
    rule: str
    reference_npv: float
    expected_npv: float
    change: float
    change_pct: float


def verdict(reference_npv: float, expected_npv: float, pv_costs: float,
            thresholds: Thresholds | None = None) -> Verdict:
    """Value created, on track, at risk or value destroyed, from stated thresholds.

    Rules, first match wins (``change = expected - reference``, scaled by the reference PV of costs;
    when that is 0 the scale is ``|reference NPV|``):

    1. **value destroyed**: the reference NPV is >= 0 and the expected NPV < 0 (the case now loses
       money it promised to make); or, for a case negative by design (reference NPV < 0, e.g.
       regulatory), which is never compared with zero, the shortfall exceeds ``value_destroyed``
       (25 %); or, if set, the shortfall exceeds ``value_destroyed_any``.
    2. **at risk**: the shortfall exceeds ``at_risk`` (5 %).
    3. **value created**: the gain exceeds ``value_created`` (5 %).
    4. **on track**: otherwise.

    Examples
    --------
    >>> [verdict(100, e, 1000).label for e in (200, 80, 0, -400)]
    ['value created', 'on track', 'at risk', 'value destroyed']
    >>> verdict(800, 100, 1000).label         # 70 % of PV costs lost, but still positive
    'at risk'
    >>> verdict(-500, -800, 1000).label       # mandatory case, 30 % worse than its negative baseline
    'value destroyed'
    >>> verdict(100, -1, 1000).label          # promised value, now negative
    'value destroyed'
    >>> verdict(-500, -520, 1000).label       # mandatory case, 2 % worse than its negative baseline
    'on track'
    """
    th = thresholds or Thresholds()
    change = float(expected_npv) - float(reference_npv)
    scale = float(pv_costs) if abs(pv_costs) > _TINY else abs(float(reference_npv))
    pct = change / scale if scale > _TINY else (0.0 if abs(change) <= _TINY else math.copysign(math.inf, change))
    if reference_npv >= 0 and expected_npv < 0:
        label, rule = "value destroyed", "expected NPV is negative although the baseline promised a positive NPV"
    elif reference_npv < 0 and pct < -th.value_destroyed:
        label, rule = "value destroyed", (f"negative-by-design case: expected NPV is more than "
                                          f"{th.value_destroyed:.0%} of PV costs below baseline")
    elif th.value_destroyed_any is not None and pct < -th.value_destroyed_any:
        label, rule = "value destroyed", (f"expected NPV is more than {th.value_destroyed_any:.0%} "
                                          "of PV costs below baseline")
    elif pct < -th.at_risk:
        label, rule = "at risk", f"expected NPV is more than {th.at_risk:.0%} of PV costs below baseline"
    elif pct > th.value_created:
        label, rule = "value created", f"expected NPV is more than {th.value_created:.0%} of PV costs above baseline"
    else:
        label, rule = "on track", (f"expected NPV within −{th.at_risk:.0%} / +{th.value_created:.0%} "
                                   "of PV costs of baseline")
    return Verdict(label, rule, float(reference_npv), float(expected_npv), change, pct)


# --------------------------------------------------------------------------------------------------
# measurement readiness
# --------------------------------------------------------------------------------------------------
def measurement_gaps(case: BusinessCase, as_of: object, thresholds: Thresholds | None = None) -> pd.DataFrame:
    """What is not being measured: the benefits-realisation readiness list.

    Rules (codes in :data:`GAP_RULES`): a benefit with no owner, no baseline measurement (value or
    date), no target value, no target date, no measurement frequency; a benefit due (its plan has
    started, or go-live has passed for a KPI-only benefit) whose KPI was never measured; a benefit
    with no actual reported for longer than its measurement frequency
    (:data:`vmo_lib.schema.PERIODS_PER_FREQUENCY` periods, plus ``overdue_grace``), counted from its
    last report or, if never reported, from the period it fell due; and any line (cost or benefit)
    with reported periods that had something due but no actual (the outlook estimates them).

    Returns
    -------
    pandas.DataFrame
        ``line_id, kind, name, owner, row`` (workbook row of the line, if known), ``gap`` (code),
        ``detail``, ``periods`` (comma-separated labels, where relevant).

    Examples
    --------
    >>> from vmo_lib.model import make_case
    >>> c = make_case({"case_id": "X", "first_period": "2026Q1", "horizon": 4},
    ...               benefits=[{"line_id": "B1", "name": "S", "owner": "Ops", "frequency": "quarterly",
    ...                          "baseline_value": 1, "baseline_date": "2025-12-01", "target_value": 2,
    ...                          "target_date": "2027-01-01", "amounts": [10, 10, 10, 10]}],
    ...               actuals=[{"period": "2026Q1", "line_id": "B1", "amount": 10, "kpi_value": 1.2}])
    >>> measurement_gaps(c, "2026Q3")[["gap", "periods"]].values.tolist()
    [['overdue', '2026Q2, 2026Q3'], ['unreported periods', '2026Q2, 2026Q3']]
    """
    th = thresholds or Thresholds()
    g = _grid(case, as_of)
    attrs = _line_attrs(case, g.ids)
    periods = case.periods
    kpi = _latest_kpi(case, g.tau)
    per_freq = schema.PERIODS_PER_FREQUENCY.get(case.period_length, {})
    go_live = case.go_live_t
    f = case.flows
    kpi_rows = f[(f["scenario"] == "actual") & f["kpi_value"].notna() & (f["t"] <= g.tau)]
    kpi_ts_of = {lid: grp.to_numpy() for lid, grp in kpi_rows.groupby("line_id", sort=False)["t"]}
    no_ts = np.empty(0, dtype=np.int64)
    out: list[dict[str, Any]] = []
    last_t = min(g.tau, case.horizon - 1)

    def add(i: int, gap: str, detail: str, ts: list[int] | None = None) -> None:
        ln = attrs[i]
        out.append({"line_id": g.ids[i], "kind": g.kind[i], "name": ln.get("name"),
                    "owner": None if _blank(ln.get("owner")) else ln.get("owner"),
                    "row": None if _blank(ln.get("row")) else int(ln.get("row")),
                    "gap": gap, "detail": detail,
                    "periods": ", ".join(periods[t] for t in ts) if ts else ""})

    for i, lid in enumerate(g.ids):
        ln = attrs[i]
        reported_ts = np.flatnonzero(g.reported[i])
        due_ts = np.flatnonzero(g.past & ~g.reported[i] & ((np.abs(g.plan[i]) > _TINY)
                                                          | (g.has_forecast[i] & (np.abs(g.forecast[i]) > _TINY))))
        if g.kind[i] == "benefit":
            if _blank(ln.get("owner")):
                add(i, "no owner", GAP_RULES["no owner"])
            if _blank(ln.get("baseline_value")) or _blank(ln.get("baseline_date")):
                add(i, "no baseline measurement", GAP_RULES["no baseline measurement"])
            if _blank(ln.get("target_value")):
                add(i, "no target", GAP_RULES["no target"])
            if _blank(ln.get("target_date")):
                add(i, "no target date", GAP_RULES["no target date"])
            freq = None if _blank(ln.get("frequency")) else str(ln.get("frequency"))
            if freq is None:
                add(i, "no measurement frequency", GAP_RULES["no measurement frequency"])
            allowed = per_freq.get(freq or "quarterly", 1) + th.overdue_grace
            nz = np.flatnonzero(np.abs(g.plan[i]) > _TINY)
            due_from = int(nz[0]) if len(nz) else (go_live if go_live is not None else 0)
            if due_from <= g.tau and case.horizon > 0:
                has_kpi = lid in kpi.index
                if not has_kpi and not _blank(ln.get("kpi")):
                    add(i, "no KPI measurement", f"due since {periods[min(due_from, last_t)]}, KPI never measured")
                kpi_ts = kpi_ts_of.get(lid, no_ts)
                all_rep = np.union1d(reported_ts, kpi_ts)
                last = int(all_rep.max()) if len(all_rep) else due_from - 1
                gap_len = last_t - last      # nothing is due after the horizon ends
                if gap_len > allowed:
                    ts = list(range(max(last + 1, 0), last_t + 1))
                    add(i, "overdue", f"no actual for {gap_len} period(s); {freq or 'quarterly'} measurement allows "
                                      f"{allowed}", ts)
        if len(due_ts):
            add(i, "unreported periods", GAP_RULES["unreported periods"], list(due_ts))
    cols = ["line_id", "kind", "name", "owner", "row", "gap", "detail", "periods"]
    return pd.DataFrame(out, columns=cols)


# --------------------------------------------------------------------------------------------------
# the decision
# --------------------------------------------------------------------------------------------------
def decide(status: CaseStatus, case_status_field: str = "", case_type: str = "") -> tuple[str, str]:
    """The one decision rule (module notes): ``(decision, reason)`` for a case's review.

    Parameters
    ----------
    status : CaseStatus
        The realisation status at the review date.
    case_status_field : str
        The case's lifecycle status (``proposed``, ``approved``, ``in delivery``, ``live``,
        ``closed``, ``cancelled``).
    case_type : str
        ``Regulatory/mandatory`` cases are never "stop" on a negative forward NPV (they must be done).

    Examples
    --------
    >>> from vmo_lib.model import make_case
    >>> from vmo_lib.analysis.realisation import case_status
    >>> case = make_case({"case_id": "X", "first_period": "2026Q1", "horizon": 3, "discount_rate": 0.0},
    ...     costs=[{"line_id": "C1", "name": "Build", "amounts": [100, 50, 0]}],
    ...     benefits=[{"line_id": "B1", "name": "Savings", "amounts": [0, 100, 100]}],
    ...     actuals=[{"period": "2026Q1", "line_id": "C1", "amount": 100}])
    >>> decide(case_status(case, "2026Q1"), "in delivery")
    ('continue', 'on track: expected NPV £50 against £50 in force; forward NPV £150')
    >>> decide(case_status(case, "2026Q1"), "cancelled")[0]
    'closed'
    """
    lifecycle = (case_status_field or "").strip().lower()
    cur = status.currency or "GBP"

    def m(x: float) -> str:
        return format_money(x, cur, compact=True)

    v = status.verdict
    against = f"expected NPV {m(status.expected_npv)} against {m(v.reference_npv)} in force"
    fwd = status.forward_npv
    remaining = status.continue_signal != "complete"
    if lifecycle in _ENDED:
        return "closed", f"{lifecycle}: nothing remains to decide; final expected NPV {m(status.expected_npv)}"
    if lifecycle == "proposed":
        return "not started", f"proposed: awaiting its investment decision (NPV {m(status.current_baseline_npv)} as proposed)"
    mandatory = case_type == _MANDATORY
    if remaining and not math.isnan(fwd) and fwd < 0 and not mandatory:
        return "stop", f"forward NPV {m(fwd)}: what remains costs more than it returns, whatever was spent"
    if v.label == "value destroyed":
        return "re-plan", f"value destroyed: {against}; what remains still returns {m(fwd)}"
    if v.label == "at risk" or status.rag == "red":
        why = v.label if v.label == "at risk" else f"rated red ({status.rag_reason})"
        return "recover", f"{why}: {against}; a recovery plan is due"
    tail = f"; forward NPV {m(fwd)}" if remaining else "; nothing remains in the horizon"
    if mandatory and remaining and fwd < 0:
        tail = f"; regulatory/mandatory, so it continues although what remains costs {m(-fwd)} net"
    return "continue", f"{v.label}: {against}{tail}"


# --------------------------------------------------------------------------------------------------
# one object for a review pack
# --------------------------------------------------------------------------------------------------
@dataclass
class CaseStatus:
    """Everything a review pack needs about one case as of a review period.

    Headline numbers are in the case currency, NPVs discounted to period 0 except ``forward_npv``
    (discounted to ``forward_discounted_to``, the first period after ``as_of``). Percentages are
    fractions (0.95 = 95 %).

    Attributes
    ----------
    case_id, title, as_of, view, currency : str
    baseline_in_force : str
        ``case.current_baseline``.
    baseline_npv, current_baseline_npv, expected_npv, forward_npv : float
        Original baseline, baseline in force (equal when never re-baselined), expected (actuals then
        forecast), forward-looking NPV of what remains.
    continue_signal : str
        ``"continue"`` (forward NPV >= 0), ``"rethink"`` (< 0: what remains costs more than it
        returns, whatever was spent) or ``"complete"`` (nothing remains in the horizon).
    verdict : Verdict
        Against the baseline in force. ``verdict_vs_original`` against the original baseline.
    rag, rag_reason : str
        Case RAG: red if the verdict is "value destroyed" or benefit or cost performance to date is
        below ``amber``; amber if "at risk" or either is below ``green``; grey if nothing was due and
        nothing reported; else green.
    realisation_pct, cost_spend_pct : float
        Benefits (in the view) actual ÷ plan to date, and cost actual ÷ plan to date (like-for-like).
    bridge, bridge_current : ValueBridge
        From the original baseline, and from the baseline in force (None if never re-baselined).
    benefits, costs : pandas.DataFrame
        :func:`realisation_by_line` rows.
    by_type, by_period, gaps, expected : pandas.DataFrame
        :func:`realisation_by_type`, :func:`realisation_by_period`, :func:`measurement_gaps`,
        :func:`expected_flows`.
    thresholds : Thresholds
    """

    case_id: str
    title: str
    as_of: str
    view: str
    currency: str
    baseline_in_force: str
    baseline_npv: float
    current_baseline_npv: float
    expected_npv: float
    forward_npv: float
    forward_discounted_to: str | None
    continue_signal: str
    verdict: Verdict
    verdict_vs_original: Verdict
    rag: str
    rag_reason: str
    realisation_pct: float
    cost_spend_pct: float
    totals: dict[str, float]
    bridge: ValueBridge
    bridge_current: ValueBridge | None
    benefits: pd.DataFrame = field(repr=False)
    costs: pd.DataFrame = field(repr=False)
    by_type: pd.DataFrame = field(repr=False)
    by_period: pd.DataFrame = field(repr=False)
    gaps: pd.DataFrame = field(repr=False)
    expected: pd.DataFrame = field(repr=False)
    thresholds: Thresholds = field(default_factory=Thresholds)
    decision: str = ""
    decision_reason: str = ""

    @property
    def verdict_sentence(self) -> str:
        """The verdict in one sentence, with the figures behind it (amounts in the case currency)."""

        def money(x: float, sign: bool = False) -> str:
            text = format_money(x, self.currency, compact=True)
            return "+" + text if sign and x > 0 and text != format_money(0, self.currency, compact=True) else text

        v = self.verdict
        b = self.bridge_current or self.bridge
        ref = "the baseline" if self.bridge_current is None else f"the re-baseline ({self.baseline_in_force})"
        s = (f"{v.label.capitalize()}: expected NPV {money(self.expected_npv)} against "
             f"{money(v.reference_npv)} for {ref} ({money(v.change, True)}: "
             f"cost {money(b.cost, True)}, benefit {money(b.benefit, True)}, timing {money(b.timing, True)}).")
        if self.bridge_current is not None:
            s += f" Against the original baseline ({money(self.baseline_npv)}): {self.verdict_vs_original.label}."
        if self.totals.get("benefit_actual_to_date") is None or math.isnan(self.totals["benefit_actual_to_date"]):
            s += " No benefit actuals reported yet."
        if self.continue_signal != "complete":
            s += f" Forward NPV of what remains {money(self.forward_npv)}."
        if self.decision:
            s += f" Decision: {self.decision} ({self.decision_reason})."
        return s

    def to_dict(self) -> dict[str, Any]:
        """Plain data with the stable keys :data:`STATUS_KEYS` (the JSON of ``vmo status --json``).

        ``bridge`` holds only ``cost``, ``benefit`` and ``timing``, which sum to
        ``expected_npv - baseline_npv``; ``bridge_current`` the same from the baseline in force
        (null when never re-baselined). ``benefits``/``costs``/``gaps`` are lists of row objects.
        Percentages are fractions; NaN becomes null in the CLI's JSON.
        """
        d = {
            "case_id": self.case_id, "title": self.title, "as_of": self.as_of, "view": self.view,
            "currency": self.currency, "baseline_in_force": self.baseline_in_force,
            "baseline_npv": self.baseline_npv, "current_baseline_npv": self.current_baseline_npv,
            "expected_npv": self.expected_npv, "npv_change": self.verdict.change,
            "npv_change_pct_of_cost": self.verdict.change_pct, "forward_npv": self.forward_npv,
            "forward_discounted_to": self.forward_discounted_to, "continue_signal": self.continue_signal,
            "decision": self.decision, "decision_reason": self.decision_reason,
            "verdict": self.verdict.label, "verdict_sentence": self.verdict_sentence,
            "verdict_rule": self.verdict.rule, "verdict_vs_original": self.verdict_vs_original.label,
            "rag": self.rag, "rag_reason": self.rag_reason, "realisation_pct": self.realisation_pct,
            **self.totals, "cost_spend_pct": self.cost_spend_pct,
            "bridge": self.bridge.to_dict(),
            "bridge_current": None if self.bridge_current is None else self.bridge_current.to_dict(),
            "variance_note": VARIANCE_NOTE, "thresholds": asdict(self.thresholds),
            "benefits": _records(self.benefits), "costs": _records(self.costs), "gaps": _records(self.gaps),
        }
        return {k: d[k] for k in STATUS_KEYS}


def _records(df: pd.DataFrame) -> list[dict[str, Any]]:
    return [{k: (None if _blank(v) else (v.item() if hasattr(v, "item") else v)) for k, v in r.items()}
            for r in df.to_dict(orient="records")]


def case_status(case: BusinessCase, as_of: object, thresholds: Thresholds | None = None,
                view: str = "economic") -> CaseStatus:
    """The status of one case as of a review period: realisation, outlook, verdict, RAG and gaps.

    Parameters
    ----------
    case : BusinessCase
    as_of : str
        Review period label (``"2026Q3"``).
    thresholds : Thresholds, optional
        Verdict and RAG rules (defaults documented on :class:`Thresholds`).
    view : {"economic", "cash"}
        Which benefits the NPVs and the case realisation % count (:mod:`vmo_lib.analysis.appraisal`).

    Returns
    -------
    CaseStatus

    Examples
    --------
    Costs overrun by 10 and benefits arrive as planned (no discounting): cost effect −10.

    >>> from vmo_lib.model import make_case
    >>> case = make_case({"case_id": "X", "first_period": "2026Q1", "horizon": 3, "discount_rate": 0.0},
    ...     costs=[{"line_id": "C1", "name": "Build", "amounts": [100, 0, 0]}],
    ...     benefits=[{"line_id": "B1", "name": "Savings", "amounts": [0, 100, 100]}],
    ...     actuals=[{"period": "2026Q1", "line_id": "C1", "amount": 110},
    ...              {"period": "2026Q2", "line_id": "B1", "amount": 100}])
    >>> s = case_status(case, "2026Q2")
    >>> s.baseline_npv, s.expected_npv, s.bridge.components, s.verdict.label, s.forward_npv
    (100.0, 90.0, {'cost': -10.0, 'benefit': 0.0, 'timing': 0.0}, 'at risk', 100.0)
    """
    case = case.as_known_at(period_end_date(review_period(case, as_of), case.period_length))
    with shared_work():
        return _case_status(case, as_of, thresholds, view)


def _case_status(case: BusinessCase, as_of: object, thresholds: Thresholds | None, view: str) -> CaseStatus:
    th = thresholds or Thresholds()
    tau = _tau(case, as_of)
    label = _label(case, as_of)
    ec = expected_case(case, as_of)
    current = case.current_baseline
    base_npv = _npv_of(ec, "baseline", view)
    cur_npv = _npv_of(ec, current, view) if current != "baseline" else base_npv
    bridge = value_bridge(case, as_of, "baseline", view)
    bridge_cur = value_bridge(case, as_of, current, view) if current != "baseline" else None
    exp_npv = bridge.end
    fwd = _forward(case, as_of, view)
    remaining = max(tau + 1, 0) < case.horizon
    df = _discount_factors(ec)
    pv_cost = {s: float(_line_matrices(ec, s, view)[0].to_numpy().sum(axis=0) @ df) for s in {"baseline", current}}
    v_cur = verdict(cur_npv, exp_npv, pv_cost[current], th)
    v_orig = verdict(base_npv, exp_npv, pv_cost["baseline"], th)
    if str(case.meta.get("status") or "").strip().lower() == "proposed":  # nothing approved yet to judge
        v_cur = v_orig = Verdict("not started", "a proposed case: awaiting its investment decision", cur_npv,
                                 exp_npv, exp_npv - cur_npv, 0.0)

    lines = realisation_by_line(case, as_of, th)
    benefits = lines[lines["kind"] == "benefit"].reset_index(drop=True)
    costs = lines[lines["kind"] == "cost"].reset_index(drop=True)
    _, in_view = _line_matrices(case, "baseline", view)
    bv_all = benefits[benefits["line_id"].isin(in_view.index)]
    # Realisation is gross: benefits on their own, dis-benefits on their own line (never one netted ratio).
    is_dis = bv_all["type"].to_numpy() == "dis-benefit"
    bv, dis = bv_all[~is_dis], bv_all[is_dis]

    def totals(t: pd.DataFrame, kind: str) -> dict[str, float]:
        rep = t["periods_reported"].sum() > 0
        plan = float(t["plan_reported"].sum())
        actual = float(t["actual_to_date"].sum(min_count=1)) if rep else math.nan
        var = float(t["variance_to_date"].sum(min_count=1)) if rep else math.nan
        return {f"{kind}_plan_to_date": plan, f"{kind}_actual_to_date": actual, f"{kind}_variance_to_date": var}

    tot = {**totals(bv, "benefit"), **totals(dis, "disbenefit"), **totals(costs, "cost")}
    real_pct = _ratio(tot["benefit_actual_to_date"], tot["benefit_plan_to_date"])
    spend_pct = _ratio(tot["cost_actual_to_date"], tot["cost_plan_to_date"])
    ben_perf = 1 + _ratio(tot["benefit_variance_to_date"], abs(tot["benefit_plan_to_date"]))
    cost_perf = 1 + _ratio(tot["cost_variance_to_date"], abs(tot["cost_plan_to_date"]))
    colour, reason = _case_rag(v_cur, {"benefits": (real_pct, ben_perf), "spend": (spend_pct, cost_perf)}, th)
    if v_cur.label == "not started":
        colour, reason = "grey", "not started: a proposed case, awaiting its investment decision"

    st = CaseStatus(
        case_id=case.case_id, title=case.title, as_of=label, view=view,
        currency=str(case.meta.get("currency") or ""), baseline_in_force=current,
        baseline_npv=base_npv, current_baseline_npv=cur_npv, expected_npv=exp_npv, forward_npv=fwd,
        forward_discounted_to=case.periods[max(tau + 1, 0)] if remaining else None,
        continue_signal=("continue" if fwd >= 0 else "rethink") if remaining else "complete",
        verdict=v_cur, verdict_vs_original=v_orig, rag=colour, rag_reason=reason,
        realisation_pct=real_pct, cost_spend_pct=spend_pct, totals=tot,
        bridge=bridge, bridge_current=bridge_cur, benefits=benefits, costs=costs,
        by_type=realisation_by_type(case, as_of, th, lines=lines),
        by_period=realisation_by_period(case, as_of, view), gaps=measurement_gaps(case, as_of, th),
        expected=expected_flows(case, as_of), thresholds=th,
    )
    st.decision, st.decision_reason = decide(st, str(case.meta.get("status") or ""),
                                             str(case.meta.get("case_type") or ""))
    return st


def _case_rag(v: Verdict, ratios: dict[str, tuple[float, float]], th: Thresholds) -> tuple[str, str]:
    """Case RAG from the verdict and the (ratio, performance) of benefits and spend to date."""
    colours = {k: rag(perf, th) for k, (_, perf) in ratios.items()}
    detail = ", ".join(f"{k} {r:.0%} of plan" for k, (r, _) in ratios.items() if not math.isnan(r))
    text = f"{v.label}; {detail}" if detail else v.label
    if v.label == "value destroyed" or "red" in colours.values():
        return "red", text
    if v.label == "at risk" or "amber" in colours.values():
        return "amber", text
    if all(c == "grey" for c in colours.values()):
        return "grey", f"{v.label}; nothing reported yet"
    return "green", text
