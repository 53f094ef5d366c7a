"""Status hygiene (issue 13 item 6): validation warns when a case's status contradicts its data, on the
Status cell, saying what was expected; cost lines carry owners, shown on the return."""

from __future__ import annotations

import openpyxl
import pytest
from conftest import _PROFILE, VALID_META

from vmo_lib import schema
from vmo_lib.intake.loader import load_case, validate_workbook
from vmo_lib.intake.returns import due_lines, write_actuals_form
from vmo_lib.intake.template import write_case_workbook
from vmo_lib.model import make_case

RULE = "case.status_contradicts_data"
KEYS = [c.key for c in schema.CASE_FIELDS]
STATUS = f"B{schema.CASE_FIRST_ROW + KEYS.index('status')}"

# 8 quarters 2026Q1..2027Q4; actuals to 2026Q2; forecasts for 2026Q2 (reported period), 2026Q4 and 2027Q2.
COSTS = [{"line_id": "C1", "name": "Build", "category": "capex", "amounts": [100, 100], "owner": "CIO"},
         {"line_id": "C2", "name": "Run", "category": "opex", "amounts": [0, 0] + [10] * 6, "owner": "Head of Ops"}]
BENEFITS = [{"line_id": "B1", "name": "Savings", "benefit_type": "cash-releasing", **_PROFILE,
             "amounts": [0, 0, 40, 40, 40, 40, 40, 40]}]
ACTUALS = [{"period": "2026Q1", "line_id": "C1", "amount": 100}, {"period": "2026Q2", "line_id": "C1", "amount": 90}]
FORECAST = [{"period": "2026Q2", "line_id": "B1", "amount": 5},     # not after the review period 2026Q2
            {"period": "2026Q4", "line_id": "B1", "amount": 30},
            {"period": "2027Q2", "line_id": "C2", "amount": 12},
            {"period": "2027Q3", "line_id": "C2", "amount": 0}]     # a zero forecast expects nothing


def workbook(tmp_path, status, forecast=FORECAST, **meta):
    case = make_case({**VALID_META, "status": status, "go_live_period": "2026Q3", **meta}, costs=COSTS,
                     benefits=BENEFITS, actuals=ACTUALS, forecast=forecast)
    return write_case_workbook(case, tmp_path / f"{status}.xlsx")


def warnings(path, as_of):
    issues = validate_workbook(path, as_of=as_of)
    rows = issues[issues["rule"] == RULE]
    assert set(rows["severity"]) <= {"warning"} and set(rows["cell"]) <= {STATUS}
    return list(rows["message"])


def test_a_closed_case_with_forecasts_after_the_review_period_is_a_warning(tmp_path):
    path = workbook(tmp_path, "closed")
    (msg,) = warnings(path, "2026Q2")
    # after 2026Q2: 2026Q4 (30) and 2027Q2 (12) count; 2026Q2 itself and the zero of 2027Q3 do not
    assert "status is 'closed' but the Forecast sheet holds 2 forecast(s) for 2 period(s) after the review " \
           "period 2026Q2 (2026Q4 to 2027Q2)" in msg
    assert "expected no forecast after a case is closed" in msg and "'live'" in msg
    # as of 2027Q2 only 2027Q3's zero is later: nothing to say
    assert warnings(path, "2027Q2") == []


def test_a_closed_case_without_later_forecasts_and_a_live_case_with_them_are_clean(tmp_path):
    assert warnings(workbook(tmp_path, "closed", forecast=FORECAST[:1]), "2026Q2") == []
    assert warnings(workbook(tmp_path, "live"), "2026Q2") == []


@pytest.mark.parametrize("status", ["in delivery", "approved"])
def test_in_delivery_or_approved_past_the_horizon_is_a_warning(tmp_path, status):
    path = workbook(tmp_path, status, forecast=[])
    msgs = warnings(path, "2028Q1")   # the last period is 2027Q4
    past = [m for m in msgs if "horizon" in m]
    assert past == [f"status is {status!r} but the review period 2028Q1 is after the case's last period 2027Q4 "
                    "(horizon 8): expected 'live' or 'closed' once the horizon has passed, or a longer horizon if "
                    "delivery really continues"]
    assert [m for m in warnings(path, "2027Q4") if "horizon" in m] == []   # the last period itself: still inside
    assert warnings(workbook(tmp_path, "live", forecast=[]), "2028Q1") == []


def test_a_yearly_financial_year_case_past_its_horizon(tmp_path):
    # FY2023-24 + 3 years ends with FY2025-26 (31 March 2026): as of 2026Q1 it is the review period, as of
    # 2027Q1 the review period is FY2026-27, past the horizon.
    case = make_case({**VALID_META, "status": "in delivery", "first_period": "FY2023-24", "period_length": "year",
                      "horizon": 3, "go_live_period": "FY2024-25"},
                     costs=[{"line_id": "C1", "name": "Build", "amounts": [100, 0, 0]}],
                     benefits=[{"line_id": "B1", "name": "S", **_PROFILE, "baseline_date": "2023-01-01",
                                "amounts": [0, 50, 50]}])
    path = write_case_workbook(case, tmp_path / "fy.xlsx")
    assert warnings(path, "2026Q1") == []
    (msg,) = warnings(path, "2027Q1")
    assert "review period FY2026-27 is after the case's last period FY2025-26 (horizon 3)" in msg


def test_cost_lines_have_owners_loaded_and_shown_on_the_return(tmp_path):
    assert any(c.key == "owner" for c in schema.COST_COLUMNS)
    path = workbook(tmp_path, "in delivery")
    case = load_case(path, as_of="2026Q2")
    owners = dict(zip(case.lines["line_id"], case.lines["owner"], strict=True))
    assert (owners["C1"], owners["C2"]) == ("CIO", "Head of Ops")
    form = write_actuals_form(case, "2026Q3", tmp_path / "r.xlsx")
    ws = openpyxl.load_workbook(form)["Return"]
    shown = {ws[f"C{r}"].value: ws[f"G{r}"].value for r in range(8, ws.max_row + 1) if ws[f"C{r}"].value}
    assert ws["G7"].value == "Owner"
    assert (shown["C1"], shown["C2"], shown["B1"]) == ("CIO", "Head of Ops", _PROFILE["owner"])
    assert {r["line_id"]: r["owner"] for r in due_lines(case, "2026Q3")}["C2"] == "Head of Ops"
