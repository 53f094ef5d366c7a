"""The business-case template and the case writer (openpyxl), both built from :mod:`vmo_lib.schema`.

:func:`write_template` writes the blank workbook case authors fill in
(``templates/business_case.xlsx``); :func:`write_case_workbook` writes a filled-in workbook of the
same layout from a :class:`~vmo_lib.model.BusinessCase` (the sample portfolio, tests, what-if
copies). Both call one builder, so the blank and the filled workbook share every sheet, style, number
format and data validation. Every position comes from :mod:`vmo_lib.schema`; nothing here restates it.

Layout written (see :mod:`vmo_lib.schema` for the contract the reader follows)
------------------------------------------------------------------------------
* Table sheets: row 1 a title, row 2 a one-line instruction, row 3 ``required`` above each
  required column, the header (exact schema labels) on ``schema.HEADER_ROW``, data below it.
  *Costs* and *Benefits* continue after their attribute columns with one column per period whose
  header is the period label written as text (``"2026Q1"``; ``"2026"`` for yearly cases).
* *Case*: ``A2``/``B2`` hold the label and the template version; row 3 the header; then one field
  per row from ``schema.CASE_FIRST_ROW`` in ``schema.CASE_FIELDS`` order (A label, B value, C
  guidance).
* *Lists* (hidden): one column per enumeration, its name in row 1, the values below; drop-downs
  reference these ranges.

Why openpyxl (not XlsxWriter, which is faster): both readers of the format (Excel users and the
workbench) need the same validations and styles in blank and filled workbooks, and only openpyxl
can also reopen and edit such a file later; one writer keeps one builder.

Workbook text is untrusted: a value that starts with ``=``, ``+``, ``-``, ``@``, tab or CR is stored
as a string cell with Excel's quote prefix, never as a formula. Files are written atomically and
are byte-for-byte reproducible (fixed document dates and zip timestamps).
"""

from __future__ import annotations

import copy
import datetime as _dt
import io
import math
import os
import re
import tempfile
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter, quote_sheetname
from openpyxl.utils.datetime import to_excel
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.properties import PageSetupProperties
from openpyxl.writer.excel import ExcelWriter

from vmo_lib import schema
from vmo_lib.intake.benefit_map import map_records
from vmo_lib.model import as_date
from vmo_lib.periods import parse_period, period_range

if TYPE_CHECKING:  # pragma: no cover
    from openpyxl.cell.cell import Cell
    from openpyxl.worksheet.worksheet import Worksheet

    from vmo_lib.model import BusinessCase

__all__ = [
    "INPUT_ROWS",
    "SPARE_ROWS",
    "build_workbook",
    "save_workbook",
    "set_text_cell",
    "template_periods",
    "write_case_workbook",
    "write_template",
]

#: Rows prepared for input (styled, validated) on each table sheet of a blank template.
INPUT_ROWS: dict[str, int] = {"Costs": 200, "Benefits": 200, "Actuals": 2000, "Forecast": 2000, "KPI plan": 2000,
                              "Baselines": 2000, schema.BENEFIT_MAP_SHEET: 200}
#: Rows kept free for input below the data of a filled-in workbook (fewer than a blank template's,
#: so that writing many case workbooks, e.g. in tests, stays fast).
SPARE_ROWS: dict[str, int] = {"Costs": 50, "Benefits": 50, "Actuals": 200, "Forecast": 200, "KPI plan": 200,
                              "Baselines": 200, schema.BENEFIT_MAP_SHEET: 50}
_PRINT_PAGE_WIDTH = 250  # column-width units that still print legibly on a landscape A4 page
_PRINT_ROWS = 20  # a blank template prints its header and this many input rows

#: The fixed document date (docProps and zip entries) that makes regenerated files byte-stable.
FIXED_TIMESTAMP = _dt.datetime(2026, 1, 1, 0, 0, 0)
_DATE_RANGE = (_dt.date(1990, 1, 1), _dt.date(2100, 12, 31))
_ANY_NUMBER = 10**15  # bound of a "number" validation when the schema gives none
_ID_MAX_LENGTH = 40
_PERIOD_LENGTH = (4, 7)  # "2026" .. "2026-Q3"
_FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
_PERIOD_WIDTH = schema.PERIOD_VALUE_COLUMNS["Costs"].width

# --- look ------------------------------------------------------------------------------------------
def _font(**kw: Any) -> Font:
    # An explicit name: a Font without one renders in a serif fallback in LibreOffice.
    return Font(**{"name": "Calibri", "size": 11, **kw})


_INPUT_FILL = PatternFill("solid", fgColor="FFF2CC")  # light yellow: "type here"
_HEADER_FILL = PatternFill("solid", fgColor="1F4E78")
_OPTIONAL_HEADER_FILL = PatternFill("solid", fgColor="5B7FA6")
_PERIOD_HEADER_FILL = PatternFill("solid", fgColor="FFE699")
_THIN = Side(style="thin", color="BFBFBF")
_BORDER = Border(left=_THIN, right=_THIN, top=_THIN, bottom=_THIN)
_TITLE_FONT = _font(bold=True, size=14, color="1F4E78")
_NOTE_FONT = _font(italic=True, color="595959")
_HEADER_FONT = _font(bold=True, color="FFFFFF")
_REQUIRED_FONT = _font(bold=True, color="C00000", size=9)
_WRAP_TOP = Alignment(wrap_text=True, vertical="top")
_HEADER_ALIGN = Alignment(wrap_text=True, vertical="center", horizontal="center")

_NUMBER_FORMATS = {
    "amount": "#,##0",
    "rate": "0.0%",
    "date": "yyyy-mm-dd",
    "int": "0",
    "number": "General",
    "text": "@",
    "id": "@",
    "period": "@",
    "choice": "@",
}

