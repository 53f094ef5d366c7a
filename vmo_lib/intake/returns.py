"""Quarterly actuals returns: the pre-filled form benefit owners fill in, and merging filled returns.

Benefit owners and finance should not have to edit the business case. Each quarter the VMO sends a
**return**: one row per cost line and per benefit line due that quarter, with the plan, the KPI baseline
and target, and yellow input cells for the actual amount, the measured KPI value, a comment, the
evidence status and its source; and a Forecast sheet for the owner's revised forecast.

Folder convention
-----------------
Filled returns live **beside the case workbook** in a folder named after the workbook's file name
(never after the case id, which is workbook text)::

    data/portfolio/CRM-2025.xlsx              the submitted business case (never written)
    data/portfolio/CRM-2025.returns/          its filled returns, any file names, e.g.
        2026Q3.xlsx                           (``<period>.xlsx`` is the recommended name)
        2026Q3-finance.xlsx

:func:`find_returns` lists them (``*.xlsx``, no Excel lock files, no hidden files) and
:func:`merge_returns` adds their rows to the case's actuals, or raises one
:class:`~vmo_lib.errors.ValidationError` listing every problem with its file and cell:

* a return stamped for another case, or a row whose case id differs (``return.other_case``);
* a period after the review date and today's quarter, or outside the case's horizon
  (``return.period_after_review``, ``return.bad_period``); a return after the review date but not
  after today's quarter (an earlier quarter reviewed after later returns) is left out with a warning
  (``return.after_review``);
* an unknown line id (``return.unknown_line``), a non-numeric amount or KPI (``return.not_a_number``);
* the same line and period reported twice with different values, in the case's Actuals sheet and a
  return or in two returns (``return.conflict``). Equal values are accepted once; a field left blank
  in one place and given in another is filled in; nothing is ever overwritten;
* a formula with no calculated value (``return.formula_not_calculated``, naming the cell), an
  evidence status not in the list (``return.bad_evidence``).

Each return also carries the quarter's **evidence** (status and source per actual) and a
**Forecast** sheet (:data:`FORECAST_COLUMNS`): one row per open line and later period with the
current forecast (else plan); a figure typed in *Revised forecast* replaces the forecast of that
line and period in the outlook (the return of the latest period wins; two returns of one period
that disagree are a ``return.conflict``), so the case workbook is never edited to update a forecast.
Every cost line is listed, planned in the period or not, so unplanned spend can be reported.

Layout of the form (sheet ``Return``)
-------------------------------------
``B2`` case id and ``B3`` period (the stamp), ``B4`` the case title; header on row
:data:`HEADER_ROW`, one line per row below it, columns :data:`RETURN_COLUMNS`. Only the input
columns are unlocked (the sheet is protected without a password: a guard against slips, not a
security boundary). Text from the case workbook is written as text, never as a formula.

Examples
--------
>>> import tempfile, pathlib
>>> from vmo_lib.model import make_case
>>> case = make_case({"case_id": "X1", "first_period": "2026Q1", "horizon": 4},
...     costs=[{"line_id": "C1", "name": "Run", "category": "opex", "amounts": [10, 10, 10, 10]}],
...     benefits=[{"line_id": "B1", "name": "Saving", "amounts": [0, 0, 50, 50]}])
>>> d = pathlib.Path(tempfile.mkdtemp())
>>> form = write_actuals_form(case, "2026Q3", d / "x1-2026Q3.xlsx")
>>> [r["line_id"] for r in due_lines(case, "2026Q3")]
['C1', 'B1']
"""

from __future__ import annotations

import dataclasses
import math
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from openpyxl import Workbook, load_workbook
from openpyxl.styles import Alignment, Border, Font, PatternFill, Protection, Side
from openpyxl.worksheet.datavalidation import DataValidation

from vmo_lib.errors import ValidationError, WorkbookError
from vmo_lib.intake import validation as rules
from vmo_lib.intake.template import save_workbook
from vmo_lib.intake.template import (
    set_text_cell as _put_text,  # the one formula-safe text writer (quote prefix)
)
from vmo_lib.intake.validation import ISSUE_COLUMNS, amount_issues, typical_amount
from vmo_lib.intake.workbook import sanitise_grid
from vmo_lib.model import FLOW_COLUMNS, BusinessCase, normalise_flows
from vmo_lib.periods import canonical_period, is_financial_year, parse_period, review_period
from vmo_lib.schema import COST_CATEGORIES, EVIDENCE_STATUSES

__all__ = [
    "FORECAST_COLUMNS",
    "FORECAST_SHEET",
    "FORM_SHEET",
    "HEADER_ROW",
    "RETURN_COLUMNS",
    "RETURNS_SUFFIX",
    "UNPLANNED_COLUMNS",
    "UNPLANNED_SHEET",
    "check_returns",
    "due_lines",
    "find_returns",
    "forecast_lines",
    "merge_returns",
    "read_return",
    "validate_return",
    "return_period",
    "returns_folder",
    "write_actuals_form",
]

FORM_SHEET = "Return"
RETURNS_SUFFIX = ".returns"
HEADER_ROW = 7
CASE_CELL, PERIOD_CELL = "B2", "B3"
_MARKER = "VMO actuals return"
#: Column key → (header label, width, is an input cell). Order = column order A, B, ...
RETURN_COLUMNS: dict[str, tuple[str, float, bool]] = {
    "case_id": ("Case id", 12, False),
    "period": ("Period", 9, False),
    "line_id": ("Line id", 8, False),
    "kind": ("Cost / benefit", 9, False),
    "name": ("Line", 30, False),
    "type": ("Type / category", 18, False),
    "owner": ("Owner", 16, False),
    "plan": ("Plan for the period", 13, False),
    "forecast": ("Latest forecast", 12, False),
    "kpi": ("KPI", 24, False),
    "unit": ("Unit", 8, False),
    "kpi_baseline": ("KPI baseline", 10, False),
    "kpi_target": ("KPI target", 10, False),
    "kpi_last": ("Last measured KPI", 11, False),
    "amount": ("Actual amount", 14, True),
    "kpi_value": ("Measured KPI value", 14, True),
    "comment": ("Comment", 40, True),
    "evidence": ("Evidence", 13, True),
    "evidence_source": ("Evidence source", 24, True),
}
#: The header of returns written before the evidence columns (still read: they simply have none).
_V1_HEADERS = [h for k, (h, _, _) in RETURN_COLUMNS.items() if k not in ("evidence", "evidence_source")]
#: The revised-forecast sheet of a return: one row per open line and period after the return's period.
FORECAST_SHEET = "Forecast"
FORECAST_COLUMNS: dict[str, tuple[str, float, bool]] = {
    "line_id": ("Line id", 8, False),
    "name": ("Line", 30, False),
    "period": ("Period", 9, False),
    "current": ("Current forecast (or plan)", 14, False),
    "revised": ("Revised forecast", 14, True),
    "comment": ("Comment", 40, True),
}
#: The unplanned-cost sheet of a return: spend on something the case has no cost line for, one new line per
#: row (every column is typed by the owner; the reason is required).
UNPLANNED_SHEET = "Unplanned"
UNPLANNED_COLUMNS: dict[str, tuple[str, float, bool]] = {
    "line_id": ("New line id", 10, True),
    "name": ("Cost line", 30, True),
    "category": ("Category", 10, True),
    "owner": ("Owner", 18, True),
    "amount": ("Actual amount", 14, True),
    "reason": ("Reason it was not planned", 40, True),
    "comment": ("Comment", 30, True),
    "evidence": ("Evidence", 13, True),
    "evidence_source": ("Evidence source", 24, True),
}
#: Input rows laid out on the Unplanned sheet (more may be typed below them).
UNPLANNED_ROWS = 20
_UCOL = {k: i + 1 for i, k in enumerate(UNPLANNED_COLUMNS)}
_ULETTER = {k: chr(64 + i) for k, i in _UCOL.items()}
_NEW_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,39}$")  # the workbook's line-id rule
_FCOL = {k: i + 1 for i, k in enumerate(FORECAST_COLUMNS)}
_FLETTER = {k: chr(64 + i) for k, i in _FCOL.items()}
_COL = {k: i + 1 for i, k in enumerate(RETURN_COLUMNS)}
_LETTER = {k: chr(64 + i) for k, i in _COL.items()}   # fewer than 26 columns
_INPUT_FILL = PatternFill("solid", fgColor="FFF2CC")
_HEADER_FILL = PatternFill("solid", fgColor="1F4E78")
_THIN = Side(style="thin", color="BFBFBF")
_BORDER = Border(left=_THIN, right=_THIN, top=_THIN, bottom=_THIN)
_TINY = 1e-12


