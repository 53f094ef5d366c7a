"""The business-case template and the case writer (vmo_lib.intake.template, `vmo template`).

Cell positions in these tests are worked out by hand from the layout the schema describes
(attribute columns first, then one column per period; header on row 4, data from row 5), so a
change in the writer that moves a number is caught here.
"""

from __future__ import annotations

import datetime as dt
import re
import zipfile
from pathlib import Path

import openpyxl
import pytest

from vmo_lib import schema
from vmo_lib.cli import main
from vmo_lib.intake.template import template_periods, write_case_workbook, write_template
from vmo_lib.model import make_case

COMMITTED = Path(__file__).resolve().parents[1] / "templates" / "business_case.xlsx"


# --- fixtures ------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> Path:
    return write_template(tmp_path_factory.mktemp("template") / "business_case.xlsx")


@pytest.fixture(scope="module")
def wb(generated):
    return openpyxl.load_workbook(generated)


def _hand_built_case(**meta):
    """Two cost lines, a benefit and a dis-benefit over 8 quarters, with actuals, forecast, re-baseline."""
    return make_case(
        {"case_id": "CRM-2026", "title": "CRM replacement", "sponsor": "CCO", "first_period": "2026Q1",
         "period_length": "quarter", "horizon": 8, "approval_date": dt.date(2025, 12, 15),
         "discount_rate": 0.08, "base_year": 2026, "go_live_period": "2026Q4", **meta},
        costs=[
            {"line_id": "C1", "name": "Build", "category": "capex", "amounts": [1000, 2000, 500]},
            {"line_id": "C2", "name": "Licences", "category": "opex", "low": 9000, "likely": 10368, "high": 14000,
             "amounts": [0, 0, 3456, 3456, 3456, 0, 0, 0]},
        ],
        benefits=[
            {"line_id": "B1", "name": "Fewer call-backs", "benefit_type": "cash-releasing", "owner": "Head of Sales",
             "baseline_date": dt.date(2025, 11, 30), "baseline_value": 12.5, "value_per_unit": 250,
             "amounts": [0, 0, 0, 700, 800, 900, 900, 900]},
            {"line_id": "B2", "name": "Training time", "benefit_type": "dis-benefit",
             "amounts": [0, 0, 0, -1200]},
        ],
        actuals=[{"period": "2026Q1", "line_id": "C1", "amount": 1100, "comment": "on plan"},
                 {"period": "2026Q2", "line_id": "B1", "amount": 0, "kpi_value": 12.1}],
        forecast=[{"period": "2026Q3", "line_id": "C1", "amount": 650}],
        rebaselines=[{"version": "RB1", "approved": dt.date(2026, 6, 30), "reason": "vendor slip",
                      "amounts": {"C1": [1000, 2200]}}],
    )


@pytest.fixture(scope="module")
def case_wb(tmp_path_factory):
    path = write_case_workbook(_hand_built_case(), tmp_path_factory.mktemp("case") / "crm.xlsx")
    return openpyxl.load_workbook(path)


def _validations(ws) -> list[tuple]:
    return sorted(
        (str(dv.sqref), dv.type, dv.operator, dv.formula1, dv.formula2, bool(dv.allowBlank), dv.errorStyle,
         dv.prompt, dv.error)
        for dv in ws.data_validations.dataValidation
    )


def _validation_at(ws, coordinate: str):
    found = [dv for dv in ws.data_validations.dataValidation if coordinate in dv.sqref]
    assert len(found) == 1, f"{ws.title}!{coordinate}: {len(found)} validations"
    return found[0]


def _list_values(wb, formula: str) -> list[str]:
    m = re.fullmatch(r"(\w+)!\$([A-Z]+)\$(\d+):\$([A-Z]+)\$(\d+)", formula)
    assert m, formula
    sheet, c1, r1, c2, r2 = m.groups()
    cells = wb[sheet][f"{c1}{r1}:{c2}{r2}"]
    return [c.value for row in cells for c in row]


# --- the committed template ------------------------------------------------------------------------------
def _signature(path: Path) -> dict:
    book = openpyxl.load_workbook(path)
    sig: dict = {"sheets": [(ws.title, ws.sheet_state) for ws in book.worksheets]}
    for ws in book.worksheets:
        sig[ws.title] = {
            "cells": {c.coordinate: (c.value, c.data_type, c.number_format, c.fill.fgColor.rgb)
                      for row in ws.iter_rows() for c in row if c.value is not None or c.has_style},
            "validations": _validations(ws),
            "freeze": ws.freeze_panes,
            "widths": {k: d.width for k, d in ws.column_dimensions.items()},
            "print_area": ws.print_area,
        }
    return sig