# --- words ---------------------------------------------------------------------------------------
_TITLES = {
    "Case": "Business case",
    "Costs": "Costs: one row per cost line, one column per period",
    "Benefits": "Benefits: one row per benefit (its profile), one column per period",
    "Actuals": "Actuals: what was spent and realised, one row per period and line",
    "Forecast": "Forecast: today's best estimate for the periods not yet reported",
    "KPI plan": "KPI plan: the planned KPI value per period and benefit (optional trajectory)",
    "Baselines": "Baselines: formal re-baselines, each a full set of lines",
    schema.BENEFIT_MAP_SHEET: "Benefit map: enablers -> business changes -> benefits -> objectives (optional)",
}
_INSTRUCTIONS = {
    "Case": "Fill in the yellow cells. Hover over a cell for guidance; drop-downs list the allowed values.",
    "Costs": ("Amounts positive, in the case currency (Amount units on the Case sheet), undiscounted. The period "
              "labels in row {header} must start at the First period and run for Horizon periods: overwrite them, or "
              "make the template with vmo template FILE --first-period 2026Q1 --period quarter --horizon 20."),
    "Benefits": ("Monetised value per period in the case currency; dis-benefits negative. Overwrite the period labels "
                 "in row {header} to match the Costs sheet."),
    "Actuals": "After approval: one row per reported period and line id (from Costs or Benefits). Never change past rows.",
    "Forecast": "After approval: your best estimate for each period not yet reported, per line id.",
    "KPI plan": ("Optional: the KPI value each benefit should reach at the end of each period. Without it the plan "
                 "is a straight line from go-live to the target value at the target date."),
    "Baselines": ("Only for a formal re-baseline approved by the board, under a new version name with its approval "
                  "date: every line, every period; or 'Carry over unlisted lines' = yes to keep the lines not listed."),
    schema.BENEFIT_MAP_SHEET: ("Optional. One row per node; Feeds lists the node ids it leads to. A benefit's node id is "
                               "its Benefits line id; an enabler may be a Costs line id. Enablers: planned, forecast and "
                               "actual delivery dates."),
}
_CASE_HEADER = ("Field", "Value", "Guidance")
_CASE_WIDTHS = (32, 34, 100)
_VERSION_LABEL = "Template version"
_VERSION_NOTE = "Do not change: tells the workbench how to read this workbook."

