"""Quarterly actuals returns: the pre-filled form, and merging filled returns without overwriting anything."""

from __future__ import annotations

import json
import math
import shutil

import pytest
from openpyxl import load_workbook

from vmo_lib.analysis.realisation import realisation_by_benefit
from vmo_lib.cli import main
from vmo_lib.errors import ValidationError, WorkbookError
from vmo_lib.intake.returns import (
    HEADER_ROW,
    due_lines,
    find_returns,
    merge_returns,
    returns_folder,
    write_actuals_form,
)
from vmo_lib.model import make_case

FIRST = HEADER_ROW + 1      # first line row of the form
# Column letters of the form: O actual amount, P measured KPI, Q comment, C line id, A case id.
AMOUNT, KPI, COMMENT, LINE, CASE = "O", "P", "Q", "C", "A"
PROFILE = {"owner": "Ops", "kpi": "Orders per FTE", "unit": "count", "baseline_value": 100,
           "baseline_date": "2025-12-01", "target_value": 150, "target_date": "2027-12-31", "frequency": "quarterly"}


def crm(**kw):
    return make_case({"case_id": "CRM-1", "title": "CRM", "first_period": "2026Q1", "horizon": 8},
                     costs=[{"line_id": "C1", "name": "Licences", "category": "opex", "amounts": [50] * 8},
                            {"line_id": "C2", "name": "Build", "amounts": [200, 100]}],
                     benefits=[{"line_id": "B1", "name": "Upsell", **PROFILE, "amounts": [0, 0, 80, 80, 80, 80, 80, 80]}],
                     **kw)


def fill(path, values):
    """Type values into a return like an owner would: {cell: value}."""
    wb = load_workbook(path)
    ws = wb["Return"]
    for cell, v in values.items():
        ws[cell] = v
    wb.save(path)
    return path


def row_of(path, line_id):
    ws = load_workbook(path)["Return"]
    for r in range(FIRST, ws.max_row + 1):
        if ws[f"{LINE}{r}"].value == line_id:
            return r
    raise AssertionError(line_id)


# --- the form ----------------------------------------------------------------------------------------------
def test_form_lists_the_lines_due_with_plan_and_kpi(tmp_path):
    case = crm(actuals=[{"period": "2026Q2", "line_id": "B1", "kpi_value": 104}],
               forecast=[{"period": "2026Q3", "line_id": "B1", "amount": 70}])
    path = write_actuals_form(case, "2026Q3", tmp_path / "crm-2026Q3.xlsx")
    ws = load_workbook(path)["Return"]
    assert (ws["B2"].value, ws["B3"].value) == ("CRM-1", "2026Q3")
    rows = [[c.value for c in row] for row in ws.iter_rows(min_row=FIRST, max_row=ws.max_row)]
    # C2 (build) has no plan in Q3, so it is not asked for.
    assert [r[2] for r in rows] == ["C1", "B1"]
    b1 = rows[1]
    assert b1[7:14] == [80, 70, "Orders per FTE", "count", 100, 150, 104]   # plan, forecast, KPI, last measured
    assert b1[14:] == [None, None, None]                                     # blank inputs
    # only the input cells are unlocked; the sheet is protected; inputs are validated as numbers
    assert ws.protection.sheet
    assert not ws[f"{AMOUNT}{FIRST}"].protection.locked and ws[f"{LINE}{FIRST}"].protection.locked
    ranges = {str(dv.sqref): dv.type for dv in ws.data_validations.dataValidation}
    assert ranges[f"{AMOUNT}{FIRST}:{KPI}{FIRST + 1}"] == "decimal"


def test_form_leaves_out_lines_already_reported():
    case = crm(actuals=[{"period": "2026Q3", "line_id": "C1", "amount": 50}])
    assert [r["line_id"] for r in due_lines(case, "2026Q3")] == ["B1"]


def test_form_neutralises_formula_text_from_the_workbook(tmp_path):
    case = make_case({"case_id": "X", "first_period": "2026Q1", "horizon": 2},
                     costs=[{"line_id": "C1", "name": '=HYPERLINK("http://evil","click")', "owner": "+cmd",
                             "amounts": [10, 10]}])
    path = write_actuals_form(case, "2026Q1", tmp_path / "x.xlsx")
    ws = load_workbook(path)["Return"]
    cell = ws[f"E{FIRST}"]
    assert cell.data_type == "s" and cell.quotePrefix
    assert cell.value == '=HYPERLINK("http://evil","click")'


