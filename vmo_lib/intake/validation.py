"""Validation of a submitted workbook: every rule, every problem at once, each naming its cell.

:func:`check_workbook` takes what :mod:`vmo_lib.intake.workbook` read (a :class:`~vmo_lib.intake.workbook.RawWorkbook`)
and returns a :class:`CheckedWorkbook`: the issues table plus the typed values (dates as
``datetime.date``, amounts as floats, periods as canonical labels) from which
:func:`vmo_lib.load_case` assembles the :class:`~vmo_lib.model.BusinessCase`. Typing and checking
happen in one pass so that a value is interpreted in exactly one place.

The issues table has the columns :data:`ISSUE_COLUMNS` = ``file, sheet, cell, field, rule, message,
severity``. ``cell`` is an A1 reference on ``sheet`` (``F12``), a whole header row (``4:4``) when a
column is missing, column ``A:A`` when a Case field is missing, or empty when a whole sheet is.
``rule`` is a stable id from :data:`RULES`; ``severity`` is ``error`` (stops the import) or
``warning`` (travels with the case into its review pack).

The checks are hand-written, vectorised over columns with numpy/pandas: the tables are small
(hundreds of lines, thousands of actuals), every rule needs the cell reference of the offending value,
and several rules cross sheets (line ids in Actuals must exist in Costs or Benefits), which a
per-column schema library does not express more simply.

Examples
--------
>>> from vmo_lib.intake.workbook import parse_sheets
>>> raw = parse_sheets({"Case": [[], ["Template version", "1.0"], [], ["Case id", "bad id!"]]})
>>> issues = check_workbook(raw, as_of="2026Q3").issues
>>> issues.loc[issues["rule"] == "case.invalid_id", ["sheet", "cell", "severity"]].values.tolist()
[['Case', 'B4', 'error']]
"""

from __future__ import annotations

import datetime as _dt
import functools
import math
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from vmo_lib import schema
from vmo_lib.intake.benefit_map import MAP_RULES, check_benefit_map
from vmo_lib.intake.workbook import BLANK, NUMBER, OTHER, TEXT, RawTable, RawWorkbook, cell_grid, col_letter
from vmo_lib.periods import (
    canonical_period,
    is_financial_year,
    parse_period,
    period_end_date,
    period_of_date,
    period_start_date,
    periods_per_year,
    review_period,
    review_quarter,
    shift_period,
)

__all__ = [
    "AMOUNT_HARD_LIMIT",
    "AMOUNT_RELATIVE_LIMIT",
    "ISSUE_COLUMNS",
    "RULES",
    "CheckedWorkbook",
    "amount_issues",
    "check_workbook",
    "duplicate_rows",
    "empty_issues",
    "rebaseline_carry_over",
    "rebaseline_order",
    "resolve_as_of",
    "typical_amount",
]

ISSUE_COLUMNS: tuple[str, ...] = ("file", "sheet", "cell", "field", "rule", "message", "severity")

#: Every rule: stable id → (default severity, what it catches).
RULES: dict[str, tuple[str, str]] = {
    "workbook.missing_sheet": ("error", "a required sheet (Case, Costs, Benefits) is missing"),
    "workbook.formula_not_calculated": ("error", "a formula used by the import has no cached value (never calculated)"),
    "workbook.error_value": ("error", "a cell used by the import holds an Excel error such as #DIV/0!"),
    "workbook.file_warning": ("warning", "the file check found something to know (macros, external links)"),
    "template.missing_version": ("error", "no template version in Case!B2"),
    "template.unknown_version": ("error", "a template version this workbench does not read"),
    "template.older_version": ("warning", "a workbook made by an older template, read (migrated) as the current one"),
    "case.missing_field": ("error", "a required Case field is absent or blank"),
    "case.unknown_field": ("warning", "a Case label that is not a known field"),
    "case.duplicate_field": ("error", "the same Case field appears twice"),
    "case.invalid_id": ("error", "a case id that is not safe as a file or folder name"),
    "case.go_live_outside_horizon": ("error", "go-live period before period 0 or after the horizon"),
    "case.missing_approval_date": ("error", "an approved, in-delivery, live or closed case without approval date"),
    "case.no_costs": ("error", "a case with no cost line"),
    "case.no_benefits": ("warning", "a case with no benefit line (allowed for Regulatory/mandatory)"),
    "column.missing": ("error", "a required column is absent from the header row"),
    "column.unknown": ("warning", "a header that is neither a known column nor a period (ignored)"),
    "column.duplicate": ("error", "the same column header appears twice"),
    "column.no_header": ("error", "a column holds data but has no header (its values would be lost)"),
    "value.not_a_number": ("error", "text (or a date, or TRUE/FALSE) where a number belongs"),
    "value.number_as_text": ("warning", "a number stored as text (read as the number; Excel sums ignore it)"),
    "value.not_finite": ("error", "NaN or infinity where a number belongs"),
    "value.not_integer": ("error", "a fraction where a whole number belongs"),
    "value.out_of_range": ("error", "a number outside the allowed range"),
    "value.not_a_date": ("error", "something other than a date where a date belongs"),
    "value.not_a_period": ("error", "something other than a period label where one belongs"),
    "choice.not_allowed": ("error", "a value not in the drop-down list"),
    "line.blank_id": ("error", "a line or row with data but no line id"),
    "line.invalid_id": ("error", "a line id with characters other than letters, digits, '-', '_', '.'"),
    "line.duplicate_id": ("error", "the same line id twice (across Costs and Benefits)"),
    "line.missing_value": ("error", "a required attribute of a line or row is blank"),
    "line.price_base_mismatch": ("error", "a line in another price base than the case (real and nominal mixed)"),
    "line.three_point_order": ("error", "low > likely or likely > high"),
    "line.likely_vs_periods": ("warning", "likely total far (>10%) from the sum of the period amounts"),
    "costs.negative_amount": ("error", "a negative cost (plan, actual, forecast, re-baseline or return)"),
    "benefits.negative_amount": ("error", "a negative amount for a benefit that is not a dis-benefit"),
    "benefits.positive_disbenefit": ("error", "a dis-benefit entered as a positive amount"),
    "value.implausible_amount": ("warning", "an amount more than 1,000x the case's median non-zero line-period "
                                            "amount (warning), or above 1e12 in absolute value (error)"),
    "text.invisible_characters": ("warning", "bidirectional-override or control characters removed from a text cell"),
    "benefits.missing_owner": ("error", "a benefit without an owner"),
    "benefits.missing_kpi": ("error", "a benefit without a KPI"),
    "benefits.missing_unit": ("error", "a benefit whose KPI has no unit"),
    "benefits.missing_baseline": ("error", "a benefit without baseline value or date (warning while proposed)"),
    "benefits.baseline_after_go_live": ("error", "a baseline measured after the go-live period"),
    "benefits.target_before_baseline": ("error", "a target date before the baseline date"),
    "benefits.no_amounts_no_target": ("warning", "a benefit with neither amounts nor a KPI target"),
    "period.unparseable_header": ("error", "a period header that is not a period of the case's length"),
    "period.not_consecutive": ("error", "period headers out of order, repeated or with a gap"),
    "period.wrong_start": ("error", "the first period header is not the case's first period"),
    "period.outside_horizon": ("error", "a period column with data beyond the horizon"),
    "period.short_of_horizon": ("error", "fewer period columns than the horizon (the columns end before it does)"),
    "actuals.future_period": ("error", "an actual for a period after today's quarter (it cannot have happened yet)"),
    "actuals.after_review": ("warning", "an actual for a period after the review date but not after today's "
                                        "quarter (an earlier quarter reviewed after later returns): left out"),
    "actuals.outside_horizon": ("error", "an actual for a period outside the appraisal horizon"),
    "actuals.unknown_line": ("error", "an actual for a line id not in Costs or Benefits"),
    "actuals.duplicate_conflict": ("error", "the same period and line reported twice with different values"),
    "actuals.duplicate_row": ("warning", "the same period and line reported twice with the same values"),
    "actuals.no_value": ("warning", "an actual row with neither amount nor KPI value"),
    "forecast.unknown_line": ("error", "a forecast for a line id not in Costs or Benefits"),
    "forecast.outside_horizon": ("error", "a forecast for a period outside the horizon"),
    "forecast.already_actual": ("warning", "a forecast for a period already reported as actual"),
    "forecast.duplicate": ("error", "the same period and line forecast twice"),
    "kpi_plan.unknown_line": ("error", "a planned KPI value for a line id not in Costs or Benefits"),
    "kpi_plan.not_a_benefit": ("error", "a planned KPI value for a cost line (only benefits have KPIs)"),
    "kpi_plan.outside_horizon": ("error", "a planned KPI value for a period outside the horizon"),
    "kpi_plan.duplicate": ("error", "the same period and benefit given two planned KPI values"),
    "case.status_contradicts_data": ("warning", "the case's status contradicts its data (approved with actuals, "
                                                "closed with forecasts after the review period, approved or in "
                                                "delivery past its horizon)"),
    "baselines.unknown_line": ("error", "a re-baseline amount for a line id not in Costs or Benefits"),
    "baselines.outside_horizon": ("error", "a re-baseline amount for a period outside the horizon"),
    "baselines.missing_approval_date": ("error", "a re-baseline without its approval date (it decides which baseline is in force)"),
    "baselines.inconsistent_version": ("error", "rows of one re-baseline disagree on its approval date or carry-over"),
    "baselines.line_omitted": ("error", "a re-baseline that does not list a line with a plan, without carry-over = yes"),
    "portfolio.duplicate_case_id": ("error", "a case id already used by an earlier workbook of the folder "
                                             "(compared case-insensitively)"),
}

RULES.update(MAP_RULES)  # the optional Benefit map sheet (vmo_lib.intake.benefit_map)

