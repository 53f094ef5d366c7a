"""Reference classes for a portfolio: its own history of baseline vs actual, Green Book and GMPP data.

:func:`history_ratios` measures how far each closed or live case's actual cost, benefit and schedule
ended from its approved baseline; :func:`reference_class_uplifts` turns that into P50/P80 uplifts by
case type, compared with the Green Book starting values and the UK Government Major Projects
Portfolio (bundled, Open Government Licence v3.0). The overrun distributions the Monte Carlo draws
from live in :mod:`vmo_lib.analysis.overrun` and are re-exported here.
"""
from __future__ import annotations

import functools
import math
from collections.abc import Iterable, Sequence
from importlib import resources
from typing import Any

import numpy as np
import pandas as pd

from vmo_lib.analysis.overrun import (  # noqa: F401 - re-exported
    EmpiricalOverrun,
    OverrunDistribution,
    SplicedParetoOverrun,
    flyvbjerg_it_overrun,
    percentile,
)

__all__ = [
    "GMPP_ATTRIBUTION",
    "GMPP_CATEGORY_OF_CASE_TYPE",
    "HISTORY_MEASURES",
    "EmpiricalOverrun",
    "OverrunDistribution",
    "SplicedParetoOverrun",
    "flyvbjerg_it_overrun",
    "gmpp_budget_variance",
    "gmpp_reference",
    "green_book_uplifts",
    "HISTORY_MEMO",
    "history_ratios",
    "history_row",
    "percentile",
    "reference_class_sentence",
    "reference_class_uplifts",
]


# * Ratios are actual ÷ baseline against the ORIGINAL approved baseline ("baseline"): a formal
#   re-baseline would otherwise hide exactly the overrun a reference class exists to measure.
# * Quantiles are linear interpolation between order statistics (Hyndman & Fan type 7: numpy's
#   default, Excel's PERCENTILE.INC), so an analyst can check them in a spreadsheet. With n values
#   sorted x_0..x_{n-1}, Q(q) = x_j + (h - j) (x_{j+1} - x_j), h = (n - 1) q, j = floor(h).
# * "P80" means the level 80 % of past cases stayed within: for cost and schedule the 80th
#   percentile of the ratio (uplift = Q(0.8) - 1); for benefits the level 80 % of cases reached, the
#   20th percentile (haircut = 1 - Q(0.2)).

#: Case statuses whose history counts (closed and live cases; in-delivery cases need enough actuals).
HISTORY_STATUSES = ("closed", "live", "in delivery")
#: Measures of :func:`history_ratios`.
HISTORY_MEASURES = ("cost", "benefit", "schedule")
#: File name of the bundled public reference data (package data, Open Government Licence v3.0).
GMPP_FILE = "uk_gmpp_nista_2024-25_2025-26.csv"
GMPP_ATTRIBUTION = "Contains public sector information licensed under the Open Government Licence v3.0"
#: Category names of the GMPP release that mean the same thing, mapped to one name.
GMPP_CATEGORY_ALIASES = {"Information and Communications Technology (ICT)": "ICT"}
#: Case type → closest GMPP category (used for comparison sentences).
GMPP_CATEGORY_OF_CASE_TYPE = {
    "IT: equipment/development": "ICT",
    "IT: outsourcing": "ICT",
    "Business change": "Government Transformation and Service Delivery",
    "Regulatory/mandatory": "Government Transformation and Service Delivery",
    "Infrastructure": "Infrastructure and Construction",
}


def _first_positive(row: np.ndarray) -> int | None:
    nz = np.flatnonzero(row > 1e-9)
    return int(nz[0]) if nz.size else None