_GUIDE_SHEETS = (
    ("Case", "One field per row: identity, sponsor, status, the appraisal periods (first period, period length, "
             "horizon, go-live), currency, price base and discounting, and optional optimism-bias overrides."),
    ("Costs", "One row per cost line (capex = one-off build, opex = running cost), then one amount per period. "
              "Optional three-point range (low / likely / high) and a risk driver for the risk analysis."),
    ("Benefits", "One row per benefit with its profile (type, owner, KPI and unit, baseline and target, value per unit, "
                 "measurement, enabler, confidence), then its monetised value per period."),
    ("Actuals", "After approval, every quarter: one row per reported period and line: amount and, for benefits, "
                "the measured KPI value."),
    ("Forecast", "After approval: today's best estimate of each line for the periods not yet reported."),
    ("KPI plan", "Optional: the planned KPI trajectory, one row per period and benefit. Without it the plan runs in a "
                 "straight line from go-live (the actual go-live when given) to the target at the target date."),
    ("Baselines", "Formal re-baselines only: version, approval date (required: it decides which baseline is in force), "
                  "reason, then a full set of period amounts: a line it does not list is an error, unless 'Carry "
                  "over unlisted lines' is yes, when those lines keep the baseline in force before it. "
                  "The approved Costs and Benefits periods are never edited; they stay the original baseline."),
    (schema.BENEFIT_MAP_SHEET, "Optional: the benefits dependency network. One row per node with its kind, name, owner "
                               "and Feeds (the ids of the nodes it leads to, separated by commas). Arrows run enabler "
                               "-> business change -> benefit -> investment objective -> strategic objective; a node "
                               "may skip a layer, never go back. A benefit's node id is its line id on Benefits (name "
                               "and owner may be left blank: they come from there); an enabler's id may be a cost line "
                               "id on Costs or a new id for a deliverable, with its planned delivery date, a forecast "
                               "date while not delivered, and the actual date once delivered. Left blank, the network "
                               "is reported as not mapped."),
)
_GUIDE_CONVENTIONS = (
    ("Yellow cells", "Cells for your input. Headers marked 'required' (row 3) must be filled for every line; "
                     "pick enumerations from the drop-downs; select a cell to see its guidance."),
    ("Periods", "Period 0 is the First period on the Case sheet and is not discounted. Quarters are labelled 2026Q1, "
                "calendar years 2026, UK financial years (1 April to 31 March) FY2025-26. The period columns of Costs and Benefits run from the First period for Horizon periods, "
                "without gaps."),
    ("Discounting", "The annual discount rate r becomes a per-period rate by compounding: (1+r)^(1/4)-1 for quarters, "
                    "never r/4. NPV = v0 + Excel's NPV(rate, v1..vn), because Excel discounts its first value. "
                    "'green book' uses HM Treasury's declining rate (3.5% to year 30, then 3.0%, ...)."),
    ("Signs", "Enter every cost and every benefit as a positive amount. Only dis-benefits are negative."),
    ("Amount units", "Every amount of the workbook (period columns, Low / Likely / High, Value per unit, Actuals, "
                     "Forecast, Baselines) counts what 'Amount units' on the Case sheet says: blank or units = "
                     "pounds (or the case currency), thousands = a table printed in £000, millions = £m. Type the "
                     "figures as printed; the workbench multiplies each one by 1,000 or 1,000,000 when it reads the "
                     "workbook. Returns from vmo actuals-form are in units of the currency."),
    ("A case with no year 0", "Label every period column with the period it covers (2026Q1 or 2026), never 'Year 0', "
                              "'Initial' or 'Year 1'. Period 0 (the First period) is not discounted. If the "
                              "published case starts its table at Year 1 and discounts it one year (no year 0), "
                              "set the First period to the year before the table's first year and leave that "
                              "column blank: Year 1 is then discounted once, as published. If its first column is "
                              "the undiscounted year 0 (often 'Initial' or 'Year 0'), that column's year is the "
                              "First period. Make the template with: vmo template FILE --first-period 2026 "
                              "--period year --horizon N (N counts period 0)."),
    ("Cash vs economic view", "The cash view holds costs and cash-releasing benefits only: what happens to budgets. "
                              "The economic view adds non-cash-releasing benefits, cost avoidance and monetised "
                              "non-financial benefits. The workbench reports them side by side and never mixes them."),
    ("Real vs nominal", "real = constant prices of the Price base year (no inflation); nominal = cash prices of each "
                        "period. Use one price base for the whole case: a line in another price base is an error."),
    ("Three-point estimates", "Low / Likely / High are whole-life totals (the undiscounted sum over all periods) "
                              "in the case currency, not per-period figures. Likely should equal the sum of the "
                              "line's periods. Leave them blank if you have no range."),
    ("Dis-benefit ranges", "A dis-benefit's Low / Likely / High are negative and still run low <= likely <= high "
                           "as numbers: Low is the worst case (the largest dis-benefit, e.g. -150,000), High the "
                           "mildest (e.g. -60,000), Likely between them (e.g. -100,000) and equal to the sum of "
                           "its (negative) periods."),
    ("Submitting actuals", "Each quarter after approval the VMO sends an actuals return (vmo actuals-form): it lists "
                           "every open line; fill in the actual, the measured KPI and its evidence, your revised "
                           "forecast for the remaining periods, and any unplanned cost on its Unplanned sheet with the "
                           "reason. This workbook is not edited to report actuals or forecasts; never edit the approved "
                           "periods: ask for a re-baseline instead."),
    ("Options (economic case)", "To compare business as usual or do minimum with the case, add their lines to Costs or "
                                "Benefits and head the first free column of the header row 'Option': bau or do "
                                "minimum on those lines, blank (or preferred) on the case's own. They are compared in "
                                "the Green Book section of the pack and counted in no other figure."),
    ("Evidence", "For each benefit, 'KPI basis' says how its money follows from its KPI: change = (KPI - baseline) x "
                 "value per unit, level = KPI x value per unit; each quarter the claimed amount is reconciled with "
                 "it. On Actuals, 'Evidence' says how each figure is known (measured, estimated, owner's claim) and "
                 "'Evidence source' where from. 'Tied to go-live' = yes moves a benefit's profile with the Actual "
                 "go-live period on the Case sheet."),
    ("Submitting the file", "Save as .xlsx (not .xlsm, no password). Keep the sheet names, the header rows and the "
                            "column order; add rows, not columns. Check it with: vmo validate <file>.xlsx"),
)
#: Benefit types with their definitions (after MSP / Managing Benefits) and the view they count in.
BENEFIT_TYPE_GUIDE: Mapping[str, tuple[str, str]] = {
    "cash-releasing": ("A budget line really falls or revenue really rises; the money can be taken out or "
                       "re-allocated.", "cash and economic"),
    "non-cash-releasing": ("An efficiency whose value is real but not banked, e.g. staff time saved and redeployed "
                           "to other work.", "economic"),
    "cost avoidance": ("A future cost that would have been incurred without the investment and now will not "
                       "(a fine, an outage, a price rise); no budget falls.", "economic"),
    "quantifiable non-financial": ("A measurable KPI improvement with a unit (%, count, hours, score); monetise it "
                                   "with a value per unit, or leave its periods blank.", "economic if monetised"),
    "dis-benefit": ("An outcome seen as negative by some stakeholders and accepted as a consequence of the change; "
                    "enter its values as negative amounts.", "cash and economic"),
}
_GUIDE_WIDTHS = (26, 100, 20)


# --- public API --------------------------------------------------------------------------------------
def template_periods(first_period: object = None, period_length: str | None = None,
                     horizon: int | None = None) -> list[str]:
    """The period labels of a template's Costs and Benefits columns: ``horizon`` periods from ``first_period``.

    Each argument left out takes the schema's example (2026Q1, quarter, 20); a year-long case left
    without a first period starts in the example's year.

    Parameters
    ----------
    first_period : str or int, optional
        Period 0: a quarter such as ``"2026Q1"`` or a year such as ``"2026"``.
    period_length : {"quarter", "year"}, optional
    horizon : int, optional
        Number of periods, period 0 included (the Case field's range, 2 to 400).

    Returns
    -------
    list of str

    Raises
    ------
    ValueError
        A first period that is not a period of that length, or a horizon outside the allowed range;
        the message says what was expected.

    Examples
    --------
    >>> p = template_periods()
    >>> p[0], p[-1], len(p)
    ('2026Q1', '2030Q4', 20)
    >>> template_periods("2025", "year", 3)
    ['2025', '2026', '2027']
    >>> template_periods("2025/26", "year", 3)   # UK financial years, written in the canonical form
    ['FY2025-26', 'FY2026-27', 'FY2027-28']
    """
    ex = {f.key: f.example for f in schema.CASE_FIELDS}
    length = str(ex["period_length"]) if period_length is None else str(period_length)
    if length not in schema.PERIOD_LENGTHS:
        raise ValueError(f"period length {length!r} is not one of: {', '.join(schema.PERIOD_LENGTHS)}")
    if first_period is None:
        first_period = ex["first_period"] if length == "quarter" else str(ex["first_period"])[:4]
    try:
        parse_period(first_period, length)
    except ValueError as exc:
        hint = ("a quarter such as 2026Q1" if length == "quarter"
                else "a year such as 2026 or a UK financial year such as FY2025-26")
        why = f": {exc}" if str(exc).startswith("a financial") else ""
        raise ValueError(f"first period {first_period!r} is not {hint} (the period length is {length}){why}") from None
    field = next(f for f in schema.CASE_FIELDS if f.key == "horizon")
    n = int(ex["horizon"]) if horizon is None else horizon
    if not float(field.minimum or 0) <= n <= float(field.maximum or n):
        raise ValueError(f"horizon {n} is outside {field.minimum:g} to {field.maximum:g} periods")
    return period_range(first_period, int(n), length)


