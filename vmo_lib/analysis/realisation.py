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

The family is split by concept; this module keeps realisation by line, benefit, type and period, the
measurement gaps, KPI progress and the :class:`CaseStatus` that ties them together:

* :mod:`vmo_lib.analysis.outlook`: the review period, the expected outlook and the forward NPV;
* :mod:`vmo_lib.analysis.bridge`: the value bridge;
* :mod:`vmo_lib.analysis.verdict`: thresholds, RAG rules, the verdict and the decision.

Every public name that this module offered before the split is still importable from it.

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

import datetime as _dt
import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from vmo_lib import schema
from vmo_lib.analysis.bridge import ValueBridge, value_bridge
from vmo_lib.analysis.evidence import EvidenceReview, evidence_review, line_attributes, plain_records
from vmo_lib.analysis.outlook import (
    EXPECTED,
    expected_case,
    expected_flows,
    expected_matrix,
    forward_npv,
    grid,
    known_at,
    memo,
    review_offset,
    review_period,
    shared_discount_factors,
    shared_line_matrices,
    shared_net_flows,
    shared_npv,
    shared_work,
)
from vmo_lib.analysis.verdict import (
    DECISIONS,
    RAG_LABELS,
    VERDICTS,
    Thresholds,
    Verdict,
    decide,
    rag,
    verdict,
)
from vmo_lib.formatting import format_money, is_missing
from vmo_lib.model import BusinessCase, as_date
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
    "known_at",
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

# Re-exported from the modules the family was split into (see the module notes), so that every
# importer of this module keeps working: EXPECTED, expected_case, expected_flows, forward_npv, known_at,
# review_period, shared_work (outlook); ValueBridge, value_bridge (bridge); DECISIONS, RAG_LABELS,
# VERDICTS, Thresholds, Verdict, decide, rag, verdict (verdict). The shared NPV and net flows under their
# former private names, which tests/test_realisation.py compares with appraisal's:
_npv_of = shared_npv
_net_flows = shared_net_flows

#: The sign convention, stated wherever a variance is shown.
VARIANCE_NOTE = "Variance: positive = better than plan (benefits: actual − plan; costs: plan − actual)."
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
# small helpers
# --------------------------------------------------------------------------------------------------
def _ratio(num: float, den: float) -> float:
    return float(num) / float(den) if abs(den) > _TINY else math.nan


def _blank(v: Any) -> bool:
    """Missing by the one rule (:func:`vmo_lib.formatting.is_missing`: None, NaN, ``pd.NA``, ``NaT``) or
    blank text. Not ``is_missing`` alone: a workbook field holding ``""`` or only spaces means "not given"
    here (no owner, no KPI...), and ``is_missing`` counts a string as a value. The same answers as this
    helper gave before for every value the line attributes and status tables hold (scalars)."""
    return is_missing(v) or (isinstance(v, str) and not v.strip())


def _number(v: Any) -> float:
    try:
        return math.nan if _blank(v) else float(v)
    except (TypeError, ValueError):
        return math.nan


def _line_attrs(case: BusinessCase, ids: list[str]) -> list[dict[str, Any]]:
    """One dict of ``case.lines`` attributes per line id (what ``lines.loc[line_id]`` holds), once per call."""
    return line_attributes(case, ids)


# --------------------------------------------------------------------------------------------------
# realisation tables
# --------------------------------------------------------------------------------------------------
def _latest_kpi(case: BusinessCase, tau: int) -> dict[Any, tuple[float, Any]]:
    """The last measured KPI value of each line up to ``tau`` and its period (by line id), once per call."""
    return memo("latest_kpi", case, tau, lambda: _build_latest_kpi(case, tau))


