"""Every validation rule fires on a fault injected into a real workbook, naming the right cell.

Each case starts from a valid workbook written by ``write_case_workbook`` (see conftest), breaks
one thing with openpyxl, and checks the rule id, the sheet and the cell of the issue. Cell
addresses are worked out here from the template layout in ``vmo_lib.schema`` (never from the
reader), so a reader that looks in the wrong place fails.
"""

from __future__ import annotations

import datetime as dt
import io
import re
import shutil
import zipfile
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from openpyxl.utils import get_column_letter

from vmo_lib import schema
from vmo_lib.intake.loader import validate_workbook
from vmo_lib.intake.validation import ISSUE_COLUMNS, RULES, check_workbook, resolve_as_of
from vmo_lib.intake.workbook import parse_sheets, read_workbook, scan_formula_cells

AS_OF = "2026Q3"
HR = schema.HEADER_ROW


# --- where things are in the template (independent of the reader) ---------------------------------
def col(sheet: str, key: str) -> str:
    keys = [c.key for c in schema.TABLE_COLUMNS[sheet]]
    return get_column_letter(keys.index(key) + 1)


def pcol(sheet: str, t: int) -> str:
    """Column of period t (0 = 2026Q1) on Costs/Benefits."""
    return get_column_letter(len(schema.TABLE_COLUMNS[sheet]) + 1 + t)


def case_cell(key: str) -> str:
    keys = [c.key for c in schema.CASE_FIELDS]
    return f"B{schema.CASE_FIRST_ROW + keys.index(key)}"


def put(sheet: str, cell: str, value):
    def edit(wb):
        wb[sheet][cell] = value
    return edit


def edits(*fns):
    def edit(wb):
        for f in fns:
            f(wb)
    return edit


def row_put(sheet: str, row: int, values: dict):
    return edits(*(put(sheet, f"{col(sheet, k)}{row}", v) for k, v in values.items()))


# Rows of the base workbook: Costs C1=5, C2=6; Benefits B1=5, B2=6; Actuals 5..8 (next 9);
# Forecast 5 (next 6); Baselines 5..7.
C1, C2, B1, B2 = 5, 6, 5, 6


@pytest.fixture(scope="module")
def base_workbook(tmp_path_factory) -> Path:
    """The valid workbook, written once per module (tests copy it)."""
    from conftest import (
        VALID_ACTUALS,
        VALID_BENEFITS,
        VALID_COSTS,
        VALID_FORECAST,
        VALID_META,
        VALID_REBASELINES,
    )

    from vmo_lib.intake.template import write_case_workbook
    from vmo_lib.model import make_case

    case = make_case(VALID_META, VALID_COSTS, VALID_BENEFITS, VALID_ACTUALS, VALID_FORECAST, VALID_REBASELINES)
    return write_case_workbook(case, tmp_path_factory.mktemp("base") / "base.xlsx")


@pytest.fixture
def broken(base_workbook, tmp_path):
    """broken(edit) → issues table of a copy of the valid workbook changed by ``edit(wb)``."""
    def make(edit, as_of=AS_OF, name="case.xlsx"):
        path = tmp_path / name
        shutil.copy(base_workbook, path)
        if edit is not None:
            wb = openpyxl.load_workbook(path)
            edit(wb)
            wb.save(path)
        return validate_workbook(path, as_of=as_of)
    return make


def where(issues: pd.DataFrame, rule: str) -> set[tuple[str, str]]:
    return {(s, c) for s, c in issues.loc[issues["rule"] == rule, ["sheet", "cell"]].itertuples(index=False)}


# --- the valid workbook ---------------------------------------------------------------------------
def test_the_valid_workbook_has_no_issue(broken):
    issues = broken(None)
    assert list(issues.columns) == list(ISSUE_COLUMNS)
    assert issues.empty, issues.to_string()


