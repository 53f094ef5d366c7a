"""Case-level appraisal: present values, NPV, IRR, MIRR, ROI, BCR, payback and the cash-flow table.

Conventions (the README lists the same for users)
-------------------------------------------------
* **Period 0 is not discounted.** ``DF_t = (1 + r_p) ** -t`` with the per-period rate
  ``r_p = (1 + r) ** (1 / k) - 1`` from the case's annual rate ``r`` and ``k`` periods a year
  (compounding, never ``r / 4``). Excel's equivalent of our NPV is ``=v0 + NPV(r_p, v1..vn)``.
* The **Green Book** schedules (``discount_schedule = "green book"`` or ``"green book health"``)
  replace the flat rate by HM Treasury's declining real STPR (3.5 % to year 30, 3.0 % to 75, ...),
  chained; period ``t`` is year ``t / k``.
* **Views.** ``"economic"`` (the default, the value question) counts every monetised benefit:
  cash-releasing, non-cash-releasing, cost avoidance and monetised quantifiable non-financial
  benefits, net of dis-benefits. ``"cash"`` counts cash-releasing benefits net of dis-benefits only:
  what really moves a budget line. Costs are the same in both views.
* Amounts: costs positive, benefits positive, dis-benefits negative; ``net = benefits - costs``.
* ``PV benefits`` is net of dis-benefits. **ROI** = (PV benefits − PV costs) / PV costs (a
  discounted ROI, named ``roi``); **BCR** = PV benefits / PV costs; both NaN when PV costs is 0.
* **IRR** and **MIRR** are solved on the per-period net flows and reported *annualised*
  (``(1 + r_p) ** k - 1``); MIRR finances and reinvests at the case's discount rate.
  A series with several IRRs is flagged in ``irr_note`` (use MIRR); no root → NaN.
* **Payback** / **discounted payback**: fractional periods from period 0 until the cumulative
  (discounted) net flow first turns non-negative; NaN = never within the horizon. ``*_years`` = periods
  ÷ k.
* **Equivalent annual cost**: PV costs spread as a level end-of-year annuity over the horizon in
  years at the annual rate (for Green Book cases, 3.5 %).

Examples
--------
>>> from vmo_lib.model import make_case
>>> case = make_case({"case_id": "X", "first_period": "2026", "period_length": "year", "horizon": 3,
...                   "discount_rate": 0.10},
...                  costs=[{"line_id": "C1", "name": "Build", "amounts": [100, 0, 0]}],
...                  benefits=[{"line_id": "B1", "name": "Saving", "amounts": [0, 66, 60.5]}])
>>> a = appraise(case)
>>> round(a.npv, 6), round(a.bcr, 4), round(a.roi, 4)
(10.0, 1.1, 0.1)
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from vmo_lib.analysis import finance
from vmo_lib.model import BusinessCase

__all__ = [
    "VIEWS",
    "Appraisal",
    "annual_rate_of",
    "appraise",
    "appraise_lines",
    "discount_factors",
    "line_arrays",
    "line_matrices",
    "net_flows",
    "npv_of",
]

VIEWS = ("economic", "cash")
#: Benefit types counted in each view (dis-benefits always count against value).
VIEW_BENEFIT_TYPES = {
    "economic": ("cash-releasing", "non-cash-releasing", "cost avoidance", "quantifiable non-financial", "dis-benefit"),
    "cash": ("cash-releasing", "dis-benefit"),
}
_GREEN_BOOK = {"green book": "standard", "green book health": "health"}
#: Annual rate that stands for a Green Book schedule where one rate is needed (MIRR, EAC).
GREEN_BOOK_HEADLINE_RATE = {"standard": 0.035, "health": 0.015}


def annual_rate_of(case: BusinessCase, annual_rate: float | None = None) -> float:
    """The single annual rate used for MIRR and EAC: the override, the case's rate, or 3.5 % (1.5 %
    health) for a Green Book case."""
    if annual_rate is not None:
        return float(annual_rate)
    schedule = _GREEN_BOOK.get(str(case.meta.get("discount_schedule") or "flat"))
    if schedule:
        return GREEN_BOOK_HEADLINE_RATE[schedule]
    return float(case.meta["discount_rate"])


def discount_factors(case: BusinessCase, annual_rate: float | None = None) -> np.ndarray:
    """Discount factor of every period of the case, ``DF[0] = 1``.

    Parameters
    ----------
    case : BusinessCase
    annual_rate : float, optional
        Overrides the case's rate *and* schedule with a flat annual rate (what-if analysis).

    Examples
    --------
    >>> from vmo_lib.model import make_case
    >>> c = make_case({"first_period": "2026Q1", "horizon": 5, "discount_rate": 0.08})
    >>> discount_factors(c).round(6).tolist()
    [1.0, 0.980944, 0.96225, 0.943913, 0.925926]
    """
    k = case.periods_per_year
    schedule = _GREEN_BOOK.get(str(case.meta.get("discount_schedule") or "flat"))
    if annual_rate is None and schedule:
        return finance.green_book_discount_factors(case.horizon, k, schedule)
    rate = float(case.meta["discount_rate"]) if annual_rate is None else float(annual_rate)
    return finance.discount_factors(finance.per_period_rate(rate, k), case.horizon)


def line_matrices(case: BusinessCase, scenario: str = "baseline", view: str = "economic") -> tuple[pd.DataFrame, pd.DataFrame]:
    """Costs and benefits of one scenario as two wide tables (rows = lines, columns = ``t``).

    Benefit lines whose type is outside ``view`` are left out; dis-benefits stay negative.
    """
    if view not in VIEWS:
        raise ValueError(f"view must be one of {VIEWS}, not {view!r}")
    fast = line_arrays(case, scenario, view)
    if fast is not None:  # unique line ids: the same tables without a lookup table per call
        arr, index, is_cost, in_view = fast[:4]
        cols = pd.RangeIndex(case.horizon, name="t")
        return (pd.DataFrame(arr[is_cost], index=index[is_cost], columns=cols),
                pd.DataFrame(arr[in_view], index=index[in_view], columns=cols))
    m = case.matrix(scenario)
    lines = case.lines.set_index("line_id")
    kind = lines["kind"].reindex(m.index)
    costs = m[kind.to_numpy() == "cost"]
    btype = lines["benefit_type"].reindex(m.index)
    in_view = (kind.to_numpy() == "benefit") & btype.isin(VIEW_BENEFIT_TYPES[view]).to_numpy()
    return costs, m[in_view]


def line_arrays(case: BusinessCase, scenario: str, view: str) -> tuple | None:
    """:func:`line_matrices` as arrays: ``(matrix, index, is_cost, in_view, category, benefit_type)`` —
    every line's row of ``scenario`` (``case.matrix`` order), its ``line_id`` index and, per row, whether it
    is a cost, a benefit counted in ``view``, its category and benefit type. None when line ids repeat
    (then :func:`line_matrices` keeps its table lookups and their errors).

    Within a review (:func:`vmo_lib.analysis.outlook.shared_work`) built once per case, scenario and view
    (every appraisal and matrix of the review reads them); the arrays are then read-only.
    """
    from vmo_lib.analysis.outlook import memo  # outlook builds on this module: imported when first used

    return memo(f"line_arrays:{scenario}:{view}", case, "", lambda: _line_arrays(case, scenario, view))


def _line_arrays(case: BusinessCase, scenario: str, view: str) -> tuple | None:
    lines = case.lines
    lid = lines["line_id"]
    if not lid.is_unique:
        return None
    arr, ids = case._matrix_array(scenario)
    if len(ids) != len(lines):
        return None
    kind = lines["kind"].to_numpy(dtype=object)
    btype = lines["benefit_type"].to_numpy(dtype=object)
    allowed = frozenset(VIEW_BENEFIT_TYPES[view])
    is_cost = kind == "cost"
    in_view = (kind == "benefit") & np.fromiter((_isin(b, allowed) for b in btype), dtype=bool, count=len(btype))
    index = pd.Index(ids, name="line_id")
    for a in (arr, is_cost, in_view):  # made here; shared within a review, every caller takes rows (copies)
        a.setflags(write=False)
    return arr, index, is_cost, in_view, lines["category"].to_numpy(dtype=object), btype


def _isin(v: Any, allowed: frozenset) -> bool:
    try:
        return v in allowed
    except TypeError:  # an unhashable cell is in no view
        return False


def net_flows(case: BusinessCase, scenario: str = "baseline", view: str = "economic") -> np.ndarray:
    """Net flow (benefits − costs) per period of a scenario in a view."""
    costs, benefits = line_matrices(case, scenario, view)
    return benefits.to_numpy().sum(axis=0) - costs.to_numpy().sum(axis=0)


def npv_of(case: BusinessCase, scenario: str = "baseline", view: str = "economic", annual_rate: float | None = None) -> float:
    """NPV of one scenario (the fast path when only the NPV is needed)."""
    return float(finance.npv(None, net_flows(case, scenario, view), factors=discount_factors(case, annual_rate)))


@dataclass
class Appraisal:
    """The appraisal of one scenario of a case in one view. Amounts in the case currency.

    ``irr``/``mirr`` are annual rates; ``irr_per_period`` is the rate per period of the case.
    ``payback``/``discounted_payback`` are in periods (``*_years`` in years); NaN = never.
    """

    case_id: str
    scenario: str
    view: str
    currency: str
    price_base: str
    periods_per_year: int
    discount_schedule: str
    annual_rate: float
    pv_costs: float
    pv_capex: float
    pv_opex: float
    pv_benefits: float
    pv_benefits_by_type: dict[str, float]
    pv_cash_benefits: float
    pv_disbenefits: float
    npv: float
    irr: float
    irr_per_period: float
    irr_note: str
    mirr: float
    roi: float
    bcr: float
    payback: float
    payback_years: float
    discounted_payback: float
    discounted_payback_years: float
    equivalent_annual_cost: float
    undiscounted_costs: float
    undiscounted_benefits: float
    cashflows: pd.DataFrame = field(repr=False)
    notes: list[str] = field(default_factory=list)

    def to_dict(self, cashflows: bool = False) -> dict[str, Any]:
        """Plain-data form (the JSON of ``vmo appraise``); NaN stays NaN (the CLI writes null)."""
        d = asdict(self)
        d.pop("cashflows")
        if cashflows:
            d["cashflows"] = self.cashflows.to_dict(orient="records")
        return d

    def summary(self) -> pd.Series:
        """The headline metrics as one labelled column, for display."""
        labels = {
            "pv_costs": "PV costs", "pv_benefits": "PV benefits (net of dis-benefits)", "npv": "NPV",
            "irr": "IRR (annual)", "mirr": "MIRR (annual)", "roi": "ROI = (PVB − PVC) / PVC",
            "bcr": "Benefit-cost ratio", "payback_years": "Payback (years)",
            "discounted_payback_years": "Discounted payback (years)",
            "equivalent_annual_cost": "Equivalent annual cost",
        }
        return pd.Series({v: getattr(self, k) for k, v in labels.items()}, name=f"{self.case_id} · {self.scenario}")


def appraise(case: BusinessCase, scenario: str = "baseline", view: str = "economic", annual_rate: float | None = None) -> Appraisal:
    """Appraise one scenario of a case.

    Parameters
    ----------
    case : BusinessCase
    scenario : str
        Any scenario in ``case.flows`` (``"baseline"``, ``"rebaseline:RB1"``, or a blended one such
        as the realisation module's ``"expected"``).
    view : {"economic", "cash"}
        Which benefits count (module docstring).
    annual_rate : float, optional
        Flat annual discount rate overriding the case's rate and schedule.

    Returns
    -------
    Appraisal

    Examples
    --------
    A quarterly case at 8 % a year: 1,000 spent now, 300 saved in each of the next four quarters.

    >>> from vmo_lib.model import make_case
    >>> case = make_case({"case_id": "Q", "first_period": "2026Q1", "horizon": 5, "discount_rate": 0.08},
    ...                  costs=[{"line_id": "C1", "name": "Build", "amounts": [1000]}],
    ...                  benefits=[{"line_id": "B1", "name": "Saving", "amounts": [0, 300, 300, 300, 300]}])
    >>> a = appraise(case)
    >>> round(a.npv, 2), round(a.payback, 4), round(a.irr, 4)
    (143.91, 3.3333, 0.3461)
    """
    fast = line_arrays(case, scenario, view) if view in VIEWS else None
    if fast is not None:  # the same arrays line_matrices and the line table lookups give
        arr, _, is_cost, in_view, category, btype = fast
        c, b, category, btype = arr[is_cost], arr[in_view], category[is_cost], btype[in_view]
    else:
        costs, benefits = line_matrices(case, scenario, view)
        lines = case.lines.set_index("line_id")
        c = costs.to_numpy()
        b = benefits.to_numpy()
        category = lines["category"].reindex(costs.index).to_numpy()
        btype = lines["benefit_type"].reindex(benefits.index).to_numpy()
    return appraise_lines(case, scenario, view, c, b, category, btype, annual_rate)


def appraise_lines(case: BusinessCase, scenario: str, view: str, c: np.ndarray, b: np.ndarray, category: np.ndarray,
                   btype: np.ndarray, annual_rate: float | None = None) -> Appraisal:
    """:func:`appraise` on a scenario's line arrays, without reading its flows.

    Parameters
    ----------
    case : BusinessCase
        Gives the header (periods, rate and schedule, currency) and ``case_id``.
    scenario, view : str
        The labels the result carries (``c`` and ``b`` must already be that scenario in that view).
    c, b : ndarray
        ``(lines, horizon)`` costs and benefits in the view: the rows of :func:`line_matrices`.
    category, btype : ndarray
        Each cost row's category, each benefit row's benefit type.
    annual_rate : float, optional
        As :func:`appraise`.

    Returns
    -------
    Appraisal
        What :func:`appraise` returns for a scenario with these lines.
    """
    k = case.periods_per_year
    df = discount_factors(case, annual_rate)
    rate = annual_rate_of(case, annual_rate)
    pv_c_lines = c @ df
    pv_b_lines = b @ df
    by_type = {str(t): float(pv_b_lines[btype == t].sum()) for t in pd.unique(btype)}

    cost_t = c.sum(axis=0)
    ben_t = b.sum(axis=0)
    net = ben_t - cost_t
    pv_costs = float(pv_c_lines.sum())
    pv_benefits = float(pv_b_lines.sum())
    npv = float(finance.npv(None, net, factors=df))

    rep = finance.irr_report(net)
    irr_p = rep.irr
    irr_a = (1.0 + irr_p) ** k - 1.0 if not math.isnan(irr_p) else math.nan
    rp = finance.per_period_rate(rate, k)
    mirr_p = float(finance.mirr(net, rp, rp))
    mirr_a = (1.0 + mirr_p) ** k - 1.0 if not math.isnan(mirr_p) else math.nan
    pb = float(finance.payback(net))
    dpb = float(finance.discounted_payback(None, net, factors=df))
    years = case.horizon / k
    eac = float(finance.equivalent_annual_cost(rate, pv_costs, years)) if pv_costs else 0.0

    with np.errstate(all="ignore"):
        roi = (pv_benefits - pv_costs) / pv_costs if pv_costs else math.nan
        bcr = pv_benefits / pv_costs if pv_costs else math.nan

    pv_net_t = net * df
    cashflows = pd.DataFrame({
        "period": case.periods,
        "t": np.arange(case.horizon),
        "costs": cost_t,
        "benefits": ben_t,
        "net": net,
        "discount_factor": df,
        "pv_net": pv_net_t,
        "cumulative_net": np.cumsum(net),
        "cumulative_pv_net": np.cumsum(pv_net_t),
    })
    notes: list[str] = []
    schedule = str(case.meta.get("discount_schedule") or "flat")
    if schedule in _GREEN_BOOK and str(case.meta.get("price_base")) == "nominal" and annual_rate is None:
        notes.append("The Green Book STPR is a real rate but this case is in nominal prices: restate it in real terms.")
    if rep.ambiguous:
        notes.append(rep.message)

    return Appraisal(
        case_id=case.case_id, scenario=scenario, view=view, currency=str(case.meta.get("currency") or ""),
        price_base=str(case.meta.get("price_base") or ""), periods_per_year=k,
        discount_schedule=schedule if annual_rate is None else "flat", annual_rate=rate,
        pv_costs=pv_costs,
        pv_capex=float(pv_c_lines[category == "capex"].sum()),
        pv_opex=float(pv_c_lines[category == "opex"].sum()),
        pv_benefits=pv_benefits, pv_benefits_by_type=by_type,
        pv_cash_benefits=by_type.get("cash-releasing", 0.0),
        pv_disbenefits=by_type.get("dis-benefit", 0.0),
        npv=npv, irr=irr_a, irr_per_period=irr_p, irr_note=rep.message, mirr=mirr_a, roi=roi, bcr=bcr,
        payback=pb, payback_years=pb / k, discounted_payback=dpb, discounted_payback_years=dpb / k,
        equivalent_annual_cost=eac,
        undiscounted_costs=float(cost_t.sum()), undiscounted_benefits=float(ben_t.sum()),
        cashflows=cashflows, notes=notes,
    )