def test_committed_template_matches_what_the_generator_writes(generated):
    assert COMMITTED.exists(), "run `vmo template templates/business_case.xlsx --force` and commit it"
    committed, fresh = _signature(COMMITTED), _signature(generated)
    assert committed["sheets"] == fresh["sheets"]
    for name in schema.SHEETS:
        for part in ("cells", "validations", "freeze", "widths", "print_area"):
            assert committed[name][part] == fresh[name][part], f"{name} {part} differs: regenerate the template"


def test_regenerating_gives_the_same_bytes(generated, tmp_path):
    again = write_template(tmp_path / "again.xlsx")
    assert again.read_bytes() == generated.read_bytes()


# --- layout -------------------------------------------------------------------------------------------
def test_sheets_follow_schema_order_and_lists_is_hidden(wb):
    assert wb.sheetnames == list(schema.SHEETS)
    assert {ws.title: ws.sheet_state for ws in wb.worksheets} == {
        name: ("hidden" if name == "Lists" else "visible") for name in schema.SHEETS}


def test_case_sheet_lists_every_field_by_label_with_blank_values_and_version_in_b2(wb):
    ws = wb["Case"]
    assert ws["A2"].value == "Template version"
    assert ws["B2"].value == schema.TEMPLATE_VERSION == "1.1"
    labels = [ws.cell(schema.CASE_FIRST_ROW + i, 1).value for i in range(len(schema.CASE_FIELDS))]
    assert labels == [f.label for f in schema.CASE_FIELDS]
    values = [ws.cell(schema.CASE_FIRST_ROW + i, 2).value for i in range(len(schema.CASE_FIELDS))]
    assert values == [None] * len(schema.CASE_FIELDS)
    # the example sits in the guidance column, not in the value
    assert ws["C4"].value.startswith("Required.") and ws["C4"].value.endswith("e.g. CRM-2026")
    rate_row = schema.CASE_FIRST_ROW + [f.key for f in schema.CASE_FIELDS].index("discount_rate")
    assert ws.cell(rate_row, 3).value.endswith("e.g. 8.0%")


@pytest.mark.parametrize("sheet", list(schema.TABLE_COLUMNS))
def test_table_sheet_headers_are_the_schema_labels_on_the_header_row(wb, sheet):
    ws = wb[sheet]
    columns = schema.TABLE_COLUMNS[sheet]
    header = [ws.cell(4, j).value for j in range(1, len(columns) + 1)]
    assert header == [c.label for c in columns]
    required_marks = [ws.cell(3, j).value == "required" for j in range(1, len(columns) + 1)]
    assert required_marks == [c.required for c in columns]


def test_wide_sheets_carry_twenty_quarters_after_the_attributes(wb):
    # Costs: 10 attribute columns A..J (owner last, issue 13), so 2026Q1 is K and the 20th quarter (2030Q4) is AD.
    assert wb["Costs"]["K4"].value == "2026Q1" and wb["Costs"]["AD4"].value == "2030Q4"
    assert wb["Costs"]["AE4"].value is None
    # Benefits: 25 attribute columns A..Y (KPI basis, tied to go-live last), so 2026Q1 is Z and 2030Q4 is AS.
    assert wb["Benefits"]["Z4"].value == "2026Q1" and wb["Benefits"]["AS4"].value == "2030Q4"
    assert wb["Costs"]["K4"].data_type == "s"  # labels are text, not numbers or dates
    assert template_periods() == [f"{y}Q{q}" for y in range(2026, 2031) for q in range(1, 5)]


def test_panes_freeze_the_header_and_the_id_and_name_columns(wb):
    assert wb["Costs"].freeze_panes == "C5"
    assert wb["Benefits"].freeze_panes == "C5"
    assert wb["Actuals"].freeze_panes == "A5"
    assert wb["Case"].freeze_panes == "A4"


