"""The case pack's blocks: each renders a :class:`~vmo_lib.analysis.review.CaseReview` (cards with their
basis, the narrative, the appraisal beside the approved plan, realisation, gaps, warnings, risk on the
outlook); none computes a figure. Every text a workbook author typed is escaped
(:mod:`vmo_lib.outputs.html`).
"""

from __future__ import annotations

import html
import math
from typing import Any

import numpy as np

from vmo_lib.formatting import format_money, format_number, format_percent, is_missing
from vmo_lib.outputs.html import Html, figure, key_figures, pack_header, table

__all__ = ['appraisal_table', 'case_cards', 'case_results', 'case_summary', 'forward_note', 'gaps_table', 'issues_table',
           'narrative', 'narrative_html', 'optimism_bias_html', 'realisation_table', 'risk_charts', 'risk_summary',
           'scenario_label']


# --- case review: results, summary, narrative ------------------------------------------------------------------
def scenario_label(scenario: Any) -> str:
    """A scenario name as a board member reads it.

    Examples
    --------
    >>> scenario_label("baseline"), scenario_label("rebaseline:v2"), scenario_label("expected")
    ('the approved plan (baseline)', 'the re-baseline v2', 'the expected outlook (actuals to date, then forecast)')
    """
    name = str(scenario or "")
    if name == "baseline":
        return "the approved plan (baseline)"
    if name.startswith("rebaseline:"):
        return f"the re-baseline {name.split(':', 1)[1]}"
    return {"forecast": "the latest forecast", "current": "the baseline in force",
            "expected": "the expected outlook (actuals to date, then forecast)"}.get(name, f"scenario {name}")


_VIEW_TEXT = {"economic": "economic view: every monetised benefit counts",
              "cash": "cash view: only cash-releasing benefits count"}
_FORWARD_NOTE = {"continue": "what remains is worth doing", "rethink": "what remains costs more than it returns",
                 "complete": "nothing remains to spend or gain"}


def _fmt(value: Any, kind: str, currency: str) -> str:
    if kind == "text":
        return "–" if is_missing(value) else str(value)
    if kind == "money":
        return format_money(value, currency, compact=True)
    if kind == "percent":
        return format_percent(value)
    return format_number(value, 2)


