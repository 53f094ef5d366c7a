"""Early warning: fit each benefit's ramp-up from its actuals so far and project it at its target date.

A benefit can be on its way to missing its target while its status is still green or amber: the
realisation RAG compares the actuals with the plan *to date*, and a ramp-up that is late or shallow
shows as a modest variance long before the target period. :func:`early_warning` fits the actuals so
far, projects the benefit at its target period and flags the lines projected to miss by more than a
threshold while the RAG does not yet say they are late.

The model (stated)
------------------
**Plan shape, scaled and shifted** (the model the flag uses). With ``p_t`` the line's plan in force
per period (``p_k = 0`` outside the horizon) and ``a_t`` its reported actuals,

    a_t ≈ s · p_(t−d)

for a real scale factor ``s`` and a whole number of periods ``d`` (positive = later than the plan).
For each ``d`` in ``−max_shift … max_shift`` whose window holds some plan, ``s`` is the least-squares
solution ``s_d = Σ a_t p_(t−d) / Σ p_(t−d)²`` over the fitted periods; the ``d`` with the smallest
sum of squared errors wins (ties, e.g. a flat plan seen only on its flat part: the smallest ``|d|``,
then the earlier). Fitted periods are those with a reported actual from the plan's first period with
money on (earlier reported periods carry no information about the ramp unless they hold money).

Fit quality: ``n_points``; ``r2 = 1 − SSE/SST`` (SST about the mean of the fitted actuals; when the
actuals are all equal, R² is 1 for an exact fit and NaN otherwise); ``rmse = √(SSE/n)``. No fit is
made from fewer than ``min_points`` (default :data:`MIN_POINTS`) fitted periods.

**Logistic** (shown beside it for comparison, never used for the flag): ``a_t ≈ L / (1 + e^(−k(t−t0)))``
by bounded non-linear least squares (:func:`scipy.optimize.curve_fit`), for lines with a positive
plan and at least ``max(min_points, 4)`` fitted periods.

Target and flag
---------------
The target period is the period containing the line's *Target date* (Benefits sheet) when it falls
within the horizon, else the end of the plan's ramp-up: the first period at which the plan in force
reaches its largest magnitude. ``target_amount = p_T`` and ``projected = s · p_(T−d)``. The shortfall
is ``1 − projected/target`` (a dis-benefit, negative target: ``projected/target − 1``, more negative is
worse). A line is flagged ("projected to miss") when its shortfall exceeds ``threshold`` (default
:data:`THRESHOLD`, 10 %), its target period is after the review period and its RAG is green or amber — a
red line is already late by the plan and is not an *early* warning.

Why 10 %: with the default RAG (green from 95 % of plan to date, amber from 80 %), a benefit fitted at
``s`` times an unshifted plan performs at about ``s`` to date and is projected ``1 − s`` short, so a
threshold of 20 % or more could never flag an amber line; 10 % flags the amber lines whose ramp-up, if
it carries on as so far, ends more than 10 % short.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from vmo_lib import periods
from vmo_lib.analysis import outlook
from vmo_lib.model import BusinessCase, as_date

__all__ = ["EARLY_WARNING_COLUMNS", "MAX_SHIFT", "MIN_POINTS", "THRESHOLD", "RampFit", "early_warning",
           "benefit_series", "fit_logistic", "fit_plan_shape", "ramp_end", "shifted"]

#: Fewest fitted actual periods from which a ramp-up is fitted.
MIN_POINTS = 3
#: Shortfall at the target period (fraction of the target) above which a line is flagged.
THRESHOLD = 0.1
#: Largest shift tried, in periods, either way.
MAX_SHIFT = 8
#: RAG ratings under which a projected miss is an early warning (the plan does not yet say late).
EARLY_RAGS = ("green", "amber")
#: Columns of :func:`early_warning`.
EARLY_WARNING_COLUMNS = (
    "line_id", "name", "owner", "type", "rag", "status", "flag", "n_points", "scale", "shift", "r2", "rmse",
    "target_period", "target_t", "target_source", "target_amount", "projected", "shortfall_pct",
    "logistic_projected", "logistic_r2", "logistic_rmse",
)
_TINY = 1e-9


@dataclass(frozen=True)
class RampFit:
    """One fitted ramp-up (module notes).

    Attributes
    ----------
    model : str
        ``"plan shape"`` or ``"logistic"``.
    params : dict
        ``{"scale", "shift"}`` or ``{"L", "k", "t0"}``.
    n_points : int
    r2, rmse, sse : float
    """

    model: str
    params: dict[str, float]
    n_points: int
    r2: float
    rmse: float
    sse: float

    @property
    def scale(self) -> float:
        return float(self.params.get("scale", math.nan))

    @property
    def shift(self) -> int:
        return int(self.params.get("shift", 0))

    def predict(self, plan: Sequence[float], t: Any) -> np.ndarray:
        """The fitted amounts at periods ``t`` (``plan`` is needed by the plan-shape model only)."""
        tt = np.atleast_1d(np.asarray(t, dtype=float))
        if self.model == "logistic":
            p = self.params
            return p["L"] / (1.0 + np.exp(-p["k"] * (tt - p["t0"])))
        return self.scale * shifted(plan, self.shift, tt.astype(int))


def shifted(plan: Sequence[float], d: int, t: Any = None) -> np.ndarray:
    """``p_(t−d)`` at periods ``t`` (default ``0 … len(plan)−1``), zero outside the plan.

    >>> shifted([0, 10, 20, 30], 2).tolist()
    [0.0, 0.0, 0.0, 10.0]
    >>> shifted([0, 10, 20, 30], -1, [0, 3, 5]).tolist()
    [10.0, 0.0, 0.0]
    """
    p = np.asarray(plan, dtype=float)
    tt = np.arange(p.size) if t is None else np.atleast_1d(np.asarray(t, dtype=int))
    k = tt - int(d)
    ok = (k >= 0) & (k < p.size)
    out = np.zeros(tt.size)
    out[ok] = p[k[ok]]
    return out


def _fitted_periods(plan: np.ndarray, actual: np.ndarray) -> np.ndarray:
    reported = ~np.isnan(actual)
    nz = np.flatnonzero(np.abs(plan) > _TINY)
    start = int(nz[0]) if nz.size else plan.size
    t = np.arange(plan.size)
    return np.flatnonzero(reported & ((t >= start) | (np.abs(np.nan_to_num(actual)) > _TINY)))


def _quality(a: np.ndarray, f: np.ndarray) -> tuple[float, float, float]:
    sse = float(np.sum((a - f) ** 2))
    sst = float(np.sum((a - a.mean()) ** 2))
    scale = max(1.0, float(np.sum(a ** 2)))
    if sst <= _TINY * scale:
        r2 = 1.0 if sse <= _TINY * scale else math.nan
    else:
        r2 = 1.0 - sse / sst
    return r2, math.sqrt(sse / a.size), sse


def fit_plan_shape(plan: Sequence[float], actual: Sequence[float], *, min_points: int = MIN_POINTS,
                   max_shift: int = MAX_SHIFT) -> RampFit | None:
    """Least-squares fit of ``actual_t ≈ scale · plan_(t−shift)`` (module notes).

    Parameters
    ----------
    plan : sequence of float
        The plan in force, one amount per period from period 0.
    actual : sequence of float
        Same length; NaN where no actual is reported.
    min_points : int, default :data:`MIN_POINTS`
    max_shift : int, default :data:`MAX_SHIFT`

    Returns
    -------
    RampFit or None
        None when fewer than ``min_points`` periods can be fitted or no shift has plan in its window.

    Examples
    --------
    >>> nan = float("nan")
    >>> plan = [0, 0, 25, 50, 75, 100, 100, 100, 100, 100]
    >>> act = [0, 0, 0, 0, 15, 30, 45, 60, nan, nan]  # 0.6 of the plan, two periods late
    >>> f = fit_plan_shape(plan, act)
    >>> round(f.scale, 6), f.shift, f.r2, f.n_points
    (0.6, 2, 1.0, 6)
    >>> fit_plan_shape(plan, [0, 0, 10, nan, nan, nan, nan, nan, nan, nan]) is None  # 1 fitted period
    True
    """
    p = np.asarray(plan, dtype=float)
    a_all = np.asarray(actual, dtype=float)
    if a_all.shape != p.shape:
        raise ValueError(f"plan and actual need the same length, not {p.size} and {a_all.size}")
    t = _fitted_periods(p, a_all)
    if t.size < max(int(min_points), 1):
        return None
    a = a_all[t]
    best: tuple[float, int, float] | None = None  # (sse, d, s)
    for d in sorted(range(-int(max_shift), int(max_shift) + 1), key=lambda x: (abs(x), x)):
        x = shifted(p, d, t)
        xx = float(x @ x)
        if xx <= _TINY:
            continue
        s = float(x @ a) / xx
        sse = float(np.sum((a - s * x) ** 2))
        if best is None or sse < best[0] - _TINY * max(1.0, best[0]):
            best = (sse, d, s)
    if best is None:
        return None
    _, d, s = best
    r2, rmse, sse = _quality(a, s * shifted(p, d, t))
    return RampFit("plan shape", {"scale": s, "shift": d}, int(t.size), r2, rmse, sse)


def fit_logistic(plan: Sequence[float], actual: Sequence[float], *, min_points: int = MIN_POINTS) -> RampFit | None:
    """Logistic ramp-up ``L / (1 + e^(−k(t−t0)))`` fitted to the actuals (module notes).

    Bounds: ``0 ≤ L ≤ 5 · max(plan)``, ``0.05 ≤ k ≤ 10`` per period, ``−n ≤ t0 ≤ 2n`` (n periods).
    None for a plan with no positive amount, fewer than ``max(min_points, 4)`` fitted periods, or
    when the optimiser does not converge.

    Examples
    --------
    >>> import numpy as np
    >>> t = np.arange(12)
    >>> act = 100 / (1 + np.exp(-1.0 * (t - 5.0)))
    >>> act[9:] = np.nan
    >>> f = fit_logistic([0] + [100] * 11, act)
    >>> round(f.params["L"], 3), round(f.params["k"], 3), round(f.params["t0"], 3), round(f.r2, 6)
    (100.0, 1.0, 5.0, 1.0)
    """
    from scipy.optimize import OptimizeWarning, curve_fit  # lazy: scipy.optimize is slow to import

    p = np.asarray(plan, dtype=float)
    a_all = np.asarray(actual, dtype=float)
    top = float(np.max(p)) if p.size else 0.0
    if top <= _TINY:
        return None
    t = _fitted_periods(p, a_all)
    if t.size < max(int(min_points), 4):
        return None
    a = a_all[t]
    n = float(p.size)

    def f(x: np.ndarray, L: float, k: float, t0: float) -> np.ndarray:
        return L / (1.0 + np.exp(-k * (x - t0)))

    lo, hi = [0.0, 0.05, -n], [5.0 * top, 10.0, 2.0 * n]
    l0 = min(max(float(np.nanmax(a)), top * 0.5, _TINY), hi[0])
    x0 = [l0, 1.0, float(t[min(t.size - 1, t.size // 2)])]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", OptimizeWarning)
            warnings.simplefilter("ignore", RuntimeWarning)
            popt, _ = curve_fit(f, t.astype(float), a, p0=x0, bounds=(lo, hi), maxfev=2000)
    except (RuntimeError, ValueError):
        return None
    L, k, t0 = (float(v) for v in popt)
    r2, rmse, sse = _quality(a, f(t.astype(float), L, k, t0))
    return RampFit("logistic", {"L": L, "k": k, "t0": t0}, int(t.size), r2, rmse, sse)


def ramp_end(plan: Sequence[float]) -> int | None:
    """The first period at which the plan reaches its largest magnitude (None for an all-zero plan).

    >>> ramp_end([0, 10, 40, 80, 100, 100, 90])
    4
    """
    p = np.abs(np.asarray(plan, dtype=float))
    if not p.size or float(p.max()) <= _TINY:
        return None
    return int(np.flatnonzero(p >= p.max() * (1 - 1e-9))[0])


def _target(case: BusinessCase, line: Mapping[str, Any], plan: np.ndarray) -> tuple[int | None, str]:
    try:
        d = as_date(line.get("target_date"))
    except ValueError:  # not a date: the plan's own ramp-up end stands in
        d = None
    if d is not None:
        t = case.t_of(periods.period_of_date(d, case.period_length, like=case.meta.get("first_period")))
        if 0 <= t < case.horizon and abs(plan[t]) > _TINY:
            return t, "target date"
    end = ramp_end(plan)
    return end, "end of plan ramp-up"


def benefit_series(case: BusinessCase, as_of: object) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per benefit line: its plan in force and its reported actuals per period (NaN where none is
    reported, or after the case's review period) — what :func:`early_warning` fits.

    >>> from vmo_lib.model import make_case
    >>> c = make_case({"first_period": "2026Q1", "horizon": 3}, benefits=[{"line_id": "B1", "name": "S",
    ...     "amounts": [0, 10, 10]}], actuals=[{"period": "2026Q2", "line_id": "B1", "amount": 8}])
    >>> plan, act = benefit_series(c, "2026Q3")["B1"]
    >>> plan.tolist(), act.tolist()
    ([0.0, 10.0, 10.0], [nan, 8.0, nan])
    """
    tau = outlook.review_offset(case, as_of)
    h = case.horizon
    ids = case.lines.loc[case.lines["kind"] == "benefit", "line_id"].tolist()
    plan_m = case.matrix(case.current_baseline, "benefit")
    plan_row = {lid: i for i, lid in enumerate(plan_m.index)}
    plan_a = plan_m.to_numpy(dtype=float)
    pos = {lid: i for i, lid in enumerate(ids)}
    f = case.flows
    t_all = f["t"].to_numpy()
    amt = f["amount"].to_numpy(dtype=float)
    sel = ((f["scenario"].to_numpy() == "actual") & (f["kind"].to_numpy() == "benefit") & ~np.isnan(amt)
           & (t_all >= 0) & (t_all <= tau) & (t_all < h))
    row_of = np.array([pos.get(x, -1) for x in f["line_id"].to_numpy()[sel]], dtype=int)
    ok = row_of >= 0
    t_sel = t_all[sel][ok].astype(int)
    act_a = np.zeros((len(ids), h))
    seen = np.zeros((len(ids), h), dtype=bool)
    np.add.at(act_a, (row_of[ok], t_sel), amt[sel][ok])
    seen[row_of[ok], t_sel] = True
    act_a[~seen] = np.nan
    return {lid: (plan_a[plan_row[lid]] if lid in plan_row else np.zeros(h), act_a[i])
            for i, lid in enumerate(ids)}