_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,39}$")
_RESERVED = {"con", "prn", "aux", "nul", *(f"com{i}" for i in range(10)), *(f"lpt{i}" for i in range(10))}
_VERSION = re.compile(r"(\d+)(?:\.(\d+))?")
_POST_APPROVAL = ("approved", "in delivery", "live", "closed")
_LIKELY_TOLERANCE = 0.10
#: An amount above this in absolute value (any currency) is an error: no single line-period of a
#: business case moves a trillion, and 1e300 or 1e307 would overflow every total downstream.
AMOUNT_HARD_LIMIT = 1e12
#: An amount more than this many times the case's median non-zero line-period amount is a warning
#: (a slipped decimal point, thousands entered as units, a pasted account number).
AMOUNT_RELATIVE_LIMIT = 1000.0
#: Why a Case field has the range it has (appended to ``value.out_of_range``).
_RANGE_WHY = {
    "horizon": ("at least 2 periods, so that every metric is defined (payback, IRR, trends and the risk "
                "and portfolio views need more than one period)"),
}
_SHEET_ORDER = {s: i for i, s in enumerate(schema.SHEETS)}


def empty_issues() -> pd.DataFrame:
    """An issues table with no rows (the columns of :data:`ISSUE_COLUMNS`)."""
    return pd.DataFrame({c: np.empty(0, dtype=object) for c in ISSUE_COLUMNS})


#: The one reading of ``--as-of`` (:func:`vmo_lib.periods.review_quarter`), kept under its old name.
resolve_as_of = review_quarter


def current_quarter() -> str:
    """Today's quarter: actuals after it cannot exist yet (tests replace this function)."""
    return review_quarter(None)


# --- the result ------------------------------------------------------------------------------------
@dataclass
class CheckedWorkbook:
    """Issues and the typed content of a workbook (only trustworthy when there is no error).

    Attributes
    ----------
    issues : pandas.DataFrame
        Columns :data:`ISSUE_COLUMNS`, sorted by sheet, row and column.
    meta : dict
        Case fields, typed (``horizon`` int, ``discount_rate`` float, dates ``datetime.date``,
        periods canonical labels, blanks ``None``), plus ``template_version``.
    lines : dict of str to dict of numpy.ndarray
        ``"Costs"`` and ``"Benefits"``: typed attribute columns (one array per field key) and
        ``row`` (the Excel row).
    amounts : dict of str to (list of int, numpy.ndarray)
        Per wide sheet: the ``t`` of each usable period column and the lines × periods amounts
        (NaN where blank).
    long : dict of str to dict of numpy.ndarray
        ``"Actuals"``, ``"Forecast"``, ``"Baselines"``: typed columns plus ``kind``, ``t`` and ``row``.
    as_of : str
        The review quarter used for the time rules.
    cells : dict
        Case field key → its value cell on the Case sheet (``"B4"``).
    """

    issues: pd.DataFrame
    meta: dict[str, Any] = field(default_factory=dict)
    lines: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    amounts: dict[str, tuple[list[int], np.ndarray]] = field(default_factory=dict)
    long: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    as_of: str = ""
    cells: dict[str, str] = field(default_factory=dict)

    @property
    def has_errors(self) -> bool:
        return bool((self.issues["severity"].to_numpy() == "error").any())


class _Issues:
    """Collects issues; bulk adds take arrays of cells."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.rows: list[tuple] = []

    def add(self, rule: str, sheet: str, cell: str, fld: str, message: str, severity: str | None = None) -> None:
        self.rows.append((self.file, sheet, cell, fld, rule, message, severity or RULES[rule][0]))

    def add_many(self, rule: str, sheet: str, cells: Iterable[str], fld: str | Iterable[str],
                 messages: str | Iterable[str], severity: str | None = None) -> None:
        cells = list(cells)
        flds = [fld] * len(cells) if isinstance(fld, str) else list(fld)
        msgs = [messages] * len(cells) if isinstance(messages, str) else list(messages)
        sev = severity or RULES[rule][0]
        self.rows.extend((self.file, sheet, c, f, rule, m, sev) for c, f, m in zip(cells, flds, msgs, strict=True))

    def frame(self) -> pd.DataFrame:
        if not self.rows:
            return empty_issues()
        # in sheet order, then by row and column of the cell; a stable sort (rows in the order added)
        rows = sorted(self.rows, key=_issue_order)
        # the frame pd.DataFrame(rows, dtype=object) makes, from one 2-D block (half the time)
        block = np.empty((len(rows), len(ISSUE_COLUMNS)), dtype=object)
        block[:] = rows
        return pd.DataFrame(block, columns=list(ISSUE_COLUMNS), dtype=object, copy=False)


_CELL_PARTS = re.compile(r"^([A-Z]*)(\d*)")


def _issue_order(row: tuple) -> tuple[float, float, float]:
    """Where an issue row sorts: its sheet's place in the workbook (99 when not a template sheet), then
    the row and column of its cell (0 when the cell is not a reference)."""
    sheet, cell = row[1], row[2]
    s = _SHEET_ORDER.get(sheet, 99) if isinstance(sheet, str) else 99
    if not isinstance(cell, str):
        return s, 0.0, 0.0
    m = _CELL_PARTS.match(cell)
    letters, digits = m.group(1), m.group(2)
    return s, float(digits) if digits else 0.0, len(letters) * 1000 + _letters_value(letters)


def _letters_value(s: str) -> int:
    v = 0
    for ch in s or "":
        v = v * 26 + ord(ch) - 64
    return v


# --- typing values (vectorised) ----------------------------------------------------------------------
_OK, _AS_TEXT, _NOT_NUMBER, _NOT_FINITE = 0, 1, 2, 3


def _numbers(values: np.ndarray, kinds: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Floats and a status code per cell (``_OK`` also for blanks, which become NaN).

    ``kinds`` are the reader's cell kinds (:func:`vmo_lib.intake.workbook.cell_grid`); only text cells
    are parsed one by one (numbers stored as text), everything else is a vectorised cast.
    """
    flat, k = values.ravel(), kinds.ravel()
    out = np.full(flat.shape, np.nan)
    code = np.zeros(flat.shape, dtype=np.int8)
    is_num = k == NUMBER
    if is_num.any():
        out[is_num] = flat[is_num].astype(float)
    if not ((k == TEXT) | (k == OTHER)).any():
        # numbers and blanks only (the usual column): a number is bad only when NaN or infinite,
        # which is what the general steps below come to
        bad = is_num & ~np.isfinite(out)
        if bad.any():
            code[bad] = _NOT_FINITE
            out[bad] = np.nan
        return out.reshape(values.shape), code.reshape(values.shape)
    for i in np.nonzero(k == TEXT)[0]:
        try:
            # plain float syntax only: "1,5" may mean 1.5 or 15, and Python alone accepts "1_000"
            out[i] = float(flat[i].replace("_", "x"))
            code[i] = _AS_TEXT
        except ValueError:
            code[i] = _NOT_NUMBER
    code[(k != BLANK) & (k != NUMBER) & (k != TEXT)] = _NOT_NUMBER  # dates, booleans, times
    code[(code != _NOT_NUMBER) & np.isinf(out)] = _NOT_FINITE
    code[is_num & np.isnan(out)] = _NOT_FINITE  # a NaN stored as a number is not a blank
    code[(code == _AS_TEXT) & np.isnan(out)] = _NOT_FINITE
    out[code >= _NOT_NUMBER] = np.nan
    return out.reshape(values.shape), code.reshape(values.shape)


def _report_numbers(iss: _Issues, sheet: str, fld: str, code: np.ndarray, refs, raw: np.ndarray, what: str) -> None:
    for c, rule, msg in (
        (_NOT_NUMBER, "value.not_a_number", "expected {what}, found {v!r}"),
        (_NOT_FINITE, "value.not_finite", "expected a finite {what}, found {v!r}"),
        (_AS_TEXT, "value.number_as_text", "number stored as text {v!r}: read as a number; store it as a number so Excel totals include it"),
    ):
        idx = np.nonzero(code.ravel() == c)[0]
        if len(idx):
            vals = raw.ravel()[idx]
            iss.add_many(rule, sheet, (refs(i) for i in idx), fld, [msg.format(what=what, v=v) for v in vals])


def _text(v: Any) -> str | None:
    if v is None:
        return None
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    if isinstance(v, (_dt.datetime, _dt.date)):
        return v.isoformat()[:10]
    return str(v).strip() or None


def _as_date(v: Any) -> _dt.date | None | bool:
    """A date, None for blank, False when not a date."""
    if v is None:
        return None
    if isinstance(v, _dt.datetime):
        return v.date()
    if isinstance(v, _dt.date):
        return v
    if isinstance(v, str):
        try:
            return _dt.date.fromisoformat(v.strip()[:10])
        except ValueError:
            return False
    return False


def _as_period(v: Any, length: str, first: Any = None) -> str | None | bool:
    """Canonical label, None for blank, False when not a period of this length (dates → their period)
    or, for years, not of the form of the case's first period ``first`` (calendar or financial year)."""
    return _period_or_reason(v, length, first)[0]


def _period_or_reason(v: Any, length: str, first: Any = None) -> tuple[str | None | bool, str]:
    """(:func:`_as_period`'s answer, why it is not a period: a message for the issue, "" when it is)."""
    if v.__class__ is str and first.__class__ in (str, type(None)):
        # text (the usual period cell or header): the same few labels in every workbook, so the
        # answers are kept; two equal texts have the same repr, hence the same message
        return _text_period_or_reason(v, length, first)
    return _period_or_reason_of(v, length, first)


@functools.lru_cache(maxsize=4096)
def _text_period_or_reason(v: str, length: str, first: str | None) -> tuple[str | None | bool, str]:
    return _period_or_reason_of(v, length, first)


