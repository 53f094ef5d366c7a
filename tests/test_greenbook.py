"""Green Book and TEI views (vmo_lib.analysis.greenbook, vmo_lib.outputs.greenbook): hand-worked figures."""

from __future__ import annotations

from pathlib import Path

import pytest

from vmo_lib.analysis import greenbook
from vmo_lib.analysis.review import review_case
from vmo_lib.model import make_case
from vmo_lib.outputs.greenbook import greenbook_block

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample"
KPI = {"owner": "Ops", "frequency": "quarterly", "data_source": "HR", "confidence": "medium",
       "baseline_date": "2025-12-31", "target_date": "2027-12-31"}


def small_case(**kw):
    """Quarterly, 0 %, 2026Q1-2027Q4. Capex 400 then 200; opex 50 a quarter from 2026Q3; from 2026Q3 a quarter:
    cash-releasing 150, cost avoidance 100, dis-benefit -20; one benefit with no money (a KPI only)."""
    return make_case(
        {"case_id": "GB", "first_period": "2026Q1", "horizon": 8, "discount_rate": 0.0, "go_live_period": "2026Q2",
         "case_type": "IT: equipment/development", "status": "in delivery", **kw.pop("meta", {})},
        costs=[{"line_id": "C1", "name": "Build", "category": "capex", "amounts": [400, 200]},
               {"line_id": "C2", "name": "Run", "category": "opex", "amounts": [0, 0] + [50] * 6}],
        benefits=[{"line_id": "B1", "name": "Licences retired", "amounts": [0, 0] + [150] * 6, **KPI,
                   "kpi": "Licence spend", "unit": "GBP"},
                  {"line_id": "B2", "name": "Fines avoided", "benefit_type": "cost avoidance",
                   "amounts": [0, 0] + [100] * 6, **KPI, "kpi": "Fines", "unit": "GBP"},
                  {"line_id": "D1", "name": "Dual running", "benefit_type": "dis-benefit",
                   "amounts": [0, 0] + [-20] * 6, **KPI, "kpi": "Extra cost", "unit": "GBP"},
                  {"line_id": "B3", "name": "<b>Happier</b> staff", "benefit_type": "quantifiable non-financial",
                   "amounts": [0] * 8, **KPI, "kpi": "Staff survey score", "unit": "score",
                   "baseline_value": 60, "target_value": 80}],
        **kw)


def test_tei_split_npv_roi_and_payback_hand_worked():
    r = review_case(small_case(), "2026Q2", iterations=0)
    t = greenbook.tei_summary(r, haircut=0.2)
    e = t.table["expected"]
    # as reviewed: cash 6 x 150, other 6 x 100, dis 6 x -20; costs 600 capex + 300 opex
    assert e["cash_releasing"] == pytest.approx(900)
    assert e["other_monetised"] == pytest.approx(600)
    assert e["disbenefits"] == pytest.approx(-120)
    assert e["pv_benefits"] == pytest.approx(1380)
    assert e["pv_costs"] == pytest.approx(900)
    assert e["npv"] == pytest.approx(480) == pytest.approx(r.expected.npv)
    assert e["roi"] == pytest.approx(480 / 900)
    # net -400, -200, then 180 a quarter: cumulative -600 -> -420 -240 -60 +120: 4 + 60/180 quarters = 13 months
    assert e["payback_months"] == pytest.approx(13.0)
    a = t.table["risk_adjusted"]
    # every benefit is still to come (after 2026Q2): 20 % off, dis-benefits untouched
    assert a["cash_releasing"] == pytest.approx(720)
    assert a["other_monetised"] == pytest.approx(480)
    assert a["disbenefits"] == pytest.approx(-120)
    assert a["npv"] == pytest.approx(1080 - 900)
    assert a["roi"] == pytest.approx(0.2)
    # net 120 + 80 - 20 - 50 = 130 a quarter: -600 -> -470 -340 -210 -80 +50: 5 + 80/130 quarters
    assert a["payback_months"] == pytest.approx((5 + 80 / 130) * 3)
    assert greenbook.payback_text(a["payback_months"]) == "17 months"  # 16.85 months
    assert t.future_from == "2026Q3"