# --------------------------------------------------------------------------------------------------
# which lines a return asks for
# --------------------------------------------------------------------------------------------------
def _period_t(case: BusinessCase, period: object, quarter_ok: bool = True) -> tuple[str, int]:
    """The case's label and offset of ``period``: a label of the case's length and form; for a yearly
    case a quarter (``--as-of 2026Q3``) means the year a review as of it covers
    (:func:`vmo_lib.periods.review_period`: the last year, or financial year, ended by then), unless
    ``quarter_ok`` is False (a return's own labels must be the case's)."""
    length, first = case.period_length, case.meta.get("first_period")
    try:
        label = canonical_period(period, length)
    except ValueError as exc:
        try:
            if length != "year" or not quarter_ok:
                raise
            label = review_period(canonical_period(period, "quarter"), length, like=first)
        except ValueError:
            raise WorkbookError(f"period {period!r}", f"{exc}") from None
    if length == "year" and is_financial_year(label) != is_financial_year(first):
        what = "a UK financial year" if is_financial_year(first) else "a calendar year"
        raise WorkbookError(f"period {period!r}", f"expected {what} such as {first} (the case's first period), "
                                                  f"got {period!r}")
    return label, case.t_of(label)


def return_period(case: BusinessCase, period: object) -> str:
    """The period a return for ``period`` reports, as the case labels it: ``period`` itself, or for a
    yearly case given a quarter, the year a review as of that quarter covers.

    >>> from vmo_lib.model import make_case
    >>> c = make_case({"first_period": "FY2024-25", "period_length": "year", "horizon": 4})
    >>> return_period(c, "2026Q3"), return_period(c, "2025/26")
    ('FY2025-26', 'FY2025-26')
    """
    return _period_t(case, period)[0]


def due_lines(case: BusinessCase, period: object) -> list[dict[str, Any]]:
    """The lines a return for ``period`` asks for, with what the form shows about each.

    Every open line is listed, planned in the period or not: every cost line (unplanned spend on any
    line can be reported; spend on a line the case does not have goes on the return's Unplanned
    sheet); a benefit line while its plan in force or its forecast for the period *or any later
    period* is not zero (a benefit may come early, or between planned periods), and a benefit with a
    KPI also in every period from the one it fell due (first planned amount, else go-live), so
    KPI-only benefits are measured. A benefit whose plan and forecast have ended (nothing from this
    period on) is closed and left out, as are lines that already have an actual for the period.

    Returns
    -------
    list of dict
        Keys of :data:`RETURN_COLUMNS` except the input ones.

    Examples
    --------
    >>> from vmo_lib.model import make_case
    >>> c = make_case({"case_id": "X", "first_period": "2026Q1", "horizon": 3, "go_live_period": "2026Q2"},
    ...     costs=[{"line_id": "C1", "name": "Build", "amounts": [100, 0, 0]}],
    ...     benefits=[{"line_id": "B1", "name": "NPS", "kpi": "NPS", "unit": "score",
    ...                "benefit_type": "quantifiable non-financial", "amounts": [0, 0, 0]}])
    >>> [r["line_id"] for r in due_lines(c, "2026Q1")], [r["line_id"] for r in due_lines(c, "2026Q2")]
    (['C1'], ['C1', 'B1'])
    """
    label, t = _period_t(case, period)
    if not 0 <= t < case.horizon:
        raise WorkbookError(case.source or case.case_id,
                            f"period {label} is outside the case's horizon "
                            f"({case.periods[0]}..{case.periods[-1]})")
    plan = case.matrix(case.current_baseline)
    f = case.flows
    fc = f[(f["scenario"] == "forecast") & (f["t"] == t)].groupby("line_id")["amount"].sum(min_count=1)
    later = f[(f["scenario"] == "forecast") & (f["t"] >= t) & (f["amount"].abs() > _TINY)]
    open_by_forecast = set(later["line_id"])
    act = f[(f["scenario"] == "actual") & (f["t"] == t)]
    reported = set(act.loc[act["amount"].notna() | act["kpi_value"].notna(), "line_id"])
    kpis = f[(f["scenario"] == "actual") & (f["t"] < t) & f["kpi_value"].notna()].sort_values("t")
    last_kpi = kpis.groupby("line_id")["kpi_value"].last()
    go_live = case.go_live_t if case.go_live_t is not None else 0
    out = []
    for ln in case.lines.itertuples(index=False):
        lid = ln.line_id
        if lid in reported:
            continue
        row = plan.loc[lid].to_numpy()
        p, fcv = float(row[t]), fc.get(lid, math.nan)
        due = abs(p) > _TINY or (not _isnan(fcv) and abs(fcv) > _TINY) or ln.kind == "cost"
        due = due or bool(np.any(np.abs(row[t:]) > _TINY)) or lid in open_by_forecast  # still open later
        if ln.kind == "benefit" and not _blank(ln.kpi):
            nz = np.flatnonzero(np.abs(row) > _TINY)
            due = due or t >= (int(nz[0]) if len(nz) else go_live)
        if not due:
            continue
        out.append({
            "case_id": case.case_id, "period": label, "line_id": lid, "kind": ln.kind, "name": ln.name,
            "type": ln.category if ln.kind == "cost" else ln.benefit_type, "owner": ln.owner,
            "plan": p, "forecast": None if _isnan(fcv) else float(fcv),
            "kpi": ln.kpi, "unit": ln.unit, "kpi_baseline": _num_or_none(ln.baseline_value),
            "kpi_target": _num_or_none(ln.target_value), "kpi_last": _num_or_none(last_kpi.get(lid)),
        })
    return out


def _isnan(v: Any) -> bool:
    return isinstance(v, float) and math.isnan(v)


def _blank(v: Any) -> bool:
    return v is None or _isnan(v) or (isinstance(v, str) and not v.strip()) or v is pd.NA


def _num_or_none(v: Any) -> float | None:
    try:
        return None if _blank(v) else float(v)
    except (TypeError, ValueError):
        return None