def case_cards(review: Any) -> list[dict[str, Any]]:
    """The key figures of a case review as data: ``label``, ``value``, ``kind`` (``money`` /
    ``percent`` / ``ratio`` / ``text``), ``note`` (its basis) and ``tone``. The pack shows them as
    cards (:func:`case_summary`), the index the first three; every value is read from the review.

    Examples
    --------
    >>> from vmo_lib.model import make_case
    >>> from vmo_lib.analysis.review import review_case
    >>> case = make_case({"case_id": "X", "first_period": "2026Q1", "horizon": 3, "discount_rate": 0.0},
    ...     costs=[{"line_id": "C1", "name": "Build", "amounts": [100, 0, 0]}],
    ...     benefits=[{"line_id": "B1", "name": "Savings", "amounts": [0, 100, 100]}],
    ...     actuals=[{"period": "2026Q1", "line_id": "C1", "amount": 110}])
    >>> [(c["label"], c["value"]) for c in case_cards(review_case(case, "2026Q1", iterations=0))][:4]
    [('Expected NPV', 90.0), ('Approved NPV', 100.0), ('Forward NPV', 200.0), ('Decision', 'recover')]
    """
    s = review.status
    approved = s.baseline_in_force == "baseline"
    change = s.verdict.change
    change_text = format_money(change, s.currency, compact=True)
    nothing_due = abs(s.totals.get("benefit_plan_to_date") or 0.0) < 0.5 and is_missing(s.realisation_pct)
    risk = review.risk_figures()
    cards = [
        {"label": "Expected NPV", "value": s.expected_npv, "kind": "money",
         "note": "expected: " + ("+" if round(change) > 0 else "") + change_text
                 + (" vs approved" if approved else " vs re-baseline in force"),
         "tone": "good" if change > 0 else "bad" if change < 0 else ""},
        {"label": "Approved NPV", "value": s.current_baseline_npv, "kind": "money",
         "note": "approved: the promise at approval" if approved
                 else f"in force: re-baselined ({s.baseline_in_force.split(':', 1)[-1]})", "tone": ""},
        {"label": "Forward NPV", "value": s.forward_npv, "kind": "money",
         "note": "forward: " + _FORWARD_NOTE.get(s.continue_signal, str(s.continue_signal)),
         "tone": "bad" if s.continue_signal == "rethink" else ""},
        {"label": "Decision", "value": review.decision, "kind": "text", "note": s.verdict.label,
         "tone": "bad" if review.decision in ("stop", "re-plan") else ""},
        {"label": "Benefits realised", "value": None if nothing_due else s.realisation_pct,
         "kind": "text" if nothing_due else "percent",
         "note": "nothing due yet" if nothing_due else "gross, of plan to date", "tone": ""},
        {"label": "Spend", "value": s.cost_spend_pct, "kind": "percent",
         "note": "of plan to date" if not is_missing(s.cost_spend_pct) else "nothing due yet", "tone": ""},
        {"label": "Benefit-cost ratio", "value": review.expected.bcr, "kind": "ratio",
         "note": f"expected; {format_number(review.in_force.bcr, 2)} approved", "tone": ""},
    ]
    if not is_missing(risk["prob_below_zero"]):
        cards.append({"label": "Chance NPV < 0", "value": risk["prob_below_zero"], "kind": "percent",
                      "note": "expected outlook, simulated", "tone": "bad" if risk["prob_below_zero"] >= 0.2 else ""})
    ob_npv = review.to_dict(detail=False).get("ob_npv")
    if not is_missing(ob_npv):
        stage = str(review.case.meta.get("status") or "")
        cards.append({"label": "NPV after optimism bias", "value": ob_npv, "kind": "money",
                      "note": f"plan in force, Green Book uplift for a case {stage}" if stage
                      else "plan in force, Green Book uplift", "tone": "bad" if ob_npv < 0 else ""})
    return cards


def forward_note(review: Any, ratio: float = 1.5) -> str | None:
    """One line explaining the forward NPV when it differs a lot from the approved NPV (more than
    ``ratio`` times it either way, or of the other sign): the two count different things. None otherwise.

    Examples
    --------
    >>> from vmo_lib.model import make_case
    >>> from vmo_lib.analysis.review import review_case
    >>> case = make_case({"case_id": "X", "first_period": "2026Q1", "horizon": 3, "discount_rate": 0.0},
    ...     costs=[{"line_id": "C1", "name": "Build", "amounts": [100, 0, 0]}],
    ...     benefits=[{"line_id": "B1", "name": "Savings", "amounts": [0, 100, 100]}],
    ...     actuals=[{"period": "2026Q1", "line_id": "C1", "amount": 110}])
    >>> print(forward_note(review_case(case, "2026Q1", iterations=0)))
    Forward NPV £200 counts only what is still to come, valued at 2026Q2; the £110 already spent is sunk. The approved NPV £100 counts the whole life from 2026Q1, costs included, so the two are not comparable.
    """
    s = review.status
    fwd, appr = s.forward_npv, s.current_baseline_npv
    if is_missing(fwd) or is_missing(appr):
        return None
    if not (abs(fwd) > ratio * abs(appr) or abs(appr) > ratio * abs(fwd) or (fwd < 0) != (appr < 0)):
        return None
    cur = s.currency or "GBP"
    spent = s.totals.get("cost_actual_to_date")
    sunk = (f"; the {format_money(spent, cur, compact=True)} already spent is sunk"
            if not is_missing(spent) and round(spent) else "")
    return (f"Forward NPV {format_money(fwd, cur, compact=True)} counts only what is still to come, valued at "
            f"{s.forward_discounted_to}{sunk}. The approved NPV {format_money(appr, cur, compact=True)} counts the "
            f"whole life from {review.case.periods[0]}, costs included, so the two are not comparable.")