# --- one fault, one rule, one cell ----------------------------------------------------------------
FAULTS = [
    # (rule, edit, expected (sheet, cell), severity)
    ("template.missing_version", put("Case", "B2", None), ("Case", "B2"), "error"),
    ("template.unknown_version", put("Case", "B2", "9.9"), ("Case", "B2"), "error"),
    ("case.missing_field", put("Case", case_cell("title"), None), ("Case", case_cell("title")), "error"),
    ("case.missing_field", put("Case", "A" + case_cell("sponsor")[1:], None), ("Case", "A:A"), "error"),
    ("case.unknown_field", edits(put("Case", "A40", "Colour"), put("Case", "B40", "blue")), ("Case", "A40"), "warning"),
    ("case.duplicate_field", edits(put("Case", "A40", "Title *"), put("Case", "B40", "Other")), ("Case", "A40"), "error"),
    ("case.invalid_id", put("Case", case_cell("case_id"), "../../etc/passwd"), ("Case", case_cell("case_id")), "error"),
    ("case.invalid_id", put("Case", case_cell("case_id"), "CON"), ("Case", case_cell("case_id")), "error"),
    ("case.go_live_outside_horizon", put("Case", case_cell("go_live_period"), "2028Q1"),
     ("Case", case_cell("go_live_period")), "error"),
    ("case.missing_approval_date", put("Case", case_cell("approval_date"), None), ("Case", case_cell("approval_date")), "error"),
    ("column.missing", put("Costs", f"{col('Costs', 'category')}{HR}", None), ("Costs", f"{HR}:{HR}"), "error"),
    ("column.unknown", edits(put("Costs", f"{pcol('Costs', 9)}{HR}", "Notes"), put("Costs", f"{pcol('Costs', 9)}5", "x")),
     ("Costs", f"{pcol('Costs', 9)}{HR}"), "warning"),
    ("column.duplicate", put("Costs", f"{pcol('Costs', 9)}{HR}", "Line id"), ("Costs", f"{pcol('Costs', 9)}{HR}"), "error"),
    ("column.no_header", put("Costs", f"{pcol('Costs', 9)}{C1}", 42), ("Costs", f"{pcol('Costs', 9)}{HR}"), "error"),
    ("value.not_a_number", put("Costs", f"{pcol('Costs', 0)}{C1}", "lots"), ("Costs", f"{pcol('Costs', 0)}{C1}"), "error"),
    ("value.number_as_text", put("Costs", f"{pcol('Costs', 0)}{C1}", "100"), ("Costs", f"{pcol('Costs', 0)}{C1}"), "warning"),
    ("value.not_finite", put("Costs", f"{pcol('Costs', 0)}{C1}", "inf"), ("Costs", f"{pcol('Costs', 0)}{C1}"), "error"),
    ("value.not_finite", put("Actuals", "C5", "NaN"), ("Actuals", "C5"), "error"),
    ("value.not_integer", put("Case", case_cell("horizon"), 8.5), ("Case", case_cell("horizon")), "error"),
    ("value.out_of_range", put("Case", case_cell("discount_rate"), 1.5), ("Case", case_cell("discount_rate")), "error"),
    ("value.out_of_range", put("Case", case_cell("horizon"), 0), ("Case", case_cell("horizon")), "error"),
    ("value.out_of_range", put("Costs", f"{col('Costs', 'low')}{C1}", -5), ("Costs", f"{col('Costs', 'low')}{C1}"), "error"),
    ("value.not_a_date", put("Case", case_cell("approval_date"), "last spring"), ("Case", case_cell("approval_date")), "error"),
    ("value.not_a_date", put("Benefits", f"{col('Benefits', 'baseline_date')}{B1}", "soon"),
     ("Benefits", f"{col('Benefits', 'baseline_date')}{B1}"), "error"),
    ("value.not_a_period", put("Actuals", "A5", "Q3 last year"), ("Actuals", "A5"), "error"),
    ("value.not_a_period", put("Case", case_cell("first_period"), "spring"), ("Case", case_cell("first_period")), "error"),
    ("line.blank_id", put("Costs", f"A{C2}", None), ("Costs", f"A{C2}"), "error"),
    ("line.blank_id", put("Actuals", "B6", None), ("Actuals", "B6"), "error"),
    ("line.invalid_id", put("Costs", f"A{C1}", "C 1/x"), ("Costs", f"A{C1}"), "error"),
    ("line.duplicate_id", put("Benefits", f"A{B2}", "C2"), ("Benefits", f"A{B2}"), "error"),
    ("line.duplicate_id", put("Costs", f"A{C2}", "C1"), ("Costs", f"A{C2}"), "error"),
    ("line.missing_value", put("Costs", f"{col('Costs', 'name')}{C1}", None), ("Costs", f"{col('Costs', 'name')}{C1}"), "error"),
    ("line.missing_value", put("Benefits", f"{col('Benefits', 'data_source')}{B1}", None),
     ("Benefits", f"{col('Benefits', 'data_source')}{B1}"), "warning"),
    ("line.missing_value", put("Forecast", "C5", None), ("Forecast", "C5"), "error"),
    ("line.price_base_mismatch", put("Costs", f"{col('Costs', 'price_base')}{C1}", "nominal"),
     ("Costs", f"{col('Costs', 'price_base')}{C1}"), "error"),
    ("line.three_point_order", put("Costs", f"{col('Costs', 'low')}{C1}", 300), ("Costs", f"{col('Costs', 'low')}{C1}"), "error"),
    ("line.three_point_order", put("Costs", f"{col('Costs', 'high')}{C1}", 240), ("Costs", f"{col('Costs', 'high')}{C1}"), "error"),
    ("line.likely_vs_periods", edits(put("Costs", f"{col('Costs', 'likely')}{C1}", 300),
                                     put("Costs", f"{col('Costs', 'high')}{C1}", 500)),
     ("Costs", f"{col('Costs', 'likely')}{C1}"), "warning"),
    ("costs.negative_amount", put("Costs", f"{pcol('Costs', 1)}{C1}", -100), ("Costs", f"{pcol('Costs', 1)}{C1}"), "error"),
    ("benefits.negative_amount", put("Benefits", f"{pcol('Benefits', 4)}{B1}", -40),
     ("Benefits", f"{pcol('Benefits', 4)}{B1}"), "error"),
    ("benefits.positive_disbenefit", put("Benefits", f"{pcol('Benefits', 2)}{B2}", 5),
     ("Benefits", f"{pcol('Benefits', 2)}{B2}"), "error"),
    ("benefits.missing_owner", put("Benefits", f"{col('Benefits', 'owner')}{B1}", None),
     ("Benefits", f"{col('Benefits', 'owner')}{B1}"), "error"),
    ("benefits.missing_kpi", put("Benefits", f"{col('Benefits', 'kpi')}{B2}", None),
     ("Benefits", f"{col('Benefits', 'kpi')}{B2}"), "error"),
    ("benefits.missing_unit", put("Benefits", f"{col('Benefits', 'unit')}{B1}", "  "),
     ("Benefits", f"{col('Benefits', 'unit')}{B1}"), "error"),
    ("benefits.missing_baseline", put("Benefits", f"{col('Benefits', 'baseline_value')}{B1}", None),
     ("Benefits", f"{col('Benefits', 'baseline_value')}{B1}"), "error"),
    ("benefits.baseline_after_go_live", put("Benefits", f"{col('Benefits', 'baseline_date')}{B1}", dt.date(2026, 12, 1)),
     ("Benefits", f"{col('Benefits', 'baseline_date')}{B1}"), "error"),
    ("benefits.target_before_baseline", put("Benefits", f"{col('Benefits', 'target_date')}{B1}", dt.date(2025, 1, 1)),
     ("Benefits", f"{col('Benefits', 'target_date')}{B1}"), "error"),
    ("period.unparseable_header", put("Costs", f"{pcol('Costs', 0)}{HR}", "2026Q5"), ("Costs", f"{pcol('Costs', 0)}{HR}"), "error"),
    ("period.unparseable_header", put("Benefits", f"{pcol('Benefits', 3)}{HR}", "2026"),
     ("Benefits", f"{pcol('Benefits', 3)}{HR}"), "error"),
    ("period.not_consecutive", edits(put("Costs", f"{pcol('Costs', 1)}{HR}", "2026Q3"),
                                     put("Costs", f"{pcol('Costs', 2)}{HR}", "2026Q2")),
     ("Costs", f"{pcol('Costs', 1)}{HR}"), "error"),
    ("period.wrong_start", put("Case", case_cell("first_period"), "2025Q4"), ("Costs", f"{pcol('Costs', 0)}{HR}"), "error"),
    ("period.outside_horizon", put("Case", case_cell("horizon"), 6), ("Costs", f"{pcol('Costs', 6)}{HR}"), "error"),
    ("actuals.outside_horizon", put("Actuals", "A5", "2025Q4"), ("Actuals", "A5"), "error"),
    ("actuals.unknown_line", put("Actuals", "B5", "C9"), ("Actuals", "B5"), "error"),
    ("actuals.duplicate_conflict", row_put("Actuals", 9, {"period": "2026Q1", "line_id": "C1", "amount": 95}),
     ("Actuals", "C9"), "error"),
    ("actuals.duplicate_row", row_put("Actuals", 9, {"period": "2026Q1", "line_id": "C1", "amount": 90}),
     ("Actuals", "C9"), "warning"),
    ("actuals.no_value", put("Actuals", "C7", None), ("Actuals", "C7"), "warning"),
    ("forecast.unknown_line", put("Forecast", "B5", "B9"), ("Forecast", "B5"), "error"),
    ("forecast.outside_horizon", put("Forecast", "A5", "2030Q1"), ("Forecast", "A5"), "error"),
    ("forecast.already_actual", row_put("Forecast", 6, {"period": "2026Q1", "line_id": "C1", "amount": 80}),
     ("Forecast", "A6"), "warning"),
    ("forecast.duplicate", row_put("Forecast", 6, {"period": "2026Q4", "line_id": "B1", "amount": 31}),
     ("Forecast", "A6"), "error"),
    ("baselines.unknown_line", put("Baselines", "E5", "C9"), ("Baselines", "E5"), "error"),
    ("baselines.outside_horizon", put("Baselines", "D5", "2024Q1"), ("Baselines", "D5"), "error"),
    ("workbook.missing_sheet", lambda wb: wb.remove(wb["Benefits"]), ("Benefits", ""), "error"),
    ("workbook.formula_not_calculated", put("Costs", f"{pcol('Costs', 0)}{C1}", "=50+50"),
     ("Costs", f"{pcol('Costs', 0)}{C1}"), "error"),
]


