"""The portfolio pack's blocks: each renders a :class:`~vmo_lib.portfolio.review.PortfolioReview`
(headline on the one portfolio basis, decisions, register with totals, selection at the budget);
none computes a figure.
"""

from __future__ import annotations

import html
import math
from pathlib import Path
from typing import Any

from vmo_lib.formatting import format_money, format_percent
from vmo_lib.outputs.html import Html, key_figures, pack_header, rag_class, rag_text, table

__all__ = ['REGISTER_KEY', 'decision_due', 'portfolio_risk_section', 'decisions_table', 'load_failures_table', 'movement_section', 'portfolio_headline',
           'portfolio_results', 'portfolio_summary', 'realised_to_date', 'register_key', 'register_table',
           'selection_table']


# --- portfolio ---------------------------------------------------------------------------------------------------
#: How the portfolio headline counts each decision.
_DECISION_PHRASES = {"stop": "to stop", "re-plan": "to re-plan", "recover": "needing a recovery plan",
                     "not started": "awaiting an investment decision"}


def decision_due(as_of: str) -> str:
    """When the board's decisions are due: by the next quarterly review, the end of the quarter after
    ``as_of`` (the rule the pack states above the table).

    Examples
    --------
    >>> decision_due("2026Q3"), decision_due("2026Q4")
    ('31 Dec 2026 (2026Q4 review)', '31 Mar 2027 (2027Q1 review)')
    """
    from vmo_lib.periods import period_end_date, shift_period

    nxt = shift_period(str(as_of), 1, "quarter")
    end = period_end_date(nxt, "quarter")
    return f"{end.day} {end.strftime('%b %Y')} ({nxt} review)"


def decisions_table(review: Any) -> Html:
    """The cases needing a decision (:attr:`PortfolioReview.decisions`), most urgent first: the decision
    and its reason exactly as each case's pack states them, the owner who answers for it (the case's
    sponsor) and the date it is due (:func:`decision_due`), money in each case's own currency."""
    d = review.decisions
    if d is None or not len(d):
        return table(d, empty="No case needs a decision this quarter.")
    e = html.escape
    due = decision_due(review.as_of)
    rows = []
    for r in d.to_dict(orient="records"):
        cur = str(r.get("currency") or "")
        owner = str(r.get("sponsor") or "").strip() or "no sponsor named"
        rows.append(f'<tr><td class="vmo-case"><span class="vmo-id">{e(str(r["case_id"]))}</span>'
                    f'<span class="vmo-title">{e(str(r.get("title") or ""))}</span></td>'
                    f'<td><b>{e(str(r.get("decision") or ""))}</b></td><td>{e(str(r.get("reason") or ""))}</td>'
                    f'<td>{e(owner)}</td><td class="vmo-nowrap">{e(due.split(" (")[0])}</td>'
                    f'<td class="num">{e(format_money(r.get("expected_npv"), cur))}</td>'
                    f'<td class="num">{e(format_money(r.get("forward_npv"), cur))}</td></tr>')
    rule = (f'<p class="vmo-sub">Owner: the case\'s sponsor, who brings the decision to the board. Due: by the next '
            f"quarterly review, {e(due)}.</p>")
    head = ('<thead><tr><th>Case</th><th>Decision</th><th>Reason</th><th>Owner</th><th>Due</th>'
            '<th class="num">Expected NPV</th><th class="num">Forward NPV</th></tr></thead>')
    return Html(rule + f'<table class="vmo-table vmo-decisions">{head}<tbody>{"".join(rows)}</tbody></table>')


def movement_section(review: Any, history: Any = None) -> Html:
    """What moved since the last quarterly review (expected NPV, verdicts, decisions). The slot the
    quarterly history fills: with no earlier review on record it says so, plainly labelled.

    Parameters
    ----------
    review : PortfolioReview
    history : optional
        The quarterly history (earlier reviews); None or empty = this is the first review on record.

    Examples
    --------
    >>> "First review on record" in movement_section(None).html
    True
    """
    if history is None or not len(history):
        as_of = getattr(review, "as_of", "")
        return Html('<p class="vmo-empty vmo-first-review"><b>First review on record</b>: no earlier quarter is '
                    f"stored, so there is no movement to show for {html.escape(str(as_of))}. From the next review this "
                    "section shows what changed since the quarter before: expected NPV, verdicts and decisions.</p>")
    return table(history)


