"""The case pack's Green Book and TEI views (:mod:`vmo_lib.analysis.greenbook`) as HTML blocks.

:func:`greenbook_block` renders, from one :class:`~vmo_lib.analysis.review.CaseReview`: the TEI-style
summary (bankable and other benefits, costs, NPV, ROI, payback, as reviewed and risk-adjusted), the
benefits that are not monetised with their KPIs, and the expected spend by UK financial year against the
plan in force. Every string from a workbook is escaped; tables use :func:`vmo_lib.outputs.html.table`.
"""

from __future__ import annotations

import html
import math
from typing import Any

import pandas as pd

from vmo_lib.analysis import greenbook
from vmo_lib.formatting import format_money, format_money_change, format_percent
from vmo_lib.outputs.html import Html, table

__all__ = ["affordability_block", "greenbook_block", "non_monetised_block", "options_block", "tei_block"]


def _money(x: Any, cur: str) -> str:
    return "–" if x is None or (isinstance(x, float) and math.isnan(x)) else format_money(x, cur)


def _p(text: str) -> str:
    return f"<p>{html.escape(text)}</p>"


def tei_block(review: Any) -> Html:
    """The TEI-style summary table with the sentence saying how it is risk-adjusted.

    Examples
    --------
    >>> from vmo_lib.model import make_case
    >>> from vmo_lib.analysis.review import review_case
    >>> case = make_case({"case_id": "T", "first_period": "2026Q1", "horizon": 5, "discount_rate": 0.0},
    ...     costs=[{"line_id": "C1", "name": "Build", "amounts": [1000]}],
    ...     benefits=[{"line_id": "B1", "name": "<Saving>", "amounts": [0, 300, 300, 300, 300]}])
    >>> h = tei_block(review_case(case, "2026Q1", iterations=0)).html
    >>> "10 months" in h, "£1,200" in h, "bankable" in h
    (True, True, True)
    """
    t = greenbook.tei_summary(review)
    cur = review.currency or "GBP"
    rows = []
    for key, r in t.table.iterrows():
        if key == "roi":
            e, a = format_percent(r["expected"]), format_percent(r["risk_adjusted"])
            ch = "–" if math.isnan(r["change"]) else f"{r['change'] * 100:+.0f} points".replace("-", "\u2212")
        elif key == "payback_months":
            e, a = greenbook.payback_text(r["expected"]), greenbook.payback_text(r["risk_adjusted"])
            ch = ""
        else:
            e, a, ch = _money(r["expected"], cur), _money(r["risk_adjusted"], cur), format_money_change(r["change"], cur)
        rows.append({"": r["label"], "as_reviewed": e, "risk_adjusted": a, "change": ch})
    frame = pd.DataFrame(rows)
    if t.haircut == 0.0:  # nothing adjusted: one column, and the sentence says why
        frame = frame[["", "as_reviewed"]]
    parts = ["<h3>TEI-style summary</h3>",
             _p("Whole-life present values of the expected outlook (actuals to date, then the owner's forecast, "
                "then the plan in force), discounted as the appraisal above; \"as reviewed\" is the expected "
                "outlook itself, so its NPV is the expected NPV. Cash-releasing benefits move a budget line "
                "(bankable); the other monetised benefits are real value that releases no cash."),
             _p("Risk adjustment: " + t.basis + "."),
             table(frame).html]
    rv = greenbook.residual_value(review)
    if rv["stated"]:
        parts.append(_p(f"Residual value beyond the horizon: {format_money(rv['amount'], cur)} entered in the final "
                        f"period, {rv['period']} (PV {format_money(rv['pv'], cur)}). NPV without it "
                        f"{format_money(rv['npv_without'], cur)}; with it {format_money(rv['npv_with'], cur)}. "
                        "Every other figure in the pack leaves it out."))
    else:
        parts.append(_p(f"Residual value beyond the horizon: no residual value stated; the NPV counts nothing after "
                        f"{rv['period']}."))
    rf = review.risk_figures()
    if not math.isnan(rf.get("risk_p10", math.nan)):
        parts.append(_p(f"For comparison, the Monte Carlo of the expected NPV (section Risk): P10 "
                        f"{format_money(rf['risk_p10'], cur)}, P50 {format_money(rf['risk_p50'], cur)}, "
                        f"P90 {format_money(rf['risk_p90'], cur)}."))
    for n in t.notes:
        parts.append(_p(n))
    return Html('<div class="vmo-tei">' + "".join(parts) + "</div>")