def history_ratios(cases: Iterable[Any], as_of: object, basis: str = "outturn",
                   min_reported_periods: int = 4) -> pd.DataFrame:
    """Actual ÷ baseline for cost, benefit and schedule of every case with a usable history.

    Parameters
    ----------
    cases : iterable of BusinessCase (or a Portfolio)
    as_of : str
        Review period: actuals after it are ignored (:mod:`vmo_lib.analysis.realisation` conventions); a
        yearly case counts its completed years (:func:`vmo_lib.portfolio.common.case_as_of`).
    basis : {"outturn", "to_date"}
        ``"outturn"`` (default): whole-life expected (actuals to date, then the forecast, else the
        plan in force: :func:`vmo_lib.analysis.realisation.expected_flows`) ÷ original baseline whole life.
        ``"to_date"``: actuals ÷ original baseline over the line-periods that have an actual only.
    min_reported_periods : int, default 4
        An "in delivery" case needs actuals in at least this many periods; closed and live cases
        need one. Proposed, approved and cancelled cases are left out.

    Returns
    -------
    pandas.DataFrame
        One row per eligible case: ``case_id, case_type, status, periods_reported, cost_ratio,
        benefit_ratio, schedule_ratio, slip_periods``. ``schedule_ratio`` = (planned periods to
        go-live + slip) ÷ planned periods to go-live, where the planned periods to go-live are
        ``go_live_t + 1`` and the slip is how many periods later the first expected benefit
        arrives than the first baselined benefit (a case records no actual go-live date, so the
        start of benefits stands for it). A ratio with a zero baseline is NaN.

    Examples
    --------
    >>> from vmo_lib.model import make_case
    >>> c = make_case({"case_id": "A", "status": "live", "first_period": "2025Q1", "horizon": 4,
    ...                "go_live_period": "2025Q1"},
    ...               costs=[{"line_id": "C1", "name": "Build", "amounts": [100]}],
    ...               benefits=[{"line_id": "B1", "name": "S", "amounts": [0, 50, 50, 50]}],
    ...               actuals=[{"period": "2025Q1", "line_id": "C1", "amount": 130},
    ...                        {"period": "2025Q2", "line_id": "B1", "amount": 0},
    ...                        {"period": "2025Q3", "line_id": "B1", "amount": 40}])
    >>> h = history_ratios([c], "2025Q3")
    >>> h[["cost_ratio", "benefit_ratio", "slip_periods", "schedule_ratio"]].round(4).values.tolist()
    [[1.3, 0.6, 1.0, 2.0]]
    """
    from vmo_lib.analysis.outlook import memo  # lazy: keeps this module light for the Monte Carlo

    if basis not in ("outturn", "to_date"):
        raise ValueError(f"basis must be 'outturn' or 'to_date', not {basis!r}")
    rows = []
    kind = f"{HISTORY_MEMO}:{basis}:{int(min_reported_periods)}"
    for case in cases:
        # each case's row once per case and date within an outlook.shared_work block (vmo portfolio's workers
        # build it beside the review)
        row = memo(kind, case, as_of, lambda case=case: history_row(case, as_of, basis, min_reported_periods))
        if row is not None:
            rows.append(row)
    return pd.DataFrame(rows, columns=["case_id", "case_type", "status", "periods_reported", "cost_ratio",
                                       "benefit_ratio", "schedule_ratio", "slip_periods"])


#: The :func:`vmo_lib.analysis.outlook.memo` kind of :func:`history_row` (followed by ``:basis:min_reported_periods``).
HISTORY_MEMO = "reference_class:history_row"