def test_input_cells_are_yellow_with_number_formats_by_kind(wb):
    yellow = "00FFF2CC"
    assert wb["Costs"]["G5"].fill.fgColor.rgb == yellow  # Likely
    assert wb["Costs"]["G5"].number_format == "#,##0"
    assert wb["Costs"]["AC204"].fill.fgColor.rgb == yellow  # last period, 200th line
    assert wb["Costs"]["AC204"].number_format == "#,##0"
    assert wb["Actuals"]["C2004"].fill.fgColor.rgb == yellow  # 2,000 actual rows from row 5
    assert wb["Benefits"]["H5"].number_format == "yyyy-mm-dd"  # Baseline measured
    rate_row = schema.CASE_FIRST_ROW + [f.key for f in schema.CASE_FIELDS].index("discount_rate")
    assert wb["Case"].cell(rate_row, 2).number_format == "0.0%"
    assert wb["Case"]["A4"].font.b  # required field label in bold
    assert not wb["Case"].cell(rate_row + 2, 1).font.b  # ob_capex is optional


# --- data validation ----------------------------------------------------------------------------------
def _choice_cells():
    for i, f in enumerate(schema.CASE_FIELDS):
        if f.kind == "choice":
            yield "Case", f"B{schema.CASE_FIRST_ROW + i}", f
    for sheet, columns in schema.TABLE_COLUMNS.items():
        for j, c in enumerate(columns, start=1):
            if c.kind == "choice":
                yield sheet, f"{openpyxl.utils.get_column_letter(j)}5", c


@pytest.mark.parametrize("sheet,cell,column", list(_choice_cells()),
                         ids=[f"{s}-{c.key}" for s, _, c in _choice_cells()])
def test_every_choice_drop_down_lists_exactly_the_schema_values(wb, sheet, cell, column):
    dv = _validation_at(wb[sheet], cell)
    assert dv.type == "list"
    assert _list_values(wb, dv.formula1) == list(column.choices)


def test_drop_downs_cover_two_hundred_lines_and_two_thousand_actual_rows(wb):
    # Category is Costs column C; Type is Benefits column C.
    assert "C5:C204" in {str(dv.sqref) for dv in wb["Costs"].data_validations.dataValidation}
    assert _validation_at(wb["Benefits"], "C204").type == "list"
    assert _validation_at(wb["Actuals"], "C2004").type == "decimal"


def test_numeric_validations_take_their_range_from_the_schema(wb):
    ws = wb["Case"]
    row = {f.key: schema.CASE_FIRST_ROW + i for i, f in enumerate(schema.CASE_FIELDS)}
    horizon = _validation_at(ws, f"B{row['horizon']}")
    assert (horizon.type, horizon.operator, horizon.formula1, horizon.formula2) == ("whole", "between", "2", "400")
    rate = _validation_at(ws, f"B{row['discount_rate']}")
    assert (rate.type, rate.formula1, rate.formula2) == ("decimal", "-0.5", "1")
    haircut = _validation_at(ws, f"B{row['ob_benefits']}")
    assert (haircut.formula1, haircut.formula2) == ("0", "1")
    approval = _validation_at(ws, f"B{row['approval_date']}")
    # Excel serials: 1990-01-01 is 32874, 2100-12-31 is 73415 (days since 1899-12-30).
    assert (approval.type, approval.formula1, approval.formula2) == ("date", "32874", "73415")
    assert (dt.date(1899, 12, 30) + dt.timedelta(days=32874)) == dt.date(1990, 1, 1)
    # Cost periods may not be negative; benefit periods may (dis-benefits).
    cost_cell = _validation_at(wb["Costs"], "M6")
    assert (cost_cell.type, cost_cell.formula1) == ("decimal", "0")
    benefit_cell = _validation_at(wb["Benefits"], "AC5")
    assert benefit_cell.type == "decimal" and float(benefit_cell.formula1) < -1e12
    for dv in (horizon, rate, cost_cell):
        assert dv.showErrorMessage and dv.error and dv.showInputMessage and dv.prompt


def test_actual_periods_drop_down_from_the_costs_period_headers(wb):
    dv = _validation_at(wb["Actuals"], "A5")
    assert dv.type == "list" and dv.formula1 == "Costs!$K$4:$AD$4"
    assert dv.errorStyle == "warning"  # an extra period column added by the author is not blocked


def test_column_help_becomes_the_input_message(wb):
    owner = _validation_at(wb["Benefits"], "D5")
    assert owner.promptTitle == "Benefit owner"
    assert "Accountable for realising the benefit" in owner.prompt


