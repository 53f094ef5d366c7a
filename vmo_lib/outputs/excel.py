"""Excel workbooks for finance: the review pack of one case and of the portfolio.

:func:`export_case_pack` writes what finance receives with every case's review pack;
:func:`export_portfolio_pack` the portfolio's. Both only lay out a review computed elsewhere (a
:class:`~vmo_lib.analysis.review.CaseReview`, a portfolio review), so the workbook's numbers are the numbers
of ``vmo status --json``, ``vmo risk --json`` and the HTML pack, to the last digit: values are
written at full precision and only *displayed* rounded by the number formats.

Decisions
---------
* **XlsxWriter, not openpyxl.** The export is a new, formatted file (never an edit of a template),
  which is what XlsxWriter is for: it is faster on formatted sheets (LIBRARIES.md: 0.51 s vs 0.75 s),
  writes native Excel charts (the value-bridge waterfall and the cumulative benefit curve stay live
  charts a finance analyst can restyle), and has ``strings_to_formulas=False``.
* **Workbook text is untrusted.** Every text value goes through ``write_string`` (never
  ``write``), with ``strings_to_formulas``, ``strings_to_urls`` and ``strings_to_numbers`` off, so a
  title such as ``=HYPERLINK("http://x","y")`` or ``=cmd|' /C calc'!A0`` is stored as a string cell
  and shows exactly what its author typed; nothing is prefixed or mangled. The export writes no
  formula at all. Untrusted text never reaches a chart title, a series name, a sheet name, a page
  header or a file path (those are fixed words; the caller chooses ``path``).
* **Atomic.** The workbook is built in memory and written with
  :func:`vmo_lib.files.atomic_write_bytes` (temp file in the same folder, then :func:`os.replace`):
  a failed export leaves the previous file, or nothing, under the final name.
* **Blank means "no figure".** NaN (an IRR with no root, a payback never reached, a realisation % with
  nothing due) is written as an empty cell, which is what ``vmo status --json`` writes as ``null``.
* **Reproducible bytes.** The document's creation date is the end of the review period, not the clock,
  so the same inputs and seed give the same file.

Examples
--------
>>> import tempfile, pathlib
>>> from vmo_lib.model import make_case
>>> from vmo_lib.analysis.review import review_case
>>> case = make_case({"case_id": "X", "title": "=1+1", "first_period": "2026Q1", "horizon": 4},
...     costs=[{"line_id": "C1", "name": "Build", "amounts": [100]}],
...     benefits=[{"line_id": "B1", "name": "Savings", "amounts": [0, 50, 50, 50]}],
...     actuals=[{"period": "2026Q1", "line_id": "C1", "amount": 110}])
>>> path = export_case_pack(review_case(case, "2026Q1", iterations=0), pathlib.Path(tempfile.mkdtemp()) / "pack.xlsx")
>>> import openpyxl
>>> ws = openpyxl.load_workbook(path)["Summary"]
>>> [ws.cell(r, 2).value for r in range(1, 30) if ws.cell(r, 1).value == "Title"]
['=1+1']
"""

from __future__ import annotations

import datetime as _dt
import io
import math
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from vmo_lib import __version__
from vmo_lib.analysis.appraisal import Appraisal
from vmo_lib.analysis.realisation import (
    EXPECTED,
    VARIANCE_NOTE,
    CaseStatus,
    ValueBridge,
)
from vmo_lib.analysis.review import DECISIONS
from vmo_lib.files import atomic_write_bytes
from vmo_lib.model import BusinessCase, Portfolio
from vmo_lib.periods import period_end_date

__all__ = [
    "CASE_SHEETS",
    "PORTFOLIO_SHEETS",
    "SUMMARY_FIGURES",
    "export_case_pack",
    "export_portfolio_pack",
]

#: Sheets of a case pack, in order.
CASE_SHEETS = ("Summary", "Metrics", "Bridge", "Realisation", "Lines by period", "Flows", "Benefits",
               "Costs", "Risk", "Green Book", "Issues")
#: Sheets of a portfolio pack, in order.
PORTFOLIO_SHEETS = ("Summary", "Register", "Benefit register", "Selection", "Double counting",
                    "Reference class", "Not loaded")
#: Headline rows of the case Summary sheet: (``vmo status --json`` key, label, kind). The value
#: column holds exactly ``CaseStatus.to_dict()[key]`` (blank where the JSON has null).
SUMMARY_FIGURES: tuple[tuple[str, str, str], ...] = (
    ("baseline_npv", "Baseline NPV (approved)", "money"),
    ("current_baseline_npv", "Baseline NPV (in force)", "money"),
    ("expected_npv", "Expected NPV", "money"),
    ("npv_change", "NPV change vs baseline in force", "money"),
    ("npv_change_pct_of_cost", "NPV change, % of PV costs", "pct"),
    ("forward_npv", "Forward NPV (what remains)", "money"),
    ("realisation_pct", "Benefits realised, % of plan to date", "pct"),
    ("benefit_plan_to_date", "Benefit plan to date", "money"),
    ("benefit_actual_to_date", "Benefit actual to date", "money"),
    ("benefit_variance_to_date", "Benefit variance to date", "money"),
    ("cost_spend_pct", "Cost spend, % of plan to date", "pct"),
    ("cost_plan_to_date", "Cost plan to date", "money"),
    ("cost_actual_to_date", "Cost actual to date", "money"),
    ("cost_variance_to_date", "Cost variance to date", "money"),
)
#: Appraisal figures of the expected outlook shown on the Summary after :data:`SUMMARY_FIGURES`.
_OUTLOOK_FIGURES = (("irr", "IRR (annual), expected", "pct"), ("bcr", "Benefit-cost ratio, expected", "ratio"),
                    ("payback_years", "Payback (years), expected", "years"),
                    ("discounted_payback_years", "Discounted payback (years), expected", "years"))
_METRICS = (
    ("pv_costs", "PV costs", "money"), ("pv_capex", "PV capex", "money"), ("pv_opex", "PV opex", "money"),
    ("pv_benefits", "PV benefits (net of dis-benefits)", "money"),
    ("pv_cash_benefits", "PV cash-releasing benefits", "money"), ("pv_disbenefits", "PV dis-benefits", "money"),
    ("npv", "NPV", "money"), ("irr", "IRR (annual)", "pct"), ("mirr", "MIRR (annual)", "pct"),
    ("roi", "ROI = (PVB − PVC) / PVC", "pct"), ("bcr", "Benefit-cost ratio", "ratio"),
    ("payback_years", "Payback (years)", "years"), ("discounted_payback_years", "Discounted payback (years)", "years"),
    ("equivalent_annual_cost", "Equivalent annual cost", "money"),
    ("undiscounted_costs", "Undiscounted costs", "money"), ("undiscounted_benefits", "Undiscounted benefits", "money"),
)
_OB_KINDS = {"irr": "pct", "bcr": "ratio", "roi": "pct", "discounted_payback_years": "years"}
_SV_KINDS = {"share of costs": "pct", "share of benefits": "pct", "annual rate": "pct", "periods": "ratio"}
_RAG_FILL = {"green": ("#C6EFCE", "#006100"), "amber": ("#FFEB9C", "#9C5700"), "red": ("#FFC7CE", "#9C0006"),
             "grey": ("#E7E6E6", "#3A3838")}
_VERDICT_RAG = {"value created": "green", "on track": "green", "at risk": "amber", "value destroyed": "red",
                "not started": "grey"}
_NAVY = "#1F3864"
_MAX_TEXT = 32_767  # Excel's limit on a cell's text
_MC_ITERATIONS = 100_000  # the default of `vmo risk`, so the Risk sheet equals `vmo risk --json`


# --------------------------------------------------------------------------------------------------
# cells, tables and sheets
# --------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Col:
    """A column of a table: the field, its header and how its values are shown."""

    key: str
    header: str
    kind: str | Callable[[Mapping[str, Any]], str] = "text"  # or a function of the row
    width: float | None = None


def _blank(v: Any) -> bool:
    if v is None or v is pd.NA or v is pd.NaT:
        return True
    return isinstance(v, (float, np.floating)) and not math.isfinite(float(v))


