"""The case pack's early-warning block: benefits projected to miss their target while still green or amber.

:func:`early_warning_block` renders :attr:`vmo_lib.analysis.review.CaseReview.early_warning` (computed
once by the review; nothing here refits the plan-shape model): a sentence stating the model and the
threshold, the table of every fitted benefit with its fit quality, and for each flagged benefit a
small chart of its actuals, its plan in force and the fitted projection (with the logistic
alternative, fitted here for the flagged lines only, dotted beside it). Charts are inline PNGs with
alt text; every string from a workbook is escaped.
"""

from __future__ import annotations

import base64
import html
import io
import math
from typing import Any

import numpy as np

from vmo_lib.analysis import rampup
from vmo_lib.formatting import format_money, format_percent
from vmo_lib.outputs.charts import PALETTE, currency_formatter, figure_and_axes, style_axes, thin_ticks
from vmo_lib.outputs.html import Html, table

__all__ = ["early_warning_block", "early_warning_chart", "early_warning_sentences"]


def _num(x: Any) -> float:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return math.nan
    return v


def early_warning_sentences(review: Any, threshold: float = rampup.THRESHOLD) -> list[str]:
    """One sentence per flagged benefit, plus the model statement (plain text, not escaped).

    Examples
    --------
    >>> from vmo_lib.model import make_case
    >>> from vmo_lib.analysis.review import review_case
    >>> case = make_case({"case_id": "X", "first_period": "2026Q1", "horizon": 10},
    ...     benefits=[{"line_id": "B1", "name": "Savings", "target_date": "2028-06-30",
    ...                "amounts": [0, 0, 250, 500, 750, 1000, 1000, 1000, 1000, 1000]}],
    ...     actuals=[{"period": p, "line_id": "B1", "amount": a} for p, a in
    ...              [("2026Q3", 212.5), ("2026Q4", 425), ("2027Q1", 637.5), ("2027Q2", 850)]])
    >>> early_warning_sentences(review_case(case, "2027Q2", iterations=0))[1]
    'B1 Savings: projected at £850 in 2028Q2 against a plan of £1,000 (15% short; fit: 0.85 × the plan, on time, R² 1.00, 4 periods).'
    """
    ew = getattr(review, "early_warning", None)
    cur = review.currency
    head = (f"Each benefit's actuals so far are fitted as its plan in force scaled and shifted by whole periods "
            f"(least squares; no fit from fewer than {rampup.MIN_POINTS} reported periods) and projected to its "
            f"target period; a benefit still rated green or amber is flagged when the projection falls more than "
            f"{threshold:.0%} short of the plan there.")
    out = [head]
    if ew is None or not len(ew):
        return out
    for r in ew[ew["flag"]].to_dict("records"):
        d = int(r["shift"])
        when = "on time" if d == 0 else f"{abs(d)} period{'s' if abs(d) != 1 else ''} {'late' if d > 0 else 'early'}"
        out.append(f"{r['line_id']} {r['name']}: projected at {format_money(r['projected'], cur)} in "
                   f"{r['target_period']} against a plan of {format_money(r['target_amount'], cur)} "
                   f"({format_percent(r['shortfall_pct'])} short; fit: {r['scale']:.2f} × the plan, {when}, "
                   f"R² {r['r2']:.2f}, {int(r['n_points'])} periods).")
    return out


