"""Review-pack rendering: safe names, escaped HTML blocks for notebooks, packs, the index.

Everything a workbook author typed (titles, owners, comments, even case ids) is untrusted text:

* every HTML block built here escapes it (:func:`html.escape`); the index and failure pages are
  rendered by Jinja2 with autoescape on;
* a case id is never used as a path: :func:`safe_id` turns it into a short, portable file name and
  :func:`safe_child` refuses any path that would land outside the output folder.

The notebooks (``notebooks/case_review.py``, ``notebooks/portfolio_review.py``) display their headers,
key-figure cards, tables and narrative through the :class:`Html` blocks made here, so the pack looks
the same in JupyterLab and in the HTML pack. Heavy imports (jinja2, nbconvert) happen inside the
functions that need them, so ``import vmo_lib.outputs.html`` stays cheap in a kernel.

Examples
--------
>>> safe_id("CRM-2026")
'CRM-2026'
>>> format_money(1234567.8, "GBP")
'£1,234,568'
>>> str(Html.text("<b>x</b>"))
'&lt;b&gt;x&lt;/b&gt;'
"""

from __future__ import annotations

import html
import importlib.resources
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vmo_lib.files import (  # noqa: F401 - re-exported: the notebooks' one import
    RESULTS_FILE,
    atomic_write_bytes,
    atomic_write_text,
    read_results,
    safe_child,
    safe_id,
    write_results,
)
from vmo_lib.formatting import format_money, format_number, format_percent, is_missing

__all__ = [
    "Html",
    "RESULTS_FILE",
    "TEMPLATE_DIR",
    "appraisal_table",
    "atomic_write_bytes",
    "atomic_write_text",
    "case_cards",
    "case_results",
    "case_summary",
    "decisions_table",
    "format_money",
    "format_number",
    "format_percent",
    "gaps_table",
    "issues_table",
    "key_figures",
    "load_failures_table",
    "narrative",
    "narrative_html",
    "pack_header",
    "portfolio_headline",
    "portfolio_results",
    "portfolio_summary",
    "rag_class",
    "rag_text",
    "read_results",
    "realisation_table",
    "register_table",
    "render_failure_page",
    "render_index",
    "render_pack_html",
    "risk_summary",
    "safe_child",
    "safe_id",
    "scenario_label",
    "selection_table",
    "table",
    "write_results",
]

#: Folder of the HTML templates and the stylesheet: package data (``vmo_lib/templates/report``), found
#: through :mod:`importlib.resources` in a checkout, an editable install and a wheel alike.
TEMPLATE_DIR = Path(str(importlib.resources.files("vmo_lib") / "templates" / "report"))

_RAG_CLASSES = {"green": "green", "amber": "amber", "red": "red", "g": "green", "a": "amber", "r": "red"}


def rag_class(rag: Any) -> str:
    """CSS class suffix of a RAG rating: ``green``, ``amber``, ``red`` or ``grey`` (unknown).

    Examples
    --------
    >>> rag_class("Amber"), rag_class(None)
    ('amber', 'grey')
    """
    return _RAG_CLASSES.get(str(rag or "").strip().lower(), "grey")


def rag_text(rag: Any) -> str:
    """A RAG rating as a board reads it: ``green``, ``amber``, ``red``, or ``not yet rated`` when nothing
    was due or reported (no rating, never the word "grey" or "nan").

    Examples
    --------
    >>> rag_text("Red"), rag_text("grey"), rag_text(None)
    ('red', 'not yet rated', 'not yet rated')
    """
    c = rag_class(rag)
    return "not yet rated" if c == "grey" else c


# --- HTML blocks for notebooks ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Html:
    """A block of trusted HTML (built here with every untrusted string escaped).

    Jupyter displays it through ``_repr_html_``; nbconvert carries it into the pack.
    """

    html: str

    def _repr_html_(self) -> str:
        return self.html

    def __str__(self) -> str:
        return self.html

    @classmethod
    def text(cls, text: Any) -> Html:
        """Untrusted text, escaped.

        >>> Html.text("<script>").html
        '&lt;script&gt;'
        """
        return cls(html.escape(str(text)))

    @classmethod
    def paragraphs(cls, sentences: Iterable[Any], css: str = "vmo-narrative") -> Html:
        """Sentences as an escaped bullet list (used for generated narrative).

        >>> Html.paragraphs(["A & B."]).html
        '<ul class="vmo-narrative"><li>A &amp; B.</li></ul>'
        """
        items = "".join(f"<li>{html.escape(str(s))}</li>" for s in sentences)
        if not items:
            return cls('<p class="vmo-empty">Nothing to report.</p>')
        return cls(f'<ul class="{css}">{items}</ul>')