def build_workbook(periods: Sequence[str] | None = None, rows: Mapping[str, int] | None = None) -> Workbook:
    """Build the template layout in memory: sheets, styles, drop-downs and validations, no case data.

    Parameters
    ----------
    periods : sequence of str, optional
        Period labels of the Costs and Benefits columns (default :func:`template_periods`).
    rows : mapping, optional
        Input rows to prepare per table sheet (default :data:`INPUT_ROWS`).

    Returns
    -------
    openpyxl.Workbook

    Examples
    --------
    >>> wb = build_workbook(["2026", "2027"], {"Costs": 3})
    >>> wb.sheetnames == list(schema.SHEETS)
    True
    >>> wb["Costs"].cell(schema.HEADER_ROW, len(schema.COST_COLUMNS) + 2).value
    '2027'
    """
    periods = list(template_periods() if periods is None else periods)
    n_rows = {**INPUT_ROWS, **dict(rows or {})}
    wb = Workbook()
    wb.remove(wb.active)
    for name in schema.SHEETS:
        wb.create_sheet(name)
    lists = _write_lists(wb["Lists"])
    _write_guide(wb["Guide"])
    _write_case_sheet(wb["Case"], lists)
    for name, columns in schema.TABLE_COLUMNS.items():
        _write_table_sheet(wb[name], name, columns, periods if name in schema.WIDE_SHEETS else (),
                           n_rows[name], lists, _period_source(name, len(periods)))
    wb.active = schema.SHEETS.index("Case")
    wb.properties.creator = "VMO Workbench"
    wb.properties.title = f"Business case template {schema.TEMPLATE_VERSION}"
    wb.properties.created = FIXED_TIMESTAMP
    wb.properties.modified = FIXED_TIMESTAMP
    return wb


def write_template(path: str | os.PathLike[str], periods: Sequence[str] | None = None) -> Path:
    """Write the blank business-case template (``templates/business_case.xlsx``) atomically.

    Parameters
    ----------
    path : str or path-like
        Target ``.xlsx`` file; its folder must exist. An existing file is replaced.
    periods : sequence of str, optional
        The period labels of the Costs and Benefits columns (:func:`template_periods`). Given, the
        Case sheet is pre-filled with its First period, Period length and Horizon; left out, the
        columns are the schema's example (2026Q1 for 20 quarters) and those fields are blank.

    Returns
    -------
    pathlib.Path
        The file written.

    Examples
    --------
    >>> import tempfile, openpyxl
    >>> with tempfile.TemporaryDirectory() as d:
    ...     p = write_template(Path(d) / "t.xlsx")
    ...     openpyxl.load_workbook(p)["Case"]["B2"].value == schema.TEMPLATE_VERSION
    True
    """
    wb = build_workbook(periods)
    if periods:
        _prefill_periods(wb["Case"], list(periods))
    return save_workbook(wb, path)


def _prefill_periods(ws: Worksheet, periods: list[str]) -> None:
    """Pre-fill First period, Period length and Horizon on a template made for given periods."""
    length = "quarter" if "Q" in periods[0] else "year"
    values = {"first_period": periods[0], "period_length": length, "horizon": len(periods)}
    for i, fld in enumerate(schema.CASE_FIELDS):
        if fld.key in values:
            _put(ws.cell(schema.CASE_FIRST_ROW + i, 2), fld.kind, values[fld.key])


def write_case_workbook(case: BusinessCase, path: str | os.PathLike[str]) -> Path:
    """Write a filled-in business-case workbook (the template layout) from a case, atomically.

    The Case sheet takes ``case.meta``; Costs and Benefits take ``case.lines`` with one column per
    period of ``case.periods`` holding the ``"baseline"`` amounts (blank where the case has no
    flow); Actuals and Forecast take the ``"actual"`` and ``"forecast"`` flows; Baselines takes every
    ``"rebaseline:<version>"`` flow with the version's row of ``case.baselines``, plus a 0 in period 0
    for each line without a flow in that re-baseline (the model reads it as zero; the sheet must
    restate every line, :mod:`vmo_lib.intake.validation`). Dates are written as
    Excel dates, numbers as numbers, text as text (never as a formula).

    Parameters
    ----------
    case : BusinessCase
    path : str or path-like
        Target ``.xlsx`` file; its folder must exist. An existing file is replaced.

    Returns
    -------
    pathlib.Path
        The file written.

    Raises
    ------
    ValueError
        A number that Excel cannot store (inf) or a flow outside the case's periods; the message
        names the sheet, line and period.

    Examples
    --------
    >>> import tempfile, openpyxl
    >>> from vmo_lib.model import make_case
    >>> case = make_case({"case_id": "X1", "horizon": 4},
    ...                  costs=[{"line_id": "C1", "name": "Build", "amounts": [100, 50]}])
    >>> with tempfile.TemporaryDirectory() as d:
    ...     ws = openpyxl.load_workbook(write_case_workbook(case, Path(d) / "x1.xlsx"))["Costs"]
    ...     [ws.cell(schema.TABLE_FIRST_ROW, len(schema.COST_COLUMNS) + i).value for i in (1, 2, 3)]
    [100, 50, None]
    """
    periods = case.periods
    tables = _case_tables(case)
    # The other options' lines (case.options) follow the case's own lines, tagged in an *Option* column.
    tagged: dict[str, int] = {}
    for option, option_case in case.options.items():
        for sheet, records in _case_tables(option_case).items():
            if sheet in ("Costs", "Benefits"):
                for rec in records:
                    tables[sheet].append({**rec, "option": option})
                    tagged[sheet] = tagged.get(sheet, 0) + 1
    rows = {name: len(tables[name]) + SPARE_ROWS[name] for name in schema.TABLE_COLUMNS}
    wb = build_workbook(periods, rows)
    _fill_case_sheet(wb["Case"], case.meta)
    for name, columns in schema.TABLE_COLUMNS.items():
        ws = wb[name]
        for i, record in enumerate(tables[name]):
            r = schema.TABLE_FIRST_ROW + i
            for j, col in enumerate(columns, start=1):
                try:
                    _put(ws.cell(r, j), col.kind, record.get(col.key))
                except ValueError as exc:
                    raise ValueError(f"{name} row {r}, {col.label}: {exc}") from None
            for j, amount in enumerate(record.get("_periods", ()), start=len(columns) + 1):
                try:
                    _put(ws.cell(r, j), "amount", amount)
                except ValueError as exc:
                    where = f"{name} line {record['line_id']}, {periods[j - len(columns) - 1]}"
                    raise ValueError(f"{where}: {exc}") from None
        n_cols = len(columns) + (len(periods) if name in schema.WIDE_SHEETS else 0)
        if tagged.get(name):
            _write_option_column(ws, n_cols + 1, tables[name])
            n_cols += 1
        ws.print_area = _table_print_area(n_cols, max(len(tables[name]), 1))
    return save_workbook(wb, path)