def early_warning_chart(review: Any, line_id: str, ax: Any = None) -> Any:
    """Actuals, plan in force and fitted projection of one benefit line (a matplotlib Figure)."""
    ew = review.early_warning.set_index("line_id")
    r = ew.loc[line_id]
    case = review.case
    plan, actual = rampup.benefit_series(case, review.as_of)[line_id]
    labels = case.periods
    t_target = int(_num(r["target_t"])) if not math.isnan(_num(r["target_t"])) else case.horizon - 1
    last = min(case.horizon, max(t_target + 2, 1))
    t = np.arange(last)
    fig, ax = figure_and_axes(ax, (6.0, 2.8))
    ax.plot(t, plan[:last], color=PALETTE["plan"], linewidth=1.6, label="plan in force")
    seen = ~np.isnan(actual[:last])
    ax.plot(t[seen], actual[:last][seen], "o", color=PALETTE["actual"], markersize=5, label="actual")
    if not math.isnan(_num(r["scale"])):
        fit = rampup.RampFit("plan shape", {"scale": float(r["scale"]), "shift": int(r["shift"])},
                             int(r["n_points"]), float(r["r2"]), float(r["rmse"]), math.nan)
        ax.plot(t, fit.predict(plan, t), "--", color=PALETTE["forecast"], linewidth=1.6,
                label=f"fitted: {float(r['scale']):.2f} × plan, shift {int(r['shift']):+d}")
        lg = rampup.fit_logistic(plan, actual)
        if lg is not None:
            ax.plot(t, lg.predict(plan, t), ":", color=PALETTE["muted"], linewidth=1.4,
                    label=f"logistic (R² {lg.r2:.2f})")
        ax.plot([t_target], [float(r["target_amount"])], "D", color=PALETTE["plan"], markersize=6)
        ax.plot([t_target], [float(r["projected"])], "D", color=PALETTE["loss"], markersize=6)
    ax.set_title(f"{line_id}: benefit per period, plan vs fitted projection")
    ax.yaxis.set_major_formatter(currency_formatter(review.currency))
    thin_ticks(ax, list(labels[:last]))
    ax.legend(fontsize=8, frameon=False, loc="upper left")
    style_axes(ax)
    return fig


def _img(fig: Any, alt: str) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    a = html.escape(alt, quote=True)
    return f'<figure class="vmo-figure"><img src="data:image/png;base64,{data}" alt="{a}"></figure>'


def early_warning_block(review: Any, threshold: float = rampup.THRESHOLD, heading: bool = True) -> Html:
    """The early-warning section of the case pack (module notes), under its own heading.

    Examples
    --------
    >>> from vmo_lib.model import make_case
    >>> from vmo_lib.analysis.review import review_case
    >>> case = make_case({"case_id": "X", "first_period": "2026Q1", "horizon": 10},
    ...     benefits=[{"line_id": "B1", "name": "<script>", "target_date": "2028-06-30",
    ...                "amounts": [0, 0, 40, 60, 80, 100, 100, 100, 100, 100]}],
    ...     actuals=[{"period": p, "line_id": "B1", "amount": a} for p, a in
    ...              [("2026Q3", 34), ("2026Q4", 51), ("2027Q1", 68), ("2027Q2", 85)]])
    >>> h = early_warning_block(review_case(case, "2027Q2", iterations=0)).html
    >>> "<script>" in h, "&lt;script&gt;" in h, h.count("<img "), 'alt="Benefit B1' in h
    (False, True, 1, True)
    """
    ew = getattr(review, "early_warning", None)
    sentences = early_warning_sentences(review, threshold)
    e = html.escape
    parts = ["<h2>Early warning</h2>"] if heading else []
    parts.append(f'<p class="vmo-narrative">{e(sentences[0])}</p>')
    if ew is None or not len(ew):
        parts.append('<p class="vmo-empty">No benefit line to fit.</p>')
        return Html("".join(parts))
    flagged = ew[ew["flag"]]
    if len(flagged):
        parts.append(Html.paragraphs(sentences[1:]).html)
    else:
        parts.append('<p class="vmo-empty">No benefit is projected to miss its target by more than '
                     f"{e(format_percent(threshold))} while still rated green or amber.</p>")
    shown = ew[["line_id", "name", "rag", "status", "n_points", "scale", "shift", "r2", "rmse", "target_period",
                "target_amount", "projected", "shortfall_pct"]].rename(
        columns={"line_id": "line", "rag": "RAG", "n_points": "n", "r2": "R²", "rmse": "RMSE",
                 "target_period": "target", "target_amount": "plan_at_target", "shortfall_pct": "short_pct"})
    parts.append(table(shown, money=["RMSE", "plan_at_target", "projected"], percent=["short_pct"],
                       currency=review.currency, digits={"scale": 2, "R²": 2, "shift": 0}, rag="RAG").html)
    for r in flagged.to_dict("records"):
        fig = early_warning_chart(review, r["line_id"])
        alt = (f"Benefit {r['line_id']} {r['name']}: actuals so far against the plan in force; the fitted "
               f"projection ({float(r['scale']):.2f} times the plan, shifted {int(r['shift'])} periods) reaches "
               f"{format_money(r['projected'], review.currency)} in {r['target_period']} against a plan of "
               f"{format_money(r['target_amount'], review.currency)}.")
        parts.append(_img(fig, alt))
    return Html("".join(parts))