def _build_latest_kpi(case: BusinessCase, tau: int) -> dict[Any, tuple[float, Any]]:
    f = case.flows
    kv = f["kpi_value"].to_numpy(dtype=float)
    t = f["t"].to_numpy()
    idx = np.flatnonzero((f["scenario"].to_numpy() == "actual") & (t <= tau) & ~np.isnan(kv))
    if not len(idx):
        return {}
    order = idx[np.argsort(t[idx], kind="stable")]
    lids = f["line_id"].to_numpy()[order]
    last: dict[Any, int] = {}
    for k, lid in enumerate(lids):  # the latest row of each line (by t, then row order) wins
        if not pd.isna(lid):  # groupby drops blank keys
            last[lid] = k
    pick = order[sorted(last.values())]
    return dict(zip(f["line_id"].to_numpy()[pick].tolist(),
                    zip(kv[pick].tolist(), f["period"].to_numpy()[pick].tolist(), strict=True), strict=True))


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


def _planned_kpi_progress(baseline_date: Any, target_date: Any, as_of_end: _dt.date,
                          go_live_end: _dt.date | None = None) -> float:
    """Share of the way to target planned at the review date when no KPI trajectory is given: a straight
    line from go-live (the end of the go-live period: the actual one when recorded, else the planned one)
    to the target date; from the baseline measurement when go-live is unknown or not before the target
    date (or before the baseline measurement)."""
    try:
        b, t = as_date(baseline_date), as_date(target_date)
    except (TypeError, ValueError):
        return math.nan
    if go_live_end is not None and t is not None and go_live_end < t and (b is None or go_live_end > b):
        b = go_live_end
    if b is None or t is None or t <= b:
        return math.nan
    return min(max((as_of_end - b).days / (t - b).days, 0.0), 1.0)


def _go_live_end(case: BusinessCase) -> _dt.date | None:
    """End date of the go-live period: the actual go-live when recorded, else the planned one."""
    gl = case.meta.get("actual_go_live")
    if _blank(gl):
        gl = case.meta.get("go_live_period")
    if _blank(gl):
        return None
    try:
        return period_end_date(str(gl), case.period_length)
    except (TypeError, ValueError):
        return None


