"""A return may add a cost line the case does not have (issue 13 item 5): the Unplanned sheet of a return.

A new line id, name, category, owner, the amount spent and a required reason; it counts in actual spend
(and the spend variance), is flagged with its reason in the pack's evidence section and as a
``return.unplanned_line`` warning, and is validated cell by cell. The return also lists every open line,
benefits included, planned in the period or not. Figures are worked by hand (0 % discount rate).
"""

from __future__ import annotations

import json

import pytest
from openpyxl import load_workbook

from vmo_lib.analysis.review import review_case
from vmo_lib.cli import main
from vmo_lib.errors import ValidationError
from vmo_lib.intake.returns import (
    HEADER_ROW,
    UNPLANNED_COLUMNS,
    UNPLANNED_SHEET,
    check_returns,
    due_lines,
    merge_returns,
    validate_return,
    write_actuals_form,
)
from vmo_lib.intake.template import write_case_workbook
from vmo_lib.model import make_case
from vmo_lib.outputs.evidence import evidence_block

PROFILE = {"owner": "Sales Ops", "kpi": "Orders per FTE", "unit": "count", "baseline_value": 100,
           "baseline_date": "2025-12-01", "target_value": 150, "target_date": "2027-12-31", "frequency": "quarterly",
           "data_source": "CRM", "confidence": "medium"}
META = {"case_id": "CRM-1", "title": "CRM", "sponsor": "CCO", "strategic_objective": "Grow", "org_unit": "Sales",
        "status": "in delivery", "approval_date": "2025-12-15", "first_period": "2026Q1", "horizon": 8,
        "go_live_period": "2026Q3", "discount_rate": 0.0}
COSTS = [{"line_id": "C1", "name": "Licences", "category": "opex", "amounts": [50] * 8, "owner": "IT"},
         {"line_id": "C2", "name": "Build", "category": "capex", "amounts": [200, 100], "owner": "PMO"}]
BENEFITS = [{"line_id": "B1", "name": "Upsell", **PROFILE, "amounts": [0, 0, 80, 80, 80, 80, 80, 80]}]
ACTUALS = [{"period": "2026Q1", "line_id": "C1", "amount": 50}, {"period": "2026Q1", "line_id": "C2", "amount": 200},
           {"period": "2026Q2", "line_id": "C1", "amount": 50}, {"period": "2026Q2", "line_id": "C2", "amount": 100}]
U = {k: i + 1 for i, k in enumerate(UNPLANNED_COLUMNS)}   # column numbers of the Unplanned sheet
FIRST = HEADER_ROW + 1
LICENCE = {"line_id": "U1", "name": "Emergency licence", "category": "capex", "owner": "CIO", "amount": 30,
           "reason": "Vendor audit found 12 unlicensed seats"}


def crm(benefits=BENEFITS):
    return make_case(META, costs=COSTS, benefits=benefits, actuals=ACTUALS)


def form(case, tmp_path, period="2026Q3", name=None, lines=(), unplanned=()):
    """A filled return: {line id: amount} on the Return sheet, then rows of the Unplanned sheet."""
    path = write_actuals_form(case, period, tmp_path / (name or f"{period}.xlsx"))
    wb = load_workbook(path)
    ws = wb["Return"]
    for r in range(FIRST, ws.max_row + 1):
        if ws.cell(r, 3).value in dict(lines):
            ws.cell(r, 15).value = dict(lines)[ws.cell(r, 3).value]
    us = wb[UNPLANNED_SHEET]
    for i, row in enumerate(unplanned):
        for k, v in row.items():
            us.cell(FIRST + i, U[k]).value = v
    wb.save(path)
    return path


def test_the_form_has_an_unplanned_sheet_naming_the_ids_in_use(tmp_path):
    ws = load_workbook(write_actuals_form(crm(), "2026Q3", tmp_path / "r.xlsx"))[UNPLANNED_SHEET]
    assert [ws.cell(HEADER_ROW, c).value for c in range(1, 10)] == [h for h, _, _ in UNPLANNED_COLUMNS.values()]
    assert "not one of the case's: C1, C2, B1" in ws["A2"].value and "required" in ws["A2"].value
    assert ws.cell(FIRST, 1).fill.fgColor.rgb.endswith("FFF2CC")           # 20 yellow input rows
    assert ws.cell(FIRST + 19, U["reason"]).fill.fgColor.rgb.endswith("FFF2CC")


