"""What-if explorer without a browser: controls → figures, checked against hand-worked numbers."""

from __future__ import annotations

import base64
import hashlib
import math
import re
import shutil
from pathlib import Path

import numpy as np
import openpyxl
import pytest

from vmo_lib.analysis.appraisal import appraise, discount_factors, line_matrices
from vmo_lib.analysis.scenarios import WhatIf
from vmo_lib.errors import WorkbookError
from vmo_lib.model import make_case
from vmo_lib.whatif.saved import load_scenarios, save_scenario, scenarios_path
from vmo_lib.whatif.widgets import WhatIfEngine, WhatIfExplorer, WhatIfSettings, switching_labels

RATE = 0.08
QRATE = 1.08 ** 0.25 - 1
CAPEX = [400.0, 300.0, 0, 0, 0, 0, 0, 0]
OPEX = [0, 20.0, 20.0, 20.0, 20.0, 20.0, 20.0, 20.0]
SAVING = [0, 0, 150.0, 150.0, 160.0, 160.0, 170.0, 170.0]           # cash-releasing
TIME = [0, 0, 30.0, 30.0, 30.0, 30.0, 30.0, 30.0]                   # non-cash-releasing
DIP = [0, 0, -25.0, -10.0, 0, 0, 0, 0]                              # dis-benefit, negative


def hand_npv(flows, rate=QRATE):
    return sum(v / (1 + rate) ** t for t, v in enumerate(flows))


def costs_t(overrun=0.0):
    return [(a + b) * (1 + overrun) for a, b in zip(CAPEX, OPEX, strict=True)]


def benefits_t(share=1.0, delay=0):
    """Realisation scales the benefits but not the dis-benefit; a delay moves both."""
    b = [share * (x + y) + z for x, y, z in zip(SAVING, TIME, DIP, strict=True)]
    return [0.0] * delay + b[: len(b) - delay]


def net(share=1.0, overrun=0.0, delay=0):
    return [b - c for b, c in zip(benefits_t(share, delay), costs_t(overrun), strict=True)]


@pytest.fixture
def case():
    return make_case(
        {"case_id": "CRM-1", "title": "CRM replacement", "first_period": "2026Q1", "horizon": 8,
         "discount_rate": RATE, "case_type": "Business change"},
        costs=[{"line_id": "C1", "name": "Build", "category": "capex", "amounts": CAPEX,
                "low": 600, "likely": 700, "high": 1050},
               {"line_id": "C2", "name": "Hosting", "category": "opex", "amounts": OPEX}],
        benefits=[{"line_id": "B1", "name": "Licence saving", "benefit_type": "cash-releasing", "amounts": SAVING,
                   "low": 480, "likely": 960, "high": 1200},
                  {"line_id": "B2", "name": "Time released", "benefit_type": "non-cash-releasing", "amounts": TIME},
                  {"line_id": "B3", "name": "Productivity dip", "benefit_type": "dis-benefit", "amounts": DIP}],
    )


@pytest.fixture
def explorer(case):
    return WhatIfExplorer(case)


def shown_npv(ex: WhatIfExplorer) -> float:
    """The NPV as the browser reads it: the data-value of the span with class vmo-npv."""
    m = re.search(r"class='vmo-npv' data-value='([^']+)'", ex.cards.value)
    assert m, ex.cards.value
    return float(m.group(1))


# --- the engine agrees with hand-worked numbers and with the appraisal ---------------------------
def test_unchanged_baseline_equals_the_appraisal(case):
    r = WhatIfEngine(case).evaluate()
    a = appraise(case)
    assert r.npv == pytest.approx(hand_npv(net()), rel=1e-12)
    assert r.npv == pytest.approx(a.npv, rel=1e-12)
    assert r.irr == pytest.approx(a.irr, rel=1e-9)
    assert r.payback == pytest.approx(a.payback)
    assert r.discounted_payback == pytest.approx(a.discounted_payback)
    assert r.reference_npv == pytest.approx(a.npv)


def test_benefits_realised_at_80_percent_scale_benefits_not_the_dis_benefit(explorer):
    explorer.controls["benefit_realisation"].value = 80
    expected = hand_npv(net(share=0.8))
    assert explorer.result.npv == pytest.approx(expected, rel=1e-12)
    assert shown_npv(explorer) == pytest.approx(expected, rel=1e-12)
    assert "£" in explorer.cards.value