def _write_option_column(ws: Worksheet, j: int, records: list[dict[str, Any]]) -> None:
    """Head column ``j`` of a Costs/Benefits sheet *Option* and tag the other options' lines in it
    (:data:`vmo_lib.schema.OPTION_COLUMN`; the case's own lines are left blank, i.e. preferred)."""
    col = schema.OPTION_COLUMN
    head = ws.cell(schema.HEADER_ROW, j)
    set_text_cell(head, col.label)
    other = ws.cell(schema.HEADER_ROW, j - 1)
    head.font, head.fill, head.alignment, head.border = (copy.copy(other.font), copy.copy(other.fill),
                                                         copy.copy(other.alignment), copy.copy(other.border))
    ws.column_dimensions[get_column_letter(j)].width = col.width
    for i, record in enumerate(records):
        if record.get("option"):
            set_text_cell(ws.cell(schema.TABLE_FIRST_ROW + i, j), record["option"])


def save_workbook(wb: Workbook, path: str | os.PathLike[str]) -> Path:
    """Save an openpyxl workbook atomically and reproducibly.

    Written to a temporary file in the target folder and moved into place with :func:`os.replace`,
    so a reader never sees a half-written file. The document dates and every zip entry's timestamp
    are fixed (:data:`FIXED_TIMESTAMP`), so the same workbook gives the same bytes.

    Parameters
    ----------
    wb : openpyxl.Workbook
    path : str or path-like

    Returns
    -------
    pathlib.Path

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as d:
    ...     a = save_workbook(build_workbook(rows={"Actuals": 5}), Path(d) / "a.xlsx").read_bytes()
    ...     b = save_workbook(build_workbook(rows={"Actuals": 5}), Path(d) / "b.xlsx").read_bytes()
    >>> a == b
    True
    """
    path = Path(path)
    wb.properties.created = FIXED_TIMESTAMP
    wb.properties.modified = FIXED_TIMESTAMP
    raw = io.BytesIO()
    # ExcelWriter directly: openpyxl's save_workbook would stamp "modified" with the clock.
    with zipfile.ZipFile(raw, "w", zipfile.ZIP_DEFLATED, allowZip64=True) as archive:
        ExcelWriter(wb, archive).write_data()
    fixed = io.BytesIO()
    with zipfile.ZipFile(raw) as src, zipfile.ZipFile(fixed, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            entry = zipfile.ZipInfo(info.filename, date_time=FIXED_TIMESTAMP.timetuple()[:6])
            entry.compress_type = zipfile.ZIP_DEFLATED
            entry.external_attr = 0o600 << 16
            dst.writestr(entry, src.read(info.filename))
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(fixed.getvalue())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


# --- sheets ------------------------------------------------------------------------------------------
def _choice_columns() -> list[schema.Column]:
    cols = list(schema.CASE_FIELDS)
    for columns in schema.TABLE_COLUMNS.values():
        cols.extend(columns)
    return [c for c in cols if c.kind == "choice"]


def _sheet_ref(name: str) -> str:
    """A sheet name as a formula prefix; quoted only when Excel needs it (openpyxl always quotes)."""
    return name if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name) else quote_sheetname(name)


def _write_lists(ws: Worksheet) -> dict[tuple[str, ...], str]:
    """One column per distinct enumeration; returns choices → absolute range formula."""
    ranges: dict[tuple[str, ...], str] = {}
    for col in _choice_columns():
        if col.choices in ranges:
            continue
        j = len(ranges) + 1
        letter = get_column_letter(j)
        set_text_cell(ws.cell(1, j), col.label)
        ws.cell(1, j).font = _font(bold=True)
        for i, value in enumerate(col.choices, start=2):
            set_text_cell(ws.cell(i, j), value)
        ws.column_dimensions[letter].width = max(14, max(len(v) for v in col.choices) + 2)
        ranges[col.choices] = f"{_sheet_ref(ws.title)}!${letter}$2:${letter}${len(col.choices) + 1}"
    ws.sheet_state = "hidden"
    return ranges