def test_tei_realised_benefits_are_not_haircut():
    # reviewed at 2026Q3 with that quarter reported at plan: only 2026Q4 onwards is reduced
    acts = [{"period": p, "line_id": lid, "amount": amt} for p, amts in
            (("2026Q1", {"C1": 400, "C2": 0, "B1": 0, "B2": 0, "D1": 0}),
             ("2026Q2", {"C1": 200, "C2": 0, "B1": 0, "B2": 0, "D1": 0}),
             ("2026Q3", {"C1": 0, "C2": 50, "B1": 150, "B2": 100, "D1": -20})) for lid, amt in amts.items()]
    r = review_case(small_case(actuals=acts), "2026Q3", iterations=0)
    a = greenbook.tei_summary(r, haircut=0.5).table["risk_adjusted"]
    assert a["cash_releasing"] == pytest.approx(150 + 0.5 * 750)
    assert a["other_monetised"] == pytest.approx(100 + 0.5 * 500)
    assert a["npv"] == pytest.approx(525 + 350 - 120 - 900)


def test_tei_default_haircut_is_the_optimism_bias_at_the_stage():
    # IT equipment/development in delivery: 80 % of the way from 25 % to 0 (vmo_lib.analysis.scenarios)
    r = review_case(small_case(), "2026Q2", iterations=0)
    t = greenbook.tei_summary(r)
    assert t.haircut == pytest.approx(0.05)
    assert "optimism-bias" in t.basis and "in delivery" in t.basis
    assert t.value("cash_releasing") == pytest.approx(900 * 0.95)


def test_payback_text():
    assert greenbook.payback_text(13.0) == "13 months"
    assert greenbook.payback_text(24.0) == "2.0 years"
    assert greenbook.payback_text(float("nan")) == "not within the horizon"


def test_affordability_by_financial_year_from_quarters():
    # a forecast of 80 (plan 50) for 2026Q4's opex
    case = small_case(forecast=[{"period": "2026Q4", "line_id": "C2", "amount": 80}])
    a = greenbook.affordability(review_case(case, "2026Q2", iterations=0)).set_index("financial_year")
    assert a.index.tolist() == ["2025-26", "2026-27", "2027-28"]
    # 2026Q1 -> 2025-26; 2026Q2..2027Q1 -> 2026-27 (capex 200; opex 50 + 80 + 50); 2027Q2..Q4 -> 2027-28
    assert a.loc["2025-26", ["capex", "opex", "plan_in_force"]].tolist() == [400, 0, 400]
    assert a.loc["2026-27", ["capex", "opex", "total", "plan_in_force", "over_plan"]].tolist() == [200, 180, 380, 350, 30]
    assert a.loc["2027-28", ["capex", "opex", "over_plan"]].tolist() == [0, 150, 0]
    assert a["basis"].tolist() == ["actual", "actual + forecast", "forecast / plan"]


def test_affordability_splits_a_calendar_year_a_quarter_and_three_quarters():
    case = make_case({"case_id": "Y", "first_period": "2026", "period_length": "year", "horizon": 2,
                      "discount_rate": 0.0},
                     costs=[{"line_id": "C1", "name": "Build", "amounts": [100, 200]}])
    a = greenbook.affordability(review_case(case, "2026Q4", iterations=0)).set_index("financial_year")
    assert a["total"].to_dict() == {"2025-26": 25.0, "2026-27": 75.0 + 50.0, "2027-28": 150.0}


def test_non_monetised_benefits_listed_with_their_kpis():
    case = small_case(actuals=[{"period": "2026Q2", "line_id": "B3", "amount": 0, "kpi_value": 65}])
    nm = greenbook.non_monetised_benefits(review_case(case, "2026Q2", iterations=0))
    assert nm["line_id"].tolist() == ["B3"]
    row = nm.iloc[0]
    assert (row["kpi"], row["kpi_baseline"], row["kpi_target"], row["kpi_latest"]) == ("Staff survey score", 60, 80, 65)
    assert row["kpi_progress_pct"] == pytest.approx(0.25)  # (65 - 60) / (80 - 60)


