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
import json
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
    "decisions_needed",
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
    "select_at_budget",
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
                     "status": e.get("status", "failed"), "verdict": e.get("verdict"), "rag": e.get("rag"),
                     "rag_class": rag_class(e.get("rag")), "rag_text": rag_text(e.get("rag")),
                     "figures": dict(e.get("figures") or {}),
                     "links": list(e.get("links") or []), "step": e.get("step") or "", "error": e.get("error") or "",
                     "issues": [_issue_row(i) for i in (e.get("issues") or [])]})
    ok = [r for r in rows if r["status"] == "ok"]
    counts = {k: sum(1 for r in ok if r["rag_class"] == k) for k in ("green", "amber", "red", "grey")}
    n_failed = len(rows) - len(ok)
    cards = [{"label": "Cases reviewed", "value": f"{len(ok)} of {len(rows)}", "note": "", "tone": ""},
             {"label": "Green", "value": counts["green"], "note": "on track", "tone": "good" if counts["green"] else ""},
             {"label": "Amber", "value": counts["amber"], "note": "needs attention", "tone": ""},
             {"label": "Red", "value": counts["red"], "note": "needs a decision", "tone": "bad" if counts["red"] else ""}]
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
    if kind == "money":
        return format_money(value, currency, compact=True)
    if kind == "percent":
        return format_percent(value)
    return format_number(value, 2)


def case_cards(status: Any, appraisal: Any = None) -> list[dict[str, Any]]:
    """The key figures of a case review as data: ``label``, ``value`` (a number), ``kind``
    (``money`` / ``percent``), ``note`` and ``tone``. The pack shows them as cards
    (:func:`case_summary`), the index shows the first three.

    Parameters
    ----------
    status : vmo_lib.analysis.realisation.CaseStatus
    appraisal : vmo_lib.analysis.appraisal.Appraisal, optional
        Adds the benefit-cost ratio of the appraised scenario.

    Examples
    --------
    >>> from vmo_lib.model import make_case
    >>> from vmo_lib.analysis.realisation import case_status
    >>> case = make_case({"case_id": "X", "first_period": "2026Q1", "horizon": 3, "discount_rate": 0.0},
    ...     costs=[{"line_id": "C1", "name": "Build", "amounts": [100, 0, 0]}],
    ...     benefits=[{"line_id": "B1", "name": "Savings", "amounts": [0, 100, 100]}],
    ...     actuals=[{"period": "2026Q1", "line_id": "C1", "amount": 110}])
    >>> [(c["label"], c["value"]) for c in case_cards(case_status(case, "2026Q1"))][:3]
    [('Expected NPV', 90.0), ('Approved NPV', 100.0), ('Forward NPV', 200.0)]
    """
    s = status
    ref = s.verdict.reference_npv
    approved = s.baseline_in_force == "baseline"
    change = s.verdict.change
    change_text = format_money(change, s.currency, compact=True)
    cards = [
        {"label": "Expected NPV", "value": s.expected_npv, "kind": "money",
         "note": (("+" if round(change) > 0 else "") + change_text
                  + (" vs approved" if approved else " vs re-baseline")),
         "tone": "good" if change > 0 else "bad" if change < 0 else ""},
        {"label": "Approved NPV", "value": ref, "kind": "money",
         "note": "the promise at approval" if approved else f"re-baselined ({s.baseline_in_force.split(':', 1)[-1]})",
         "tone": ""},
        {"label": "Forward NPV", "value": s.forward_npv, "kind": "money",
         "note": _FORWARD_NOTE.get(s.continue_signal, str(s.continue_signal)),
         "tone": "bad" if s.continue_signal == "rethink" else ""},
        {"label": "Benefits realised", "value": s.realisation_pct, "kind": "percent",
         "note": "of plan to date" if not is_missing(s.realisation_pct) else "nothing due yet", "tone": ""},
        {"label": "Spend", "value": s.cost_spend_pct, "kind": "percent",
         "note": "of plan to date" if not is_missing(s.cost_spend_pct) else "nothing due yet", "tone": ""},
    ]
    if appraisal is not None:
        cards.append({"label": "Benefit-cost ratio", "value": appraisal.bcr, "kind": "ratio",
                      "note": f"of {scenario_label(appraisal.scenario).removeprefix('the ')}", "tone": ""})
    return cards