def _period_or_reason_of(v: Any, length: str, first: Any = None) -> tuple[str | None | bool, str]:
    if v is None:
        return None, ""
    expected = f"expected {_period_hint(length, first)}, found {v!r}"
    if isinstance(v, (_dt.datetime, _dt.date)):
        d = v.date() if isinstance(v, _dt.datetime) else v
        return period_of_date(d, length, like=first), ""
    if isinstance(v, bool):
        return False, expected
    try:
        label = canonical_period(v, length)
    except ValueError as exc:
        text = str(exc)
        return False, (f"{text} (a financial year is written like FY2025-26)" if text.startswith("a financial")
                       else expected)
    if length == "year" and first is not None and is_financial_year(first) != is_financial_year(label):
        if is_financial_year(first):
            return False, (f"expected a financial year such as {first}: the case's First period is a UK "
                           f"financial year, so every period is one (1 April to 31 March), found {v!r}")
        return False, (f"expected a calendar year such as {first}: the case's First period is a calendar year "
                       f"(for UK financial years make the First period one, e.g. FY{first}-"
                       f"{(int(parse_period(first, 'year')[0]) + 1) % 100:02d}), found {v!r}")
    return label, ""


def _choice(v: Any, choices: Sequence[str]) -> str | None | bool:
    if v is None:
        return None
    text = " ".join(str(v).split()).lower()
    for c in choices:
        if c.lower() == text:
            return c
    return False


def _period_hint(length: str | None, first: Any = None) -> str:
    if length == "year" and is_financial_year(first):
        return f"a financial year such as {first}"
    return "a year such as 2026" if length == "year" else "a quarter such as 2026Q3"


# --- the Case sheet --------------------------------------------------------------------------------
def _check_case(raw: RawWorkbook, iss: _Issues) -> dict[str, Any]:
    meta: dict[str, Any] = {}
    case = raw.case
    version, vcell = raw.version
    if version is None:
        iss.add("template.missing_version", "Case", vcell, "template_version",
                f"no template version in Case!{vcell}; expected {schema.TEMPLATE_VERSION} (start from the current template)")
        meta["template_version"] = None
    else:
        m = _VERSION.search(str(version))
        ver = f"{m.group(1)}.{m.group(2) or 0}" if m else str(version)
        meta["template_version"] = ver
        if ver not in schema.SUPPORTED_VERSIONS:
            iss.add("template.unknown_version", "Case", vcell, "template_version",
                    f"template version {version!r} is not supported; expected one of {', '.join(schema.SUPPORTED_VERSIONS)}")
        elif ver != schema.TEMPLATE_VERSION:
            _migration_warning(raw, ver, iss)
    for label, cell in case.unknown:
        iss.add("case.unknown_field", "Case", cell, "", f"unknown field {label!r} (ignored)")
    for key, cell in case.duplicates:
        first = case.fields[key][1]
        iss.add("case.duplicate_field", "Case", cell, key, f"field {key!r} appears again; the first is at Case!{first}")

    length = None
    pl = case.value("period_length")
    if pl is not None and _choice(pl, schema.PERIOD_LENGTHS):
        length = _choice(pl, schema.PERIOD_LENGTHS)
    for col in schema.CASE_FIELDS:
        value, cell = case.fields.get(col.key, (None, ""))
        meta[col.key] = None
        if col.key not in case.fields:
            if col.required:
                iss.add("case.missing_field", "Case", "A:A", col.key,
                        f"no row labelled {col.label!r} in column A; it is required")
            continue
        if value is None:
            if col.required:
                iss.add("case.missing_field", "Case", cell, col.key, f"{col.label!r} is required: {col.help or 'fill it in'}")
            continue
        meta[col.key] = _type_case_value(col, value, cell, length, iss,
                                         None if col.key == "first_period" else meta.get("first_period"))
    for key in ("title", "sponsor", "portfolio", "strategic_objective", "org_unit"):
        if meta.get(key) is None:
            meta[key] = ""
    cid = meta.get("case_id")
    if cid is not None and (not _ID.match(cid) or cid.lower().split(".")[0] in _RESERVED or cid.endswith(".")):
        iss.add("case.invalid_id", "Case", case.cell("case_id"), "case_id",
                f"case id {cid!r} must be 1-40 letters, digits, '-', '_' or '.', starting with a letter or digit "
                "(it names files and folders)")
        meta["case_id"] = None
    status = meta.get("status")
    if status in _POST_APPROVAL and meta.get("approval_date") is None and "approval_date" not in _bad(iss, "Case"):
        iss.add("case.missing_approval_date", "Case", case.cell("approval_date") or "A:A", "approval_date",
                f"a case with status {status!r} needs the date its baseline was approved")
    _check_go_live(meta, case.cell("go_live_period"), iss)
    _check_go_live(meta, case.cell("actual_go_live"), iss, "actual_go_live")
    return meta


def _migration_warning(raw: RawWorkbook, ver: str, iss: _Issues) -> None:
    """A workbook made by an older supported template: read as the current one, with a warning naming what
    the current template has that this workbook lacks (all optional, so read as blank)."""
    absent = [f"Case field {c.label!r}" for c in schema.CASE_FIELDS if c.key not in raw.case.fields]
    for sheet, columns in schema.TABLE_COLUMNS.items():
        t = raw.tables.get(sheet)
        if t is None:
            if sheet not in schema.REQUIRED_SHEETS:
                absent.append(f"sheet {sheet!r}")
            continue
        absent += [f"{sheet} column {c.label!r}" for c in columns if c.key not in t.columns and not c.required]
    what = ("; absent, read as blank: " + ", ".join(absent)) if absent else ""
    iss.add("template.older_version", "Case", raw.version[1], "template_version",
            f"made by template {ver}, read as the current template {schema.TEMPLATE_VERSION} (migrated){what}. "
            f"Expected {schema.TEMPLATE_VERSION}: copy the figures into a new template (vmo template) when convenient")


def _bad(iss: _Issues, sheet: str) -> set[str]:
    return {r[3] for r in iss.rows if r[1] == sheet and r[6] == "error"}


def _type_case_value(col: schema.Column, value: Any, cell: str, length: str | None, iss: _Issues,
                     first: Any = None) -> Any:
    if col.kind in ("text", "id"):
        return _text(value)
    if col.kind == "choice":
        c = _choice(value, col.choices)
        if c is False:
            iss.add("choice.not_allowed", "Case", cell, col.key,
                    f"{col.label} {value!r} is not one of: {', '.join(col.choices)}")
            return None
        return c
    if col.kind == "date":
        d = _as_date(value)
        if d is False:
            iss.add("value.not_a_date", "Case", cell, col.key, f"expected a date (e.g. 2026-03-31), found {value!r}")
            return None
        return d
    if col.kind == "period":
        if length is None:
            return _text(value)  # judged once the period length is known (missing_field reports it)
        p, why = _period_or_reason(value, length, first)
        if p is False:
            iss.add("value.not_a_period", "Case", cell, col.key, why)
            return None
        return p
    # numbers: int, rate, number, amount
    if value.__class__ is float and math.isfinite(value):
        x = value  # a finite number cell: what the general path below makes of it, without arrays
    else:
        vals, kinds = cell_grid([[value]])
        nums, code = _numbers(vals, kinds)
        _report_numbers(iss, "Case", col.key, code, lambda i: cell, vals,
                        "a whole number" if col.kind == "int" else "a number")
        if code[0, 0] not in (_OK, _AS_TEXT):
            return None
        x = float(nums[0, 0])
    if col.kind == "int" and not x.is_integer():
        iss.add("value.not_integer", "Case", cell, col.key, f"{col.label} must be a whole number, found {value!r}")
        return None
    if (col.minimum is not None and x < col.minimum) or (col.maximum is not None and x > col.maximum):
        shown = f"{x:.2%}" if col.kind == "rate" else f"{x:g}"
        lo = f"{col.minimum:.0%}" if col.kind == "rate" else f"{col.minimum:g}"
        hi = f"{col.maximum:.0%}" if col.kind == "rate" else f"{col.maximum:g}"
        why = f": expected {_RANGE_WHY[col.key]}" if col.key in _RANGE_WHY else ""
        iss.add("value.out_of_range", "Case", cell, col.key, f"{col.label} {shown} is outside {lo} to {hi}{why}")
        return None
    return int(x) if col.kind == "int" else x


def _check_go_live(meta: dict[str, Any], cell: str, iss: _Issues, key: str = "go_live_period") -> None:
    first, length, horizon, gl = (meta.get(k) for k in ("first_period", "period_length", "horizon", key))
    if None in (first, length, horizon, gl):
        return
    t = _t(gl, first, length)
    if t is not None and not 0 <= t < horizon:
        what = "go-live" if key == "go_live_period" else "actual go-live"
        iss.add("case.go_live_outside_horizon", "Case", cell, key,
                f"{what} {gl} is outside the appraisal periods {first} to {_label(first, horizon - 1, length)}")