def history_row(case: Any, as_of: object, basis: str = "outturn", min_reported_periods: int = 4) -> dict[str, Any] | None:
    """One case's row of :func:`history_ratios` (None when the case has no usable history).

    Examples
    --------
    >>> from vmo_lib.model import make_case
    >>> history_row(make_case({"case_id": "P", "status": "proposed"}), "2026Q3") is None
    True
    """
    from vmo_lib.analysis.outlook import expected_matrix, grid
    from vmo_lib.portfolio.common import case_as_of  # lazy: keeps this module light for the Monte Carlo

    if basis not in ("outturn", "to_date"):
        raise ValueError(f"basis must be 'outturn' or 'to_date', not {basis!r}")
    status = str(case.meta.get("status") or "")
    if status not in HISTORY_STATUSES:
        return None
    c_as_of = case_as_of(case, as_of)
    tau = case.t_of(c_as_of)
    f = case.flows
    ft = f["t"].to_numpy()
    reported = ((f["scenario"].to_numpy(dtype=object) == "actual") & (ft <= tau) & (ft >= 0)
                & f["amount"].notna().to_numpy())
    n_rep = len(np.unique(ft[reported]))
    need = min_reported_periods if status == "in delivery" else 1
    if n_rep < need:
        return None
    # expected_flows' amounts (line by line, period by period), read from the grid they come from; the grid
    # also holds case.matrix("baseline")'s values (rows in case.lines order) and the lines' kinds, as built here
    # before: b = case._matrix_array("baseline"), kinds = the lines' kind reindexed on its ids
    g = grid(case, c_as_of)
    b, base_ids, kinds = g.original, g.ids, g.kind
    e = np.zeros_like(b)
    pos = {lid: i for i, lid in enumerate(base_ids)}
    e[np.array([pos[lid] for lid in g.ids], dtype=int)] = expected_matrix(g)[0]
    if basis == "to_date":
        mask = np.zeros_like(b, dtype=bool)
        act = f[reported]
        ok = act["line_id"].isin(pos)
        mask[act.loc[ok, "line_id"].map(pos).to_numpy(dtype=int), act.loc[ok, "t"].to_numpy(dtype=int)] = True
    else:
        mask = np.ones_like(b, dtype=bool)
    ratio = {}
    for kind in ("cost", "benefit"):
        k = kinds == kind
        den = float((b[k] * mask[k]).sum())
        ratio[kind] = float((e[k] * mask[k]).sum()) / den if abs(den) > 1e-9 else math.nan
    is_b = kinds == "benefit"
    first_base = _first_positive(b[is_b].sum(axis=0)) if is_b.any() else None
    first_exp = _first_positive(e[is_b].sum(axis=0)) if is_b.any() else None
    if first_base is None or first_exp is None:
        slip, sched = math.nan, math.nan
    else:
        slip = float(first_exp - first_base)
        planned = max(case.go_live_t or 0, 0) + 1
        sched = (planned + slip) / planned
    return {"case_id": case.case_id, "case_type": str(case.meta.get("case_type") or ""),
            "status": status, "periods_reported": n_rep, "cost_ratio": ratio["cost"],
            "benefit_ratio": ratio["benefit"], "schedule_ratio": sched, "slip_periods": slip}


def reference_class_uplifts(history: pd.DataFrame, by: str | None = "case_type",
                            learned: pd.DataFrame | None = None) -> pd.DataFrame:
    """P50/P80 adjustments implied by a history of actual ÷ baseline ratios.

    Parameters
    ----------
    history : pandas.DataFrame
        :func:`history_ratios` (or any table with ``cost_ratio``, ``benefit_ratio``,
        ``schedule_ratio`` and the ``by`` column).
    by : str or None, default "case_type"
        Group column; ``None`` pools every case (group ``"all"``).
    learned : pandas.DataFrame, optional
        Ratios learned from the quarterly history's closed cases
        (:func:`vmo_lib.history.accuracy.learned_ratios`: same columns as ``history``). A learned row
        replaces the row of the same ``case_id`` in ``history`` (the outturn as recorded beats one
        measured from today's files) and cases no longer in the portfolio are added. The
        distribution used is then the empirical distribution of the pooled ratios, quantiles by
        linear interpolation between order statistics (:func:`percentile`, type 7), as without it.

    Returns
    -------
    pandas.DataFrame
        One row per (group, measure): ``group, measure, n, ratio_p50, ratio_p80, adjustment,
        adjustment_p50, adjustment_p80``. Cost and schedule: ``ratio_p80`` = Q(0.8), adjustment
        "uplift" = ratio − 1. Benefit: ``ratio_p80`` = Q(0.2) (reached by 80 % of cases),
        adjustment "haircut" = 1 − ratio. Quantiles by :func:`percentile`; ``n`` counts non-NaN
        ratios — with a handful of cases the figures are indicative only.

    Examples
    --------
    >>> h = pd.DataFrame({"case_type": ["IT"] * 5, "cost_ratio": [1.0, 1.1, 1.2, 1.5, 2.0],
    ...                   "benefit_ratio": [1.0, 0.9, 0.8, 0.5, 0.7], "schedule_ratio": [1.0] * 5})
    >>> u = reference_class_uplifts(h).set_index("measure")
    >>> int(u.loc["cost", "n"]), round(float(u.loc["cost", "adjustment_p50"]), 6), round(float(u.loc["cost", "adjustment_p80"]), 6)
    (5, 0.2, 0.6)
    >>> u.loc["benefit", "adjustment"], round(float(u.loc["benefit", "ratio_p80"]), 6)
    ('haircut', 0.66)
    """
    h = history.copy()
    if learned is not None and len(learned):
        keep = ~h["case_id"].isin(learned["case_id"]) if "case_id" in h else slice(None)
        h = pd.concat([h[keep], learned], ignore_index=True)
    if by is None:
        h["_group"] = "all"
        by = "_group"
    out = []
    for group, g in h.groupby(by, sort=True, dropna=False):
        for measure in HISTORY_MEASURES:
            v = g[f"{measure}_ratio"].to_numpy(dtype=float)
            v = v[~np.isnan(v)]
            p50 = percentile(v, 0.5)
            if measure == "benefit":
                p80 = percentile(v, 0.2)
                adj, a50, a80 = "haircut", 1.0 - p50, 1.0 - p80
            else:
                p80 = percentile(v, 0.8)
                adj, a50, a80 = "uplift", p50 - 1.0, p80 - 1.0
            out.append({"group": group, "measure": measure, "n": int(v.size), "ratio_p50": p50,
                        "ratio_p80": p80, "adjustment": adj, "adjustment_p50": a50, "adjustment_p80": a80})
    return pd.DataFrame(out, columns=["group", "measure", "n", "ratio_p50", "ratio_p80", "adjustment",
                                      "adjustment_p50", "adjustment_p80"])