# --------------------------------------------------------------------------------------------------
# writing the form
# --------------------------------------------------------------------------------------------------
def write_actuals_form(case: BusinessCase, period: object, path: str | os.PathLike[str]) -> Path:
    """Write the pre-filled actuals return of ``case`` for ``period`` to ``path`` (atomically).

    Parameters
    ----------
    case : BusinessCase
    period : str
        The quarter (or year) being reported, e.g. ``"2026Q3"``.
    path : str or path-like
        The ``.xlsx`` to write. Refused if it is the case's own workbook (submitted workbooks are
        never written).

    Returns
    -------
    pathlib.Path

    Examples
    --------
    See the module docstring.
    """
    out = Path(path)
    if out.suffix.lower() != ".xlsx":
        raise WorkbookError(out, "an actuals return must be written as a .xlsx file")
    if case.source and out.resolve() == Path(case.source).resolve():
        raise WorkbookError(out, "refusing to overwrite the submitted business-case workbook; choose another file")
    rows = due_lines(case, period)
    label = _period_t(case, period)[0]
    wb = Workbook()
    ws = wb.active
    ws.title = FORM_SHEET
    ws["A1"] = f"{_MARKER}: {label}"
    ws["A1"].font = Font(bold=True, size=14, color="1F4E78")
    for cell, text in (("A2", "Case id"), ("A3", "Period"), ("A4", "Case")):
        ws[cell] = text
        ws[cell].font = Font(bold=True)
    _put_text(ws[CASE_CELL], case.case_id)
    _put_text(ws[PERIOD_CELL], label)
    _put_text(ws["B4"], case.title)
    ws["A5"] = ("Fill in the yellow cells only: the actual amount spent (costs) or realised (benefits) in "
                f"{label}, in {case.meta.get('currency') or 'the case currency'}, and the KPI as measured at the "
                "end of the period. Leave a line blank if it has nothing to report. Save as .xlsx and place it in "
                "the case's '.returns' folder. Do not change the case id, period or line ids.")
    ws["A5"].alignment = Alignment(wrap_text=True, vertical="top")
    ws.merge_cells(start_row=5, start_column=1, end_row=5, end_column=len(RETURN_COLUMNS))
    ws.row_dimensions[5].height = 45
    for key, (header, width, is_input) in RETURN_COLUMNS.items():
        c = ws.cell(HEADER_ROW, _COL[key], header)
        c.font = Font(bold=True, color="FFFFFF")
        c.fill = PatternFill("solid", fgColor="BF8F00") if is_input else _HEADER_FILL
        c.alignment = Alignment(wrap_text=True, vertical="center", horizontal="center")
        ws.column_dimensions[_LETTER[key]].width = width
    ws.row_dimensions[HEADER_ROW].height = 32
    first = HEADER_ROW + 1
    for r, row in enumerate(rows, start=first):
        for key, (_, _, is_input) in RETURN_COLUMNS.items():
            cell = ws.cell(r, _COL[key])
            cell.border = _BORDER
            if is_input:
                cell.fill = _INPUT_FILL
                cell.protection = Protection(locked=False)
                cell.number_format = "@" if key == "comment" else ("#,##0.00" if key == "amount" else "General")
                continue
            v = row.get(key)
            if v is None or _isnan(v):
                continue
            if isinstance(v, (int, float, np.floating)):
                cell.value = float(v)
                cell.number_format = "#,##0" if key in ("plan", "forecast") else "General"
            else:
                _put_text(cell, str(v))
    last = max(first + len(rows) - 1, first)
    number = DataValidation(type="decimal", operator="between", formula1="-1000000000000", formula2="1000000000000",
                            allow_blank=True, showErrorMessage=True, errorTitle="A number is expected",
                            error="Enter a number (no text, no units), or leave the cell blank.")
    comment = DataValidation(type="textLength", operator="lessThanOrEqual", formula1="1000", allow_blank=True,
                             showErrorMessage=True, error="At most 1,000 characters.")
    for dv in (number, comment):
        ws.add_data_validation(dv)
    number.add(f"{_LETTER['amount']}{first}:{_LETTER['kpi_value']}{last}")
    comment.add(f"{_LETTER['comment']}{first}:{_LETTER['comment']}{last}")
    evidence = DataValidation(type="list", formula1='"' + ",".join(EVIDENCE_STATUSES) + '"', allow_blank=True,
                              showErrorMessage=True, error="Pick measured, estimated or owner's claim.")
    ws.add_data_validation(evidence)
    evidence.add(f"{_LETTER['evidence']}{first}:{_LETTER['evidence']}{last}")
    ws.freeze_panes = ws.cell(first, _COL["name"] + 1)
    ws.protection.sheet = True
    ws.protection.formatColumns = False
    ws.protection.formatRows = False
    _write_forecast_sheet(wb.create_sheet(FORECAST_SHEET), case, label)
    _write_unplanned_sheet(wb.create_sheet(UNPLANNED_SHEET), case, label)
    return save_workbook(wb, out)


def forecast_lines(case: BusinessCase, period: object) -> list[dict[str, Any]]:
    """The rows of a return's Forecast sheet: every line with something still to come after ``period``,
    one row per later period, with the current forecast (else the plan in force) for it.

    Examples
    --------
    >>> from vmo_lib.model import make_case
    >>> c = make_case({"case_id": "X", "first_period": "2026Q1", "horizon": 4},
    ...     benefits=[{"line_id": "B1", "name": "S", "amounts": [0, 10, 10, 10]}],
    ...     forecast=[{"period": "2026Q4", "line_id": "B1", "amount": 12}])
    >>> [(r["period"], r["current"]) for r in forecast_lines(c, "2026Q2")]
    [('2026Q3', 10.0), ('2026Q4', 12.0)]
    """
    label, t0 = _period_t(case, period)
    plan = case.matrix(case.current_baseline)
    f = case.flows
    fc = f[(f["scenario"] == "forecast") & (f["t"] > t0)].groupby(["line_id", "t"])["amount"].sum(min_count=1)
    periods = case.periods
    out = []
    for ln in case.lines.itertuples(index=False):
        lid = ln.line_id
        current = [fc.get((lid, t), plan.loc[lid].iloc[t]) for t in range(t0 + 1, case.horizon)]
        current = [float(plan.loc[lid].iloc[t]) if _isnan(v) else float(v)
                   for t, v in zip(range(t0 + 1, case.horizon), current, strict=True)]
        if not any(abs(v) > _TINY for v in current):
            continue
        for t, v in zip(range(t0 + 1, case.horizon), current, strict=True):
            out.append({"line_id": lid, "name": ln.name, "period": periods[t], "current": v})
    return out


def _write_forecast_sheet(ws: Any, case: BusinessCase, label: str) -> None:
    """The revised-forecast sheet: the owner types a new figure only where the forecast changes."""
    rows = forecast_lines(case, label)
    ws["A1"] = f"Revised forecast after {label}"
    ws["A1"].font = Font(bold=True, size=14, color="1F4E78")
    ws["A2"] = ("Type a revised forecast only where it changes (blank = keep the current one). It replaces the "
                "forecast in the outlook; the case workbook is not edited.")
    for key, (header, width, is_input) in FORECAST_COLUMNS.items():
        c = ws.cell(HEADER_ROW, _FCOL[key], header)
        c.font = Font(bold=True, color="FFFFFF")
        c.fill = PatternFill("solid", fgColor="BF8F00") if is_input else _HEADER_FILL
        ws.column_dimensions[_FLETTER[key]].width = width
    first = HEADER_ROW + 1
    for r, row in enumerate(rows, start=first):
        for key, (_, _, is_input) in FORECAST_COLUMNS.items():
            cell = ws.cell(r, _FCOL[key])
            cell.border = _BORDER
            if is_input:
                cell.fill = _INPUT_FILL
                cell.protection = Protection(locked=False)
                continue
            v = row[key]
            if isinstance(v, float):
                cell.value = v
                cell.number_format = "#,##0"
            else:
                _put_text(cell, str(v))
    if rows:
        number = DataValidation(type="decimal", operator="between", formula1="-1000000000000",
                                formula2="1000000000000", allow_blank=True, showErrorMessage=True,
                                error="Enter a number, or leave the cell blank.")
        ws.add_data_validation(number)
        number.add(f"{_FLETTER['revised']}{first}:{_FLETTER['revised']}{first + len(rows) - 1}")
    ws.freeze_panes = ws.cell(first, 1)
    ws.protection.sheet = True