def _check_status_against_data(meta: dict[str, Any], cells: dict[str, str], actuals: dict[str, np.ndarray] | None,
                               iss: _Issues, forecast: dict[str, np.ndarray] | None = None,
                               as_of: str | None = None) -> None:
    """Warn when the lifecycle status contradicts the data (``case.status_contradicts_data`` on the
    status cell, saying what was expected):

    * "approved" with actual amounts: delivery has started (and "approved" cases are left out of the
      reference class);
    * "closed" with forecasts (non-zero, on the Forecast sheet) for periods after the review period: a
      closed case expects nothing more;
    * "approved" or "in delivery" when the review period is past the horizon (after its last period).
    """
    status, cell = meta.get("status"), cells.get("status", "")
    first, length, horizon = meta.get("first_period"), meta.get("period_length"), meta.get("horizon")
    review = tau = None
    if as_of and first is not None and length is not None:
        review = review_period(as_of, length, like=first)
        tau = _t(review, first, length)
    if status == "approved" and actuals is not None and len(actuals.get("row", ())):
        amounts = np.asarray(actuals["amount"], dtype=float)
        periods = sorted({p for p, a in zip(actuals["period"], amounts, strict=True)
                          if p is not None and not np.isnan(a)})
        if periods:
            iss.add("case.status_contradicts_data", "Case", cell, "status",
                    f"status is 'approved' but the case has actual amounts for {len(periods)} period(s) "
                    f"({periods[0]} to {periods[-1]}): expected 'in delivery' or 'live' once spending is reported "
                    "(an 'approved' case is left out of the reference class)")
    if status == "closed" and tau is not None and forecast is not None and len(forecast.get("row", ())):
        amounts = np.asarray(forecast["amount"], dtype=float)
        ts = np.asarray(forecast["t"], dtype=np.int64)
        later = (ts > tau) & ~np.isnan(amounts) & (np.abs(amounts) > 1e-12)
        if later.any():
            ps = sorted({int(x) for x in ts[later]})
            iss.add("case.status_contradicts_data", "Case", cell, "status",
                    f"status is 'closed' but the Forecast sheet holds {int(later.sum())} forecast(s) for "
                    f"{len(ps)} period(s) after the review period {review} ({_label(first, ps[0], length)} to "
                    f"{_label(first, ps[-1], length)}): expected no forecast after a case is closed (clear them), "
                    "or status 'live' while benefits are still to come")
    if status in ("approved", "in delivery") and tau is not None and horizon is not None and tau >= horizon:
        iss.add("case.status_contradicts_data", "Case", cell, "status",
                f"status is {status!r} but the review period {review} is after the case's last period "
                f"{_label(first, horizon - 1, length)} (horizon {horizon}): expected 'live' or 'closed' once the "
                "horizon has passed, or a longer horizon if delivery really continues")


@functools.lru_cache(maxsize=4096)  # pure; a workbook asks for the same few periods again and again
def _t(label: str, first: str, length: str) -> int | None:
    try:
        y, i = parse_period(label, length)
        y0, i0 = parse_period(first, length)
    except ValueError:
        return None
    k = periods_per_year(length)
    return (y * k + i) - (y0 * k + i0)


def _label(first: str, t: int, length: str) -> str:
    return shift_period(first, t, length)  # in the first period's form (FY2025-26 → FY2026-27)


# --- table sheets ----------------------------------------------------------------------------------
def _check_columns(t: RawTable, iss: _Issues) -> None:
    cols = schema.TABLE_COLUMNS[t.sheet]
    for c in cols:
        if c.required and c.key not in t.columns:
            iss.add("column.missing", t.sheet, f"{schema.HEADER_ROW}:{schema.HEADER_ROW}", c.key,
                    f"no column headed {c.label!r} on row {schema.HEADER_ROW}")
    for label, letter in t.unknown:
        iss.add("column.unknown", t.sheet, f"{letter}{schema.HEADER_ROW}", "", f"unknown column {label!r} (ignored)")
    for key, letter in t.duplicates:
        iss.add("column.duplicate", t.sheet, f"{letter}{schema.HEADER_ROW}", key,
                f"column {key!r} appears again; the first is in column {t.columns[key]}")
    for letter in t.unlabelled:
        iss.add("column.no_header", t.sheet, f"{letter}{schema.HEADER_ROW}", "",
                f"column {letter} holds data but has no header on row {schema.HEADER_ROW}")


def _typed_columns(t: RawTable, iss: _Issues, length: str | None, first: Any = None) -> dict[str, np.ndarray]:
    """Type every known column of a table sheet, reporting bad values by cell.

    Returns one numpy array per field key (floats for numbers, objects with ``None`` for blanks
    otherwise) plus ``row``. Plain arrays, not a DataFrame: for the small tables of a case,
    pandas' per-operation overhead would cost more than the checks themselves.
    """
    out: dict[str, Any] = {}
    for col in schema.read_columns(t.sheet):  # the template columns and the optional Option column
        vals = t.column(col.key)
        if col.key not in t.columns:
            numeric = col.kind in ("amount", "number", "rate", "int")
            out[col.key] = np.full(len(t), np.nan) if numeric else np.full(len(t), None, dtype=object)
            continue
        letter = t.columns[col.key]
        rows = t.rows

        def ref(i: int, letter: str = letter, rows: np.ndarray = rows) -> str:
            return f"{letter}{rows[i]}"

        if col.kind in ("amount", "number", "rate", "int"):
            nums, code = _numbers(vals, t.column_kinds(col.key))
            _report_numbers(iss, t.sheet, col.key, code, ref, vals, "a number")
            out[col.key] = nums
        elif col.kind == "date":
            conv = [_as_date(v) for v in vals]
            for i, d in enumerate(conv):
                if d is False:
                    iss.add("value.not_a_date", t.sheet, ref(i), col.key, f"expected a date (e.g. 2026-03-31), found {vals[i]!r}")
            out[col.key] = np.array([None if d is False else d for d in conv], dtype=object)
        elif col.kind == "period":
            out[col.key] = _typed_periods(vals, length, iss, t.sheet, col.key, ref, first)
        elif col.kind == "choice":
            conv = {}
            res = np.full(len(vals), None, dtype=object)
            for i, v in enumerate(vals):
                if v is None:
                    continue
                if v not in conv:
                    conv[v] = _choice(v, col.choices)
                c = conv[v]
                if c is False:
                    iss.add("choice.not_allowed", t.sheet, ref(i), col.key,
                            f"{col.label} {v!r} is not one of: {', '.join(col.choices)}")
                else:
                    res[i] = c
            out[col.key] = res
        else:  # text and ids: already stripped text; numbers and dates become text
            kinds = t.column_kinds(col.key)
            conv = vals.copy()
            for i in np.nonzero(kinds > TEXT)[0]:  # NUMBER and OTHER: neither blank nor text
                conv[i] = _text(vals[i])
            out[col.key] = conv
    out["row"] = t.rows
    return out


def _typed_periods(vals: np.ndarray, length: str | None, iss: _Issues, sheet: str, fld: str, ref,
                   first: Any = None) -> np.ndarray:
    res = np.full(len(vals), None, dtype=object)
    if length is None or not len(vals):
        return res
    codes, uniques = pd.factorize(vals, use_na_sentinel=True)
    answers = [_period_or_reason(u, length, first) for u in uniques]
    parsed = [p for p, _ in answers]
    lut = np.array([None if p is False else p for p in parsed] + [None], dtype=object)
    res = lut[codes]  # -1 (blank) → the trailing None
    bad = {k for k, p in enumerate(parsed) if p is False}
    if bad:
        for i in np.nonzero(np.isin(codes, list(bad)))[0]:
            iss.add("value.not_a_period", sheet, ref(i), fld, answers[codes[i]][1])
    return res


def _na(values: np.ndarray) -> np.ndarray:
    """True where a typed value is blank (None or NaN)."""
    return pd.isna(values)


def _check_ids(t: RawTable, df: dict[str, np.ndarray], iss: _Issues, id_field: str = "line_id") -> None:
    if id_field not in t.columns:
        return
    ids = df[id_field]
    letter = t.columns[id_field]
    blank = _na(ids)
    for i in np.nonzero(blank)[0]:
        iss.add("line.blank_id", t.sheet, f"{letter}{t.rows[i]}", id_field,
                f"row {t.rows[i]} has data but no {id_field.replace('_', ' ')}")
    if t.sheet in schema.WIDE_SHEETS:
        for i in np.nonzero(~blank)[0]:
            if not _ID.match(ids[i]):
                iss.add("line.invalid_id", t.sheet, f"{letter}{t.rows[i]}", id_field,
                        f"line id {ids[i]!r} must be 1-40 letters, digits, '-', '_' or '.'")


def _check_line_ids_across(lines: dict[str, dict[str, np.ndarray]], tables: dict[str, RawTable], iss: _Issues) -> None:
    first: dict[str, str] = {}
    for sheet in schema.WIDE_SHEETS:
        if sheet not in lines or "line_id" not in tables[sheet].columns:
            continue
        letter = tables[sheet].columns["line_id"]
        for lid, row in zip(lines[sheet]["line_id"], lines[sheet]["row"], strict=True):
            if lid is None:
                continue
            where = f"{sheet}!{letter}{row}"
            if lid in first:
                iss.add("line.duplicate_id", sheet, f"{letter}{row}", "line_id",
                        f"line id {lid!r} is already used at {first[lid]}")
            else:
                first[lid] = where