def case_results(review: Any) -> dict[str, Any]:
    """The machine-readable results of a case review (what ``results.json`` holds): the review's
    :meth:`~vmo_lib.analysis.review.CaseReview.to_dict` without the line tables, plus ``cards``
    (:func:`case_cards`), ``narrative`` (:func:`narrative`) and ``warnings`` (count).

    Numbers only, no timestamps, so the same inputs and seed give identical files.
    """
    case = review.case
    return {
        **review.to_dict(detail=False),
        "cards": case_cards(review), "narrative": narrative(review.status),
        "headline": [f"{review.decision}: {review.decision_reason}"],
        "warnings": int(len(case.issues)) if getattr(case, "issues", None) is not None else 0,
    }


def case_summary(review: Any) -> Html:
    """Header (title, sponsor, decision and verdict badge in its RAG colour) and the key-figure cards.

    Examples
    --------
    >>> from vmo_lib.model import make_case
    >>> from vmo_lib.analysis.review import review_case
    >>> case = make_case({"case_id": "X", "title": "<b>T</b>", "horizon": 2, "discount_rate": 0},
    ...     benefits=[{"line_id": "B1", "name": "S", "amounts": [10, 10]}])
    >>> h = case_summary(review_case(case, "2026Q1", iterations=0)).html
    >>> "&lt;b&gt;T" in h, "<b>T" in h
    (True, False)
    """
    case, status = review.case, review.status
    meta = case.meta
    sub = " · ".join(str(x) for x in (f"Sponsor: {meta.get('sponsor')}" if meta.get("sponsor") else "",
                                        meta.get("strategic_objective") or "", f"as of {status.as_of}") if x)
    head = pack_header(case.title, case.case_id, sub, status.verdict.label, status.rag,
                       f"Decision: {review.decision} — {review.decision_reason}")
    cards = [{**c, "value": _fmt(c["value"], c["kind"], status.currency)} for c in case_cards(review)]
    note = forward_note(review)
    return Html(head.html + key_figures(cards).html
                + (f'<p class="vmo-sub vmo-forward-note">{html.escape(note)}</p>' if note else ""))