class _Styles:
    """The workbook's formats, made once (XlsxWriter formats belong to one workbook)."""

    NUM = {"money": "#,##0;[Red]-#,##0", "pct": "0.0%", "ratio": "0.00", "years": "0.0", "int": "#,##0", "year": "0",
           "rate": "0.00%", "date": "yyyy-mm-dd", "text": "@"}

    def __init__(self, wb: Any) -> None:
        base = {"valign": "top", "font_size": 10}
        self.title = wb.add_format({"bold": True, "font_size": 14, "font_color": _NAVY})
        self.subtitle = wb.add_format({"italic": True, "font_color": "#595959", "font_size": 10})
        self.section = wb.add_format({"bold": True, "font_size": 11, "font_color": _NAVY, "bottom": 1})
        self.header = wb.add_format({**base, "bold": True, "font_color": "white", "bg_color": _NAVY,
                                     "text_wrap": True, "border": 1, "border_color": "#BFBFBF"})
        self.label = wb.add_format({**base, "bold": True})
        self.note = wb.add_format({**base, "italic": True, "font_color": "#595959", "text_wrap": True})
        self.wrap = wb.add_format({**base, "text_wrap": True})
        self.kind = {k: wb.add_format({**base, "num_format": f}) for k, f in self.NUM.items()}
        self.kind["text"] = wb.add_format(base)
        self.kind["wrap"] = self.wrap
        self.bold_kind = {k: wb.add_format({**base, "num_format": f, "bold": True, "top": 1})
                          for k, f in self.NUM.items()}
        self.rag = {k: wb.add_format({**base, "bold": True, "bg_color": bg, "font_color": fg, "border": 1,
                                      "border_color": "#BFBFBF"})
                    for k, (bg, fg) in _RAG_FILL.items()}

    def of(self, kind: str, value: Any = None) -> Any:
        if kind in ("rag", "verdict"):
            colour = str(value).strip().lower() if isinstance(value, str) else ""
            colour = _VERDICT_RAG.get(colour, colour) if kind == "verdict" else colour
            return self.rag.get(colour, self.kind["text"])
        return self.kind.get(kind, self.kind["text"])


class _Sheet:
    """One worksheet: cell writing that never turns text into a formula, widths, page setup."""

    #: Widest sheet (in characters) still printed one page wide; wider ones print across pages at
    #: :attr:`WIDE_SCALE` % with their key columns repeated, so the figures stay legible on paper.
    FIT_WIDTH = 230
    WIDE_SCALE = 65

    def __init__(self, wb: Any, styles: _Styles, name: str, header_text: str) -> None:
        self.ws = wb.add_worksheet(name)
        self.st = styles
        self.widths: dict[int, float] = {}
        self.fixed: dict[int, float] = {}
        self.key_cols = 1
        self.portrait = False
        self.print_cols: int | None = None
        self.last_row = 0
        self.header_rows: list[tuple[int, int, list[str]]] = []
        self.ws.set_paper(9)  # A4
        self.ws.set_margins(left=0.4, right=0.4, top=0.6, bottom=0.6)
        self.ws.set_header(f"&L&8{header_text}&R&8{name}")  # fixed words only: '&' codes are live here
        self.ws.set_footer("&L&8VMO Workbench&R&8Page &P of &N")
        self.ws.hide_gridlines(2)

    # --- cells -----------------------------------------------------------------------------------
    def put(self, r: int, c: int, value: Any, fmt: Any = None, measure: bool = True) -> None:
        """Write one value by its Python type; text is always a string cell, NaN a blank cell."""
        ws = self.ws
        self.last_row = max(self.last_row, r)
        if _blank(value):
            ws.write_blank(r, c, None, fmt)
            shown = ""
        elif isinstance(value, (bool, np.bool_)):
            ws.write_string(r, c, "yes" if value else "no", fmt)
            shown = "yes"
        elif isinstance(value, (int, float, np.integer, np.floating)):
            ws.write_number(r, c, float(value), fmt)
            shown = f"{float(value):,.2f}" if abs(float(value)) < 100 else f"{float(value):,.0f}"
        elif isinstance(value, (pd.Timestamp, _dt.datetime, _dt.date)):
            d = value.to_pydatetime() if isinstance(value, pd.Timestamp) else value
            if not isinstance(d, _dt.datetime):
                d = _dt.datetime.combine(d, _dt.time())
            ws.write_datetime(r, c, d.replace(tzinfo=None), fmt or self.st.kind["date"])
            shown = "2026-01-01"
        else:
            text = str(value)
            if not text:
                ws.write_blank(r, c, None, fmt)
                return
            if len(text) > _MAX_TEXT:
                text = text[: _MAX_TEXT - 1] + "…"
            ws.write_string(r, c, text, fmt)
            shown = max(text.splitlines() or [""], key=len)
        if measure:
            self.widths[c] = max(self.widths.get(c, 0.0), len(shown) * 1.1 + 2)

    def title(self, r: int, text: str, subtitle: str = "") -> int:
        self.put(r, 0, text, self.st.title, measure=False)
        if subtitle:
            self.put(r + 1, 0, subtitle, self.st.subtitle, measure=False)
        return r + (3 if subtitle else 2)

    def section(self, r: int, text: str, span: int = 4) -> int:
        self.put(r, 0, text, self.st.section, measure=False)
        for c in range(1, span):
            self.ws.write_blank(r, c, None, self.st.section)
        return r + 1

    def note(self, r: int, text: str, span: int = 8, col: int = 0) -> int:
        """A sentence across ``span`` columns from ``col`` (merged, wrapped, the row made tall enough)."""
        if span > 1:
            self.ws.merge_range(r, col, r, col + span - 1, "", self.st.note)
        self.put(r, col, text, self.st.note, measure=False)
        chars = sum(self.fixed.get(c, max(self.widths.get(c, 10.0), 10.0)) for c in range(col, col + span))
        lines = max(1, math.ceil(len(str(text)) * 1.1 / max(chars, 20.0)))
        self.ws.set_row(r, 13 * lines + 3)
        return r + 1

    def width(self, col: int, width: float) -> None:
        self.fixed[col] = width

    # --- tables ------------------------------------------------------------------------------------
    def table(self, top: int, df: pd.DataFrame, cols: Sequence[_Col], *, autofilter: bool = True,
              freeze: int | None = None, empty: str = "None.", left: int = 0) -> int:
        """Header row at ``top``, one row per record; returns the next free row.

        ``freeze`` = number of leading columns kept visible with the header (None: no freeze).
        """
        st, ws = self.st, self.ws
        for j, col in enumerate(cols):
            c = left + j
            self.put(top, c, col.header, st.header, measure=False)
            self.widths[c] = max(self.widths.get(c, 0.0), min(len(col.header), 16) * 1.1 + 2)
            if col.width:
                self.width(c, col.width)
        records = df.to_dict(orient="records") if len(df) else []
        for i, rec in enumerate(records, start=1):
            for j, col in enumerate(cols):
                kind = col.kind(rec) if callable(col.kind) else col.kind
                v = rec.get(col.key)
                self.put(top + i, left + j, v, st.of(kind, v))
        self.header_rows.append((top, left, [col.header for col in cols]))
        last = top + len(records)
        right = left + len(cols) - 1
        if not records:
            if len(cols) > 1:
                ws.merge_range(top + 1, left, top + 1, right, "", st.note)
            self.put(top + 1, left, empty, st.note, measure=False)
            last = top + 1
        if autofilter and records:
            ws.autofilter(top, left, last, right)
        if freeze is not None:
            ws.freeze_panes(top + 1, freeze)
            ws.repeat_rows(top)
            self.key_cols = max(freeze, 1)
        return last + 2

    def pairs(self, top: int, rows: Sequence[tuple[str, Any, str]], note_col: bool = False) -> int:
        """A two-column block of ``(label, value, kind)``; kinds as in :class:`_Styles`."""
        for i, row in enumerate(rows):
            label, value, kind = row[:3]
            self.put(top + i, 0, label, self.st.label)
            self.put(top + i, 1, value, self.st.of(kind, value))
            if note_col and len(row) > 3 and row[3]:
                self.put(top + i, 2, row[3], self.st.note, measure=False)
        return top + len(rows) + 1

    def finish(self) -> None:
        """Column widths, then the page set-up that keeps the printout legible."""
        total = 0.0
        final: dict[int, float] = {}
        for c in sorted(set(self.widths) | set(self.fixed)):
            w = final[c] = self.fixed.get(c, min(max(self.widths.get(c, 8.0), 8.0), 60.0))
            self.ws.set_column(c, c, w)
            if self.print_cols is None or c < self.print_cols:
                total += w
        ws = self.ws
        for row, left, headers in self.header_rows:  # wrapped headers: neither Excel nor LibreOffice
            lines = max(math.ceil(len(h) * 1.15 / max(final.get(left + j, 8.0) - 1, 4.0))  # grows the row
                        for j, h in enumerate(headers))
            ws.set_row(row, 13 * max(lines, 1) + 3)
        if self.print_cols:
            ws.print_area(0, 0, self.last_row, self.print_cols - 1)
        if self.portrait:
            ws.set_portrait()
            ws.fit_to_pages(1, 1)
            return
        ws.set_landscape()
        if total <= self.FIT_WIDTH:
            ws.fit_to_pages(1, 0)  # one page wide, as many tall as needed
        else:
            ws.set_print_scale(self.WIDE_SCALE)
            ws.repeat_columns(0, self.key_cols - 1)