def _check_period_headers(t: RawTable, meta: dict[str, Any], iss: _Issues) -> tuple[list[int], list[int]]:
    """Parse the period headers; returns (usable column positions, their t)."""
    first, length, horizon = meta.get("first_period"), meta.get("period_length"), meta.get("horizon")
    if first is None or length is None:
        return [], []
    if not t.period_headers:
        if horizon is not None:
            at = col_letter(len(schema.TABLE_COLUMNS[t.sheet]))
            iss.add("period.short_of_horizon", t.sheet, f"{at}{schema.HEADER_ROW}", "period",
                    f"{t.sheet} has no period columns; expected one column per period after the "
                    f"{schema.TABLE_COLUMNS[t.sheet][-1].label!r} column, headed {first} to "
                    f"{_label(first, horizon - 1, length)} ({horizon} periods: Case Horizon)")
        return [], []
    parsed: list[tuple[int, int, str]] = []  # (position, t, letter)
    for j, (label, letter) in enumerate(t.period_headers):
        p, why = (_period_or_reason(label, length, first) if not isinstance(label, (_dt.date, _dt.datetime))
                   else (False, ""))
        if p is False:
            here = _label(first, j, length) if _t(first, first, length) is not None else None
            where = (f"; expected {here}, the period this column stands for when the columns run from the First "
                     f"period {first}" if here else "")
            if why.startswith(("a financial", "expected a financial", "expected a calendar")):
                where = f" ({why}){where}"
            iss.add("period.unparseable_header", t.sheet, f"{letter}{schema.HEADER_ROW}", "period",
                    f"period header {label!r} is not a period label: expected {_period_hint(length, first)} (the case "
                    f"runs in {length}s){where}. Label each column with the period it covers, not 'Year 0' or "
                    "'Initial' (see the Guide: a case with no year 0)")
            continue
        parsed.append((j, _t(p, first, length), letter))
    if not parsed:
        return [], []
    if horizon is not None and len(parsed) == len(t.period_headers):
        covered = {tt for _, tt, _ in parsed}
        last_t = max(covered)
        if last_t < horizon - 1:
            after = col_letter(_letters_value(t.period_headers[-1][1]))  # the column after the last one
            iss.add("period.short_of_horizon", t.sheet, f"{after}{schema.HEADER_ROW}", "period",
                    f"the period columns end at {_label(first, last_t, length)} but the horizon (Case: Horizon "
                    f"{horizon}) runs to {_label(first, horizon - 1, length)}; expected columns headed "
                    f"{_label(first, last_t + 1, length)} to {_label(first, horizon - 1, length)} from column "
                    f"{after}, or a shorter horizon")
    j0, t0, letter0 = parsed[0]
    if t0 != 0:
        iss.add("period.wrong_start", t.sheet, f"{letter0}{schema.HEADER_ROW}", "period",
                f"the first period column is {_label(first, t0, length)} but the case starts in {first} (Case: First period)")
    # Compared with the latest period so far, a header may repeat/go back or skip ahead;
    # one swapped pair is two issues, not a cascade down the row.
    latest = t0
    for _, tb, letterb in parsed[1:]:
        if tb != latest + 1:
            expected = _label(first, latest + 1, length)
            why = "is out of order or repeated" if tb <= latest else "leaves a gap"
            iss.add("period.not_consecutive", t.sheet, f"{letterb}{schema.HEADER_ROW}", "period",
                    f"period {_label(first, tb, length)} {why} after {_label(first, latest, length)}; "
                    f"expected {expected} (periods must be consecutive, oldest first)")
        latest = max(latest, tb)
    keep_pos, keep_t = [], []
    seen: set[int] = set()
    for j, tt, letter in parsed:
        if horizon is not None and not 0 <= tt < horizon:
            has_data = bool(len(t)) and any(v not in ("", None) and not (isinstance(v, float) and v == 0)
                                             for v in t.period_values[:, j])
            if has_data:
                iss.add("period.outside_horizon", t.sheet, f"{letter}{schema.HEADER_ROW}", "period",
                        f"column {_label(first, tt, length)} holds amounts but is outside the {horizon} periods "
                        f"from {first} (Case: Horizon)")
            continue
        if tt in seen:
            continue
        seen.add(tt)
        keep_pos.append(j)
        keep_t.append(tt)
    return keep_pos, keep_t


def _check_amounts(t: RawTable, df: dict[str, np.ndarray], pos: list[int], ts: list[int], iss: _Issues) -> np.ndarray:
    raw = t.period_values[:, pos] if pos else np.empty((len(t), 0), dtype=object)
    letters = [t.period_headers[j][1] for j in pos]
    rows = t.rows
    ncol = max(len(pos), 1)

    def ref(i: int) -> str:
        return f"{letters[i % ncol]}{rows[i // ncol]}"

    kinds = t.period_kinds[:, pos] if pos else np.empty((len(t), 0), dtype=np.int8)
    nums, code = _numbers(raw, kinds)
    _report_numbers(iss, t.sheet, "amount", code, ref, raw, "an amount")
    return nums


# --- amounts: sign and magnitude (the workbook's sheets and the returns) ---------------------------
def typical_amount(amounts: Any) -> float:
    """The case's typical amount: median absolute value of its non-zero, finite line-period amounts
    (those at or below :data:`AMOUNT_HARD_LIMIT`); NaN when there are none.

    >>> typical_amount([0, 100, -50, 300, float("nan"), 1e300])
    100.0
    """
    a = np.abs(np.asarray(amounts, dtype=float).ravel())
    a = a[np.isfinite(a) & (a > 0) & (a <= AMOUNT_HARD_LIMIT)]
    return float(np.median(a)) if a.size else math.nan


def amount_issues(amounts: Any, kinds: Any, benefit_types: Any, typical: float,
                  labels: Sequence[str] | None = None) -> list[tuple[int, str, str, str]]:
    """Sign and magnitude problems of money amounts, one ``(position, rule, severity, message)`` each.

    The sign convention is the template's, the same on every sheet and in the returns: a cost is
    entered as a positive amount; a benefit as a positive amount; a **dis-benefit** (a benefit line
    whose type is ``"dis-benefit"``) as a negative amount. Zero is always allowed. So a negative
    cost is ``costs.negative_amount``, a negative amount on a benefit line of another type
    ``benefits.negative_amount``, a positive one on a dis-benefit ``benefits.positive_disbenefit``
    (all errors). A position whose kind is unknown (an unknown line) or whose benefit type is blank
    gets no sign check.

    The plausibility bound: an absolute value above :data:`AMOUNT_HARD_LIMIT` (1e12) is an error
    (``value.implausible_amount``); one more than :data:`AMOUNT_RELATIVE_LIMIT` (1,000) times
    ``typical`` (:func:`typical_amount` of the case's plan) a warning. NaN amounts (blanks) are skipped.

    Parameters
    ----------
    amounts : array-like of float
    kinds : array-like
        ``"cost"``, ``"benefit"`` or None per amount.
    benefit_types : array-like
        The benefit type of each amount's line (ignored for costs).
    typical : float
        The case's typical amount; NaN skips the relative bound.
    labels : sequence of str, optional
        What each amount is, starting the message (default ``"amount"``).

    Examples
    --------
    >>> for i, rule, sev, _ in amount_issues([-5.0, 10.0, 3.0, 2e6, 1e300], ["cost", "benefit", "benefit", "cost", "benefit"],
    ...                                      [None, "dis-benefit", "cash-releasing", None, "cash-releasing"], 100.0):
    ...     print(i, rule, sev)
    0 costs.negative_amount error
    1 benefits.positive_disbenefit error
    3 value.implausible_amount warning
    4 value.implausible_amount error
    """
    a = np.asarray(amounts, dtype=float).ravel()
    k = np.asarray(kinds, dtype=object).ravel()
    bt = np.asarray(benefit_types, dtype=object).ravel()
    with np.errstate(invalid="ignore"):
        is_cost, is_benefit = k == "cost", k == "benefit"
        dis = bt == "dis-benefit"
        typed = ~pd.isna(bt)
        masks = (
            (is_cost & (a < 0), "costs.negative_amount", "error",
             "{w} {x:,.2f} is negative; expected a positive amount (costs are entered as positive amounts)"),
            (is_benefit & typed & ~dis & (a < 0), "benefits.negative_amount", "error",
             "{w} {x:,.2f} is negative; expected a positive amount (only a line of type 'dis-benefit' is "
             "entered as a negative amount)"),
            (is_benefit & dis & (a > 0), "benefits.positive_disbenefit", "error",
             "{w} {x:,.2f} is positive on a dis-benefit; expected a negative amount (dis-benefits are entered "
             "as negative amounts)"),
            (np.abs(a) > AMOUNT_HARD_LIMIT, "value.implausible_amount", "error",
             "{w} {x:.6g} is beyond the plausibility bound of 1e12 (1,000,000,000,000) in absolute value; "
             "expected an amount in units of the case currency"),
        )
        relative = np.zeros(a.shape, dtype=bool)
        if not math.isnan(typical) and typical > 0:
            relative = (np.abs(a) > AMOUNT_RELATIVE_LIMIT * typical) & (np.abs(a) <= AMOUNT_HARD_LIMIT)
    out: list[tuple[int, str, str, str]] = []
    for mask, rule, sev, msg in masks:
        for i in np.nonzero(mask)[0]:
            w = labels[i] if labels is not None else "amount"
            out.append((int(i), rule, sev, msg.format(w=w, x=a[i])))
    for i in np.nonzero(relative)[0]:
        w = labels[i] if labels is not None else "amount"
        out.append((int(i), "value.implausible_amount", "warning",
                    f"{w} {a[i]:,.2f} is more than 1,000x the case's median non-zero line-period amount "
                    f"({typical:,.2f}); expected at most {AMOUNT_RELATIVE_LIMIT * typical:,.2f}: check the units "
                    "(currency units, not thousands) and the decimal point"))
    out.sort(key=lambda x: x[0])
    return out


def _report_amounts(iss: _Issues, sheet: str, amounts: np.ndarray, kinds: Any, benefit_types: Any,
                    typical: float, cells: Sequence[str], labels: Sequence[str], fld: str = "amount") -> None:
    for i, rule, sev, msg in amount_issues(amounts, kinds, benefit_types, typical, labels):
        iss.add(rule, sheet, cells[i], fld, msg, severity=sev)


class _ByPosition:
    """A read-only sequence over the cells of a row-major grid ``width`` wide: item ``k`` is
    ``make(row, column)`` of cell ``k``, made when read (a text per cell, most never read)."""

    def __init__(self, make: Callable[[int, int], str], width: int) -> None:
        self._make, self._width = make, width

    def __getitem__(self, k: int) -> str:
        i, j = divmod(int(k), self._width)
        return self._make(i, j)