def test_block_escapes_workbook_text():
    h = greenbook_block(review_case(small_case(), "2026Q2", iterations=0)).html
    assert "<b>Happier" not in h and "&lt;b&gt;Happier" in h
    assert "TEI-style summary" in h and "Affordability by financial year" in h and "13 months" in h


@pytest.mark.parametrize("name", ["CRM-2025", "ERP-2024", "PORTAL-2025", "DEVICE-2024"])
def test_sample_tei_agrees_with_the_review(name):
    from vmo_lib.intake.loader import load_case

    r = review_case(load_case(SAMPLE / f"{name}.xlsx"), "2026Q3", iterations=0)
    t = greenbook.tei_summary(r, haircut=0.0)
    e = r.expected
    assert t.value("npv", "expected") == pytest.approx(e.npv, abs=1e-6)
    assert t.value("npv", "risk_adjusted") == pytest.approx(e.npv, abs=1e-6)
    assert t.value("pv_costs", "expected") == pytest.approx(e.pv_costs, abs=1e-6)
    assert t.value("cash_releasing", "expected") == pytest.approx(e.pv_cash_benefits, abs=1e-6)
    assert t.value("disbenefits", "expected") == pytest.approx(e.pv_disbenefits, abs=1e-6)
    assert t.value("payback_months", "expected") == pytest.approx(e.payback_years * 12, nan_ok=True)
    a = greenbook.affordability(r)
    assert a["total"].sum() == pytest.approx(e.undiscounted_costs)
    assert a["plan_in_force"].sum() == pytest.approx(r.in_force.undiscounted_costs)


def test_residual_value_is_a_stated_line_discounted_in_the_final_period():
    # yearly at 10 %: 133.1 at the end of 2029 (t = 3) is worth 133.1 / 1.1^3 = 100 today
    case = make_case({"case_id": "RV", "first_period": "2026", "period_length": "year", "horizon": 4,
                      "discount_rate": 0.10, "residual_value": 133.1},
                     costs=[{"line_id": "C1", "name": "Build", "amounts": [300]}],
                     benefits=[{"line_id": "B1", "name": "Saving", "amounts": [0, 110, 121]}])
    r = review_case(case, "2026Q4", iterations=0)
    rv = greenbook.residual_value(r)
    assert rv["stated"] and rv["period"] == "2029"
    assert rv["pv"] == pytest.approx(100.0)
    assert rv["npv_without"] == pytest.approx(-300 + 100 + 100) == pytest.approx(r.expected.npv)
    assert rv["npv_with"] == pytest.approx(0.0)
    h = greenbook_block(r).html
    assert "Residual value beyond the horizon: £133" in h and "with it £0" in h


def test_no_residual_value_stated():
    r = review_case(small_case(), "2026Q2", iterations=0)
    assert not greenbook.residual_value(r)["stated"]
    assert "no residual value stated" in greenbook_block(r).html


def test_excel_pack_has_the_green_book_sheet(tmp_path):
    import openpyxl

    from vmo_lib.outputs.excel import export_case_pack

    r = review_case(small_case(), "2026Q2", iterations=0)
    ws = openpyxl.load_workbook(export_case_pack(r, tmp_path / "pack.xlsx"))["Green Book"]
    rows = {ws.cell(i, 1).value: [ws.cell(i, j).value for j in (2, 3)] for i in range(1, 60)}
    assert rows["NPV"][0] == pytest.approx(480)  # as reviewed = the expected NPV
    assert rows["NPV"][1] == pytest.approx(1500 * 0.95 - 120 - 900)  # 5 % off the positive benefits
    assert rows["Payback (months from the start of the case)"][0] == pytest.approx(13)
    assert "B3" in rows and "2026-27" in rows