def test_cost_overrun_of_30_percent_uplifts_capex_and_opex(explorer):
    explorer.controls["cost_overrun"].value = 30
    assert explorer.result.npv == pytest.approx(hand_npv(net(overrun=0.3)), rel=1e-12)
    assert explorer.result.pv_costs == pytest.approx(hand_npv(costs_t(0.3)), rel=1e-12)


def test_two_quarters_late_moves_benefits_and_loses_those_past_the_horizon(explorer):
    explorer.controls["delay_periods"].value = 2
    assert explorer.result.npv == pytest.approx(hand_npv(net(delay=2)), rel=1e-12)
    # the last two quarters of benefits fall outside the 8-quarter appraisal
    assert explorer.result.benefits.sum() == pytest.approx(sum(benefits_t()[:6]))


def test_discount_rate_slider_replaces_the_case_rate_with_a_flat_annual_rate(explorer):
    assert explorer.controls["discount_rate"].value == pytest.approx(8.0)   # starts at the case's rate
    assert explorer.settings.discount_rate is None
    explorer.controls["discount_rate"].value = 12
    q12 = 1.12 ** 0.25 - 1
    assert explorer.result.npv == pytest.approx(hand_npv(net(), q12), rel=1e-12)
    # moving back to 8% is now an explicit flat 8%, same number as the case's own flat rate
    explorer.controls["discount_rate"].value = 8
    assert explorer.settings.discount_rate == pytest.approx(0.08)
    assert explorer.result.npv == pytest.approx(hand_npv(net()), rel=1e-12)


def test_combined_controls_compose(explorer):
    explorer.set(benefit_realisation=0.9, cost_overrun=0.25, delay_periods=1)
    assert explorer.result.npv == pytest.approx(hand_npv(net(0.9, 0.25, 1)), rel=1e-12)
    assert explorer.controls["cost_overrun"].value == pytest.approx(25)


def test_irr_is_annualised_and_prices_the_what_if_flows_at_zero(case):
    r = WhatIfEngine(case).evaluate(benefit_realisation=1.1)
    q = (1 + r.irr) ** 0.25 - 1
    assert hand_npv(net(share=1.1), q) == pytest.approx(0, abs=1e-6)


def test_payback_interpolates_inside_the_period(case):
    r = WhatIfEngine(case).evaluate()
    cum = np.cumsum(net())
    t = int(np.argmax(cum >= 0))
    assert r.payback == pytest.approx(t - 1 + (-cum[t - 1]) / net()[t])


# --- switching values put NPV at zero when substituted back --------------------------------------
@pytest.mark.parametrize("start", [WhatIfSettings(), WhatIfSettings(what_if=WhatIf(delay_periods=1, cost_overrun=0.1)),
                                   WhatIfSettings(what_if=WhatIf(benefit_realisation=0.5)),
                                   WhatIfSettings(what_if=WhatIf(optimism_bias=True, discount_rate=0.05))])
def test_switching_values_bring_npv_to_zero(case, start):
    w = WhatIfEngine(case)
    r = w.evaluate(start)
    sv = r.switching
    assert w.evaluate(start.replace(benefit_realisation=sv.benefit_realisation)).npv == pytest.approx(0, abs=1e-9)
    assert w.evaluate(start.replace(cost_overrun=sv.cost_overrun)).npv == pytest.approx(0, abs=1e-9)
    assert w.evaluate(start.replace(discount_rate=sv.discount_rate)).npv == pytest.approx(0, abs=1e-6)
    # and they are stated from where the controls are now
    assert (sv.benefit_realisation < start.benefit_realisation) == (r.npv > 0)


def test_delay_switching_value_lies_between_the_whole_quarters_that_flip_the_sign(case):
    w = WhatIfEngine(case)
    r = w.evaluate()
    assert r.npv > 0
    d = r.switching.delay_periods
    by_hand = [hand_npv(net(delay=k)) for k in range(9)]
    first_negative = next(k for k, v in enumerate(by_hand) if v < 0)
    assert first_negative - 1 < d < first_negative
    # NPV is linear between whole periods (a share of the benefits one period later): zero at d
    a, b = by_hand[first_negative - 1], by_hand[first_negative]
    assert d == pytest.approx(first_negative - 1 + a / (a - b))