def _fault_id(f) -> str:
    return f"{f[0]}@{f[2][0]}!{f[2][1]}"


@pytest.mark.parametrize(("rule", "edit", "expected", "severity"), FAULTS, ids=[_fault_id(f) for f in FAULTS])
def test_fault_is_reported_by_rule_with_its_cell(broken, rule, edit, expected, severity):
    issues = broken(edit)
    assert expected in where(issues, rule), issues.to_string()
    row = issues[(issues["rule"] == rule) & (issues["sheet"] == expected[0]) & (issues["cell"] == expected[1])].iloc[0]
    assert row["severity"] == severity
    assert row["message"] and row["file"].endswith("case.xlsx")


CHOICES = [
    ("Case", case_cell("status"), "signed off"),
    ("Case", case_cell("case_type"), "IT stuff"),
    ("Case", case_cell("price_base"), "constant"),
    ("Case", case_cell("discount_schedule"), "declining"),
    ("Case", case_cell("period_length"), "month"),
    ("Costs", f"{col('Costs', 'category')}{C1}", "capital"),
    ("Costs", f"{col('Costs', 'distribution')}{C1}", "normal"),
    ("Benefits", f"{col('Benefits', 'benefit_type')}{B1}", "cash"),
    ("Benefits", f"{col('Benefits', 'frequency')}{B1}", "weekly"),
    ("Benefits", f"{col('Benefits', 'confidence')}{B1}", "certain"),
    ("Benefits", f"{col('Benefits', 'kpi_rollup')}{B1}", "median"),
    ("Benefits", f"{col('Benefits', 'price_base')}{B1}", "cash"),
]


@pytest.mark.parametrize(("sheet", "cell", "value"), CHOICES, ids=[f"{s}!{c}" for s, c, _ in CHOICES])
def test_value_outside_the_drop_down_list_is_reported_with_its_cell(broken, sheet, cell, value):
    issues = broken(put(sheet, cell, value))
    assert (sheet, cell) in where(issues, "choice.not_allowed")
    msg = issues.loc[(issues["rule"] == "choice.not_allowed") & (issues["cell"] == cell), "message"].iloc[0]
    assert repr(value) in msg


def test_choices_ignore_case_and_spacing(broken):
    issues = broken(edits(put("Case", case_cell("status"), "  In  Delivery "),
                          put("Benefits", f"{col('Benefits', 'benefit_type')}{B1}", "Cash-Releasing")))
    assert issues.empty, issues.to_string()


def test_missing_baseline_is_only_a_warning_while_proposed(broken):
    issues = broken(edits(put("Case", case_cell("status"), "proposed"),
                          put("Benefits", f"{col('Benefits', 'baseline_date')}{B1}", None)))
    cell = f"{col('Benefits', 'baseline_date')}{B1}"
    assert ("Benefits", cell) in where(issues, "benefits.missing_baseline")
    assert set(issues["severity"]) == {"warning"}


def test_actuals_after_the_review_date_and_today_are_errors(broken, monkeypatch):
    import vmo_lib.intake.validation as validation

    monkeypatch.setattr(validation, "current_quarter", lambda: "2026Q2")  # 2026Q3 has not happened yet
    issues = broken(None, as_of="2026Q2")  # rows 7 and 8 report 2026Q3
    assert where(issues, "actuals.future_period") == {("Actuals", "A7"), ("Actuals", "A8")}
    assert where(issues, "actuals.after_review") == set()


def test_actuals_after_an_earlier_review_date_are_left_out_with_a_warning(broken, monkeypatch):
    import vmo_lib.intake.validation as validation

    monkeypatch.setattr(validation, "current_quarter", lambda: "2026Q3")  # reviewing 2026Q2 a quarter later
    issues = broken(None, as_of="2026Q2")
    assert where(issues, "actuals.after_review") == {("Actuals", "A7"), ("Actuals", "A8")}
    assert set(issues.loc[issues["rule"] == "actuals.after_review", "severity"]) == {"warning"}
    assert where(issues, "actuals.future_period") == set()


def test_period_header_out_of_order_names_both_cells(broken):
    issues = broken(edits(put("Costs", f"{pcol('Costs', 1)}{HR}", "2026Q3"),
                          put("Costs", f"{pcol('Costs', 2)}{HR}", "2026Q2")))
    assert where(issues, "period.not_consecutive") == {("Costs", f"{pcol('Costs', 1)}{HR}"),
                                                       ("Costs", f"{pcol('Costs', 2)}{HR}")}


def test_a_shorter_horizon_flags_every_period_column_with_amounts_beyond_it(broken):
    issues = broken(put("Case", case_cell("horizon"), 6))
    # C2 (opex) and B1 have amounts in t = 6, 7; the reverse check: no column inside the horizon
    assert where(issues, "period.outside_horizon") == {
        ("Costs", f"{pcol('Costs', 6)}{HR}"), ("Costs", f"{pcol('Costs', 7)}{HR}"),
        ("Benefits", f"{pcol('Benefits', 6)}{HR}"), ("Benefits", f"{pcol('Benefits', 7)}{HR}")}