def _write_guide(ws: Worksheet) -> None:
    for j, width in enumerate(_GUIDE_WIDTHS, start=1):
        ws.column_dimensions[get_column_letter(j)].width = width
    ws["A1"] = "Business case workbook: guide"
    ws["A1"].font = _TITLE_FONT
    ws["A2"] = f"Template version {schema.TEMPLATE_VERSION}. Fill in the yellow cells of the other sheets."
    ws["A2"].font = _NOTE_FONT
    r = 4

    def heading(text: str, *labels: str) -> None:
        nonlocal r
        r += 1
        ws.cell(r, 1, text).font = _font(bold=True, size=12, color="1F4E78")
        r += 1
        for j, label in enumerate(labels, start=1):
            c = ws.cell(r, j, label)
            c.font, c.fill, c.alignment = _HEADER_FONT, _HEADER_FILL, _WRAP_TOP
        r += 1

    def line(*values: str) -> None:
        nonlocal r
        for j, value in enumerate(values, start=1):
            c = ws.cell(r, j, value)
            c.alignment, c.border = _WRAP_TOP, _BORDER
            if j == 1:
                c.font = _font(bold=True)
        _fit_row_height(ws, r, zip(values, _GUIDE_WIDTHS, strict=False))
        r += 1

    r -= 1
    heading("What goes where", "Sheet", "What to enter")
    for sheet, text in _GUIDE_SHEETS:
        line(sheet, text)
    heading("Conventions", "Topic", "Convention")
    for topic, text in _GUIDE_CONVENTIONS:
        line(topic, text)
    heading("Benefit types", "Type", "Definition (after MSP / Managing Benefits)", "Counts in")
    for btype in schema.BENEFIT_TYPES:
        definition, view = BENEFIT_TYPE_GUIDE[btype]
        line(btype, definition, view)
    _page_setup(ws, f"A1:{get_column_letter(len(_GUIDE_WIDTHS))}{r}", portrait=True)


def _write_case_sheet(ws: Worksheet, lists: Mapping[tuple[str, ...], str]) -> None:
    for j, width in enumerate(_CASE_WIDTHS, start=1):
        ws.column_dimensions[get_column_letter(j)].width = width
    ws["A1"] = _TITLES["Case"]
    ws["A1"].font = _TITLE_FONT
    ws["C1"] = _INSTRUCTIONS["Case"]
    ws["C1"].font = _NOTE_FONT
    version = ws[schema.VERSION_CELL]
    ws.cell(version.row, version.column - 1, _VERSION_LABEL).font = _font(bold=True)
    set_text_cell(version, schema.TEMPLATE_VERSION)
    version.font = _font(bold=True, color="595959")
    version.border = _BORDER
    ws.cell(version.row, version.column + 1, _VERSION_NOTE).font = _NOTE_FONT
    for j, text in enumerate(_CASE_HEADER, start=1):
        c = ws.cell(schema.CASE_FIRST_ROW - 1, j, text)
        c.font, c.fill, c.alignment = _HEADER_FONT, _HEADER_FILL, Alignment(vertical="center")
    for i, field in enumerate(schema.CASE_FIELDS):
        r = schema.CASE_FIRST_ROW + i
        label = ws.cell(r, 1, field.label)
        label.font = _font(bold=field.required)
        label.border, label.alignment = _BORDER, Alignment(vertical="center")
        value = ws.cell(r, 2)
        _style_input(value, field.kind)
        value.alignment = Alignment(vertical="center", horizontal="left")
        guide = ws.cell(r, 3, _case_guidance(field))
        guide.alignment = Alignment(wrap_text=True, vertical="center")
        guide.font = _font(color="404040")
        _fit_row_height(ws, r, [(guide.value, _CASE_WIDTHS[2])])
        ws.add_data_validation(_validation(field, value.coordinate, lists))
    ws.freeze_panes = ws.cell(schema.CASE_FIRST_ROW, 1)
    last = schema.CASE_FIRST_ROW + len(schema.CASE_FIELDS) - 1
    _page_setup(ws, f"A1:C{last}", title_rows=f"1:{schema.CASE_FIRST_ROW - 1}")


def _write_table_sheet(ws: Worksheet, name: str, columns: Sequence[schema.Column], periods: Sequence[str],
                       n_rows: int, lists: Mapping[tuple[str, ...], str], period_source: str | None) -> None:
    hr, first, last = schema.HEADER_ROW, schema.TABLE_FIRST_ROW, schema.TABLE_FIRST_ROW + n_rows - 1
    ws["A1"] = _TITLES[name]
    ws["A1"].font = _TITLE_FONT
    ws["A2"] = _INSTRUCTIONS[name].format(header=hr)
    ws["A2"].font = _NOTE_FONT
    ws.row_dimensions[hr].height = 32
    for j, col in enumerate(columns, start=1):
        letter = get_column_letter(j)
        ws.column_dimensions[letter].width = col.width
        if col.required:
            ws.cell(hr - 1, j, "required").font = _REQUIRED_FONT
            ws.cell(hr - 1, j).alignment = Alignment(horizontal="center")
        head = ws.cell(hr, j, col.label)
        head.font, head.alignment, head.border = _HEADER_FONT, _HEADER_ALIGN, _BORDER
        head.fill = _HEADER_FILL if col.required else _OPTIONAL_HEADER_FILL
        _style_input_column(ws, j, first, last, col.kind)
        ws.add_data_validation(_validation(col, f"{letter}{first}:{letter}{last}", lists, period_source))
    if periods:
        value_col = schema.PERIOD_VALUE_COLUMNS[name]
        p0, pn = len(columns) + 1, len(columns) + len(periods)
        ws.cell(hr - 1, p0, "periods: overwrite the labels below").font = _REQUIRED_FONT
        for j, label in enumerate(periods, start=p0):
            ws.column_dimensions[get_column_letter(j)].width = value_col.width
            head = ws.cell(hr, j)
            set_text_cell(head, label)
            head.font, head.alignment, head.border = _font(bold=True), _HEADER_ALIGN, _BORDER
            head.fill, head.number_format = _PERIOD_HEADER_FILL, "@"
            _style_input_column(ws, j, first, last, value_col.kind)
        block = f"{get_column_letter(p0)}{first}:{get_column_letter(pn)}{last}"
        ws.add_data_validation(_validation(value_col, block, lists))
        header_col = schema.Column("period", "Period label", "period", help="Label of the period, e.g. 2026Q1.")
        ws.add_data_validation(_validation(header_col, f"{get_column_letter(p0)}{hr}:{get_column_letter(pn)}{hr}", lists))
    ws.freeze_panes = ws.cell(first, 3 if name in schema.WIDE_SHEETS else 1)
    _page_setup(ws, _table_print_area(len(columns) + len(periods), min(n_rows, _PRINT_ROWS)),
                title_rows=f"1:{hr}", title_cols="A:B" if periods else None)