def _write_unplanned_sheet(ws: Any, case: BusinessCase, label: str) -> None:
    """The unplanned-cost sheet: blank yellow rows for spend on something the case has no line for."""
    ids = ", ".join(str(x) for x in case.lines["line_id"])
    ws["A1"] = f"Unplanned cost lines in {label}"
    ws["A1"].font = Font(bold=True, size=14, color="1F4E78")
    _put_text(ws["A2"], (
        f"Spend in {label} on something the case has no cost line for: one row per new line, with a new line id "
        f"(not one of the case's: {ids}), what it is, capex or opex, who owns it, the amount spent and why it "
        "was not planned (required). It counts in the case's actual spend and is flagged as unplanned with its "
        "reason; the case workbook is not edited. Spend on an existing line goes on the Return sheet."))
    ws["A2"].alignment = Alignment(wrap_text=True, vertical="top")
    ws.merge_cells(start_row=2, start_column=1, end_row=2, end_column=len(UNPLANNED_COLUMNS))
    ws.row_dimensions[2].height = 60
    for key, (header, width, _) in UNPLANNED_COLUMNS.items():
        c = ws.cell(HEADER_ROW, _UCOL[key], header)
        c.font = Font(bold=True, color="FFFFFF")
        c.fill = PatternFill("solid", fgColor="BF8F00")
        c.alignment = Alignment(wrap_text=True, vertical="center", horizontal="center")
        ws.column_dimensions[_ULETTER[key]].width = width
    first, last = HEADER_ROW + 1, HEADER_ROW + UNPLANNED_ROWS
    for r in range(first, last + 1):
        for key in UNPLANNED_COLUMNS:
            cell = ws.cell(r, _UCOL[key])
            cell.border = _BORDER
            cell.fill = _INPUT_FILL
            cell.number_format = "#,##0.00" if key == "amount" else "@"
    category = DataValidation(type="list", formula1='"' + ",".join(COST_CATEGORIES) + '"', allow_blank=True,
                              showErrorMessage=True, error="Pick capex (one-off build) or opex (running cost).")
    evidence = DataValidation(type="list", formula1='"' + ",".join(EVIDENCE_STATUSES) + '"', allow_blank=True,
                              showErrorMessage=True, error="Pick measured, estimated or owner's claim.")
    number = DataValidation(type="decimal", operator="between", formula1="0", formula2="1000000000000",
                            allow_blank=True, showErrorMessage=True,
                            error="Enter the amount spent as a positive number, or leave the row blank.")
    for dv, key in ((category, "category"), (evidence, "evidence"), (number, "amount")):
        ws.add_data_validation(dv)
        dv.add(f"{_ULETTER[key]}{first}:{_ULETTER[key]}{last}")
    ws.freeze_panes = ws.cell(first, 1)


# --------------------------------------------------------------------------------------------------
# reading and merging
# --------------------------------------------------------------------------------------------------
def returns_folder(case_path: str | os.PathLike[str]) -> Path:
    """Folder of a case's filled returns: ``<folder>/<workbook stem>.returns``.

    >>> returns_folder("data/sample/CRM-2025.xlsx").as_posix()
    'data/sample/CRM-2025.returns'
    """
    p = Path(case_path)
    return p.with_name(p.stem + RETURNS_SUFFIX)


def find_returns(case_path: str | os.PathLike[str]) -> list[Path]:
    """The filled returns beside a case workbook, sorted by name (empty when there are none).

    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> (d / "X.returns").mkdir()
    >>> for n in ("2026Q3.xlsx", "~$2026Q3.xlsx", ".tmp.xlsx", "notes.txt"):
    ...     _ = (d / "X.returns" / n).write_bytes(b"")
    >>> [p.name for p in find_returns(d / "X.xlsx")]
    ['2026Q3.xlsx']
    """
    folder = returns_folder(case_path)
    if not folder.is_dir():
        return []
    return sorted((p for p in folder.iterdir() if p.suffix.lower() == ".xlsx"
                   and not p.name.startswith(("~$", ".")) and p.is_file()), key=lambda p: p.name)


def _issue(file: Any, cell: str, field: str, rule: str, message: str, severity: str = "error") -> dict[str, Any]:
    return {"file": str(file), "sheet": FORM_SHEET, "cell": cell, "field": field, "rule": rule,
            "message": message, "severity": severity}


def read_return(path: str | os.PathLike[str]) -> tuple[dict[str, Any], pd.DataFrame, list[dict[str, Any]]]:
    """Read one filled return as it stands (no check against a case).

    Returns
    -------
    stamp : dict
        ``case_id`` and ``period`` from ``B2``/``B3``.
    rows : pandas.DataFrame
        One row per line with something entered: ``row, case_id, period, line_id, amount,
        kpi_value, comment`` (values as typed in the cells).
    issues : list of dict
        Problems found reading it (an issue row per cell, :data:`vmo_lib.intake.validation.ISSUE_COLUMNS`).

    Raises
    ------
    WorkbookError
        The file is not a readable workbook, or not an actuals return.
    """
    from vmo_lib.intake.safety import check_workbook_file  # lazy, like the loader

    p = Path(path)
    check_workbook_file(p)
    try:
        wb = load_workbook(p, read_only=True, data_only=True)
    except Exception as exc:  # noqa: BLE001 - any parser failure is "not a readable workbook"
        raise WorkbookError(p, f"cannot be read as a workbook ({type(exc).__name__}: {exc})") from None
    try:
        if FORM_SHEET not in wb.sheetnames:
            raise WorkbookError(p, f"not an actuals return: it has no '{FORM_SHEET}' sheet "
                                   "(write one with: vmo actuals-form CASE --as-of PERIOD OUT.xlsx)")
        ws = wb[FORM_SHEET]
        grid = [list(r) for r in ws.iter_rows(min_row=1, max_col=len(RETURN_COLUMNS), values_only=True)]
        fgrid = ([list(r) for r in wb[FORECAST_SHEET].iter_rows(min_row=1, max_col=len(FORECAST_COLUMNS),
                                                                 values_only=True)]
                 if FORECAST_SHEET in wb.sheetnames else None)
        ugrid = ([list(r) for r in wb[UNPLANNED_SHEET].iter_rows(min_row=1, max_col=len(UNPLANNED_COLUMNS),
                                                                  values_only=True)]
                 if UNPLANNED_SHEET in wb.sheetnames else None)
    finally:
        wb.close()
    uncalculated = _uncalculated_formulas(p)
    grid, invisible = sanitise_grid(grid)  # the workbook reader's cleaning, the same characters
    title = str(grid[0][0] or "") if grid and grid[0] else ""
    if not title.startswith(_MARKER):
        raise WorkbookError(p, f"not an actuals return: cell A1 should start with '{_MARKER}'")

    def at(r: int, c: int) -> Any:
        return grid[r - 1][c - 1] if r - 1 < len(grid) and c - 1 < len(grid[r - 1]) else None

    stamp = {"case_id": _text(at(2, 2)), "period": _text(at(3, 2))}
    headers = [_text(at(HEADER_ROW, _COL[k])) for k in RETURN_COLUMNS]
    issues = [_issue(p, cell, "", "text.invisible_characters",
                     f"removed invisible or control characters {', '.join(codes)} from the text (they can reorder, "
                     "hide or fake what is displayed); expected plain text: check the cell reads as intended",
                     severity="warning")
              for cell, codes in invisible]
    expected = [h for h, _, _ in RETURN_COLUMNS.values()]
    cols = ["row", "case_id", "period", "line_id", "amount", "kpi_value", "comment", "evidence", "evidence_source"]
    for sheet, cells in uncalculated.items():
        for cell in cells:
            issues.append({**_issue(p, cell, "", "return.formula_not_calculated",
                                    f"cell {sheet}!{cell} holds a formula with no calculated value (saved by a tool "
                                    "that does not calculate): expected a number typed in, or the file opened and "
                                    "saved in Excel/LibreOffice so the formula has a value"), "sheet": sheet})
    if headers[:len(_V1_HEADERS)] == _V1_HEADERS and all(h is None for h in headers[len(_V1_HEADERS):]):
        pass  # a return written before the evidence columns: read as it is, no evidence
    elif headers != expected:
        issues.append(_issue(p, f"{HEADER_ROW}:{HEADER_ROW}", "header", "return.layout",
                             f"the header row was changed; expected {', '.join(expected)}"))
        return stamp, pd.DataFrame(columns=cols), issues
    rows = []
    for r in range(HEADER_ROW + 1, len(grid) + 1):
        lid = _text(at(r, _COL["line_id"]))
        amount, kpi, comment = at(r, _COL["amount"]), at(r, _COL["kpi_value"]), _text(at(r, _COL["comment"]))
        ev, src = _text(at(r, _COL["evidence"])), _text(at(r, _COL["evidence_source"]))
        if lid is None and _blank(amount) and _blank(kpi) and comment is None:
            continue
        if _blank(amount) and _blank(kpi):
            continue          # nothing reported on this line (a comment alone is not an actual)
        if ev is not None and ev.strip().lower() not in EVIDENCE_STATUSES:
            issues.append(_issue(p, f"{_LETTER['evidence']}{r}", "evidence", "return.bad_evidence",
                                 f"evidence {ev!r} is not one of: {', '.join(EVIDENCE_STATUSES)}"))
            ev = None
        rows.append({"row": r, "case_id": _text(at(r, _COL["case_id"])), "period": _text(at(r, _COL["period"])),
                     "line_id": lid, "amount": amount, "kpi_value": kpi, "comment": comment,
                     "evidence": None if ev is None else ev.strip().lower(), "evidence_source": src})
    out = pd.DataFrame(rows, columns=cols).astype(object)
    out = out.where(out.notna(), None)
    out.attrs["forecast"] = _read_forecast_sheet(p, fgrid, issues)
    out.attrs["unplanned"] = _read_unplanned_sheet(p, ugrid, issues)
    return stamp, out, issues