def case_results(case: Any, status: Any, appraisal: Any = None, *, scenario: str = "baseline",
                 seed: int = 0) -> dict[str, Any]:
    """The machine-readable results of a case review (what ``results.json`` holds).

    Numbers only, no timestamps, so the same inputs and seed give identical files.

    Returns
    -------
    dict
        ``case_id, title, sponsor, as_of, scenario, seed, currency, verdict, rag, rag_reason,
        cards`` (:func:`case_cards`), ``status`` (:meth:`CaseStatus.to_dict`), ``appraisal``
        (:meth:`Appraisal.to_dict`), ``narrative`` (:func:`narrative`), ``warnings`` (count).
    """
    return {
        "case_id": case.case_id, "title": case.title, "sponsor": str(case.meta.get("sponsor") or ""),
        "as_of": status.as_of, "scenario": scenario, "seed": int(seed), "currency": status.currency,
        "verdict": status.verdict.label, "rag": status.rag, "rag_reason": status.rag_reason,
        "cards": case_cards(status, appraisal), "status": status.to_dict(),
        "appraisal": None if appraisal is None else appraisal.to_dict(),
        "narrative": narrative(status),
        "warnings": int(len(case.issues)) if getattr(case, "issues", None) is not None else 0,
    }


def case_summary(case: Any, status: Any, appraisal: Any = None) -> Html:
    """Header (title, sponsor, verdict badge in its RAG colour) and the key-figure cards.

    Examples
    --------
    >>> from vmo_lib.model import make_case
    >>> from vmo_lib.analysis.realisation import case_status
    >>> case = make_case({"case_id": "X", "title": "<script>alert(1)</script>", "horizon": 2},
    ...                  benefits=[{"line_id": "B1", "name": "S", "amounts": [0, 1]}])
    >>> h = case_summary(case, case_status(case, "2026Q1")).html
    >>> "<script>" in h, "&lt;script&gt;" in h
    (False, True)
    """
    meta = case.meta
    sub = " · ".join(str(x) for x in (f"Sponsor: {meta.get('sponsor')}" if meta.get("sponsor") else "",
                                        meta.get("strategic_objective") or "", f"as of {status.as_of}") if x)
    head = pack_header(case.title, case.case_id, sub, status.verdict.label, status.rag, status.rag_reason)
    cards = [{**c, "value": _fmt(c["value"], c["kind"], status.currency)} for c in case_cards(status, appraisal)]
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