def test_form_never_overwrites_the_case_workbook(tmp_path):
    case = crm()
    src = tmp_path / "CRM-1.xlsx"
    src.write_bytes(b"submitted")
    case.source = str(src)
    with pytest.raises(WorkbookError, match="refusing to overwrite"):
        write_actuals_form(case, "2026Q3", src)
    assert src.read_bytes() == b"submitted"


def test_form_is_written_atomically_with_no_temporary_left(tmp_path):
    write_actuals_form(crm(), "2026Q3", tmp_path / "r.xlsx")
    assert [p.name for p in tmp_path.iterdir()] == ["r.xlsx"]


# --- merging --------------------------------------------------------------------------------------------------
def test_filled_return_is_merged_into_the_actuals(tmp_path):
    case = crm()
    form = write_actuals_form(case, "2026Q3", tmp_path / "2026Q3.xlsx")
    r = row_of(form, "B1")
    fill(form, {f"{AMOUNT}{r}": 96, f"{KPI}{r}": 112.5, f"{COMMENT}{r}": "campaign"})
    merged = merge_returns(case, [form], as_of="2026Q3")
    a = merged.flows[(merged.flows["scenario"] == "actual") & (merged.flows["line_id"] == "B1")].iloc[0]
    assert (a["period"], a["amount"], a["kpi_value"], a["comment"]) == ("2026Q3", 96.0, 112.5, "campaign")
    assert merged.meta["actuals_returns"] == [{"file": str(form), "period": "2026Q3", "rows": 1}]
    assert case.flows["scenario"].eq("actual").sum() == 0          # the loaded case is not changed
    # and the realisation sees it: 96 against a plan of 80 → +16, KPI (112.5 − 100)/(150 − 100) = 25 %
    b = realisation_by_benefit(merged, "2026Q3").iloc[0]
    assert (b["variance_to_date"], b["kpi_progress_pct"]) == (16.0, 0.25)


def test_conflicting_return_is_rejected_with_its_file_and_cell(tmp_path):
    case = crm(actuals=[{"period": "2026Q3", "line_id": "B1", "amount": 90}])
    case.source = str(tmp_path / "CRM-1.xlsx")
    form = write_actuals_form(make_case_without_actuals(case), "2026Q3", tmp_path / "2026Q3.xlsx")
    r = row_of(form, "B1")
    fill(form, {f"{AMOUNT}{r}": 95})
    with pytest.raises(ValidationError) as err:
        merge_returns(case, [form], as_of="2026Q3")
    issue = err.value.issues.iloc[0]
    assert (issue["file"], issue["sheet"], issue["cell"], issue["rule"]) == (str(form), "Return", f"{AMOUNT}{r}",
                                                                             "return.conflict")
    assert "95" in issue["message"] and "90" in issue["message"] and "CRM-1.xlsx" in issue["message"]


def make_case_without_actuals(case):
    return case.with_flows(case.flows[case.flows["scenario"] != "actual"])


def test_two_returns_disagreeing_are_rejected_naming_both(tmp_path):
    case = crm()
    a = write_actuals_form(case, "2026Q3", tmp_path / "a.xlsx")
    b = write_actuals_form(case, "2026Q3", tmp_path / "b.xlsx")
    r = row_of(a, "C1")
    fill(a, {f"{AMOUNT}{r}": 50})
    fill(b, {f"{AMOUNT}{r}": 55})
    with pytest.raises(ValidationError) as err:
        merge_returns(case, [a, b], as_of="2026Q3")
    issue = err.value.issues.iloc[0]
    assert (issue["file"], issue["cell"]) == (str(b), f"{AMOUNT}{r}")
    assert "a.xlsx Return!" + f"{AMOUNT}{r}" in issue["message"]


def test_the_same_value_twice_is_accepted_once_and_a_blank_is_filled_not_overwritten(tmp_path):
    case = crm(actuals=[{"period": "2026Q3", "line_id": "B1", "amount": 80}])
    form = write_actuals_form(make_case_without_actuals(case), "2026Q3", tmp_path / "r.xlsx")
    r = row_of(form, "B1")
    fill(form, {f"{AMOUNT}{r}": 80, f"{KPI}{r}": 110})
    merged = merge_returns(case, [form], as_of="2026Q3")
    rows = merged.flows[(merged.flows["scenario"] == "actual") & (merged.flows["line_id"] == "B1")]
    assert len(rows) == 1 and (rows.iloc[0]["amount"], rows.iloc[0]["kpi_value"]) == (80.0, 110.0)