def _check_plan_amounts(sheet: str, kind: str, df: dict[str, np.ndarray], amounts: tuple[list[int], np.ndarray],
                        letters: list[str], columns: dict[str, str], meta: dict[str, Any], typical: float,
                        iss: _Issues) -> None:
    """Sign and plausibility of the period amounts of Costs or Benefits, and the bound on Low/Likely/High."""
    ts, nums = amounts
    ids, rows = df["line_id"], df["row"]
    if nums.size:
        first, length = meta.get("first_period"), meta.get("period_length")
        width = nums.shape[1]
        noun = "cost" if kind == "cost" else "benefit"

        def plabel(j: int) -> str:
            return _label(first, ts[j], length) if first and length else f"period {ts[j]}"

        # the cell and label of an amount are only read for the amounts with a problem: made on demand
        cells = _ByPosition(lambda i, j: f"{letters[j]}{rows[i]}", width)
        labels = _ByPosition(lambda i, j: f"{noun} {ids[i]} in {plabel(j)}:", width)
        bts = (np.repeat(df["benefit_type"], nums.shape[1]) if kind == "benefit"
               else np.full(nums.size, None, dtype=object))
        _report_amounts(iss, sheet, nums.ravel(), np.full(nums.size, kind, dtype=object), bts, typical, cells, labels)
    for key in ("low", "likely", "high"):
        v = df[key].astype(float)
        with np.errstate(invalid="ignore"):
            big = np.abs(v) > AMOUNT_HARD_LIMIT
        for i in np.nonzero(big)[0]:
            iss.add("value.implausible_amount", sheet, f"{columns.get(key, '')}{rows[i]}", key,
                    f"line {ids[i]}: {key} {v[i]:.6g} is beyond the plausibility bound of 1e12 (1,000,000,000,000) "
                    "in absolute value; expected a whole-life total in units of the case currency", severity="error")


def _check_line_attributes(sheet: str, t: RawTable, df: dict[str, np.ndarray], nums: np.ndarray, meta: dict[str, Any],
                           iss: _Issues) -> None:
    cols = {c.key: c for c in schema.TABLE_COLUMNS[sheet]}
    rows = t.rows

    def cells(key: str, mask: np.ndarray) -> list[str]:
        letter = t.columns.get(key, "")
        return [f"{letter}{r}" for r in rows[mask]]

    def ids(mask: np.ndarray) -> list[str]:
        return [str(x) for x in df["line_id"][mask]]

    # required attributes without a dedicated rule
    dedicated = {"line_id", "owner", "kpi", "unit", "baseline_value", "baseline_date"}
    warn_only = {"target_value", "target_date", "frequency", "data_source", "confidence"}
    for key, col in cols.items():
        if not col.required or key in dedicated or key not in t.columns:
            continue
        miss = _na(df[key])
        if miss.any():
            iss.add_many("line.missing_value", sheet, cells(key, miss), key,
                         [f"line {i}: {col.label} is required" for i in ids(miss)],
                         severity="warning" if key in warn_only else None)
    # price base
    case_pb = meta.get("price_base")
    if case_pb is not None and "price_base" in t.columns:
        other = ~_na(df["price_base"]) & (df["price_base"] != case_pb)
        iss.add_many("line.price_base_mismatch", sheet, cells("price_base", other), "price_base",
                     [f"line {i} is in {p} prices but the case is {case_pb}: real and nominal must not be mixed"
                      for i, p in zip(ids(other), df["price_base"][other], strict=True)])
    # three-point estimate
    lo, li, hi = (df[k].astype(float) for k in ("low", "likely", "high"))
    with np.errstate(invalid="ignore"):
        checks = (
            (lo > li, "low", lo, "low", li, "likely"),
            (li > hi, "high", li, "likely", hi, "high"),
            (np.isnan(li) & (lo > hi), "high", lo, "low", hi, "high"),
        )
    for mask, key, a, an, b, bn in checks:
        if mask.any():
            iss.add_many("line.three_point_order", sheet, cells(key, mask), key,
                         [f"line {i}: {an} {x:,.0f} is above {bn} {y:,.0f}; expected low <= likely <= high"
                          for i, x, y in zip(ids(mask), a[mask], b[mask], strict=True)])
    for key in ("low", "likely", "high"):
        c = cols[key]
        if c.minimum is not None and key in t.columns:
            with np.errstate(invalid="ignore"):
                neg = df[key].astype(float) < c.minimum
            iss.add_many("value.out_of_range", sheet, cells(key, neg), key,
                         [f"line {i}: {c.label} must not be negative" for i in ids(neg)])
    # likely vs the sum of the periods
    if nums.size:
        total = np.nansum(nums, axis=1)
        has_amounts = ~np.isnan(nums).all(axis=1)
        with np.errstate(invalid="ignore"):
            far = has_amounts & ~np.isnan(li) & (np.abs(li - total) > np.maximum(1.0, _LIKELY_TOLERANCE * np.abs(total)))
        iss.add_many("line.likely_vs_periods", sheet, cells("likely", far), "likely",
                     [f"line {i}: likely {x:,.0f} differs from the sum of the periods {s:,.0f} by more than 10%"
                      for i, x, s in zip(ids(far), li[far], total[far], strict=True)])
    if sheet == "Benefits":
        _check_benefit_profile(t, df, nums, meta, iss, cells, ids)


def _check_benefit_profile(t: RawTable, df: dict[str, np.ndarray], nums: np.ndarray, meta: dict[str, Any],
                           iss: _Issues, cells, ids) -> None:
    for key, rule, what in (("owner", "benefits.missing_owner", "has no benefit owner (accountable after the project closes)"),
                            ("kpi", "benefits.missing_kpi", "has no KPI to measure it by")):
        if key in t.columns:
            miss = _na(df[key])
            iss.add_many(rule, "Benefits", cells(key, miss), key, [f"benefit {i} {what}" for i in ids(miss)])
    if "unit" in t.columns:
        miss = _na(df["unit"]) & ~_na(df["kpi"])
        iss.add_many("benefits.missing_unit", "Benefits", cells("unit", miss), "unit",
                     [f"benefit {i}: the KPI has no unit (%, hours, count, GBP...)" for i in ids(miss)])
    sev = "warning" if meta.get("status") in ("proposed", None) else None
    for key, what in (("baseline_value", "baseline value"), ("baseline_date", "date the baseline was measured")):
        if key in t.columns:
            miss = _na(df[key]) & ~_bad_cells(iss, "Benefits", key, t)
            iss.add_many("benefits.missing_baseline", "Benefits", cells(key, miss), key,
                         [f"benefit {i} has no {what}" for i in ids(miss)], severity=sev)
    bd = df["baseline_date"]
    gl, length = meta.get("go_live_period"), meta.get("period_length")
    if gl is not None and length is not None and "baseline_date" in t.columns:
        try:
            gl_end = period_end_date(gl, length)
        except ValueError:
            gl_end = None
        if gl_end is not None:
            after = np.array([d is not None and d > gl_end for d in bd], dtype=bool)
            iss.add_many("benefits.baseline_after_go_live", "Benefits", cells("baseline_date", after), "baseline_date",
                         [f"benefit {i}: baseline measured {d} after go-live {gl}; a baseline must be measured before"
                          for i, d in zip(ids(after), bd[after], strict=True)])
    td = df["target_date"]
    if "target_date" in t.columns:
        before = np.array([a is not None and b is not None and b < a for a, b in zip(bd, td, strict=True)], dtype=bool)
        iss.add_many("benefits.target_before_baseline", "Benefits", cells("target_date", before), "target_date",
                     [f"benefit {i}: target date {b} is before the baseline date {a}"
                      for i, a, b in zip(ids(before), bd[before], td[before], strict=True)])
    no_amounts = (np.nan_to_num(nums, nan=0.0) == 0).all(axis=1) if nums.size else np.ones(len(t), dtype=bool)
    empty = no_amounts & _na(df["target_value"]) & ~_na(df["line_id"])
    iss.add_many("benefits.no_amounts_no_target", "Benefits", cells("line_id", empty), "line_id",
                 [f"benefit {i} has no amounts in any period and no KPI target: nothing to realise" for i in ids(empty)])


def _bad_cells(iss: _Issues, sheet: str, key: str, t: RawTable) -> np.ndarray:
    """True for rows whose ``key`` cell already has an error (so a blank after typing is not 'missing')."""
    letter = t.columns.get(key, "")
    bad = {r[2] for r in iss.rows if r[1] == sheet and r[3] == key}
    if not bad:
        return np.zeros(len(t), dtype=bool)
    return np.array([f"{letter}{r}" in bad for r in t.rows], dtype=bool)