def test_a_case_with_no_cost_line_is_an_error(workbook_factory, case_factory):
    path = workbook_factory(case_factory(costs=[], actuals=[], rebaselines=[]))
    issues = validate_workbook(path, as_of=AS_OF)
    assert where(issues, "case.no_costs") == {("Costs", f"A{schema.TABLE_FIRST_ROW}")}


def test_no_benefits_is_a_warning_except_for_regulatory_cases(workbook_factory, case_factory):
    ordinary = workbook_factory(case_factory(benefits=[], actuals=[VALID_COST_ACTUAL], forecast=[]), name="a.xlsx")
    issues = validate_workbook(ordinary, as_of=AS_OF)
    assert where(issues, "case.no_benefits") == {("Benefits", f"A{schema.TABLE_FIRST_ROW}")}
    assert set(issues["severity"]) == {"warning"}
    mandatory = workbook_factory(case_factory(benefits=[], actuals=[VALID_COST_ACTUAL], forecast=[],
                                              case_type="Regulatory/mandatory"), name="b.xlsx")
    assert validate_workbook(mandatory, as_of=AS_OF).empty


VALID_COST_ACTUAL = {"period": "2026Q1", "line_id": "C1", "amount": 90.0}


def test_a_benefit_with_no_amounts_and_no_target_is_a_warning(workbook_factory, case_factory):
    from conftest import VALID_BENEFITS

    empty = {**VALID_BENEFITS[0], "line_id": "B3", "amounts": [], "target_value": None}
    path = workbook_factory(case_factory(benefits=[*VALID_BENEFITS, empty]))
    issues = validate_workbook(path, as_of=AS_OF)
    assert where(issues, "benefits.no_amounts_no_target") == {("Benefits", "A7")}


def test_excel_error_values_and_cached_formulas_are_told_apart(base_workbook, tmp_path):
    """A formula with a cached value is fine; an error value (#DIV/0!) is reported by cell."""
    cell_ok, cell_err = f"{pcol('Costs', 0)}{C1}", f"{pcol('Costs', 1)}{C1}"
    path = _rewrite_sheet_xml(base_workbook, tmp_path / "f.xlsx", "Costs", {
        cell_ok: f'<c r="{cell_ok}"><f>60+40</f><v>100</v></c>',
        cell_err: f'<c r="{cell_err}" t="e"><f>1/0</f><v>#DIV/0!</v></c>',
    }, recalc=False)
    issues = validate_workbook(path, as_of=AS_OF)
    assert where(issues, "workbook.error_value") == {("Costs", cell_err)}
    assert where(issues, "workbook.formula_not_calculated") == set()


def test_xlsxwriter_placeholder_zero_is_flagged_when_excel_must_recalculate(base_workbook, tmp_path):
    cell = f"{pcol('Costs', 0)}{C1}"
    path = _rewrite_sheet_xml(base_workbook, tmp_path / "z.xlsx", "Costs",
                              {cell: f'<c r="{cell}"><f>60+40</f><v>0</v></c>'}, recalc=True)
    assert where(validate_workbook(path, as_of=AS_OF), "workbook.formula_not_calculated") == {("Costs", cell)}


def test_formula_outside_the_cells_the_import_reads_is_ignored(broken):
    issues = broken(put("Costs", "A1", "=1+1"))  # the title row
    assert issues.empty, issues.to_string()


def _rewrite_sheet_xml(src: Path, dst: Path, sheet: str, cells: dict[str, str], recalc: bool) -> Path:
    """Copy a workbook replacing whole <c> elements of one sheet (what Excel would have saved)."""
    with zipfile.ZipFile(src) as zin:
        parts = {n: zin.read(n) for n in zin.namelist()}
    idx = [ws.title for ws in openpyxl.load_workbook(src, read_only=True).worksheets].index(sheet) + 1
    name = f"xl/worksheets/sheet{idx}.xml"
    xml = parts[name].decode()
    for ref, new in cells.items():
        xml, n = re.subn(rf'<c r="{ref}"[^>]*?(?:/>|>.*?</c>)', new, xml, count=1)
        assert n == 1, ref
    parts[name] = xml.encode()
    wbxml = parts["xl/workbook.xml"].decode()
    wbxml = re.sub(r'\s*fullCalcOnLoad="1"', "", wbxml)
    if recalc:
        wbxml = wbxml.replace("<calcPr ", '<calcPr fullCalcOnLoad="1" ')
    parts["xl/workbook.xml"] = wbxml.encode()
    with zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zout:
        for n, data in parts.items():
            zout.writestr(n, data)
    return dst


def test_file_check_warnings_travel_as_issues(workbook_factory):
    path = workbook_factory(name="macro.xlsm")
    issues = validate_workbook(path, as_of=AS_OF)
    assert list(issues["rule"]) == ["workbook.file_warning"]
    assert issues["severity"].tolist() == ["warning"] and "macro" in issues["message"].iloc[0]


# --- all at once -------------------------------------------------------------------------------------
def test_every_problem_is_reported_at_once(broken):
    issues = broken(edits(
        put("Case", case_cell("title"), None),
        put("Costs", f"{pcol('Costs', 1)}{C1}", -100),
        put("Benefits", f"{col('Benefits', 'owner')}{B1}", None),
        put("Actuals", "B5", "C9"),
    ))
    assert {"case.missing_field", "costs.negative_amount", "benefits.missing_owner", "actuals.unknown_line"} <= set(issues["rule"])
    assert (issues["severity"] == "error").sum() == 4


def test_issues_are_sorted_by_sheet_then_row_then_column(broken):
    issues = broken(edits(put("Benefits", f"{col('Benefits', 'owner')}{B2}", None),
                          put("Costs", f"{pcol('Costs', 1)}{C2}", -1),
                          put("Costs", f"{pcol('Costs', 0)}{C2}", -1),
                          put("Case", case_cell("title"), None)))
    assert [f"{s}!{c}" for s, c in issues[["sheet", "cell"]].itertuples(index=False)] == [
        f"Case!{case_cell('title')}", f"Costs!{pcol('Costs', 0)}{C2}", f"Costs!{pcol('Costs', 1)}{C2}",
        f"Benefits!{col('Benefits', 'owner')}{B2}"]