def narrative(status: Any) -> list[str]:
    """Plain-English sentences generated from a case's numbers (not boilerplate).

    In order: the verdict with its value bridge (:attr:`CaseStatus.verdict_sentence`), benefits
    realised to date, spend to date, the benefit furthest below and above plan, and the
    measurement gaps. A sentence is left out when its numbers do not exist (nothing reported yet,
    no gaps).

    Parameters
    ----------
    status : vmo_lib.analysis.realisation.CaseStatus

    Returns
    -------
    list of str

    Examples
    --------
    >>> from vmo_lib.model import make_case
    >>> from vmo_lib.analysis.realisation import case_status
    >>> case = make_case({"case_id": "X", "first_period": "2026Q1", "horizon": 3, "discount_rate": 0.0},
    ...     costs=[{"line_id": "C1", "name": "Build", "amounts": [100, 0, 0]}],
    ...     benefits=[{"line_id": "B1", "name": "Savings", "owner": "Ops", "frequency": "quarterly",
    ...                "amounts": [0, 100, 100]}],
    ...     actuals=[{"period": "2026Q1", "line_id": "C1", "amount": 110},
    ...              {"period": "2026Q2", "line_id": "B1", "amount": 80}])
    >>> for s in narrative(case_status(case, "2026Q2"))[1:4]: print(s)
    Benefits realised to date: £80 of £100 planned for the reported periods (80%).
    Spend to date: £110 against a plan of £100 (110% of plan), an overrun of £10.
    Furthest below plan: Savings (owner Ops), £20 short to date.
    """
    s = status
    cur = s.currency or "GBP"

    def m(x: float) -> str:
        return format_money(x, cur, compact=True)

    out = [s.verdict_sentence]
    t = s.totals
    plan_b, act_b = t.get("benefit_plan_to_date", math.nan), t.get("benefit_actual_to_date", math.nan)
    b = s.benefits
    unreported = float(b["plan_unreported"].sum()) if "plan_unreported" in b else 0.0
    if not is_missing(act_b):
        if round(plan_b) != 0:
            out.append(f"Benefits realised to date: {m(act_b)} of {m(plan_b)} planned for the reported periods "
                       f"({format_percent(s.realisation_pct)}).")
        elif round(act_b) != 0:
            out.append(f"Benefits realised to date: {m(act_b)}, although none was planned for the reported periods.")
        else:
            out.append(f"No benefit was planned or reported up to {s.as_of}.")
        if round(unreported) > 0:
            out.append(f"A further {m(unreported)} of benefit was planned in periods with no actual reported yet.")
    elif round(unreported) > 0:
        out.append(f"No benefit has been reported yet although {m(unreported)} was planned by {s.as_of}.")
    plan_c, act_c = t.get("cost_plan_to_date", math.nan), t.get("cost_actual_to_date", math.nan)
    if not is_missing(act_c):
        diff = act_c - plan_c
        tail = (f", an overrun of {m(diff)}" if round(diff) > 0 else f", an underspend of {m(-diff)}"
                if round(diff) < 0 else ", on plan")
        pct = f" ({format_percent(s.cost_spend_pct)} of plan)" if not is_missing(s.cost_spend_pct) else ""
        out.append(f"Spend to date: {m(act_c)} against a plan of {m(plan_c)}{pct}{tail}.")
    if len(b) and "variance_to_date" in b:
        v = b.dropna(subset=["variance_to_date"])
        if len(v):
            worst, best = v.loc[v["variance_to_date"].idxmin()], v.loc[v["variance_to_date"].idxmax()]

            def who(r: Any) -> str:
                return f" (owner {r['owner']})" if not is_missing(r.get("owner")) and r.get("owner") else " (no owner)"

            if round(worst["variance_to_date"]) < 0:
                out.append(f"Furthest below plan: {worst['name']}{who(worst)}, "
                           f"{m(-worst['variance_to_date'])} short to date.")
            if round(best["variance_to_date"]) > 0:
                out.append(f"Furthest ahead of plan: {best['name']}{who(best)}, "
                           f"{m(best['variance_to_date'])} above plan to date.")
    g = s.gaps
    if len(g):
        counts = g["gap"].value_counts()
        from vmo_lib.analysis.realisation import GAP_RULES

        order = [k for k in GAP_RULES if k in counts.index] + [k for k in counts.index if k not in GAP_RULES]
        parts = ", ".join(f"{k} ({int(counts[k])})" for k in order)
        n_lines = g["line_id"].nunique()
        out.append(f"{len(g)} measurement gap{'s' if len(g) != 1 else ''} on {n_lines} "
                   f"line{'s' if n_lines != 1 else ''}: {parts}.")
    return out


def narrative_html(status: Any) -> Html:
    """:func:`narrative` as an escaped bullet list for the pack."""
    return Html.paragraphs(narrative(status))


_APPRAISAL_ROWS = (  # attribute, label, kind
    ("pv_costs", "PV costs", "money"), ("pv_benefits", "PV benefits (net of dis-benefits)", "money"),
    ("npv", "NPV", "money"), ("irr", "IRR (annual)", "percent1"), ("mirr", "MIRR (annual)", "percent1"),
    ("roi", "ROI = (PVB − PVC) / PVC", "percent"), ("bcr", "Benefit-cost ratio", "ratio"),
    ("payback_years", "Payback", "years"), ("discounted_payback_years", "Discounted payback", "years"),
    ("equivalent_annual_cost", "Equivalent annual cost", "money"),
)