def test_no_macros_formulas_or_external_links(generated):
    with zipfile.ZipFile(generated) as z:
        names = z.namelist()
        assert not [n for n in names if "vba" in n.lower() or "externalLink" in n]
        for n in names:
            if n.startswith("xl/worksheets/"):
                assert b"<f>" not in z.read(n), n


def test_guide_explains_conventions_and_every_benefit_type(wb):
    text = " ".join(str(c.value) for row in wb["Guide"].iter_rows() for c in row if c.value)
    for phrase in ("(1+r)^(1/4)-1", "not discounted", "whole-life totals", "Only dis-benefits are negative",
                   "cash view", "real = constant prices"):
        assert phrase in text
    for btype in schema.BENEFIT_TYPES:
        assert btype in text


# --- the case writer ------------------------------------------------------------------------------------
def test_cost_amounts_land_in_the_hand_computed_cells(case_wb):
    ws = case_wb["Costs"]
    # C2 is the second cost line -> row 6; its 2026Q3 (t=2) is the 3rd period column: K, L, M.
    assert ws["A6"].value == "C2" and ws["M4"].value == "2026Q3"
    assert ws["M6"].value == 3456
    assert [ws.cell(5, j).value for j in range(11, 14)] == [1000, 2000, 500]  # C1 in K5:M5
    assert ws["N5"].value is None  # no flow, no number: blank, not zero
    assert [ws["F6"].value, ws["G6"].value, ws["H6"].value] == [9000, 10368, 14000]  # low/likely/high
    assert ws["R4"].value == "2027Q4" and ws["S4"].value is None  # 8 periods K..R only


def test_benefits_and_dis_benefits_keep_their_sign_and_dates_are_excel_dates(case_wb):
    ws = case_wb["Benefits"]
    # Benefits: periods start at Z; 2026Q4 (t=3) is AC; B2 (dis-benefit) is row 6.
    assert ws["AC4"].value == "2026Q4"
    assert ws["AC5"].value == 700 and ws["AC6"].value == -1200
    assert ws["H5"].value == dt.datetime(2025, 11, 30) and ws["H5"].is_date
    assert ws["K5"].value == 250 and ws["G5"].value == 12.5


def test_case_fields_are_typed_values(case_wb):
    ws = case_wb["Case"]
    row = {f.key: schema.CASE_FIRST_ROW + i for i, f in enumerate(schema.CASE_FIELDS)}
    assert ws.cell(row["case_id"], 2).value == "CRM-2026"
    assert ws.cell(row["approval_date"], 2).value == dt.datetime(2025, 12, 15)
    assert ws.cell(row["approval_date"], 2).number_format == "yyyy-mm-dd"
    assert ws.cell(row["discount_rate"], 2).value == pytest.approx(0.08)
    assert ws.cell(row["horizon"], 2).value == 8 and ws.cell(row["horizon"], 2).data_type == "n"
    assert ws.cell(row["first_period"], 2).value == "2026Q1"
    assert ws.cell(row["ob_capex"], 2).value is None  # None in meta -> blank
    assert ws["B2"].value == schema.TEMPLATE_VERSION


def test_actuals_forecast_and_rebaselines_are_written_long_form(case_wb):
    act = [[c.value for c in row] for row in case_wb["Actuals"]["A5:E6"]]
    assert act == [["2026Q1", "C1", 1100, None, "on plan"], ["2026Q2", "B1", 0, 12.1, None]]
    assert case_wb["Actuals"]["A7"].value is None
    assert [c.value for c in case_wb["Forecast"][5]][:4] == ["2026Q3", "C1", 650, None]
    rb = [[c.value for c in row] for row in case_wb["Baselines"]["A5:F6"]]
    assert rb == [["RB1", dt.datetime(2026, 6, 30), "vendor slip", "2026Q1", "C1", 1000],
                  ["RB1", dt.datetime(2026, 6, 30), "vendor slip", "2026Q2", "C1", 2200]]


def test_case_workbook_has_the_template_validations_sized_to_its_periods(case_wb):
    assert _validation_at(case_wb["Actuals"], "A5").formula1 == "Costs!$K$4:$R$4"  # 8 quarters
    assert _validation_at(case_wb["Costs"], "C5").type == "list"
    assert case_wb["Lists"].sheet_state == "hidden"