# --- the reader on its own ---------------------------------------------------------------------------
def test_reader_tolerates_reordered_columns_marker_stars_and_whitespace():
    grid = [[], [], [], [" * Cost line", "LINE ID*", "2026Q1 ", "Category"], ["Build", " C1 ", 100.0, "capex"]]
    t = parse_sheets({"Costs": grid}).tables["Costs"]
    assert t.columns == {"name": "A", "line_id": "B", "category": "D"}
    assert t.period_headers == [("2026Q1", "C")]
    assert t.column("line_id").tolist() == ["C1"]


def test_scan_finds_formulas_without_value_and_error_cells():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("xl/workbook.xml", '<workbook><sheets><sheet name="Costs" sheetId="1" r:id="rId1"/></sheets>'
                                      '<calcPr calcId="1"/></workbook>')
        z.writestr("xl/_rels/workbook.xml.rels", '<Relationships><Relationship Id="rId1" Target="worksheets/s1.xml"/>'
                                                 "</Relationships>")
        z.writestr("xl/worksheets/s1.xml", '<worksheet><sheetData><row r="5">'
                   '<c r="J5"><f>1+1</f></c><c r="K5"><f>1+1</f><v></v></c><c r="L5"><f>1+1</f><v>2</v></c>'
                   '<c r="M5" t="e"><v>#REF!</v></c><c r="N5" t="s"><v>0</v></c><c r="O5"><f t="shared" si="0"/></c>'
                   "</row></sheetData><dataValidations><dataValidation><formula1>1</formula1></dataValidation>"
                   "</dataValidations></worksheet>")
    formulas, errors = scan_formula_cells(zipfile.ZipFile(buf))
    assert formulas == {"Costs": ["J5", "K5", "O5"]}
    assert errors == {"Costs": ["M5"]}


def test_reader_reads_dates_as_dates_and_keeps_cell_references(base_workbook):
    raw = read_workbook(base_workbook)
    assert raw.case.fields["approval_date"] == (dt.date(2025, 12, 15), case_cell("approval_date"))
    assert raw.case.fields["horizon"] == (8.0, case_cell("horizon"))
    t = raw.tables["Benefits"]
    assert t.rows.tolist() == [B1, B2]
    assert t.column("baseline_date").tolist() == [dt.date(2025, 11, 1)] * 2


def test_resolve_as_of_defaults_to_todays_quarter():
    assert resolve_as_of(None, today=dt.date(2026, 11, 25)) == "2026Q4"
    with pytest.raises(ValueError, match="2026Q3"):
        resolve_as_of("soon")


def test_check_workbook_without_a_file_reports_missing_sheets():
    issues = check_workbook(parse_sheets({"Guide": [["hello"]]}), as_of=AS_OF).issues
    assert where(issues, "workbook.missing_sheet") == {("Case", ""), ("Costs", ""), ("Benefits", "")}


# --- the rule catalogue ------------------------------------------------------------------------------
def test_there_are_at_least_25_rules_and_every_rule_is_tested_here_or_in_test_loader():
    assert len(RULES) >= 25
    here = "".join((Path(__file__).parent / f).read_text() for f in ("test_validation.py", "test_loader.py",
                                                                       "test_benefit_map.py"))
    untested = [r for r in RULES if f'"{r}"' not in here]
    assert not untested, untested
    assert all(sev in ("error", "warning") for sev, _ in RULES.values())


# --- amounts: sign convention and plausibility bound (issue 15) --------------------------------------
# The plan's non-zero amounts (conftest): C1 100, 100, 50; C2 10 x6; B1 40 x5; B2 -5, -5. Sorted by size:
# 5 5 10 10 10 10 10 10 | 40 40 40 40 40 50 100 100 -> median (10 + 40) / 2 = 25, bound 1,000 x 25 = 25,000.
def _issue(issues, rule, sheet, cell):
    rows = issues[(issues["rule"] == rule) & (issues["sheet"] == sheet) & (issues["cell"] == cell)]
    assert len(rows) == 1, issues.to_string()
    return rows.iloc[0]


def test_a_negative_actual_cost_and_a_1e300_actual_benefit_are_errors(broken):
    # found before: an actual cost of -5,000,000 and a benefit of 1e300 validated OK
    issues = broken(edits(put("Actuals", "C5", -5_000_000), row_put("Actuals", 9, {"period": "2026Q3", "line_id": "B1",
                                                                                     "amount": 1e300})))
    neg = _issue(issues, "costs.negative_amount", "Actuals", "C5")
    assert neg["severity"] == "error"
    assert neg["message"].startswith("actual for cost C1 in 2026Q1: -5,000,000.00 is negative; expected a positive")
    big = _issue(issues, "value.implausible_amount", "Actuals", "C9")
    assert big["severity"] == "error"
    assert "1e+300" in big["message"] and "plausibility bound of 1e12" in big["message"]


def test_1e307_per_period_in_the_plan_is_an_error(broken):
    issues = broken(put("Costs", f"{pcol('Costs', 3)}{C2}", 1e307))
    row = _issue(issues, "value.implausible_amount", "Costs", f"{pcol('Costs', 3)}{C2}")
    assert row["severity"] == "error"
    assert row["message"].startswith("cost C2 in 2026Q4: 1e+307 is beyond the plausibility bound of 1e12")


def test_just_above_1e12_is_an_error_and_1e12_itself_only_a_warning(broken):
    issues = broken(edits(put("Forecast", "C5", 1e12 + 1e4), row_put("Forecast", 6, {"period": "2026Q4", "line_id": "C2",
                                                                                     "amount": 1e12})))
    assert _issue(issues, "value.implausible_amount", "Forecast", "C5")["severity"] == "error"
    assert _issue(issues, "value.implausible_amount", "Forecast", "C6")["severity"] == "warning"


def test_an_amount_above_1000x_the_median_line_period_amount_is_a_warning(broken):
    # median 25 (hand-worked above): 25,001 is flagged, 25,000 is not
    issues = broken(edits(put("Forecast", "C5", 25_001),
                          row_put("Forecast", 6, {"period": "2026Q4", "line_id": "C2", "amount": 25_000})))
    row = _issue(issues, "value.implausible_amount", "Forecast", "C5")
    assert row["severity"] == "warning"
    assert "more than 1,000x the case's median non-zero line-period amount (25.00)" in row["message"]
    assert "expected at most 25,000.00" in row["message"]
    assert ("Forecast", "C6") not in where(issues, "value.implausible_amount")
    assert not (issues["severity"] == "error").any(), issues.to_string()