# --- long sheets: Actuals, Forecast, Baselines -------------------------------------------------------
def _check_long(sheet: str, t: RawTable, df: dict[str, np.ndarray], meta: dict[str, Any], known: dict[str, str],
                as_of: str, iss: _Issues) -> dict[str, np.ndarray]:
    """Rules of Actuals, Forecast and Baselines; adds ``kind`` and ``t`` to the typed columns."""
    first, length, horizon = meta.get("first_period"), meta.get("period_length"), meta.get("horizon")
    cols = {c.key: c for c in schema.TABLE_COLUMNS[sheet]}
    rows = t.rows
    n = len(t)
    prefix = sheet.lower().replace(" ", "_")

    def cells(key: str, mask: np.ndarray) -> list[str]:
        letter = t.columns.get(key, "")
        return [f"{letter}{r}" for r in rows[mask]]

    for key, col in cols.items():
        if sheet == "Baselines" and key == "approved":
            continue  # one issue per re-baseline, not per row (_check_rebaselines)
        if col.required and key in t.columns and key != "line_id":
            miss = _na(df[key]) & ~_bad_cells(iss, sheet, key, t)
            iss.add_many("line.missing_value", sheet, cells(key, miss), key,
                         [f"row {r}: {col.label} is required" for r in rows[miss]])
    lid = df["line_id"]
    kind = _lookup(lid, known) if n else np.empty(0, dtype=object)
    if "line_id" in t.columns:
        unknown = ~_na(lid) & _na(kind)
        iss.add_many(f"{prefix}.unknown_line", sheet, cells("line_id", unknown), "line_id",
                     [f"line id {x!r} is not a line of Costs or Benefits" for x in lid[unknown]])
    df["kind"] = kind
    # t, horizon and the review date
    period = df["period"]
    tt = np.full(n, -10**9, dtype=np.int64)
    ok = ~_na(period)
    if first is not None and length is not None and ok.any():
        uniq = {p: _t(p, first, length) for p in set(period[ok])}
        tt[ok] = _lookup(period[ok], uniq).astype(np.int64)
        if horizon is not None:
            out = ok & ((tt < 0) | (tt >= horizon))
            iss.add_many(f"{prefix}.outside_horizon", sheet, cells("period", out), "period",
                         [f"period {p} is outside the appraisal periods {first} to {_label(first, horizon - 1, length)}"
                          for p in period[out]])
        if sheet == "Actuals":
            # After the review date: an error when after today's quarter too (it cannot have happened
            # yet), else the review is of an earlier quarter and the later actuals are left out.
            end = period_end_date(as_of, "quarter")
            now = current_quarter()
            now_end = max(end, period_end_date(now, "quarter"))
            is_later = {p: period_start_date(p, length) > end for p in uniq}
            is_future = {p: period_start_date(p, length) > now_end for p in uniq}
            later = ok & (_lookup(period, is_later) == True)  # noqa: E712 - None for blanks
            future = ok & (_lookup(period, is_future) == True)  # noqa: E712 - None for blanks
            iss.add_many("actuals.future_period", sheet, cells("period", future), "period",
                         [f"actual for {p}, after the review date {as_of} and today's quarter {now}: only periods "
                          f"up to {as_of} can have actuals" for p in period[future]])
            left_out = later & ~future
            iss.add_many("actuals.after_review", sheet, cells("period", left_out), "period",
                         [f"actual for {p}, after the review date {as_of}: left out of this review of an earlier "
                          "quarter" for p in period[left_out]])
    df["t"] = tt
    if sheet == "Actuals" and n:
        none = _na(df["amount"]) & _na(df["kpi_value"]) & ~_bad_cells(iss, sheet, "amount", t)
        iss.add_many("actuals.no_value", sheet, cells("amount", none), "amount",
                     [f"row {r} has neither an actual amount nor a measured KPI value" for r in rows[none]])
    if sheet == "KPI plan" and n:
        cost = ~_na(kind) & (kind == "cost")
        iss.add_many("kpi_plan.not_a_benefit", sheet, cells("line_id", cost), "line_id",
                     [f"line id {x!r} is a cost line: a planned KPI value belongs to a benefit" for x in lid[cost]])
    if sheet in ("Actuals", "Forecast", "KPI plan") and n:
        _check_duplicates(sheet, df, t, iss)
    return df


def rebaseline_order(baselines: dict[str, np.ndarray]) -> list[str]:
    """Versions of the Baselines sheet in the order they were approved (oldest first).

    A version's approval date is the first one given on its rows; versions with none come last;
    ties keep the order of their first row (as :attr:`vmo_lib.model.BusinessCase.rebaseline_versions`).

    >>> import datetime as dt
    >>> rebaseline_order({"version": np.array(["RB2", "RB1", "RB2", "RB3"], dtype=object),
    ...                   "approved": np.array([dt.date(2026, 9, 1), dt.date(2026, 3, 1), None, None], dtype=object)})
    ['RB1', 'RB2', 'RB3']
    """
    first_row: dict[str, int] = {}
    approved: dict[str, Any] = {}
    for i, (v, a) in enumerate(zip(baselines["version"], baselines["approved"], strict=True)):
        if v is None:
            continue
        first_row.setdefault(v, i)
        if approved.get(v) is None and a is not None:
            approved[v] = a
    return sorted(first_row, key=lambda v: (approved.get(v) is None, approved.get(v) or _dt.date.min, first_row[v]))


def rebaseline_carry_over(baselines: dict[str, np.ndarray]) -> dict[str, bool]:
    """Version → whether its unlisted lines carry over (``yes`` on any of its rows)."""
    out: dict[str, bool] = {}
    carry = baselines.get("carry_over")
    for i, v in enumerate(baselines["version"]):
        if v is not None:
            out[v] = out.get(v, False) or (carry is not None and carry[i] == "yes")
    return out


def _check_rebaselines(t: RawTable, d: dict[str, np.ndarray], lines: dict[str, dict[str, np.ndarray]],
                       amounts: dict[str, tuple[list[int], np.ndarray]], iss: _Issues) -> None:
    """Each re-baseline has one approval date and one carry-over flag, and restates every line with a
    plan unless it carries unlisted lines over."""
    sheet = "Baselines"
    vcol, acol, ccol = (t.columns.get(k, "") for k in ("version", "approved", "carry_over"))
    rows = d["row"]
    by_version: dict[str, list[int]] = {}
    for i, v in enumerate(d["version"]):
        if v is not None:
            by_version.setdefault(v, []).append(i)
    bad_date = _bad_cells(iss, sheet, "approved", t)
    for v, idx in by_version.items():
        dates = [(i, d["approved"][i]) for i in idx if d["approved"][i] is not None]
        if not dates and acol and not bad_date[idx].any():
            iss.add("baselines.missing_approval_date", sheet, f"{acol}{rows[idx[0]]}", "approved",
                    f"re-baseline {v} has no approval date (Approved on): expected the date the board approved it; "
                    "it decides which baseline is in force at a review date")
        for i, a in dates[1:]:
            if a != dates[0][1]:
                iss.add("baselines.inconsistent_version", sheet, f"{acol}{rows[i]}", "approved",
                        f"re-baseline {v} is approved on {a} here but on {dates[0][1]} on row {rows[dates[0][0]]}; "
                        "expected one approval date per re-baseline")
        flags = [(i, d["carry_over"][i]) for i in idx if d["carry_over"][i] is not None]
        for i, f in flags[1:]:
            if f != flags[0][1]:
                iss.add("baselines.inconsistent_version", sheet, f"{ccol}{rows[i]}", "carry_over",
                        f"re-baseline {v} says carry over {f!r} here but {flags[0][1]!r} on row {rows[flags[0][0]]}; "
                        "expected one carry-over answer per re-baseline")
    # the plan in force before each re-baseline: line → total, for lines with a non-zero amount
    prev: dict[str, float] = {}
    for sheet_name in schema.WIDE_SHEETS:
        if sheet_name in lines and sheet_name in amounts:
            nums = amounts[sheet_name][1]
            ids = lines[sheet_name]["line_id"]
            if not nums.size:
                continue
            planned = np.any(np.nan_to_num(nums) != 0, axis=1)  # each line's test, all lines at once
            # each line's total, all lines at once: a C-ordered row is summed as np.nansum(row) sums it
            totals = np.nansum(np.ascontiguousarray(nums), axis=1)
            for lid, total, has_plan in zip(ids, totals, planned, strict=True):
                if lid is not None and has_plan:
                    prev.setdefault(lid, float(total))
    prev_name = "the original baseline"
    carry = rebaseline_carry_over(d)
    for v in rebaseline_order(d):
        idx = [i for i in by_version[v] if d["line_id"][i] is not None and d["kind"][i] is not None]
        totals: dict[str, float] = {}
        nonzero: set[str] = set()
        for i in idx:
            lid, a = d["line_id"][i], float(d["amount"][i])
            totals[lid] = totals.get(lid, 0.0) + (0.0 if math.isnan(a) else a)
            if not math.isnan(a) and a != 0:
                nonzero.add(lid)
        new = {lid: totals[lid] for lid in totals if lid in nonzero}
        if carry[v]:
            new.update({lid: tot for lid, tot in prev.items() if lid not in totals})
        else:
            for lid, tot in prev.items():
                if lid not in totals:
                    iss.add("baselines.line_omitted", sheet, f"{vcol}{rows[by_version[v][0]]}", "line_id",
                            f"re-baseline {v} does not list line {lid}, whose plan in force before it ({prev_name}) "
                            f"totals {tot:,.2f}: it would read as zero under {v}. Expected every line restated "
                            f"(0 where a line stops), or 'Carry over unlisted lines' = yes on {v}'s rows to keep "
                            "the plans of the lines it does not list")
        prev, prev_name = new, f"re-baseline {v}"


def _lookup(values: np.ndarray, mapping: dict[Any, Any]) -> np.ndarray:
    """``mapping[v]`` for every value (None when absent), looking each distinct value up once."""
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    lut = np.array([mapping.get(u) for u in uniques] + [None], dtype=object)
    return lut[codes]


def duplicate_rows(df: dict[str, np.ndarray], keys: Sequence[str] = ("period", "line_id")) -> tuple[np.ndarray, np.ndarray]:
    """Rows repeating an earlier row's keys (blanks never match): (mask, index of the first such row).

    >>> duplicate_rows({"period": np.array(["Q1", "Q1", None, "Q1"], dtype=object),
    ...                 "line_id": np.array(["A", "B", "A", "A"], dtype=object)})[0].tolist()
    [False, False, False, True]
    """
    n = len(df[keys[0]])
    first_of: dict[tuple, int] = {}
    mask = np.zeros(n, dtype=bool)
    first = np.full(n, -1)
    columns = [df[k] for k in keys]
    if len(columns) == 2:  # the usual (period, line id): the same test without a generator per row
        for i, key in enumerate(zip(*columns, strict=True)):
            if key[0] is None or key[1] is None:
                continue
            j = first_of.setdefault(key, i)
            if j != i:
                mask[i], first[i] = True, j
        return mask, first
    for i, key in enumerate(zip(*columns, strict=True)):
        if any(k is None for k in key):
            continue
        j = first_of.setdefault(key, i)
        if j != i:
            mask[i], first[i] = True, j
    return mask, first