def _table_print_area(n_columns: int, n_rows: int) -> str:
    return f"A1:{get_column_letter(n_columns)}{schema.TABLE_FIRST_ROW + n_rows - 1}"


def _period_source(sheet: str, n_periods: int) -> str | None:
    """Long sheets pick their period from the Costs period headers (a row range)."""
    if sheet in schema.WIDE_SHEETS or n_periods == 0:
        return None
    costs = schema.TABLE_COLUMNS["Costs"]
    n = n_periods
    return (f"{_sheet_ref('Costs')}!${get_column_letter(len(costs) + 1)}${schema.HEADER_ROW}:"
            f"${get_column_letter(len(costs) + n)}${schema.HEADER_ROW}")


def _page_setup(ws: Worksheet, area: str, title_rows: str | None = None, title_cols: str | None = None,
                portrait: bool = False) -> None:
    ws.page_setup.orientation = "portrait" if portrait else "landscape"
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    # Costs/Benefits are too wide for one page at a readable size: spread them over a few pages
    # wide, repeating the id and name columns on each.
    total_width = sum(d.width or 0 for d in ws.column_dimensions.values())
    ws.page_setup.fitToWidth = max(1, math.ceil(total_width / _PRINT_PAGE_WIDTH)) if title_cols else 1
    ws.page_setup.fitToHeight = 0
    ws.page_setup.pageOrder = "overThenDown"
    ws.sheet_properties.pageSetUpPr = PageSetupProperties(fitToPage=True)
    ws.print_options.gridLines = False
    ws.print_area = area
    if title_rows:
        ws.print_title_rows = title_rows
    if title_cols:
        ws.print_title_cols = title_cols


def _fit_row_height(ws: Worksheet, row: int, texts: Iterable[tuple[str, float]]) -> None:
    """Give a row of wrapped text room for all its lines.

    Excel does not grow rows for wrapped text written by a program until a cell is edited, so
    a long guidance text would be cut off; about 1.1 characters fit per unit of column width.
    """
    lines = max(math.ceil(len(text) / (width * 1.1)) for text, width in texts)
    if lines > 1:
        ws.row_dimensions[row].height = 15 * lines


def _style_input(cell: Cell, kind: str) -> None:
    cell.fill, cell.border = _INPUT_FILL, _BORDER
    cell.number_format = _NUMBER_FORMATS[kind]


def _style_input_column(ws: Worksheet, column: int, first: int, last: int, kind: str) -> None:
    # Styling thousands of cells one attribute at a time is slow; copying the style array of the
    # first cell is ~10x faster and gives identical styles.
    top = ws.cell(first, column)
    _style_input(top, kind)
    for r in range(first + 1, last + 1):
        ws.cell(r, column)._style = copy.copy(top._style)


def _case_guidance(field: schema.Column) -> str:
    parts = ["Required." if field.required else "Optional."]
    if field.help:
        parts.append(field.help)
    if field.choices:
        parts.append("Pick from the list.")
    if field.example is not None:
        parts.append(f"e.g. {_show(field, field.example)}")
    return " ".join(parts)


def _show(col: schema.Column, value: object) -> str:
    if col.kind == "rate" and isinstance(value, (int, float)):
        return f"{value:.1%}"
    return str(value)


def _validation(col: schema.Column, sqref: str, lists: Mapping[tuple[str, ...], str],
                period_source: str | None = None) -> DataValidation:
    """The Excel data validation of one field/column: the rule, the input message and the error."""
    prompt = " ".join(p for p in ("Required." if col.required else "", col.help) if p)
    kw: dict[str, Any] = {}
    if col.kind == "choice":
        kw = {"type": "list", "formula1": lists[col.choices]}
        error = "Pick one of: " + ", ".join(col.choices) + "."
        prompt = prompt or "Pick from the list."
    elif col.kind in ("amount", "number", "rate"):
        lo = -_ANY_NUMBER if col.minimum is None else col.minimum
        hi = _ANY_NUMBER if col.maximum is None else col.maximum
        kw = {"type": "decimal", "operator": "between", "formula1": _num(lo), "formula2": _num(hi)}
        if col.kind == "rate":
            error = f"Enter a rate between {lo:.0%} and {hi:.0%} (type 8% or 0.08)."
        elif col.minimum is not None and col.maximum is None:
            error = f"Enter a number of at least {_num(lo)}."
        else:
            error = "Enter a number." if col.minimum is None else f"Enter a number between {_num(lo)} and {_num(hi)}."
    elif col.kind == "int":
        lo = -_ANY_NUMBER if col.minimum is None else col.minimum
        hi = _ANY_NUMBER if col.maximum is None else col.maximum
        kw = {"type": "whole", "operator": "between", "formula1": _num(lo), "formula2": _num(hi)}
        error = f"Enter a whole number between {_num(lo)} and {_num(hi)}."
    elif col.kind == "date":
        lo_d, hi_d = _DATE_RANGE
        kw = {"type": "date", "operator": "between", "formula1": _num(to_excel(lo_d)), "formula2": _num(to_excel(hi_d))}
        error = f"Enter a date (yyyy-mm-dd) between {lo_d} and {hi_d}."
    elif col.kind == "period" and period_source:
        kw = {"type": "list", "formula1": period_source, "errorStyle": "warning"}
        error = "Not one of the periods on the Costs sheet. Use a label such as 2026Q1 (or 2026 for yearly cases)."
        prompt = prompt or "A period label from the Costs sheet, e.g. 2026Q3."
    elif col.kind == "period":
        lo, hi = _PERIOD_LENGTH
        kw = {"type": "textLength", "operator": "between", "formula1": str(lo), "formula2": str(hi)}
        error = "Enter a period label such as 2026Q1 (quarters), 2026 (years) or FY2025-26 (UK financial years)."
    elif col.kind == "id":
        kw = {"type": "textLength", "operator": "between", "formula1": "1", "formula2": str(_ID_MAX_LENGTH)}
        error = f"An id has 1 to {_ID_MAX_LENGTH} characters: letters, digits, '-', '_' or '.'."
    else:  # free text: no rule, but the input message still guides the author
        error = ""
    dv = DataValidation(allow_blank=True, showInputMessage=True, showErrorMessage=bool(error),
                        promptTitle=col.label[:32], prompt=(prompt or col.label)[:255],
                        errorTitle=(f"{col.label}: not allowed")[:32] if error else None,
                        error=error[:255] or None, sqref=sqref, **kw)
    return dv


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else repr(float(x))