def test_the_sign_convention_holds_on_forecast_actuals_and_rebaselines(broken):
    # costs positive; benefits positive; a dis-benefit (B2) negative: the same rule on every sheet
    issues = broken(edits(put("Forecast", "C5", -30),                       # B1 cash-releasing
                          put("Actuals", "C8", 4),                          # B2 dis-benefit, was -4
                          put("Baselines", "F5", -100)))                    # C1 cost
    assert _issue(issues, "benefits.negative_amount", "Forecast", "C5")["message"].startswith(
        "forecast for benefit B1 in 2026Q4: -30.00 is negative; expected a positive amount (only a line of type "
        "'dis-benefit'")
    assert "is positive on a dis-benefit; expected a negative amount" in _issue(
        issues, "benefits.positive_disbenefit", "Actuals", "C8")["message"]
    assert _issue(issues, "costs.negative_amount", "Baselines", "F5")["message"].startswith(
        "re-baseline amount for cost C1 in 2026Q1: -100.00 is negative")


def test_a_three_point_total_above_1e12_is_an_error(broken):
    cell = f"{col('Costs', 'high')}{C1}"
    row = _issue(broken(put("Costs", cell, 5e12)), "value.implausible_amount", "Costs", cell)
    assert row["severity"] == "error" and row["message"].startswith("line C1: high 5e+12 is beyond")


def test_typical_amount_and_amount_issues_by_hand():
    from vmo_lib.intake.validation import amount_issues, typical_amount

    assert typical_amount([[100, 100, 50, 0], [10, 10, 10, 10], [-5, -5, 0, 2e12]]) == 10.0
    got = amount_issues([0.0, -1.0, -1.0, 0.0, float("nan"), 10_001.0], ["cost", "benefit", "benefit", "benefit", "cost", "cost"],
                        [None, "dis-benefit", None, "cash-releasing", None, None], 10.0)
    # a zero is always allowed; a negative dis-benefit is right; an untyped benefit gets no sign check
    assert [(i, rule, sev) for i, rule, sev, _ in got] == [(5, "value.implausible_amount", "warning")]


# --- the horizon (issue 15) -------------------------------------------------------------------------
def test_a_one_period_horizon_is_refused_naming_the_case_cell(broken):
    issues = broken(put("Case", case_cell("horizon"), 1))
    row = _issue(issues, "value.out_of_range", "Case", case_cell("horizon"))
    assert row["severity"] == "error"
    assert row["message"].startswith("Horizon (periods) 1 is outside 2 to 400: expected at least 2 periods")
    assert ("Case", case_cell("horizon")) not in where(broken(put("Case", case_cell("horizon"), 2)), "value.out_of_range")


# --- re-baselines (issue 11) ----------------------------------------------------------------------------
# The base workbook's RB1 (approved 2026-06-30) states C1 on rows 5-7 (100, 120, 80) and restates C2, B1
# and B2 as a 0 in 2026Q1 on rows 8-10. Baselines columns: A version, B approved, C reason, D period,
# E line id, F amount, G carry over.
def _only_c1(wb):
    wb["Baselines"].delete_rows(8, 3)


def test_a_rebaseline_that_omits_lines_with_a_plan_names_each(broken):
    issues = broken(_only_c1)
    got = issues[issues["rule"] == "baselines.line_omitted"]
    assert set(got["sheet"] + "!" + got["cell"]) == {"Baselines!A5"}
    assert (got["severity"] == "error").all()
    # plan totals by hand: C2 10 x 6 = 60; B1 40 x 5 = 200; B2 -5 -5 = -10
    assert [m.split(": it")[0] for m in got["message"]] == [
        "re-baseline RB1 does not list line C2, whose plan in force before it (the original baseline) totals 60.00",
        "re-baseline RB1 does not list line B1, whose plan in force before it (the original baseline) totals 200.00",
        "re-baseline RB1 does not list line B2, whose plan in force before it (the original baseline) totals -10.00",
    ]
    assert all("'Carry over unlisted lines' = yes" in m for m in got["message"])


def test_a_line_with_no_plan_need_not_be_restated(broken):
    # C2 without any amount: nothing to lose, so RB1 may leave it out
    blank_c2 = edits(*(put("Costs", f"{pcol('Costs', t)}{C2}", None) for t in range(8)),
                     put("Costs", f"{col('Costs', 'likely')}{C2}", None))
    issues = broken(edits(blank_c2, lambda wb: wb["Baselines"].delete_rows(8, 1)))
    assert "baselines.line_omitted" not in set(issues["rule"]), issues.to_string()


def _carry(*rows):
    return edits(*(put("Baselines", f"G{r}", "yes") for r in rows))


def test_carry_over_yes_keeps_the_unlisted_lines_of_the_baseline_in_force(broken, base_workbook, tmp_path):
    from vmo_lib import load_case

    edit = edits(_only_c1, _carry(5, 6, 7))
    assert broken(edit).empty
    path = tmp_path / "case.xlsx"  # written by broken()
    rb1 = load_case(path, as_of=AS_OF).matrix("rebaseline:RB1")
    assert rb1.loc["C1"].tolist() == [100, 120, 80, 0, 0, 0, 0, 0]
    assert rb1.loc["C2"].tolist() == [0, 0, 10, 10, 10, 10, 10, 10]
    assert rb1.loc["B1"].tolist() == [0, 0, 0, 40, 40, 40, 40, 40]
    assert rb1.loc["B2"].tolist() == [0, 0, -5, -5, 0, 0, 0, 0]
    # net under RB1 by hand: -100, -120, -(80 + 10) - 5, 40 - 10 - 5, then 40 - 10
    assert load_case(path, as_of=AS_OF).net_flow("rebaseline:RB1").tolist() == [-100, -120, -95, 25, 30, 30, 30, 30]