def pack_header(title: Any, case_id: Any, subtitle: Any = "", verdict: Any = None, rag: Any = None,
                verdict_note: Any = "") -> Html:
    """The header of a case pack: title, id and subtitle on the left, verdict badge (RAG colour) right.

    Examples
    --------
    >>> h = pack_header("<script>alert(1)</script>", "X1", "Sponsor: CFO", "value created", "green")
    >>> "<script>" in h.html, "&lt;script&gt;" in h.html, "rag-green" in h.html
    (False, True, True)
    """
    e = html.escape
    badge = ""
    if verdict is not None or rag is not None:
        label = verdict if verdict not in (None, "") else rag
        badge = f'<span class="vmo-badge rag-{rag_class(rag)}">{e(str(label))}</span>'
        if verdict_note:
            badge += f'<span class="vmo-verdict-text">{e(str(verdict_note))}</span>'
    sub = f"{e(str(case_id))}" + (f" &middot; {e(str(subtitle))}" if subtitle else "")
    return Html(f'<div class="vmo-header"><div><h1>{e(str(title or case_id))}</h1>'
                f'<div class="vmo-sub">{sub}</div></div><div class="vmo-verdict">{badge}</div></div>')


def key_figures(cards: Sequence[Mapping[str, Any]]) -> Html:
    """Key figures as cards. Each card: ``label``, ``value`` (already formatted text), optional
    ``note`` and ``tone`` (``good`` / ``bad``).

    Examples
    --------
    >>> key_figures([{"label": "NPV", "value": "£1.2m", "tone": "good"}]).html.count("vmo-card")
    2
    """
    e = html.escape
    out = []
    for c in cards:
        tone = c.get("tone") if c.get("tone") in ("good", "bad") else ""
        note = f'<div class="vmo-note">{e(str(c["note"]))}</div>' if c.get("note") else ""
        out.append(f'<div class="vmo-card {tone}"><div class="vmo-label">{e(str(c["label"]))}</div>'
                   f'<div class="vmo-value">{e(str(c["value"]))}</div>{note}</div>')
    return Html('<div class="vmo-cards">' + "".join(out) + "</div>")


def table(df: Any, *, money: Iterable[str] = (), percent: Iterable[str] = (), currency: str = "GBP",
          digits: Mapping[str, int] | None = None, index: bool = False, max_rows: int = 200,
          empty: str = "None.", rag: str | None = None) -> Html:
    """A DataFrame as a board-readable HTML table, every cell escaped.

    Money columns get the currency symbol and thousands separators, percent columns a ``%``,
    other numbers thousands separators; numbers are right-aligned; missing values show ``–``.
    Column names ``like_this`` become ``Like this``.

    Parameters
    ----------
    df : pandas.DataFrame
    money, percent : iterable of str
        Columns to format as money / as a percentage of a fraction.
    currency : str
        ISO code of every money cell, or the name of a column holding each row's currency (that
        column is then not shown: every amount carries its own symbol).
    digits : mapping, optional
        Decimals per other numeric column (default 0 for whole numbers, 2 otherwise).
    index : bool, default False
        Show the index as the first column.
    max_rows : int, default 200
        Longer tables are cut, with a note saying how many rows were left out.
    empty : str
        Text shown for an empty table.
    rag : str, optional
        A column of RAG ratings, shown as a coloured dot with the rating (:func:`rag_text`).

    Examples
    --------
    >>> import pandas as pd
    >>> t = table(pd.DataFrame({"name": ["<b>"], "npv": [1234.5]}), money=["npv"]).html
    >>> "&lt;b&gt;" in t, "£1,234" in t or "£1,235" in t, '<td class="num">' in t
    (True, True, True)
    >>> t = table(pd.DataFrame({"npv": [1e3, 2e3], "currency": ["GBP", "EUR"]}), money=["npv"], currency="currency")
    >>> "£1,000" in t.html, "€2,000" in t.html, "Currency" in t.html
    (True, True, False)
    """
    import pandas as pd

    if df is None or len(df) == 0:
        return Html(f'<p class="vmo-empty">{html.escape(empty)}</p>')
    frame = df.reset_index() if index else df
    money, percent, digits = set(money), set(percent), dict(digits or {})
    e = html.escape
    row_currency = currency if currency in frame.columns else None
    cols = [c for c in frame.columns if c != row_currency]
    numeric = {c: pd.api.types.is_numeric_dtype(frame[c]) and not pd.api.types.is_bool_dtype(frame[c])
               for c in cols}

    def head(c: Any) -> str:
        text = re.sub(r"(^|_)pct$", r"\1%", str(c)).replace("_", " ")
        return text[:1].upper() + text[1:]

    def cell(c: Any, v: Any, cur: str) -> str:
        if c in money:
            return format_money(v, cur)
        if c in percent:
            return format_percent(v, digits.get(c, 0))
        if c == rag:
            return rag_text(v)
        if numeric[c] and not is_missing(v):
            d = digits.get(c, 0 if float(v).is_integer() else 2)
            return format_number(v, d)
        return "–" if is_missing(v) else str(v)

    def td(c: Any, v: Any, cur: str) -> str:
        if c == rag:
            return f'<td class="vmo-rag"><span class="vmo-dot rag-{rag_class(v)}"></span>{e(cell(c, v, cur))}</td>'
        if numeric[c] or c in money or c in percent:
            return f'<td class="num">{e(cell(c, v, cur))}</td>'
        return f"<td>{e(cell(c, v, cur))}</td>"

    ths = "".join(f'<th class="num">{e(head(c))}</th>' if (numeric[c] or c in money or c in percent)
                  else f"<th>{e(head(c))}</th>" for c in cols)
    rows = []
    for rec in frame.head(max_rows).to_dict(orient="records"):
        cur = str(rec[row_currency] or "") if row_currency is not None else currency
        rows.append("<tr>" + "".join(td(c, rec[c], cur) for c in cols) + "</tr>")
    more = ""
    if len(frame) > max_rows:
        more = f'<p class="vmo-empty">{len(frame) - max_rows:,} more rows not shown.</p>'
    return Html(f'<table class="vmo-table"><thead><tr>{ths}</tr></thead><tbody>{"".join(rows)}</tbody></table>{more}')