def test_an_unplanned_line_is_added_to_actual_spend_and_flagged_with_its_reason(tmp_path):
    case = crm()
    plain = merge_returns(case, [form(case, tmp_path, name="a.xlsx", lines={"C1": 50, "B1": 80})], as_of="2026Q3")
    merged = merge_returns(case, [form(case, tmp_path, name="b.xlsx", lines={"C1": 50, "B1": 80},
                                       unplanned=[LICENCE])], as_of="2026Q3")
    line = merged.lines.set_index("line_id").loc["U1"]
    assert (line["kind"], line["name"], line["category"], line["owner"]) == ("cost", "Emergency licence", "capex",
                                                                             "CIO")
    assert merged.matrix("actual").loc["U1"].tolist() == [0, 0, 30, 0, 0, 0, 0, 0]
    assert merged.matrix("baseline").loc["U1"].abs().sum() == 0            # no plan
    assert len(case.lines) == 3 and "U1" not in case.line_ids()            # the loaded case is unchanged
    (u,) = merged.meta["unplanned_lines"]
    assert (u["line_id"], u["amount"], u["period"], u["reason"]) == ("U1", 30.0, "2026Q3", LICENCE["reason"])
    warn = merged.issues[merged.issues["rule"] == "return.unplanned_line"].iloc[0]
    assert (warn["sheet"], warn["cell"], warn["severity"]) == (UNPLANNED_SHEET, f"A{FIRST}", "warning")
    assert "reason: Vendor audit" in warn["message"]

    before, after = review_case(plain, "2026Q3", iterations=0), review_case(merged, "2026Q3", iterations=0)
    b, a = before.to_dict(), after.to_dict()
    # spend to 2026Q3: plan C1 3 x 50 + C2 300 = 450; actual 450 without U1, 480 with it (106.7 % of plan)
    assert (b["cost_actual_to_date"], a["cost_actual_to_date"]) == (450.0, 480.0)
    assert (a["cost_plan_to_date"], a["cost_variance_to_date"]) == (450.0, b["cost_variance_to_date"] - 30)  # positive = better
    assert a["cost_spend_pct"] == pytest.approx(480 / 450)
    # undiscounted: benefits 6 x 80 = 480, costs C1 400 + C2 300 = 700 -> -220; U1 takes 30 more: -250
    assert (b["expected_npv"], a["expected_npv"]) == (-220.0, -250.0)
    assert a["bridge"]["cost"] == pytest.approx(b["bridge"]["cost"] - 30)
    html = evidence_block(after).html
    assert "Unplanned cost line U1 Emergency licence (capex, owner CIO)" in html
    assert "reason: Vendor audit found 12 unlicensed seats" in html


def test_missing_reason_clash_and_bad_values_are_reported_at_once_by_cell(tmp_path):
    case = crm()
    rows = [{**LICENCE, "reason": None},                                           # row 8: no reason
            {**LICENCE, "line_id": "C1", "name": "More licences"},                 # row 9: C1 is a cost line
            {**LICENCE, "line_id": "U2", "category": "capital", "owner": None},    # row 10: bad category, no owner
            {**LICENCE, "line_id": "U3", "amount": -5},                            # row 11: a negative cost
            {"reason": "typed a reason only"}]                                    # row 12: no id, name, amount...
    path = form(case, tmp_path, unplanned=rows)
    issues = check_returns(case, [path], "2026Q3")
    got = {(r.cell, r.rule) for r in issues.itertuples() if r.severity == "error"}
    letter = {k: chr(64 + c) for k, c in U.items()}
    assert {(f"{letter['reason']}8", "return.unplanned_no_reason"),
            (f"{letter['line_id']}9", "return.unplanned_clash"),
            (f"{letter['category']}10", "return.unplanned_incomplete"),
            (f"{letter['owner']}10", "return.unplanned_incomplete"),
            (f"{letter['amount']}11", "costs.negative_amount"),
            (f"{letter['line_id']}12", "return.unplanned_incomplete"),
            (f"{letter['name']}12", "return.unplanned_incomplete"),
            (f"{letter['amount']}12", "return.unplanned_incomplete")} <= got
    assert set(issues.loc[issues["severity"] == "error", "sheet"]) == {UNPLANNED_SHEET}
    clash = issues[issues["rule"] == "return.unplanned_clash"].iloc[0]["message"]
    assert "'C1' is already a cost line of case CRM-1 (Licences)" in clash and "expected a new id" in clash
    with pytest.raises(ValidationError):
        merge_returns(case, [path], as_of="2026Q3")
    # checked on its own (no case), the missing reason is still an error naming its cell
    alone = validate_return(path)
    assert ((alone["rule"] == "return.unplanned_no_reason") & (alone["cell"] == f"{letter['reason']}8")).any()