def test_carry_over_chains_in_approval_order_not_row_order(broken, tmp_path):
    from vmo_lib import load_case

    rb = {"period": "2026Q3", "amount": 99}
    edit = edits(_only_c1, _carry(5, 6, 7),
                 # RB2 (approved after RB1) on row 8 lists B1 only; RB0 (approved before RB1) on row 9 lists C2 only
                 row_put("Baselines", 8, {"version": "RB2", "approved": dt.date(2026, 9, 30), "reason": "Scope",
                                          "period": "2026Q4", "line_id": "B1", "amount": 10, "carry_over": "yes"}),
                 row_put("Baselines", 9, {"version": "RB0", "approved": dt.date(2026, 3, 31), "reason": "Delay",
                                          "line_id": "C2", "carry_over": "Yes", **rb}))
    assert broken(edit).empty
    case = load_case(tmp_path / "case.xlsx", as_of=AS_OF)
    assert case.rebaseline_versions == ["RB0", "RB1", "RB2"]
    m = {v: case.matrix(f"rebaseline:{v}") for v in case.rebaseline_versions}
    assert m["RB0"].loc["C2"].tolist() == [0, 0, 99, 0, 0, 0, 0, 0]          # listed
    assert m["RB0"].loc["C1"].tolist() == [100, 100, 50, 0, 0, 0, 0, 0]      # from the original
    assert m["RB1"].loc["C2"].tolist() == [0, 0, 99, 0, 0, 0, 0, 0]          # from RB0, not the original
    assert m["RB2"].loc["C1"].tolist() == [100, 120, 80, 0, 0, 0, 0, 0]      # from RB1
    assert m["RB2"].loc["C2"].tolist() == [0, 0, 99, 0, 0, 0, 0, 0]          # from RB1, itself from RB0
    assert m["RB2"].loc["B1"].tolist() == [0, 0, 0, 10, 0, 0, 0, 0]          # listed: unlisted periods are 0
    assert m["RB2"].loc["B2"].tolist() == [0, 0, -5, -5, 0, 0, 0, 0]


def test_an_omission_is_judged_against_the_preceding_rebaseline(broken):
    # RB2 without carry-over leaves out C1 (RB1 total 300), C2, B1 and B2 (from the original via RB1's zeros)
    edit = row_put("Baselines", 11, {"version": "RB2", "approved": dt.date(2026, 9, 30), "reason": "Scope",
                                     "period": "2026Q4", "line_id": "B1", "amount": 10})
    got = broken(edit)
    omitted = got[got["rule"] == "baselines.line_omitted"]
    assert set(omitted["cell"]) == {"A11"}
    assert [m.split(",")[0] for m in omitted["message"]] == ["re-baseline RB2 does not list line C1"]
    assert "plan in force before it (re-baseline RB1) totals 300.00" in omitted["message"].iloc[0]


def test_a_rebaseline_without_approval_date_is_one_error_at_its_first_row(broken):
    issues = broken(edits(*(put("Baselines", f"B{r}", None) for r in range(5, 11))))
    row = _issue(issues, "baselines.missing_approval_date", "Baselines", "B5")
    assert row["severity"] == "error"
    assert row["message"] == ("re-baseline RB1 has no approval date (Approved on): expected the date the board "
                              "approved it; it decides which baseline is in force at a review date")
    assert len(issues) == 1, issues.to_string()


def test_rows_of_one_rebaseline_must_agree_on_date_and_carry_over(broken):
    issues = broken(edits(put("Baselines", "B6", dt.date(2026, 7, 1)), put("Baselines", "G5", "yes"),
                          put("Baselines", "G7", "no")))
    assert where(issues, "baselines.inconsistent_version") == {("Baselines", "B6"), ("Baselines", "G7")}
    assert "approved on 2026-07-01 here but on 2026-06-30 on row 5" in _issue(
        issues, "baselines.inconsistent_version", "Baselines", "B6")["message"]


# --- invisible and control characters (issue 15) ------------------------------------------------------
def test_bidi_override_is_removed_and_reported_with_its_cell(broken, tmp_path):
    from vmo_lib import load_case

    cell = f"{col('Costs', 'name')}{C1}"
    issues = broken(edits(put("Costs", cell, "Licences\u202egnp.exe"), put("Case", case_cell("title"), "CRM\u2066 x\u2069")))
    row = _issue(issues, "text.invisible_characters", "Costs", cell)
    assert row["severity"] == "warning" and "U+202E" in row["message"]
    assert "U+2066, U+2069" in _issue(issues, "text.invisible_characters", "Case", case_cell("title"))["message"]
    case = load_case(tmp_path / "case.xlsx", as_of=AS_OF)
    assert case.lines.set_index("line_id").loc["C1", "name"] == "Licencesgnp.exe"
    assert case.meta["title"] == "CRM x"


def test_c0_and_c1_controls_are_removed_but_tab_and_newline_kept():
    raw = parse_sheets({"Case": [[], ["Template version", "1.0"], [], ["Case id", "X1"],
                                 ["Title", "Red\x1b[31m alert\x9b2J"], ["Sponsor", "line one\nline\ttwo"]]})
    assert raw.case.fields["title"] == ("Red[31m alert2J", "B5")
    assert raw.case.fields["sponsor"] == ("line one\nline\ttwo", "B6")
    issues = check_workbook(raw, as_of=AS_OF).issues
    got = issues[issues["rule"] == "text.invisible_characters"]
    assert got[["sheet", "cell"]].values.tolist() == [["Case", "B5"]]
    assert "U+001B, U+009B" in got["message"].iloc[0]


def test_a_nan_or_infinity_stored_as_a_number_is_not_finite_not_blank():
    # a crafted file can store <v>NaN</v> or <v>1e400</v>; calamine reads them as floats
    rows = [[], [], [], ["Line id", "Cost line", "Category", "2026Q1", "2026Q2"],
            ["C1", "Build", "capex", float("nan"), float("inf")]]
    case = [[], ["Template version", "1.0"], [], ["First period", "2026Q1"], ["Period length", "quarter"],
            ["Horizon (periods)", 2]]
    raw = parse_sheets({"Case": case, "Costs": rows})
    issues = check_workbook(raw, as_of=AS_OF).issues
    assert where(issues, "value.not_finite") == {("Costs", "D5"), ("Costs", "E5")}


def test_a_rebaseline_dated_on_a_later_row_only_takes_that_date(broken, tmp_path):
    from vmo_lib import load_case

    assert broken(put("Baselines", "B5", None)).empty   # one date per re-baseline suffices
    case = load_case(tmp_path / "case.xlsx", as_of=AS_OF)
    assert case.baselines[["version", "approved", "reason"]].values.tolist() == [["RB1", dt.date(2026, 6, 30), "Scope change"]]