def early_warning(case: BusinessCase, as_of: object, *, rag: Mapping[str, Any] | pd.Series | None = None,
                  threshold: float = THRESHOLD, min_points: int = MIN_POINTS, max_shift: int = MAX_SHIFT,
                  logistic: bool = True) -> pd.DataFrame:
    """Fit every benefit line's ramp-up, project it at its target period and flag early misses.

    Parameters
    ----------
    case : BusinessCase
        The case as known at the review date (:func:`vmo_lib.analysis.outlook.known_at`): the plan is
        the baseline in force.
    as_of : str
        Review quarter; actuals after the case's review period are ignored.
    rag : mapping or Series, optional
        RAG per line id (the case status's benefit lines). Without it every line counts as amber.
    threshold : float, default :data:`THRESHOLD`
        Shortfall at the target period (fraction) above which a line is flagged.
    min_points, max_shift : int
        :func:`fit_plan_shape`.
    logistic : bool, default True
        Also fit the logistic alternative (:func:`fit_logistic`).

    Returns
    -------
    pandas.DataFrame
        One row per benefit line (:data:`EARLY_WARNING_COLUMNS`). ``status`` is one of
        ``"projected to miss"`` (``flag`` True), ``"on course"``, ``"target passed"``,
        ``"already late (RAG red)"``, ``"too few actuals"``, ``"no monetised plan"``, ``"case closed"``
        (a closed or cancelled case is fitted but never flagged).
        ``shortfall_pct`` is a fraction (positive = short of target).

    Examples
    --------
    >>> from vmo_lib.model import make_case
    >>> case = make_case({"case_id": "X", "first_period": "2026Q1", "horizon": 10},
    ...     benefits=[{"line_id": "B1", "name": "Savings", "target_date": "2028-06-30",
    ...                 "amounts": [0, 0, 25, 50, 75, 100, 100, 100, 100, 100]}],
    ...     actuals=[{"period": p, "line_id": "B1", "amount": a} for p, a in
    ...              [("2026Q3", 0), ("2026Q4", 0), ("2027Q1", 15), ("2027Q2", 30)]])
    >>> w = early_warning(case, "2027Q2", rag={"B1": "amber"}).iloc[0]
    >>> float(round(w["scale"], 6)), int(w["shift"]), w["target_period"], float(w["target_amount"])
    (0.6, 2, '2028Q2', 100.0)
    >>> float(round(w["projected"], 6)), float(round(w["shortfall_pct"], 6)), w["status"]
    (60.0, 0.4, 'projected to miss')
    """
    tau = outlook.review_offset(case, as_of)
    labels = case.periods
    lines = case.lines[case.lines["kind"] == "benefit"]
    ids = lines["line_id"].tolist()
    series = benefit_series(case, as_of)
    rag_of = dict(rag.items()) if rag is not None else {}
    closed = str(case.meta.get("status") or "") in ("closed", "cancelled")
    attrs = {c: lines[c].tolist() if c in lines else [None] * len(ids)
             for c in ("name", "owner", "benefit_type", "target_date")}
    rows = []
    for i, lid in enumerate(ids):
        line = {c: attrs[c][i] for c in attrs}
        plan, actual = series[lid]
        r = rag_of.get(lid)
        r = str(r) if r is not None and not (isinstance(r, float) and math.isnan(r)) else ""
        row: dict[str, Any] = {c: math.nan for c in EARLY_WARNING_COLUMNS}
        row.update(line_id=lid, name=line.get("name"), owner=line.get("owner"), type=line.get("benefit_type"),
                   rag=r or None, flag=False, target_period=None, target_source=None,
                   n_points=int(_fitted_periods(plan, actual).size))
        rows.append(row)
        if float(np.abs(plan).max(initial=0.0)) <= _TINY:
            row["status"] = "no monetised plan"
            continue
        t_target, source = _target(case, line, plan)
        target = float(plan[t_target])
        row.update(target_t=t_target, target_period=labels[t_target], target_source=source,
                   target_amount=target)
        fit = fit_plan_shape(plan, actual, min_points=min_points, max_shift=max_shift)
        if fit is None:
            row["status"] = "too few actuals"
            continue
        projected = float(fit.predict(plan, t_target)[0])
        shortfall = 1.0 - projected / target if target > 0 else projected / target - 1.0
        row.update(scale=fit.scale, shift=fit.shift, r2=fit.r2, rmse=fit.rmse, projected=projected,
                   shortfall_pct=shortfall)
        if logistic and target > 0:
            lg = fit_logistic(plan, actual, min_points=min_points)
            if lg is not None:
                row.update(logistic_projected=float(lg.predict(plan, t_target)[0]), logistic_r2=lg.r2,
                           logistic_rmse=lg.rmse)
        if closed:
            row["status"] = "case closed"
        elif t_target <= tau:
            row["status"] = "target passed"
        elif r == "red":
            row["status"] = "already late (RAG red)"
        elif shortfall > threshold and (r or "amber") in EARLY_RAGS:
            row.update(status="projected to miss", flag=True)
        else:
            row["status"] = "on course"
    out = pd.DataFrame(rows, columns=list(EARLY_WARNING_COLUMNS))
    out["flag"] = out["flag"].astype(bool)
    out["n_points"] = out["n_points"].astype(int)
    return out