def _uncalculated_formulas(path: Path) -> dict[str, list[str]]:
    """Formula cells with no usable cached value on the return's sheets (:func:`scan_formula_cells`)."""
    import zipfile

    from vmo_lib.intake.workbook import scan_formula_cells

    try:
        with zipfile.ZipFile(path) as zf:
            return {k: v for k, v in scan_formula_cells(zf, [FORM_SHEET, FORECAST_SHEET, UNPLANNED_SHEET])[0].items()
                    if v}
    except (zipfile.BadZipFile, OSError):
        return {}


def _read_forecast_sheet(p: Path, fgrid: list[list[Any]] | None, issues: list[dict[str, Any]]) -> pd.DataFrame:
    """The revised forecasts typed on a return's Forecast sheet: ``row, line_id, period, amount, comment``."""
    cols = ["row", "line_id", "period", "amount", "comment"]
    if not fgrid:
        return pd.DataFrame(columns=cols)
    grid, _ = sanitise_grid(fgrid)

    def at(r: int, c: int) -> Any:
        return grid[r - 1][c - 1] if r - 1 < len(grid) and c - 1 < len(grid[r - 1]) else None

    headers = [_text(at(HEADER_ROW, _FCOL[k])) for k in FORECAST_COLUMNS]
    expected = [h for h, _, _ in FORECAST_COLUMNS.values()]
    if headers != expected:
        issues.append({**_issue(p, f"{HEADER_ROW}:{HEADER_ROW}", "header", "return.layout",
                                f"the Forecast sheet's header row was changed; expected {', '.join(expected)}"),
                       "sheet": FORECAST_SHEET})
        return pd.DataFrame(columns=cols)
    rows = []
    for r in range(HEADER_ROW + 1, len(grid) + 1):
        v = at(r, _FCOL["revised"])
        if _blank(v):
            continue
        rows.append({"row": r, "line_id": _text(at(r, _FCOL["line_id"])), "period": _text(at(r, _FCOL["period"])),
                     "amount": v, "comment": _text(at(r, _FCOL["comment"]))})
    return pd.DataFrame(rows, columns=cols)


def _read_unplanned_sheet(p: Path, ugrid: list[list[Any]] | None, issues: list[dict[str, Any]]) -> pd.DataFrame:
    """The rows typed on a return's Unplanned sheet: ``row`` and every key of :data:`UNPLANNED_COLUMNS` (text
    stripped, the amount as typed); rows left blank are skipped. An absent sheet (a return written before it)
    gives no rows."""
    cols = ["row", *UNPLANNED_COLUMNS]
    if not ugrid:
        return pd.DataFrame(columns=cols)
    grid, invisible = sanitise_grid(ugrid)
    for cell, codes in invisible:
        issues.append({**_issue(p, cell, "", "text.invisible_characters",
                                f"removed invisible or control characters {', '.join(codes)} from the text; expected "
                                "plain text: check the cell reads as intended", severity="warning"),
                       "sheet": UNPLANNED_SHEET})

    def at(r: int, c: int) -> Any:
        return grid[r - 1][c - 1] if r - 1 < len(grid) and c - 1 < len(grid[r - 1]) else None

    headers = [_text(at(HEADER_ROW, _UCOL[k])) for k in UNPLANNED_COLUMNS]
    expected = [h for h, _, _ in UNPLANNED_COLUMNS.values()]
    if headers != expected:
        issues.append({**_issue(p, f"{HEADER_ROW}:{HEADER_ROW}", "header", "return.layout",
                                f"the Unplanned sheet's header row was changed; expected {', '.join(expected)}"),
                       "sheet": UNPLANNED_SHEET})
        return pd.DataFrame(columns=cols)
    rows = []
    for r in range(HEADER_ROW + 1, len(grid) + 1):
        vals = {k: at(r, _UCOL[k]) for k in UNPLANNED_COLUMNS}
        if all(_blank(v) for v in vals.values()):
            continue
        rows.append({"row": r, **{k: (v if k == "amount" else _text(v)) for k, v in vals.items()}})
    out = pd.DataFrame(rows, columns=cols).astype(object)
    return out.where(out.notna(), None)


def _text(v: Any) -> str | None:
    if _blank(v):
        return None
    if isinstance(v, float) and v.is_integer():
        v = int(v)
    s = str(v).strip()
    return s[1:] if s.startswith("'") else s


def _number(v: Any) -> tuple[float, bool]:
    """(value, ok): blank → (nan, True); a number or numeric text → (float, True); else (nan, False)."""
    if _blank(v):
        return math.nan, True
    if isinstance(v, bool):
        return math.nan, False
    if isinstance(v, (int, float, np.integer, np.floating)):
        return float(v), math.isfinite(float(v))
    try:
        x = float(str(v).replace(",", "").strip())
    except ValueError:
        return math.nan, False
    return x, math.isfinite(x)


def _same(a: float, b: float) -> bool:
    if math.isnan(a) or math.isnan(b):
        return True                 # a blank never conflicts: it is filled in, not overwritten
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-6)


