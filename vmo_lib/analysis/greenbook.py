"""Green Book and TEI views of one case review: a TEI-style summary, the benefits that are not
monetised, and affordability by UK financial year.

Every function takes a :class:`~vmo_lib.analysis.review.CaseReview` and works from the same expected
outlook (actuals to date, then the owner's forecast, then the plan in force), the same discount factors
and the same view (economic or cash) as the review, so every figure agrees with the rest of the pack:
the TEI summary's unadjusted NPV *is* the review's expected NPV.

TEI-style summary (:func:`tei_summary`)
---------------------------------------
Forrester's Total Economic Impact summary: benefits split by how bankable they are, costs, NPV, ROI and
payback, before and after a risk adjustment.

* **Cash-releasing** benefits (:data:`vmo_lib.schema.CASH_BENEFIT_TYPES`) move a budget line: bankable.
  **Other monetised** benefits (non-cash-releasing, cost avoidance, monetised quantifiable
  non-financial) are real value but release no cash. **Dis-benefits** (negative) are their own row.
* **Risk adjustment**: the benefits still to come (periods after the review period) are reduced by the
  case's Green Book optimism-bias benefit haircut at its stage
  (:func:`vmo_lib.analysis.scenarios.optimism_bias`, ``benefits``); benefits realised to date are
  actuals and are not reduced, dis-benefits are never reduced, and costs are not adjusted (the
  optimism-bias cost uplifts are in the pack's optimism-bias section). A case type with no
  optimism-bias defaults gets no adjustment, and says so.
* **ROI** = (PV benefits - PV costs) / PV costs; **payback** is the undiscounted payback of the case
  (:func:`vmo_lib.analysis.finance.payback`, counted from the start of the case's first period), given
  in months when it is under two years.

Residual value (:func:`residual_value`)
---------------------------------------
Value the assets still hold beyond the horizon, stated as one amount (case field ``residual_value``, in
the case currency and price base) and, as the Green Book records it, entered in the final period of the
appraisal and discounted with that period's factor. It is shown as its own line, with the NPV without
it (the expected NPV every other figure uses) and with it; nothing else includes it. The workbook has no
field for it yet: a case without one says "no residual value stated".

Affordability (:func:`affordability`)
-------------------------------------
The expected outlook's capex and opex per **UK financial year** (1 April to 31 March, labelled
``"2026-27"``) beside the plan in force. A quarter belongs to the financial year it falls in
(calendar Q1, January-March, closes the financial year that began the April before). A yearly case's
calendar year is split pro rata by months: a quarter to the financial year ending in its March, three
quarters to the one starting in its April (spending assumed even through the year). The portfolio's
budget (``portfolio.toml`` ``[budget] annual``) is compared in the portfolio selection, not here.

Options compared (:func:`options_appraisal`)
--------------------------------------------
The economic case's options (Costs/Benefits column *Option*, :mod:`vmo_lib.intake.options`): business as
usual, do minimum and the preferred option, each with its PV costs, PV benefits, NPV and BCR, and its NPV
relative to business as usual (incremental NPV = option NPV - BAU NPV). The options of a proposal are
plans, so they are compared on plans: the preferred option's row *is* ``review.in_force`` (the baseline in
force at the review date, the appraisal's "in force" column); business as usual and do minimum are their
own lines' planned amounts. Each option's lines state its whole flows on the same footing, appraised
by :func:`vmo_lib.analysis.appraisal.appraise` with the case's header (discount schedule, rate, first
period) and the review's view, so every row is discounted exactly as the case.

Examples
--------
>>> financial_year("2026Q1", "quarter"), financial_year("2026Q2", "quarter"), financial_year("2026Q4", "quarter")
('2025-26', '2026-27', '2026-27')
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from vmo_lib import periods
from vmo_lib.analysis import appraisal, finance, outlook
from vmo_lib.analysis.outlook import EXPECTED
from vmo_lib.analysis.scenarios import optimism_bias
from vmo_lib.errors import AnalysisError
from vmo_lib.schema import CASH_BENEFIT_TYPES

__all__ = [
    "NON_MONETISED_COLUMNS",
    "TEI_ROWS",
    "TeiSummary",
    "affordability",
    "financial_year",
    "financial_year_shares",
    "non_monetised_benefits",
    "OPTION_LABELS",
    "options_appraisal",
    "payback_text",
    "residual_value",
    "tei_summary",
]

#: Rows of :attr:`TeiSummary.table`, with their labels.
TEI_ROWS = {
    "cash_releasing": "Cash-releasing benefits (bankable), PV",
    "other_monetised": "Other monetised benefits (not cash-releasing), PV",
    "disbenefits": "Dis-benefits, PV",
    "pv_benefits": "Total benefits, PV",
    "pv_costs": "Costs, PV",
    "npv": "NPV",
    "roi": "ROI = (PV benefits - PV costs) / PV costs",
    "payback_months": "Payback (months from the start of the case)",
}
#: Columns of :func:`non_monetised_benefits`.
NON_MONETISED_COLUMNS = ("line_id", "name", "type", "owner", "kpi", "unit", "kpi_baseline", "kpi_target",
                         "kpi_latest", "kpi_latest_period", "kpi_progress_pct", "kpi_planned_progress_pct", "rag")
_HALF = 0.5  # a line whose whole-life amounts are all below half a currency unit is not monetised


# --------------------------------------------------------------------------------------------------
# TEI-style summary
# --------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class TeiSummary:
    """The TEI-style summary of one case review (module notes).

    Attributes
    ----------
    table : pandas.DataFrame
        Index: the rows of :data:`TEI_ROWS`; columns ``label``, ``expected`` (the expected outlook as
        reviewed), ``risk_adjusted`` and ``change``. Money in the case currency, ROI a fraction,
        payback in months (NaN = does not pay back within the horizon).
    haircut : float
        Share of the benefits still to come taken off (0.25 = 25 %).
    basis : str
        One sentence saying what the risk adjustment is.
    currency, view : str
    future_from : str or None
        First period whose benefits are adjusted (the one after the review period; None when the whole
        horizon is past).
    """

    table: pd.DataFrame
    haircut: float
    basis: str
    currency: str
    view: str
    future_from: str | None = None
    notes: list[str] = field(default_factory=list)

    def value(self, row: str, column: str = "risk_adjusted") -> float:
        """One figure of :attr:`table`."""
        return float(self.table.loc[row, column])


def _expected_lines(review) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, np.ndarray]:
    """Costs and benefits (lines x t) of the review's expected outlook in its view, the lines' table
    and the discount factors: the arrays behind ``review.expected``."""
    ec = outlook.expected_case(review.case, review.as_of)
    costs, bens = appraisal.line_matrices(ec, EXPECTED, review.expected.view)
    return costs, bens, ec.lines.set_index("line_id"), appraisal.discount_factors(ec)


def _haircut(review, haircut: float | None) -> tuple[float, str]:
    if haircut is not None:
        h = float(haircut)
        if not 0.0 <= h <= 1.0:
            raise ValueError(f"haircut must be a fraction between 0 and 1, not {haircut!r}")
        return h, f"benefits still to come reduced by {h:.0%} (stated haircut)"
    try:
        ob = optimism_bias(review.case)
    except AnalysisError:
        return 0.0, "no risk adjustment: the case type has no optimism-bias defaults"
    stage = f" at its stage ({ob.stage})" if ob.stage else ""
    own = "the case's own" if "benefits" in ob.from_case else "the Green Book default"
    if ob.benefits == 0.0:
        return 0.0, f"none: {own} optimism-bias benefit haircut{stage} is 0%"
    return float(ob.benefits), (f"benefits still to come reduced by {ob.benefits:.0%}, {own} optimism-bias "
                                f"benefit haircut{stage}; benefits realised to date, dis-benefits and costs "
                                "are not adjusted")


def tei_summary(review, haircut: float | None = None) -> TeiSummary:
    """TEI-style summary of a case review: bankable and other benefits, costs, NPV, ROI and payback,
    as reviewed and risk-adjusted (module notes).

    Parameters
    ----------
    review : CaseReview
    haircut : float, optional
        Share of the benefits still to come to take off; default the case's optimism-bias benefit
        haircut at its stage.

    Returns
    -------
    TeiSummary

    Examples
    --------
    A yearly case at 0 %: 100 spent, 60 a year of cash-releasing savings and 40 of staff time released,
    reviewed after its first year with a 25 % haircut on what is still to come.

    >>> from vmo_lib.model import make_case
    >>> from vmo_lib.analysis.review import review_case
    >>> case = make_case({"case_id": "T", "first_period": "2026", "period_length": "year", "horizon": 3,
    ...                   "discount_rate": 0.0},
    ...     costs=[{"line_id": "C1", "name": "Build", "amounts": [100, 0, 0]}],
    ...     benefits=[{"line_id": "B1", "name": "Saving", "amounts": [0, 60, 60]},
    ...               {"line_id": "B2", "name": "Time", "benefit_type": "non-cash-releasing",
    ...                "amounts": [0, 40, 40]}])
    >>> t = tei_summary(review_case(case, "2026Q4", iterations=0), haircut=0.25)
    >>> t.table[["expected", "risk_adjusted"]].round(4).values.tolist()
    [[120.0, 90.0], [80.0, 60.0], [0.0, 0.0], [200.0, 150.0], [100.0, 100.0], [100.0, 50.0], [1.0, 0.5], [12.0, 16.0]]
    """
    h, basis = _haircut(review, haircut)
    costs, bens, lines, df = _expected_lines(review)
    k = review.case.periods_per_year
    tau = outlook.review_offset(review.case, review.as_of)
    horizon = review.case.horizon
    btype = lines["benefit_type"].reindex(bens.index).astype(object).to_numpy()
    is_dis = btype == "dis-benefit"
    is_cash = np.isin(btype, CASH_BENEFIT_TYPES)
    b = bens.to_numpy(dtype=float)
    c = costs.to_numpy(dtype=float)
    scale = np.where(np.arange(horizon) > tau, 1.0 - h, 1.0)
    b_adj = np.where(is_dis[:, None], b, b * scale[None, :])

    def column(bm: np.ndarray) -> dict[str, float]:
        pv = bm @ df
        pv_b = float(pv.sum())
        pv_c = float((c @ df).sum())
        net = bm.sum(axis=0) - c.sum(axis=0)
        pb = float(finance.payback(net))
        return {"cash_releasing": float(pv[is_cash].sum()), "other_monetised": float(pv[~is_cash & ~is_dis].sum()),
                "disbenefits": float(pv[is_dis].sum()), "pv_benefits": pv_b, "pv_costs": pv_c,
                "npv": float(finance.npv(None, net, factors=df)),
                "roi": (pv_b - pv_c) / pv_c if abs(pv_c) > 1e-12 else math.nan,
                "payback_months": pb * 12.0 / k}

    exp, adj = column(b), column(b_adj)
    table = pd.DataFrame({"label": pd.Series(TEI_ROWS), "expected": pd.Series(exp), "risk_adjusted": pd.Series(adj)})
    table["change"] = table["risk_adjusted"] - table["expected"]
    table.index.name = "metric"
    notes = []
    if review.expected.view == "cash":
        notes.append("Cash view: only cash-releasing benefits (net of dis-benefits) are counted.")
    future_from = review.case.periods[tau + 1] if -1 <= tau < horizon - 1 else (
        review.case.periods[0] if tau < -1 else None)
    return TeiSummary(table=table, haircut=h, basis=basis, currency=review.currency, view=review.expected.view,
                      future_from=future_from, notes=notes)


def payback_text(months: float) -> str:
    """A payback for a reader: months under two years, else years; "not within the horizon" for NaN.

    Examples
    --------
    >>> payback_text(10.0), payback_text(23.96), payback_text(30.0), payback_text(float("nan"))
    ('10 months', '24 months', '2.5 years', 'not within the horizon')
    """
    if months is None or not math.isfinite(months):
        return "not within the horizon"
    if months < 24.0:
        m = round(months)
        return f"{m} month{'s' if m != 1 else ''}"
    return f"{months / 12.0:.1f} years"


# --------------------------------------------------------------------------------------------------
# benefits that are not monetised
# --------------------------------------------------------------------------------------------------
def non_monetised_benefits(review) -> pd.DataFrame:
    """The benefit lines with no money value (whole-life plan and expected amounts both nil) and their KPIs.

    Returns
    -------
    pandas.DataFrame
        :data:`NON_MONETISED_COLUMNS`, from the review's realisation table (``review.status.benefits``):
        KPI baseline, target, the latest measured value and its period, progress from baseline to target
        and the progress planned by the review period (fractions), and the line's RAG.
    """
    b = review.status.benefits
    if b is None or not len(b):
        return pd.DataFrame(columns=list(NON_MONETISED_COLUMNS))
    plan = pd.to_numeric(b.get("plan_total", pd.Series(0.0, index=b.index)), errors="coerce").fillna(0.0)
    exp = pd.to_numeric(b.get("expected_total", pd.Series(0.0, index=b.index)), errors="coerce").fillna(0.0)
    keep = b[(plan.abs() < _HALF) & (exp.abs() < _HALF)]
    out = pd.DataFrame({c: keep[c] if c in keep else pd.Series(np.nan, index=keep.index, dtype=object)
                        for c in NON_MONETISED_COLUMNS})
    return out.reset_index(drop=True)


# --------------------------------------------------------------------------------------------------
# affordability by financial year
# --------------------------------------------------------------------------------------------------
def _fy_label(start_year: int) -> str:
    return f"{start_year}-{(start_year + 1) % 100:02d}"


def financial_year(period: object, length: str) -> str:
    """The UK financial year (April to March) a quarter falls in, as ``"2026-27"``; for a yearly period,
    the financial year that starts in it (where three quarters of it fall)."""
    year, idx = periods.parse_period(period, length)
    if length == "quarter":
        return _fy_label(year if idx >= 1 else year - 1)
    return _fy_label(year)


def financial_year_shares(period: object, length: str) -> list[tuple[str, float]]:
    """How a period's amounts split across financial years: a quarter goes whole to its year; a calendar
    year a quarter to the financial year ending in its March, three quarters to the one starting in April.

    Examples
    --------
    >>> financial_year_shares("2027Q1", "quarter"), financial_year_shares("2026", "year")
    ([('2026-27', 1.0)], [('2025-26', 0.25), ('2026-27', 0.75)])
    """
    year, _ = periods.parse_period(period, length)
    if length == "quarter" or periods.is_financial_year(period):  # a financial year (FY2025-26) is itself
        return [(financial_year(period, length), 1.0)]
    return [(_fy_label(year - 1), 0.25), (_fy_label(year), 0.75)]


def affordability(review) -> pd.DataFrame:
    """Capex and opex of the expected outlook per UK financial year, beside the plan in force.

    Returns
    -------
    pandas.DataFrame
        One row per financial year (in order): ``financial_year``, ``basis`` (``actual``, ``actual +
        forecast`` or ``forecast / plan``), ``capex``, ``opex``, ``total`` (expected), ``plan_in_force``
        (costs of the baseline in force) and ``over_plan`` (``total - plan_in_force``; positive = more
        than planned). Undiscounted, in the case's price base and currency.
    """
    case = review.case
    length = case.period_length
    costs, _, lines, _ = _expected_lines(review)
    cat = lines["category"].reindex(costs.index).astype(object).to_numpy()
    c = costs.to_numpy(dtype=float)
    capex = c[cat == "capex"].sum(axis=0)
    opex = c[cat != "capex"].sum(axis=0)
    plan = review.in_force.cashflows["costs"].to_numpy(dtype=float)
    tau = outlook.review_offset(case, review.as_of)
    rows: dict[str, dict[str, float]] = {}
    for t, p in enumerate(case.periods):
        for fy, share in financial_year_shares(p, length):
            r = rows.setdefault(fy, {"capex": 0.0, "opex": 0.0, "plan_in_force": 0.0, "past": 0, "future": 0})
            r["capex"] += share * capex[t]
            r["opex"] += share * opex[t]
            r["plan_in_force"] += share * plan[t]
            r["past" if t <= tau else "future"] += 1
    out = []
    for fy in sorted(rows):
        r = rows[fy]
        basis = "actual" if not r["future"] else "forecast / plan" if not r["past"] else "actual + forecast"
        total = r["capex"] + r["opex"]
        out.append({"financial_year": fy, "basis": basis, "capex": r["capex"], "opex": r["opex"], "total": total,
                    "plan_in_force": r["plan_in_force"], "over_plan": total - r["plan_in_force"]})
    return pd.DataFrame(out, columns=["financial_year", "basis", "capex", "opex", "total", "plan_in_force",
                                      "over_plan"])


# --------------------------------------------------------------------------------------------------
# residual value beyond the horizon
# --------------------------------------------------------------------------------------------------
def residual_value(review) -> dict[str, object]:
    """The residual value beyond the horizon as a stated line (module notes).

    Returns
    -------
    dict
        ``stated`` (bool), ``amount`` (NaN when not stated), ``period`` (the final period it is entered
        in), ``discount_factor``, ``pv``, ``npv_without`` (the review's expected NPV) and ``npv_with``.

    Examples
    --------
    >>> from vmo_lib.model import make_case
    >>> from vmo_lib.analysis.review import review_case
    >>> case = make_case({"case_id": "R", "first_period": "2026", "period_length": "year", "horizon": 3,
    ...                   "discount_rate": 0.10, "residual_value": 121},
    ...     costs=[{"line_id": "C1", "name": "Build", "amounts": [100]}])
    >>> rv = residual_value(review_case(case, "2026Q4", iterations=0))
    >>> rv["period"], round(rv["pv"], 6), abs(rv["npv_with"]) < 1e-9      # 121 / 1.1^2 = 100; -100 + 100
    ('2028', 100.0, True)
    """
    case = review.case
    raw = case.meta.get("residual_value")
    try:
        amount = float(raw) if raw not in (None, "") else math.nan
    except (TypeError, ValueError):
        amount = math.nan
    df = appraisal.discount_factors(case)
    factor = float(df[-1])
    stated = math.isfinite(amount) and amount != 0.0
    pv = amount * factor if stated else 0.0
    npv = float(review.expected.npv)
    return {"stated": stated, "amount": amount if stated else math.nan, "period": case.periods[-1],
            "discount_factor": factor, "pv": pv, "npv_without": npv, "npv_with": npv + pv}


# --------------------------------------------------------------------------------------------------
# options of the economic case
# --------------------------------------------------------------------------------------------------
#: Rows of :func:`options_appraisal`, in order, with their labels.
OPTION_LABELS = {"bau": "Business as usual", "do minimum": "Do minimum", "preferred": "Preferred option"}


def options_appraisal(review) -> pd.DataFrame | None:
    """The options of the economic case compared (module notes); None when the case states none.

    Returns
    -------
    pandas.DataFrame or None
        Index ``option`` (``bau``, ``do minimum``, ``preferred``: those stated, the preferred always);
        columns ``label, pv_costs, pv_benefits, npv, bcr, npv_vs_bau`` (NaN when no BAU is stated).
        The preferred row is ``review.in_force``'s figures.

    Examples
    --------
    A yearly case at 10 %: business as usual costs 50 a year; the preferred option builds for 100 and
    saves 121 in year 2.

    >>> from vmo_lib.model import make_case
    >>> from vmo_lib.analysis.review import review_case
    >>> from vmo_lib.intake.options import split_options
    >>> case = make_case({"case_id": "O", "first_period": "2026", "period_length": "year", "horizon": 3,
    ...                   "discount_rate": 0.10},
    ...     costs=[{"line_id": "C1", "name": "Build", "amounts": [100]},
    ...            {"line_id": "C0", "name": "Keep going", "amounts": [50, 55, 60.5]}],
    ...     benefits=[{"line_id": "B1", "name": "Saving", "amounts": [0, 0, 121]}])
    >>> o = options_appraisal(review_case(split_options(case, {"C0": "bau"}), "2026Q1", iterations=0))
    >>> (o[["pv_costs", "npv", "npv_vs_bau"]].round(6) + 0.0).values.tolist()   # BAU: 50+50+50; preferred -100+100
    [[150.0, -150.0, 0.0], [100.0, 0.0, 150.0]]
    """
    case = review.case
    stated = getattr(case, "options", None) or {}
    if not stated:
        return None
    view = review.in_force.view
    rows: dict[str, dict[str, float]] = {}
    for opt in OPTION_LABELS:
        if opt == "preferred":
            a = review.in_force
        elif opt in stated:
            a = appraisal.appraise(stated[opt], "baseline", view)
        else:
            continue
        rows[opt] = {"label": OPTION_LABELS[opt], "pv_costs": float(a.pv_costs), "pv_benefits": float(a.pv_benefits),
                     "npv": float(a.npv), "bcr": float(a.bcr)}
    out = pd.DataFrame.from_dict(rows, orient="index")
    out.index.name = "option"
    out["npv_vs_bau"] = out["npv"] - out.loc["bau", "npv"] if "bau" in out.index else math.nan
    return out