def realised_to_date(review: Any) -> Any:
    """Benefits realised to date against those planned to date (the baseline in force), per currency,
    restated on the portfolio basis like every total (:func:`vmo_lib.portfolio.basis.basis_factors`:
    each period's amount discounted, or compounded, to the base date). Only the restated cases count.

    Returns
    -------
    pandas.DataFrame
        ``currency``, ``cases``, ``realised_pb`` (actual benefits reported up to the review), ``planned_pb``.
    """
    import numpy as np
    import pandas as pd

    from vmo_lib.portfolio.basis import basis_factors

    rows = []
    basis = getattr(review, "basis", None)
    for r in getattr(review, "reviews", {}).values():
        if basis is None:
            continue
        f, note = basis_factors(r.case, basis)
        if note:
            continue
        bp = r.status.by_period
        upto = (bp["t"].to_numpy() <= r.case.t_of(r.period))
        actual = bp["benefit_actual"].fillna(0.0).to_numpy(dtype=float)
        plan = bp["benefit_plan"].fillna(0.0).to_numpy(dtype=float)
        rows.append({"currency": r.currency, "realised_pb": float(np.sum(actual * f * upto)),
                     "planned_pb": float(np.sum(plan * f * upto))})
    if not rows:
        return pd.DataFrame(columns=["currency", "cases", "realised_pb", "planned_pb"])
    df = pd.DataFrame(rows)
    return (df.groupby("currency", sort=True).agg(cases=("realised_pb", "size"), realised_pb=("realised_pb", "sum"),
                                                    planned_pb=("planned_pb", "sum")).reset_index())


def portfolio_headline(review: Any) -> list[str]:
    """The portfolio's headline in sentences for the board, read from the portfolio review: NPV in
    force against expected per currency (each the total of its register column), the verdicts and the
    decisions needed. The portfolio pack shows them and the review index repeats them.

    Examples
    --------
    >>> from vmo_lib.model import make_case
    >>> from vmo_lib.analysis.review import review_case
    >>> from vmo_lib.portfolio.review import review_portfolio
    >>> a = make_case({"case_id": "A", "horizon": 2, "discount_rate": 0},
    ...               benefits=[{"line_id": "B1", "name": "S", "amounts": [10, 10]}])
    >>> from vmo_lib.portfolio.basis import PortfolioBasis
    >>> from vmo_lib.portfolio.settings import PortfolioSettings
    >>> s = PortfolioSettings(basis=PortfolioBasis("2026Q1", 0.0, "real"))
    >>> for s in portfolio_headline(review_portfolio([review_case(a, "2026Q1", iterations=0)], "2026Q1", settings=s)):
    ...     print(s)
    GBP (1 case): NPV in force £20, expected NPV now £20: unchanged since approval.
    Portfolio money is valued at the start of 2026Q1 at 0% a year, real prices of 2026 (no inflation stated).
    Verdicts: 1 on track.
    No case needs a decision this quarter.
    RAG ratings (the verdict, benefits and spend to date together, so they need not match the verdicts): 1 not yet rated.
    """
    cases = review.register
    if not len(cases):
        return ["No case was loaded, so there is no portfolio figure to report."]
    out = []
    for t in review.totals.to_dict(orient="records"):
        cur, n = str(t["currency"]), int(t["cases"])
        base, exp = t["in_force_npv_pb"], t["expected_npv_pb"]
        change = exp - base
        own = "" if t["restated"] else " (not restated: each on its own basis)"
        shift = format_money(abs(change), cur, compact=True)
        if round(change) > 0:
            moved = f"{shift} of value created against the baselines in force"
        elif round(change) < 0:
            moved = f"{shift} of value destroyed against the baselines in force"
        else:
            moved = "unchanged since approval"
        out.append(f"{cur or 'No currency'} ({n} case{'s' if n != 1 else ''}{own}): NPV in force "
                   f"{format_money(base, cur, compact=True)}, expected NPV now {format_money(exp, cur, compact=True)}: "
                   f"{moved}.")
    if review.basis is not None:
        out.append(f"Portfolio money is {review.basis.describe()}.")
    order = ["value created", "on track", "at risk", "value destroyed", "not started"]
    counts = cases["verdict"].fillna("no verdict").value_counts()
    verdicts = [v for v in order if v in counts.index] + sorted(v for v in counts.index if v not in order)
    out.append("Verdicts: " + ", ".join(f"{int(counts[v])} {v}" for v in verdicts) + ".")
    rag_counts = cases["rag"].map(rag_class).value_counts()
    rag_words = {"green": "green", "amber": "amber", "red": "red", "grey": "not yet rated"}
    rag_line = ", ".join(f"{int(rag_counts[k])} {w}" for k, w in rag_words.items() if k in rag_counts.index)
    d = review.decisions
    if len(d):
        n = len(d)
        parts = ", ".join(f"{int((d['decision'] == k).sum())} {_DECISION_PHRASES.get(k, k)}"
                          for k in _DECISION_PHRASES if (d["decision"] == k).any())
        out.append(f"{n} case{' needs' if n == 1 else 's need'} a decision: {parts}.")
    else:
        out.append("No case needs a decision this quarter.")
    out.append(f"RAG ratings (the verdict, benefits and spend to date together, so they need not match the verdicts): {rag_line}.")
    return out


