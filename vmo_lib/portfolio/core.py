"""The portfolio view: register, ranking, selection under a budget, double counting and roll-ups.

A VMO governs a portfolio, not a case (DOMAIN.md §2, §6). Every function here is pure: it takes a
:class:`~vmo_lib.model.Portfolio` (or a list of cases, or the tables built from them) and returns
tables, numbers or dataclasses.

Conventions (the portfolio review pack repeats them)
----------------------------------------------------
* **Money is never added across currencies.** Totals are per currency (:func:`totals_by_currency`);
  the selection refuses candidates in more than one currency (no exchange rates are assumed).
* **Budget** (for value for money) = **PV of capex** of the baseline in force: the constrained,
  one-off investment a board allocates. ``vfm = NPV / budget`` (NaN when there is no capex).
  The **selection** constrains undiscounted **forward costs (capex and opex) per calendar year**
  instead, because budgets are set per year in cash.
* **Candidates for selection** (:func:`selection_options`): ``"proposed"`` (default) = cases
  ``proposed`` or ``approved`` — money not yet sunk; ``"active"`` adds cases ``in delivery`` (the
  continue/stop question). Their value is the **forward NPV** (:func:`vmo_lib.analysis.realisation.forward_npv`:
  actuals to date ignored, the rest of the expected flows valued from the period after the review)
  and their costs the expected costs after the review period, summed by calendar year (quarters
  2026Q1..Q4 are year 2026). ``value="ob_npv"`` selects on the Green Book optimism-bias-adjusted NPV
  instead (:mod:`vmo_lib.analysis.scenarios`): a risk-adjusted choice. A ``Regulatory/mandatory`` case is a
  must-do by default.
* **Selection** is a 0-1 knapsack with one budget row per calendar year, solved exactly by
  ``scipy.optimize.milp`` (HiGHS, relative gap 0). Must-do cases are forced in; at most one case of a
  mutually exclusive group; ``depends_on={"A": ["B"]}`` means A only if B.
* **Efficient frontier**: the best value for each annual budget level ``B`` (the same limit every
  year), computed exactly at every breakpoint: from the cheapest feasible budget, alternately find
  the smallest budget that buys more value and the best value at that budget.
* **Double counting** (:func:`double_counting`): two benefits of *different* cases whose KPI names
  are the same once normalised (:func:`normalise_kpi`), for the same organisational unit (the
  benefit's, else its case's), whose claimed periods overlap (periods with a planned amount; a
  non-monetised benefit claims go-live to the end of its horizon). The **amount at stake** is the
  undiscounted amount claimed twice: over the overlapping calendar quarters, the smaller of the two
  planned amounts per quarter (a yearly amount spread evenly across its quarters), summed.
* **KPIs are never summed unless additive**: a KPI rolls up by its ``kpi_rollup`` rule (blank = mean
  for %, scores and indices, sum otherwise; the realisation module's rule), and only across benefits
  that share the normalised KPI name, the unit and the rule.

Examples
--------
>>> import pandas as pd
>>> value = pd.Series({"A": 10.0, "B": 6.0, "C": 5.0})
>>> costs = pd.DataFrame({2026: [8.0, 5.0, 4.0]}, index=["A", "B", "C"])
>>> s = select_portfolio(value, costs, budget=9)
>>> s.selected, s.value
(['B', 'C'], 11.0)
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy.optimize import Bounds, LinearConstraint, milp

from vmo_lib.analysis import appraisal, finance
from vmo_lib.errors import AnalysisError
from vmo_lib.model import BusinessCase, Portfolio
from vmo_lib.periods import parse_period, review_period

__all__ = [
    "BENEFIT_REGISTER_COLUMNS",
    "CANDIDATE_STATUSES",
    "REGISTER_COLUMNS",
    "BudgetStep",
    "InfeasibleSelection",
    "Register",
    "Selection",
    "batch_appraisal",
    "benefit_register",
    "budget_step",
    "build_register",
    "case_as_of",
    "double_counting",
    "efficient_frontier",
    "kpi_rollup",
    "normalise_kpi",
    "portfolio_selection",
    "portfolio_mix",
    "rank_cases",
    "realisation_rollup",
    "select_portfolio",
    "selection_options",
    "totals_by_currency",
]

#: Which statuses are candidates for selection (see the module conventions).
CANDIDATE_STATUSES = {
    "proposed": ("proposed", "approved"),
    "active": ("proposed", "approved", "in delivery"),
}
#: Columns of :attr:`Register.cases` (one row per case).
REGISTER_COLUMNS = (
    "case_id", "title", "sponsor", "portfolio", "strategic_objective", "org_unit", "case_type", "status",
    "currency", "baseline_npv", "expected_npv", "forward_npv", "ob_npv", "verdict", "rag", "realisation_pct",
    "pv_costs", "budget", "vfm", "irr", "bcr", "payback_years", "risk_p10", "risk_p90", "risk_spread",
    "prob_negative", "source",
)
#: Columns of :attr:`Register.benefits` (one row per benefit line of every case).
BENEFIT_REGISTER_COLUMNS = (
    "case_id", "line_id", "name", "benefit_type", "owner", "kpi", "kpi_key", "unit", "kpi_rollup",
    "org_unit", "strategic_objective", "case_status", "currency", "plan_total", "plan_to_date",
    "actual_to_date", "realisation_pct", "kpi_baseline", "kpi_target", "kpi_latest", "kpi_progress_pct",
    "rag", "rag_reason",
)
_TINY = 1e-9


class InfeasibleSelection(AnalysisError):
    """No selection satisfies the constraints (e.g. the must-do cases alone exceed a year's budget).

    Attributes
    ----------
    reasons : list of str
        Each conflict found, in words.
    """

    def __init__(self, reasons: list[str]) -> None:
        self.reasons = reasons
        super().__init__("no portfolio satisfies the constraints: " + "; ".join(reasons))


def _cases(portfolio: Portfolio | Iterable[BusinessCase]) -> list[BusinessCase]:
    return list(portfolio.cases if isinstance(portfolio, Portfolio) else portfolio)


def case_as_of(case: BusinessCase, as_of: object) -> str:
    """The review period in a case's own period length (:func:`vmo_lib.periods.review_period`)."""
    return review_period(as_of, case.period_length)


def _blank(v: Any) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v)) or (isinstance(v, str) and not v.strip())


# --------------------------------------------------------------------------------------------------
# shared work across cases: one matrix product for every case's appraisal
# --------------------------------------------------------------------------------------------------
def _df_key(case: BusinessCase) -> tuple:
    sched = str(case.meta.get("discount_schedule") or "flat")
    rate = None if sched != "flat" else float(case.meta["discount_rate"])
    return (sched, rate, case.period_length, case.horizon)


