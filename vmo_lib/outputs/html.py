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
    "atomic_write_bytes",
    "atomic_write_text",
    "figure",
    "format_money",
    "format_number",
    "format_percent",
    "key_figures",
    "pack_header",
    "rag_class",
    "rag_text",
    "read_results",
    "render_failure_page",
    "render_index",
    "render_pack_html",
    "safe_child",
    "safe_id",
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

    def __html__(self) -> str:  # Jinja2 (autoescape) inserts it as the trusted HTML it is
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


def figure(fig: Any, alt: str | None = None, *, dpi: int = 110) -> Html:
    """A matplotlib figure as an embedded PNG with its text alternative (``alt``, else the one the chart
    function attached, :func:`vmo_lib.outputs.charts.alt_text`), so every chart image in a pack has
    alt text. Nothing is fetched or written: the image is inline.

    Examples
    --------
    >>> from matplotlib.figure import Figure
    >>> f = Figure(figsize=(2, 1))
    >>> _ = f.add_subplot().plot([0, 1], [1, 0])
    >>> h = figure(f, alt='A line "falling"').html
    >>> h.startswith('<figure class="vmo-figure"><img alt="A line &quot;falling&quot;" src="data:image/png;base64,')
    True
    """
    import base64
    import io

    if fig is None:
        return Html("")
    text = alt or getattr(fig, "vmo_alt", "") or "; ".join(a.get_title() for a in fig.axes if a.get_title()) or "Chart"
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight", facecolor="white")
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    return Html(f'<figure class="vmo-figure"><img alt="{html.escape(str(text), quote=True)}" '
                f'src="data:image/png;base64,{data}"></figure>')


def table(df: Any, *, money: Iterable[str] = (), percent: Iterable[str] = (), currency: str = "GBP",
          digits: Mapping[str, int] | None = None, index: bool = False, max_rows: int = 200,
          empty: str = "None.", rag: str | None = None, compact: bool = False) -> Html:
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
    compact : bool, default False
        Money in the compact form (``£1.23m``) so a wide table fits its page.

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
            return format_money(v, cur, compact=compact)
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
#: Control characters and bidirectional overrides/isolates (U+202E...): text that can reorder or hide
#: what a reader sees. A file name is not workbook text (which the reader cleans on loading): a page
#: showing one drops them (issue 15: ``CRM\u202exslx.xlsx`` reached the review index and failure page).
_INVISIBLE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200b-\u200f\u202a-\u202e\u2060-\u2064"
                        "\u2066-\u2069\ufeff]")


def _visible(value: Any) -> Any:
    """Jinja's ``finalize``: every string a page template prints, without :data:`_INVISIBLE` characters."""
    if isinstance(value, str) and _INVISIBLE.search(value):
        cleaned = _INVISIBLE.sub("", value)
        return type(value)(cleaned) if hasattr(value, "__html__") else cleaned  # Markup stays Markup
    return value


def _jinja_env():
    import jinja2

    return jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATE_DIR)),
                              autoescape=True, undefined=jinja2.StrictUndefined,
                              trim_blocks=True, lstrip_blocks=True, finalize=_visible)


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
                 max_figures: int = 3, movement: Mapping[str, Html] | None = None) -> str:
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
    movement : mapping, optional
        Case id → :class:`Html` cell of its movement across quarters
        (:func:`vmo_lib.outputs.movement.index_cells`); a "Movement" column when given.

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
                     "issues": [_issue_row(i) for i in (e.get("issues") or [])],
                     "movement": (movement or {}).get(str(e.get("case_id", "")))})
    ok = [r for r in rows if r["status"] == "ok"]
    counts = {k: sum(1 for r in ok if r["rag_class"] == k) for k in ("green", "amber", "red", "grey")}
    n_failed = len(rows) - len(ok)
    cards = [{"label": "Cases reviewed", "value": f"{len(ok)} of {len(rows)}", "note": "", "tone": ""},
             {"label": "RAG green", "value": counts["green"], "note": "verdict, benefits and spend together",
              "tone": "good" if counts["green"] else ""},
             {"label": "RAG amber", "value": counts["amber"], "note": "verdict, benefits and spend together", "tone": ""},
             {"label": "RAG red", "value": counts["red"], "note": "verdict, benefits and spend together",
              "tone": "bad" if counts["red"] else ""}]
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
        figure_labels=labels, n_cases=len(rows), n_failed=n_failed, has_movement=bool(movement))


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