# --- issue 13: the KPI plan sheet, evidence columns and status hygiene -------------------------------
def test_kpi_plan_rows_are_checked_like_the_other_long_sheets(broken):
    # row 5: a cost line (C1); row 6: an unknown line; row 7: outside the 8 periods; rows 8-9: B1 2026Q4 twice
    issues = broken(edits(
        row_put("KPI plan", 5, {"period": "2026Q4", "line_id": "C1", "kpi_value": 3}),
        row_put("KPI plan", 6, {"period": "2026Q4", "line_id": "B9", "kpi_value": 3}),
        row_put("KPI plan", 7, {"period": "2029Q1", "line_id": "B1", "kpi_value": 3}),
        row_put("KPI plan", 8, {"period": "2026Q4", "line_id": "B1", "kpi_value": 3}),
        row_put("KPI plan", 9, {"period": "2026Q4", "line_id": "B1", "kpi_value": 4}),
    ))
    lid, per = col("KPI plan", "line_id"), col("KPI plan", "period")
    assert _issue(issues, "kpi_plan.not_a_benefit", "KPI plan", f"{lid}5")["severity"] == "error"
    assert "'B9' is not a line" in _issue(issues, "kpi_plan.unknown_line", "KPI plan", f"{lid}6")["message"]
    assert _issue(issues, "kpi_plan.outside_horizon", "KPI plan", f"{per}7")["severity"] == "error"
    assert "row 8" in _issue(issues, "kpi_plan.duplicate", "KPI plan", f"{per}9")["message"]


def test_an_evidence_status_outside_the_list_is_an_error_naming_the_cell(broken):
    issues = broken(put("Actuals", f"{col('Actuals', 'evidence')}5", "hearsay"))
    row = _issue(issues, "choice.not_allowed", "Actuals", f"{col('Actuals', 'evidence')}5")
    assert "measured, estimated, owner's claim" in row["message"]


def test_an_approved_case_with_actuals_is_a_warning_naming_the_status_cell(broken):
    issues = broken(put("Case", case_cell("status"), "approved"))
    row = _issue(issues, "case.status_contradicts_data", "Case", case_cell("status"))
    assert row["severity"] == "warning"
    # the valid workbook's actuals (conftest) run from 2026Q1 to 2026Q3
    assert "actual amounts for 3 period(s) (2026Q1 to 2026Q3)" in row["message"]
    assert "'in delivery' or 'live'" in row["message"]
    assert broken(None).empty  # "in delivery" with the same actuals: clean


def test_an_actual_go_live_outside_the_horizon_is_an_error(broken):
    issues = broken(put("Case", case_cell("actual_go_live"), "2029Q1"))
    assert "actual go-live 2029Q1" in _issue(issues, "case.go_live_outside_horizon", "Case",
                                             case_cell("actual_go_live"))["message"]


# --- issue 13 item 7: period headers that fit real cases ---------------------------------------------
def test_a_horizon_longer_than_the_period_columns_is_an_error_naming_the_first_missing_column(broken):
    # the workbook has 8 period columns (2026Q1..2027Q4); a horizon of 10 needs 2028Q1 and 2028Q2 too
    issues = broken(put("Case", case_cell("horizon"), 10))
    assert where(issues, "period.short_of_horizon") == {("Costs", f"{pcol('Costs', 8)}{HR}"),
                                                         ("Benefits", f"{pcol('Benefits', 8)}{HR}")}
    row = _issue(issues, "period.short_of_horizon", "Costs", f"{pcol('Costs', 8)}{HR}")
    assert row["severity"] == "error"
    assert "end at 2027Q4" in row["message"] and "2028Q1 to 2028Q2" in row["message"]


def test_a_sheet_without_period_columns_is_an_error_not_a_silent_pass():
    case = [[], ["Template version", schema.TEMPLATE_VERSION], [], ["First period", "2026Q1"],
            ["Period length", "quarter"], ["Horizon (periods)", 4]]
    costs = [[], [], [], ["Line id", "Cost line", "Category"], ["C1", "Build", "capex"]]
    issues = check_workbook(parse_sheets({"Case": case, "Costs": costs}), as_of=AS_OF).issues
    got = issues[issues["rule"] == "period.short_of_horizon"]
    # the first period column goes right after the last attribute column of the template
    assert got[["sheet", "cell"]].values.tolist() == [["Costs", f"{pcol('Costs', 0)}{HR}"]]
    assert "2026Q1 to 2026Q4 (4 periods" in got["message"].iloc[0]


@pytest.mark.parametrize("labels", [["Year 0", "Year 1", "Year 2"], ["Initial", "Yr 1", "Yr 2"],
                                    ["Y0", "Y1", "Y2"], ["2025/26", "2026/27", "2027/28"]])
def test_year_0_and_initial_headers_are_errors_saying_what_is_expected(labels):
    # found before: 'Year 0' / 'Initial' headers were ignored as unknown columns (a warning), the case
    # validated, and the appraisal then failed for want of periods
    case = [[], ["Template version", schema.TEMPLATE_VERSION], [], ["First period", "2026"],
            ["Period length", "year"], ["Horizon (periods)", 3]]
    costs = [[], [], [], ["Line id", "Cost line", "Category", *labels], ["C1", "Build", "capex", 100.0, 50.0, 10.0]]
    issues = check_workbook(parse_sheets({"Case": case, "Costs": costs}), as_of=AS_OF).issues
    got = issues[issues["rule"] == "period.unparseable_header"]
    assert got["cell"].tolist() == [f"{c}{HR}" for c in "DEF"]  # the three columns after Category
    assert set(got["severity"]) == {"error"}
    assert "column.unknown" not in set(issues["rule"]) and "period.short_of_horizon" not in set(issues["rule"])
    first = got["message"].iloc[0]
    assert repr(labels[0]) in first and "expected a year such as 2026" in first and "expected 2026, the period" in first
    assert "expected 2028, the period" in got["message"].iloc[2]


def test_an_extra_column_that_is_not_a_period_stays_an_unknown_column_warning():
    case = [[], ["Template version", schema.TEMPLATE_VERSION], [], ["First period", "2026"],
            ["Period length", "year"], ["Horizon (periods)", 2]]
    costs = [[], [], [], ["Line id", "Cost line", "Category", "Start date", "2026", "2027"],
             ["C1", "Build", "capex", "May", 100.0, 50.0]]
    issues = check_workbook(parse_sheets({"Case": case, "Costs": costs}), as_of=AS_OF).issues
    assert issues.loc[issues["rule"] == "column.unknown", ["cell", "severity"]].values.tolist() == [["D4", "warning"]]
    assert not issues["rule"].str.startswith("period.").any()