def _check_duplicates(sheet: str, df: dict[str, np.ndarray], t: RawTable, iss: _Issues) -> None:
    mask, first = duplicate_rows(df)
    rows = t.rows
    if sheet == "KPI plan":
        letter = t.columns.get("period", "A")
        for i in np.nonzero(mask)[0]:
            iss.add("kpi_plan.duplicate", sheet, f"{letter}{rows[i]}", "period",
                    f"{df['period'][i]} / {df['line_id'][i]} has a planned KPI value already (row {rows[first[i]]})")
        return
    if sheet == "Forecast":
        letter = t.columns.get("period", "A")
        for i in np.nonzero(mask)[0]:
            iss.add("forecast.duplicate", sheet, f"{letter}{rows[i]}", "period",
                    f"{df['period'][i]} / {df['line_id'][i]} is forecast more than once (first on row {rows[first[i]]})")
        return
    letter = t.columns.get("amount", t.columns.get("period", "A"))
    for i in np.nonzero(mask)[0]:
        j = first[i]
        a, k, fa, fk = df["amount"][i], df["kpi_value"][i], df["amount"][j], df["kpi_value"][j]
        same = _same(a, fa) and _same(k, fk)
        rule = "actuals.duplicate_row" if same else "actuals.duplicate_conflict"
        what = "again with the same values" if same else (
            f"again with amount {_fmt(a)} / KPI {_fmt(k)} (row {rows[j]}: amount {_fmt(fa)} / KPI {_fmt(fk)})")
        iss.add(rule, sheet, f"{letter}{rows[i]}", "amount", f"{df['period'][i]} / {df['line_id'][i]} is reported {what}")


def _same(a: Any, b: Any) -> bool:
    if a is None or (isinstance(a, float) and math.isnan(a)):
        return b is None or (isinstance(b, float) and math.isnan(b))
    return a == b


def _fmt(x: Any) -> str:
    return "blank" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:,.2f}"


# --- the whole workbook ----------------------------------------------------------------------------
def _check_formulas(raw: RawWorkbook, iss: _Issues) -> None:
    """Formula and error cells matter only where the import reads a value."""
    used: dict[str, set[str]] = {}
    case_cells = {cell for _, cell in raw.case.fields.values()} | {raw.version[1]}
    used["Case"] = case_cells
    for sheet, t in raw.tables.items():
        letters = set(t.columns.values()) | {letter for _, letter in t.period_headers}
        used[sheet] = letters

    def is_used(sheet: str, cell: str) -> bool:
        if sheet == "Case":
            return cell in used["Case"]
        if sheet not in used:
            return False
        m = re.match(r"([A-Z]+)(\d+)", cell)
        return bool(m) and m.group(1) in used[sheet] and int(m.group(2)) >= schema.HEADER_ROW

    for sheet, cells in raw.formula_cells.items():
        for c in cells:
            if is_used(sheet, c):
                iss.add("workbook.formula_not_calculated", sheet, c, "",
                        "formula without a calculated value (the file was saved by a program that does not "
                        "calculate): open it in Excel and save it, or type the value")
    for sheet, cells in raw.error_cells.items():
        for c in cells:
            if is_used(sheet, c):
                iss.add("workbook.error_value", sheet, c, "", "the cell holds an Excel error (#DIV/0!, #REF!, #N/A...)")


def check_workbook(raw: RawWorkbook, as_of: object = None, file_warnings: Sequence[str] = ()) -> CheckedWorkbook:
    """Run every rule of :data:`RULES` over a workbook as read; return issues and typed content.

    Parameters
    ----------
    raw : RawWorkbook
        From :func:`vmo_lib.intake.workbook.read_workbook` (or :func:`~vmo_lib.intake.workbook.parse_sheets`).
    as_of : str or date, optional
        Review quarter (``"2026Q3"``); actuals after it are left out with a warning
        (``actuals.after_review``), errors when after today's quarter too. Default: today's quarter.
    file_warnings : sequence of str
        Warnings from the file check (:func:`vmo_lib.intake.safety.check_workbook_file`), reported as
        ``workbook.file_warning``.

    Returns
    -------
    CheckedWorkbook

    Examples
    --------
    >>> from vmo_lib.intake.workbook import parse_sheets
    >>> raw = parse_sheets({"Case": [[], ["Template version", "1.0"]]})
    >>> sorted(set(check_workbook(raw).issues["rule"]))[:2]
    ['case.missing_field', 'workbook.missing_sheet']
    """
    as_of = resolve_as_of(as_of)
    iss = _Issues(raw.path)
    for w in file_warnings:
        iss.add("workbook.file_warning", "", "", "", w)
    present = set(raw.tables) | ({"Case"} if any(n.strip().lower() == "case" for n in raw.sheet_names) else set())
    for sheet in schema.REQUIRED_SHEETS:
        if sheet not in present:
            iss.add("workbook.missing_sheet", sheet, "", "", f"the workbook has no {sheet!r} sheet; start from the current template")
    _check_formulas(raw, iss)
    for sheet, found in raw.invisible_cells.items():
        for cell, codes in found:
            iss.add("text.invisible_characters", sheet, cell, "",
                    f"removed invisible or control characters {', '.join(codes)} from the text (they can reorder, "
                    "hide or fake what is displayed); expected plain text: check the cell reads as intended")
    if "Case" in present:
        meta = _check_case(raw, iss)
    else:  # the missing sheet says it all; no issue per absent field
        meta = {"template_version": None, **{c.key: None for c in schema.CASE_FIELDS}}
    length = meta.get("period_length")

    lines: dict[str, dict[str, np.ndarray]] = {}
    amounts: dict[str, tuple[list[int], np.ndarray]] = {}
    letters: dict[str, list[str]] = {}
    for sheet in schema.WIDE_SHEETS:
        t = raw.tables.get(sheet)
        if t is None:
            continue
        _check_columns(t, iss)
        df = _typed_columns(t, iss, length, meta.get("first_period"))
        _check_ids(t, df, iss)
        pos, ts = _check_period_headers(t, meta, iss)
        nums = _check_amounts(t, df, pos, ts, iss)
        _check_line_attributes(sheet, t, df, nums, meta, iss)
        lines[sheet] = df
        amounts[sheet] = (ts, nums)
        letters[sheet] = [t.period_headers[j][1] for j in pos]
    typical = typical_amount(np.concatenate([n.ravel() for _, n in amounts.values()])) if amounts else math.nan
    benefit_type_of: dict[str, Any] = {}
    if "Benefits" in lines:
        benefit_type_of = {lid: bt for lid, bt in zip(lines["Benefits"]["line_id"], lines["Benefits"]["benefit_type"],
                                                      strict=True) if lid is not None}
    for sheet, kind in (("Costs", "cost"), ("Benefits", "benefit")):
        if sheet in lines:
            _check_plan_amounts(sheet, kind, lines[sheet], amounts[sheet], letters[sheet], raw.tables[sheet].columns,
                                meta, typical, iss)
    _check_line_ids_across(lines, raw.tables, iss)
    if "Costs" in raw.tables and not len(raw.tables["Costs"]):
        iss.add("case.no_costs", "Costs", f"A{schema.TABLE_FIRST_ROW}", "",
                "the case has no cost line: every investment costs something")
    if ("Benefits" in raw.tables and not len(raw.tables["Benefits"])
            and meta.get("case_type") != "Regulatory/mandatory"):
        iss.add("case.no_benefits", "Benefits", f"A{schema.TABLE_FIRST_ROW}", "",
                "the case has no benefit line (only a Regulatory/mandatory case may have none)")

    known: dict[str, str] = {}
    for sheet, kind in (("Costs", "cost"), ("Benefits", "benefit")):
        if sheet in lines:
            for lid in lines[sheet]["line_id"]:
                if lid is not None:
                    known.setdefault(lid, kind)
    long: dict[str, dict[str, np.ndarray]] = {}
    for sheet in ("Actuals", "Forecast", "KPI plan", "Baselines"):
        t = raw.tables.get(sheet)
        if t is None:
            continue
        _check_columns(t, iss)
        df = _typed_columns(t, iss, length, meta.get("first_period"))
        _check_ids(t, df, iss)
        long[sheet] = _check_long(sheet, t, df, meta, known, as_of, iss)
        if "amount" in t.columns and len(t):
            d = long[sheet]
            letter = t.columns["amount"]
            what = {"Actuals": "actual", "Forecast": "forecast", "Baselines": "re-baseline amount"}[sheet]
            # the cell and label of a row are made only for the amounts with a problem
            labels = _ByPosition(lambda i, _, w=what, k=d["kind"], x=d["line_id"], p=d["period"]:
                                 f"{w} for {k[i] or 'line'} {x[i]} in {p[i]}:", 1)
            cells = _ByPosition(lambda i, _, c=letter, r=d["row"]: f"{c}{r[i]}", 1)
            _report_amounts(iss, sheet, d["amount"].astype(float), d["kind"], _lookup(d["line_id"], benefit_type_of),
                            typical, cells, labels)
    if schema.BENEFIT_MAP_SHEET in raw.tables:  # optional: the benefits dependency network
        t = raw.tables[schema.BENEFIT_MAP_SHEET]
        _check_columns(t, iss)
        df = _typed_columns(t, iss, length, meta.get("first_period"))
        _check_ids(t, df, iss, "node_id")
        long[t.sheet] = check_benefit_map(t, df, lines, iss.add)
    if "Baselines" in long:
        _check_rebaselines(raw.tables["Baselines"], long["Baselines"], lines, amounts, iss)
    if len(long.get("Actuals", {}).get("row", ())) and len(long.get("Forecast", {}).get("row", ())):
        a, f = long["Actuals"], long["Forecast"]
        reported = {k for k in zip(a["period"], a["line_id"], strict=True) if None not in k}
        both = np.array([k in reported for k in zip(f["period"], f["line_id"], strict=True)], dtype=bool)
        letter = raw.tables["Forecast"].columns.get("period", "A")
        iss.add_many("forecast.already_actual", "Forecast", [f"{letter}{r}" for r in f["row"][both]], "period",
                     [f"{p} / {x} already has an actual; the forecast is kept but the actual wins in the outlook"
                      for p, x in zip(f["period"][both], f["line_id"][both], strict=True)])
    cells = {k: c for k, (_, c) in raw.case.fields.items()}
    _check_status_against_data(meta, cells, long.get("Actuals"), iss, long.get("Forecast"), as_of)
    return CheckedWorkbook(issues=iss.frame(), meta=meta, lines=lines, amounts=amounts, long=long, as_of=as_of,
                           cells=cells)