def batch_appraisal(portfolio: Portfolio | Iterable[BusinessCase], scenario: str = "current",
                    view: str = "economic") -> pd.DataFrame:
    """NPV, PV costs/capex/benefits, IRR, BCR and payback of every case at once.

    Each case's lines become rows of one stacked (lines x periods) matrix; per-case per-period
    totals come from one ``np.add.at``, and every case is discounted in one matrix operation with
    discount factors computed once per distinct (schedule, rate, period length, horizon) — the work
    :func:`vmo_lib.analysis.appraisal.appraise` does case by case (and gives the same numbers, tested).
    IRRs are solved together by the vectorised :func:`vmo_lib.analysis.finance.irr`.

    Parameters
    ----------
    portfolio : Portfolio or iterable of BusinessCase
    scenario : str, default "current"
        ``"current"`` = each case's baseline in force; else a scenario name every case has.
    view : {"economic", "cash"}

    Returns
    -------
    pandas.DataFrame
        Index ``case_id``; columns ``currency, npv, pv_costs, pv_capex, pv_benefits, irr, bcr,
        payback_years, horizon``. IRR is annualised; NaN where there is no root.

    Examples
    --------
    >>> from vmo_lib.model import make_case
    >>> c = make_case({"case_id": "X", "first_period": "2026", "period_length": "year", "horizon": 3,
    ...                "discount_rate": 0.10},
    ...               costs=[{"line_id": "C1", "name": "Build", "amounts": [100, 0, 0]}],
    ...               benefits=[{"line_id": "B1", "name": "Saving", "amounts": [0, 66, 60.5]}])
    >>> r = batch_appraisal([c]).loc["X"]
    >>> round(float(r["npv"]), 6), round(float(r["bcr"]), 4), float(r["pv_capex"])
    (10.0, 1.1, 100.0)
    """
    cases = _cases(portfolio)
    n = len(cases)
    cols = ["currency", "npv", "pv_costs", "pv_capex", "pv_benefits", "irr", "bcr", "payback_years", "horizon"]
    if n == 0:
        return pd.DataFrame(columns=cols, index=pd.Index([], name="case_id"))
    hmax = max(c.horizon for c in cases)
    costs = np.zeros((n, hmax))
    capex = np.zeros((n, hmax))
    bens = np.zeros((n, hmax))
    dfs = np.zeros((n, hmax))
    cache: dict[tuple, np.ndarray] = {}
    in_view = set(appraisal.VIEW_BENEFIT_TYPES[view])
    for i, c in enumerate(cases):
        key = _df_key(c)
        df = cache.get(key)
        if df is None:
            df = cache[key] = appraisal.discount_factors(c)
        dfs[i, : c.horizon] = df
        scen = c.current_baseline if scenario == "current" else scenario
        # the case's own flow index: rows = positions in c.lines (flows of unknown lines,
        # outside the horizon or without an amount already left out), in flows order
        rows, t, amt, _ = c._scenario_cells(scen)
        kind = c.lines["kind"].to_numpy()[rows]
        cat = c.lines["category"].to_numpy()[rows]
        btype = c.lines["benefit_type"].to_numpy()[rows]
        is_cost = kind == "cost"
        is_ben = (kind == "benefit") & np.isin(btype.astype(str), list(in_view))
        np.add.at(costs[i], t[is_cost], amt[is_cost])
        np.add.at(capex[i], t[is_cost & (cat == "capex")], amt[is_cost & (cat == "capex")])
        np.add.at(bens[i], t[is_ben], amt[is_ben])
    net = bens - costs
    npv = (net * dfs).sum(axis=1)
    pv_c = (costs * dfs).sum(axis=1)
    pv_k = (capex * dfs).sum(axis=1)
    pv_b = (bens * dfs).sum(axis=1)
    k = np.array([c.periods_per_year for c in cases], dtype=float)
    irr_p = np.asarray(finance.irr(net), dtype=float)
    with np.errstate(all="ignore"):
        irr_a = (1.0 + irr_p) ** k - 1.0
        bcr = np.where(np.abs(pv_c) > _TINY, pv_b / pv_c, np.nan)
    pb = np.asarray(finance.payback(net), dtype=float) / k
    return pd.DataFrame({
        "currency": [str(c.meta.get("currency") or "") for c in cases], "npv": npv, "pv_costs": pv_c,
        "pv_capex": pv_k, "pv_benefits": pv_b, "irr": irr_a, "bcr": bcr, "payback_years": pb,
        "horizon": [c.horizon for c in cases],
    }, index=pd.Index([c.case_id for c in cases], name="case_id"))


# --------------------------------------------------------------------------------------------------
# the register
# --------------------------------------------------------------------------------------------------
@dataclass
class Register:
    """The portfolio register as of a review period.

    Attributes
    ----------
    as_of, view : str
    cases : pandas.DataFrame
        One row per case, columns :data:`REGISTER_COLUMNS` (amounts in each case's own currency —
        see ``currency``; never add them up across currencies).
    benefits : pandas.DataFrame
        The benefit register, columns :data:`BENEFIT_REGISTER_COLUMNS`.
    status : dict
        ``case_id`` → :class:`vmo_lib.analysis.realisation.CaseStatus` (for the review pack).
    """

    as_of: str
    view: str
    cases: pd.DataFrame
    benefits: pd.DataFrame
    status: dict[str, Any] = field(default_factory=dict, repr=False)


def _status_and_risk(args: tuple) -> tuple[Any, dict[str, float]]:
    """One case's realisation status and cheap risk figures (run in a worker process when asked)."""
    from vmo_lib.analysis.realisation import case_status

    case, as_of, thresholds, view, risk_iterations, seed = args
    st = case_status(case, as_of, thresholds, view)
    risk = {"risk_p10": math.nan, "risk_p90": math.nan, "prob_negative": math.nan, "ob_npv": math.nan}
    from vmo_lib.analysis.scenarios import CaseMatrices, WhatIf, what_if_npv

    try:
        m = CaseMatrices.from_case(case, case.current_baseline, view)
        risk["ob_npv"] = what_if_npv(m, WhatIf(optimism_bias=True))
    except AnalysisError:
        pass
    if risk_iterations:
        from vmo_lib.analysis.risk import monte_carlo

        mc = monte_carlo(case, iterations=risk_iterations, seed=seed, scenario=case.current_baseline, view=view)
        risk.update(risk_p10=mc.p10, risk_p90=mc.p90, prob_negative=mc.prob_negative)
    return st, risk