def merge_returns(case: BusinessCase, paths: Sequence[str | os.PathLike[str]], as_of: object = None) -> BusinessCase:
    """Add the rows of filled returns to a case's actuals; every problem raises together.

    Parameters
    ----------
    case : BusinessCase
        As loaded from its workbook (its own Actuals sheet already in ``case.flows``).
    paths : sequence of path-like
        Filled returns (:func:`find_returns`), merged in this order.
    as_of : str, optional
        Review period; a return for a later period is left out with a warning (an error when it is
        after today's quarter too). Default: no check beyond the case's horizon (the loader passes
        its review quarter).

    Returns
    -------
    BusinessCase
        A copy with the returns' actuals added and ``meta["actuals_returns"]``: one entry per
        return (``file``, ``period``, ``rows``, ``forecasts``, ``unplanned``); the returns' warnings
        (cleaned text, implausible amounts, each unplanned line as ``return.unplanned_line``) are added
        to ``issues``. An unplanned cost line (a return's Unplanned sheet) becomes a cost line of the copy
        with no plan and its actuals, and is listed in ``meta["unplanned_lines"]`` (``line_id, name,
        category, owner, amount, reason, period, file``, one entry per line and period). The case itself is unchanged; with no paths it is
        returned as is.

    Raises
    ------
    ValidationError
        Any return is for another case or a later period, names an unknown line, holds a
        non-number, a negative cost, an amount beyond the plausibility bound, or conflicts with the
        case's Actuals or another return (:func:`check_returns`). ``issues`` names the file and
        cell of each, errors and warnings of every return.
    WorkbookError
        A file is not a readable actuals return.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from vmo_lib.model import make_case
    >>> case = make_case({"case_id": "X1", "first_period": "2026Q1", "horizon": 4},
    ...     benefits=[{"line_id": "B1", "name": "Saving", "amounts": [0, 0, 50, 50]}])
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> form = write_actuals_form(case, "2026Q3", d / "2026Q3.xlsx")
    >>> from openpyxl import load_workbook
    >>> wb = load_workbook(form); wb["Return"]["O8"] = 42; wb.save(form)
    >>> merged = merge_returns(case, [form], as_of="2026Q3")
    >>> merged.matrix("actual").loc["B1"].tolist()
    [0.0, 0.0, 42.0, 0.0]
    """
    if not paths:
        return case
    flows, provenance, issues = _merge(case, paths, as_of, unreadable_is_issue=False)
    table = pd.DataFrame(issues, columns=list(ISSUE_COLUMNS))
    if (table["severity"] == "error").any():
        files = table.loc[table["severity"] == "error", "file"].unique()
        where = files[0] if len(files) == 1 else (returns_folder(case.source) if case.source else paths[0])
        raise ValidationError(where, table)
    merged = case.with_flows(normalise_flows(flows.reindex(columns=list(FLOW_COLUMNS))))
    unplanned = [{**u, "period": x["period"], "file": x["file"]} for x in provenance for u in x.get("unplanned", ())]
    if unplanned:  # new cost lines from the returns' Unplanned sheets: no plan, their actuals only
        rows, seen = [], set()
        for u in unplanned:
            if u["line_id"] not in seen:
                seen.add(u["line_id"])
                rows.append({"case_id": case.case_id, "line_id": u["line_id"], "kind": "cost", "name": u["name"],
                             "category": u["category"], "owner": u["owner"]})
        new = pd.DataFrame(rows).reindex(columns=case.lines.columns)
        merged = dataclasses.replace(merged, lines=pd.concat([case.lines, new.astype(case.lines.dtypes.to_dict(),
                                                                                     errors="ignore")],
                                                             ignore_index=True))
    merged.meta = {**case.meta, "actuals_returns": provenance}
    if unplanned:
        merged.meta["unplanned_lines"] = unplanned
    if len(table):
        merged.issues = table if case.issues is None or case.issues.empty else pd.concat(
            [case.issues, table], ignore_index=True)
    return merged


def check_returns(case: BusinessCase, paths: Sequence[str | os.PathLike[str]], as_of: object = None) -> pd.DataFrame:
    """Every issue of every return against its case, without raising: the issues table.

    The checks of :func:`merge_returns`; a file that is not a readable actuals return becomes a
    ``return.unreadable`` error naming it instead of stopping the others.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`vmo_lib.intake.validation.ISSUE_COLUMNS` (``file`` is the return).
    """
    if not paths:
        return pd.DataFrame(columns=list(ISSUE_COLUMNS))
    issues = _merge(case, paths, as_of, unreadable_is_issue=True)[2]
    return pd.DataFrame(issues, columns=list(ISSUE_COLUMNS))


def validate_return(path: str | os.PathLike[str], case: BusinessCase | None = None,
                    as_of: object = None) -> pd.DataFrame:
    """The issues of one filled return: against ``case`` when given (:func:`check_returns`), else
    on its own (layout, stamp, numbers, cleaned text, the absolute plausibility bound).

    Raises
    ------
    WorkbookError
        The file is not a readable actuals return.
    """
    if case is not None:
        read_return(path)  # raises WorkbookError when it is not a return at all
        return check_returns(case, [path], as_of)
    p = Path(path)
    stamp, rows, issues = read_return(p)
    if stamp["case_id"] is None:
        issues.append(_issue(p, CASE_CELL, "case_id", "return.other_case",
                             "no case id in the return's stamp; expected the id of the case it reports on"))
    if stamp["period"] is None or not _parses(stamp["period"]):
        issues.append(_issue(p, PERIOD_CELL, "period", "return.bad_period",
                             f"period {stamp['period']!r} is not a quarter such as 2026Q3 or a year such as 2026"))
    for r in rows.itertuples(index=False):
        vals: dict[str, float] = {}
        for key in ("amount", "kpi_value"):
            x, ok = _number(getattr(r, key))
            vals[key] = x
            if not ok:
                issues.append(_issue(p, f"{_LETTER[key]}{r.row}", key, "return.not_a_number",
                                     f"expected a finite number, found {str(getattr(r, key))[:40]!r}"))
        if r.line_id is None:
            issues.append(_issue(p, f"{_LETTER['line_id']}{r.row}", "line_id", "return.unknown_line",
                                 "a reported row without a line id"))
        for _, rule, sev, msg in amount_issues([vals["amount"]], [None], [None], math.nan, [f"{r.line_id}:"]):
            issues.append(_issue(p, f"{_LETTER['amount']}{r.row}", "amount", rule, msg, severity=sev))
    _unplanned_lines(None, p, rows.attrs.get("unplanned"), str(stamp["period"] or "the period"), 0, math.nan, {},
                     issues)
    return pd.DataFrame(issues, columns=list(ISSUE_COLUMNS))


def _parses(period: str) -> bool:
    for length in ("quarter", "year"):
        try:
            parse_period(period, length)
            return True
        except ValueError:
            continue
    return False


