"""UK financial years as period labels (issue 13 item 7): FY2025-26 = 1 April 2025 to 31 March 2026.

A yearly case whose First period is a financial year runs in financial years: every label is written
FY2025-26, dates and review periods follow April-March, and calendar labels keep their old meaning
("2026" and "FY2026" are the calendar year 2026). Figures are worked by hand in the comments.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import openpyxl
import pytest
from conftest import _PROFILE, VALID_META

from vmo_lib import schema
from vmo_lib.analysis.appraisal import appraise
from vmo_lib.analysis.greenbook import financial_year_shares
from vmo_lib.analysis.review import review_case
from vmo_lib.cli import main
from vmo_lib.errors import WorkbookError
from vmo_lib.intake.loader import load_case, validate_workbook
from vmo_lib.intake.returns import due_lines, write_actuals_form
from vmo_lib.intake.template import template_periods, write_case_workbook
from vmo_lib.model import make_case
from vmo_lib.periods import (
    canonical_period,
    is_financial_year,
    parse_period,
    period_end_date,
    period_of_date,
    period_offset,
    period_range,
    period_start_date,
    review_period,
    review_quarter,
    shift_period,
)


# --- the labels ------------------------------------------------------------------------------------
@pytest.mark.parametrize("label", ["FY2025-26", "FY2025/26", "2025-26", "2025/26", "fy2025-26", "FY 2025-2026"])
def test_every_written_form_of_a_financial_year_is_fy2025_26(label):
    assert parse_period(label, "year") == (2025, 0)
    assert canonical_period(label, "year") == "FY2025-26"
    assert is_financial_year(label)


def test_calendar_year_labels_keep_their_meaning():
    # before this change "FY2026" and "2026" were the calendar year 2026; they still are
    assert parse_period("FY2026", "year") == parse_period("2026", "year") == parse_period(2026, "year") == (2026, 0)
    assert canonical_period("FY2026", "year") == "2026" and not is_financial_year("FY2026")
    assert period_range("2025", 3, "year") == ["2025", "2026", "2027"]
    assert (period_start_date("2026", "year"), period_end_date("2026", "year")) == (dt.date(2026, 1, 1),
                                                                                    dt.date(2026, 12, 31))
    assert [review_period(q, "year") for q in ("2026Q1", "2026Q3", "2026Q4")] == ["2025", "2025", "2026"]
    assert review_quarter("2026") == "2026Q4"


@pytest.mark.parametrize("label", ["FY2025-27", "FY2025/25", "2025-2027", "FY2025-6"])
def test_a_financial_year_not_one_year_long_is_refused_saying_what_was_expected(label):
    with pytest.raises(ValueError) as err:
        parse_period(label, "year")
    if label != "FY2025-6":  # one end digit is not a financial-year form at all
        assert "expected FY2025-26" in str(err.value)
    assert not is_financial_year(label)


def test_financial_years_run_april_to_march():
    assert period_range("FY2025-26", 3, "year") == ["FY2025-26", "FY2026-27", "FY2027-28"]
    assert shift_period("FY2025-26", -1, "year") == "FY2024-25"
    assert period_offset("FY2027-28", "FY2025-26", "year") == 2
    assert period_start_date("FY2025-26", "year") == dt.date(2025, 4, 1)
    assert period_end_date("FY2025-26", "year") == dt.date(2026, 3, 31)
    # 31 March 2026 is the last day of FY2025-26; 1 April 2026 the first of FY2026-27
    assert period_of_date(dt.date(2026, 3, 31), "year", like="FY2020-21") == "FY2025-26"
    assert period_of_date(dt.date(2026, 4, 1), "year", like="FY2020-21") == "FY2026-27"
    assert period_of_date(dt.date(2026, 3, 31), "year") == "2026"  # no financial-year case: calendar


def test_the_review_period_of_a_financial_year_case_is_the_last_one_ended():
    # FY2025-26 ends on 31 March 2026 = the end of 2026Q1, so the reviews of 2026Q1 to 2026Q4 all cover it;
    # 2025Q4 (ends 31 December 2025) still covers FY2024-25. A calendar case as of 2026Q4 covers 2026.
    got = {q: review_period(q, "year", like="FY2023-24") for q in ("2025Q4", "2026Q1", "2026Q3", "2026Q4", "2027Q1")}
    assert got == {"2025Q4": "FY2024-25", "2026Q1": "FY2025-26", "2026Q3": "FY2025-26", "2026Q4": "FY2025-26",
                   "2027Q1": "FY2026-27"}
    assert review_quarter("FY2025-26") == "2026Q1"  # --as-of FY2025-26: the quarter it ends in


def test_affordability_puts_a_financial_year_whole_in_itself():
    # a calendar year splits 1/4 to the financial year ending in its March, 3/4 to the next; a financial year not
    assert financial_year_shares("2026", "year") == [("2025-26", 0.25), ("2026-27", 0.75)]
    assert financial_year_shares("FY2026-27", "year") == [("2026-27", 1.0)]


# --- the template ----------------------------------------------------------------------------------
def test_template_generates_financial_year_columns_and_prefills_the_case(tmp_path, capsys):
    out = tmp_path / "fy.xlsx"
    assert main(["template", str(out), "--first-period", "2025/26", "--period", "year", "--horizon", "4"]) == 0
    wb = openpyxl.load_workbook(out)
    n = len(schema.COST_COLUMNS)
    heads = [wb["Costs"].cell(schema.HEADER_ROW, n + 1 + j).value for j in range(5)]
    assert heads == ["FY2025-26", "FY2026-27", "FY2027-28", "FY2028-29", None]
    fields = {wb["Case"].cell(r, 1).value: wb["Case"].cell(r, 2).value for r in range(schema.CASE_FIRST_ROW, 40)}
    assert (fields["First period"], fields["Period length"], fields["Horizon (periods)"]) == ("FY2025-26", "year", 4)
    assert template_periods("FY2025-26", "year", 2) == ["FY2025-26", "FY2026-27"]


def test_template_refuses_a_malformed_financial_year(tmp_path, capsys):
    assert main(["template", str(tmp_path / "x.xlsx"), "--first-period", "FY2025-27", "--period", "year"]) == 2
    err = capsys.readouterr().err
    assert "expected FY2025-26" in err and "FY2025-27" in err
    assert not (tmp_path / "x.xlsx").exists()


# --- a financial-year case ---------------------------------------------------------------------------
META = {**VALID_META, "case_id": "FY-1", "title": "Shared services", "first_period": "FY2023-24",
        "period_length": "year", "horizon": 6, "go_live_period": "FY2024-25", "approval_date": "2023-03-20",
        "discount_rate": 0.0}
COSTS = [{"line_id": "C1", "name": "Build", "category": "capex", "amounts": [1000, 500], "owner": "CIO"},
         {"line_id": "C2", "name": "Run", "category": "opex", "amounts": [0, 100, 100, 100, 100, 100],
          "owner": "Head of Ops"}]
BENEFITS = [{"line_id": "B1", "name": "Savings", "benefit_type": "cash-releasing", **_PROFILE,
             "baseline_date": "2023-02-01", "amounts": [0, 200, 600, 600, 600, 600]}]
ACTUALS = [{"period": "FY2023-24", "line_id": "C1", "amount": 1100},
           {"period": "FY2024-25", "line_id": "C1", "amount": 450},
           {"period": "FY2024-25", "line_id": "C2", "amount": 100},
           {"period": "FY2024-25", "line_id": "B1", "amount": 150}]


def fy_case(**meta):
    return make_case({**META, **meta}, costs=COSTS, benefits=BENEFITS, actuals=ACTUALS)


def test_a_financial_year_case_appraises_with_april_to_march_periods():
    # 3.5 %: approved net flows -1000, -400, +500 x 4 -> NPV = -1000 - 400/1.035 + 500 (1/1.035^2 + ... + 1/1.035^5)
    # = -1000 - 386.473 + 500 x (0.933511 + 0.901943 + 0.871442 + 0.841973) = -1000 - 386.473 + 1774.435 = 387.962
    a = appraise(fy_case(discount_rate=0.035))
    assert a.npv == pytest.approx(387.962, abs=0.01)
    assert fy_case().periods == ["FY2023-24", "FY2024-25", "FY2025-26", "FY2026-27", "FY2027-28", "FY2028-29"]


def test_a_financial_year_workbook_validates_clean_and_loads(tmp_path):
    path = write_case_workbook(fy_case(), tmp_path / "FY-1.xlsx")
    assert validate_workbook(path, as_of="2026Q3").empty
    case = load_case(path, as_of="2026Q3")
    assert case.meta["first_period"] == "FY2023-24" and case.periods[-1] == "FY2028-29"
    act = case.matrix("actual")
    assert act.loc["C1"].tolist()[:2] == [1100.0, 450.0] and act.loc["B1", 1] == 150.0


def _edit(path, sheet, cell, value):
    wb = openpyxl.load_workbook(path)
    wb[sheet][cell] = value
    wb.save(path)


def _issue(issues, rule, sheet, cell):
    rows = issues[(issues["rule"] == rule) & (issues["sheet"] == sheet) & (issues["cell"] == cell)]
    assert len(rows) == 1, issues.to_string()
    return rows.iloc[0]


def test_malformed_and_mixed_period_labels_are_errors_naming_the_cell(tmp_path):
    path = write_case_workbook(fy_case(), tmp_path / "FY-1.xlsx")
    n = len(schema.COST_COLUMNS)
    head = openpyxl.utils.get_column_letter(n + 3)  # the FY2025-26 column of Costs
    keys = [c.key for c in schema.CASE_FIELDS]
    go_live = f"B{schema.CASE_FIRST_ROW + keys.index('go_live_period')}"
    _edit(path, "Costs", f"{head}{schema.HEADER_ROW}", "FY2025-27")
    _edit(path, "Actuals", "A6", 2024)            # a calendar year in a financial-year case
    _edit(path, "Case", go_live, "FY2024/26")
    issues = validate_workbook(path, as_of="2026Q3")
    hdr = _issue(issues, "period.unparseable_header", "Costs", f"{head}{schema.HEADER_ROW}")
    assert "expected FY2025-26" in hdr["message"] and hdr["severity"] == "error"
    act = _issue(issues, "value.not_a_period", "Actuals", "A6")
    assert "expected a financial year such as FY2023-24" in act["message"] and "2024" in act["message"]
    gl = _issue(issues, "value.not_a_period", "Case", go_live)
    assert "expected FY2024-25" in gl["message"]


def test_a_financial_year_in_a_calendar_case_is_an_error(tmp_path):
    case = make_case({**META, "first_period": "2023", "go_live_period": "2024"}, costs=COSTS, benefits=BENEFITS,
                     actuals=[{**a, "period": a["period"][2:6]} for a in ACTUALS])
    path = write_case_workbook(case, tmp_path / "CAL.xlsx")
    assert validate_workbook(path, as_of="2026Q3").empty
    _edit(path, "Actuals", "A5", "FY2023-24")
    row = _issue(validate_workbook(path, as_of="2026Q3"), "value.not_a_period", "Actuals", "A5")
    assert "expected a calendar year such as 2023" in row["message"] and "FY2023-24" in row["message"]


def test_the_return_form_of_a_financial_year_case(tmp_path):
    case = fy_case()
    # --as-of 2026Q3 on a yearly case means the year it reviews: FY2025-26 (ended 31 March 2026)
    form = write_actuals_form(case, "2026Q3", tmp_path / "r.xlsx")
    ws = openpyxl.load_workbook(form)["Return"]
    assert ws["B3"].value == "FY2025-26"
    assert [r["line_id"] for r in due_lines(case, "FY2025-26")] == ["C1", "C2", "B1"]
    fc = openpyxl.load_workbook(form)["Forecast"]
    assert {fc.cell(r, 3).value for r in range(8, fc.max_row + 1)} == {"FY2026-27", "FY2027-28", "FY2028-29"}
    with pytest.raises(WorkbookError, match="expected a UK financial year such as FY2023-24"):
        due_lines(case, "2025")


def _fill_return(case_path: Path, tmp_path: Path) -> Path:
    out = case_path.with_name("FY-1.returns") / "FY2025-26.xlsx"
    out.parent.mkdir()
    assert main(["actuals-form", str(case_path), str(out), "--as-of", "2026Q3"]) == 0
    wb = openpyxl.load_workbook(out)
    ws = wb["Return"]
    for r in range(8, ws.max_row + 1):
        lid = ws[f"C{r}"].value
        if lid == "C2":
            ws[f"O{r}"] = 120
        elif lid == "B1":
            ws[f"O{r}"], ws[f"P{r}"] = 500, 100
    wb.save(out)
    return out


def test_status_of_a_financial_year_case_with_a_return(tmp_path, capsys):
    path = write_case_workbook(fy_case(), tmp_path / "FY-1.xlsx")
    _fill_return(path, tmp_path)
    capsys.readouterr()
    assert main(["status", str(path), "--as-of", "2026Q3", "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    # actuals to FY2025-26: costs 1100 + 450 + 100 + 120 = 1770 against a plan of 1000 + 500 + 100 + 100 = 1700;
    # benefits 150 + 500 = 650 of 200 + 600 = 800 (81.25 %). Undiscounted (0 %): approved NPV 2600 - 2000 = 600;
    # expected 2450 - 2070 = 380 (benefits 0 + 150 + 500 + 600 x 3, costs 1550 + 100 + 120 + 100 x 3).
    assert d["period"] == "FY2025-26"
    assert (d["cost_actual_to_date"], d["cost_plan_to_date"]) == (1770.0, 1700.0)
    assert (d["benefit_actual_to_date"], d["benefit_plan_to_date"]) == (650.0, 800.0)
    assert d["realisation_pct"] == pytest.approx(0.8125)
    assert (d["approved_npv"], d["expected_npv"]) == (600.0, 380.0)
    # as of 2025Q4 FY2025-26 has not ended: the review covers FY2024-25 and the FY2025-26 return waits
    assert main(["status", str(path), "--as-of", "2025Q4", "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["period"] == "FY2024-25" and d["cost_actual_to_date"] == 1650.0


def test_review_of_a_financial_year_case_shows_fy_labels_and_records_history(tmp_path, capsys):
    folder = tmp_path / "cases"
    folder.mkdir()
    path = write_case_workbook(fy_case(), folder / "FY-1.xlsx")
    _fill_return(path, tmp_path)
    out = tmp_path / "reports" / "2026Q3"
    assert main(["review", str(folder), "--as-of", "2026Q3", "--out", str(out), "--workers", "1",
                 "--progress", "off"]) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    case = next(c for c in manifest["cases"] if c["case_id"] == "FY-1")
    assert case["status"] == "ok"
    html = (out / "cases" / case["safe_id"] / "pack.html").read_text()
    assert "FY2025-26" in html and "FY2028-29" in html
    capsys.readouterr()
    assert main(["history", "show", "FY-1", "--history", str(folder), "--json"]) == 0
    hist = json.loads(capsys.readouterr().out)
    assert [q["quarter"] for q in hist["quarters"]] == ["2026Q3"]
    assert hist["quarters"][0]["expected_npv"] == 380.0
    # the review's own figures agree with vmo status (one review)
    r = review_case(load_case(path, as_of="2026Q3"), "2026Q3", iterations=0)
    assert r.status.expected_npv == 380.0


def test_cli_actuals_form_on_a_financial_year_case_names_the_year(tmp_path, capsys):
    path = write_case_workbook(fy_case(), tmp_path / "FY-1.xlsx")
    capsys.readouterr()
    assert main(["actuals-form", str(path), str(tmp_path / "r.xlsx"), "--as-of", "2026Q3"]) == 0
    out = capsys.readouterr().out
    assert "due for FY-1 in FY2025-26" in out
    assert openpyxl.load_workbook(tmp_path / "r.xlsx")["Return"]["B3"].value == "FY2025-26"


def test_a_return_stamped_with_a_quarter_on_a_yearly_case_is_a_bad_period(tmp_path):
    from vmo_lib.intake.returns import check_returns

    case = fy_case()
    form = write_actuals_form(case, "FY2025-26", tmp_path / "r.xlsx")
    wb = openpyxl.load_workbook(form)
    wb["Return"]["B3"] = "2026Q1"
    wb.save(form)
    issues = check_returns(case, [form], "2026Q3")
    row = issues[(issues["rule"] == "return.bad_period") & (issues["cell"] == "B3")]
    assert len(row) == 1 and "'2026Q1' is not a year label such as FY2023-24" in row.iloc[0]["message"]