def portfolio_summary(review: Any) -> Html:
    """Header of the portfolio pack and its headline for the board, on the one portfolio basis: approved
    against expected against realised value (per currency, each the total of its register column),
    the decisions needed, then the headline sentences (:func:`portfolio_headline`). The pack is
    printed on A4 landscape."""
    cases = review.register
    n_fail = len(review.failures)
    sub = f"{len(cases)} cases reviewed as of {review.as_of}" + (f"; {n_fail} workbook(s) not loaded" if n_fail else "")
    head = pack_header("Portfolio review", "Investment portfolio", sub)
    realised = realised_to_date(review)
    realised = realised.set_index("currency") if len(realised) else realised
    money = []
    for t in review.totals[review.totals["restated"]].to_dict(orient="records"):
        cur, appr, base, exp = str(t["currency"]), t["approved_npv_pb"], t["in_force_npv_pb"], t["expected_npv_pb"]
        diff = exp - base
        money += [{"label": f"Approved NPV ({cur})", "value": format_money(appr, cur, True),
                   "note": "the original promise" + ("" if round(appr) == round(base)
                                                      else f"; {format_money(base, cur, True)} as re-baselined")},
                  {"label": f"Expected NPV ({cur})", "value": format_money(exp, cur, True),
                   "note": ("+" if round(diff) > 0 else "") + f"{format_money(diff, cur, True)} vs in force",
                   "tone": "good" if round(diff) > 0 else "bad" if round(diff) < 0 else ""}]
        if len(realised) and cur in realised.index:
            rz, pl = realised.loc[cur, "realised_pb"], realised.loc[cur, "planned_pb"]
            pct = f" ({rz / pl:.0%})" if abs(pl) > 0.5 else ""
            money.append({"label": f"Benefits realised ({cur})", "value": format_money(rz, cur, True),
                          "note": f"to date, of {format_money(pl, cur, True)} planned{pct}",
                          "tone": "bad" if abs(pl) > 0.5 and rz < 0.8 * pl else ""})
    n_dec = len(review.decisions)
    money.append({"label": "Decisions needed", "value": n_dec, "note": f"due {decision_due(review.as_of)}",
                  "tone": "bad" if n_dec else ""})
    basis = (f'<p class="vmo-sub">All money on the one portfolio basis: {html.escape(review.basis.describe())}.</p>'
             if review.basis is not None else "")
    page = "<style>@page { size: A4 landscape; margin: 12mm; }</style>"
    return Html(page + head.html + key_figures(money).html + basis + Html.paragraphs(portfolio_headline(review)).html)