def test_unknown_line_other_case_later_period_and_text_are_all_reported_at_once(tmp_path, monkeypatch):
    import vmo_lib.intake.validation as validation

    monkeypatch.setattr(validation, "current_quarter", lambda: "2026Q3")  # the 2026Q4 return is from the future
    case = crm()
    bad_rows = write_actuals_form(case, "2026Q3", tmp_path / "1-bad-rows.xlsx")
    fill(bad_rows, {f"{LINE}{FIRST}": "C9", f"{AMOUNT}{FIRST}": 5,
                    f"{AMOUNT}{FIRST + 1}": "about 80", f"{CASE}{FIRST + 1}": "ERP-9"})
    other = crm()
    other.meta["case_id"] = "ERP-9"
    wrong_case = fill(write_actuals_form(other, "2026Q3", tmp_path / "2-other-case.xlsx"), {f"{AMOUNT}{FIRST}": 1})
    later = fill(write_actuals_form(case, "2026Q4", tmp_path / "3-later.xlsx"), {f"{AMOUNT}{FIRST}": 1})
    with pytest.raises(ValidationError) as err:
        merge_returns(case, [bad_rows, wrong_case, later], as_of="2026Q3")
    got = {(p.split("/")[-1], c, rule) for p, c, rule in err.value.issues[["file", "cell", "rule"]].values}
    assert got == {
        ("1-bad-rows.xlsx", f"{LINE}{FIRST}", "return.unknown_line"),
        ("1-bad-rows.xlsx", f"{CASE}{FIRST + 1}", "return.other_case"),
        ("1-bad-rows.xlsx", f"{AMOUNT}{FIRST + 1}", "return.not_a_number"),
        ("2-other-case.xlsx", "B2", "return.other_case"),
        ("3-later.xlsx", "B3", "return.period_after_review"),
    }


def test_a_later_return_is_left_out_with_a_warning_when_reviewing_an_earlier_quarter(tmp_path, monkeypatch):
    import vmo_lib.intake.validation as validation

    monkeypatch.setattr(validation, "current_quarter", lambda: "2026Q4")  # 2026Q3 reviewed again in 2026Q4
    case = crm()
    later = fill(write_actuals_form(case, "2026Q4", tmp_path / "2026Q4.xlsx"), {f"{AMOUNT}{FIRST}": 1})
    merged = merge_returns(case, [later], as_of="2026Q3")
    assert merged.flows.equals(case.flows)  # nothing of 2026Q4 merged
    rows = merged.issues[merged.issues["rule"] == "return.after_review"]
    assert rows[["cell", "severity"]].values.tolist() == [["B3", "warning"]]
    assert "left out of this review of an earlier quarter" in rows["message"].iloc[0]


def test_a_file_that_is_not_a_return_is_refused(tmp_path):
    from openpyxl import Workbook
    p = tmp_path / "notes.xlsx"
    Workbook().save(p)
    with pytest.raises(WorkbookError, match="not an actuals return"):
        merge_returns(crm(), [p])


def test_returns_folder_convention(tmp_path):
    case_path = tmp_path / "CRM-1.xlsx"
    assert returns_folder(case_path) == tmp_path / "CRM-1.returns"
    assert find_returns(case_path) == []
    (tmp_path / "CRM-1.returns").mkdir()
    for n in ("2026Q3.xlsx", "2026Q2.xlsx", "~$2026Q3.xlsx", "readme.txt"):
        (tmp_path / "CRM-1.returns" / n).write_bytes(b"")
    assert [p.name for p in find_returns(case_path)] == ["2026Q2.xlsx", "2026Q3.xlsx"]


# --- CLI -------------------------------------------------------------------------------------------------------
@pytest.fixture
def case_file(tmp_path):
    from vmo_lib.intake.template import write_case_workbook
    case = make_case({"case_id": "CLI-1", "title": "CLI case", "sponsor": "CFO", "strategic_objective": "Save",
                      "org_unit": "Finance", "approval_date": "2025-12-01", "horizon": 8, "discount_rate": 0.0},
                     costs=[{"line_id": "C1", "name": "Build", "category": "capex", "amounts": [100, 0, 0, 0]}],
                     benefits=[{"line_id": "B1", "name": "Saving", "benefit_type": "cash-releasing",
                                "data_source": "ledger", "confidence": "high", **PROFILE,
                                "amounts": [0, 0, 40, 40, 40, 40, 40, 40]}],
                     actuals=[{"period": "2026Q1", "line_id": "C1", "amount": 100},
                              {"period": "2026Q2", "line_id": "C1", "amount": 0}])
    return write_case_workbook(case, tmp_path / "CLI-1.xlsx")