@pytest.mark.parametrize("text", ['=HYPERLINK("http://evil.example","click")', "+44 20 7946 0000",
                                  "-5% after go-live", "@SUM(A1:A9)", "=1+1"])
def test_text_that_looks_like_a_formula_stays_text(tmp_path, text):
    case = make_case({"case_id": "X", "title": text, "horizon": 2},
                     costs=[{"line_id": "C1", "name": text, "amounts": [1, 2]}],
                     actuals=[{"period": "2026Q1", "line_id": "C1", "amount": 1, "comment": text}])
    path = write_case_workbook(case, tmp_path / "x.xlsx")
    book = openpyxl.load_workbook(path)
    for cell in (book["Case"]["B5"], book["Costs"]["B5"], book["Actuals"]["E5"]):
        assert cell.value == text and cell.data_type == "s"
        assert cell.quotePrefix  # Excel keeps it text even when the cell is edited
    with zipfile.ZipFile(path) as z:
        assert not [n for n in z.namelist() if n.startswith("xl/worksheets/") and b"<f>" in z.read(n)]


def test_write_is_atomic_and_a_failed_write_keeps_the_old_file(tmp_path):
    target = tmp_path / "case.xlsx"
    write_case_workbook(_hand_built_case(), target)
    before = target.read_bytes()
    bad = make_case({"case_id": "BAD", "horizon": 4},
                    costs=[{"line_id": "C9", "name": "x", "amounts": [1, float("inf")]}])
    with pytest.raises(ValueError, match=r"C9.*2026Q2.*finite"):
        write_case_workbook(bad, target)
    assert target.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["case.xlsx"]  # no temp file left behind


def test_same_case_gives_the_same_bytes(tmp_path):
    a = write_case_workbook(_hand_built_case(), tmp_path / "a.xlsx").read_bytes()
    b = write_case_workbook(_hand_built_case(), tmp_path / "b.xlsx").read_bytes()
    assert a == b


def test_yearly_case_writes_year_labels_as_text(tmp_path):
    case = make_case({"case_id": "Y", "first_period": "2026", "period_length": "year", "horizon": 3},
                     costs=[{"line_id": "C1", "name": "Build", "amounts": [5, 6, 7]}])
    ws = openpyxl.load_workbook(write_case_workbook(case, tmp_path / "y.xlsx"))["Costs"]
    assert [ws.cell(4, j).value for j in (11, 12, 13)] == ["2026", "2027", "2028"]
    assert [ws.cell(5, j).value for j in (11, 12, 13)] == [5, 6, 7]


def test_round_trip_through_the_reader_when_it_exists(tmp_path):
    import vmo_lib

    load_case = getattr(vmo_lib, "load_case", None)
    if load_case is None:
        pytest.skip("vmo_lib.load_case not available yet")
    case = _hand_built_case()
    # strict=False: this hand-built case leaves required profile fields blank (validation errors)
    back = load_case(write_case_workbook(case, tmp_path / "crm.xlsx"), as_of="2026Q3", strict=False)
    assert back.case_id == "CRM-2026" and back.periods == case.periods
    for scenario in ("baseline", "actual", "forecast", "rebaseline:RB1"):
        assert back.matrix(scenario).loc[case.line_ids()].to_numpy().tolist() == \
            case.matrix(scenario).to_numpy().tolist(), scenario


# --- vmo template ---------------------------------------------------------------------------------------
def test_cli_writes_the_template_and_says_where(tmp_path, capsys):
    target = tmp_path / "bc.xlsx"
    assert main(["template", str(target)]) == 0
    assert str(target) in capsys.readouterr().out
    assert openpyxl.load_workbook(target, read_only=True).sheetnames == list(schema.SHEETS)


def test_cli_refuses_to_overwrite_without_force(tmp_path, capsys):
    target = tmp_path / "bc.xlsx"
    target.write_bytes(b"my filled-in case")
    assert main(["template", str(target)]) == 2
    assert "--force" in capsys.readouterr().err
    assert target.read_bytes() == b"my filled-in case"
    assert main(["template", str(target), "--force"]) == 0
    assert zipfile.is_zipfile(target)


def test_a_rebaseline_without_its_baselines_row_is_written_not_dropped(tmp_path):
    case = _hand_built_case()
    case.baselines = case.baselines.iloc[0:0]
    ws = openpyxl.load_workbook(write_case_workbook(case, tmp_path / "rb.xlsx"))["Baselines"]
    assert [c.value for c in ws[5]] == ["RB1", None, None, "2026Q1", "C1", 1000, None]