# --- filling a case -------------------------------------------------------------------------------
def _case_tables(case: BusinessCase) -> dict[str, list[dict[str, Any]]]:
    """The records of every table sheet of a case (plain dicts keyed by schema column keys)."""
    periods = case.periods
    flows = case.flows
    out: dict[str, list[dict[str, Any]]] = {}
    base = flows[flows["scenario"] == "baseline"]
    for sheet, kind in (("Costs", "cost"), ("Benefits", "benefit")):
        lines = case.lines[case.lines["kind"] == kind]
        f = base[base["kind"] == kind]
        bad = f[(f["t"] < 0) | (f["t"] >= len(periods))]
        if len(bad):
            b = bad.iloc[0]
            raise ValueError(f"{sheet} line {b['line_id']}: baseline flow in period {b['period']} is outside the "
                             f"case's {len(periods)} periods from {periods[0]}")
        by_line: dict[Any, list[Any]] = {}
        for (line_id, t), amount in f.groupby(["line_id", "t"], sort=False)["amount"].sum(min_count=1).items():
            by_line.setdefault(line_id, [None] * len(periods))[int(t)] = amount
        records = []
        for rec in lines.to_dict("records"):
            rec["_periods"] = by_line.get(rec["line_id"], ())
            records.append(rec)
        out[sheet] = records
    out["Actuals"] = flows[flows["scenario"] == "actual"].to_dict("records")
    out["Forecast"] = flows[flows["scenario"] == "forecast"].to_dict("records")
    out["KPI plan"] = flows[flows["scenario"] == "kpi plan"].to_dict("records")
    # Re-baselines in case.baselines order; a re-baseline scenario without its row there is still
    # written (version only) rather than dropped.
    info = {} if case.baselines is None else {str(b["version"]): b for b in case.baselines.to_dict("records")}
    prefix = "rebaseline:"
    versions = list(info) + sorted({str(sc)[len(prefix):] for sc in flows["scenario"].unique()
                                    if str(sc).startswith(prefix)} - set(info))
    rebase: list[dict[str, Any]] = []
    for version in versions:
        b = info.get(version, {})
        recs = flows[flows["scenario"] == prefix + version].to_dict("records")
        for rec in recs:
            rebase.append({**rec, "version": version, "approved": b.get("approved"), "reason": b.get("reason")})
        # In the model a line without a flow in a re-baseline is zero under it; the workbook says so
        # explicitly (one 0 in period 0), as the Baselines sheet requires every line to be restated.
        listed = {r["line_id"] for r in recs}
        for lid in case.lines["line_id"]:
            if lid not in listed:
                rebase.append({"version": version, "approved": b.get("approved"), "reason": b.get("reason"),
                               "period": periods[0], "line_id": lid, "amount": 0.0})
    out["Baselines"] = rebase
    out[schema.BENEFIT_MAP_SHEET] = map_records(getattr(case, "benefit_map", None))
    return out


def _fill_case_sheet(ws: Worksheet, meta: Mapping[str, Any]) -> None:
    for i, field in enumerate(schema.CASE_FIELDS):
        r = schema.CASE_FIRST_ROW + i
        try:
            _put(ws.cell(r, 2), field.kind, meta.get(field.key))
        except ValueError as exc:
            raise ValueError(f"Case!B{r} ({field.label}): {exc}") from None


def _is_blank(value: Any) -> bool:
    if isinstance(value, str):
        return value == ""
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):  # a list or other container: not a blank scalar
        return False


def _put(cell: Cell, kind: str, value: Any) -> None:
    """Write one value as the type its schema kind calls for (numbers as numbers, dates as dates)."""
    if _is_blank(value):
        cell.value = None
        return
    if kind in ("amount", "number", "rate", "int"):
        if isinstance(value, str):
            set_text_cell(cell, value)  # keep what the case holds; the validator will name it
            return
        number = float(value)
        if not math.isfinite(number):
            raise ValueError(f"cannot write {number} (expected a finite number)")
        cell.value = int(number) if (kind == "int" or number.is_integer()) and abs(number) < 2**53 else number
    elif kind == "date":
        try:
            cell.value = as_date(value)
        except ValueError:
            set_text_cell(cell, str(value))
            return
        cell.number_format = _NUMBER_FORMATS["date"]
    elif kind == "period":
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        set_text_cell(cell, str(value))
    else:
        set_text_cell(cell, str(value))


def set_text_cell(cell: Cell, text: str) -> None:
    """Store ``text`` as a string cell; text that looks like a formula gets Excel's quote prefix."""
    text = ILLEGAL_CHARACTERS_RE.sub("", text)
    cell.value = text
    cell.data_type = "s"  # openpyxl would otherwise store "=..." as a live formula
    if text.startswith(_FORMULA_PREFIXES):
        cell.quotePrefix = True