def appraisal_table(review: Any) -> Html:
    """Whole-life metrics of the expected outlook beside the approved baseline (and the baseline in
    force when re-baselined), each column naming its basis, with the appraisal notes (IRR caveats).

    A payback that never happens reads "never", not a number.

    Examples
    --------
    >>> from vmo_lib.model import make_case
    >>> from vmo_lib.analysis.review import review_case
    >>> case = make_case({"case_id": "X", "horizon": 3, "discount_rate": 0.0},
    ...     costs=[{"line_id": "C1", "name": "Build", "amounts": [100, 0, 0]}],
    ...     benefits=[{"line_id": "B1", "name": "S", "amounts": [0, 30, 30]}])
    >>> h = appraisal_table(review_case(case, "2026Q1", iterations=0)).html
    >>> "−£40" in h, "never" in h, "Expected outlook" in h
    (True, True, True)
    """
    cols = [("Expected outlook", review.expected), ("Approved", review.approved)]
    if review.status.baseline_in_force != "baseline":
        cols.append((f"In force ({review.status.baseline_in_force.split(':', 1)[-1]})", review.in_force))
    cur = review.expected.currency or "GBP"

    def text(a: Any, attr: str, kind: str) -> str:
        v = getattr(a, attr)
        if kind == "money":
            return format_money(v, cur)
        if kind.startswith("percent"):
            return format_percent(v, 1 if kind == "percent1" else 0)
        if kind == "ratio":
            return format_number(v, 2)
        return "never" if is_missing(v) else f"{float(v):,.1f} years"

    rows = []
    for attr, label, kind in _APPRAISAL_ROWS:
        cells = "".join(f'<td class="num">{html.escape(text(a, attr, kind))}</td>' for _, a in cols)
        rows.append(f"<tr><td>{html.escape(label)}</td>{cells}</tr>")
    notes = []
    for name, a in cols:
        irr_note = str(getattr(a, "irr_note", "") or "")
        for n in [irr_note if "unique" not in irr_note else "", *getattr(a, "notes", [])]:
            if n:
                notes.append(f"{name}: {n}")
    e = review.expected
    caption = (f"{_VIEW_TEXT.get(e.view, f'{e.view} view').capitalize()}; {e.discount_schedule} discounting at "
               f"{format_percent(e.annual_rate, 1)} a year to {review.case.periods[0]}; {e.price_base} prices; "
               f"amounts in {cur}. Expected outlook = actuals to {review.status.as_of}, then forecast, then plan.")
    extra = "".join(f"<li>{html.escape(str(n))}</li>" for n in notes)
    head = "".join(f'<th class="num">{html.escape(name)}</th>' for name, _ in cols)
    return Html(f'<table class="vmo-table"><thead><tr><th>Metric</th>{head}</tr></thead>'
                f'<tbody>{"".join(rows)}</tbody></table><p class="vmo-sub">{html.escape(caption)}</p>'
                + (f'<ul class="vmo-sub">{extra}</ul>' if extra else ""))


def realisation_table(status: Any) -> Html:
    """Plan against actual to date for every benefit, then every cost line, with a RAG per line.

    Examples
    --------
    >>> from vmo_lib.model import make_case
    >>> from vmo_lib.analysis.realisation import case_status
    >>> case = make_case({"case_id": "X", "horizon": 2, "discount_rate": 0.0},
    ...     benefits=[{"line_id": "B1", "name": "<i>Savings</i>", "amounts": [10, 10]}],
    ...     actuals=[{"period": "2026Q1", "line_id": "B1", "amount": 8}])
    >>> h = realisation_table(case_status(case, "2026Q1")).html
    >>> "&lt;i&gt;Savings" in h, "80%" in h, "rag-" in h
    (True, True, True)
    """
    import pandas as pd

    cur = status.currency or "GBP"
    parts = []
    for title, lines, cols in (
            ("Benefits", status.benefits, {"name": "line", "owner": "owner", "plan_to_date": "plan_to_date",
                                           "actual_to_date": "actual_to_date", "variance_to_date": "variance",
                                           "performance_pct": "performance", "kpi_progress_pct": "KPI_progress",
                                           "rag": "RAG", "rag_reason": "why"}),
            ("Costs", status.costs, {"name": "line", "plan_to_date": "plan_to_date", "actual_to_date": "actual_to_date",
                                     "variance_to_date": "variance", "performance_pct": "performance", "rag": "RAG",
                                     "rag_reason": "why"})):
        if lines is None or not len(lines):
            continue
        df = pd.DataFrame(lines)[[c for c in cols if c in lines]].rename(columns=cols)
        parts.append(f"<h3>{title}</h3>" + table(df, money=["plan_to_date", "actual_to_date", "variance"],
                                                 percent=["performance", "KPI_progress"], currency=cur, rag="RAG",
                                                 compact=True).html)
    if not parts:
        return Html('<p class="vmo-empty">No lines.</p>')
    return Html("".join(parts))