def _new_workbook(buffer: io.BytesIO, title: str, created: _dt.date | None) -> Any:
    import xlsxwriter

    wb = xlsxwriter.Workbook(buffer, {
        "in_memory": True,
        "strings_to_formulas": False,  # never a formula from text (formula injection)
        "strings_to_urls": False,
        "strings_to_numbers": False,
        "default_date_format": "yyyy-mm-dd",
    })
    props: dict[str, Any] = {"title": title, "author": "VMO Workbench", "comments": f"vmo-workbench {__version__}"}
    props["created"] = _dt.datetime.combine(created or _dt.date(2000, 1, 1), _dt.time())
    wb.set_properties(props)
    wb.set_size(1400, 900)
    return wb


def _save(build: Callable[[Any, _Styles], None], path: str | os.PathLike[str], title: str,
          created: _dt.date | None) -> Path:
    """Build the workbook in memory, then write it atomically (nothing is left on failure)."""
    buffer = io.BytesIO()
    wb = _new_workbook(buffer, title, created)
    try:
        build(wb, _Styles(wb))
    finally:
        wb.close()  # an in-memory workbook: closing only serialises into ``buffer``
    return atomic_write_bytes(path, buffer.getvalue())


def _as_of_end(as_of: str, period_length: str) -> _dt.date | None:
    try:
        return period_end_date(as_of, period_length)
    except (ValueError, TypeError):
        return None


# --------------------------------------------------------------------------------------------------
# the case pack
# --------------------------------------------------------------------------------------------------
def export_case_pack(review: Any, path: str | os.PathLike[str]) -> Path:
    """Write the Excel review pack of one case review for finance (renders; computes nothing).

    Sheets (:data:`CASE_SHEETS`): *Summary* (header, decision, verdict, RAG, headline figures each
    with its basis), *Metrics* (appraisal of the approved baseline, the baseline in force and the
    expected outlook side by side), *Bridge* (value bridge with a waterfall chart, and by line),
    *Realisation* (benefits and costs per period, cumulative benefit chart), *Lines by period* (wide:
    one row per line and scenario), *Flows* (tidy: one row per line and period), *Benefits* and
    *Costs* (realisation by line, KPI progress, RAG, owner), *Risk* (Monte Carlo of the expected
    outlook, switching values, optimism bias), *Green Book* (TEI-style summary, residual value, benefits not
    monetised, affordability by financial year: :mod:`vmo_lib.analysis.greenbook`) and *Issues* (validation
    warnings and measurement gaps).

    Parameters
    ----------
    review : vmo_lib.analysis.review.CaseReview
        The review every figure comes from (the one the HTML pack and ``vmo status`` show).
    path : path-like
        The ``.xlsx`` to write (replaced atomically). Choose it yourself: never a raw case id.

    Returns
    -------
    pathlib.Path
        ``path``.

    Examples
    --------
    >>> import tempfile, pathlib, openpyxl
    >>> from vmo_lib.model import make_case
    >>> from vmo_lib.analysis.review import review_case
    >>> case = make_case({"case_id": "X", "first_period": "2026Q1", "horizon": 3, "discount_rate": 0.0},
    ...     costs=[{"line_id": "C1", "name": "Build", "amounts": [100, 0, 0]}],
    ...     benefits=[{"line_id": "B1", "name": "Savings", "amounts": [0, 100, 100]}],
    ...     actuals=[{"period": "2026Q1", "line_id": "C1", "amount": 110}])
    >>> p = export_case_pack(review_case(case, "2026Q1", iterations=0), pathlib.Path(tempfile.mkdtemp()) / "pack.xlsx")
    >>> ws = openpyxl.load_workbook(p)["Summary"]
    >>> {ws.cell(r, 1).value: ws.cell(r, 2).value for r in range(1, 60)}["Expected NPV"]
    90
    """
    s: CaseStatus = review.status
    case: BusinessCase = review.case
    appraisals = {"baseline": review.approved}
    if case.current_baseline != "baseline":
        appraisals[case.current_baseline] = review.in_force
    appraisals[EXPECTED] = review.expected
    header = f"VMO review pack, as of {s.as_of}"

    def build(wb: Any, st: _Styles) -> None:
        sheets = {name: _Sheet(wb, st, name, header) for name in CASE_SHEETS}
        _summary_sheet(sheets["Summary"], review)
        _metrics_sheet(sheets["Metrics"], case, s, appraisals)
        _bridge_sheet(wb, sheets["Bridge"], s)
        _realisation_sheet(wb, sheets["Realisation"], s)
        flows = line_period_table(case, s)
        _wide_sheet(sheets["Lines by period"], case, s, flows)
        _flows_sheet(sheets["Flows"], s, flows)
        _lines_sheet(sheets["Benefits"], s, s.benefits, "benefit")
        _lines_sheet(sheets["Costs"], s, s.costs, "cost")
        _risk_sheet(sheets["Risk"], review)
        _greenbook_sheet(sheets["Green Book"], review)
        _issues_sheet(sheets["Issues"], case, s)
        for sh in sheets.values():
            sh.finish()

    return _save(build, path, f"Review pack {s.as_of}", _as_of_end(s.as_of, case.period_length))


def _summary_sheet(sh: _Sheet, review: Any) -> None:
    case, s, outlook = review.case, review.status, review.expected
    m = case.meta
    sh.portrait = True
    sh.width(0, 36)
    sh.width(1, 18)
    sh.width(2, 44)
    r = sh.title(0, f"Quarterly review pack: {case.case_id}", f"As of {s.as_of} · {s.view} view · amounts in {s.currency} · "
                                             f"VMO Workbench {__version__}")
    r = sh.section(r, "Case")
    r = sh.pairs(r, [
        ("Case id", case.case_id, "text"), ("Title", case.title, "text"), ("Sponsor", m.get("sponsor"), "text"),
        ("Portfolio", m.get("portfolio"), "text"), ("Strategic objective", m.get("strategic_objective"), "text"),
        ("Organisational unit", m.get("org_unit"), "text"), ("Case type", m.get("case_type"), "text"),
        ("Status", m.get("status"), "text"),
        ("Periods", f"{case.horizon} {case.period_length}s from {m.get('first_period')}", "text"),
        ("Go-live period", m.get("go_live_period"), "text"),
        ("Discount rate (annual)", m.get("discount_rate"), "rate"),
        ("Discount schedule", m.get("discount_schedule"), "text"), ("Price base", m.get("price_base"), "text"),
        ("Baseline in force", s.baseline_in_force, "text"),
        ("Source workbook", os.path.basename(case.source) if case.source else "", "text"),
        ("SHA-256 of the workbook", case.sha256, "text"),
    ])
    r = sh.section(r, "Decision and verdict")
    r = sh.pairs(r, [
        ("Decision", review.decision, "text"), ("Decision reason", review.decision_reason, "text"),
        ("Verdict", s.verdict.label, "verdict"), ("RAG", s.rag, "rag"), ("RAG reason", s.rag_reason, "text"),
        ("Verdict vs approved baseline", s.verdict_vs_original.label, "verdict"),
        ("Rule applied", s.verdict.rule, "text"),
    ])
    r = sh.note(r, s.verdict_sentence, span=3)
    r += 1
    r = sh.section(r, "Headline figures", 3)
    d = review.to_dict(detail=False)
    notes = {"forward_npv": f"discounted to {s.forward_discounted_to}" if s.forward_discounted_to else "nothing remains",
             "current_baseline_npv": "same as approved" if s.baseline_in_force == "baseline" else s.baseline_in_force,
             "realisation_pct": "like-for-like: periods with an actual", "cost_spend_pct": "like-for-like"}
    rows = [(label, d[key], kind, notes.get(key, "")) for key, label, kind in SUMMARY_FIGURES]
    rows += [(label, getattr(outlook, key), kind, "actuals to date, then forecast")
             for key, label, kind in _OUTLOOK_FIGURES]
    r = sh.pairs(r, rows, note_col=True)
    for text in outlook.notes:
        r = sh.note(r, f"Expected outlook: {text}", span=3)
    r = sh.note(r, VARIANCE_NOTE, span=3)
    sh.note(r, "Percentages are of plan to date; NPVs discounted to the first period except the forward NPV. "
               "A blank figure has no defined value (no IRR root, payback not reached, nothing due).", span=3)