@functools.lru_cache(maxsize=1)
def _gmpp_cached() -> pd.DataFrame:
    with resources.files("vmo_lib").joinpath("data", GMPP_FILE).open("rb") as fh:
        d = pd.read_csv(fh)
    d["category"] = d["category"].replace(GMPP_CATEGORY_ALIASES)
    return d


def gmpp_reference() -> pd.DataFrame:
    """The bundled UK Government Major Projects Portfolio extract (2024-25 and 2025-26 reports).

    Categories are harmonised (:data:`GMPP_CATEGORY_ALIASES`). ``fy_budget_variance_pct`` is the
    published in-year variance between budget and forecast in percent, **unsigned** (the release
    gives its size, not its direction). Attribution: :data:`GMPP_ATTRIBUTION`.

    Examples
    --------
    >>> d = gmpp_reference()
    >>> len(d), sorted(d["report_year"].unique())
    (402, ['2024-25', '2025-26'])
    """
    return _gmpp_cached().copy()


def gmpp_budget_variance(categories: Sequence[str] | None = ("ICT", "Government Transformation and Service Delivery"),
                         data: pd.DataFrame | None = None) -> pd.DataFrame:
    """P50 and P80 of the in-year budget variance (%) of UK major projects, by category.

    Parameters
    ----------
    categories : sequence of str or None
        GMPP categories (harmonised names); ``None`` = all.
    data : pandas.DataFrame, optional
        A GMPP table (default :func:`gmpp_reference`). Both report years are pooled: each is a
        separate in-year observation. Blank variances are left out.

    Returns
    -------
    pandas.DataFrame
        ``category, n, p50, p80`` (percent, :func:`percentile`).

    Examples
    --------
    >>> t = gmpp_budget_variance(["ICT"]).iloc[0]
    >>> t["category"], int(t["n"])
    ('ICT', 39)
    """
    d = gmpp_reference() if data is None else data
    if categories is not None:
        unknown = sorted(set(categories) - set(d["category"].unique()))
        if unknown:
            raise ValueError(f"unknown GMPP categories {unknown}; the data has {sorted(d['category'].unique())}")
        d = d[d["category"].isin(list(categories))]
    out = []
    for cat, g in d.groupby("category", sort=True):
        v = g["fy_budget_variance_pct"].dropna().to_numpy(dtype=float)
        out.append({"category": cat, "n": int(v.size), "p50": percentile(v, 0.5), "p80": percentile(v, 0.8)})
    return pd.DataFrame(out, columns=["category", "n", "p50", "p80"])