def _planned_kpi(case: BusinessCase, tau: int) -> dict[Any, tuple[float, str]]:
    """The planned KPI trajectory (scenario ``"kpi plan"``): per benefit, the planned value of the latest
    planned period at or before ``tau`` and that period, or NaN and "" when none is planned yet."""
    f = case.flows
    is_plan = f["scenario"].to_numpy() == "kpi plan"
    if not is_plan.any():  # most cases have no KPI plan: no frame filtered
        return {}
    plan = f[is_plan]
    out: dict[Any, tuple[float, str]] = {}
    for lid, grp in plan.groupby("line_id", sort=False):
        g = grp[grp["kpi_value"].notna()].sort_values("t", kind="stable")
        upto = g[g["t"] <= tau]
        out[lid] = ((float(upto["kpi_value"].iloc[-1]), str(upto["period"].iloc[-1])) if len(upto)
                    else (math.nan, ""))
    return out


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
        kpi_latest_period, kpi_progress_pct, kpi_planned_progress_pct``; ``rag, rag_reason``;
        ``kpi_planned`` (the KPI planned for the review period) and ``kpi_planned_basis`` (the KPI plan
        sheet's trajectory, else a straight line from go-live to the target date). A benefit whose KPI
        moved away from its target is red, whatever the money says.
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
    g = grid(case, as_of)
    expected, _, _ = expected_matrix(g)
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

    # each line's latest KPI looked up by id (a line never measured gets NaN and no period)
    kpi = _latest_kpi(case, tau)
    kpi_latest = [kpi[lid][0] if lid in kpi else math.nan for lid in g.ids]
    kpi_period = [kpi[lid][1] if lid in kpi else None for lid in g.ids]
    as_of_end = period_end_date(review_period(case, as_of), case.period_length)
    attrs = _line_attrs(case, g.ids)
    go_live_end = _go_live_end(case)
    trajectory = _planned_kpi(case, tau)
    plan_unreported = (g.plan * due).sum(axis=1)
    n_due = due.sum(axis=1)
    plan_total, original_total, expected_total = g.plan.sum(axis=1), g.original.sum(axis=1), expected.sum(axis=1)
    rows = []
    for i, lid in enumerate(g.ids):
        ln = attrs[i]
        kb, kt = _number(ln.get("baseline_value")), _number(ln.get("target_value"))
        latest = _number(kpi_latest[i])
        progress = kpi_progress(kb, kt, latest) if g.kind[i] == "benefit" else math.nan
        planned_kpi, planned_basis = math.nan, ""
        if g.kind[i] != "benefit":
            planned_progress = math.nan
        elif lid in trajectory:  # the KPI plan replaces the straight line
            planned_kpi = trajectory[lid][0]
            planned_progress = kpi_progress(kb, kt, planned_kpi) if not math.isnan(planned_kpi) else 0.0
            planned_basis = f"KPI plan ({trajectory[lid][1]})" if trajectory[lid][1] else "KPI plan (not started)"
        else:
            planned_progress = _planned_kpi_progress(ln.get("baseline_date"), ln.get("target_date"), as_of_end,
                                                     go_live_end)
            planned_basis = "straight line from go-live to the target date"
            if not math.isnan(planned_progress) and not math.isnan(kb) and not math.isnan(kt):
                planned_kpi = kb + planned_progress * (kt - kb)
        colour, reason = _line_rag(performance[i], realisation[i], bool(is_cost[i]), n_rep[i], plan_to_date[i],
                                   g.plan[i], progress, planned_progress, th)
        if g.kind[i] == "benefit" and not math.isnan(progress) and progress < 0:
            # a KPI moving away from its target: red, whatever the money says
            colour, reason = "red", (f"KPI moved the wrong way ({progress:.0%} of the way to target, measured "
                                     f"{latest:g} against baseline {kb:g}), whatever the money says; " + reason)
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
            "kpi_latest_period": None if _blank(kpi_period[i]) else kpi_period[i],
            "kpi_progress_pct": progress, "kpi_planned_progress_pct": planned_progress,
            "kpi_rollup": None if _blank(ln.get("kpi_rollup")) else ln.get("kpi_rollup"),
            "rag": colour, "rag_reason": reason,
            "kpi_planned": planned_kpi, "kpi_planned_basis": planned_basis or None,
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
    """Roll KPI values up by ``rule`` (``sum``, ``mean``, ``max``, ``min`` or ``latest``), ignoring NaN.

    ``latest`` takes the value with the highest ``order`` when one is given, else the last value.
    NaN when nothing is left to roll up.

    Examples
    --------
    >>> roll_up(pd.Series([1.0, float("nan"), 3.0]), "mean")
    2.0
    """
    v = values.astype(float)
    if rule == "latest" and order is not None:
        ok = v.notna() & order.notna()
        return float(v[ok].iloc[int(np.argmax(order[ok].to_numpy()))]) if ok.any() else math.nan
    v = v.dropna()
    if v.empty:
        return math.nan
    return float({"sum": v.sum, "mean": v.mean, "max": v.max, "min": v.min, "latest": lambda: v.iloc[-1]}[rule]())


def _roll_up_array(v: np.ndarray, rule: str) -> float:
    """:func:`roll_up` of a float array in row order (``latest`` = the last non-NaN value), with the
    same operations pandas performs (NaN dropped, then numpy's sum, sum / count, max or min)."""
    v = v[~np.isnan(v)]
    if rule == "latest":
        return float(v[-1]) if len(v) else math.nan
    if not len(v):
        return math.nan
    return float({"sum": v.sum, "mean": lambda: v.sum() / float(len(v)), "max": v.max, "min": v.min}[rule]())


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
    # appearance, blanks together), found with a dict; sums on plain arrays (pandas sums NaN-as-0 the
    # same way) and KPI roll-ups on arrays (:func:`_roll_up_array`, the same results as :func:`roll_up`).
    kinds, types = t["kind"].to_numpy(), t["type"].to_numpy()
    kind_na, type_na = pd.isna(kinds), pd.isna(types)
    members: dict[tuple[Any, Any], list[int]] = {}
    for k, (kd, ty, kn, tn) in enumerate(zip(kinds.tolist(), types.tolist(), kind_na.tolist(), type_na.tolist(),
                                             strict=True)):
        members.setdefault((None if kn else kd, None if tn else ty), []).append(k)
    units, rollups = t["unit"].to_numpy(), t["kpi_rollup"].to_numpy()
    n_reported = t["periods_reported"].to_numpy()
    has_kpi = t["kpi_baseline"].notna().to_numpy()
    plain = ("plan_period", "plan_to_date", "plan_reported", "plan_unreported", "plan_total", "expected_total")
    min1 = ("actual_period", "actual_to_date", "variance_period", "variance_to_date")
    values = {c: t[c].to_numpy(dtype=float) for c in plain + min1}
    kpi_values = {c: t[c].to_numpy(dtype=float) for c in ("kpi_baseline", "kpi_target", "kpi_latest")}
    for rows_of_group in members.values():
        idx = np.array(rows_of_group, dtype=np.intp)
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
                rule = rules.pop()
                row.update(unit=group_units.pop(), kpi_rollup=rule,
                           **{c: _roll_up_array(v[idx], rule) for c, v in kpi_values.items()})
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
    g = grid(case, as_of)
    expected, _, _ = expected_matrix(g)
    _, ben_lines = shared_line_matrices(case, "baseline", view)
    counted = set(ben_lines.index.tolist())
    in_view = np.array([lid in counted for lid in g.ids], dtype=bool)
    # the columns gathered first and the frame made once (inserting them one by one cost ~1 ms)
    out: dict[str, Any] = {"period": case.periods, "t": np.arange(case.horizon), "reported": g.past}
    for kind, rows in (("benefit", (g.kind == "benefit") & in_view), ("cost", g.kind == "cost")):
        any_rep = g.reported[rows].any(axis=0)
        actual = np.where(g.past & any_rep, g.actual[rows].sum(axis=0), np.nan)
        cols = {"original": g.original[rows].sum(axis=0), "plan": g.plan[rows].sum(axis=0),
                "actual": actual, "expected": expected[rows].sum(axis=0)}
        for name, v in cols.items():
            out[f"{kind}_{name}"] = v
            cum = np.cumsum(np.nan_to_num(v))
            out[f"cum_{kind}_{name}"] = np.where(g.past, cum, np.nan) if name == "actual" else cum
    return pd.DataFrame(out)


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
    g = grid(case, as_of)
    attrs = _line_attrs(case, g.ids)
    periods = case.periods
    kpi = _latest_kpi(case, g.tau)
    per_freq = schema.PERIODS_PER_FREQUENCY.get(case.period_length, {})
    go_live = case.go_live_t
    f = case.flows
    # the periods in which each line's KPI was measured (as grouping the selected rows by line_id
    # gives them, blank ids dropped), found on the column arrays
    t_col = f["t"].to_numpy()
    sel = np.flatnonzero((f["scenario"].to_numpy() == "actual") & ~np.isnan(f["kpi_value"].to_numpy(dtype=float))
                         & (t_col <= g.tau))
    at_of: dict[Any, list[int]] = {}
    for k, lid in enumerate(f["line_id"].to_numpy()[sel].tolist()):
        if not pd.isna(lid):
            at_of.setdefault(lid, []).append(k)
    kpi_ts_of = {lid: t_col[sel[at]] for lid, at in at_of.items()}
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

    planned = np.abs(g.plan) > _TINY  # every line at once; rows picked below
    due = g.past & ~g.reported & (planned | (g.has_forecast & (np.abs(g.forecast) > _TINY)))
    for i, lid in enumerate(g.ids):
        ln = attrs[i]
        reported_ts = np.flatnonzero(g.reported[i])
        due_ts = np.flatnonzero(due[i])
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
            nz = np.flatnonzero(planned[i])
            due_from = int(nz[0]) if len(nz) else (go_live if go_live is not None else 0)
            if due_from <= g.tau and case.horizon > 0:
                has_kpi = lid in kpi
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
    evidence : EvidenceReview
        KPI reconciliation, evidence status of the actuals and forecast credibility
        (:mod:`vmo_lib.analysis.evidence`).
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
    evidence: EvidenceReview | None = field(default=None, repr=False)

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

    def to_dict(self, detail: bool = True) -> dict[str, Any]:
        """Plain data with the stable keys :data:`STATUS_KEYS` (the JSON of ``vmo status --json``);
        ``detail=False`` leaves out the line tables (``benefits``, ``costs``, ``gaps``).

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
        }
        if detail:
            d.update(benefits=_records(self.benefits), costs=_records(self.costs), gaps=_records(self.gaps))
        return {k: d[k] for k in STATUS_KEYS if k in d}


def _records(df: pd.DataFrame) -> list[dict[str, Any]]:
    return plain_records(df)


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
    case = known_at(case, as_of)
    with shared_work():
        return _case_status(case, as_of, thresholds, view)


def _case_status(case: BusinessCase, as_of: object, thresholds: Thresholds | None, view: str) -> CaseStatus:
    th = thresholds or Thresholds()
    tau = review_offset(case, as_of)
    label = review_period(case, as_of)
    ec = expected_case(case, as_of)
    current = case.current_baseline
    base_npv = shared_npv(ec, "baseline", view)
    cur_npv = shared_npv(ec, current, view) if current != "baseline" else base_npv
    bridge = value_bridge(case, as_of, "baseline", view)
    bridge_cur = value_bridge(case, as_of, current, view) if current != "baseline" else None
    exp_npv = bridge.end
    fwd = forward_npv(case, as_of, view)
    remaining = max(tau + 1, 0) < case.horizon
    df = shared_discount_factors(ec)
    pv_cost = {s: float(shared_line_matrices(ec, s, view)[0].to_numpy().sum(axis=0) @ df) for s in {"baseline", current}}
    v_cur = verdict(cur_npv, exp_npv, pv_cost[current], th)
    v_orig = verdict(base_npv, exp_npv, pv_cost["baseline"], th)
    if str(case.meta.get("status") or "").strip().lower() == "proposed":  # nothing approved yet to judge
        v_cur = v_orig = Verdict("not started", "a proposed case: awaiting its investment decision", cur_npv,
                                 exp_npv, exp_npv - cur_npv, 0.0)

    lines = realisation_by_line(case, as_of, th)
    kind = lines["kind"].to_numpy()
    is_benefit, is_cost = kind == "benefit", kind == "cost"
    # take by position: the same frames as boolean selection, at a third of the cost
    benefits = lines.take(np.flatnonzero(is_benefit)).reset_index(drop=True)
    costs = lines.take(np.flatnonzero(is_cost)).reset_index(drop=True)
    _, in_view = shared_line_matrices(case, "baseline", view)
    counted = set(in_view.index.tolist())
    in_view_rows = is_benefit & np.array([lid in counted for lid in lines["line_id"].tolist()], dtype=bool)
    # Realisation is gross: benefits on their own, dis-benefits on their own line (never one netted ratio).
    is_dis = lines["type"].to_numpy() == "dis-benefit"
    columns = {c: lines[c].to_numpy() for c in ("periods_reported", "plan_reported", "actual_to_date",
                                                  "variance_to_date")}

    def totals(rows: np.ndarray, kind: str) -> dict[str, float]:
        # the sums pandas makes of the selected rows (NaN skipped; NaN when none with min_count=1),
        # on the column arrays in row order
        def total(c: str, min_count: int = 0) -> float:
            v = columns[c][rows]
            nan = np.isnan(v)
            return math.nan if min_count and (len(v) - nan.sum()) < min_count else float(np.where(nan, 0.0, v).sum())

        rep = columns["periods_reported"][rows].sum() > 0
        plan = total("plan_reported")
        actual = total("actual_to_date", 1) if rep else math.nan
        var = total("variance_to_date", 1) if rep else math.nan
        return {f"{kind}_plan_to_date": plan, f"{kind}_actual_to_date": actual, f"{kind}_variance_to_date": var}

    tot = {**totals(in_view_rows & ~is_dis, "benefit"), **totals(in_view_rows & is_dis, "disbenefit"),
           **totals(is_cost, "cost")}
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
    # issue 13: the evidence behind the claims and the forecast; an outlook resting mainly on
    # unevidenced forecasts is said in the decision reason (and so in the verdict sentence)
    st.evidence = evidence_review(case, as_of, th, benefits, exp_npv, view)
    if st.evidence.warning and st.decision not in ("closed", "not started", "stop"):
        st.decision_reason += f"; but {st.evidence.warning}"
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