def gaps_table(status: Any) -> Html:
    """The measurement gaps (:func:`vmo_lib.analysis.realisation.measurement_gaps`), or a line saying there are none."""
    g = status.gaps
    if not len(g):
        return Html('<p class="vmo-empty">No measurement gaps: every benefit has an owner, a baseline, a target '
                    "and recent measurements.</p>")
    return table(g[["name", "owner", "gap", "detail", "periods"]].rename(columns={"name": "line"}))


def issues_table(issues: Any) -> Html:
    """Validation warnings that travelled with the case: where (sheet, cell) and what.

    Examples
    --------
    >>> import pandas as pd
    >>> issues_table(pd.DataFrame()).html
    '<p class="vmo-empty">No validation warnings.</p>'
    """
    if issues is None or not len(issues):
        return Html('<p class="vmo-empty">No validation warnings.</p>')
    cols = [c for c in ("severity", "sheet", "cell", "field", "message") if c in issues.columns]
    return table(issues[cols])


# --- risk --------------------------------------------------------------------------------------------------------
def risk_summary(review: Any) -> Html:
    """Monte Carlo of the expected outlook as cards (P10/P50/P90, chance below zero, chance of getting
    back to the NPV in force), then the switching values on the outlook in words.

    Actuals to date are fixed; uncertainty applies only to what is still to come, so the figures
    agree with the verdict. The approved plan's own simulation is named as such when shown.
    """
    s = review.simulation
    cur = review.currency or "GBP"
    if s is None:
        return Html('<p class="vmo-empty">No simulation was run for this review.</p>')
    f = review.risk_figures()
    cards = [
        {"label": "Expected NPV P10", "value": format_money(f["risk_p10"], cur, compact=True),
         "note": "1 in 10 outcomes worse"},
        {"label": "P50", "value": format_money(f["risk_p50"], cur, compact=True), "note": "the middle outcome"},
        {"label": "P90", "value": format_money(f["risk_p90"], cur, compact=True), "note": "1 in 10 outcomes better"},
        {"label": "Chance NPV < 0", "value": format_percent(f["prob_below_zero"]),
         "note": f"{s.iterations:,} simulated outcomes", "tone": "bad" if f["prob_below_zero"] >= 0.2 else ""},
        {"label": "Chance of reaching approved", "value": format_percent(f["prob_reach_approved"]),
         "note": f"NPV in force {format_money(review.status.current_baseline_npv, cur, compact=True)}"},
    ]
    intro = (f'<p class="vmo-sub">The expected outlook as of {html.escape(review.as_of)}: actuals to date are '
             f"fixed; the low / likely / high estimates apply to what is still to come. Amounts in "
             f"{html.escape(str(cur))}.</p>")
    notes = _switching_sentences(review.switching)
    approved = ""
    sa = review.simulation_approved
    if sa is not None:
        approved = (f'<p class="vmo-sub">For reference, the approved plan simulated on its own: P10 '
                    f"{html.escape(format_money(sa.p10, cur, compact=True))}, P90 "
                    f"{html.escape(format_money(sa.p90, cur, compact=True))}, chance NPV &lt; 0 "
                    f"{html.escape(format_percent(sa.prob_negative))}.</p>")
    return Html(intro + key_figures(cards).html + approved + "<h3>Switching values (expected outlook)</h3>"
                + Html.paragraphs(notes, "vmo-list").html)