def _metrics_sheet(sh: _Sheet, case: BusinessCase, s: CaseStatus, appraisals: Mapping[str, Appraisal]) -> None:
    r = sh.title(0, "Appraisal metrics", f"{s.view} view · {s.currency} · the expected outlook is actuals to "
                                         f"{s.as_of}, then the forecast, else the plan")
    names = {"baseline": "Approved baseline", EXPECTED: "Expected outlook"}
    cols = [_Col("label", "Metric")]
    for scen in appraisals:
        cols.append(_Col(scen, names.get(scen, f"Baseline in force ({scen})"), lambda row: row["_kind"]))
    table = pd.DataFrame([{"label": label, "_kind": kind,
                           **{scen: getattr(a, key) for scen, a in appraisals.items()}}
                          for key, label, kind in _METRICS])
    r = sh.table(r, table, cols, autofilter=False, freeze=1)
    for scen, a in appraisals.items():
        for text in a.notes:
            r = sh.note(r, f"{names.get(scen, scen)}: {text}", span=len(cols))
    for c in range(1, len(cols)):
        sh.width(c, 20)
    sh.width(0, 34)


def _bridge_rows(b: ValueBridge, start_label: str) -> pd.DataFrame:
    """The bridge as steps with their running totals and the series of a stacked-column waterfall.

    Each step spans ``from -> to``. Stacked columns stack positive values up from zero and negative
    values down from zero, so a step is drawn as an invisible ``base`` (the end nearer zero) plus a
    visible bar; a step that crosses zero is drawn as two visible parts, one each side.
    """
    steps = [(start_label, 0.0, b.start, "total"), ("Cost effect", b.start, b.start + b.cost, ""),
             ("Benefit effect", b.start + b.cost, b.start + b.cost + b.benefit, ""),
             ("Timing effect", b.start + b.cost + b.benefit, b.start + b.cost + b.benefit + b.timing, ""),
             ("Expected NPV", 0.0, b.end, "total")]
    rows = []
    for name, fr, to, kind in steps:
        row = {"step": name, "amount": to if kind else to - fr, "from": fr, "to": to,
               "base": 0.0, "total": 0.0, "up": 0.0, "down": 0.0, "up_below": 0.0, "down_below": 0.0}
        if kind:
            row["total"] = to
        else:
            bar = "up" if to >= fr else "down"
            lo, hi = min(fr, to), max(fr, to)
            if lo >= 0:
                row["base"], row[bar] = lo, hi - lo
            elif hi <= 0:
                row["base"], row[bar] = hi, lo - hi
            else:
                row[bar], row[f"{bar}_below"] = hi, lo
        rows.append(row)
    return pd.DataFrame(rows)


_WATERFALL = (("base", "Base", None), ("total", "NPV", _NAVY), ("up", "Increase", "#70AD47"),
              ("down", "Decrease", "#C00000"), ("up_below", "Increase (below zero)", "#70AD47"),
              ("down_below", "Decrease (below zero)", "#C00000"))
_CHART_DATA_COL = 12  # chart helper columns sit right of the printed area


def _bridge_block(wb: Any, sh: _Sheet, r: int, b: ValueBridge, title: str, start_label: str) -> int:
    r = sh.section(r, title, 4)
    rows = _bridge_rows(b, start_label)
    top = r
    r = sh.table(r, rows, [_Col("step", "Step"), _Col("amount", "Amount", "money"),
                           _Col("from", "Running total from", "money"), _Col("to", "Running total to", "money")],
                 autofilter=False)
    sh.table(top, rows, [_Col("step", "Chart data: step")] + [_Col(k, f"Chart: {label.lower()}", "money")
                                                             for k, label, _ in _WATERFALL],
             autofilter=False, left=_CHART_DATA_COL)
    name = sh.ws.get_name()
    chart = wb.add_chart({"type": "column", "subtype": "stacked"})
    for i, (_key, _label, colour) in enumerate(_WATERFALL, start=1):
        col = _CHART_DATA_COL + i
        fill = {"none": True} if colour is None else {"color": colour}
        chart.add_series({"name": [name, top, col], "categories": [name, top + 1, _CHART_DATA_COL, top + 5, _CHART_DATA_COL],
                          "values": [name, top + 1, col, top + 5, col], "fill": fill,
                          "border": {"none": True}, "gap": 60})
    chart.set_title({"name": "Value bridge (NPV)", "name_font": {"size": 11}})
    chart.set_legend({"none": True})
    chart.set_y_axis({"num_format": "#,##0", "major_gridlines": {"visible": True, "line": {"color": "#D9D9D9"}}})
    chart.set_x_axis({"label_position": "low"})
    chart.set_size({"width": 620, "height": 300})
    sh.ws.insert_chart(r, 0, chart, {"x_offset": 5, "y_offset": 5})
    return r + 17


def _bridge_sheet(wb: Any, sh: _Sheet, s: CaseStatus) -> None:
    r = sh.title(0, "Value bridge", "How the NPV moved from the baseline to the expected outlook. "
                                    "Cost + benefit + timing = expected − baseline.")
    r = _bridge_block(wb, sh, r, s.bridge, "From the approved baseline", "Approved baseline NPV")
    if s.bridge_current is not None:
        r = _bridge_block(wb, sh, r, s.bridge_current, f"From the baseline in force ({s.baseline_in_force})",
                          "Baseline-in-force NPV")
    r = sh.section(r, "By line (effects signed by their effect on NPV)", 10)
    names = pd.concat([s.benefits[["line_id", "name"]], s.costs[["line_id", "name"]]], ignore_index=True)
    bl = s.bridge.by_line.merge(names, on="line_id", how="left")
    sh.table(r, bl, [_Col("line_id", "Line"), _Col("name", "Name"), _Col("kind", "Kind"), _Col("type", "Type"),
                     _Col("reference_total", "Baseline total", "money"),
                     _Col("expected_total", "Expected total", "money"),
                     _Col("pv_reference", "PV baseline", "money"), _Col("pv_expected", "PV expected", "money"),
                     _Col("amount_effect", "Amount effect", "money"),
                     _Col("timing_effect", "Timing effect", "money")], autofilter=True)
    sh.width(0, 24)
    sh.print_cols = 10


_PERIOD_MONEY = (("original", "approved baseline"), ("plan", "plan in force"), ("actual", "actual"),
                 ("expected", "expected"))


