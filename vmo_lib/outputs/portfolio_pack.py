"""The portfolio pack's blocks: each renders a :class:`~vmo_lib.portfolio.review.PortfolioReview`
(headline on the one portfolio basis, decisions, register with totals, selection at the budget);
none computes a figure.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

from vmo_lib.formatting import format_money
from vmo_lib.outputs.html import Html, key_figures, pack_header, rag_class, table

__all__ = ['decisions_table', 'load_failures_table', 'portfolio_headline', 'portfolio_results', 'portfolio_summary', 'register_table', 'selection_table']


# --- portfolio ---------------------------------------------------------------------------------------------------
#: How the portfolio headline counts each decision.
_DECISION_PHRASES = {"stop": "to stop", "re-plan": "to re-plan", "recover": "needing a recovery plan",
                     "not started": "awaiting an investment decision"}


def decisions_table(review: Any) -> Html:
    """The cases needing a decision (:attr:`PortfolioReview.decisions`), most urgent first: the decision
    and its reason exactly as each case's pack states them, money in each case's own currency."""
    return table(review.decisions, money=["expected_npv", "forward_npv"], currency="currency",
                 empty="No case needs a decision this quarter.")


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
    d = review.decisions
    if len(d):
        n = len(d)
        parts = ", ".join(f"{int((d['decision'] == k).sum())} {_DECISION_PHRASES.get(k, k)}"
                          for k in _DECISION_PHRASES if (d["decision"] == k).any())
        out.append(f"{n} case{' needs' if n == 1 else 's need'} a decision: {parts}.")
    else:
        out.append("No case needs a decision this quarter.")
    return out


def portfolio_summary(review: Any) -> Html:
    """Header of the portfolio pack, its key figures (NPV in force and expected per currency, each the
    total of its register column; cases by RAG) and the headline sentences (:func:`portfolio_headline`)."""
    cases = review.register
    n_fail = len(review.failures)
    sub = f"{len(cases)} cases reviewed as of {review.as_of}" + (f"; {n_fail} workbook(s) not loaded" if n_fail else "")
    head = pack_header("Portfolio review", "Investment portfolio", sub)
    counts = {k: int((cases["rag"].map(rag_class) == k).sum()) for k in ("green", "amber", "red", "grey")}
    cards = [{"label": k.capitalize(), "value": counts[k], "tone": {"green": "good", "red": "bad"}.get(k, "")}
             for k in ("green", "amber", "red")]
    if counts["grey"]:
        cards.append({"label": "Not yet rated", "value": counts["grey"], "note": "nothing due or reported"})
    money = []
    for t in review.totals[review.totals["restated"]].to_dict(orient="records"):
        cur, base, exp = str(t["currency"]), t["in_force_npv_pb"], t["expected_npv_pb"]
        diff = exp - base
        money += [{"label": f"NPV in force ({cur})", "value": format_money(base, cur, True),
                   "note": "approved, as re-baselined; portfolio basis"},
                  {"label": f"Expected NPV ({cur})", "value": format_money(exp, cur, True),
                   "note": ("+" if round(diff) > 0 else "") + f"{format_money(diff, cur, True)} vs in force",
                   "tone": "good" if round(diff) > 0 else "bad" if round(diff) < 0 else ""}]
    return Html(head.html + key_figures(money + cards).html + Html.paragraphs(portfolio_headline(review)).html)


def load_failures_table(failures: Any) -> Html:
    """Workbooks of the portfolio folder that could not be loaded: file name, kind and reason."""
    if failures is None or not len(failures):
        return Html('<p class="vmo-empty">Every workbook loaded.</p>')
    import pandas as pd

    t = pd.DataFrame({"workbook": [Path(str(p)).name for p in failures["path"]], "problem": failures["kind"],
                      "reason": failures["error"]})
    return table(t)


def register_table(cases: Any) -> Html:
    """The portfolio register for the board: one row per case with its decision, verdict and RAG, its
    expected NPV on its own basis (as its pack shows it), then the NPVs restated on the portfolio basis
    (approved, in force, expected, forward), realisation and value for money of the outlook; a total
    row per currency adds only the restated columns (each total is the sum of its column)."""
    import pandas as pd

    cols = {"case_id": "case", "title": "title", "status": "status", "decision": "decision", "verdict": "verdict",
            "rag": "RAG", "expected_npv": "expected_NPV_own_basis", "approved_npv_pb": "approved",
            "in_force_npv_pb": "in_force", "expected_npv_pb": "expected", "forward_npv_pb": "forward",
            "realisation_pct": "benefits_realised", "vfm": "value_for_money", "currency": "currency"}
    df = cases[[c for c in cols if c in cases]].rename(columns=cols)
    money = ["expected_NPV_own_basis", "approved", "in_force", "expected", "forward"]
    if len(df) and "restated" in cases:
        ok = cases["restated"].astype(bool).to_numpy()
        totals = [{"case": "Total", "title": f"{int(len(g))} restated cases", "currency": cur,
                   **{m: float(g[m].sum()) for m in money[1:]}}
                  for cur, g in df[ok].groupby("currency", sort=True)]
        df = pd.concat([df, pd.DataFrame(totals)], ignore_index=True)
    return table(df, money=[m for m in money if m in df], percent=["benefits_realised"],
                 digits={"value_for_money": 2}, currency="currency", rag="RAG")


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
    cases = table(d[["case_id", "title", "status", "value", "decision"]].rename(columns={"value": "forward_NPV"}),
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
