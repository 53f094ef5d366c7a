"""The case pack's evidence block (issue 13): claims against KPIs, evidence status, forecast credibility.

A minimal block, called from one cell of ``notebooks/case_review.py``; it renders what
:class:`vmo_lib.analysis.evidence.EvidenceReview` holds (computed once in the review), every string
escaped by :mod:`vmo_lib.outputs.html`.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from vmo_lib.formatting import format_money, format_percent
from vmo_lib.outputs.html import Html, key_figures, table

__all__ = ["evidence_block"]


def _pct(x: Any) -> str:
    return "–" if x is None or (isinstance(x, float) and math.isnan(x)) else format_percent(x)


def evidence_block(review: Any) -> Html:
    """Evidence behind the benefits: key figures, then the per-benefit KPI reconciliation and grade.

    Parameters
    ----------
    review : CaseReview
        :func:`vmo_lib.analysis.review.review_case`.

    Examples
    --------
    >>> from vmo_lib.model import make_case
    >>> from vmo_lib.analysis.review import review_case
    >>> c = make_case({"case_id": "X", "first_period": "2026Q1", "horizon": 4, "discount_rate": 0.0},
    ...     benefits=[{"line_id": "B1", "name": "<b>FTE</b>", "kpi_basis": "change", "value_per_unit": 8000,
    ...                "baseline_value": 60, "target_value": 40, "amounts": [0, 100000, 100000, 100000]}],
    ...     actuals=[{"period": "2026Q2", "line_id": "B1", "amount": 110000, "kpi_value": 51}])
    >>> h = evidence_block(review_case(c, "2026Q2", iterations=0)).html
    >>> "&lt;b&gt;FTE" in h, "£38.0k" in h, "claim not backed by KPI" in h
    (True, True, True)
    """
    ev = review.status.evidence
    if ev is None:
        return Html('<p class="vmo-empty">No evidence review.</p>')
    cur = review.status.currency or "GBP"

    def m(x: float) -> str:
        return "–" if x is None or math.isnan(x) else format_money(x, cur, compact=True)

    cards = [
        {"label": "Realised value measured", "value": _pct(ev.evidenced_pct),
         "note": f"{m(ev.evidenced)} of {m(ev.realised)} to date"},
        {"label": "Future benefits unevidenced", "value": _pct(ev.unevidenced_future_pct),
         "note": f"{m(ev.unevidenced_future_pv)} of {m(ev.future_benefit_pv)} (PV)",
         "tone": "bad" if ev.warning else ""},
        {"label": "Expected NPV without them", "value": m(ev.expected_npv_evidenced),
         "note": f"expected NPV {m(review.status.expected_npv)}",
         "tone": "bad" if not math.isnan(ev.expected_npv_evidenced) and ev.expected_npv_evidenced < 0 else ""},
        _go_live_card(review, ev),
    ]
    parts = ["<h2>Evidence</h2>", "<p>Is the money claimed backed by the KPI it follows from, how much of the "
             "realised value is measured, and how much of the outlook rests on forecasts with no evidence of "
             "progress yet.</p>", key_figures(cards).html]
    notes = [f"Claims are reconciled with KPI movement × value per unit; a difference above "
             f"{format_percent(ev.tolerance)} of the KPI-implied value is flagged. Only 'measured' actuals count "
             "as evidenced."]
    if ev.warning:
        notes.insert(0, ev.warning[0].upper() + ev.warning[1:] + ".")
    mix = ", ".join(f"{k} {m(v)}" for k, v in ev.evidence_mix.items() if abs(v) > 0)
    if mix:
        notes.append(f"Realised value to date by evidence: {mix}.")
    returns = review.case.meta.get("actuals_returns") or []
    if returns:
        notes.append("Actuals returns read: " + "; ".join(
            f"{Path(str(r.get('file', ''))).name} ({r.get('period', '')}: {r.get('rows', 0)} actual row(s)"
            + (f", {r['forecasts']} revised forecast row(s)" if r.get("forecasts") else "") + ")" for r in returns)
            + ". Revised forecasts in a return replace the workbook's forecast for those periods.")
    for u in review.case.meta.get("unplanned_lines") or []:  # new cost lines from a return's Unplanned sheet
        notes.append(f"Unplanned cost line {u['line_id']} {u['name']} ({u['category']}, owner {u['owner']}): "
                     f"{m(u['amount'])} in {u['period']}, not in the plan, counted in actual spend; reason: {u['reason']}.")
    parts.append(Html.paragraphs(notes).html)
    b = ev.by_benefit
    if len(b):
        t = b[["name", "claimed_to_date", "implied_to_date", "difference_to_date", "difference_pct",
               "evidence", "future_pv"]].copy()
        # one "check" column (flag and wrong-way KPI) and the grade with its reason: the table fits a 1024 px page
        t.insert(5, "check", ["; ".join(x for x, on in (("claim not backed by KPI", f), ("KPI wrong way", w)) if on)
                              for f, w in zip(b["flagged"].astype(bool), b["wrong_way"].astype(bool), strict=True)])
        t["grade"] = [f"{g}: {r}" if isinstance(r, str) and r else str(g)
                      for g, r in zip(b["grade"], b["grade_reason"], strict=True)]
        t = t.rename(columns={"name": "benefit", "claimed_to_date": "claimed", "implied_to_date": "KPI_implied",
                              "difference_to_date": "difference", "difference_pct": "difference_%",
                              "future_pv": "future_value_PV"})
        parts.append(table(t, money=["claimed", "KPI_implied", "difference", "future_value_PV"],
                           percent=["difference_%"], currency=cur, compact=True).html)
    return Html('<div class="vmo-evidence">' + "".join(parts) + "</div>")


def _go_live_card(review: Any, ev: Any) -> dict[str, str]:
    """The go-live card: the recorded slip, or that no actual go-live is recorded (never "as planned"
    when nobody said so)."""
    planned = review.case.meta.get("go_live_period")
    actual = review.case.meta.get("actual_go_live")
    if actual in (None, ""):
        return {"label": "Go-live", "value": "not recorded", "note": f"planned {planned}" if planned else ""}
    shift = ev.go_live_shift or 0
    return {"label": "Go-live", "value": f"{actual}" + (f" ({shift:+d} period(s))" if shift else " (as planned)"),
            "note": f"actual against planned {planned}", "tone": "bad" if shift > 0 else ""}