def _realisation_sheet(wb: Any, sh: _Sheet, s: CaseStatus) -> None:
    r = sh.title(0, "Realisation by period", f"Benefits in the {s.view} view (net of dis-benefits) and costs, "
                                             f"per period and cumulative; actuals up to {s.as_of}.")
    bp = s.by_period.copy()
    bp["reported"] = np.where(bp["reported"], "reported", "")
    shown = [(k, label) for k, label in _PERIOD_MONEY if k != "plan" or s.baseline_in_force != "baseline"]
    cols = [_Col("period", "Period"), _Col("reported", "Reported")]
    for pre, what in (("benefit_", "Benefit"), ("cost_", "Cost"), ("cum_benefit_", "Cumulative benefit"),
                      ("cum_cost_", "Cumulative cost")):
        cols += [_Col(f"{pre}{k}", f"{what}, {label}", "money") for k, label in shown]
    top = r
    r = sh.table(r, bp, cols, freeze=1)
    for c in range(2, len(cols)):
        sh.width(c, 13)
    n = len(bp)
    if not n:
        return
    name = sh.ws.get_name()
    chart = wb.add_chart({"type": "line"})
    colours = {"original": "#7F7F7F", "plan": "#4472C4", "actual": "#70AD47", "expected": "#ED7D31"}
    keys = [c.key for c in cols]
    for k, _label in shown:
        col = keys.index(f"cum_benefit_{k}")
        chart.add_series({"name": [name, top, col], "categories": [name, top + 1, 0, top + n, 0],
                          "values": [name, top + 1, col, top + n, col],
                          "line": {"color": colours[k], "width": 2.25 if k in ("actual", "expected") else 1.5,
                                   "dash_type": "dash" if k == "expected" else "solid"},
                          "marker": {"type": "circle", "size": 4, "fill": {"color": colours[k]},
                                     "border": {"color": colours[k]}} if k == "actual" else {"type": "none"}})
    chart.set_title({"name": "Cumulative benefit", "name_font": {"size": 11}})
    chart.set_y_axis({"num_format": "#,##0", "major_gridlines": {"visible": True, "line": {"color": "#D9D9D9"}}})
    chart.set_x_axis({"num_font": {"rotation": -45}})
    chart.set_legend({"position": "bottom"})
    chart.show_blanks_as("gap")
    chart.set_size({"width": 900, "height": 360})
    sh.ws.insert_chart(r, 0, chart, {"x_offset": 5, "y_offset": 5})


def line_period_table(case: BusinessCase, status: CaseStatus) -> pd.DataFrame:
    """Every line and period with each scenario side by side (the Flows sheet, tidy).

    Parameters
    ----------
    case : BusinessCase
    status : CaseStatus
        :func:`vmo_lib.analysis.realisation.case_status` of ``case`` (its ``expected`` table and ``as_of``).

    Returns
    -------
    pandas.DataFrame
        One row per line and period (``case.lines`` order, then ``t``): ``line_id, name, kind, type,
        period, t, original, plan, forecast, actual, kpi_value, comment, expected, source,
        estimated``. ``plan`` is the baseline in force; ``forecast`` and ``actual`` are NaN where
        none was given (actuals after ``as_of`` are ignored, as in the realisation figures).

    Examples
    --------
    >>> from vmo_lib.model import make_case
    >>> from vmo_lib.analysis.realisation import case_status
    >>> c = make_case({"case_id": "X", "first_period": "2026Q1", "horizon": 2},
    ...               benefits=[{"line_id": "B1", "name": "S", "amounts": [10, 10]}],
    ...               actuals=[{"period": "2026Q1", "line_id": "B1", "amount": 8}])
    >>> t = line_period_table(c, case_status(c, "2026Q1"))
    >>> t[["period", "original", "actual", "expected", "source"]].values.tolist()
    [['2026Q1', 10.0, 8.0, 8.0, 'actual'], ['2026Q2', 10.0, nan, 10.0, 'plan']]
    """
    e = status.expected
    ids = case.line_ids()
    h = case.horizon
    out = pd.DataFrame({"line_id": e["line_id"], "kind": e["kind"], "period": e["period"], "t": e["t"]})
    lines = case.lines.set_index("line_id").reindex(ids)
    names = lines["name"]
    types = lines["category"].where(lines["kind"] == "cost", lines["benefit_type"])
    out.insert(1, "name", out["line_id"].map(names))
    out.insert(3, "type", out["line_id"].map(types))
    out["original"] = case.matrix("baseline").to_numpy().ravel()
    out["plan"] = case.matrix(case.current_baseline).to_numpy().ravel()
    tau = case.t_of(status.as_of)
    f = case.flows[(case.flows["t"] >= 0) & (case.flows["t"] < h) & case.flows["line_id"].isin(ids)]
    key = pd.MultiIndex.from_arrays([out["line_id"], out["t"]])
    for scen in ("forecast", "actual"):
        rows = f[f["scenario"] == scen]
        if scen == "actual":
            rows = rows[rows["t"] <= tau]
        g = rows.groupby(["line_id", "t"])
        out[scen] = g["amount"].sum(min_count=1).reindex(key).to_numpy()
        if scen == "actual":
            out["kpi_value"] = g["kpi_value"].last().reindex(key).to_numpy()
            out["comment"] = g["comment"].agg(_join_text).reindex(key).to_numpy()
    out["expected"] = e["amount"].to_numpy()
    out["source"] = e["source"].to_numpy()
    out["estimated"] = e["estimated"].to_numpy()
    return out


def _join_text(values: pd.Series) -> Any:
    parts = [str(v) for v in values if not _blank(v) and str(v).strip()]
    return "; ".join(parts) if parts else None


def _wide_sheet(sh: _Sheet, case: BusinessCase, s: CaseStatus, flows: pd.DataFrame) -> None:
    r = sh.title(0, "Lines by period", f"One row per line and scenario, periods across ({s.currency}). "
                                       f"Actual: reported to {s.as_of}; expected: actuals, then forecast, else plan.")
    scen = [("original", "approved baseline")]
    if s.baseline_in_force != "baseline":
        scen.append(("plan", f"plan in force ({s.baseline_in_force})"))
    scen += [("forecast", "forecast"), ("actual", "actual"), ("expected", "expected")]
    periods = case.periods
    rows = []
    for lid, g in flows.groupby("line_id", sort=False):
        first = g.iloc[0]
        for key, label in scen:
            v = g[key].to_numpy(dtype=float)
            rows.append({"line_id": lid, "name": first["name"], "kind": first["kind"], "type": first["type"],
                         "scenario": label, **dict(zip(periods, v, strict=True)),
                         "total": float(np.nansum(v)) if not np.isnan(v).all() else math.nan})
    cols = [_Col("line_id", "Line"), _Col("name", "Name"), _Col("kind", "Kind"), _Col("type", "Type"),
            _Col("scenario", "Scenario")]
    cols += [_Col(p, p, "money") for p in periods] + [_Col("total", "Total", "money")]
    sh.table(r, pd.DataFrame(rows), cols, freeze=5)
    for c in range(5, len(cols)):
        sh.width(c, 11)
    sh.width(len(cols) - 1, 13)


def _flows_sheet(sh: _Sheet, s: CaseStatus, flows: pd.DataFrame) -> None:
    r = sh.title(0, "Flows (tidy)", "One row per line and period: filter or pivot it. 'Estimated' marks a "
                                    "reported period with no actual (a measurement gap).")
    t = flows.copy()
    t["estimated"] = np.where(t["estimated"], "estimated", "")
    sh.table(r, t, [
        _Col("line_id", "Line"), _Col("name", "Name"), _Col("kind", "Kind"), _Col("type", "Type"),
        _Col("period", "Period"), _Col("t", "t", "int"), _Col("original", "Approved baseline", "money"),
        _Col("plan", "Plan in force", "money"), _Col("forecast", "Forecast", "money"),
        _Col("actual", "Actual", "money"), _Col("kpi_value", "Actual KPI value", "ratio"),
        _Col("comment", "Comment", "text", 40), _Col("expected", "Expected", "money"),
        _Col("source", "Expected from"), _Col("estimated", "Estimated")], freeze=2)