def _merge(case: BusinessCase, paths: Sequence[str | os.PathLike[str]], as_of: object,
           unreadable_is_issue: bool) -> tuple[pd.DataFrame, list[dict[str, Any]], list[dict[str, Any]]]:
    """The merged flows, the provenance and every issue (errors and warnings) of the returns."""
    review = None if as_of is None else review_period(as_of, case.period_length)
    tau = None if review is None else case.t_of(review)
    known = set(case.line_ids())
    kind_of = dict(zip(case.lines["line_id"], case.lines["kind"], strict=True))
    btype_of = dict(zip(case.lines["line_id"], case.lines["benefit_type"], strict=True))
    typical = typical_amount(case.matrix("baseline").to_numpy())
    flows = case.flows.reset_index(drop=True).copy()
    act_idx = {(r.line_id, int(r.t)): i for i, r in flows[flows["scenario"] == "actual"].iterrows()}
    where: dict[tuple[str, int], str] = {k: f"{Path(case.source).name or 'the case'} (Actuals sheet)" for k in act_idx}
    issues: list[dict[str, Any]] = []
    provenance = []
    revised: list[dict[str, Any]] = []
    new_lines: dict[str, dict[str, Any]] = {}  # unplanned cost lines: id -> line, across every return
    for path in paths:
        p = Path(path)
        try:
            stamp, rows, read_issues = read_return(p)
        except WorkbookError as exc:
            if not unreadable_is_issue:
                raise
            issues.append({"file": str(p), "sheet": "", "cell": "", "field": "", "rule": "return.unreadable",
                           "message": exc.reason, "severity": "error"})
            continue
        issues.extend(read_issues)
        if stamp["case_id"] != case.case_id:
            issues.append(_issue(p, CASE_CELL, "case_id", "return.other_case",
                                 f"this return is for case {stamp['case_id']!r}, not {case.case_id!r}"))
            continue
        try:
            label, t_stamp = _period_t(case, stamp["period"], quarter_ok=False)
        except WorkbookError:
            issues.append(_issue(p, PERIOD_CELL, "period", "return.bad_period",
                                 f"period {stamp['period']!r} is not a {case.period_length} label such as "
                                 f"{case.periods[0]}"))
            continue
        if tau is not None and t_stamp > tau:
            # a return of a later quarter: an error when after today's quarter too (it cannot have
            # been filled yet), else the review is of an earlier quarter and the return is left out
            now = review_period(rules.current_quarter(), case.period_length)
            if t_stamp > max(tau, case.t_of(now)):
                issues.append(_issue(p, PERIOD_CELL, "period", "return.period_after_review",
                                     f"period {label} is after the review period {review} and today's {now}"))
            else:
                issues.append(_issue(p, PERIOD_CELL, "period", "return.after_review",
                                     f"return for {label}, after the review period {review}: left out of this "
                                     "review of an earlier quarter", severity="warning"))
            continue
        if not 0 <= t_stamp < case.horizon:
            issues.append(_issue(p, PERIOD_CELL, "period", "return.bad_period",
                                 f"period {label} is outside the case's horizon {case.periods[0]}..{case.periods[-1]}"))
            continue
        n = 0
        for r in rows.itertuples(index=False):
            cell = lambda key, r=r: f"{_LETTER[key]}{r.row}"  # noqa: E731
            bad = False
            if r.case_id is not None and r.case_id != case.case_id:
                issues.append(_issue(p, cell("case_id"), "case_id", "return.other_case",
                                     f"row is for case {r.case_id!r}, not {case.case_id!r}"))
                bad = True
            if r.period is not None and r.period != label:
                issues.append(_issue(p, cell("period"), "period", "return.bad_period",
                                     f"row period {r.period!r} differs from the return's period {label}"))
                bad = True
            if r.line_id not in known:
                issues.append(_issue(p, cell("line_id"), "line_id", "return.unknown_line",
                                     "a reported row without a line id" if r.line_id is None else
                                     f"line id {r.line_id!r} is not a line of case {case.case_id} (a new, "
                                     f"unplanned cost line goes on the {UNPLANNED_SHEET} sheet with its reason)"))
                bad = True
            amount, ok_a = _number(r.amount)
            kpi, ok_k = _number(r.kpi_value)
            for ok, key, raw in ((ok_a, "amount", r.amount), (ok_k, "kpi_value", r.kpi_value)):
                if not ok:
                    issues.append(_issue(p, cell(key), key, "return.not_a_number",
                                         f"expected a finite number, found {str(raw)[:40]!r}"))
                    bad = True
            for _, rule, sev, msg in amount_issues([amount], [kind_of.get(r.line_id)], [btype_of.get(r.line_id)],
                                                   typical, [f"actual for {kind_of.get(r.line_id) or 'line'} "
                                                             f"{r.line_id} in {label}:"]):
                issues.append(_issue(p, cell("amount"), "amount", rule, msg, severity=sev))
                bad = bad or sev == "error"
            if bad:
                continue
            key = (r.line_id, t_stamp)
            here = f"{p.name} {FORM_SHEET}!{cell('amount')}"
            if key in act_idx:
                i = act_idx[key]
                old_a, old_k = float(flows.at[i, "amount"]), float(flows.at[i, "kpi_value"])
                if not (_same(old_a, amount) and _same(old_k, kpi)):
                    issues.append(_issue(p, cell("amount" if not _same(old_a, amount) else "kpi_value"),
                                         "amount" if not _same(old_a, amount) else "kpi_value", "return.conflict",
                                         f"{r.line_id} {label} reported as amount={_fmt(amount)}, KPI={_fmt(kpi)} "
                                         f"here but amount={_fmt(old_a)}, KPI={_fmt(old_k)} in {where[key]}"))
                    continue
                if math.isnan(old_a) and not math.isnan(amount):
                    flows.at[i, "amount"] = amount
                if math.isnan(old_k) and not math.isnan(kpi):
                    flows.at[i, "kpi_value"] = kpi
                if _blank(flows.at[i, "comment"]) and r.comment:
                    flows.at[i, "comment"] = r.comment
                for k in ("evidence", "evidence_source"):
                    if _blank(flows.at[i, k]) and getattr(r, k, None):
                        flows.at[i, k] = getattr(r, k)
                continue
            act_idx[key] = len(flows)
            where[key] = here
            flows.loc[len(flows)] = {"case_id": case.case_id, "line_id": r.line_id, "kind": kind_of[r.line_id],
                                     "period": label, "t": t_stamp, "scenario": "actual", "amount": amount,
                                     "kpi_value": kpi, "comment": r.comment,
                                     "evidence": getattr(r, "evidence", None),
                                     "evidence_source": getattr(r, "evidence_source", None)}
            n += 1
        revised.extend(_revised_forecasts(case, p, rows.attrs.get("forecast"), label, t_stamp, known, issues))
        added = _unplanned_lines(case, p, rows.attrs.get("unplanned"), label, t_stamp, typical, new_lines, issues)
        for u in added:
            flows.loc[len(flows)] = {"case_id": case.case_id, "line_id": u["line_id"], "kind": "cost",
                                     "period": label, "t": t_stamp, "scenario": "actual", "amount": u["amount"],
                                     "kpi_value": math.nan, "comment": u["comment"] or f"unplanned: {u['reason']}",
                                     "evidence": u["evidence"], "evidence_source": u["evidence_source"]}
        provenance.append({"file": str(p), "period": label, "rows": n,
                           "forecasts": sum(1 for x in revised if x["file"] == str(p))})
        if added:  # (the key only when there are some: earlier returns' provenance is unchanged)
            provenance[-1]["unplanned"] = [{k: u[k] for k in ("line_id", "name", "category", "owner", "amount",
                                                              "reason")} for u in added]
    flows = _apply_forecasts(flows, case, revised, issues)
    return flows, provenance, issues