def _switching_sentences(switching: Any) -> list[str]:
    """The switching values in words (:func:`vmo_lib.analysis.risk.switching_values` notes); a driver with no
    switching value is named, so the board does not read a bare "None: ...".

    Examples
    --------
    >>> import pandas as pd
    >>> _switching_sentences(pd.DataFrame({"driver": ["delay"], "value": [float("nan")],
    ...                                    "note": ["None: NPV is not positive without delay."]}))
    ['Delay: no switching value (NPV is not positive without delay).']
    """
    if switching is None or "note" not in switching:
        return []
    out = []
    for r in switching.to_dict(orient="records"):
        note = str(r.get("note") or "").strip()
        if note.startswith("None:") and is_missing(r.get("value")):
            reason = note.removeprefix("None:").strip().rstrip(".")
            note = f"{str(r.get('driver') or 'this driver').capitalize()}: no switching value ({reason})."
        if note:
            out.append(note)
    return out




def risk_charts(review: Any) -> Html:
    """The distribution of the expected NPV as a histogram and an S-curve (P10/P50/P90, zero and the NPV
    in force marked), then the chance of getting back to it, in words. Read from
    :attr:`CaseReview.simulation` and :meth:`CaseReview.risk_figures`."""
    from vmo_lib.outputs import charts

    sim = review.simulation
    if sim is None:
        return Html('<p class="vmo-empty">No simulation was run for this review.</p>')
    f = review.risk_figures()
    cur = review.currency or "GBP"
    ref = review.status.current_baseline_npv
    label = "approved" if review.status.baseline_in_force == "baseline" else "in-force"
    reach = f["prob_reach_approved"]
    words = (f"Chance of getting back to the {label} NPV of {format_money(ref, cur, compact=True)}: "
             f"{format_percent(reach, 1)} of {sim.iterations:,} simulated outcomes. Chance the expected NPV ends "
             f"below zero: {format_percent(f['prob_below_zero'], 1)}. Eight in ten outcomes lie between P10 "
             f"{format_money(f['risk_p10'], cur, compact=True)} and P90 {format_money(f['risk_p90'], cur, compact=True)}"
             f", around a P50 of {format_money(f['risk_p50'], cur, compact=True)}.")
    words += " " + _likely_vs_simulated(review.expected.npv, sim, cur)
    hist = charts.npv_distribution_chart(sim, cur, reference=ref, reference_label=label)
    s_curve = charts.npv_s_curve(sim, cur, reference=ref, reference_label=label)
    return Html(f'<p class="vmo-risk-reach"><b>{html.escape(words)}</b></p>'
                + figure(hist).html + figure(s_curve).html)


def _likely_vs_simulated(expected_npv: float, sim: Any, currency: str) -> str:
    """Why the expected NPV (every line at its likely value) and the simulated outcomes differ.

    The expected NPV takes each line's *likely* figure; the simulation draws each line between its low
    and high. Ranges that are not symmetric about the likely value (a benefit with more room below than
    above, as most business cases state them) put the simulated mean below the expected NPV, sometimes
    beyond P90. The sentence gives the simulated mean and the share of outcomes worse than the expected
    NPV so the two figures on the page are read together.

    Examples
    --------
    >>> import numpy as np
    >>> from types import SimpleNamespace
    >>> sim = SimpleNamespace(npv=np.array([-300.0, -200.0, -100.0, 0.0]))
    >>> _likely_vs_simulated(-50.0, sim, "GBP")  # doctest: +NORMALIZE_WHITESPACE
    'The expected NPV of −£50 takes every line at its likely value; the simulated outcomes average −£150
    because the low–high ranges leave more room below the likely values than above: 75.0% of outcomes are
    worse than the expected NPV.'
    """
    npv = np.asarray(sim.npv, dtype=float)
    npv = npv[np.isfinite(npv)]
    if not len(npv) or not math.isfinite(expected_npv):
        return ""
    mean, worse = float(npv.mean()), float(np.mean(npv < expected_npv))

    def m(x: float) -> str:
        return format_money(x, currency, compact=True)

    if abs(mean - expected_npv) <= 0.02 * max(abs(expected_npv), 1.0):
        why = "the low–high ranges sit about evenly around the likely values"
    elif mean < expected_npv:
        why = "the low–high ranges leave more room below the likely values than above"
    else:
        why = "the low–high ranges leave more room above the likely values than below"
    return (f"The expected NPV of {m(expected_npv)} takes every line at its likely value; the simulated outcomes "
            f"average {m(mean)} because {why}: {format_percent(worse, 1)} of outcomes are worse than the "
            "expected NPV.")