def _line_cols(kind: str) -> list[_Col]:
    """Columns of the Benefits and Costs sheets: the same realisation columns, KPI columns for benefits."""
    benefit = kind == "benefit"
    cols = [_Col("line_id", "Line"), _Col("name", "Benefit" if benefit else "Cost"),
            _Col("type", "Type" if benefit else "Category"), _Col("owner", "Owner"), _Col("rag", "RAG", "rag"),
            _Col("plan_to_date", "Plan to date", "money"), _Col("plan_reported", "Plan (reported periods)", "money"),
            _Col("actual_to_date", "Actual to date", "money"), _Col("variance_to_date", "Variance to date", "money"),
            _Col("realisation_pct", "Realisation" if benefit else "Spend, % of plan", "pct"),
            _Col("plan_unreported", "Plan not reported", "money"), _Col("plan_total", "Plan, whole life", "money"),
            _Col("expected_total", "Expected, whole life", "money")]
    if benefit:
        cols += [_Col("kpi", "KPI"), _Col("unit", "Unit"), _Col("kpi_baseline", "KPI baseline", "ratio"),
                 _Col("kpi_target", "KPI target", "ratio"), _Col("kpi_latest", "KPI latest", "ratio"),
                 _Col("kpi_latest_period", "Measured in"), _Col("kpi_progress_pct", "KPI progress", "pct"),
                 _Col("kpi_planned_progress_pct", "Time elapsed", "pct")]
    return cols + [_Col("rag_reason", "RAG reason", "text", 36)]


def _lines_sheet(sh: _Sheet, s: CaseStatus, table: pd.DataFrame, kind: str) -> None:
    what = "Benefits" if kind == "benefit" else "Costs"
    r = sh.title(0, f"{what} realisation as of {s.as_of}", VARIANCE_NOTE)
    sh.table(r, table, _line_cols(kind), freeze=2, empty=f"No {what.lower()}.")


def _risk_sheet(sh: _Sheet, review: Any) -> None:
    s, mc, sv, ob = review.status, review.simulation, review.switching, review.optimism_bias
    r = sh.title(0, "Risk", f"The expected outlook as of {s.as_of} (actuals to date fixed, uncertainty on what "
                            f"remains), {s.view} view, {s.currency}. Same figures as `vmo risk --as-of {s.as_of}`.")
    if mc is None:
        sh.note(r, "No Monte Carlo was run for this review.", span=3)
        return
    sm = mc.summary()
    r = sh.section(r, "Monte Carlo of the NPV", 3)
    r = sh.pairs(r, [
        ("Iterations", sm["iterations"], "int"), ("Seed", sm["seed"], "int"),
        ("NPV as planned", sm["deterministic_npv"], "money"), ("Mean", sm["mean"], "money"),
        ("Standard deviation", sm["std"], "money"), ("P10", sm["p10"], "money"), ("P50", sm["p50"], "money"),
        ("P90", sm["p90"], "money"), ("Probability NPV < 0", review.risk_figures()["prob_below_zero"], "pct"),
        ("Probability of getting back to the NPV in force", review.risk_figures()["prob_reach_approved"], "pct"),
        ("Mean of the worst decile", sm["expected_shortfall_worst_decile"], "money"),
    ])
    r = sh.section(r, "Switching values: how far an input can move before NPV reaches zero", 5)
    if not len(sv):
        sv = pd.DataFrame({"driver": [], "value": [], "unit": [], "npv_at_value": [], "note": []})
    # NPV at the switching value is zero by construction; rounding to the cent shows 0, not "-0".
    sv = sv.assign(_kind=sv["unit"].map(_SV_KINDS).fillna("ratio"),
                   npv_at_value=[round(float(x), 2) + 0.0 for x in sv["npv_at_value"]])
    r = sh.table(r, sv, [_Col("driver", "Driver"), _Col("value", "Switching value", lambda row: row["_kind"]),
                         _Col("unit", "Unit"), _Col("npv_at_value", "NPV at that value", "money"),
                         _Col("note", "In words", "wrap", 60)], autofilter=False)
    r = sh.section(r, "Optimism bias: the appraisal before and after the Green Book adjustment", 4)
    if not len(ob):
        return
    t = ob.reset_index()
    t["_kind"] = t["metric"].map(_OB_KINDS).fillna("money")
    sh.table(r, t, [_Col("label", "Metric"), _Col("before", "Before", lambda row: row["_kind"]),
                    _Col("after", "After", lambda row: row["_kind"]),
                    _Col("change", "Change", lambda row: row["_kind"])], autofilter=False)
    sh.width(0, 34)
    for c in (1, 2, 3):
        sh.width(c, 18)


def _greenbook_sheet(sh: _Sheet, review: Any) -> None:
    """The Green Book and TEI views (the case pack's section of that name, :mod:`vmo_lib.analysis.greenbook`)."""
    from vmo_lib.analysis import greenbook

    t = greenbook.tei_summary(review)
    r = sh.title(0, "Green Book and TEI views", f"Expected outlook as of {review.as_of}, {t.view} view, "
                                                f"{review.currency}; the NPV as reviewed is the expected NPV.")
    r = sh.section(r, "TEI-style summary", 4)
    r = sh.note(r, "Risk adjustment: " + t.basis + ". Payback in months from the start of the case.", span=4)
    tab = t.table.reset_index()
    tab["_kind"] = tab["metric"].map({"roi": "pct", "payback_months": "ratio"}).fillna("money")
    r = sh.table(r, tab, [_Col("label", "Metric"), _Col("expected", "As reviewed", lambda row: row["_kind"]),
                          _Col("risk_adjusted", "Risk adjusted", lambda row: row["_kind"]),
                          _Col("change", "Change", lambda row: row["_kind"])], autofilter=False)
    rv = greenbook.residual_value(review)
    r = sh.section(r, "Residual value beyond the horizon", 4)
    if rv["stated"]:
        r = sh.pairs(r, [(f"Residual value, entered in {rv['period']}", rv["amount"], "money"),
                         ("Present value", rv["pv"], "money"), ("NPV without it", rv["npv_without"], "money"),
                         ("NPV with it", rv["npv_with"], "money")])
    else:
        r = sh.note(r, "No residual value stated.", span=4) + 1
    r = sh.section(r, "Benefits not monetised", 6)
    nm = greenbook.non_monetised_benefits(review)
    r = sh.table(r, nm, [_Col("line_id", "Line"), _Col("name", "Benefit", "wrap", 30), _Col("kpi", "KPI", "wrap", 30),
                         _Col("unit", "Unit"), _Col("kpi_baseline", "Baseline", "ratio"),
                         _Col("kpi_target", "Target", "ratio"), _Col("kpi_latest", "Latest", "ratio"),
                         _Col("kpi_progress_pct", "Progress", "pct"),
                         _Col("kpi_planned_progress_pct", "Planned progress", "pct"), _Col("rag", "RAG", "rag")],
                 autofilter=False, empty="Every benefit of this case is monetised.")
    r = sh.section(r, "Affordability by UK financial year (1 April to 31 March), undiscounted", 7)
    sh.table(r, greenbook.affordability(review),
             [_Col("financial_year", "Financial year"), _Col("basis", "Basis"), _Col("capex", "Capex", "money"),
              _Col("opex", "Opex", "money"), _Col("total", "Expected total", "money"),
              _Col("plan_in_force", "Plan in force", "money"), _Col("over_plan", "Over plan", "money")],
             autofilter=False)
    sh.width(0, 34)
    for c in (1, 2, 3):
        sh.width(c, 18)