def load_failures_table(failures: Any) -> Html:
    """Workbooks of the portfolio folder that could not be loaded: file name, kind and reason."""
    if failures is None or not len(failures):
        return Html('<p class="vmo-empty">Every workbook loaded.</p>')
    import pandas as pd

    t = pd.DataFrame({"workbook": [Path(str(p)).name for p in failures["path"]], "problem": failures["kind"],
                      "reason": failures["error"]})
    return table(t)


#: Abbreviations of the register's headings, with what each means (the key printed under the register).
REGISTER_KEY: dict[str, str] = {
    "Own exp.": "expected NPV on the case's own basis, as its pack shows it",
    "Appr.": "approved NPV (original baseline)",
    "In force": "NPV of the baseline in force (after any re-baseline)",
    "Exp.": "expected NPV (actuals to date, then forecast, then plan)",
    "Fwd": "forward NPV (what remains after the review period)",
    "Real.": "benefits realised to date, % of plan to date (gross)",
    "VfM": "value for money: expected NPV per £1 of PV capital",
}


def register_key() -> Html:
    """The key to the register's abbreviated headings (:data:`REGISTER_KEY`)."""
    items = "".join(f"<dt>{html.escape(k)}</dt><dd>{html.escape(v)}</dd>" for k, v in REGISTER_KEY.items())
    return Html(f'<dl class="vmo-key">{items}</dl>')


def register_table(cases: Any) -> Html:
    """The portfolio register for the board: one row per case (id, title and status together), its
    decision, verdict and RAG, its expected NPV on its own basis (as its pack shows it), then the NPVs
    restated on the portfolio basis (approved, in force, expected, forward), realisation and value for
    money of the outlook; a total row per currency adds only the restated columns (each total is the sum
    of its column). Money is compact (``£1.23m``); headings are abbreviated (:func:`register_key`) so the
    register fits a 1024 px screen and A4 landscape without scrolling sideways.
    """
    from vmo_lib.formatting import format_number, format_percent, is_missing

    if cases is None or not len(cases):
        return Html('<p class="vmo-empty">No case was loaded.</p>')
    e = html.escape
    money = [("expected_npv", "Own exp."), ("approved_npv_pb", "Appr."), ("in_force_npv_pb", "In force"),
             ("expected_npv_pb", "Exp."), ("forward_npv_pb", "Fwd")]
    money = [(c, h) for c, h in money if c in cases]

    def m(v: Any, cur: str) -> str:
        return format_money(v, cur, compact=True)

    heads = ("<th>Case</th><th>Decision</th><th>Verdict</th><th>RAG</th>"
             + "".join(f'<th class="num" title="{e(REGISTER_KEY[h])}">{e(h)}</th>' for _, h in money)
             + f'<th class="num" title="{e(REGISTER_KEY["Real."])}">Real.</th>'
             + f'<th class="num" title="{e(REGISTER_KEY["VfM"])}">VfM</th>')
    rows = []
    for r in cases.to_dict(orient="records"):
        cur = str(r.get("currency") or "")
        status = f" · {e(str(r['status']))}" if r.get("status") else ""
        case = (f'<td class="vmo-case"><span class="vmo-id">{e(str(r["case_id"]))}{status}</span>'
                f'<span class="vmo-title">{e(str(r.get("title") or ""))}</span></td>')
        rag = f'<td class="vmo-rag"><span class="vmo-dot rag-{rag_class(r.get("rag"))}"></span>{e(rag_text(r.get("rag")))}</td>'
        nums = "".join(f'<td class="num">{e(m(r.get(c), cur))}</td>' for c, _ in money)
        real = r.get("realisation_pct")
        vfm = r.get("vfm")
        rows.append(f'<tr>{case}<td>{e(str(r.get("decision") or "–"))}</td><td>{e(str(r.get("verdict") or "–"))}</td>'
                    f'{rag}{nums}<td class="num">{e(format_percent(real))}</td>'
                    f'<td class="num">{e("–" if is_missing(vfm) else format_number(vfm, 2))}</td></tr>')
    foot = []
    if "restated" in cases:
        ok = cases["restated"].astype(bool).to_numpy()
        for cur, g in cases[ok].groupby("currency", sort=True):
            n = len(g)
            nums = "".join('<td class="num">–</td>' if c == "expected_npv" else
                           f'<td class="num">{e(m(float(g[c].sum()), str(cur)))}</td>' for c, _ in money)
            foot.append(f'<tr><td class="vmo-case"><b>Total</b><span class="vmo-title">{n} restated '
                        f'case{"s" if n != 1 else ""} ({e(str(cur))})</span></td><td></td><td></td><td></td>{nums}'
                        '<td class="num"></td><td class="num"></td></tr>')
        if (~ok).any():
            foot.append(f'<tr><td class="vmo-case" colspan="{4 + len(money) + 2}"><span class="vmo-title">'
                        f"{int((~ok).sum())} case(s) could not be restated on the portfolio basis and are not in the "
                        "totals.</span></td></tr>")
    return Html(f'<div class="vmo-register-wrap"><table class="vmo-table vmo-register"><thead><tr>{heads}</tr></thead>'
                f'<tbody>{"".join(rows)}</tbody><tfoot>{"".join(foot)}</tfoot></table></div>'
                + register_key().html)