_STAGE_RULE = ("The uplift comes down as a case moves from outline case to live (proposed: the upper bound; "
               "approved: halfway to the lower bound; in delivery: 80% of the way; live or closed: the lower bound).")


def optimism_bias_html(review: Any) -> Html:
    """The Green Book optimism-bias view of the plan in force: the uplifts used at the case's stage
    (:func:`vmo_lib.analysis.scenarios.optimism_bias`, stated with the rule) and the appraisal before and
    after (:attr:`CaseReview.optimism_bias`)."""
    from vmo_lib.analysis.scenarios import optimism_bias
    from vmo_lib.errors import AnalysisError

    t = review.optimism_bias
    if t is None or not len(t) or "after" not in t:
        return Html('<p class="vmo-empty">No optimism-bias view: the case type has no Green Book defaults.</p>')
    cur = review.currency or "GBP"
    try:
        ob = optimism_bias(review.case)
    except AnalysisError:
        ob = None
    intro = ""
    if ob is not None:
        stage = ob.stage or "of unknown stage"
        if ob.stage_mitigation == 0:
            where = "the upper bound (outline case)"
        elif ob.stage_mitigation == 1:
            where = "the lower bound (risks managed)"
        else:
            where = f"{format_percent(ob.stage_mitigation)} of the way from the upper to the lower bound"
        own = f" The case sets {', '.join(ob.from_case)} itself." if ob.from_case else ""
        intro = (f"Green Book supplementary guidance, {ob.reference_class} class, case {stage}: {where}. "
                 f"Capex +{format_percent(ob.capex)}, opex +{format_percent(ob.opex)}, time to go-live "
                 f"+{format_percent(ob.duration)} (benefits {ob.delay_periods} period(s) later), benefits "
                 f"−{format_percent(ob.benefits)}.{own} {_STAGE_RULE}")
    out = []
    for k in ("npv", "pv_capex", "pv_opex", "pv_costs", "pv_benefits", "irr", "bcr"):
        if k not in t.index:
            continue
        r = t.loc[k]
        kind = "percent" if k == "irr" else "ratio" if k == "bcr" else "money"

        def fmt(v: Any, kind: str = kind) -> str:
            if kind == "money":
                return format_money(v, cur)
            return format_percent(v, 1) if kind == "percent" else format_number(v, 2)

        plus = "+" if not is_missing(r["change"]) and r["change"] > 0 else ""
        out.append(f'<tr><td>{html.escape(str(r["label"]))}</td><td class="num">{html.escape(fmt(r["before"]))}</td>'
                   f'<td class="num">{html.escape(fmt(r["after"]))}</td>'
                   f'<td class="num">{html.escape(plus + fmt(r["change"]))}</td></tr>')
    head = ('<table class="vmo-table"><thead><tr><th>Plan in force</th><th class="num">Before</th>'
            '<th class="num">After optimism bias</th><th class="num">Change</th></tr></thead><tbody>')
    return Html(f'<p class="vmo-sub">{html.escape(intro)}</p>' + head + "".join(out) + "</tbody></table>")