def test_switching_label_reads_as_the_board_asks(case):
    r = WhatIfEngine(case).evaluate()
    labels = switching_labels(r)
    b_star = hand_break_even_share()
    assert labels["benefit_realisation"] == (
        f"Benefits can fall {(1 - b_star) * 100:.0f}% (to {b_star * 100:.0f}% of plan) before NPV < 0")
    assert f"{r.irr * 100:.1f}%" in labels["discount_rate"]


def hand_break_even_share(overrun=0.0):
    """b·PV(saving + time) + PV(dip) − (1 + overrun)·PV(costs) = 0."""
    return (hand_npv(costs_t(overrun)) - hand_npv(DIP)) / hand_npv([x + y for x, y in zip(SAVING, TIME, strict=True)])


def test_explorer_shows_a_switching_label_next_to_each_control(explorer):
    explorer.controls["benefit_realisation"].value = 50
    assert explorer.result.npv < 0
    b_star = hand_break_even_share()
    assert 0.5 < b_star < 1
    assert explorer.switch_labels["benefit_realisation"].value == (
        f"<div class='vmo-switch'>Benefits must reach {b_star * 100:.0f}% of plan "
        f"({(b_star - 0.5) * 100:.0f} points above the slider) for NPV ≥ 0</div>")
    assert "Value destroyed" in explorer.verdict.value


def test_switching_labels_after_moving_sliders_name_the_slider_value_to_reach(case):
    # benefits at 90 % and costs +5 %: where does each control, the other held, make NPV = 0?
    r = WhatIfEngine(case).evaluate(benefit_realisation=0.9, cost_overrun=0.05)
    labels = switching_labels(r)
    assert r.npv == pytest.approx(hand_npv(net(0.9, 0.05)), rel=1e-12) and r.npv > 0
    b_star = hand_break_even_share(overrun=0.05)
    assert labels["benefit_realisation"] == (
        f"Benefits can fall to {b_star * 100:.0f}% of plan ({(0.9 - b_star) * 100:.0f} points below the slider) "
        "before NPV < 0")
    # costs: (1 + o)·PV(costs) = PV(90 % of the benefits, dip in full)
    o_star = hand_npv(benefits_t(0.9)) / hand_npv(costs_t()) - 1
    assert labels["cost_overrun"] == (
        f"Costs can overrun by up to {o_star * 100:+.0f}% ({(o_star - 0.05) * 100:.0f} points above the slider) "
        "before NPV < 0")
    assert WhatIfEngine(case).evaluate(benefit_realisation=b_star, cost_overrun=0.05).npv == pytest.approx(0, abs=1e-6)


def test_chart_carries_the_settings_and_npv_it_draws(explorer):
    explorer.set(benefit_realisation=0.8, delay_periods=2)
    npv = hand_npv(net(0.8, 0.0, 2))
    assert -1000 < npv < 0
    m = re.fullmatch(r"<img src='data:image/png;base64,([^']+)' alt='([^']*)' title='([^']*)' "
                     r"data-npv='([^']+)' style='max-width: 100%'>", explorer.chart.value)
    assert m, explorer.chart.value[:200]
    assert base64.b64decode(m.group(1))[:8] == b"\x89PNG\r\n\x1a\n"
    assert m.group(2) == m.group(3) == (
        f"Cumulative net cash flow of CRM-1, benefits 80% of plan, benefits 2 quarters late: NPV −£{-npv:.0f}")
    assert float(m.group(4)) == pytest.approx(npv, rel=1e-12)


def test_delay_label_after_moving_the_slider_counts_from_the_slider():
    # 100 spent now, 30 a year for nine years, no discounting: NPV 170. k years late loses the last
    # k years: NPV(5) = 20, NPV(6) = −10, so NPV reaches 0 at 5 + 20/30 years.
    case = make_case({"case_id": "D", "first_period": "2026", "period_length": "year", "horizon": 10,
                      "discount_rate": 0.0},
                     costs=[{"line_id": "C1", "name": "Build", "amounts": [100]}],
                     benefits=[{"line_id": "B1", "name": "Saving", "amounts": [0] + [30] * 9}])
    r = WhatIfEngine(case).evaluate(delay_periods=2)
    assert r.npv == pytest.approx(30 * 7 - 100)
    assert switching_labels(r, "year")["delay_periods"] == (
        "Benefits can be 5.7 years late (3.7 more than the slider) before NPV < 0")
    assert switching_labels(WhatIfEngine(case).evaluate(), "year")["delay_periods"] == (
        "Benefits can slip 5.7 years before NPV < 0")