def _single_currency(df: Any) -> str:
    if "currency" in df and df["currency"].nunique() == 1:
        return str(df["currency"].iloc[0])
    return "GBP"


def selection_table(review: Any) -> Html:
    """The selection at the review's budget: committed cases (in delivery or live: never "do not
    fund"), the discretionary choice, and each year's budget, committed spend, what remained and the
    headroom. The budget is stated; with none, the page says so."""
    sel = review.selection
    if sel is None:
        return Html(f'<p class="vmo-empty">{html.escape(review.selection_note or "No selection was made.")}</p>')
    cur = _single_currency(review.register)
    budget = review.annual_budget
    stated = (f"{format_money(budget, cur)} a year" if isinstance(budget, (int, float))
              else "per year as set in portfolio.toml")
    d = sel.decisions.reset_index()
    titles = review.register.set_index("case_id")["title"]
    d["title"] = d["case_id"].map(titles)
    d["why"] = d["case_id"].map(sel.reasons(lambda x: format_money(x, cur, compact=True)))
    cases = table(d[["case_id", "title", "status", "value", "decision", "why"]].rename(columns={"value": "forward_NPV"}),
                  money=["forward_NPV"], currency=cur)
    years = sel.budget.reset_index()
    years = years.rename(columns={years.columns[0]: "year"})
    years["year"] = years["year"].astype(str)
    years = years.replace([float("inf")], float("nan"))
    money = [c for c in years.columns if c != "year"]
    head = (f"<p>Budget: <b>{html.escape(stated)}</b>. Committed value "
            f"{html.escape(format_money(sel.committed_value, cur, compact=True))}, selected "
            f"{html.escape(format_money(sel.selection.value, cur, compact=True))}.")
    if sel.benefit_target is not None:
        head += f" Target {html.escape(format_money(sel.benefit_target, cur, compact=True))}: gap " \
                f"{html.escape(format_money(sel.target_gap, cur, compact=True))}."
    head += f" {html.escape(sel.note)}</p>" if sel.note else "</p>"
    return Html(head + cases.html + "<h3>Budget, committed and discretionary spend by year</h3>"
                + table(years, money=money, currency=cur).html)