# --- whole pages ---------------------------------------------------------------------------------------------
def _jinja_env():
    import jinja2

    return jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATE_DIR)),
                              autoescape=True, undefined=jinja2.StrictUndefined,
                              trim_blocks=True, lstrip_blocks=True)


_EXPORTERS: dict[bool, Any] = {}


def render_pack_html(nb: Any, *, banner: str = "Quarterly review", footer: str = "",
                     include_code: bool = False) -> str:
    """An executed notebook as a self-contained HTML pack in the house style.

    Code cells, prompts, stderr streams (warnings) and cells tagged ``hide-in-pack`` (notes for
    the analyst) are left out unless ``include_code`` (used for a failed notebook, where the
    analyst needs to see what broke). Figures stay embedded as
    base64 images; no script or stylesheet is fetched from the network.

    Parameters
    ----------
    nb : nbformat.NotebookNode
        The executed notebook (not modified).
    banner, footer : str
        Text of the top bar and the footer (escaped).
    include_code : bool, default False

    Returns
    -------
    str
        The HTML document.

    Examples
    --------
    >>> import nbformat
    >>> nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1+1", outputs=[
    ...     nbformat.v4.new_output("execute_result", {"text/plain": "2"}, execution_count=1)])])
    >>> page = render_pack_html(nb)
    >>> "1+1" in page, "jp-InputArea" in page
    (False, False)
    """
    import copy

    nb = copy.deepcopy(nb)
    if not include_code:
        nb.cells = [c for c in nb.cells if "hide-in-pack" not in c.get("metadata", {}).get("tags", [])]
        for c in nb.cells:
            if c.get("cell_type") == "code":
                c["outputs"] = [o for o in c.get("outputs", [])
                                if not (o.get("output_type") == "stream" and o.get("name") == "stderr")]
    nb.metadata["vmo"] = {"banner": banner, "footer": footer}
    if include_code not in _EXPORTERS:
        import jinja2
        from nbconvert import HTMLExporter

        _EXPORTERS[include_code] = HTMLExporter(
            template_name="vmo_pack",
            extra_template_basedirs=[str(TEMPLATE_DIR)],
            extra_loaders=[jinja2.FileSystemLoader(str(TEMPLATE_DIR))],  # for {% include 'vmo.css' %}
            exclude_input=not include_code,
            exclude_input_prompt=True,
            exclude_output_prompt=True,
            embed_images=True,
        )
    body, _ = _EXPORTERS[include_code].from_notebook_node(nb)
    return body