def build_register(portfolio: Portfolio | Iterable[BusinessCase], as_of: object, view: str = "economic",
                   thresholds: Any = None, risk_iterations: int = 2000, seed: int = 0,
                   workers: int | None = None) -> Register:
    """The portfolio register and the benefit register as of a review period.

    Parameters
    ----------
    portfolio : Portfolio or iterable of BusinessCase
    as_of : str
        Review period (``"2026Q3"``).
    view : {"economic", "cash"}
    thresholds : vmo_lib.analysis.realisation.Thresholds, optional
        Verdict and RAG rules.
    risk_iterations : int, default 2000
        Monte Carlo iterations per case (:func:`vmo_lib.analysis.risk.monte_carlo`, seeded with ``seed``) for
        ``risk_p10``, ``risk_p90``, ``risk_spread = p90 - p10`` and ``prob_negative``; 0 = skip.
    seed : int, default 0
    workers : int, optional
        Worker processes for the per-case status (1 = in this process). Default: as
        :func:`vmo_lib.intake.loader.load_portfolio` (one per CPU, at most 4, from 50 cases on).

    Returns
    -------
    Register
        ``cases``: appraisal of the baseline in force (:func:`batch_appraisal`), the realisation
        status (:func:`vmo_lib.analysis.realisation.case_status`: expected and forward NPV, verdict, RAG,
        realisation %), ``ob_npv`` (Green Book optimism-bias-adjusted NPV), ``budget`` = PV capex,
        ``vfm`` = NPV / budget, and the risk figures.

    Examples
    --------
    >>> from vmo_lib.model import make_case
    >>> c = make_case({"case_id": "X", "first_period": "2026Q1", "horizon": 3, "discount_rate": 0.0},
    ...     costs=[{"line_id": "C1", "name": "Build", "amounts": [100, 0, 0]}],
    ...     benefits=[{"line_id": "B1", "name": "Savings", "kpi": "Cost", "amounts": [0, 100, 100]}],
    ...     actuals=[{"period": "2026Q1", "line_id": "C1", "amount": 110}])
    >>> r = build_register([c], "2026Q1", risk_iterations=0).cases.iloc[0]
    >>> float(r["baseline_npv"]), float(r["expected_npv"]), float(r["vfm"]), r["verdict"]
    (100.0, 90.0, 1.0, 'at risk')
    """
    cases = _cases(portfolio)
    as_of = str(as_of)
    jobs = [(c, case_as_of(c, as_of), thresholds, view, risk_iterations, seed) for c in cases]
    from vmo_lib.intake.loader import auto_workers

    workers = auto_workers(len(cases), workers)
    if workers > 1 and len(cases) > 1:
        with ProcessPoolExecutor(max_workers=workers) as ex:
            results = list(ex.map(_status_and_risk, jobs, chunksize=max(1, len(jobs) // (4 * workers))))
    else:
        results = [_status_and_risk(j) for j in jobs]
    app = batch_appraisal(cases, "current", view)
    rows, statuses = [], {}
    for c, (st, risk) in zip(cases, results, strict=True):
        statuses[c.case_id] = st
        a = app.loc[c.case_id]
        m = c.meta
        budget = float(a["pv_capex"])
        rows.append({
            "case_id": c.case_id, "title": c.title, "sponsor": m.get("sponsor") or "",
            "portfolio": m.get("portfolio") or "", "strategic_objective": m.get("strategic_objective") or "",
            "org_unit": m.get("org_unit") or "", "case_type": m.get("case_type") or "",
            "status": m.get("status") or "", "currency": a["currency"],
            "baseline_npv": st.baseline_npv, "expected_npv": st.expected_npv, "forward_npv": st.forward_npv,
            "ob_npv": risk["ob_npv"], "verdict": st.verdict.label, "rag": st.rag,
            "realisation_pct": st.realisation_pct, "pv_costs": float(a["pv_costs"]), "budget": budget,
            "vfm": float(a["npv"]) / budget if budget > _TINY else math.nan,
            "irr": float(a["irr"]), "bcr": float(a["bcr"]), "payback_years": float(a["payback_years"]),
            "risk_p10": risk["risk_p10"], "risk_p90": risk["risk_p90"],
            "risk_spread": risk["risk_p90"] - risk["risk_p10"], "prob_negative": risk["prob_negative"],
            "source": c.source,
        })
    reg = pd.DataFrame(rows, columns=list(REGISTER_COLUMNS))
    return Register(as_of=as_of, view=view, cases=reg, benefits=benefit_register(cases, statuses), status=statuses)


def benefit_register(portfolio: Portfolio | Iterable[BusinessCase], statuses: Mapping[str, Any]) -> pd.DataFrame:
    """Every benefit of every case with its profile, status and RAG (columns :data:`BENEFIT_REGISTER_COLUMNS`).

    Parameters
    ----------
    portfolio : Portfolio or iterable of BusinessCase
    statuses : mapping
        ``case_id`` → :class:`vmo_lib.analysis.realisation.CaseStatus` (as in :attr:`Register.status`).
    """
    frames = []
    for c in _cases(portfolio):
        st = statuses[c.case_id]
        b = st.benefits.copy()
        lines = c.lines.set_index("line_id")
        b["case_id"] = c.case_id
        b["benefit_type"] = b["type"]
        b["org_unit"] = [_org_unit(lines.loc[lid, "org_unit"], c) for lid in b["line_id"]]
        b["kpi_key"] = [normalise_kpi(k) for k in b["kpi"]]
        b["kpi_rollup"] = [kpi_rule(u, r) for u, r in zip(b["unit"], b["kpi_rollup"], strict=True)]
        b["strategic_objective"] = c.meta.get("strategic_objective") or ""
        b["case_status"] = c.meta.get("status") or ""
        b["currency"] = str(c.meta.get("currency") or "")
        frames.append(b.reindex(columns=list(BENEFIT_REGISTER_COLUMNS)))
    if not frames:
        return pd.DataFrame(columns=list(BENEFIT_REGISTER_COLUMNS))
    return pd.concat(frames, ignore_index=True)


def kpi_rule(unit: Any, rule: Any) -> str:
    from vmo_lib.analysis.realisation import kpi_rule as rule_of  # one rule for cases and the portfolio

    return rule_of(unit, rule)


def _org_unit(line_unit: Any, case: BusinessCase) -> str:
    return str(case.meta.get("org_unit") or "") if _blank(line_unit) else str(line_unit)


def totals_by_currency(table: pd.DataFrame, columns: Sequence[str] = ("baseline_npv", "expected_npv", "forward_npv",
                                                                     "pv_costs", "budget")) -> pd.DataFrame:
    """Sum money columns per currency (never across currencies).

    Examples
    --------
    >>> t = pd.DataFrame({"currency": ["GBP", "EUR", "GBP"], "npv": [1.0, 2.0, 3.0]})
    >>> totals_by_currency(t, ["npv"]).values.tolist()
    [['EUR', 1, 2.0], ['GBP', 2, 4.0]]
    """
    g = table.groupby("currency", sort=True)
    out = g[list(columns)].sum(min_count=1)
    out.insert(0, "cases", g.size())
    return out.reset_index()


def rank_cases(register: pd.DataFrame, by: str = "vfm") -> pd.DataFrame:
    """Cases ranked by value for money (NPV per unit of budget = PV capex), best first.

    Cases with no capex (``vfm`` NaN) come last, ordered by NPV. ``rank`` starts at 1.

    Examples
    --------
    >>> t = pd.DataFrame({"case_id": ["A", "B", "C"], "baseline_npv": [10.0, 8.0, 3.0],
    ...                   "vfm": [0.5, 2.0, float("nan")]})
    >>> rank_cases(t)[["rank", "case_id"]].values.tolist()
    [[1, 'B'], [2, 'A'], [3, 'C']]
    """
    npv_col = "baseline_npv" if "baseline_npv" in register else "npv"
    r = register.sort_values([by, npv_col], ascending=[False, False], na_position="last", kind="stable")
    r = r.reset_index(drop=True)
    r.insert(0, "rank", np.arange(1, len(r) + 1))
    return r


def portfolio_mix(register: Register, by: str) -> pd.DataFrame:
    """The portfolio's mix by ``strategic_objective``, ``status``, ``rag``, ``verdict`` or ``benefit_type``.

    For case attributes: number of cases, and per currency the PV costs and baseline NPV. For
    ``benefit_type``: number of benefits and their whole-life planned amount per currency.

    Returns
    -------
    pandas.DataFrame
        ``<by>, currency, count`` and the money columns; sorted by ``by``.
    """
    if by == "benefit_type":
        b = register.benefits
        g = b.groupby([by, "currency"], sort=True, dropna=False)
        out = g.agg(count=("line_id", "size"), plan_total=("plan_total", "sum"),
                    actual_to_date=("actual_to_date", "sum"))
        return out.reset_index()
    c = register.cases
    if by not in c:
        raise ValueError(f"cannot group the register by {by!r}")
    g = c.groupby([by, "currency"], sort=True, dropna=False)
    out = g.agg(count=("case_id", "size"), pv_costs=("pv_costs", "sum"), baseline_npv=("baseline_npv", "sum"),
                expected_npv=("expected_npv", "sum"))
    return out.reset_index()


# --------------------------------------------------------------------------------------------------
# realisation and KPI roll-ups
# --------------------------------------------------------------------------------------------------
def realisation_rollup(benefits: pd.DataFrame, by: str = "benefit_type") -> pd.DataFrame:
    """Benefit realisation across the portfolio by ``benefit_type`` or ``strategic_objective``.

    Money is summed per currency: planned to date, actual to date, realisation % = actual ÷ plan
    over the benefits that reported (like-for-like, as :mod:`vmo_lib.analysis.realisation`). KPIs are not
    combined here: see :func:`kpi_rollup`.

    Examples
    --------
    >>> b = pd.DataFrame({"benefit_type": ["cash-releasing"] * 2, "currency": ["GBP"] * 2,
    ...                   "plan_to_date": [100.0, 50.0], "actual_to_date": [80.0, float("nan")],
    ...                   "plan_total": [400.0, 200.0], "rag": ["amber", "grey"], "case_id": ["A", "B"]})
    >>> r = realisation_rollup(b).iloc[0]
    >>> [float(r[k]) for k in ("benefits", "plan_reported", "actual_to_date", "realisation_pct")]
    [2.0, 100.0, 80.0, 0.8]
    """
    b = benefits.copy()
    reported = b["actual_to_date"].notna()
    b["plan_reported"] = np.where(reported, b["plan_to_date"], 0.0)
    g = b.groupby([by, "currency"], sort=True, dropna=False)
    out = g.agg(benefits=("case_id", "size"), cases=("case_id", "nunique"), plan_total=("plan_total", "sum"),
                plan_to_date=("plan_to_date", "sum"), plan_reported=("plan_reported", "sum"),
                actual_to_date=("actual_to_date", "sum"),
                red=("rag", lambda s: int((s == "red").sum())), amber=("rag", lambda s: int((s == "amber").sum())),
                green=("rag", lambda s: int((s == "green").sum())))
    out["realisation_pct"] = np.where(out["plan_reported"].abs() > _TINY,
                                      out["actual_to_date"] / out["plan_reported"].where(out["plan_reported"] != 0), np.nan)
    return out.reset_index()


def kpi_rollup(benefits: pd.DataFrame, by: Sequence[str] = ()) -> pd.DataFrame:
    """KPIs rolled up across cases by their roll-up rule; non-additive KPIs are never summed.

    Benefits are grouped by the normalised KPI name (``kpi_key``), the unit and any ``by`` columns
    (e.g. ``strategic_objective``). Within a group:

    1. benefits of the **same organisational unit** measure one and the same KPI (several cases
       claiming it is double counting, :func:`double_counting`): they count **once**, as the mean
       of what the cases report;
    2. the units are then combined by the roll-up rule: ``sum``, ``mean``, ``max``, ``min``, or
       ``latest`` (the unit measured most recently, by ``kpi_latest_period`` when present).

    A group whose benefits disagree on the rule is not combined (``kpi_note`` says why).

    Returns
    -------
    pandas.DataFrame
        ``*by, kpi_key, unit, kpi_rollup, benefits, cases, org_units, kpi_baseline, kpi_target,
        kpi_latest, kpi_note``.

    Examples
    --------
    Two units report customer satisfaction in %: the roll-up is the mean, never the sum.

    >>> b = pd.DataFrame({"kpi_key": ["customer satisfaction"] * 2, "unit": ["%", "%"],
    ...                   "kpi_rollup": ["mean", "mean"], "case_id": ["A", "B"], "org_unit": ["Sales", "Ops"],
    ...                   "kpi_baseline": [60.0, 70.0], "kpi_target": [80.0, 90.0], "kpi_latest": [70.0, 76.0]})
    >>> r = kpi_rollup(b).iloc[0]
    >>> r["kpi_rollup"], float(r["kpi_latest"])
    ('mean', 73.0)
    """
    from vmo_lib.analysis.realisation import (
        roll_up,  # the same roll-up rules as one case's realisation_by_type
    )

    b = benefits[benefits["kpi_key"].fillna("").astype(str).str.len() > 0].copy()
    if "org_unit" not in b:
        b["org_unit"] = ""
    b["_order"] = ([_period_order(p) for p in b["kpi_latest_period"]] if "kpi_latest_period" in b
                   else np.arange(len(b), dtype=float))
    keys = [*by, "kpi_key", "unit"]
    cols = [*keys, "kpi_rollup", "benefits", "cases", "org_units", "kpi_baseline", "kpi_target", "kpi_latest",
            "kpi_note"]
    out = []
    for key, g in b.groupby(keys, sort=True, dropna=False):
        row = dict(zip(keys, key if isinstance(key, tuple) else (key,), strict=True))
        rules = set(g["kpi_rollup"].astype(str))
        units = g.groupby("org_unit", sort=True, dropna=False).agg(
            kpi_baseline=("kpi_baseline", "mean"), kpi_target=("kpi_target", "mean"),
            kpi_latest=("kpi_latest", "mean"), _order=("_order", "max"), n=("case_id", "nunique"))
        row.update(benefits=len(g), cases=g["case_id"].nunique(), org_units=len(units), kpi_rollup=None,
                   kpi_baseline=math.nan, kpi_target=math.nan, kpi_latest=math.nan, kpi_note="")
        shared = units[units["n"] > 1]
        notes = [f"{int(n)} cases claim it for {u or 'the same unit'}: counted once" for u, n in shared["n"].items()]
        if len(rules) != 1:
            notes.insert(0, f"not combined: roll-up rules differ ({', '.join(sorted(rules))})")
        else:
            rule = rules.pop()
            order = units["_order"]
            row.update(kpi_rollup=rule, kpi_baseline=roll_up(units["kpi_baseline"], rule, order),
                       kpi_target=roll_up(units["kpi_target"], rule, order),
                       kpi_latest=roll_up(units["kpi_latest"], rule, order))
        row["kpi_note"] = "; ".join(notes)
        out.append(row)
    return pd.DataFrame(out, columns=cols)


def _period_order(p: Any) -> float:
    if _blank(p):
        return math.nan
    s = str(p)
    try:
        y, q = parse_period(s, "quarter" if "Q" in s.upper() else "year")
    except ValueError:
        return math.nan
    return y * 4 + (q if "Q" in s.upper() else 3)


# --------------------------------------------------------------------------------------------------
# double counting
# --------------------------------------------------------------------------------------------------
_PUNCT = re.compile(r"[^\w]+", re.UNICODE)
_SYMBOLS = {"%": " percent ", "&": " and ", "#": " number ", "+": " plus "}


def normalise_kpi(name: Any, synonyms: Mapping[str, str] | None = None) -> str:
    """A KPI name reduced to what identifies it: case-folded, symbols spelled out, punctuation and
    whitespace collapsed; ``synonyms`` maps normalised words or phrases to one spelling.

    Examples
    --------
    >>> normalise_kpi("Inbound calls to the Contact-Centre ")
    'inbound calls to the contact centre'
    >>> normalise_kpi("First-contact resolution (%)")
    'first contact resolution percent'
    >>> normalise_kpi("Calls to the call centre", {"call centre": "contact centre"})
    'calls to the contact centre'
    """
    if _blank(name):
        return ""
    s = str(name).casefold()
    for k, v in _SYMBOLS.items():
        s = s.replace(k, v)
    s = " ".join(_PUNCT.sub(" ", s).replace("_", " ").split())
    for k, v in (synonyms or {}).items():
        k2 = normalise_kpi(k)
        s = re.sub(rf"\b{re.escape(k2)}\b", normalise_kpi(v), s) if k2 else s
    return s


def _quarterly_claims(case: BusinessCase) -> dict[str, dict[int, float]]:
    """Benefit line → {calendar quarter ordinal: planned amount} (plan in force; yearly spread over 4)."""
    m = case.matrix(case.current_baseline, "benefit")
    k = case.periods_per_year
    per = case.periods
    start = []
    for p in per:
        y, i = parse_period(p, case.period_length)
        start.append(y * 4 + (i if k == 4 else 0))
    out: dict[str, dict[int, float]] = {}
    vals = m.to_numpy()
    for r, lid in enumerate(m.index):
        d: dict[int, float] = {}
        for t in np.flatnonzero(np.abs(vals[r]) > _TINY):
            if k == 4:
                d[start[t]] = d.get(start[t], 0.0) + float(vals[r, t])
            else:
                for j in range(4):
                    d[start[t] + j] = d.get(start[t] + j, 0.0) + float(vals[r, t]) / 4.0
        if not d:  # not monetised: claims go-live to the end of the horizon, amount 0
            g = max(case.go_live_t or 0, 0)
            last = start[-1] + (3 if k == 1 else 0)
            d = dict.fromkeys(range(start[min(g, len(start) - 1)], last + 1), 0.0)
        out[str(lid)] = d
    return out


def _quarter_label(o: int) -> str:
    return f"{o // 4}Q{o % 4 + 1}"


def double_counting(portfolio: Portfolio | Iterable[BusinessCase], synonyms: Mapping[str, str] | None = None) -> pd.DataFrame:
    """Benefits of different cases claiming the same KPI for the same unit in overlapping periods.

    Parameters
    ----------
    portfolio : Portfolio or iterable of BusinessCase
    synonyms : mapping, optional
        Passed to :func:`normalise_kpi` (e.g. ``{"call centre": "contact centre"}``).

    Returns
    -------
    pandas.DataFrame
        One row per pair: ``kpi_key, org_unit, case_a, line_a, benefit_a, kpi_a, case_b, line_b,
        benefit_b, kpi_b, overlap_from, overlap_to, overlap_quarters, amount_at_stake, currency,
        note``. ``amount_at_stake`` is defined in the module conventions (undiscounted); NaN when the
        two cases are in different currencies. Dis-benefits are not claims and are left out.

    Examples
    --------
    >>> from vmo_lib.model import make_case
    >>> a = make_case({"case_id": "A", "org_unit": "Sales", "first_period": "2026Q1", "horizon": 4},
    ...     benefits=[{"line_id": "B1", "name": "Calls", "kpi": "Inbound calls", "amounts": [0, 10, 10, 10]}])
    >>> b = make_case({"case_id": "B", "org_unit": "Sales", "first_period": "2026Q3", "horizon": 4},
    ...     benefits=[{"line_id": "B9", "name": "Deflect", "kpi": "inbound  CALLS", "amounts": [4, 40, 4, 4]}])
    >>> d = double_counting([a, b]).iloc[0]
    >>> d["case_a"], d["case_b"], d["overlap_from"], d["overlap_to"], float(d["amount_at_stake"])
    ('A', 'B', '2026Q3', '2026Q4', 14.0)
    """
    claims = []
    for c in _cases(portfolio):
        lines = c.lines[(c.lines["kind"] == "benefit") & (c.lines["benefit_type"] != "dis-benefit")]
        if lines.empty:
            continue
        q = _quarterly_claims(c)
        cur = str(c.meta.get("currency") or "")
        for _, ln in lines.iterrows():
            key = normalise_kpi(ln["kpi"], synonyms)
            if not key:
                continue
            claims.append({"case_id": c.case_id, "line_id": str(ln["line_id"]), "name": ln["name"], "kpi": ln["kpi"],
                           "kpi_key": key, "org_unit": _org_unit(ln["org_unit"], c),
                           "unit_key": normalise_kpi(_org_unit(ln["org_unit"], c)), "currency": cur,
                           "quarters": q.get(str(ln["line_id"]), {})})
    rows = []
    by_key: dict[tuple[str, str], list[dict]] = {}
    for cl in claims:
        by_key.setdefault((cl["kpi_key"], cl["unit_key"]), []).append(cl)
    for (_key, _unit), group in sorted(by_key.items()):
        for i in range(len(group)):
            for j in range(i + 1, len(group)):
                a, b = group[i], group[j]
                if a["case_id"] == b["case_id"]:
                    continue
                if (a["case_id"], a["line_id"]) > (b["case_id"], b["line_id"]):
                    a, b = b, a
                overlap = sorted(set(a["quarters"]) & set(b["quarters"]))
                if not overlap:
                    continue
                same_cur = a["currency"] == b["currency"]
                stake = sum(min(abs(a["quarters"][o]), abs(b["quarters"][o])) for o in overlap) if same_cur else math.nan
                note = "" if same_cur else f"different currencies ({a['currency']}, {b['currency']}): amount not compared"
                if same_cur and stake == 0:
                    note = "not monetised: the KPI is claimed twice but no money is at stake"
                rows.append({
                    "kpi_key": a["kpi_key"], "org_unit": a["org_unit"], "case_a": a["case_id"], "line_a": a["line_id"],
                    "benefit_a": a["name"], "kpi_a": a["kpi"], "case_b": b["case_id"], "line_b": b["line_id"],
                    "benefit_b": b["name"], "kpi_b": b["kpi"], "overlap_from": _quarter_label(overlap[0]),
                    "overlap_to": _quarter_label(overlap[-1]), "overlap_quarters": len(overlap),
                    "amount_at_stake": float(stake), "currency": a["currency"] if same_cur else "", "note": note,
                })
    cols = ["kpi_key", "org_unit", "case_a", "line_a", "benefit_a", "kpi_a", "case_b", "line_b", "benefit_b", "kpi_b",
            "overlap_from", "overlap_to", "overlap_quarters", "amount_at_stake", "currency", "note"]
    return pd.DataFrame(rows, columns=cols).sort_values(["amount_at_stake"], ascending=False, kind="stable",
                                                         na_position="last").reset_index(drop=True)


# --------------------------------------------------------------------------------------------------
# selection under a budget
# --------------------------------------------------------------------------------------------------
def _calendar_year(period: str, length: str) -> int:
    return parse_period(period, length)[0]


def selection_options(portfolio: Portfolio | Iterable[BusinessCase], as_of: object, candidates: str = "proposed",
                      value: str = "forward_npv", view: str = "economic",
                      register: pd.DataFrame | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The candidates of a selection: their value and their forward costs per calendar year.

    Parameters
    ----------
    portfolio : Portfolio or iterable of BusinessCase
    as_of : str
        Review period: costs after it are the ones still to fund.
    candidates : {"proposed", "active"}
        Which statuses are candidates (:data:`CANDIDATE_STATUSES`).
    value : {"forward_npv", "ob_npv"}
        What the selection maximises (module conventions).
    view : {"economic", "cash"}
    register : pandas.DataFrame, optional
        :attr:`Register.cases` already built (its ``forward_npv``/``ob_npv`` are reused).

    Returns
    -------
    (options, costs) : tuple of pandas.DataFrame
        ``options`` indexed by ``case_id``: ``title, status, case_type, currency, value, must_do``
        (``must_do`` = case type Regulatory/mandatory). ``costs``: index ``case_id``, one column
        per calendar year (int), the expected undiscounted costs after ``as_of`` in that year.

    Examples
    --------
    >>> from vmo_lib.model import make_case
    >>> c = make_case({"case_id": "P", "status": "proposed", "first_period": "2026Q3", "horizon": 4,
    ...                "discount_rate": 0.0},
    ...               costs=[{"line_id": "C1", "name": "Build", "amounts": [10, 20, 30, 40]}],
    ...               benefits=[{"line_id": "B1", "name": "S", "amounts": [0, 0, 100, 100]}])
    >>> opts, costs = selection_options([c], "2026Q2")
    >>> float(opts.loc["P", "value"]), costs.loc["P"].to_dict()
    (100.0, {2026: 30.0, 2027: 70.0})
    """
    from vmo_lib.analysis.realisation import expected_flows, forward_npv, shared_work

    if candidates not in CANDIDATE_STATUSES:
        raise ValueError(f"candidates must be one of {sorted(CANDIDATE_STATUSES)}, not {candidates!r}")
    if value not in ("forward_npv", "ob_npv"):
        raise ValueError(f"value must be 'forward_npv' or 'ob_npv', not {value!r}")
    statuses = CANDIDATE_STATUSES[candidates]
    reg = None if register is None else register.set_index("case_id")
    rows, cost_rows = [], {}
    for c in _cases(portfolio):
        if str(c.meta.get("status") or "") not in statuses:
            continue
        c_as_of = case_as_of(c, as_of)
        with shared_work():  # forward_npv and expected_flows share one expected profile
            if reg is not None and c.case_id in reg.index and not pd.isna(reg.loc[c.case_id, value]):
                v = float(reg.loc[c.case_id, value])
            elif value == "forward_npv":
                v = forward_npv(c, c_as_of, view)
            else:
                from vmo_lib.analysis.scenarios import CaseMatrices, WhatIf, what_if_npv

                v = what_if_npv(CaseMatrices.from_case(c, c.current_baseline, view), WhatIf(optimism_bias=True))
            e = expected_flows(c, c_as_of)
        tau = c.t_of(c_as_of)
        t = e["t"].to_numpy()
        cost = (e["kind"].to_numpy() == "cost") & (t > tau)
        year_of_t = np.array([_calendar_year(p, c.period_length) for p in c.periods], dtype=np.int64)
        cost_rows[c.case_id] = pd.Series(e["amount"].to_numpy(dtype=float)[cost],
                                         index=year_of_t[t[cost]]).groupby(level=0).sum()
        rows.append({"case_id": c.case_id, "title": c.title, "status": c.meta.get("status"),
                     "case_type": c.meta.get("case_type"), "currency": str(c.meta.get("currency") or ""),
                     "value": v, "must_do": c.meta.get("case_type") == "Regulatory/mandatory"})
    options = pd.DataFrame(rows, columns=["case_id", "title", "status", "case_type", "currency", "value", "must_do"])
    options = options.set_index("case_id")
    costs = pd.DataFrame(cost_rows).T.reindex(options.index).fillna(0.0)
    costs = costs.reindex(sorted(costs.columns), axis=1)
    costs.index.name = "case_id"
    return options, costs


@dataclass
class Selection:
    """The best set of cases under a budget.

    Attributes
    ----------
    selected : list of str
        Case ids chosen (in the order of the input).
    value : float
        Total value of the selection (e.g. the sum of forward NPVs).
    spend : pandas.DataFrame
        Per calendar year (index): ``budget`` (inf = unconstrained), ``spend``, ``headroom``.
    table : pandas.DataFrame
        Per case: ``value, selected, must_do`` and the cost of each year.
    """

    selected: list[str]
    value: float
    spend: pd.DataFrame
    table: pd.DataFrame
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"selected": self.selected, "value": self.value, "note": self.note,
                "spend": [{"year": int(y), **{k: (None if not math.isfinite(v) else float(v)) for k, v in r.items()}}
                          for y, r in self.spend.iterrows()]}


def _budget_vector(budget: float | Mapping[int, float], years: Sequence[int]) -> np.ndarray:
    if isinstance(budget, Mapping):
        return np.array([float(budget.get(y, math.inf)) for y in years], dtype=float)
    return np.full(len(years), float(budget))


@dataclass
class _Problem:
    ids: list[str]
    v: np.ndarray
    C: np.ndarray           # (years, cases)
    years: list[int]
    lb: np.ndarray
    ub: np.ndarray
    extra_A: np.ndarray     # exclusive and dependency rows
    extra_ub: np.ndarray


def _problem(value: pd.Series, costs: pd.DataFrame, must_do: Iterable[str] | None,
             exclusive: Iterable[Iterable[str]], depends_on: Mapping[str, Iterable[str] | str],
             exclude: Iterable[str] = ()) -> _Problem:
    ids = [str(i) for i in value.index]
    pos = {k: i for i, k in enumerate(ids)}
    costs = costs.reindex(value.index).fillna(0.0)
    if (costs.to_numpy() < -_TINY).any():
        raise AnalysisError("selection costs must be >= 0")
    n = len(ids)
    lb, ub = np.zeros(n), np.ones(n)

    def need(k: str, what: str) -> int:
        if k not in pos:
            raise AnalysisError(f"{what}: {k!r} is not a candidate (candidates: {', '.join(ids)})")
        return pos[k]

    for k in must_do or ():
        lb[need(str(k), "must-do")] = 1
    for k in exclude:
        ub[need(str(k), "excluded")] = 0
    rows, rhs = [], []
    for grp in exclusive:
        row = np.zeros(n)
        for k in grp:
            row[need(str(k), "exclusive group")] = 1
        rows.append(row)
        rhs.append(1.0)
    for a, bs in depends_on.items():
        for b in ([bs] if isinstance(bs, str) else bs):
            row = np.zeros(n)
            row[need(str(a), "depends-on")] += 1
            row[need(str(b), f"{a} depends on")] -= 1
            rows.append(row)
            rhs.append(0.0)
    return _Problem(ids, value.to_numpy(dtype=float), costs.to_numpy(dtype=float).T, [int(y) for y in costs.columns],
                    lb, ub, np.array(rows).reshape(len(rows), n), np.array(rhs))


def _solve(p: _Problem, budget: np.ndarray, min_value: float | None = None) -> np.ndarray | None:
    """Max value under per-year budgets; or, with ``min_value``, min extra budget ``z`` reaching it.

    Returns the 0/1 vector (plus z as last element in the second form), or None if infeasible.
    """
    n = len(p.ids)
    cons = []
    fin = np.isfinite(budget)
    if min_value is None:
        c = -p.v
        if fin.any():
            cons.append(LinearConstraint(p.C[fin], -np.inf, budget[fin]))
        if len(p.extra_A):
            cons.append(LinearConstraint(p.extra_A, -np.inf, p.extra_ub))
        integrality = np.ones(n)
        bounds = Bounds(p.lb, p.ub)
    else:  # variables x (n) and z: minimise z s.t. C x - z <= budget, v x >= min_value
        c = np.r_[np.zeros(n), 1.0]
        A = np.c_[p.C[fin], -np.ones(int(fin.sum()))]
        if fin.any():
            cons.append(LinearConstraint(A, -np.inf, budget[fin]))
        cons.append(LinearConstraint(np.r_[p.v, 0.0][None, :], min_value, np.inf))
        if len(p.extra_A):
            cons.append(LinearConstraint(np.c_[p.extra_A, np.zeros(len(p.extra_A))], -np.inf, p.extra_ub))
        integrality = np.r_[np.ones(n), 0.0]
        bounds = Bounds(np.r_[p.lb, 0.0], np.r_[p.ub, np.inf])
    if not cons:
        cons = []
    res = milp(c, integrality=integrality, bounds=bounds, constraints=cons,
               options={"mip_rel_gap": 0.0, "presolve": True})
    if res.status != 0 or res.x is None:
        if res.status in (2,):
            return None
        if res.status == 3 and min_value is not None:
            return None
        raise AnalysisError(f"the selection solver stopped: {res.message}")
    x = res.x.copy()
    x[:n] = np.round(x[:n])
    return x


def _value_step(p: _Problem) -> float:
    """The smallest value gain that counts as "more": well above the solver's feasibility tolerance
    (1e-7, absolute), small against any case's value."""
    return 1e-6 * max(1.0, float(np.abs(p.v).max(initial=0.0)))


def _diagnose(p: _Problem, budget: np.ndarray) -> list[str]:
    """Why the constraints cannot all hold, in words."""
    n = len(p.ids)
    forced = p.lb > 0.5
    # dependencies of forced cases are forced too (transitively)
    dep = [(int(np.flatnonzero(r > 0)[0]), int(np.flatnonzero(r < 0)[0])) for r, u in zip(p.extra_A, p.extra_ub, strict=True)
           if u == 0.0 and (r > 0).sum() == 1 and (r < 0).sum() == 1]
    changed = True
    while changed:
        changed = False
        for a, b in dep:
            if forced[a] and not forced[b]:
                forced[b] = changed = True
    reasons = []
    need = p.C[:, forced].sum(axis=1) if n else np.zeros(len(p.years))
    for y, nd, b in zip(p.years, need, budget, strict=True):
        if nd > b + 1e-9:
            names = [p.ids[i] for i in np.flatnonzero(forced & (p.C[p.years.index(y)] > 0))]
            reasons.append(f"in {y} the must-do cases ({', '.join(names)}) need {nd:,.0f} but the budget is {b:,.0f}")
    for r, u in zip(p.extra_A, p.extra_ub, strict=True):
        if u == 1.0 and (forced & (r > 0)).sum() > 1:
            reasons.append("must-do cases " + ", ".join(p.ids[i] for i in np.flatnonzero(forced & (r > 0)))
                           + " are in the same mutually exclusive group")
    for i in np.flatnonzero(forced & (p.ub < 0.5)):
        reasons.append(f"{p.ids[i]} is required (must-do or a must-do depends on it) but excluded")
    return reasons or ["the must-do, exclusive and depends-on constraints cannot all hold within the budget"]


def select_portfolio(value: pd.Series, costs: pd.DataFrame, budget: float | Mapping[int, float],
                     must_do: Iterable[str] | None = None, exclusive: Iterable[Iterable[str]] = (),
                     depends_on: Mapping[str, Iterable[str] | str] | None = None,
                     currency: pd.Series | None = None) -> Selection:
    """The set of cases with the greatest total value whose costs fit the budget of every year.

    Parameters
    ----------
    value : pandas.Series
        Value of each candidate (index = case id), e.g. ``options["value"]``.
    costs : pandas.DataFrame
        Cost of each candidate (rows, same index) in each calendar year (columns).
    budget : float or mapping
        The limit of every year, or ``{year: limit}`` (years not given are unconstrained).
    must_do : iterable of str, optional
        Cases forced in.
    exclusive : iterable of iterables
        Groups of which at most one case may be selected.
    depends_on : mapping, optional
        ``{"A": ["B", ...]}``: A can only be selected if every B is.
    currency : pandas.Series, optional
        Currency of each candidate: more than one → :class:`~vmo_lib.errors.AnalysisError`.

    Returns
    -------
    Selection

    Raises
    ------
    InfeasibleSelection
        No selection satisfies the constraints (e.g. must-dos above a year's budget); the message
        names the years and cases.

    Examples
    --------
    >>> value = pd.Series({"A": 10.0, "B": 6.0, "C": 5.0})
    >>> costs = pd.DataFrame({2026: [8.0, 5.0, 4.0], 2027: [0.0, 5.0, 0.0]}, index=["A", "B", "C"])
    >>> select_portfolio(value, costs, budget={2026: 12}, depends_on={"C": "A"}).selected
    ['A', 'C']
    """
    if currency is not None and currency.nunique() > 1:
        raise AnalysisError("candidates are in more than one currency (" + ", ".join(sorted(currency.unique()))
                            + "): select within one currency, or convert them first")
    p = _problem(value, costs, must_do, exclusive, depends_on or {})
    b = _budget_vector(budget, p.years)
    x = _solve(p, b)
    if x is None:
        raise InfeasibleSelection(_diagnose(p, b))
    return _selection(p, x, b)


def _selection(p: _Problem, x: np.ndarray, b: np.ndarray) -> Selection:
    sel = x[: len(p.ids)] > 0.5
    spend = p.C[:, sel].sum(axis=1) if len(p.ids) else np.zeros(len(p.years))
    sp = pd.DataFrame({"budget": b, "spend": spend, "headroom": b - spend}, index=pd.Index(p.years, name="year"))
    table = pd.DataFrame(p.C.T, index=pd.Index(p.ids, name="case_id"), columns=p.years)
    table.insert(0, "must_do", p.lb > 0.5)
    table.insert(0, "selected", sel)
    table.insert(0, "value", p.v)
    return Selection([p.ids[i] for i in np.flatnonzero(sel)], float(p.v[sel].sum()), sp, table)


def portfolio_selection(portfolio: Portfolio | Iterable[BusinessCase], as_of: object, budget: float | Mapping[int, float] | None,
                        candidates: str = "proposed", value: str = "forward_npv", view: str = "economic",
                        must_do: Iterable[str] | None = None, exclusive: Iterable[Iterable[str]] = (),
                        depends_on: Mapping[str, Iterable[str] | str] | None = None,
                        register: pd.DataFrame | None = None) -> Selection:
    """The selection of a portfolio's candidates at a budget per year (options + :func:`select_portfolio`).

    ``must_do`` None = the Regulatory/mandatory candidates (:func:`selection_options`); ``budget``
    None = unconstrained (every candidate worth doing). ``Selection.note`` states the basis.

    Examples
    --------
    >>> from vmo_lib.model import make_case
    >>> mk = lambda i, v: make_case({"case_id": i, "status": "proposed", "first_period": "2027Q1", "horizon": 2,
    ...                              "discount_rate": 0.0},
    ...                             costs=[{"line_id": "C1", "name": "Build", "amounts": [10, 0]}],
    ...                             benefits=[{"line_id": "B1", "name": "S", "amounts": [0, v]}])
    >>> s = portfolio_selection([mk("A", 30), mk("B", 25)], "2026Q3", budget=15)
    >>> s.selected, s.value
    (['A'], 20.0)
    """
    options, costs = selection_options(portfolio, as_of, candidates, value, view, register)
    must = list(options.index[options["must_do"]]) if must_do is None else list(must_do)
    limit = math.inf if budget is None else budget
    sel = select_portfolio(options["value"], costs, limit, must_do=must, exclusive=exclusive, depends_on=depends_on,
                           currency=options["currency"])
    sel.table.insert(0, "title", options["title"].reindex(sel.table.index))
    what = {"forward_npv": "forward NPV", "ob_npv": "optimism-bias-adjusted NPV"}[value]
    limit_text = "no budget limit" if budget is None else (
        f"a budget of {budget:,.0f} a year" if not isinstance(budget, Mapping) else "the budgets per year given")
    sel.note = (f"Candidates: {', '.join(CANDIDATE_STATUSES[candidates])} cases; maximises the {what} within "
                f"{limit_text} (expected costs after {as_of}, undiscounted, by calendar year); must-do: "
                f"{', '.join(must) or 'none'}.")
    return sel


@dataclass
class BudgetStep:
    """What more budget would buy.

    Attributes
    ----------
    base : Selection
        The selection at the given budget.
    step : float
        Extra budget per constrained year that was examined (``next_breakpoint`` when not given).
    value_gain : float
        Extra value of the best selection with ``step`` more budget per year.
    entering, leaving : list of str
        How the selection changes.
    next_breakpoint : float
        The smallest extra budget per year that buys any more value (inf if nothing more can be
        bought: every worthwhile case is in).
    next_value_gain : float
        The value gained at ``next_breakpoint``.
    """

    base: Selection
    step: float
    value_gain: float
    entering: list[str]
    leaving: list[str]
    next_breakpoint: float
    next_value_gain: float

    def sentence(self, currency: str = "") -> str:
        cur = f"{currency} " if currency else ""
        if not math.isfinite(self.next_breakpoint):
            return "More budget would buy nothing: every case worth selecting is already in."
        s = (f"The next {cur}{self.step:,.0f} a year would add {cur}{self.value_gain:,.0f} of value"
             + (f" (in: {', '.join(self.entering)}" + (f"; out: {', '.join(self.leaving)}" if self.leaving else "") + ")"
                if self.entering or self.leaving else "") + ".")
        return s


def budget_step(value: pd.Series, costs: pd.DataFrame, budget: float | Mapping[int, float],
                step: float | None = None, must_do: Iterable[str] | None = None,
                exclusive: Iterable[Iterable[str]] = (), depends_on: Mapping[str, Iterable[str] | str] | None = None) -> BudgetStep:
    """What the next unit of budget would buy: the marginal value of more budget.

    Adds ``step`` to the limit of every constrained year and re-solves; also finds, exactly, the
    smallest extra budget that buys anything (a MILP minimising the extra budget subject to a
    higher value).

    Examples
    --------
    >>> value = pd.Series({"A": 10.0, "B": 6.0, "C": 5.0})
    >>> costs = pd.DataFrame({2026: [8.0, 5.0, 4.0]}, index=["A", "B", "C"])
    >>> s = budget_step(value, costs, budget=9)
    >>> s.next_breakpoint, s.next_value_gain, s.entering, s.leaving
    (3.0, 4.0, ['A'], ['B'])
    >>> budget_step(value, costs, budget=9, step=8).value_gain   # all three at 17
    10.0
    """
    p = _problem(value, costs, must_do, exclusive, depends_on or {})
    b = _budget_vector(budget, p.years)
    x = _solve(p, b)
    if x is None:
        raise InfeasibleSelection(_diagnose(p, b))
    base = _selection(p, x, b)
    eps = _value_step(p)
    nb_x = _solve(p, b, min_value=base.value + eps) if np.isfinite(b).any() else None
    if nb_x is None:
        nxt, nxt_gain = math.inf, 0.0
    else:
        nxt = float(nb_x[-1])
        xb = _solve(p, b + nxt * (1 + 1e-12) + 1e-9)
        nxt_gain = float(p.v[xb[: len(p.ids)] > 0.5].sum()) - base.value if xb is not None else 0.0
    st = nxt if step is None else float(step)
    if math.isfinite(st):
        x2 = _solve(p, b + st)
        s2 = _selection(p, x2, b + st)
    else:
        s2 = base
    before, after = set(base.selected), set(s2.selected)
    return BudgetStep(base, st, s2.value - base.value, [i for i in p.ids if i in after - before],
                      [i for i in p.ids if i in before - after], nxt, nxt_gain)


def efficient_frontier(value: pd.Series, costs: pd.DataFrame, budgets: Sequence[float] | None = None,
                       must_do: Iterable[str] | None = None, exclusive: Iterable[Iterable[str]] = (),
                       depends_on: Mapping[str, Iterable[str] | str] | None = None,
                       max_points: int = 200) -> pd.DataFrame:
    """Best value against the annual budget (the same limit every year).

    Parameters
    ----------
    value, costs, must_do, exclusive, depends_on
        As :func:`select_portfolio`.
    budgets : sequence of float, optional
        Budget levels to evaluate. Default: exactly at every breakpoint, from the cheapest feasible
        budget until nothing more can be bought (at most ``max_points`` points).

    Returns
    -------
    pandas.DataFrame
        ``budget, value, peak_spend, selected`` (``selected`` = comma-separated ids); the frontier is
        a step function: ``value`` holds from each ``budget`` to the next.

    Examples
    --------
    >>> value = pd.Series({"A": 10.0, "B": 6.0, "C": 5.0})
    >>> costs = pd.DataFrame({2026: [8.0, 5.0, 4.0]}, index=["A", "B", "C"])
    >>> efficient_frontier(value, costs)[["budget", "value", "selected"]].values.tolist()
    [[0.0, 0.0, ''], [4.0, 5.0, 'C'], [5.0, 6.0, 'B'], [8.0, 10.0, 'A'], [9.0, 11.0, 'B,C'], [12.0, 15.0, 'A,C'], [13.0, 16.0, 'A,B'], [17.0, 21.0, 'A,B,C']]
    """
    p = _problem(value, costs, must_do, exclusive, depends_on or {})
    ny = len(p.years)
    rows = []

    def point(B: float) -> None:
        x = _solve(p, np.full(ny, B * (1 + 1e-12) + 1e-9))
        if x is None:
            return
        sel = x[: len(p.ids)] > 0.5
        peak = float(p.C[:, sel].sum(axis=1).max()) if ny else 0.0
        rows.append({"budget": float(B), "value": float(p.v[sel].sum()), "peak_spend": peak,
                     "selected": ",".join(p.ids[i] for i in np.flatnonzero(sel))})

    if budgets is not None:
        for B in budgets:
            point(float(B))
        return pd.DataFrame(rows, columns=["budget", "value", "peak_spend", "selected"])
    # the cheapest feasible budget: minimise z with any value
    x0 = _solve(p, np.zeros(ny), min_value=-np.inf)
    if x0 is None:
        raise InfeasibleSelection(_diagnose(p, np.full(ny, np.inf)))
    B = float(x0[-1])
    eps = _value_step(p)
    while len(rows) < max_points:
        before = rows[-1]["value"] if rows else -math.inf
        point(B)
        if not rows or rows[-1]["value"] <= before:
            break
        nxt = _solve(p, np.zeros(ny), min_value=rows[-1]["value"] + eps)
        if nxt is None:
            break
        B = float(nxt[-1])
    return pd.DataFrame(rows, columns=["budget", "value", "peak_spend", "selected"])