def test_cli_actuals_form_then_status_merges_the_return(case_file, tmp_path, capsys):
    out = tmp_path / "CLI-1.returns" / "2026Q3.xlsx"
    out.parent.mkdir()
    assert main(["actuals-form", str(case_file), str(out), "--as-of", "2026Q3"]) == 0
    r = row_of(out, "B1")
    fill(out, {f"{AMOUNT}{r}": 50, f"{KPI}{r}": 120})
    capsys.readouterr()
    assert main(["status", str(case_file), "--as-of", "2026Q3", "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    # Baseline NPV (no discounting) 6·40 − 100 = 140; expected 50 + 5·40 − 100 = 150: +10 of PV cost 100.
    assert (d["baseline_npv"], d["expected_npv"], d["verdict"]) == (140.0, 150.0, "value created")
    assert d["bridge"] == {"cost": 0.0, "benefit": 10.0, "timing": 0.0}
    assert d["realisation_pct"] == 1.25
    assert main(["status", str(case_file), "--as-of", "2026Q3"]) == 0
    text = capsys.readouterr().out
    assert "VALUE CREATED" in text and "positive = better than plan" in text


def test_cli_status_reports_a_conflicting_return_with_exit_code_1(case_file, tmp_path, capsys):
    folder = tmp_path / "CLI-1.returns"
    folder.mkdir()
    a = tmp_path / "a.xlsx"
    assert main(["actuals-form", str(case_file), str(a), "--as-of", "2026Q3"]) == 0
    r = row_of(a, "B1")
    shutil.copy(fill(a, {f"{AMOUNT}{r}": 50}), folder / "one.xlsx")
    shutil.copy(fill(a, {f"{AMOUNT}{r}": 51}), folder / "two.xlsx")
    capsys.readouterr()
    assert main(["status", str(case_file), "--as-of", "2026Q3"]) == 1
    err = capsys.readouterr().err
    assert f"Return!{AMOUNT}{r}" in err


def test_cli_status_rejects_a_bad_quarter(case_file, capsys):
    assert main(["status", str(case_file), "--as-of", "2026Q7"]) == 2
    assert "2026Q7" in capsys.readouterr().err


def test_nan_free_json_numbers(case_file, capsys):
    assert main(["status", str(case_file), "--as-of", "2026Q2", "--json"]) == 0   # no benefit due yet
    d = json.loads(capsys.readouterr().out)
    assert d["realisation_pct"] is None and not any(isinstance(v, float) and math.isnan(v) for v in d["bridge"].values())


# --- range checks and cleaning in returns (issue 15) ------------------------------------------------------------
# crm()'s plan, non-zero: C1 50 x8, C2 200 and 100, B1 80 x6 -> sorted 50 x8 | 80 x6, 100, 200:
# median (50 + 80) / 2 = 65, so the plausibility warning starts above 1,000 x 65 = 65,000.
def test_a_negative_cost_and_a_1e300_benefit_in_a_return_are_refused(tmp_path):
    case = crm()
    form = write_actuals_form(case, "2026Q3", tmp_path / "2026Q3.xlsx")
    rc, rb = row_of(form, "C1"), row_of(form, "B1")
    fill(form, {f"{AMOUNT}{rc}": -5_000_000, f"{AMOUNT}{rb}": 1e300})
    with pytest.raises(ValidationError) as err:
        merge_returns(case, [form], as_of="2026Q3")
    got = {(c, rule, sev): m for c, rule, sev, m in err.value.issues[["cell", "rule", "severity", "message"]].values}
    # -5,000,000 is also 77,000x the median of 65: a warning besides the error
    assert set(got) == {(f"{AMOUNT}{rc}", "costs.negative_amount", "error"),
                        (f"{AMOUNT}{rc}", "value.implausible_amount", "warning"),
                        (f"{AMOUNT}{rb}", "value.implausible_amount", "error")}
    assert got[(f"{AMOUNT}{rc}", "costs.negative_amount", "error")].startswith(
        "actual for cost C1 in 2026Q3: -5,000,000.00 is negative; expected a positive amount")
    assert "1e+300 is beyond the plausibility bound of 1e12" in got[(f"{AMOUNT}{rb}", "value.implausible_amount", "error")]
    assert (err.value.issues["sheet"] == "Return").all()


def test_an_amount_above_1000x_the_median_is_merged_with_a_warning(tmp_path):
    case = crm()
    form = write_actuals_form(case, "2026Q3", tmp_path / "2026Q3.xlsx")
    rc, rb = row_of(form, "C1"), row_of(form, "B1")
    fill(form, {f"{AMOUNT}{rc}": 65_001, f"{AMOUNT}{rb}": 65_000})
    merged = merge_returns(case, [form], as_of="2026Q3")
    assert merged.matrix("actual").loc["C1", 2] == 65_001
    w = merged.issues
    assert w[["cell", "rule", "severity"]].values.tolist() == [[f"{AMOUNT}{rc}", "value.implausible_amount", "warning"]]
    assert "median non-zero line-period amount (65.00)" in w["message"].iloc[0]


def test_bidi_characters_in_a_return_are_removed_with_a_warning(tmp_path):
    case = crm()
    form = write_actuals_form(case, "2026Q3", tmp_path / "2026Q3.xlsx")
    r = row_of(form, "B1")
    fill(form, {f"{AMOUNT}{r}": 80, f"{COMMENT}{r}": "on plan \u202eexe.txt\u202c"})
    merged = merge_returns(case, [form], as_of="2026Q3")
    a = merged.flows[(merged.flows["scenario"] == "actual") & (merged.flows["line_id"] == "B1")].iloc[0]
    assert a["comment"] == "on plan exe.txt"
    w = merged.issues.iloc[0]
    assert (w["sheet"], w["cell"], w["rule"], w["severity"]) == ("Return", f"{COMMENT}{r}", "text.invisible_characters",
                                                                 "warning")
    assert "U+202C, U+202E" in w["message"]


# --- vmo validate checks the returns (issue 15) ------------------------------------------------------------------
def test_cli_validate_case_reports_every_problem_of_every_return(case_file, tmp_path, capsys):
    folder = tmp_path / "CLI-1.returns"
    folder.mkdir()
    a = tmp_path / "a.xlsx"
    assert main(["actuals-form", str(case_file), str(a), "--as-of", "2026Q3"]) == 0
    r = row_of(a, "B1")
    shutil.copy(fill(a, {f"{AMOUNT}{r}": -40, f"{LINE}{r}": "B9"}), folder / "one.xlsx")
    shutil.copy(fill(a, {f"{AMOUNT}{r}": "lots", f"{LINE}{r}": "B1"}), folder / "two.xlsx")
    capsys.readouterr()
    assert main(["validate", str(case_file), "--as-of", "2026Q3", "--json"]) == 1
    res = json.loads(capsys.readouterr().out)
    assert len(res) == 1 and res[0]["status"] == "errors"
    got = {(i["file"].split("/")[-1], i["sheet"], i["cell"], i["rule"]) for i in res[0]["issues"]
           if i["file"] != str(case_file)}
    assert got == {("one.xlsx", "Return", f"{LINE}{r}", "return.unknown_line"),
                   ("two.xlsx", "Return", f"{AMOUNT}{r}", "return.not_a_number")}
    # the text output names the return's file and cell too
    assert main(["validate", str(case_file), "--as-of", "2026Q3"]) == 1
    out = capsys.readouterr().out
    assert f"Return!{LINE}{r}" in out and f"Return!{AMOUNT}{r}" in out


def test_cli_validate_a_return_on_its_own_checks_it_as_a_return(case_file, tmp_path, capsys):
    folder = tmp_path / "CLI-1.returns"
    folder.mkdir()
    inside = folder / "2026Q3.xlsx"
    assert main(["actuals-form", str(case_file), str(inside), "--as-of", "2026Q3"]) == 0
    r = row_of(inside, "B1")
    fill(inside, {f"{AMOUNT}{r}": -40})   # B1 is cash-releasing: negative is an error, known from the case
    outside = shutil.copy(inside, tmp_path / "loose.xlsx")
    fill(outside, {f"{AMOUNT}{r}": 40})
    capsys.readouterr()
    assert main(["validate", str(inside), str(outside), "--as-of", "2026Q3", "--json"]) == 1
    res = {p["path"].split("/")[-1]: p for p in json.loads(capsys.readouterr().out)}
    assert [(i["sheet"], i["cell"], i["rule"]) for i in res["2026Q3.xlsx"]["issues"]] == [
        ("Return", f"{AMOUNT}{r}", "benefits.negative_amount")]
    assert res["loose.xlsx"]["status"] == "ok"
    assert all("Case" not in i["message"] for p in res.values() for i in p["issues"])


def test_validate_return_on_its_own_names_bad_stamp_and_numbers(tmp_path):
    from vmo_lib.intake.returns import validate_return

    form = write_actuals_form(crm(), "2026Q3", tmp_path / "r.xlsx")
    r = row_of(form, "B1")
    fill(form, {"B3": "sometime", f"{AMOUNT}{r}": "n/a", f"{KPI}{r}": 1e300})
    got = validate_return(form)
    assert got[["cell", "rule", "severity"]].values.tolist() == [
        ["B3", "return.bad_period", "error"], [f"{AMOUNT}{r}", "return.not_a_number", "error"]]