def appraisal_table(appraisal: Any) -> Html:
    """The appraisal's headline metrics as a two-column table, with its notes (IRR caveats).

    A payback that never happens reads "never", not a number.

    Examples
    --------
    >>> from vmo_lib.model import make_case
    >>> from vmo_lib.analysis.appraisal import appraise
    >>> case = make_case({"case_id": "X", "horizon": 3, "discount_rate": 0.0},
    ...     costs=[{"line_id": "C1", "name": "Build", "amounts": [100, 0, 0]}],
    ...     benefits=[{"line_id": "B1", "name": "S", "amounts": [0, 30, 30]}])
    >>> h = appraisal_table(appraise(case)).html
    >>> "−£40" in h, "never" in h
    (True, True)
    """
    a = appraisal
    cur = a.currency or "GBP"
    rows = []
    for attr, label, kind in _APPRAISAL_ROWS:
        v = getattr(a, attr)
        if kind == "money":
            text = format_money(v, cur)
        elif kind.startswith("percent"):
            text = format_percent(v, 1 if kind == "percent1" else 0)
        elif kind == "ratio":
            text = format_number(v, 2)
        else:
            text = "never" if is_missing(v) else f"{float(v):,.1f} years"
        rows.append(f'<tr><td>{html.escape(label)}</td><td class="num">{html.escape(text)}</td></tr>')
    irr_note = str(getattr(a, "irr_note", "") or "")
    notes = [n for n in [irr_note if "unique" not in irr_note else "", *getattr(a, "notes", [])] if n]
    caption = (f"Figures for {scenario_label(a.scenario)}; {_VIEW_TEXT.get(a.view, f'{a.view} view')}; "
               f"{a.discount_schedule} discounting at {format_percent(a.annual_rate, 1)} a year; "
               f"{a.price_base} prices; amounts in {cur}.")
    extra = "".join(f"<li>{html.escape(str(n))}</li>" for n in notes)
    return Html(f'<table class="vmo-table"><thead><tr><th>Metric</th><th class="num">Value</th></tr></thead>'
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
def risk_summary(simulation: Any, switching: Any, currency: str = "GBP") -> Html:
    """Monte Carlo NPV percentiles as cards, then the switching values in words.

    Says which scenario was simulated (the approved plan, unless the review chose another), so a
    low chance of a negative NPV is not read as a verdict on the expected outlook.

    Parameters
    ----------
    simulation : vmo_lib.analysis.risk.MonteCarloResult
    switching : pandas.DataFrame
        :func:`vmo_lib.analysis.risk.switching_values`.
    currency : str

    Examples
    --------
    >>> from vmo_lib.model import make_case
    >>> from vmo_lib.analysis.risk import monte_carlo, switching_values
    >>> case = make_case({"case_id": "X", "horizon": 2, "discount_rate": 0},
    ...     costs=[{"line_id": "C1", "name": "Build", "amounts": [100], "low": 90, "likely": 100, "high": 160}],
    ...     benefits=[{"line_id": "B1", "name": "Saving", "amounts": [0, 150]}])
    >>> h = risk_summary(monte_carlo(case, iterations=1_000), switching_values(case)).html
    >>> "approved plan" in h, "1,000 simulated outcomes" in h
    (True, True)
    """
    s = simulation
    what = scenario_label(getattr(s, "scenario", "baseline"))
    cards = [
        {"label": "NPV P10", "value": format_money(s.p10, currency, compact=True), "note": "1 in 10 outcomes worse"},
        {"label": "NPV P50", "value": format_money(s.p50, currency, compact=True), "note": "the middle outcome"},
        {"label": "NPV P90", "value": format_money(s.p90, currency, compact=True), "note": "1 in 10 outcomes better"},
        {"label": "Chance NPV < 0", "value": format_percent(s.prob_negative),
         "note": f"{s.iterations:,} simulated outcomes", "tone": "bad" if s.prob_negative >= 0.2 else ""},
    ]
    intro = (f'<p class="vmo-sub">Simulated from the low / likely / high estimates of {html.escape(what)}, '
             f"amounts in {html.escape(str(currency))}.</p>")
    notes = _switching_sentences(switching)
    return Html(intro + key_figures(cards).html + "<h3>Switching values</h3>"
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
_DECISION_ORDER = ("stop or re-plan", "rethink", "recover", "watch", "decide")
#: How the index and the portfolio headline count each decision.
_DECISION_PHRASES = {"stop or re-plan": "to stop or re-plan", "rethink": "to rethink",
                     "recover": "needing a recovery plan", "watch": "to watch",
                     "decide": "awaiting an investment decision"}


def decisions_needed(cases: Any) -> Any:
    """The cases a board must decide on, with the reason, most urgent first.

    Rules (first match per case): **stop or re-plan** — verdict "value destroyed"; **rethink** —
    forward NPV < 0 for a case that is not regulatory/mandatory (what remains costs more than it
    returns, whatever was spent); **recover** — RAG red; **watch** — verdict "at risk" or RAG amber;
    **decide** — a proposed case awaiting its investment decision.

    Parameters
    ----------
    cases : pandas.DataFrame
        :attr:`vmo_lib.portfolio.core.Register.cases`.

    Returns
    -------
    pandas.DataFrame
        ``case_id, title, decision, reason, expected_npv, forward_npv, currency``.

    Examples
    --------
    >>> import pandas as pd
    >>> reg = pd.DataFrame({"case_id": ["A", "B", "C", "D"], "title": "", "currency": "GBP",
    ...     "verdict": ["value destroyed", "on track", "on track", "at risk"], "rag": ["red", "green", "green", "amber"],
    ...     "expected_npv": [-5.0, 10, 3, 4], "forward_npv": [2.0, -1, 3, 4], "baseline_npv": [5.0, 10, 3, 6],
    ...     "case_type": ["", "", "", ""], "status": ["live", "live", "proposed", "live"]})
    >>> d = decisions_needed(reg)
    >>> d[["case_id", "decision"]].values.tolist()
    [['A', 'stop or re-plan'], ['B', 'rethink'], ['D', 'watch'], ['C', 'decide']]
    >>> d.loc[2, "reason"]
    'at risk: expected NPV £4 against £6 approved'
    """
    import pandas as pd

    rows = []
    for r in cases.to_dict(orient="records"):
        cur = r.get("currency") or "GBP"

        def m(x: Any, cur: str = cur) -> str:
            return format_money(x, cur, compact=True)

        fwd = r.get("forward_npv")
        mandatory = r.get("case_type") == "Regulatory/mandatory"
        verdict, rag = r.get("verdict") or "no verdict", rag_text(r.get("rag"))
        against = f"expected NPV {m(r.get('expected_npv'))} against {m(r.get('baseline_npv'))} approved"
        if verdict == "value destroyed":
            d, why = "stop or re-plan", f"value destroyed: {against}"
        elif not is_missing(fwd) and fwd < 0 and not mandatory:
            d, why = "rethink", f"forward NPV {m(fwd)}: what remains costs more than it returns"
        elif rag == "red":
            d, why = "recover", f"rated red ({verdict}): a recovery plan is due"
        elif verdict == "at risk":
            d, why = "watch", f"at risk: {against}"
        elif rag == "amber":
            d, why = "watch", f"rated amber although {verdict} overall"
        elif r.get("status") == "proposed":
            d, why = "decide", "proposed: awaiting its investment decision"
        else:
            continue
        rows.append({"case_id": r["case_id"], "title": r.get("title") or "", "decision": d, "reason": why,
                     "expected_npv": r.get("expected_npv"), "forward_npv": fwd, "currency": cur})
    out = pd.DataFrame(rows, columns=["case_id", "title", "decision", "reason", "expected_npv", "forward_npv",
                                      "currency"])
    order = {d: i for i, d in enumerate(_DECISION_ORDER)}
    return out.sort_values(["decision", "case_id"], key=lambda s: s.map(order) if s.name == "decision" else s,
                           kind="stable").reset_index(drop=True)


def decisions_table(cases: Any) -> Html:
    """:func:`decisions_needed` for the pack: money in each case's own currency.

    Examples
    --------
    >>> import pandas as pd
    >>> reg = pd.DataFrame({"case_id": ["A"], "title": "T", "currency": "EUR", "verdict": "value destroyed",
    ...     "rag": "red", "expected_npv": [-5e5], "forward_npv": [1e5], "baseline_npv": [2e6],
    ...     "case_type": "", "status": "live"})
    >>> "−€500,000" in decisions_table(reg).html
    True
    """
    return table(decisions_needed(cases), money=["expected_npv", "forward_npv"], currency="currency",
                 empty="No case needs a decision this quarter.")


def portfolio_headline(register: Any) -> list[str]:
    """The portfolio's headline in sentences, for the board: value approved against expected per
    currency (value created or destroyed), the verdicts, and how many cases need a decision.

    The portfolio pack shows these sentences and the review index repeats them (through
    :func:`portfolio_results`), so the two always agree.

    Parameters
    ----------
    register : vmo_lib.portfolio.core.Register

    Returns
    -------
    list of str

    Examples
    --------
    >>> import pandas as pd
    >>> from types import SimpleNamespace
    >>> reg = SimpleNamespace(as_of="2026Q3", cases=pd.DataFrame({"case_id": ["A", "B", "C"], "title": "",
    ...     "currency": "GBP", "rag": ["red", "green", "green"], "verdict": ["value destroyed", "on track", "on track"],
    ...     "baseline_npv": [1e6, 2e6, 3e6], "expected_npv": [0.5e6, 2e6, 3.1e6], "forward_npv": [1e5, 1e6, 2e6],
    ...     "case_type": "", "status": "live"}))
    >>> for s in portfolio_headline(reg): print(s)
    GBP (3 cases): approved NPV £6.00m, expected NPV now £5.60m: £400k of value destroyed since approval.
    Verdicts: 2 on track, 1 value destroyed.
    1 case needs a decision: 1 to stop or re-plan.
    """
    from vmo_lib.portfolio.core import totals_by_currency

    cases = register.cases
    if not len(cases):
        return ["No case was loaded, so there is no portfolio figure to report."]
    out = []
    for t in totals_by_currency(cases, ["baseline_npv", "expected_npv"]).to_dict(orient="records"):
        cur, n = str(t["currency"]), int(t["cases"])
        base, exp = t["baseline_npv"], t["expected_npv"]
        change = exp - base
        shift = format_money(abs(change), cur, compact=True)
        if round(change) > 0:
            moved = f"{shift} of value created since approval"
        elif round(change) < 0:
            moved = f"{shift} of value destroyed since approval"
        else:
            moved = "unchanged since approval"
        out.append(f"{cur or 'No currency'} ({n} case{'s' if n != 1 else ''}): approved NPV "
                   f"{format_money(base, cur, compact=True)}, expected NPV now {format_money(exp, cur, compact=True)}: "
                   f"{moved}.")
    order = ["value created", "on track", "at risk", "value destroyed"]
    counts = cases["verdict"].fillna("no verdict").value_counts()
    verdicts = [v for v in order if v in counts.index] + sorted(v for v in counts.index if v not in order)
    out.append("Verdicts: " + ", ".join(f"{int(counts[v])} {v}" for v in verdicts) + ".")
    d = decisions_needed(cases)
    if len(d):
        n = len(d)
        parts = ", ".join(f"{int((d['decision'] == k).sum())} {_DECISION_PHRASES[k]}"
                          for k in _DECISION_ORDER if (d["decision"] == k).any())
        out.append(f"{n} case{' needs' if n == 1 else 's need'} a decision: {parts}.")
    else:
        out.append("No case needs a decision this quarter.")
    return out


def portfolio_summary(register: Any, failures: Any = None) -> Html:
    """Header of the portfolio pack, its key figures (value expected against approved per currency,
    cases by RAG) and the headline sentences (:func:`portfolio_headline`).

    Examples
    --------
    >>> import pandas as pd
    >>> from types import SimpleNamespace
    >>> reg = SimpleNamespace(as_of="2026Q3", cases=pd.DataFrame({"case_id": ["A", "B", "C"], "title": "",
    ...     "rag": ["red", "green", "green"], "verdict": "on track", "case_type": "", "status": "live",
    ...     "currency": "GBP", "baseline_npv": [1e6, 2e6, 3e6], "expected_npv": [0.5e6, 2e6, 3.1e6],
    ...     "forward_npv": 1.0}))
    >>> h = portfolio_summary(reg).html
    >>> "£6.00m" in h and "£5.60m" in h and ">2<" in h
    True
    """
    from vmo_lib.portfolio.core import totals_by_currency

    cases = register.cases
    n_fail = 0 if failures is None else len(failures)
    sub = f"{len(cases)} cases reviewed as of {register.as_of}" + (f"; {n_fail} workbook(s) not loaded" if n_fail else "")
    head = pack_header("Portfolio review", "Investment portfolio", sub)
    counts = {k: int((cases["rag"].map(rag_class) == k).sum()) for k in ("green", "amber", "red", "grey")}
    cards = [{"label": k.capitalize(), "value": counts[k], "tone": {"green": "good", "red": "bad"}.get(k, "")}
             for k in ("green", "amber", "red")]
    if counts["grey"]:
        cards.append({"label": "Not yet rated", "value": counts["grey"], "note": "nothing due or reported"})
    money = []
    for t in totals_by_currency(cases, ["baseline_npv", "expected_npv"]).to_dict(orient="records") if len(cases) else []:
        cur, base, exp = str(t["currency"]), t["baseline_npv"], t["expected_npv"]
        diff = exp - base
        money += [{"label": f"Approved NPV ({cur})", "value": format_money(base, cur, True), "note": "sum of the cases"},
                  {"label": f"Expected NPV ({cur})", "value": format_money(exp, cur, True),
                   "note": ("+" if round(diff) > 0 else "") + f"{format_money(diff, cur, True)} vs approved",
                   "tone": "good" if round(diff) > 0 else "bad" if round(diff) < 0 else ""}]
    return Html(head.html + key_figures(money + cards).html + Html.paragraphs(portfolio_headline(register)).html)


def load_failures_table(failures: Any) -> Html:
    """Workbooks of the portfolio folder that could not be loaded: file name, kind and reason."""
    if failures is None or not len(failures):
        return Html('<p class="vmo-empty">Every workbook loaded.</p>')
    import pandas as pd

    t = pd.DataFrame({"workbook": [Path(str(p)).name for p in failures["path"]], "problem": failures["kind"],
                      "reason": failures["error"]})
    return table(t)


def register_table(cases: Any) -> Html:
    """The portfolio register for the board: one row per case, verdict and RAG, NPVs (each in its case's
    currency), realisation and value for money."""
    cols = {"case_id": "case", "title": "title", "status": "status", "verdict": "verdict", "rag": "RAG",
            "baseline_npv": "approved_NPV", "expected_npv": "expected_NPV", "forward_npv": "forward_NPV",
            "realisation_pct": "benefits_realised", "vfm": "value_for_money", "currency": "currency"}
    return table(cases[list(cols)].rename(columns=cols), money=["approved_NPV", "expected_NPV", "forward_NPV"],
                 percent=["benefits_realised"], digits={"value_for_money": 2}, currency="currency", rag="RAG")


def _single_currency(df: Any) -> str:
    if "currency" in df and df["currency"].nunique() == 1:
        return str(df["currency"].iloc[0])
    return "GBP"


def select_at_budget(portfolio: Any, register: Any, annual_budget: float,
                     candidates: str = "active") -> tuple[Any, Any]:
    """The selection a portfolio pack shows: the cases competing for funds
    (:func:`vmo_lib.portfolio.core.selection_options`, valued at their forward NPV) chosen under the same
    limit every year (:func:`vmo_lib.portfolio.core.select_portfolio`), must-do cases forced in.

    Returns
    -------
    (options, selection)
        ``selection`` is None when no case is a candidate.
    """
    from vmo_lib.portfolio.core import select_portfolio, selection_options

    options, costs = selection_options(portfolio, register.as_of, candidates=candidates, register=register.cases)
    if not len(options):
        return options, None
    selection = select_portfolio(options["value"], costs, annual_budget,
                                 must_do=options.index[options["must_do"].astype(bool)].tolist(),
                                 currency=options["currency"])
    return options, selection


def selection_table(selection: Any, options: Any) -> Html:
    """The cases chosen under the budget (with their value) and the spend against budget per year."""
    import pandas as pd

    if selection is None:
        return Html('<p class="vmo-empty">No case is competing for funds in this review.</p>')
    cur = _single_currency(options)
    t = options.join(selection.table[["selected"]], how="left").reset_index()
    t["decision"] = t["selected"].map({True: "fund", False: "do not fund"}).fillna("do not fund")
    t.loc[t["must_do"].astype(bool), "decision"] = "fund (must do)"
    cases = table(t[["case_id", "title", "status", "value", "decision"]].rename(columns={"value": "forward_NPV"}),
                  money=["forward_NPV"], currency=cur)
    spend = selection.spend.reset_index().rename(columns={"index": "year"})
    spend = spend.replace([float("inf")], pd.NA)
    spend.columns = [str(c) for c in spend.columns]
    first = spend.columns[0]
    spend[first] = spend[first].astype(str)
    years = table(spend, money=[c for c in spend.columns if c != first], currency=cur)
    total = f"<p>Value of the selection: <b>{html.escape(format_money(selection.value, cur, compact=True))}</b>"
    total += f" ({html.escape(selection.note)})</p>" if selection.note else "</p>"
    return Html(total + cases.html + "<h3>Spend against budget by year</h3>" + years.html)


def portfolio_results(register: Any, selection: Any = None, overlaps: Any = None, *, seed: int = 0,
                      annual_budget: float | None = None, candidates: str = "active") -> dict[str, Any]:
    """The machine-readable results of a portfolio review (``results.json``): the headline sentences
    (:func:`portfolio_headline`, repeated on the review index), per-case register figures, the selection
    with its budget and candidates, and the double-counting findings."""
    keep = ["case_id", "title", "currency", "verdict", "rag", "baseline_npv", "expected_npv", "forward_npv", "vfm", "risk_p10",
            "risk_p90", "prob_negative"]
    return {
        "as_of": register.as_of, "seed": int(seed), "annual_budget": annual_budget, "candidates": candidates,
        "headline": portfolio_headline(register),
        "cases": json.loads(register.cases[keep].to_json(orient="records")),
        "selection": None if selection is None else selection.to_dict(),
        "double_counting": [] if overlaps is None else json.loads(overlaps.to_json(orient="records")),
    }