def _issues_sheet(sh: _Sheet, case: BusinessCase, s: CaseStatus) -> None:
    r = sh.title(0, "Issues", "Validation warnings from the workbook (errors stop the import) and measurement "
                              "gaps: what is not being measured, so cannot be shown to be realised.")
    rows = []
    issues = case.issues if case.issues is not None else pd.DataFrame()
    for rec in issues.to_dict(orient="records") if len(issues) else []:
        rows.append({"source": "validation", "severity": rec.get("severity"), "sheet": rec.get("sheet"),
                     "cell": rec.get("cell"), "item": rec.get("field"), "rule": rec.get("rule"),
                     "message": rec.get("message"), "periods": None})
    for rec in s.gaps.to_dict(orient="records"):
        sheet = "Benefits" if rec.get("kind") == "benefit" else "Costs"
        row = rec.get("row")
        rows.append({"source": "measurement gap", "severity": "gap", "sheet": sheet,
                     "cell": None if _blank(row) else f"row {int(row)}",
                     "item": f"{rec.get('line_id')} {rec.get('name') or ''}".strip(), "rule": rec.get("gap"),
                     "message": rec.get("detail"), "periods": rec.get("periods") or None})
    cols = [_Col("source", "Source"), _Col("severity", "Severity"), _Col("sheet", "Sheet"), _Col("cell", "Cell"),
            _Col("item", "Field or line", "text", 28), _Col("rule", "Rule or gap", "text", 26),
            _Col("message", "Message", "wrap", 60), _Col("periods", "Periods", "wrap", 30)]
    sh.table(r, pd.DataFrame(rows, columns=[c.key for c in cols]), cols, freeze=0,
             empty="No validation warnings and no measurement gaps.")


# --------------------------------------------------------------------------------------------------
# the portfolio pack
# --------------------------------------------------------------------------------------------------
def export_portfolio_pack(review: Any, path: str | os.PathLike[str]) -> Path:
    """Write the Excel portfolio pack for finance from a portfolio review (renders; computes nothing
    of its own but what more budget would buy and the frontier on the *Selection* sheet).

    Sheets (:data:`PORTFOLIO_SHEETS`): *Summary* (totals per currency, each the sum of its register
    column; decision, verdict and RAG counts), *Register* (every case's figures from its review, ranked
    by value for money of the outlook), *Benefit register*, *Selection* (the best set of candidates
    within the review's budget), *Double counting*, *Reference class* and *Not loaded*.

    Parameters
    ----------
    review : vmo_lib.portfolio.review.PortfolioReview
    path : path-like
        The ``.xlsx`` to write (replaced atomically).

    Examples
    --------
    >>> import tempfile, pathlib, openpyxl
    >>> from vmo_lib.model import make_case
    >>> from vmo_lib.analysis.review import review_case
    >>> from vmo_lib.portfolio.review import review_portfolio
    >>> a = make_case({"case_id": "A", "first_period": "2026Q1", "horizon": 2, "discount_rate": 0},
    ...               costs=[{"line_id": "C1", "name": "c", "amounts": [10]}],
    ...               benefits=[{"line_id": "B1", "name": "b", "amounts": [0, 30]}])
    >>> pr = review_portfolio([review_case(a, "2026Q1", iterations=0)], "2026Q1")
    >>> p = export_portfolio_pack(pr, pathlib.Path(tempfile.mkdtemp()) / "p.xlsx")
    >>> ws = openpyxl.load_workbook(p)["Register"]
    >>> [c.value for c in ws[5]][:2]
    [1, 'A']
    """
    from vmo_lib.portfolio import reference_class

    label = str(review.as_of)
    cases = review.cases
    portfolio = Portfolio(cases, failures=review.failures)
    ranked = review.register
    totals = review.totals
    history, uplifts = review.history, review.uplifts
    findings = []
    for ct in sorted({str(c.meta.get("case_type") or "") for c in cases} - {""}):
        findings.append({"case_type": ct, "finding": reference_class.reference_class_sentence(ct, history)})
    doubles = review.overlaps
    header = f"VMO portfolio pack, as of {label}"
    length = cases[0].period_length if cases else ("quarter" if "Q" in label.upper() else "year")

    def build(wb: Any, st: _Styles) -> None:
        sheets = {name: _Sheet(wb, st, name, header) for name in PORTFOLIO_SHEETS}
        _portfolio_summary(sheets["Summary"], portfolio, label, ranked, totals, review.basis)
        _register_sheet(sheets["Register"], label, ranked)
        sh = sheets["Benefit register"]
        r = sh.title(0, "Benefit register", f"Every benefit of every case as of {label}. {VARIANCE_NOTE}")
        sh.table(r, review.benefits, _BENEFIT_REGISTER_COLS, freeze=3, empty="No benefits.")
        _selection_sheet(sheets["Selection"], review)
        sh = sheets["Double counting"]
        r = sh.title(0, "Double counting", "Benefits of different cases claiming the same KPI for the same "
                                           "organisational unit in overlapping periods, one row per KPI and unit; "
                                           "the amount at stake is the undiscounted amount claimed more than "
                                           "once (per quarter: the total claimed less the largest single claim).")
        sh.table(r, doubles, _DOUBLE_COLS, freeze=1, empty="No benefit is claimed by two cases.")
        _reference_sheet(sheets["Reference class"], history, uplifts, findings)
        _failures_sheet(sheets["Not loaded"], portfolio)
        for s in sheets.values():
            s.finish()

    return _save(build, path, f"Portfolio pack {label}", _as_of_end(label, length))


_REGISTER_COLS = [
    _Col("rank", "Rank (value for money)", "int"), _Col("case_id", "Case"), _Col("title", "Title", "text", 30),
    _Col("sponsor", "Sponsor"), _Col("portfolio", "Portfolio"), _Col("strategic_objective", "Objective"),
    _Col("org_unit", "Unit"), _Col("case_type", "Case type"), _Col("status", "Status"),
    _Col("currency", "Currency"), _Col("decision", "Decision"), _Col("decision_reason", "Reason", "wrap", 40),
    _Col("verdict", "Verdict", "verdict"), _Col("rag", "RAG", "rag"),
    _Col("approved_npv", "Approved NPV (original)", "money"), _Col("in_force_npv", "NPV in force", "money"),
    _Col("expected_npv", "Expected NPV", "money"),
    _Col("forward_npv", "Forward NPV", "money"), _Col("ob_npv", "NPV after optimism bias", "money"),
    _Col("approved_npv_pb", "Approved NPV, portfolio basis", "money"),
    _Col("in_force_npv_pb", "NPV in force, portfolio basis", "money"),
    _Col("expected_npv_pb", "Expected NPV, portfolio basis", "money"),
    _Col("forward_npv_pb", "Forward NPV, portfolio basis", "money"), _Col("basis_note", "Basis note", "text", 30),
    _Col("realisation_pct", "Benefits realised", "pct"), _Col("pv_costs", "PV costs", "money"),
    _Col("budget", "Budget (PV capex, expected)", "money"),
    _Col("vfm", "Value for money (expected NPV / budget)", "ratio"),
    _Col("irr", "IRR (expected)", "pct"), _Col("bcr", "BCR (expected)", "ratio"),
    _Col("payback_years", "Payback (years, expected)", "years"),
    _Col("risk_p10", "Expected NPV P10", "money"), _Col("risk_p90", "Expected NPV P90", "money"),
    _Col("risk_spread", "P90 − P10", "money"), _Col("prob_negative", "P(expected NPV < 0)", "pct")]
_BENEFIT_REGISTER_COLS = [
    _Col("case_id", "Case"), _Col("line_id", "Line"), _Col("name", "Benefit"), _Col("benefit_type", "Type"),
    _Col("owner", "Owner"), _Col("rag", "RAG", "rag"), _Col("kpi", "KPI"), _Col("unit", "Unit"),
    _Col("org_unit", "Unit of the organisation"), _Col("strategic_objective", "Objective"),
    _Col("case_status", "Case status"), _Col("currency", "Currency"), _Col("plan_total", "Plan, whole life", "money"),
    _Col("plan_to_date", "Plan to date", "money"), _Col("actual_to_date", "Actual to date", "money"),
    _Col("realisation_pct", "Realisation", "pct"), _Col("kpi_baseline", "KPI baseline", "ratio"),
    _Col("kpi_target", "KPI target", "ratio"), _Col("kpi_latest", "KPI latest", "ratio"),
    _Col("kpi_progress_pct", "KPI progress", "pct"), _Col("rag_reason", "RAG reason", "text", 36)]