def render_index(entries: Sequence[Mapping[str, Any]], *, as_of: str, source: str,
                 portfolio: Mapping[str, Any] | None = None, footer: str = "",
                 max_figures: int = 3) -> str:
    """The review index page: summary cards, the portfolio link, one row per case.

    Parameters
    ----------
    entries : sequence of mapping
        One per case: ``case_id``, ``title``, ``source``, ``status`` (``ok`` / ``failed``),
        ``verdict``, ``rag``, ``figures`` (label → formatted text), ``links`` (list of
        ``{"label", "href"}``), and for failures ``step``, ``error``, ``issues`` (list of dicts).
    as_of, source : str
        The review date and the folder reviewed.
    portfolio : mapping, optional
        ``status``, ``error``, ``links`` and ``headline`` (sentences, :func:`portfolio_headline`) of
        the portfolio pack.
    footer : str
    max_figures : int
        How many key figures get a column (the first ones of the first successful case).

    Examples
    --------
    >>> page = render_index([{"case_id": "X", "title": "<script>alert(1)</script>", "status": "ok",
    ...                       "verdict": "on track", "rag": "green", "links": []}],
    ...                     as_of="2026Q3", source="data/sample")
    >>> "<script>alert" in page, "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    (False, True)
    """
    labels: list[str] = []
    for e in entries:
        for label in (e.get("figures") or {}):
            if label not in labels and len(labels) < max_figures:
                labels.append(label)
    rows = []
    for e in entries:
        rows.append({"case_id": e.get("case_id", ""), "title": e.get("title") or "", "source": e.get("source") or "",
                     "status": e.get("status", "failed"), "verdict": e.get("verdict"), "decision": e.get("decision"), "rag": e.get("rag"),
                     "rag_class": rag_class(e.get("rag")), "rag_text": rag_text(e.get("rag")),
                     "figures": dict(e.get("figures") or {}),
                     "links": list(e.get("links") or []), "step": e.get("step") or "", "error": e.get("error") or "",
                     "issues": [_issue_row(i) for i in (e.get("issues") or [])]})
    ok = [r for r in rows if r["status"] == "ok"]
    counts = {k: sum(1 for r in ok if r["rag_class"] == k) for k in ("green", "amber", "red", "grey")}
    n_failed = len(rows) - len(ok)
    cards = [{"label": "Cases reviewed", "value": f"{len(ok)} of {len(rows)}", "note": "", "tone": ""},
             {"label": "Green", "value": counts["green"], "note": "RAG green", "tone": "good" if counts["green"] else ""},
             {"label": "Amber", "value": counts["amber"], "note": "RAG amber", "tone": ""},
             {"label": "Red", "value": counts["red"], "note": "RAG red", "tone": "bad" if counts["red"] else ""}]
    n_decide = sum(1 for r in ok if r.get("decision") not in (None, "", "continue", "closed"))
    cards.append({"label": "Decisions needed", "value": n_decide, "note": "stop, re-plan, recover or start",
                  "tone": "bad" if n_decide else ""})
    if counts["grey"]:
        cards.append({"label": "Not yet rated", "value": counts["grey"], "note": "nothing due or reported", "tone": ""})
    if n_failed:
        cards.append({"label": "Not reviewed", "value": n_failed, "note": "see the reasons below", "tone": "bad"})
    order = {"red": 0, "amber": 1, "green": 2, "grey": 3}
    rows.sort(key=lambda r: (r["status"] == "ok", order[r["rag_class"]], str(r["case_id"])))
    pf = None
    if portfolio is not None:
        pf = {"status": portfolio.get("status", "failed"), "error": portfolio.get("error") or "",
              "links": list(portfolio.get("links") or []),
              "headline": [str(h) for h in (portfolio.get("headline") or [])]}
    return _jinja_env().get_template("review_index.html.j2").render(
        entries=rows, as_of=as_of, source=source, portfolio=pf, footer=footer, cards=cards,
        figure_labels=labels, n_cases=len(rows), n_failed=n_failed)


def render_failure_page(*, case_id: str, title: str = "", source: str = "", as_of: str = "", error: str = "",
                        issues: Sequence[Mapping[str, Any]] = (), footer: str = "") -> str:
    """The page shown instead of a pack when a workbook could not be loaded: reason and issues.

    Examples
    --------
    >>> page = render_failure_page(case_id="<x>", error="2 errors",
    ...     issues=[{"severity": "error", "sheet": "Case", "cell": "B5", "field": "title", "message": "required"}])
    >>> "&lt;x&gt;" in page and "B5" in page
    True
    """
    return _jinja_env().get_template("load_failure.html.j2").render(
        case_id=case_id, title=title, source=source, as_of=as_of, error=error, footer=footer,
        issues=[_issue_row(i) for i in issues])


def _issue_row(issue: Mapping[str, Any]) -> dict[str, str]:
    def s(k: str) -> str:
        v = issue.get(k)
        return "" if is_missing(v) else str(v)

    return {k: s(k) for k in ("severity", "sheet", "cell", "field", "rule", "message")}


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
    return cards


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
    return Html(head.html + key_figures(cards).html)


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
    cols = {"name": "line", "kind": "kind", "type": "type", "owner": "owner", "plan_to_date": "plan_to_date",
            "actual_to_date": "actual_to_date", "variance_to_date": "variance", "performance_pct": "performance",
            "rag": "RAG"}
    import pandas as pd

    lines = pd.concat([status.benefits, status.costs], ignore_index=True)
    if not len(lines):
        return Html('<p class="vmo-empty">No lines.</p>')
    df = lines[list(cols)].rename(columns=cols)
    return table(df, money=["plan_to_date", "actual_to_date", "variance"], percent=["performance"],
                 currency=status.currency or "GBP", rag="RAG")


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