# --- issue 13 item 7: period columns generated from first period, length and horizon -----------------------
def test_cli_generates_the_period_headers_from_first_period_length_and_horizon(tmp_path, capsys):
    target = tmp_path / "bc.xlsx"
    assert main(["template", str(target), "--first-period", "2025Q3", "--period", "quarter", "--horizon", "12"]) == 0
    assert "12 period columns, 2025Q3 to 2028Q2" in capsys.readouterr().out
    wb = openpyxl.load_workbook(target)
    # Costs has 10 attribute columns (A..J), so the periods run K..V; Benefits has 25 (A..Y): Z..AK
    costs, benefits = wb["Costs"], wb["Benefits"]
    assert len(schema.COST_COLUMNS) == 10 and len(schema.BENEFIT_COLUMNS) == 25
    assert [costs[f"{c}4"].value for c in ("K", "L", "O", "V")] == ["2025Q3", "2025Q4", "2026Q3", "2028Q2"]
    assert costs["W4"].value is None
    assert (benefits["Z4"].value, benefits["AK4"].value, benefits["AL4"].value) == ("2025Q3", "2028Q2", None)
    # the Case sheet is pre-filled with the three values, so the workbook agrees with its own columns
    keys = [f.key for f in schema.CASE_FIELDS]
    case = wb["Case"]
    got = [case[f"B{schema.CASE_FIRST_ROW + keys.index(k)}"].value for k in ("first_period", "period_length", "horizon")]
    assert got == ["2025Q3", "quarter", 12]


def test_cli_writes_yearly_columns_and_refuses_a_bad_first_period(tmp_path, capsys):
    target = tmp_path / "annual.xlsx"
    assert main(["template", str(target), "--first-period", "2025", "--period", "year", "--horizon", "10"]) == 0
    ws = openpyxl.load_workbook(target)["Costs"]
    assert [ws[f"{c}4"].value for c in ("K", "L", "T", "U")] == ["2025", "2026", "2034", None]
    capsys.readouterr()
    assert main(["template", str(tmp_path / "x.xlsx"), "--first-period", "Year 0", "--period", "year"]) == 2
    err = capsys.readouterr().err
    assert "'Year 0' is not a year such as 2026" in err and "Traceback" not in err
    assert main(["template", str(tmp_path / "x.xlsx"), "--horizon", "1"]) == 2
    assert "horizon 1 is outside 2 to 400" in capsys.readouterr().err
    assert not (tmp_path / "x.xlsx").exists()


def test_template_periods_defaults_to_the_schema_example():
    assert template_periods("2027Q4", horizon=3) == ["2027Q4", "2028Q1", "2028Q2"]
    assert template_periods(period_length="year", horizon=2) == ["2026", "2027"]
    with pytest.raises(ValueError, match="'2026' is not a quarter such as 2026Q1"):
        template_periods("2026", "quarter")


def test_guide_explains_amount_units_dis_benefit_ranges_and_a_case_with_no_year_0(wb):
    text = " ".join(str(c.value) for row in wb["Guide"].iter_rows() for c in row if c.value)
    for phrase in ("thousands = a table printed in £000", "multiplies each one by 1,000 or 1,000,000",
                   "Low is the worst case (the largest dis-benefit", "never 'Year 0'",
                   "set the First period to the year before the table's first year"):
        assert phrase in text


def test_the_dis_benefit_order_the_guide_states_is_the_one_validation_applies(tmp_path):
    from vmo_lib.intake.loader import validate_workbook

    def issues(low, likely, high):
        case = _hand_built_case()
        lines = case.lines.copy()
        b2 = lines["line_id"] == "B2"
        lines.loc[b2, ["low", "likely", "high"]] = [low, likely, high]
        case.lines = lines
        path = write_case_workbook(case, tmp_path / f"d{low}.xlsx")
        got = validate_workbook(path, as_of="2026Q3")
        return set(got.loc[got["rule"] == "line.three_point_order", "field"])

    assert issues(-15, -10, -6) == set()          # the Guide's order: worst (most negative) first
    assert issues(-6, -10, -15) == {"low", "high"}  # the order of a cost, mirrored: rejected