# --- scenarios ----------------------------------------------------------------------------------
def test_pessimistic_scenario_takes_costs_high_and_benefits_low(case):
    r = WhatIfEngine(case).evaluate(scenario="pessimistic")
    capex = [a * 1050 / 700 for a in CAPEX]
    saving = [a * 480 / 960 for a in SAVING]
    flows = [s + t + d - c - o for s, t, d, c, o in zip(saving, TIME, DIP, capex, OPEX, strict=True)]
    assert r.npv == pytest.approx(hand_npv(flows), rel=1e-12)


def test_current_baseline_is_offered_after_a_rebaseline():
    case = make_case({"case_id": "R", "first_period": "2026", "period_length": "year", "horizon": 3,
                      "discount_rate": 0.0},
                     costs=[{"line_id": "C1", "name": "Build", "amounts": [100, 0, 0]}],
                     benefits=[{"line_id": "B1", "name": "Saving", "amounts": [0, 80, 80]}],
                     rebaselines=[{"version": "RB1", "approved": "2026-06-30", "reason": "scope",
                                   "amounts": {"C1": [150, 0, 0], "B1": [0, 80, 80]}}])
    w = WhatIfEngine(case)
    assert w.scenarios == ["baseline", "rebaseline:RB1"]
    assert w.evaluate(scenario="rebaseline:RB1").npv == pytest.approx(10.0)
    assert w.evaluate().npv == pytest.approx(60.0)
    with pytest.raises(ValueError, match="no scenario 'rebaseline:RB9'"):
        w.evaluate(scenario="rebaseline:RB9")


def test_optimism_bias_uplifts_costs_cuts_and_delays_benefits():
    case = make_case({"case_id": "OB", "first_period": "2026", "period_length": "year", "horizon": 4,
                      "discount_rate": 0.0, "go_live_period": "2028", "ob_capex": 0.5, "ob_opex": 0.1,
                      "ob_benefits": 0.2, "ob_duration": 0.5},
                     costs=[{"line_id": "C1", "name": "Build", "category": "capex", "amounts": [100, 0, 0, 0]},
                            {"line_id": "C2", "name": "Run", "category": "opex", "amounts": [0, 10, 10, 10]}],
                     benefits=[{"line_id": "B1", "name": "Saving", "amounts": [0, 90, 90, 90]}])
    # go-live at t=2, 50% duration uplift → benefits one year later; 4-year horizon loses the last.
    r = WhatIfEngine(case).evaluate(optimism_bias=True)
    assert r.npv == pytest.approx((90 + 90) * 0.8 - 150 - 33)
    assert r.verdict.label == "value destroyed"         # 150 promised, −3 now


def test_green_book_case_keeps_its_schedule_until_the_rate_is_moved():
    case = make_case({"case_id": "GB", "first_period": "2026", "period_length": "year", "horizon": 40,
                      "discount_schedule": "green book", "discount_rate": 0.0},
                     costs=[{"line_id": "C1", "name": "Build", "amounts": [1000]}],
                     benefits=[{"line_id": "B1", "name": "Saving", "amounts": [0] + [60] * 39}])
    ex = WhatIfExplorer(case)
    gb = sum(60 / 1.035 ** min(t, 30) / 1.03 ** max(t - 30, 0) for t in range(1, 40)) - 1000
    assert ex.controls["discount_rate"].value == pytest.approx(3.5)
    assert ex.result.npv == pytest.approx(gb, rel=1e-10)
    ex.controls["discount_rate"].value = 3.0
    assert ex.result.npv == pytest.approx(sum(60 / 1.03 ** t for t in range(1, 40)) - 1000, rel=1e-10)


def test_invalid_settings_are_refused_with_the_reason():
    with pytest.raises(ValueError, match="whole number of periods"):
        WhatIfSettings().replace(delay_periods=1.5)
    with pytest.raises(ValueError, match="cost_overrun must be > -1"):
        WhatIfSettings().replace(cost_overrun=-1)
    with pytest.raises(ValueError, match="benefit_realisation"):
        WhatIfSettings().replace(benefit_realisation=float("nan"))
    with pytest.raises(ValueError, match="scenario"):
        WhatIfSettings(scenario="")