def test_the_same_new_line_in_two_quarters_is_one_line_and_a_changed_description_a_conflict(tmp_path):
    case = crm()
    q3 = form(case, tmp_path, "2026Q3", unplanned=[LICENCE])
    q4 = form(case, tmp_path, "2026Q4", unplanned=[{**LICENCE, "amount": 12}])
    merged = merge_returns(case, [q3, q4], as_of="2026Q4")
    assert merged.matrix("actual").loc["U1"].tolist() == [0, 0, 30, 12, 0, 0, 0, 0]
    assert list(merged.lines["line_id"]).count("U1") == 1
    q4b = form(case, tmp_path, "2026Q4", name="q4b.xlsx", unplanned=[{**LICENCE, "category": "opex"}])
    issues = check_returns(case, [q3, q4b], "2026Q4")
    conflict = issues[issues["rule"] == "return.conflict"]
    assert len(conflict) == 1 and "'Emergency licence' (capex) in 2026Q3.xlsx" in conflict.iloc[0]["message"]


def test_a_return_row_for_a_new_id_points_to_the_unplanned_sheet(tmp_path):
    case = crm()
    path = form(case, tmp_path)
    wb = load_workbook(path)
    ws = wb["Return"]
    ws.protection.sheet = False
    ws.cell(20, 3).value, ws.cell(20, 15).value = "U9", 5
    wb.save(path)
    msg = check_returns(case, [path], "2026Q3").query("rule == 'return.unknown_line'").iloc[0]["message"]
    assert "'U9' is not a line of case CRM-1" in msg and "Unplanned sheet" in msg


def test_the_form_lists_every_open_line_benefits_included():
    benefits = [*BENEFITS,
                {"line_id": "B2", "name": "Later saving", "amounts": [0, 0, 0, 0, 0, 60, 60, 60]},   # opens 2027Q2
                {"line_id": "B3", "name": "Quick win", "amounts": [30, 30]},                         # ended 2026Q2
                {"line_id": "B4", "name": "Lumpy", "amounts": [0, 0, 0, 40, 0, 40]}]                 # 0 in 2026Q3
    case = make_case(META, costs=COSTS, benefits=benefits, actuals=ACTUALS,
                     forecast=[{"period": "2027Q4", "line_id": "B3", "amount": 10}])   # B3 reopened later
    listed = [r["line_id"] for r in due_lines(case, "2026Q3")]
    # every cost line; B1 planned; B2 and B4 open later (not planned in 2026Q3); B3 open again by its forecast
    assert listed == ["C1", "C2", "B1", "B2", "B3", "B4"]
    closed = make_case(META, costs=COSTS, benefits=benefits[:3], actuals=ACTUALS)
    assert [r["line_id"] for r in due_lines(closed, "2026Q3")] == ["C1", "C2", "B1", "B2"]   # B3 has ended


def test_cli_status_counts_the_unplanned_line(tmp_path, capsys):
    case_file = write_case_workbook(crm(), tmp_path / "CRM-1.xlsx")
    folder = tmp_path / "CRM-1.returns"
    folder.mkdir()
    form(crm(), folder, lines={"C1": 50, "B1": 80}, unplanned=[LICENCE])
    capsys.readouterr()
    assert main(["status", str(case_file), "--as-of", "2026Q3", "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert (d["cost_actual_to_date"], d["cost_plan_to_date"], d["expected_npv"]) == (480.0, 450.0, -250.0)
    assert "U1" in {c["line_id"] for c in d["costs"]}
    assert main(["validate", str(case_file), "--as-of", "2026Q3", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    rules = {i["rule"] for f in out for i in f["issues"]}
    assert "return.unplanned_line" in rules


def test_review_pack_flags_the_unplanned_line(tmp_path):
    folder = tmp_path / "cases"
    folder.mkdir()
    write_case_workbook(crm(), folder / "CRM-1.xlsx")
    (folder / "CRM-1.returns").mkdir()
    form(crm(), folder / "CRM-1.returns", lines={"C1": 50, "B1": 80}, unplanned=[LICENCE])
    out = tmp_path / "reports"
    assert main(["review", str(folder), "--as-of", "2026Q3", "--out", str(out), "--workers", "1",
                 "--progress", "off"]) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    case = next(c for c in manifest["cases"] if c["case_id"] == "CRM-1")
    html = (out / "cases" / case["safe_id"] / "pack.html").read_text()
    assert "Unplanned cost line U1 Emergency licence (capex, owner CIO)" in html
    assert "Vendor audit found 12 unlicensed seats" in html