_DOUBLE_COLS = [
    _Col("kpi", "KPI"), _Col("kpi_key", "KPI (normalised)"), _Col("org_unit", "Unit"), _Col("cases", "Cases", "int"),
    _Col("claims", "Claims", "int"), _Col("case_ids", "Cases involved", "wrap", 30), _Col("lines", "Lines", "wrap", 36),
    _Col("overlap_from", "Overlap from"), _Col("overlap_to", "Overlap to"),
    _Col("overlap_quarters", "Quarters", "int"), _Col("amount_at_stake", "Amount at stake", "money"),
    _Col("currency", "Currency"), _Col("note", "Note", "wrap", 40)]


def _selection_sheet(sh: _Sheet, review: Any) -> None:
    """The review's selection (committed cases first, then the discretionary choice) as computed once."""
    budget = review.annual_budget
    if budget is None:
        what = "no budget given: no selection"
    elif isinstance(budget, Mapping):
        what = "annual budgets " + ", ".join(f"{y}: {v:,.0f}" for y, v in sorted(budget.items()))
    else:
        what = f"annual budget {budget:,.0f}"
    r = sh.title(0, "Selection at the budget", "Cases in delivery or live are committed (their remaining spend comes "
                                               "off each year's budget first); the others compete for what remains; "
                                               f"value = forward NPV; {what}.")
    sel = review.selection
    if sel is None:
        sh.note(r, review.selection_note or "No selection was made.", span=6)
        return
    if sel.note:
        r = sh.note(r, sel.note, span=6) + 1
    r = sh.pairs(r, [("Committed cases", len(sel.committed), "int"), ("Selected cases", len(sel.selection.selected), "int"),
                     ("Committed value (forward NPV)", sel.committed_value, "money"),
                     ("Selected value (forward NPV)", sel.selection.value, "money"),
                     ("Benefit target", sel.benefit_target, "money"), ("Gap to the target", sel.target_gap, "money")])
    d = sel.decisions.reset_index()
    years = [c for c in d.columns if c not in ("case_id", "status", "value", "decision")]
    d = d.rename(columns={y: f"cost {y}" for y in years})
    r = sh.section(r, "Cases", 6)
    cols = [_Col("case_id", "Case"), _Col("status", "Status"), _Col("decision", "Decision"),
            _Col("value", "Value (forward NPV)", "money")] + [_Col(f"cost {y}", f"Cost {y}", "money") for y in years]
    r = sh.table(r, d, cols)
    r = sh.section(r, "Budget per year", 5)
    b = sel.budget.reset_index()
    b = b.rename(columns={b.columns[0]: "year"}).replace([math.inf], np.nan)
    sh.table(r, b, [_Col("year", "Year", "year")] + [_Col(c, c.capitalize(), "money") for c in b.columns if c != "year"],
             autofilter=False)
    sh.width(0, 28)


def _portfolio_summary(sh: _Sheet, portfolio: Portfolio, label: str, reg: pd.DataFrame, totals: pd.DataFrame,
                       basis: Any = None) -> None:
    r = sh.title(0, "Portfolio review pack", f"As of {label} · economic view · VMO Workbench {__version__}")
    r = sh.section(r, "Portfolio", 3)
    r = sh.pairs(r, [("Cases", len(portfolio.cases), "int"),
                     ("Workbooks not loaded", len(portfolio.failures), "int")])
    r = sh.section(r, "Totals per currency on the portfolio basis (never added across currencies)", 7)
    if basis is not None:
        r = sh.note(r, f"Portfolio basis: {basis.describe()}. Cases that cannot be restated are totalled on a "
                       "row of their own, on their own bases.", span=6)
    r = sh.table(r, totals, [_Col("currency", "Currency"), _Col("restated", "On the portfolio basis"),
                             _Col("cases", "Cases", "int"),
                             _Col("approved_npv_pb", "Approved NPV (original)", "money"),
                             _Col("in_force_npv_pb", "NPV in force", "money"),
                             _Col("expected_npv_pb", "Expected NPV", "money"),
                             _Col("forward_npv_pb", "Forward NPV", "money")],
                 autofilter=False)
    r = sh.section(r, "Decisions", 3)
    counts = reg["decision"].value_counts()
    r = sh.pairs(r, [(v, int(counts.get(v, 0)), "int") for v in DECISIONS])
    r = sh.section(r, "Verdicts", 3)
    counts = reg["verdict"].value_counts()
    r = sh.pairs(r, [(v, int(counts.get(v, 0)), "int") for v in _VERDICT_RAG])
    r = sh.section(r, "RAG", 3)
    counts = reg["rag"].value_counts()
    sh.pairs(r, [(v, int(counts.get(v, 0)), "int") for v in _RAG_FILL])
    sh.width(0, 30)
    for c in range(1, 7):
        sh.width(c, 16)


def _register_sheet(sh: _Sheet, label: str, ranked: pd.DataFrame) -> None:
    r = sh.title(0, "Register", f"Every case as of {label}, ranked by value for money (NPV of the baseline in "
                                "force per unit of PV capex). Amounts in each case's own currency.")
    sh.table(r, ranked, _REGISTER_COLS, freeze=2, empty="No cases loaded.")


def _reference_sheet(sh: _Sheet, history: pd.DataFrame, uplifts: pd.DataFrame,
                     findings: Sequence[Mapping[str, str]]) -> None:
    r = sh.title(0, "Reference class", "How optimistic this organisation's cases have turned out: actual ÷ "
                                       "baseline by case, and the uplifts that history implies.")
    r = sh.section(r, "Findings by case type", 8)
    for f in findings:
        sh.put(r, 0, f["case_type"], sh.st.label)
        sh.ws.merge_range(r, 1, r, 7, "", sh.st.note)
        sh.put(r, 1, f["finding"], sh.st.note, measure=False)
        sh.ws.set_row(r, 13 * max(1, math.ceil(len(f["finding"]) / 95)) + 4)
        r += 1
    r = sh.section(r + 1, "Uplifts implied by the history (P50, P80)", 8)
    r = sh.table(r, uplifts, [_Col("group", "Case type"), _Col("measure", "Measure"), _Col("n", "Cases", "int"),
                              _Col("ratio_p50", "Ratio P50", "ratio"), _Col("ratio_p80", "Ratio P80", "ratio"),
                              _Col("adjustment", "Adjustment"), _Col("adjustment_p50", "P50", "pct"),
                              _Col("adjustment_p80", "P80", "pct")], autofilter=False,
                 empty="No case has enough history yet.")
    r = sh.section(r, "History: expected outturn (actuals, then forecast) ÷ approved baseline, whole life", 8)
    sh.table(r, history, [_Col("case_id", "Case"), _Col("case_type", "Case type"), _Col("status", "Status"),
                          _Col("periods_reported", "Periods reported", "int"), _Col("cost_ratio", "Cost", "ratio"),
                          _Col("benefit_ratio", "Benefit", "ratio"), _Col("schedule_ratio", "Schedule", "ratio"),
                          _Col("slip_periods", "Slip (periods)", "ratio")], autofilter=False,
             empty="No case has enough history yet.")
    sh.width(0, 28)
    for c in range(1, 8):
        sh.width(c, 14)


def _failures_sheet(sh: _Sheet, portfolio: Portfolio) -> None:
    r = sh.title(0, "Workbooks not loaded", "Each failed workbook with the reason; the rest of the portfolio "
                                            "was reviewed without it.")
    f = portfolio.failures
    t = pd.DataFrame({"file": [os.path.basename(str(p)) for p in f["path"]],
                      "kind": list(f["kind"]), "error": list(f["error"])}) if len(f) else pd.DataFrame()
    sh.table(r, t, [_Col("file", "Workbook"), _Col("kind", "Problem"), _Col("error", "Reason", "wrap", 80)],
             freeze=1, empty="Every workbook was loaded.")


def export_pack_into(out_dir: str | os.PathLike[str], review: Any, name: str = "pack.xlsx") -> Path | None:
    """Write the Excel pack of a case review (:func:`export_case_pack`) or a portfolio review
    (:func:`export_portfolio_pack`) as ``out_dir/name``; nothing when ``out_dir`` is empty (a notebook
    opened interactively). The notebooks call it with the review they render, so the HTML and the Excel
    pack show one computation."""
    if not out_dir:
        return None
    path = Path(out_dir) / name
    if hasattr(review, "register"):
        return export_portfolio_pack(review, path)
    return export_case_pack(review, path)
