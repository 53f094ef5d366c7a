"""The portfolio register: every case appraised at once, its status and risk; ranking and totals.

A VMO governs a portfolio, not a case (DOMAIN.md §2, §6). Every function here is pure: it takes a
:class:`~vmo_lib.model.Portfolio` (or a list of cases, or the tables built from them) and returns
tables, numbers or dataclasses.

Conventions
-----------
* **Money is never added across currencies.** Totals are per currency (:func:`totals_by_currency`).
* **Budget** (for value for money) = **PV of capex** of the baseline in force: the constrained,
  one-off investment a board allocates. ``vfm = NPV / budget`` (NaN when there is no capex).
* Each case's figures are on **its own basis** (its first period, discount rate and price base);
  :mod:`vmo_lib.portfolio.basis` restates them on one portfolio basis before they are added.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from vmo_lib.analysis import appraisal, finance
from vmo_lib.errors import AnalysisError
from vmo_lib.model import BusinessCase, Portfolio
from vmo_lib.portfolio.common import TINY, case_as_of, cases_of, kpi_rule, org_unit_of
from vmo_lib.portfolio.double_counting import normalise_kpi

__all__ = [
    "BENEFIT_REGISTER_COLUMNS",
    "REGISTER_COLUMNS",
    "BENEFIT_COLUMNS_MEMO",
    "Register",
    "batch_appraisal",
    "benefit_columns",
    "benefit_register",
    "build_register",
    "rank_cases",
    "totals_by_currency",
]

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
    cases = cases_of(portfolio)
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
        bcr = np.where(np.abs(pv_c) > TINY, pv_b / pv_c, np.nan)
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
    cases = cases_of(portfolio)
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
            "vfm": float(a["npv"]) / budget if budget > TINY else math.nan,
            "irr": float(a["irr"]), "bcr": float(a["bcr"]), "payback_years": float(a["payback_years"]),
            "risk_p10": risk["risk_p10"], "risk_p90": risk["risk_p90"],
            "risk_spread": risk["risk_p90"] - risk["risk_p10"], "prob_negative": risk["prob_negative"],
            "source": c.source,
        })
    reg = pd.DataFrame(rows, columns=list(REGISTER_COLUMNS))
    return Register(as_of=as_of, view=view, cases=reg, benefits=benefit_register(cases, statuses), status=statuses)


#: The :func:`vmo_lib.analysis.outlook.memo` kind of :func:`benefit_columns` (keyed by the benefit table).
BENEFIT_COLUMNS_MEMO = "register:benefit_columns"


def benefit_columns(case: BusinessCase, benefits: pd.DataFrame) -> dict[str, list[Any]]:
    """The benefit register's columns that come from the case rather than its benefit table ``benefits``
    (:attr:`vmo_lib.analysis.realisation.CaseStatus.benefits`): ``case_id, benefit_type, org_unit, kpi_key,
    kpi_rollup, strategic_objective, case_status, currency``, one entry per row of ``benefits``.

    Examples
    --------
    >>> from vmo_lib.model import make_case
    >>> c = make_case({"case_id": "A", "org_unit": "Ops"}, benefits=[{"line_id": "B1", "name": "S", "amounts": [1]}])
    >>> b = pd.DataFrame({"line_id": ["B1"], "type": ["cash-releasing"], "kpi": ["Hours (%)"], "unit": ["%"],
    ...                   "kpi_rollup": [""]})
    >>> cols = benefit_columns(c, b)
    >>> cols["org_unit"], cols["kpi_key"]
    (['Ops'], ['hours percent'])
    """
    unit_of = dict(zip(case.lines["line_id"].tolist(), case.lines["org_unit"].tolist(), strict=True))
    kpi_keys: dict[Any, str] = {}
    rules: dict[tuple[Any, Any], str] = {}
    keys = []
    for k in benefits["kpi"].tolist():
        if k not in kpi_keys:
            kpi_keys[k] = normalise_kpi(k)
        keys.append(kpi_keys[k])
    rule = []
    for u, r in zip(benefits["unit"].tolist(), benefits["kpi_rollup"].tolist(), strict=True):
        key = (u, r)
        if key not in rules:
            rules[key] = kpi_rule(u, r)
        rule.append(rules[key])
    n = len(benefits)
    return {"case_id": [case.case_id] * n, "benefit_type": benefits["type"].tolist(),
            "org_unit": [org_unit_of(unit_of.get(lid), case) for lid in benefits["line_id"].tolist()],
            "kpi_key": keys, "kpi_rollup": rule,
            "strategic_objective": [case.meta.get("strategic_objective") or ""] * n,
            "case_status": [case.meta.get("status") or ""] * n, "currency": [str(case.meta.get("currency") or "")] * n}


def benefit_register(portfolio: Portfolio | Iterable[BusinessCase], statuses: Mapping[str, Any]) -> pd.DataFrame:
    """Every benefit of every case with its profile, status and RAG (columns :data:`BENEFIT_REGISTER_COLUMNS`).

    Parameters
    ----------
    portfolio : Portfolio or iterable of BusinessCase
    statuses : mapping
        ``case_id`` → :class:`vmo_lib.analysis.realisation.CaseStatus` (as in :attr:`Register.status`).
    """
    from vmo_lib.analysis.outlook import memo

    frames, extra = [], []
    for c in cases_of(portfolio):
        b = statuses[c.case_id].benefits
        # the case's own columns once per benefit table within an outlook.shared_work block (vmo portfolio's
        # workers build them beside the review)
        extra.append(memo(BENEFIT_COLUMNS_MEMO, b, c.case_id, lambda c=c, b=b: benefit_columns(c, b)))
        frames.append(b)
    if not frames:
        return pd.DataFrame(columns=list(BENEFIT_REGISTER_COLUMNS))
    out = pd.concat(frames, ignore_index=True)
    for col in extra[0]:
        out[col] = [v for e in extra for v in e[col]]
    return out.reindex(columns=list(BENEFIT_REGISTER_COLUMNS))


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