def _unplanned_lines(case: BusinessCase | None, p: Path, table: pd.DataFrame | None, label: str, t_stamp: int,
                     typical: float, new_lines: dict[str, dict[str, Any]],
                     issues: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The checked rows of one return's Unplanned sheet (each a new cost line and its actual in the period).

    Every problem is an issue naming its cell on the Unplanned sheet: a missing id, name, category, owner,
    amount (``return.unplanned_incomplete``) or reason (``return.unplanned_no_reason``), an id that is
    already a line of the case (``return.unplanned_clash``), an invalid id or category, a non-number, a
    negative or implausible amount, and the same new line described differently (or given two amounts for
    one period) in two rows or returns (``return.conflict``). ``new_lines`` collects the lines across returns:
    the same id, name and category in the returns of two periods is one line with two actuals.
    Without a case (a return checked on its own) the clash with the case's lines is not checked.
    """
    out: list[dict[str, Any]] = []
    if table is None or not len(table):
        return out
    lines = (case.lines.set_index("line_id") if case is not None
             else pd.DataFrame(columns=["kind", "name"], index=pd.Index([], name="line_id")))
    for r in table.itertuples(index=False):
        def cell(key: str, r: Any = r) -> str:
            return f"{_ULETTER[key]}{r.row}"

        problems: list[tuple[str, str, str, str]] = []   # (key, rule, message, severity)

        def bad(key: str, rule: str, msg: str, severity: str = "error", problems: list = problems) -> None:
            problems.append((key, rule, msg, severity))

        lid = r.line_id
        what = f"unplanned cost line {lid}" if lid else "an unplanned cost line"
        if lid is None:
            bad("line_id", "return.unplanned_incomplete",
                "an unplanned cost line needs a new line id (e.g. U1), one the case does not use")
        elif lid in lines.index:
            kind, name = lines.at[lid, "kind"], lines.at[lid, "name"]
            bad("line_id", "return.unplanned_clash",
                f"line id {lid!r} is already a {kind} line of case {case.case_id if case else ''} ({name}): "
                f"spend on it goes on "
                f"the {FORM_SHEET} sheet; expected a new id for a new, unplanned line")
        elif not _NEW_ID.match(str(lid)):
            bad("line_id", "return.unplanned_incomplete",
                f"line id {lid!r} must be 1-40 letters, digits, '-', '_' or '.'")
        for key, need in (("name", "what the spend is"), ("owner", "who is accountable for it")):
            if getattr(r, key) is None:
                bad(key, "return.unplanned_incomplete", f"{what}: {UNPLANNED_COLUMNS[key][0]} is required ({need})")
        category = None if r.category is None else str(r.category).strip().lower()
        if category is None:
            bad("category", "return.unplanned_incomplete", f"{what}: Category is required (capex or opex)")
        elif category not in COST_CATEGORIES:
            bad("category", "return.unplanned_incomplete",
                f"{what}: category {r.category!r} is not one of: {', '.join(COST_CATEGORIES)}")
        if r.reason is None:
            bad("reason", "return.unplanned_no_reason",
                f"{what}: the reason it was not planned is required (why the spend arose, who agreed it)")
        amount, ok = _number(r.amount)
        if not ok:
            bad("amount", "return.not_a_number", f"expected a finite number, found {str(r.amount)[:40]!r}")
        elif math.isnan(amount):
            bad("amount", "return.unplanned_incomplete", f"{what}: the actual amount spent in {label} is required")
        else:
            for _, rule, sev, msg in amount_issues([amount], ["cost"], [None], typical,
                                                   [f"actual for unplanned cost line {lid} in {label}:"]):
                bad("amount", rule, msg, sev)
        ev = None if r.evidence is None else str(r.evidence).strip().lower()
        if ev is not None and ev not in EVIDENCE_STATUSES:
            bad("evidence", "return.bad_evidence", f"evidence {r.evidence!r} is not one of: {', '.join(EVIDENCE_STATUSES)}")
        if lid is not None and lid in new_lines and not any(s == "error" for *_, s in problems):
            seen = new_lines[lid]
            if (seen["name"], seen["category"]) != (r.name, category):
                bad("line_id", "return.conflict",
                    f"unplanned line {lid} is {r.name!r} ({category}) here but {seen['name']!r} ({seen['category']}) "
                    f"in {seen['where']}; expected one description per new line id")
            elif t_stamp in seen["periods"]:
                old = seen["periods"][t_stamp]
                if not _same(old, amount):
                    bad("amount", "return.conflict",
                        f"unplanned line {lid} {label} reported as {_fmt(amount)} here but {_fmt(old)} in "
                        f"{seen['where']}")
                else:
                    continue  # the same figure twice: accepted once
        for key, rule, msg, sev in problems:
            issues.append({**_issue(p, cell(key), key, rule, msg, severity=sev), "sheet": UNPLANNED_SHEET})
        if any(s == "error" for *_, s in problems):
            continue
        here = f"{p.name} {UNPLANNED_SHEET}!{cell('line_id')}"
        entry = new_lines.setdefault(lid, {"name": r.name, "category": category, "owner": r.owner,
                                           "reason": r.reason, "where": here, "periods": {}})
        entry["periods"][t_stamp] = amount
        issues.append({**_issue(p, cell("line_id"), "line_id", "return.unplanned_line",
                                f"unplanned cost line {lid} ({r.name}, {category}, owner {r.owner}) reported in "
                                f"{label}: {_fmt(amount)} counted in actual spend; reason: {r.reason}",
                                severity="warning"), "sheet": UNPLANNED_SHEET})
        out.append({"line_id": lid, "name": r.name, "category": category, "owner": r.owner, "amount": amount,
                    "reason": r.reason, "comment": r.comment, "evidence": ev, "evidence_source": r.evidence_source})
    return out


def _revised_forecasts(case: BusinessCase, p: Path, table: pd.DataFrame | None, label: str, t_stamp: int,
                       known: set, issues: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The checked revised forecasts of one return (each a later period of a known line)."""
    out: list[dict[str, Any]] = []
    if table is None or not len(table):
        return out
    for r in table.itertuples(index=False):
        def cell(key: str, r: Any = r) -> str:
            return f"{_FLETTER[key]}{r.row}"

        def bad(key: str, rule: str, msg: str) -> None:
            issues.append({**_issue(p, cell(key), key, rule, msg), "sheet": FORECAST_SHEET})

        amount, ok = _number(r.amount)
        if not ok:
            bad("revised", "return.not_a_number", f"expected a finite number, found {str(r.amount)[:40]!r}")
            continue
        if r.line_id not in known:
            bad("line_id", "return.unknown_line", f"line id {r.line_id!r} is not a line of case {case.case_id}")
            continue
        try:
            plabel, t = _period_t(case, r.period, quarter_ok=False)
        except WorkbookError:
            bad("period", "return.bad_period", f"period {r.period!r} is not a {case.period_length} label")
            continue
        if not t_stamp < t < case.horizon:
            bad("period", "return.bad_period", f"a revised forecast for {plabel}: expected a period after the "
                                               f"return's period {label} and within the horizon")
            continue
        out.append({"file": str(p), "cell": cell("revised"), "line_id": r.line_id, "period": plabel, "t": t,
                    "stamp": t_stamp, "amount": amount, "comment": r.comment})
    return out


def _apply_forecasts(flows: pd.DataFrame, case: BusinessCase, revised: list[dict[str, Any]],
                     issues: list[dict[str, Any]]) -> pd.DataFrame:
    """Revised forecasts replace the forecast of their line and period; the return of the latest period wins;
    two returns of the same period that disagree are a ``return.conflict``."""
    if not revised:
        return flows
    chosen: dict[tuple[str, int], dict[str, Any]] = {}
    for x in revised:
        key = (x["line_id"], x["t"])
        old = chosen.get(key)
        if old is None or x["stamp"] > old["stamp"]:
            chosen[key] = x
        elif x["stamp"] == old["stamp"] and not _same(old["amount"], x["amount"]):
            issues.append({**_issue(x["file"], x["cell"], "revised", "return.conflict",
                                    f"{x['line_id']} {x['period']} revised to {_fmt(x['amount'])} here but to "
                                    f"{_fmt(old['amount'])} in {Path(old['file']).name}"), "sheet": FORECAST_SHEET})
    kind_of = dict(zip(case.lines["line_id"], case.lines["kind"], strict=True))
    fc = (flows["scenario"] == "forecast").to_numpy()
    drop = fc & np.array([(lid, int(t)) in chosen for lid, t in zip(flows["line_id"], flows["t"], strict=True)],
                         dtype=bool)
    new = pd.DataFrame([{"case_id": case.case_id, "line_id": x["line_id"], "kind": kind_of[x["line_id"]],
                         "period": x["period"], "t": x["t"], "scenario": "forecast", "amount": x["amount"],
                         "kpi_value": math.nan, "comment": x["comment"] or f"revised in {Path(x['file']).name}"}
                        for x in chosen.values()])
    return pd.concat([flows[~drop], new.reindex(columns=flows.columns)], ignore_index=True)


def _fmt(x: float) -> str:
    return "blank" if math.isnan(x) else f"{x:,.2f}".rstrip("0").rstrip(".")