def green_book_uplifts(case_type: str) -> dict[str, float]:
    """Green Book optimism-bias upper starting values for a case type (from :mod:`vmo_lib.analysis.scenarios`).

    Examples
    --------
    >>> green_book_uplifts("IT: equipment/development")
    {'class': 'Equipment/development', 'capex': 2.0, 'duration': 0.54, 'opex': 0.0}
    """
    from vmo_lib.analysis.scenarios import CASE_TYPE_CLASS, MOTT_MACDONALD_2002

    cls = CASE_TYPE_CLASS.get(case_type)
    if cls is None:
        raise ValueError(f"unknown case type {case_type!r}; expected one of {sorted(CASE_TYPE_CLASS)}")
    t = MOTT_MACDONALD_2002[cls]
    return {"class": cls, **{k: t.get(k, (0.0, 0.0))[0] for k in ("capex", "duration", "opex")}}


def reference_class_sentence(case_type: str, history: pd.DataFrame, gmpp: pd.DataFrame | None = None,
                             min_n: int = 3) -> str:
    """What the organisation's history, the Green Book and UK major projects say about a case type.

    Parameters
    ----------
    case_type : str
    history : pandas.DataFrame
        :func:`history_ratios`. When the type has fewer than ``min_n`` cost ratios, the figure of
        every case with a history is quoted instead, and the sentence says so.
    gmpp : pandas.DataFrame, optional
        :func:`gmpp_budget_variance` for all categories (default: computed from the bundled data).
    min_n : int, default 3

    Examples
    --------
    >>> h = pd.DataFrame({"case_type": ["IT: equipment/development"] * 5,
    ...                   "cost_ratio": [1.0, 1.1, 1.2, 1.5, 2.0], "benefit_ratio": [1.0] * 5,
    ...                   "schedule_ratio": [1.0] * 5})
    >>> s = reference_class_sentence("IT: equipment/development", h)
    >>> s.split(";")[0]
    'Cases like this one (IT: equipment/development, n=5) have historically needed a +60% cost uplift (P80, P50 +20%), a small sample: indicative only'
    >>> s.split(";")[1]
    " the Green Book starting value is +200% on capex and +54% on duration (Mott MacDonald class 'Equipment/development')"
    """
    def cost_row(by: str | None) -> pd.Series | None:
        t = reference_class_uplifts(history if by else history.assign(case_type="all"), "case_type")
        r = t[(t["group"] == (case_type if by else "all")) & (t["measure"] == "cost")]
        return r.iloc[0] if len(r) and int(r.iloc[0]["n"]) > 0 else None

    row = cost_row("case_type") if len(history) else None
    n = 0 if row is None else int(row["n"])
    if n >= min_n:
        head = (f"Cases like this one ({case_type}, n={n}) have historically needed a "
                f"{_pct(row['adjustment_p80'])} cost uplift (P80, P50 {_pct(row['adjustment_p50'])})")
        if n < 10:
            head += ", a small sample: indicative only"
    else:
        pooled = cost_row(None) if len(history) else None
        if pooled is not None:
            head = (f"Too few cases like this one ({case_type}, n={n}) for a figure of their own; the "
                    f"{int(pooled['n'])} cases of every type with a history needed a "
                    f"{_pct(pooled['adjustment_p80'])} cost uplift (P80, P50 {_pct(pooled['adjustment_p50'])})")
        else:
            head = f"No case of this organisation has a cost history yet ({case_type}, n=0)"
    parts = [head]
    try:
        gb = green_book_uplifts(case_type)
        named = [f"{_pct(gb[k])} on {k}" for k in ("capex", "duration", "opex") if gb[k]]
        parts.append(f"the Green Book starting value is {' and '.join(named) or 'none'} "
                     f"(Mott MacDonald class {gb['class']!r})")
    except ValueError:
        pass
    cat = GMPP_CATEGORY_OF_CASE_TYPE.get(case_type)
    if cat:
        g = gmpp_budget_variance(None) if gmpp is None else gmpp
        r = g[g["category"] == cat]
        if len(r):
            r = r.iloc[0]
            parts.append(f"UK major projects in \"{cat}\" (GMPP 2024-25 and 2025-26, n={int(r['n'])}) show a "
                         f"P80 in-year budget variance of {r['p80']:.0f}% (P50 {r['p50']:.0f}%, size not direction)")
    return "; ".join(parts) + "."


def _pct(x: float) -> str:
    return "n/a" if x is None or math.isnan(x) else f"{x:+.0%}"