# --- saved scenarios ----------------------------------------------------------------------------
@pytest.fixture
def submitted(tmp_path, case):
    """A 'submitted workbook' file whose bytes must never change."""
    path = tmp_path / "CRM-1.xlsx"
    try:
        from vmo_lib.intake.template import write_case_workbook

        write_case_workbook(case, path)
    except ImportError:  # the template writer is another module; any bytes do for this purpose
        path.write_bytes(b"PK\x03\x04 pretend workbook")
    return path


def sha(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_save_and_load_round_trip_beside_the_case_never_into_it(submitted):
    before = sha(submitted)
    s1 = WhatIfSettings("likely", WhatIf(benefit_realisation=0.75, cost_overrun=0.3, delay_periods=2,
                                         discount_rate=0.1, optimism_bias=True))
    s2 = WhatIfSettings(what_if=WhatIf(delay_periods=1))
    out = save_scenario(submitted, "Board: 2Q late", s1)
    save_scenario(submitted, "Slip", s2)
    assert out == submitted.with_name("CRM-1.scenarios.xlsx") == scenarios_path(submitted)
    loaded = load_scenarios(submitted)
    assert {k: v.to_dict() for k, v in loaded.items()} == {"Board: 2Q late": s1.to_dict(), "Slip": s2.to_dict()}
    assert loaded["Slip"].what_if.name == "Slip"
    save_scenario(submitted, "Board: 2Q late", s2)                  # same name replaces in place
    assert [(k, v.to_dict()) for k, v in load_scenarios(submitted).items()] == [
        ("Board: 2Q late", s2.to_dict()), ("Slip", s2.to_dict())]
    assert sha(submitted) == before
    assert sorted(p.name for p in submitted.parent.iterdir()) == ["CRM-1.scenarios.xlsx", "CRM-1.xlsx"]


def test_scenario_names_cannot_become_formulas(submitted):
    evil = "=HYPERLINK(\"http://x\",\"click\")"
    save_scenario(submitted, evil, {"delay_periods": 1})
    save_scenario(submitted, "@SUM(A1)", {})
    wb = openpyxl.load_workbook(scenarios_path(submitted))
    ws = wb["Scenarios"]
    assert ws["A2"].value == "'" + evil and ws["A2"].data_type == "s"
    assert ws["A3"].value == "'@SUM(A1)"
    assert list(load_scenarios(submitted)) == [evil, "@SUM(A1)"]


def test_a_damaged_scenarios_file_names_the_cell(submitted):
    save_scenario(submitted, "ok", {"delay_periods": 1})
    path = scenarios_path(submitted)
    wb = openpyxl.load_workbook(path)
    ws = wb["Scenarios"]
    header = [c.value for c in ws[1]]
    assert header[:2] == ["name", "scenario"]
    ws.cell(row=2, column=header.index("delay_periods") + 1, value="two")
    wb.save(path)
    col = "ABCDEFG"[header.index("delay_periods")]
    with pytest.raises(WorkbookError, match=rf"Scenarios!{col}2: delay_periods should be a number, found 'two'"):
        load_scenarios(submitted)


def test_a_scenarios_file_that_is_not_a_workbook_is_refused_before_parsing(submitted):
    scenarios_path(submitted).write_text("name,scenario\nboard,baseline\n")       # a CSV renamed
    with pytest.raises(WorkbookError, match=r"CRM-1\.scenarios\.xlsx.*(text|CSV)"):
        load_scenarios(submitted)


def test_scenario_file_is_named_after_the_workbook_not_the_case_id(tmp_path):
    assert scenarios_path(tmp_path / "a.xlsx").parent == tmp_path
    with pytest.raises(WorkbookError, match="saved-scenarios file"):
        scenarios_path(tmp_path / "a.scenarios.xlsx")
    with pytest.raises(ValueError, match="needs a name"):
        save_scenario(tmp_path / "a.xlsx", "  ", {})


def test_explorer_saves_then_loads_a_scenario_from_the_dropdown(case, submitted):
    case.source = str(submitted)
    before = sha(submitted)
    ex = WhatIfExplorer(case)
    ex.set(benefit_realisation=0.7, delay_periods=3)
    saved_npv = ex.result.npv
    ex.scenario_name.value = "Board challenge"
    ex.save_button.click()
    assert "Saved" in ex.status.value
    assert ("★ saved: Board challenge", "saved:Board challenge") in ex.scenario_picker.options
    ex.reset()
    assert ex.result.npv == pytest.approx(hand_npv(net()))
    ex.scenario_picker.value = "saved:Board challenge"
    assert ex.controls["delay_periods"].value == 3 and ex.controls["benefit_realisation"].value == pytest.approx(70)
    assert ex.result.npv == pytest.approx(saved_npv) == pytest.approx(hand_npv(net(0.7, 0, 3)))
    assert sha(submitted) == before


def test_a_case_built_in_code_cannot_save(explorer):
    assert explorer.save_button.disabled
    assert explorer.save("x") is None


def test_npv_is_nan_safe_in_the_display():
    case = make_case({"case_id": "Z", "first_period": "2026", "period_length": "year", "horizon": 2},
                     costs=[{"line_id": "C1", "name": "Build", "amounts": [100, 0]}])
    ex = WhatIfExplorer(case)
    assert math.isnan(ex.result.irr)
    assert "There are no benefits" in ex.switch_labels["benefit_realisation"].value
    assert "NPV stays negative even with no cost at all" in ex.switch_labels["cost_overrun"].value


# --- a folder of submitted workbooks --------------------------------------------------------------
SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample"


@pytest.fixture
def sample_copy(tmp_path):
    """Two sample workbooks copied (scenario files are written beside them, never in data/)."""
    if not (SAMPLE / "CRM-2025.xlsx").exists():
        pytest.skip("sample portfolio not generated")
    for name in ("CRM-2025.xlsx", "PAY-2024.xlsx"):
        shutil.copy2(SAMPLE / name, tmp_path / name)
    return tmp_path


def test_folder_picker_opens_each_case_once_and_skips_saved_scenario_files(sample_copy, monkeypatch):
    from vmo_lib.intake import loader

    calls = []
    real = loader.load_case
    monkeypatch.setattr(loader, "load_case", lambda *a, **k: calls.append(a[0]) or real(*a, **k))
    ex = WhatIfExplorer(sample_copy, case_id="crm-2025")
    ex.save("Board challenge")
    assert (sample_copy / "CRM-2025.scenarios.xlsx").exists()
    assert list(ex.case_picker.options) == ["CRM-2025", "PAY-2024"]     # no scenarios file offered
    case = real(sample_copy / "CRM-2025.xlsx")
    assert ex.result.npv == pytest.approx(appraise(case).npv, rel=1e-12)
    ex.case_picker.value = "PAY-2024"
    assert ex.engine.case.case_id == "PAY-2024"
    assert ("Current baseline (RB1)", "rebaseline:RB1") in ex.scenario_picker.options
    ex.scenario_picker.value = "rebaseline:RB1"
    pay = real(sample_copy / "PAY-2024.xlsx")
    assert ex.result.npv == pytest.approx(appraise(pay, "rebaseline:RB1").npv, rel=1e-12)
    ex.case_picker.value = "CRM-2025"
    assert [Path(c).name for c in calls] == ["CRM-2025.xlsx", "PAY-2024.xlsx"]   # no re-import
    assert ("★ saved: Board challenge", "saved:Board challenge") in ex.scenario_picker.options


def test_expected_scenario_is_the_reviews_outlook_with_actuals_fixed(sample_copy):
    from vmo_lib.analysis.realisation import expected_case
    from vmo_lib.analysis.review import review_case
    from vmo_lib.intake.loader import load_case

    case = load_case(sample_copy / "CRM-2025.xlsx")
    w = WhatIfEngine(case, as_of="2026Q3")
    assert "expected" in w.scenarios
    r = w.evaluate(scenario="expected", cost_overrun=0.1)
    e = expected_case(case, "2026Q3")
    costs, benefits = (m.to_numpy().sum(axis=0) for m in line_matrices(e, "expected"))
    df = discount_factors(case)
    tau = case.t_of("2026Q3")
    past, future = costs.copy(), costs.copy()
    past[tau + 1:], future[: tau + 1] = 0.0, 0.0          # spend to date is sunk: the overrun moves only the rest
    assert r.npv == pytest.approx(float((benefits - past - 1.1 * future) @ df), rel=1e-12)
    # with no change the explorer shows the review: its expected NPV, judged against the NPV in force
    review = review_case(case, "2026Q3", iterations=0)
    r0 = w.evaluate(scenario="expected")
    assert r0.npv == pytest.approx(review.expected.npv, rel=1e-12)
    assert r0.reference_npv == pytest.approx(review.in_force.npv, rel=1e-12)
    assert r0.verdict.label == review.status.verdict.label


def test_the_explorer_opens_on_the_review_and_tells_its_verdict(sample_copy):
    from vmo_lib.analysis.review import review_case
    from vmo_lib.intake.loader import load_case

    shutil.copy2(SAMPLE / "CHATBOT-2025.xlsx", sample_copy / "CHATBOT-2025.xlsx")
    ex = WhatIfExplorer(sample_copy, case_id="CHATBOT-2025", as_of="2026Q3")
    review = review_case(load_case(sample_copy / "CHATBOT-2025.xlsx", as_of="2026Q3"), "2026Q3", iterations=0)
    assert ex.scenario_picker.value == "expected"
    assert ex.result.npv == pytest.approx(review.expected.npv, rel=1e-12)       # −£593k, not the approved £4.99m
    assert ex.result.verdict.label == review.status.verdict.label == "value destroyed"
    ex.set(cost_overrun=0.2)
    assert ex.reset().npv == pytest.approx(review.expected.npv, rel=1e-12)


def test_an_invalid_workbook_in_the_folder_is_reported_and_the_case_on_display_stays(sample_copy):
    (sample_copy / "BROKEN.xlsx").write_text("not a workbook")
    ex = WhatIfExplorer(sample_copy, case_id="CRM-2025")
    npv = ex.result.npv
    ex.case_picker.value = "BROKEN"
    assert "Cannot open BROKEN.xlsx" in ex.status.value
    assert ex.case_picker.value == "CRM-2025" and ex.engine.case.case_id == "CRM-2025"
    assert ex.result.npv == npv
    with pytest.raises(WorkbookError):
        WhatIfExplorer(sample_copy / "BROKEN.xlsx")


def test_moving_only_the_discount_rate_revalues_the_promise_too():
    # Build 100 at t0, saving 60 a year for two years. At 15 % a year: NPV = -100 + 60/1.15 + 60/1.15^2.
    case = make_case({"case_id": "DR", "first_period": "2026", "period_length": "year", "horizon": 3,
                      "discount_rate": 0.10},
                     costs=[{"line_id": "C1", "name": "Build", "amounts": [100, 0, 0]}],
                     benefits=[{"line_id": "B1", "name": "Saving", "amounts": [0, 60, 60]}])
    at_15 = -100 + 60 / 1.15 + 60 / 1.15 ** 2                      # -2.46: the plan itself no longer pays
    r = WhatIfEngine(case).evaluate(discount_rate=0.15)
    assert r.npv == pytest.approx(at_15) and r.reference_npv == pytest.approx(at_15)
    assert r.verdict.label == "on track"                            # nothing but the rate moved: no verdict change
    assert "revalued at the same 15% a year" in r.verdict_sentence
    # a real change is still judged: benefits at 80 % against the promise at the same rate
    r = WhatIfEngine(case).evaluate(discount_rate=0.15, benefit_realisation=0.8)
    assert r.reference_npv == pytest.approx(at_15)
    assert r.npv == pytest.approx(-100 + 48 / 1.15 + 48 / 1.15 ** 2)
    assert r.verdict.label == "at risk"                             # 19.5 below, more than 5 % of PV costs (100)


def test_rpa_at_15_percent_is_not_at_risk_while_its_npv_stays_above_the_promise(sample_copy):
    from vmo_lib.intake.loader import load_case

    shutil.copy2(SAMPLE / "RPA-2025.xlsx", sample_copy / "RPA-2025.xlsx")
    w = WhatIfEngine(load_case(sample_copy / "RPA-2025.xlsx", as_of="2026Q3"), as_of="2026Q3")
    r = w.evaluate(scenario="expected", discount_rate=0.15)
    assert r.npv > r.reference_npv > 0                               # £1.21m against £1.17m, both at 15 %
    assert r.verdict.label != "at risk"