def non_monetised_block(review: Any) -> Html:
    """The benefits with no money value, with their KPI, baseline, target, latest value and progress."""
    nm = greenbook.non_monetised_benefits(review)
    parts = ["<h3>Benefits not monetised</h3>",
             _p("Benefit lines that carry no money value (they count for nothing in the NPV above) and the KPIs "
                "that show them. Progress is the share of the way from baseline to target; planned progress is "
                "where the plan in force expected it by the review period.")]
    if not len(nm):
        parts.append('<p class="vmo-empty">Every benefit of this case is monetised.</p>')
    else:
        t = nm.rename(columns={"line_id": "line", "name": "benefit", "kpi_baseline": "baseline",
                               "kpi_target": "target", "kpi_latest": "latest", "kpi_latest_period": "measured_in",
                               "kpi_progress_pct": "progress_pct", "kpi_planned_progress_pct": "planned_progress_pct",
                               "kpi": "KPI"})
        t = t.drop(columns=["type"])
        parts.append(table(t, percent=["progress_pct", "planned_progress_pct"], rag="rag").html)
    return Html('<div class="vmo-nonmonetised">' + "".join(parts) + "</div>")


def affordability_block(review: Any) -> Html:
    """Expected capex and opex by UK financial year against the plan in force."""
    a = greenbook.affordability(review)
    cur = review.currency or "GBP"
    case = review.case
    yearly = case.period_length == "year"
    parts = ["<h3>Affordability by financial year</h3>",
             _p("What the case is expected to spend in each UK financial year (1 April to 31 March), "
                "undiscounted in its own prices (" + str(case.meta.get("price_base") or "") + "), against the "
                "plan in force; \"over plan\" is positive where it needs more than was approved. The portfolio's "
                "annual budget is compared in the portfolio pack's selection."
                + (" This case runs on calendar years: each year is split a quarter to the financial year ending "
                   "in its March and three quarters to the one starting in its April." if yearly else ""))]
    if len(a):
        total = pd.DataFrame([{"financial_year": "Total", "basis": "", **{c: a[c].sum() for c in
                              ("capex", "opex", "total", "plan_in_force", "over_plan")}}])
        a = pd.concat([a, total], ignore_index=True)
    parts.append(table(a.rename(columns={"financial_year": "financial year", "total": "expected_total"}),
                       money=["capex", "opex", "expected_total", "plan_in_force", "over_plan"], currency=cur).html)
    return Html('<div class="vmo-affordability">' + "".join(parts) + "</div>")


def options_block(review: Any) -> Html:
    """The options of the economic case compared (business as usual, do minimum, preferred), or "no options
    stated".

    Examples
    --------
    >>> from vmo_lib.model import make_case
    >>> from vmo_lib.analysis.review import review_case
    >>> case = make_case({"case_id": "T", "horizon": 4}, costs=[{"line_id": "C1", "name": "Build", "amounts": [10]}])
    >>> "No options stated" in options_block(review_case(case, "2026Q1", iterations=0)).html
    True
    """
    o = greenbook.options_appraisal(review)
    cur = review.currency or "GBP"
    parts = ["<h3>Options compared (economic case)</h3>"]
    if o is None:
        parts.append('<p class="vmo-empty">No options stated: the workbook tags no line business as usual (bau) '
                     'or do minimum (Costs/Benefits column "Option"), so only the preferred option is appraised.</p>')
        return Html('<div class="vmo-options">' + "".join(parts) + "</div>")
    parts.append(_p("Each option's planned costs and benefits, discounted exactly as the case. The preferred option "
                    "is the case itself on the baseline in force (its NPV is the in-force NPV); business as usual "
                    "and do minimum are the lines tagged with them, counted in no other figure of the pack. "
                    "\"NPV vs BAU\" is the option's NPV less business as usual's."))
    t = o.reset_index(drop=True).rename(columns={"label": "option", "npv_vs_bau": "NPV_vs_BAU"})
    t["bcr"] = [("–" if math.isnan(x) else f"{x:.2f}") for x in t["bcr"]]
    money = ["pv_costs", "pv_benefits", "npv", "NPV_vs_BAU"]
    if t["NPV_vs_BAU"].isna().all():
        t, money = t.drop(columns=["NPV_vs_BAU"]), money[:3]
    parts.append(table(t, money=money, currency=cur).html)
    return Html('<div class="vmo-options">' + "".join(parts) + "</div>")


def greenbook_block(review: Any) -> Html:
    """The Green Book and TEI views of a case: :func:`tei_block`, :func:`options_block`,
    :func:`non_monetised_block` and :func:`affordability_block`, in that order."""
    return Html(tei_block(review).html + options_block(review).html + non_monetised_block(review).html
                + affordability_block(review).html)