def portfolio_results(review: Any) -> dict[str, Any]:
    """The machine-readable results of a portfolio review (``results.json``): the headline sentences
    (:func:`portfolio_headline`, repeated on the review index) and :meth:`PortfolioReview.to_dict`."""
    return {**review.to_dict(), "headline": portfolio_headline(review)}


def portfolio_risk_section(review: Any, risk: Any = None) -> Html:
    """The portfolio's chance of meeting its benefit target: P10/P50/P90 of total expected benefits and
    NPV on the portfolio basis, the chance of reaching the target and the cases that drive the spread,
    from the portfolio Monte Carlo ``risk`` (:meth:`PortfolioReview.risk`, the one ``vmo portfolio``
    prints: same seed, same iterations, same figures). With no target stated it says where to set one.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> "No benefit target" in portfolio_risk_section(SimpleNamespace(target_benefits=None)).html
    True
    """
    if risk is None or getattr(review, "target_benefits", None) is None and getattr(risk, "target", None) is None:
        return Html('<p class="vmo-empty">No benefit target is stated for this portfolio: set <code>[target] '
                    'benefits</code> in portfolio.toml beside the workbooks (or <code>vmo portfolio --target</code>) '
                    "to see the chance the portfolio delivers it.</p>")
    from vmo_lib.portfolio.risk import portfolio_risk_summary

    shown = portfolio_risk_summary(risk, top=8)
    cur = str(risk.currency)
    e = html.escape
    head = shown["headline"]
    rows = "".join(f"<tr><th>{e(str(i))}</th>" + "".join(
        f'<td class="num">{e(format_money(v, cur, compact=True))}</td>' for v in r) + "</tr>"
        for i, r in head.iterrows())
    cols = "".join(f'<th class="num">{e(str(c))}</th>' for c in head.columns)
    headline = (f'<table class="vmo-table"><thead><tr><th>{e(str(head.index.name or ""))}</th>{cols}</tr></thead>'
                f"<tbody>{rows}</tbody></table>")
    prob = getattr(risk, "prob_meeting_target", None)
    card = key_figures([
        {"label": "Benefit target", "value": format_money(risk.target, cur, compact=True),
         "note": "total expected benefits, portfolio basis"},
        {"label": "Chance of meeting it", "value": format_percent(prob), "note": "portfolio Monte Carlo",
         "tone": "bad" if prob is not None and prob < 0.5 else "good"},
    ]) if getattr(risk, "target", None) is not None else Html("")
    d = shown["drivers"]
    reg = getattr(review, "register", None)
    likely = None
    if reg is not None and "expected_npv_pb" in reg:
        exp_pb = reg.set_index("case_id")["expected_npv_pb"]
        d.insert(1, "expected NPV", d["case_id"].map(exp_pb))
        simulated = set(risk.cases["case_id"])
        likely = float(reg.loc[reg["case_id"].isin(simulated), "expected_npv_pb"].sum())
    drivers = table(d, money=["expected NPV", "mean NPV (simulated)", "spread (sd)"],
                    percent=["share of NPV variance", "share of benefit variance"],
                    currency=cur, compact=True, empty="No case to simulate.")
    why = ""
    if likely is not None and math.isfinite(likely):
        mean = float(head.loc["Total NPV", "mean"])
        direction = "below" if mean < likely else "above"
        why = (f'<p class="vmo-sub">The simulated mean total NPV ({e(format_money(mean, cur, compact=True))}) is '
               f"{direction} the register's expected NPV of the same cases "
               f"({e(format_money(likely, cur, compact=True))}): the expected NPV takes every line at its likely "
               "value, the simulation draws it across its low–high range, and the ranges the cases state leave "
               f"{'more room below the likely values than above' if mean < likely else 'more room above the likely values than below'}."
               " Expected NPV is the figure the verdicts use; the simulation says how far from it the outcome may "
               "land.</p>")
    return Html(f"{card.html}<p>{e(shown['sentence'])}</p>{headline}{why}"
                f'<p class="vmo-sub">The cases that drive the spread of the portfolio\'s NPV:</p>{drivers.html}')
