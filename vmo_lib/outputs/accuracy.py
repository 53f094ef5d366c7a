"""The portfolio pack's estimating-accuracy section, from the quarterly history.

:func:`accuracy_section` renders :func:`vmo_lib.history.accuracy.accuracy_report` (computed once per
call; nothing here computes a ratio of its own): the rules in words, the closed cases counted, actual
÷ approved by sponsor, organisational unit, case type, benefit type and stated confidence with counts
and intervals ("too few" below the minimum of cases), benefit owners' forecast bias, and the
reference class fed with the learned ratios beside the one measured from today's files. Every string
from a workbook or the history is escaped.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from vmo_lib.history import accuracy as acc
from vmo_lib.outputs.html import Html, table
from vmo_lib.portfolio import reference_class

__all__ = ["accuracy_section"]


def _interval(r: Mapping[str, Any]) -> str:
    if r["figure"]:
        return str(r["figure"])
    return f"{r['ci_low']:.2f} – {r['ci_high']:.2f}"


def _ratio(x: Any) -> Any:
    return None if x is None or (isinstance(x, float) and math.isnan(x)) else round(float(x), 2)


def _same_uplifts(a: pd.DataFrame | None, b: pd.DataFrame | None) -> bool:
    """Two reference-class tables with the same groups, counts and P50/P80 ratios (to the cent)."""
    if a is None or b is None or len(a) != len(b) or not len(a):
        return False
    key = ["group", "measure"]
    cols = ["n", "ratio_p50", "ratio_p80"]
    if not set(key + cols) <= set(a.columns) or not set(key + cols) <= set(b.columns):
        return False
    x = a.set_index(key)[cols].sort_index()
    y = b.set_index(key)[cols].sort_index()
    if not x.index.equals(y.index):
        return False
    return bool(np.allclose(x.to_numpy(float), y.to_numpy(float), rtol=0, atol=5e-3, equal_nan=True))


def accuracy_section(frames: Mapping[str, pd.DataFrame] | None, review: Any = None, *,
                     min_cases: int = acc.MIN_CASES, min_forecasts: int = acc.MIN_FORECASTS,
                     heading: bool = True) -> Html:
    """Estimating accuracy learned from the history (module notes).

    Parameters
    ----------
    frames : dict of DataFrame or None
        The history's three tables (:func:`vmo_lib.history.store.load_frames`); None when the pack
        was run without a history.
    review : PortfolioReview, optional
        Its ``history`` (ratios measured from today's files) is pooled with the learned ratios for the
        reference class shown at the end.
    min_cases, min_forecasts : int

    Examples
    --------
    >>> accuracy_section(None).html.count("No quarterly history")
    1
    """
    e = html.escape
    parts = ["<h2>Estimating accuracy</h2>"] if heading else []
    if frames is None:
        parts.append('<p class="vmo-empty">No quarterly history was given to this pack: estimating accuracy is '
                     "learned from the history `vmo review` records (or `vmo history backfill` builds).</p>")
        return Html("".join(parts))
    rep = acc.accuracy_report(frames, min_cases=min_cases, min_forecasts=min_forecasts)
    q = rep["quarters"]
    closed = rep["closed_cases"]
    rules = rep["rules"]
    span = f"{q[0]}–{q[-1]}, {len(q)} quarter{'s' if len(q) != 1 else ''}" if q else "no quarter"
    parts.append(Html.paragraphs([
        f"From the history on record ({span}): {len(closed)} closed case{'s' if len(closed) != 1 else ''} with "
        f"their whole life known. Ratios are {rules['ratio']}; no figure from fewer than {rules['min_cases']} "
        f"cases (shown as “too few”); intervals are the {rules['interval']}.",
        f"Schedule: {rules['schedule']}.",
        f"Forecast bias: {rules['bias']}; no figure from fewer than {rules['min_forecasts']} forecasts.",
    ]).html)
    if len(closed):
        # one column per question, so the table fits a 1024 px screen and A4 landscape
        shown = pd.DataFrame({
            "case_id": closed["case_id"],
            "sponsor_and_unit": [" · ".join(str(x) for x in (sp, ou) if not pd.isna(x) and str(x))
                                 for sp, ou in zip(closed["sponsor"], closed["org_unit"], strict=True)],
            "case_type": closed["case_type"], "currency": closed["currency"],
            "approved_cost": closed["approved_cost"], "actual_cost": closed["actual_cost"],
            "cost_ratio": closed["cost_ratio"], "approved_benefit": closed["approved_benefit"],
            "actual_benefit": closed["actual_benefit"], "benefit_ratio": closed["benefit_ratio"],
            "go_live_approved_to_actual": [f"{a} → {b} ({'' if pd.isna(n) else f'{int(n):+d}'})".replace(" ()", "")
                                           for a, b, n in zip(closed["go_live_period"], closed["actual_go_live_period"],
                                                              closed["slip_periods"], strict=True)],
        })
        parts.append(table(shown, money=["approved_cost", "actual_cost", "approved_benefit", "actual_benefit"],
                           currency="currency", compact=True, digits={"cost_ratio": 2, "benefit_ratio": 2}).html)
    t = rep["accuracy"]
    if len(t) and (t["figure"] == acc.TOO_FEW).all():
        parts.append(f'<p class="vmo-empty">Too few closed cases for any figure yet: {len(closed)} on record, '
                     f"at least {int(rules['min_cases'])} needed for a group (every group shows “too few”).</p>")
    elif len(t):
        rows = pd.DataFrame({
            "by": t["dimension"].str.replace("_", " "), "group": t["group"], "measure": t["measure"],
            "cases": t["n"], "mean_actual_over_approved": [_ratio(x) for x in t["mean_ratio"]],
            "median": [_ratio(x) for x in t["median_ratio"]],
            "interval_95": [_interval(r) for r in t.to_dict("records")]})
        parts.append(table(rows, digits={"mean_actual_over_approved": 2, "median": 2}).html)
    else:
        parts.append('<p class="vmo-empty">No closed case on record yet: no accuracy figure.</p>')
    b = rep["owner_bias"]
    if len(b):
        rows = pd.DataFrame({"benefit_owner": b["owner"], "forecasts": b["n"], "cases": b["cases"],
                             "mean_actual_over_forecast": [_ratio(x) for x in b["mean_ratio"]],
                             "total_actual_over_forecast": [_ratio(x) for x in b["ratio_of_totals"]],
                             "note": b["figure"]})
        parts.append(table(rows, digits={"mean_actual_over_forecast": 2, "total_actual_over_forecast": 2}).html)
    else:
        parts.append('<p class="vmo-empty">No benefit forecast on record has had its actual reported yet.</p>')
    learned = rep["learned"]
    own = getattr(review, "history", None)
    if review is not None and len(learned):
        base = own if own is not None else pd.DataFrame()
        u = reference_class.reference_class_uplifts(base, learned=learned)
        n_own = 0 if base is None or not len(base) else int((~base["case_id"].isin(learned["case_id"])).sum())
        intro = (f"Reference class with the learned ratios: {len(learned)} closed case(s) from the history pooled "
                 f"with {n_own} case(s) measured from today’s files; P50/P80 are quantiles of the empirical "
                 "distribution of the pooled ratios (linear between order statistics).")
        if _same_uplifts(u, getattr(review, "uplifts", None)):
            parts.append(f'<p class="vmo-narrative">{e(intro)} It gives the same figures as the reference class '
                         "of Appendix C, which already counts these cases.</p>")
            return Html("".join(parts))
        parts.append(f'<p class="vmo-narrative">{e(intro)}</p>')
        parts.append(table(u.rename(columns={"group": "case_type", "n": "cases"}),
                           digits={"ratio_p50": 2, "ratio_p80": 2},
                           percent=["adjustment_p50", "adjustment_p80"]).html)
    return Html("".join(parts))
